package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch/engine"
	"github.com/batchwire/batchwire/internal/testenv"
)

// A burst of 20 signal events, each targeting the same 5 workflows, sent
// within one second to one namespace: every event is applied exactly once,
// although the server runs one batch operation per namespace at a time.
func TestBurstOfSignalEventsLosesNothing(t *testing.T) {
	for _, engine := range []string{"server", "auto"} {
		t.Run(engine, func(t *testing.T) { testBurst(t, engine) })
	}
}

func testBurst(t *testing.T, engine string) {
	const ns, events, targets = "e2e-burst", 20, 5
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	tenant := "burst-" + engine
	ids := testenv.StartFlagWorkflows(t, c, ns, tenant, targets)
	bystanders := testenv.StartFlagWorkflows(t, c, ns, tenant+"-other", 2)
	testenv.WaitCount(t, c, ns, fmt.Sprintf("WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant IN ('%s', '%s-other')", tenant, tenant), targets+2)

	raw := fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 100ms}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers:
  - name: flags
    nats: {subject: flags.changed}
rules:
  - name: burst
    trigger: flags
    when: event.type == "flag.changed"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = {{ event.subject }}
    signal: {name: flag_changed, input: {flag: "{{ event.id }}", value: true}}
    reason: "burst event {{ event.id }}"
    engine: %s
`, temporalHostPort, ns, natsSrv.ClientURL(), t.TempDir(), engine)
	_, cfg := writeConfig(t, t.TempDir(), raw)
	_, reg := startDaemon(t, cfg)

	start := time.Now()
	for i := range events {
		msg := fliptEvent(t, fmt.Sprintf("burst-%s-%d", engine, i))
		msg.Data = withSubject(t, msg.Data, tenant)
		publish(t, natsSrv.ClientURL(), msg)
	}
	require.Less(t, time.Since(start), time.Second, "the burst was sent within one second")

	for _, id := range ids {
		require.Eventually(t, func() bool { return len(testenv.Signals(t, c, id)) >= events }, 120*time.Second, 200*time.Millisecond,
			"workflow %s did not get all %d signals", id, events)
		require.Len(t, testenv.Signals(t, c, id), events, "workflow %s: no signal doubled", id)
		// The history holds the signals before the workflow has processed them all.
		require.Eventually(t, func() bool { return queryFlags(t, c, id).Applied == events }, 30*time.Second, 100*time.Millisecond)
		state := queryFlags(t, c, id)
		for i := range events {
			require.Contains(t, state.Flags, fmt.Sprintf("burst-%s-%d", engine, i))
		}
	}
	for _, id := range bystanders {
		require.Empty(t, testenv.Signals(t, c, id), "bystander %s", id)
	}
	require.Equal(t, float64(events), metricValue(t, reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "burst", "operation": "signal"}))
	require.Zero(t, metricValue(t, reg, "batchwire_batch_decisions_total", map[string]string{"rule": "burst", "outcome": "error"}))
	if engine == "auto" {
		require.Equal(t, events, directJobsDone(t, natsSrv.ClientURL()), "auto ran every 5-workflow job on the direct engine")
	}
}

// directJobsDone counts the ended records in the direct engine's bucket.
func directJobsDone(t *testing.T, natsURL string) int {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(context.Background(), engine.DirectBucket)
	require.NoError(t, err)
	lister, err := kv.ListKeys(context.Background())
	require.NoError(t, err)
	done := 0
	for key := range lister.Keys() {
		entry, err := kv.Get(context.Background(), key)
		require.NoError(t, err)
		var rec struct {
			Done bool `json:"done"`
		}
		require.NoError(t, json.Unmarshal(entry.Value(), &rec))
		if rec.Done {
			done++
		}
	}
	return done
}
