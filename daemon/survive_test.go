package daemon

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/triggers"
)

// A panic while handling one event (a bug; no input is known to cause one, so
// it is raised by hand here) is recovered: counted, and the event is handed
// back to its source through a fake delivery that records the Nak.
func TestHandlerPanicIsRecoveredAndNaked(t *testing.T) {
	cfg, err := config.Parse([]byte("triggers: [{name: t, nats: {subject: s}}]\n"))
	require.NoError(t, err)
	d, reg := newTestDaemon(t, cfg)
	ev := cloudevents.NewEvent()
	ev.SetID("boom")
	var nakDelay time.Duration
	var nakCause error
	fake := triggers.Delivery{Trigger: "t", Event: &ev, Attempt: 2,
		Nak: func(delay time.Duration, cause error) error { nakDelay, nakCause = delay, cause; return nil }}

	require.NotPanics(t, func() {
		defer d.survive(fake)
		panic("bug")
	})
	require.Equal(t, 2*time.Second, nakDelay)
	require.ErrorContains(t, nakCause, "panic: bug")
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_events_panics_total", map[string]string{"trigger": "t"}))
}

const surviveConfig = `
temporal: {address: %q, namespace: e2e-misc}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers:
  - name: flags
    nats: {subject: flags.changed}
  - name: deploys
    jetstream: {stream: SURVIVE, subjects: [survive.>], ack_wait: 2s}
  - name: events
    http: {path: /events, format: cloudevents}
rules:
  - name: flags
    trigger: flags
    when: event.type == "flag.changed"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'survive'
    signal: {name: flag_changed}
    reason: survive test
    guards: {dry_run: true}
`

// emptyExtensionHeaders make a binary-mode event whose header named exactly
// "ce-" panicked inside cloudevents sdk-go and stopped the process.
func emptyExtensionHeaders() map[string]string {
	return map[string]string{"ce-specversion": "1.0", "ce-id": "x", "ce-source": "attacker", "ce-type": "t", "ce-": "boom"}
}

// One such message over core NATS, one over JetStream and one over HTTP:
// each is refused and counted as invalid, the HTTP one answered 400, and
// the daemon stays up and takes the next event on each trigger.
func TestDaemonSurvivesEmptyExtensionHeader(t *testing.T) {
	natsSrv := runNATS(t)
	_, cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(surviveConfig, temporalHostPort, natsSrv.ClientURL(), t.TempDir()))
	d, reg := startDaemon(t, cfg)

	for _, subject := range []string{"flags.changed", "survive.x"} {
		msg := nats.NewMsg(subject)
		for key, value := range emptyExtensionHeaders() {
			msg.Header[key] = []string{value}
		}
		msg.Data = []byte("{}")
		publish(t, natsSrv.ClientURL(), msg)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+d.HTTPAddr()+"/events", strings.NewReader("{}"))
	require.NoError(t, err)
	for key, value := range emptyExtensionHeaders() {
		req.Header[key] = []string{value}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the request must be answered, not dropped")
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	for _, trigger := range []string{"flags", "deploys", "events"} {
		require.Eventually(t, func() bool {
			return metricValue(t, reg, "batchwire_events_invalid_total", map[string]string{"trigger": trigger}) == 1
		}, 10*time.Second, 10*time.Millisecond, trigger)
	}
	// Headers past the server's bound are refused before any trigger sees them.
	req, err = http.NewRequest(http.MethodPost, "http://"+d.HTTPAddr()+"/events", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("X-Padding", strings.Repeat("a", 2*httpMaxHeaderBytes))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	publish(t, natsSrv.ClientURL(), fliptEvent(t, "after-1"))
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "flags"}) == 1
	}, 10*time.Second, 10*time.Millisecond, "the daemon no longer takes events")
	require.True(t, d.Ready())
}

// The server's write deadline leaves the slowest trigger its whole
// http.timeout after the longest body read, so an answer is never cut.
func TestHTTPWriteTimeoutCoversTheDecision(t *testing.T) {
	cfg, err := config.Parse([]byte("triggers: [{name: a, http: {path: /a, timeout: 45s}}, {name: b, http: {path: /b}}, {name: n, nats: {subject: s}}]\n"))
	require.NoError(t, err)
	require.Equal(t, httpReadTimeout+45*time.Second+httpWriteMargin, httpWriteTimeout(cfg.Triggers))
}
