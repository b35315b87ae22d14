package triggers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// alertStorm builds an Alertmanager message of n alerts from the real firing
// group: each alert is the fixture's first, with its own instance and
// fingerprint; edit changes the message before it is encoded.
func alertStorm(t testing.TB, n int, edit func(msg map[string]any)) []byte {
	t.Helper()
	var msg map[string]any
	require.NoError(t, json.Unmarshal(readFixture(t, "alertmanager", amFiringFixture), &msg))
	template, err := json.Marshal(msg["alerts"].([]any)[0])
	require.NoError(t, err)
	alerts := make([]any, n)
	for i := range alerts {
		var alert map[string]any
		require.NoError(t, json.Unmarshal(template, &alert))
		alert["labels"].(map[string]any)["instance"] = fmt.Sprintf("api-%d:8080", i)
		alert["fingerprint"] = fmt.Sprintf("%016x", i)
		alerts[i] = alert
	}
	msg["alerts"] = alerts
	if edit != nil {
		edit(msg)
	}
	body, err := json.Marshal(msg)
	require.NoError(t, err)
	return body
}

// allocated reports the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A group whose common fields are large and whose alerts are many made every
// alert's event carry the common fields again: 1000 alerts and 400 KB of
// commonAnnotations in a 500 KB body were 400 MB of events. Now the message
// is refused, and decoding it allocates a few times the body, not alerts
// times the group.
func TestAlertmanagerAmplificationRefused(t *testing.T) {
	const alerts = 1000
	body := alertStorm(t, alerts, func(msg map[string]any) {
		for _, alert := range msg["alerts"].([]any) {
			a := alert.(map[string]any)
			a["labels"] = map[string]any{"alertname": "x"}
			a["annotations"] = map[string]any{}
			delete(a, "generatorURL")
		}
		msg["commonAnnotations"] = map[string]any{"description": strings.Repeat("a", 400<<10)}
	})
	require.Less(t, len(body), 1<<20, "the body fits the default max_body_bytes")
	decode := decodeAlertmanager(config.DefaultMaxAlerts)
	req := jsonRequest()
	var err error
	used := allocated(func() { _, err = decode(req, body) })

	var decodeErr *DecodeError
	require.ErrorAs(t, err, &decodeErr)
	require.Equal(t, http.StatusRequestEntityTooLarge, decodeErr.Status)
	require.Contains(t, decodeErr.Reason, "the group's common fields take")
	require.Less(t, used, uint64(10*len(body)), "decoding allocated %d bytes for a %d-byte body", used, len(body))
}

// A real storm, whose common labels and annotations every alert carries
// itself, is accepted: its events hold each alert and the group's fields,
// never the other alerts, and all together about twice the body.
func TestAlertmanagerLargeGroupStaysBounded(t *testing.T) {
	const alerts = 1000
	body := alertStorm(t, alerts, nil)
	events, err := decodeAlertmanager(config.DefaultMaxAlerts)(jsonRequest(), body)
	require.NoError(t, err)
	require.Len(t, events, alerts)
	total := 0
	for i, ev := range events {
		total += len(ev.Data())
		var data map[string]map[string]any
		require.NoError(t, json.Unmarshal(ev.Data(), &data))
		require.Equal(t, fmt.Sprintf("%016x", i), data["alert"]["fingerprint"])
		require.NotContains(t, data["group"], "alerts")
		require.Equal(t, "webhook", data["group"]["receiver"])
	}
	require.Less(t, total, 2*len(body)+alerts*groupBytesPerAlert, "events take %d bytes for a %d-byte body", total, len(body))
}

func jsonRequest() *http.Request {
	req, _ := http.NewRequest(http.MethodPost, "/", http.NoBody)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// Each bound refuses the whole request with a status and a message that
// names the option, and reports it once.
func TestHTTPBounds(t *testing.T) {
	hook := func(h *config.HTTPTrigger) { h.Webhook = &fliptMapping }
	tests := []struct {
		name        string
		trigger     config.Trigger
		contentType string
		body        []byte
		status      int
		want        string
	}{
		{"alerts over max_alerts", httpTrigger("alerts", "alertmanager", func(h *config.HTTPTrigger) { h.MaxAlerts = 2 }),
			"application/json", readFixture(t, "alertmanager", amFiringFixture),
			http.StatusRequestEntityTooLarge, "3 alerts in one message, more than http.max_alerts (2)"},
		{"batch over max_batch_events", httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) { h.MaxBatchEvents = 2 }),
			event.ApplicationCloudEventsBatchJSON, readFixture(t, "cloudevents", "sdkgo_batch_triple.json"),
			http.StatusRequestEntityTooLarge, "3 events in one batch, more than http.max_batch_events (2)"},
		{"alertmanager form post", httpTrigger("alerts", "alertmanager", nil),
			"application/x-www-form-urlencoded", readFixture(t, "alertmanager", amFiringFixture),
			http.StatusUnsupportedMediaType, `Content-Type "application/x-www-form-urlencoded": want application/json`},
		{"alertmanager text/plain", httpTrigger("alerts", "alertmanager", nil),
			"text/plain", readFixture(t, "alertmanager", amFiringFixture),
			http.StatusUnsupportedMediaType, "want application/json"},
		{"webhook form post", httpTrigger("flipt", "webhook", hook),
			"multipart/form-data; boundary=x", readFixture(t, "events", "flipt_docs_audit_webhook_flag_updated.body.json"),
			http.StatusUnsupportedMediaType, "want application/json"},
		{"webhook without Content-Type", httpTrigger("flipt", "webhook", hook),
			"", readFixture(t, "events", "flipt_docs_audit_webhook_flag_updated.body.json"),
			http.StatusUnsupportedMediaType, `Content-Type "": want application/json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, tt.trigger, rec)
			requireRejected(t, post(src, tt.contentType, tt.body, nil), rec, tt.status, tt.want)
		})
	}
	t.Run("application/json with a charset is JSON", func(t *testing.T) {
		rec := &recorder{}
		src := startSource(t, httpTrigger("alerts", "alertmanager", nil), rec)
		rr := post(src, "application/json; charset=utf-8", readFixture(t, "alertmanager", amFiringFixture), nil)
		require.Equal(t, http.StatusAccepted, rr.Code, rr.Body.String())
	})
}

// Requests past max_in_flight waiting for their turn are refused with 503
// before their body is read, and counted.
func TestHTTPQueueBound(t *testing.T) {
	release := make(chan struct{})
	rec := &recorder{settle: func(d Delivery) { <-release; _ = d.Ack() }}
	trigger := httpTrigger("ce", "cloudevents", nil)
	trigger.MaxInFlight = 1
	src, err := NewHTTPSource(trigger, testenv.Logger(t))
	require.NoError(t, err)
	reports := &countingReporter{counts: map[string]int{}}
	src.SetReporter(reports)
	t.Cleanup(runHTTPSource(t, src, rec))
	body := readFixture(t, "cloudevents", "sdkgo_batch_triple.json")

	first := make(chan int, 1)
	go func() { first <- post(src, event.ApplicationCloudEventsBatchJSON, body, nil).Code }()
	require.Eventually(t, func() bool { return len(rec.handled()) == 3 }, waitFor, 5*time.Millisecond)
	rr := post(src, event.ApplicationCloudEventsBatchJSON, body, nil)
	require.Equal(t, http.StatusServiceUnavailable, rr.Code)
	require.Equal(t, "1", rr.Header().Get("Retry-After"))
	require.Contains(t, decodeReply(t, rr.Body).Error, "requests waiting already (max_in_flight)")
	require.Equal(t, 1, reports.get("dropped/ce/queue_full"))

	close(release)
	require.Equal(t, http.StatusAccepted, receiveWithin(t, first, "the first request's answer"))
	require.Len(t, rec.handled(), 3, "the refused request handed nothing")
}
