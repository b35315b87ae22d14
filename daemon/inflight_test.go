package daemon

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime/debug"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/batchwire/batchwire/rules"
)

const inFlightConfig = `
temporal: {address: %q, namespace: e2e-misc, dial_timeout: 5s}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
launch: {retry_budget: 60s}
triggers:
  - name: flags
    max_in_flight: 1
    nats: {subject: flags.changed}
  - name: deploys
    max_in_flight: 1
    jetstream: {stream: INFLIGHT, subjects: [inflight.>], ack_wait: 5s}
  - name: hooks
    max_in_flight: 1
    http: {path: /hooks, format: cloudevents, timeout: 1s}
rules:
%s
`

const inFlightRule = `  - name: %[1]s
    trigger: %[1]s
    when: event.type == "flag.changed"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'inflight'
    signal: {name: flag_changed}
    reason: in-flight test
    guards: {dry_run: true}
`

// While Temporal is away every decision waits in its preflight count, so
// each trigger's one slot (max_in_flight: 1) stays taken. A second event
// then meets each source's backpressure: core NATS drops it (counted),
// JetStream is not handed it (the server keeps it), HTTP answers 503 with
// Retry-After (counted). Once Temporal is back, the JetStream event is
// taken and decided.
func TestMaxInFlightBackpressure(t *testing.T) {
	natsSrv := runNATS(t)
	proxy := testenv.StartProxy(t, temporalHostPort)
	var ruleYAML string
	for _, trigger := range []string{"flags", "deploys", "hooks"} {
		ruleYAML += fmt.Sprintf(inFlightRule, trigger)
	}
	_, cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(inFlightConfig, proxy.Addr(), natsSrv.ClientURL(), t.TempDir(), ruleYAML))
	d, reg := startDaemon(t, cfg)
	proxy.Cut()
	inFlight := func(trigger string) float64 {
		return metricValue(t, reg, "batchwire_trigger_in_flight", map[string]string{"trigger": trigger})
	}
	dropped := func(trigger string) float64 {
		return metricValue(t, reg, "batchwire_events_dropped_total", map[string]string{"trigger": trigger, "reason": "in_flight"})
	}

	// Core NATS: the second event is dropped and counted.
	publish(t, natsSrv.ClientURL(), fliptEvent(t, "nats-1"))
	require.Eventually(t, func() bool { return inFlight("flags") == 1 }, 10*time.Second, 10*time.Millisecond)
	publish(t, natsSrv.ClientURL(), fliptEvent(t, "nats-2"))
	require.Eventually(t, func() bool { return dropped("flags") == 1 }, 10*time.Second, 10*time.Millisecond)

	// JetStream: the second event stays with the server.
	for _, id := range []string{"js-1", "js-2"} {
		msg := fliptEvent(t, id)
		msg.Subject = "inflight.x"
		publishJetStream(t, natsSrv.ClientURL(), msg)
	}
	received := func() float64 {
		return metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "deploys"})
	}
	require.Eventually(t, func() bool { return inFlight("deploys") == 1 }, 10*time.Second, 10*time.Millisecond)
	require.Never(t, func() bool { return received() > 1 }, 2*time.Second, 20*time.Millisecond,
		"JetStream handed over an event beyond max_in_flight")
	require.Zero(t, dropped("deploys"), "JetStream waits; it never drops")

	// HTTP: the first request holds the slot past its own timeout; the
	// second waits its timeout for a slot, then is told to retry.
	url := "http://" + d.HTTPAddr() + "/hooks"
	require.Equal(t, http.StatusServiceUnavailable, postEvent(t, url, "http-1"), "no decision within the timeout")
	require.Equal(t, 1.0, inFlight("hooks"))
	require.Equal(t, http.StatusServiceUnavailable, postEvent(t, url, "http-2"))
	require.Equal(t, 1.0, dropped("hooks"))

	proxy.Restore()
	require.Eventually(t, func() bool { return received() == 2 && inFlight("deploys") == 0 }, 60*time.Second, 50*time.Millisecond,
		"the JetStream event waiting at the server was not taken once a slot freed")
}

func publishJetStream(t *testing.T, url string, msg *nats.Msg) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.PublishMsg(msg)
	require.NoError(t, err)
}

// postEvent posts the Flipt event in structured mode and returns the status;
// a 503 must carry Retry-After.
func postEvent(t *testing.T, url, id string) int {
	t.Helper()
	resp, err := http.Post(url, "application/cloudevents+json", bytes.NewReader(fliptEvent(t, id).Data))
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
	}
	return resp.StatusCode
}

// A buffer goes back to the pool cleared, so that a pooled buffer holds no
// rule or action of an event already decided; a huge one is not kept.
func TestEvalBuffersAreClearedAndBounded(t *testing.T) {
	var bufs evalBuffers
	rule := &rules.Rule{Name: "r"}
	buf := append(bufs.get(), rules.Evaluation{Rule: rule, Matched: true})
	bufs.put(buf)
	require.Nil(t, buf[0].Rule, "the buffer was put back without being cleared")
	require.Empty(t, bufs.get(), "a buffer from the pool is not empty")

	bufs.put(make([]rules.Evaluation, 0, maxPooledEvaluations+1))
	require.LessOrEqual(t, cap(bufs.get()), maxPooledEvaluations, "a buffer over the bound was pooled")
}

// A load sets the collector's GOGC to loadGCPercent and back to what it
// found.
func TestPackHeapRestoresTheCollectorSetting(t *testing.T) {
	previous := debug.SetGCPercent(150)
	defer debug.SetGCPercent(previous)
	restore := packHeap()
	require.Equal(t, loadGCPercent, debug.SetGCPercent(loadGCPercent), "during a load")
	restore()
	require.Equal(t, 150, debug.SetGCPercent(150), "after the load")
}
