package daemon

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const readyConfig = `
temporal: {address: %q, namespace: e2e-misc}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers:
  - name: flags
    nats: {subject: flags.changed}
  - name: alerts
    http: {path: /hooks/alertmanager, format: alertmanager}
%s
rules:
  - name: flags
    trigger: flags
    when: event.type == "flag.changed"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'ready'
    signal: {name: flag_changed}
    reason: readiness test
    guards: {dry_run: true}
`

// Ready means every trigger takes events. For core NATS, which drops what
// is published before the server has the subscription, that is the server's
// confirmation: an event published the moment the daemon reports ready must
// arrive (CI once lost the first three events of a burst sent then).
func TestReadyOnlyOnceEveryTriggerTakesEvents(t *testing.T) {
	natsSrv := runNATS(t)
	_, cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(readyConfig, temporalHostPort, natsSrv.ClientURL(), t.TempDir(), ""))
	d, reg := runDaemon(t, Options{Config: cfg})

	require.Eventually(t, d.Ready, 30*time.Second, time.Millisecond, "daemon not ready")
	require.True(t, natsSrv.GlobalAccount().SubscriptionInterest("flags.changed"),
		"ready before the NATS server has the trigger's subscription")
	publish(t, natsSrv.ClientURL(), fliptEvent(t, "ready-1"))
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "flags"}) == 1
	}, 10*time.Second, 10*time.Millisecond, "the event published once ready was lost")

	for _, trigger := range []string{"flags", "alerts"} {
		require.Equal(t, 1.0, metricValue(t, reg, "batchwire_trigger_up", map[string]string{"trigger": trigger}), trigger)
	}
	status, body := getReady(t, d)
	require.Equal(t, http.StatusOK, status, body)
}

// A trigger that cannot start (here a JetStream stream that is missing and
// may not be created) keeps the daemon running but not ready, and says which.
func TestNotReadyWhileATriggerIsDown(t *testing.T) {
	natsSrv := runNATS(t)
	broken := `  - name: deploys
    jetstream: {stream: MISSING, subjects: [deploys.>], create_stream: false}`
	_, cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(readyConfig, temporalHostPort, natsSrv.ClientURL(), t.TempDir(), broken))
	d, reg := runDaemon(t, Options{Config: cfg})

	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_trigger_up", map[string]string{"trigger": "flags"}) == 1 &&
			metricValue(t, reg, "batchwire_trigger_up", map[string]string{"trigger": "alerts"}) == 1
	}, 30*time.Second, 10*time.Millisecond, "the healthy triggers did not come up")
	require.False(t, d.Ready())
	require.Zero(t, metricValue(t, reg, "batchwire_trigger_up", map[string]string{"trigger": "deploys"}))
	status, body := getReady(t, d)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "not ready: triggers not taking events: deploys\n", body)

	// The healthy triggers still work.
	publish(t, natsSrv.ClientURL(), fliptEvent(t, "down-1"))
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "flags"}) == 1
	}, 10*time.Second, 10*time.Millisecond)
}

func getReady(t *testing.T, d *Daemon) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + d.HTTPAddr() + "/-/ready")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}
