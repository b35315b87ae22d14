package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// With a JetStream trigger, an event that arrives while Temporal is away is
// not lost: the launch gives up after its retry budget, the event goes back
// to the stream, and once Temporal is reachable again it launches exactly once.
func TestJetStreamEventSurvivesTemporalOutage(t *testing.T) {
	const ns = "e2e-misc"
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	ids := testenv.StartFlagWorkflows(t, c, "outage", "outage", 2)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'outage'", 2)

	proxy := testenv.StartProxy(t, temporalHostPort)
	raw := fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 100ms, dial_timeout: 5s}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
launch: {retry_budget: 1s}
triggers:
  - name: flags
    jetstream: {stream: FLAGS, subjects: [flags.>], max_deliver: 20, ack_wait: 5s}
rules:
  - name: outage
    trigger: flags
    when: event.type == "flag.changed"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'outage'
    signal: {name: flag_changed, input: {flag: "{{ data.payload.key }}", value: true}}
    reason: "event {{ event.id }}"
    engine: server
`, proxy.Addr(), ns, natsSrv.ClientURL(), t.TempDir())
	_, cfg := writeConfig(t, t.TempDir(), raw)
	_, reg := startDaemon(t, cfg)

	proxy.Cut()
	nc, err := nats.Connect(natsSrv.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	msg := fliptEvent(t, "during-outage")
	msg.Subject = "flags.changed"
	_, err = js.PublishMsg(msg)
	require.NoError(t, err)

	// The launch fails for want of Temporal and the event is handed back.
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "flags"}) >= 2
	}, 30*time.Second, 50*time.Millisecond, "the event was not redelivered")
	require.Zero(t, metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": "outage", "operation": "signal"}))
	require.Positive(t, metricValue(t, reg, "batchwire_temporal_rpc_errors_total",
		map[string]string{"method": "CountWorkflowExecutions", "code": "Unavailable"}))

	proxy.Restore()
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": "outage", "operation": "signal"}) == 1
	}, 60*time.Second, 100*time.Millisecond, "the event did not launch once Temporal was back")
	for _, id := range ids {
		require.Eventually(t, func() bool { return len(testenv.Signals(t, c, id)) == 1 }, 30*time.Second, 100*time.Millisecond, id)
	}
}
