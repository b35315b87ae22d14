package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/daemon"
	"github.com/batchwire/batchwire/rules"
)

type testFlags struct {
	configPath, eventPath, eventType, source, id string
	trigger, temporal, namespace, output, at     string
}

func newTestCmd() *cobra.Command {
	f := &testFlags{}
	cmd := &cobra.Command{
		Use:   "test --config FILE --event EVENT.json",
		Short: "Show which rules an event matches and what they would do",
		Long: `Evaluate one event against the rules, as amtool config routes test does for
alerts: for each rule, whether it matches and why (the when expression's
result or error), the rendered query, the operation (signal and input, reason,
job id) and the guards that would apply. Nothing is launched or changed.

With --trigger naming an HTTP trigger of format alertmanager or webhook, the
file is a request body as that trigger receives it (an Alertmanager webhook
body becomes one event per alert, each tried in turn).

Otherwise the event is a structured-mode CloudEvent JSON file, or, with --type and
--source, a raw JSON payload (a webhook body) wrapped into a CloudEvent whose
id defaults to a hash of the payload.

The configuration is loaded as check loads it; a file with errors is refused
with check's problems on stderr and exit status 2.

With --temporal ADDR (or TEMPORAL_ADDRESS), each rendered query is counted with
CountWorkflowExecutions, which shows how many workflows it would touch and
whether guards.max_workflows would block the launch; TLS and the API key come
from the configuration. Visibility is eventually consistent: counts are
approximate. The exit status is 1 when a rule fails to evaluate.`,
		Example: `  batchwire test --config examples/flags/batchwire.yaml \
    --event testdata/events/flipt_docs_audit_webhook_flag_updated.body.json \
    --type flag.changed --source flipt/audit --temporal 127.0.0.1:7233
  batchwire test --config examples/alerts/batchwire.yaml --trigger alerts \
    --event testdata/alertmanager/am-main-68fb2d5_03_mixed_2_firing_1_resolved.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.configPath, "config", "c", "batchwire.yaml", "configuration file")
	fl.StringVar(&f.eventPath, "event", "", "CloudEvent JSON file, or raw JSON data with --type and --source (required)")
	fl.StringVar(&f.eventType, "type", "", "wrap the --event file as data of a CloudEvent of this type")
	fl.StringVar(&f.source, "source", "", "source of the wrapping CloudEvent")
	fl.StringVar(&f.id, "id", "", "id of the wrapping CloudEvent (default: test- and a hash of the data)")
	fl.StringVar(&f.trigger, "trigger", "", "evaluate the rules of this trigger only (default: every trigger that has rules)")
	fl.StringVar(&f.temporal, "temporal", os.Getenv("TEMPORAL_ADDRESS"), "Temporal address to count the workflows each query selects (env TEMPORAL_ADDRESS)")
	fl.StringVarP(&f.namespace, "namespace", "n", "", "count in this namespace instead of each rule's")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text, json")
	fl.StringVar(&f.at, "time", "", "evaluate as of this RFC 3339 time, for rules that use now() (default: now)")
	return cmd
}

func (f *testFlags) run(cmd *cobra.Command) error {
	if err := requireFlags(cmd, "event"); err != nil {
		return err
	}
	if f.output != "text" && f.output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", f.output)}
	}
	loaded, err := loadConfig(cmd.ErrOrStderr(), f.configPath, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	cfg, set := loaded.Config, loaded.Rules
	events, err := f.loadEvents(cmd.Context(), loaded)
	if err != nil {
		return usageError{err}
	}
	now, err := f.evaluationTime()
	if err != nil {
		return usageError{err}
	}
	triggers, err := f.triggers(set)
	if err != nil {
		return usageError{err}
	}
	counter, closeCounter, err := testCounter(cmd.Context(), loaded, f.configPath, f.temporal)
	if err != nil {
		return err
	}
	defer closeCounter()
	failed := 0
	for i, ev := range events {
		if i > 0 && f.output == "text" {
			fmt.Fprintln(cmd.OutOrStdout())
		}
		// A fresh pipeline per event: cooldown and rate depend on earlier
		// launches, which a test does not have.
		pipeline := admit.New(admit.Options{Counter: counter, Starter: noLaunch{},
			Auto: batch.AutoLimitsOf(cfg.Launch), DirectMax: cfg.Launch.DirectMax})
		report := evaluateEvent(cmd.Context(), loaded, pipeline, triggers, ev, now, f.namespace)
		report.Temporal = f.temporal
		if err := report.print(cmd.OutOrStdout(), f.output); err != nil {
			return err
		}
		failed += report.failed()
	}
	if failed > 0 {
		return fmt.Errorf("%s failed to evaluate", plural(failed, "rule"))
	}
	return nil
}

// loadEvents reads the event file. When --trigger names an HTTP trigger of
// format alertmanager or webhook, the file is a body as that trigger
// receives it, and becomes the events the trigger would make of it (one per
// alert for Alertmanager).
func (f *testFlags) loadEvents(ctx context.Context, loaded *daemon.Loaded) ([]*cloudevents.Event, error) {
	trigger := findTrigger(loaded.Config, f.trigger)
	if trigger == nil || trigger.HTTP == nil || trigger.HTTP.Format == "cloudevents" || f.eventType != "" || f.source != "" {
		ev, err := f.loadEvent(bodyTriggers(loaded.Config))
		return []*cloudevents.Event{ev}, err
	}
	body, err := os.ReadFile(f.eventPath)
	if err != nil {
		return nil, fmt.Errorf("--event: %w", err)
	}
	src := loaded.HTTPSources[trigger.Name]
	header := http.Header{"Content-Type": []string{"application/json"}}
	events, err := src.Decode(ctx, header, body)
	if err != nil {
		return nil, fmt.Errorf("--event %s as trigger %q (%s) would receive it: %w", f.eventPath, trigger.Name, trigger.HTTP.Format, err)
	}
	return events, nil
}

func findTrigger(cfg *config.Config, name string) *config.Trigger {
	for i := range cfg.Triggers {
		if cfg.Triggers[i].Name == name {
			return &cfg.Triggers[i]
		}
	}
	return nil
}

// loadEvent reads a structured-mode CloudEvent, or wraps raw JSON data into
// one so that a captured webhook body can be tried as it is.
// bodyTriggers names, per format, the HTTP triggers whose events are made
// from a request body (alertmanager, webhook), for the hint when such a body
// is given without --trigger.
func bodyTriggers(cfg *config.Config) map[string]string {
	out := map[string]string{}
	for _, t := range cfg.Triggers {
		if t.HTTP != nil && t.HTTP.Format != "cloudevents" && out[t.HTTP.Format] == "" {
			out[t.HTTP.Format] = t.Name
		}
	}
	return out
}

// bodyHint suggests --trigger when raw is a request body one of the
// configuration's HTTP triggers takes.
func bodyHint(raw []byte, triggers map[string]string) string {
	var probe struct {
		Version  string            `json:"version"`
		Alerts   []json.RawMessage `json:"alerts"`
		Receiver string            `json:"receiver"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.Alerts != nil && probe.Receiver != "" {
		if name := triggers["alertmanager"]; name != "" {
			return fmt.Sprintf("it looks like an Alertmanager webhook body: give --trigger %s to try it as that trigger receives it", name)
		}
		return "it looks like an Alertmanager webhook body: give --trigger with an HTTP trigger of format alertmanager"
	}
	if name := triggers["webhook"]; name != "" {
		return fmt.Sprintf("to try a webhook body, give --trigger %s; to wrap raw JSON data into an event, give --type and --source", name)
	}
	return "to wrap raw JSON data into one, give --type and --source"
}

func (f *testFlags) loadEvent(triggers map[string]string) (*cloudevents.Event, error) {
	raw, err := os.ReadFile(f.eventPath)
	if err != nil {
		return nil, fmt.Errorf("--event: %w", err)
	}
	if f.eventType == "" && f.source == "" {
		if f.id != "" {
			return nil, errors.New("--id goes with --type and --source, which wrap raw data into an event")
		}
		ev := cloudevents.NewEvent()
		err := json.Unmarshal(raw, &ev)
		if err == nil {
			err = ev.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("--event %s is not a structured-mode CloudEvent (%w); %s", f.eventPath, err, bodyHint(raw, triggers))
		}
		return &ev, nil
	}
	if f.eventType == "" || f.source == "" {
		return nil, errors.New("--type and --source go together")
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("--event %s: data is not valid JSON", f.eventPath)
	}
	ev := cloudevents.NewEvent()
	ev.SetID(f.id)
	if f.id == "" {
		sum := sha256.Sum256(raw)
		ev.SetID("test-" + hex.EncodeToString(sum[:])[:12])
	}
	ev.SetType(f.eventType)
	ev.SetSource(f.source)
	if err := ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(raw)); err != nil {
		return nil, fmt.Errorf("--event: %w", err)
	}
	return &ev, ev.Validate()
}

func (f *testFlags) evaluationTime() (time.Time, error) {
	if f.at == "" {
		return time.Now().UTC(), nil
	}
	at, err := time.Parse(time.RFC3339Nano, f.at)
	if err != nil {
		return time.Time{}, fmt.Errorf("--time: %w", err)
	}
	return at.UTC(), nil
}

// triggers returns the triggers to evaluate, in the order rules use them.
func (f *testFlags) triggers(set *rules.Set) ([]string, error) {
	var names []string
	for _, r := range set.Rules() {
		if !slices.Contains(names, r.Trigger) {
			names = append(names, r.Trigger)
		}
	}
	if f.trigger == "" {
		return names, nil
	}
	if !slices.Contains(names, f.trigger) {
		return nil, fmt.Errorf("--trigger: no rule uses trigger %q (rules use %v)", f.trigger, names)
	}
	return []string{f.trigger}, nil
}

// testCounter is the count preflight `test` gives the admission pipeline:
// with an address, the server's CountWorkflowExecutions, which only reads
// visibility; without, none. A server too old for a rule's operation is an
// error naming the version it needs, as `run` says it.
func testCounter(ctx context.Context, loaded *daemon.Loaded, path, address string) (admit.Counter, func(), error) {
	if address == "" {
		return noServer{}, func() {}, nil
	}
	opts := batch.OptionsFrom(loaded.Config.Temporal, loaded.APIKey)
	opts.Address = address
	c, err := batch.Dial(ctx, opts, nil)
	if err != nil {
		return nil, nil, err
	}
	info, err := c.SystemInfo(ctx)
	if err == nil {
		err = daemon.ServerProblems(info, loaded.Config, loaded.Ops).InFile(path).Err()
	}
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("the Temporal server at %s cannot run every rule: %w", address, err)
	}
	return c, c.Close, nil
}

// errNoServer stops the pipeline at the count when no server was given.
var errNoServer = errors.New("no Temporal server to count on (give --temporal)")

type noServer struct{}

func (noServer) Count(context.Context, string, string) (int64, error) { return 0, errNoServer }

// noLaunch is the pipeline's last stage for `test`: it launches nothing and
// reports the launch the daemon would make.
type noLaunch struct{}

func (noLaunch) Launch(context.Context, batch.Job, string) (string, error) {
	return batch.OutcomeLaunched, nil
}
