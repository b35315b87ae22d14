package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/examples/worker/flags"
	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/batchwire/batchwire/rules"
)

// exampleConfig loads the shipped feature-flag example and points it at the
// test's servers, so the test exercises the example as users run it.
func exampleConfig(t testing.TB, natsURL, namespace string) *config.Config {
	t.Helper()
	return shippedConfig(t, "../examples/flags/batchwire.yaml", natsURL, namespace)
}

// shippedConfig loads a configuration of the repository and points it at the
// test's Temporal namespace and NATS server.
func shippedConfig(t testing.TB, path, natsURL, namespace string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	require.NoError(t, err)
	cfg.Temporal.Address = temporalHostPort
	cfg.Temporal.Namespace = namespace
	cfg.Temporal.PollInterval = config.Duration(100 * time.Millisecond)
	cfg.NATS.URL = natsURL
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	for i := range cfg.Rules {
		cfg.Rules[i].Namespace = namespace
	}
	return cfg
}

// fliptEvent wraps the real Flipt "flag updated" webhook body in a CloudEvent.
func fliptEvent(t testing.TB, id string) *nats.Msg {
	t.Helper()
	body, err := os.ReadFile("../testdata/events/flipt_docs_audit_webhook_flag_updated.body.json")
	require.NoError(t, err)
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("flipt/audit")
	ev.SetType("flag.changed")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(body)))
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	return &nats.Msg{Subject: "flags.changed", Data: raw}
}

func TestFlagBroadcastSignalsOnlyMatchingWorkflows(t *testing.T) {
	const ns = "e2e-broadcast"
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	// The Flipt payload's namespace_key is "default": those are the targets.
	targets := testenv.StartFlagWorkflows(t, c, "broadcast", "default", 3)
	others := testenv.StartFlagWorkflows(t, c, "broadcast", "other", 2)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'", 5)

	cfg := exampleConfig(t, natsSrv.ClientURL(), ns)
	_, reg := startDaemon(t, cfg)
	rule := cfg.Rules[0].Name

	// Bad input first: none of it may stop the daemon.
	publish(t, natsSrv.ClientURL(), &nats.Msg{Subject: "flags.changed", Data: []byte("not json")})
	publish(t, natsSrv.ClientURL(), &nats.Msg{Subject: "flags.changed",
		Data: []byte(`{"specversion":"1.0","id":"x","source":"flipt/audit","type":"flag.changed",` +
			`"datacontenttype":"application/json","data":{"type":"flag","action":"updated"}}`)})
	publish(t, natsSrv.ClientURL(), fliptEvent(t, "evt-1"))

	jobID := rules.JobID(rule, "flipt/audit", "evt-1")
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_batch_job_state", map[string]string{"job_id": jobID, "state": "completed"}) == 1
	}, 60*time.Second, 100*time.Millisecond, "batch job did not complete")

	for _, id := range targets {
		require.Equal(t, []string{flags.SignalName}, testenv.SignalNames(t, c, id), "target %s", id)
		// The signal is in the history before the workflow has processed it.
		require.Eventually(t, func() bool { return queryFlags(t, c, id).Applied == 1 }, 30*time.Second, 50*time.Millisecond)
		require.Equal(t, true, queryFlags(t, c, id).Flags["maintenance-mode"], "target %s", id)
	}
	for _, id := range others {
		require.Empty(t, testenv.Signals(t, c, id), "non-target %s got a signal", id)
	}

	job := map[string]string{"job_id": jobID}
	require.Equal(t, 3.0, metricValue(t, reg, "batchwire_batch_job_operations", with(job, "count", "total")))
	require.Equal(t, 3.0, metricValue(t, reg, "batchwire_batch_job_operations", with(job, "count", "completed")))
	require.Equal(t, 0.0, metricValue(t, reg, "batchwire_batch_job_operations", with(job, "count", "failed")))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_events_invalid_total", map[string]string{"trigger": "flags"}))
	require.Equal(t, 2.0, metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "flags"}))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_rules_evaluations_total", map[string]string{"rule": rule, "result": "error"}))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_rules_evaluations_total", map[string]string{"rule": rule, "result": "matched"}))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": rule, "operation": "signal"}))

	// The same event again (a redelivery) is a duplicate, not a second job.
	publish(t, natsSrv.ClientURL(), fliptEvent(t, "evt-1"))
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_duplicates_suppressed_total", map[string]string{"rule": rule}) == 1
	}, 30*time.Second, 50*time.Millisecond)
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": rule, "operation": "signal"}))
	for _, id := range targets {
		require.Len(t, testenv.Signals(t, c, id), 1, "target %s signalled twice", id)
	}
}

func queryFlags(t testing.TB, c client.Client, workflowID string) flags.State {
	t.Helper()
	value, err := c.QueryWorkflow(context.Background(), workflowID, "", flags.QueryName)
	require.NoError(t, err)
	var state flags.State
	require.NoError(t, value.Get(&state))
	return state
}

func with(labels map[string]string, key, value string) map[string]string {
	out := map[string]string{key: value}
	for k, v := range labels {
		out[k] = v
	}
	return out
}

// withSubject sets the CloudEvent subject attribute of a structured event.
func withSubject(t testing.TB, raw []byte, subject string) []byte {
	t.Helper()
	ev := cloudevents.NewEvent()
	require.NoError(t, json.Unmarshal(raw, &ev))
	ev.SetSubject(subject)
	out, err := json.Marshal(ev)
	require.NoError(t, err)
	return out
}

// A rendered query is linted before launch: an event value that would make
// the query select every workflow (an empty STARTS_WITH prefix) is refused.
func TestRenderedQueryThatSelectsEverythingIsRefused(t *testing.T) {
	natsSrv := runNATS(t)
	raw := fmt.Sprintf(`
temporal: {address: %q, namespace: e2e-misc}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers: [{name: t, nats: {subject: s}}]
rules:
  - name: prefix
    trigger: t
    when: "true"
    query: WorkflowId STARTS_WITH {{ data.prefix }} AND ExecutionStatus = 'Running'
    terminate: {}
    reason: r
`, temporalHostPort, natsSrv.ClientURL(), t.TempDir())
	_, cfg := writeConfig(t, t.TempDir(), raw)
	_, reg := startDaemon(t, cfg)
	ev := cloudevents.NewEvent()
	ev.SetID("empty-prefix")
	ev.SetSource("test")
	ev.SetType("t")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, map[string]string{"prefix": ""}))
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	publish(t, natsSrv.ClientURL(), &nats.Msg{Subject: "s", Data: body})
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_rules_render_errors_total", map[string]string{"rule": "prefix"}) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Zero(t, metricValue(t, reg, "batchwire_batch_decisions_total", map[string]string{"rule": "prefix", "outcome": "launched"}))
}
