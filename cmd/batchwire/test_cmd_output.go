package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/daemon"
	"github.com/batchwire/batchwire/rules"
)

// testReport is what `batchwire test` found for one event; -o json prints it
// as it is.
type testReport struct {
	Event    testEvent      `json:"event"`
	Time     time.Time      `json:"time"`
	Temporal string         `json:"temporal,omitempty"`
	Rules    []*testOutcome `json:"rules"`
}

type testEvent struct {
	ID      string `json:"id"`
	Source  string `json:"source"`
	Type    string `json:"type"`
	Subject string `json:"subject,omitempty"`
}

// testOutcome is one rule's answer to the event.
type testOutcome struct {
	Rule    string      `json:"rule"`
	Trigger string      `json:"trigger"`
	When    string      `json:"when"`
	Matched bool        `json:"matched"`
	Error   string      `json:"error,omitempty"`
	Action  *testAction `json:"action,omitempty"`
	Guards  testGuards  `json:"guards"`
	// Lint holds what rules.LintQuery says of the rendered query.
	Lint       []string `json:"lint,omitempty"`
	Count      *int64   `json:"count,omitempty"`
	CountError string   `json:"count_error,omitempty"`
	// Verdict says what the daemon would do with the match.
	Verdict string `json:"verdict,omitempty"`
}

type testAction struct {
	Namespace string      `json:"namespace"`
	Operation string      `json:"operation"`
	Query     string      `json:"query"`
	Signal    *testSignal `json:"signal,omitempty"`
	Reason    string      `json:"reason"`
	JobID     string      `json:"job_id"`
	Engine    string      `json:"engine"`
}

type testSignal struct {
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input,omitempty"`
}

type testGuards struct {
	MaxWorkflows int64  `json:"max_workflows,omitempty"`
	Cooldown     string `json:"cooldown,omitempty"`
	Rate         string `json:"rate,omitempty"`
	DryRun       bool   `json:"dry_run,omitempty"`
	Paused       bool   `json:"paused,omitempty"`
}

// text reads like `max=1000 cooldown=10m rate=5/1m dry_run`.
func (g testGuards) text() string {
	var parts []string
	if g.MaxWorkflows > 0 {
		parts = append(parts, fmt.Sprintf("max=%d", g.MaxWorkflows))
	}
	if g.Cooldown != "" {
		parts = append(parts, "cooldown="+g.Cooldown)
	}
	if g.Rate != "" {
		parts = append(parts, "rate="+g.Rate)
	}
	if g.DryRun {
		parts = append(parts, "dry_run")
	}
	if g.Paused {
		parts = append(parts, "paused")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// evaluateEvent runs the rules of each trigger against ev, and each rule's
// result through the daemon's admission pipeline, whose last stage launches
// nothing.
func evaluateEvent(ctx context.Context, loaded *daemon.Loaded, pipeline *admit.Pipeline, triggers []string,
	ev *cloudevents.Event, now time.Time, namespace string) *testReport {
	report := &testReport{
		Event: testEvent{ID: ev.ID(), Source: ev.Source(), Type: ev.Type(), Subject: ev.Subject()},
		Time:  now,
	}
	paused := loaded.Config.Launch.Paused
	for _, trigger := range triggers {
		for _, eval := range loaded.Rules.Evaluate(trigger, ev, now) {
			if eval.Action != nil && namespace != "" {
				action := *eval.Action
				action.Namespace = namespace
				eval.Action = &action
			}
			o := newOutcome(eval, loaded.Ops[eval.Rule.Name], trigger, paused)
			if eval.Action != nil {
				d := pipeline.Run(ctx, admit.Input{Eval: eval, Op: loaded.Ops[eval.Rule.Name], Paused: paused, Now: now})
				o.decided(d)
			}
			report.Rules = append(report.Rules, o)
		}
	}
	return report
}

func newOutcome(res rules.Evaluation, op batch.Operation, trigger string, paused bool) *testOutcome {
	cfg := res.Rule.Config
	o := &testOutcome{
		Rule: res.Rule.Name, Trigger: trigger, When: strings.Join(strings.Fields(cfg.When), " "),
		Matched: res.Matched, Guards: guardsOf(cfg.Guards, paused),
	}
	if res.Err != nil {
		o.Error = res.Err.Error()
	}
	if a := res.Action; a != nil {
		o.Action = &testAction{Namespace: a.Namespace, Operation: op.String(), Query: a.Query,
			Reason: a.Reason, JobID: a.JobID, Engine: cfg.Engine}
		if a.Signal != nil {
			o.Action.Signal = &testSignal{Name: a.Signal.Name, Input: a.Signal.Input}
		}
		o.Lint = lintRendered(a.Query)
	}
	return o
}

// decided reads the pipeline's decision: the count, the engine and the verdict.
func (o *testOutcome) decided(d admit.Decision) {
	if d.Counted {
		count := d.Count
		o.Count = &count
	} else if d.Stage == admit.StageCount && !errors.Is(d.Err, errNoServer) {
		o.CountError = d.Reason
	}
	if d.Engine != "" {
		o.Action.Engine = d.Engine
	}
	o.Verdict = verdict(d)
}

// verdict says in words what the daemon would do; the decision comes from
// the same stages, in the same order.
func verdict(d admit.Decision) string {
	switch {
	case d.Result == admit.Launched:
		return fmt.Sprintf("would launch on %s on the %s engine", plural(int(d.Count), "workflow"), d.Engine)
	case d.Result == admit.DryRun:
		return "dry run: counted and audited, not launched"
	case d.Result == admit.NoTargets:
		return "not launched: the query selects no workflows"
	case d.Guard == admit.GuardPaused:
		return "not launched: launch.paused is set"
	case d.Guard == admit.GuardMax:
		return fmt.Sprintf("blocked by max_workflows: %d selected, at most %d allowed", d.Count, d.Rule.Config.Guards.MaxWorkflows)
	case errors.Is(d.Err, errNoServer):
		return "would launch if the count preflight passes"
	case d.Stage == admit.StageCount:
		return "not launched: the count preflight fails"
	}
	return "not launched: " + d.Reason
}

func guardsOf(g config.Guards, paused bool) testGuards {
	out := testGuards{MaxWorkflows: g.MaxWorkflows, DryRun: g.DryRun, Paused: paused}
	if g.Cooldown > 0 {
		out.Cooldown = shortDuration(g.Cooldown.Std())
	}
	if g.Rate != nil {
		out.Rate = fmt.Sprintf("%d/%s", g.Rate.Launches, shortDuration(g.Rate.Per.Std()))
	}
	return out
}

// lintRendered lints the query as rendered for this event, which can show
// what the template lint could not: a value that made the query unscoped.
func lintRendered(query string) []string {
	warnings, err := rules.LintQuery(query)
	var out []string
	if err != nil {
		out = append(out, "error: "+err.Error())
	}
	for _, w := range warnings {
		out = append(out, "warning: "+w)
	}
	return out
}

func (r *testReport) failed() int {
	n := 0
	for _, o := range r.Rules {
		if o.Error != "" {
			n++
		}
	}
	return n
}

func (r *testReport) print(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		// Queries and expressions are read by people: keep ' & < > as written.
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "event  id=%s source=%s type=%s\n", r.Event.ID, r.Event.Source, r.Event.Type)
	fmt.Fprintf(w, "time   %s\n", r.Time.Format(time.RFC3339Nano))
	matched := 0
	for _, o := range r.Rules {
		o.printText(w)
		if o.Matched {
			matched++
		}
	}
	fmt.Fprintf(w, "\n%d of %s matched; nothing was launched or changed.\n", matched, plural(len(r.Rules), "rule"))
	if r.Temporal == "" {
		fmt.Fprintln(w, "Give --temporal ADDR (or set TEMPORAL_ADDRESS) to count the workflows each query selects.")
	}
	return nil
}

func (o *testOutcome) printText(w io.Writer) {
	field := func(name, value string) { printItem(w, fmt.Sprintf("  %-10s ", name+":"), value) }
	fmt.Fprintf(w, "\nrule %s (trigger %s): %s\n", o.Rule, o.Trigger, o.status())
	field("when", o.When+"  => "+o.whenResult())
	if o.Error != "" {
		field("error", o.Error)
	}
	a := o.Action
	if a == nil {
		return
	}
	field("namespace", a.Namespace)
	field("query", a.Query)
	field("operation", a.Operation)
	if a.Signal != nil && a.Signal.Input != nil {
		field("input", string(a.Signal.Input))
	}
	field("reason", a.Reason)
	field("job id", a.JobID)
	field("engine", a.Engine)
	field("guards", o.Guards.text())
	for _, msg := range o.Lint {
		field("lint", msg)
	}
	switch {
	case o.Count != nil:
		field("count", plural(int(*o.Count), "workflow"))
	case o.CountError != "":
		field("count", "error: "+o.CountError)
	}
	field("verdict", o.Verdict)
}

func (o *testOutcome) whenResult() string {
	switch {
	case o.Matched:
		return "true"
	case o.Error != "":
		return "error"
	}
	return "false"
}

func (o *testOutcome) status() string {
	switch {
	case o.Matched && o.Error != "":
		return "matched, but rendering failed"
	case o.Matched:
		return "MATCHED"
	case o.Error != "":
		return "error"
	}
	return "not matched (when is false)"
}
