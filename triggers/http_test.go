package triggers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// The conformance requests are replayed byte for byte against a real server
// mounted at the path of their request line.
func TestHTTPCloudEventsConformance(t *testing.T) {
	for _, name := range []string{binaryFixture, structuredFixture} {
		t.Run(name, func(t *testing.T) {
			fixture := readRequestFixture(t, "cloudevents", name)
			rec := &recorder{}
			src := startSource(t, httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) { h.Path = fixture.path }), rec)
			resp := fixture.send(t, serve(t, src).URL)

			require.Equal(t, http.StatusAccepted, resp.StatusCode)
			require.Equal(t, httpReply{Accepted: 1}, decodeReply(t, resp.Body))
			handled := rec.handled()
			require.Len(t, handled, 1)
			require.Equal(t, "ce", handled[0].Trigger)
			require.Equal(t, 1, handled[0].Attempt)
			requireConformanceEvent(t, handled[0].Event)
			require.Empty(t, rec.invalids())
		})
	}
}

func TestHTTPCloudEventsBatch(t *testing.T) {
	rec := &recorder{}
	src := startSource(t, httpTrigger("batch", "cloudevents", nil), rec)
	rr := post(src, event.ApplicationCloudEventsBatchJSON, readFixture(t, "cloudevents", "sdkgo_batch_triple.json"), nil)

	require.Equal(t, http.StatusAccepted, rr.Code, rr.Body.String())
	require.Equal(t, httpReply{Accepted: 3}, decodeReply(t, rr.Body))
	require.Equal(t, []string{"id1", "id2", "id3"}, rec.eventIDs(), "events are handled in batch order")
	for _, d := range rec.handled() {
		require.Equal(t, "source", d.Event.Source())
		require.Equal(t, "type", d.Event.Type())
		require.JSONEq(t, `"foo"`, string(d.Event.Data()))
	}
}

func TestHTTPCloudEventsMalformed(t *testing.T) {
	structured := readRequestFixture(t, "cloudevents", structuredFixture)
	binary := readRequestFixture(t, "cloudevents", binaryFixture)
	batch := readFixture(t, "cloudevents", "sdkgo_batch_triple.json")
	withoutID := editJSON(t, structured.body, func(m map[string]any) { delete(m, "id") })
	tests := []struct {
		name        string
		contentType string
		body        []byte
		header      map[string]string
		want        string
	}{
		{"structured not JSON", event.ApplicationCloudEventsJSON, []byte(`{"specversion": "1.0",`), nil, "body is not JSON"},
		{"structured missing id", event.ApplicationCloudEventsJSON, withoutID, nil, "missing required attribute id"},
		{"structured missing specversion", event.ApplicationCloudEventsJSON,
			editJSON(t, structured.body, func(m map[string]any) { delete(m, "specversion") }), nil, "missing required attribute specversion"},
		{"structured unknown specversion", event.ApplicationCloudEventsJSON,
			editJSON(t, structured.body, func(m map[string]any) { m["specversion"] = "9.9" }), nil, `unsupported specversion "9.9"`},
		{"binary missing ce-source", "application/json", binary.body,
			binaryHeaders(binary, "Ce-Source"), "missing required attribute source"},
		{"batch not JSON", event.ApplicationCloudEventsBatchJSON, batch[:len(batch)-1], nil, "batch body is not JSON"},
		{"batch not an array", event.ApplicationCloudEventsBatchJSON, structured.body, nil, "batch body is not a JSON array"},
		{"batch empty", event.ApplicationCloudEventsBatchJSON, []byte(`[]`), nil, "empty batch"},
		{"batch element missing id", event.ApplicationCloudEventsBatchJSON,
			[]byte(strings.Replace(string(batch), `"id":"id2",`, "", 1)), nil, "event 2 of 3: missing required attribute id"},
		{"plain JSON", "application/json", structured.body, nil, "not a CloudEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, httpTrigger("ce", "cloudevents", nil), rec)
			rr := post(src, tt.contentType, tt.body, func(r *http.Request) {
				for name, value := range tt.header {
					r.Header.Set(name, value)
				}
			})
			requireRejected(t, rr, rec, http.StatusBadRequest, tt.want)
		})
	}
}

// binaryHeaders returns the binary fixture's ce-* headers without drop.
func binaryHeaders(f requestFixture, drop string) map[string]string {
	headers := map[string]string{}
	for name := range f.header {
		if strings.HasPrefix(name, "Ce-") && name != drop {
			headers[name] = f.header.Get(name)
		}
	}
	return headers
}

func TestHTTPRequestChecks(t *testing.T) {
	body := readRequestFixture(t, "cloudevents", structuredFixture).body

	t.Run("GET is not allowed", func(t *testing.T) {
		rec := &recorder{}
		src := startSource(t, httpTrigger("ce", "cloudevents", nil), rec)
		resp, err := http.Get(serve(t, src).URL + src.Path())
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, http.MethodPost, resp.Header.Get("Allow"))
		require.Contains(t, decodeReply(t, resp.Body).Error, "method GET not allowed")
		require.Empty(t, rec.handled())
		require.Empty(t, rec.invalids())
	})
	t.Run("body over the limit", func(t *testing.T) {
		rec := &recorder{}
		limit := int64(len(body) - 1)
		src := startSource(t, httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) { h.MaxBodyBytes = limit }), rec)
		rr := post(src, event.ApplicationCloudEventsJSON, body, nil)
		requireRejected(t, rr, rec, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
	})
	t.Run("body at the limit", func(t *testing.T) {
		rec := &recorder{}
		src := startSource(t, httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) { h.MaxBodyBytes = int64(len(body)) }), rec)
		rr := post(src, event.ApplicationCloudEventsJSON, body, nil)
		require.Equal(t, http.StatusAccepted, rr.Code, rr.Body.String())
	})
}

func TestHTTPNotRunning(t *testing.T) {
	body := readRequestFixture(t, "cloudevents", structuredFixture).body
	rec := &recorder{}
	src, err := NewHTTPSource(httpTrigger("ce", "cloudevents", nil), testenv.Logger(t))
	require.NoError(t, err)

	requireUnavailable := func(stage string) {
		rr := post(src, event.ApplicationCloudEventsJSON, body, nil)
		require.Equal(t, http.StatusServiceUnavailable, rr.Code, stage)
		require.Equal(t, "1", rr.Header().Get("Retry-After"), stage)
		require.Contains(t, decodeReply(t, rr.Body).Error, "not accepting events", stage)
	}
	requireUnavailable("before Run")
	stop := runHTTPSource(t, src, rec)
	require.Equal(t, http.StatusAccepted, post(src, event.ApplicationCloudEventsJSON, body, nil).Code)
	stop()
	requireUnavailable("after Run")
	require.Len(t, rec.handled(), 1)

	// Run can start again, as a reload that keeps the trigger would.
	stop = runHTTPSource(t, src, rec)
	defer stop()
	require.Equal(t, http.StatusAccepted, post(src, event.ApplicationCloudEventsJSON, body, nil).Code)
}

func TestHTTPRunTwice(t *testing.T) {
	rec := &recorder{}
	src := startSource(t, httpTrigger("ce", "cloudevents", nil), rec)
	err := src.Run(context.Background(), rec.handle, rec.reportInvalid)
	require.ErrorContains(t, err, `trigger "ce": already running`)
}

// Each case settles the three events of the batch fixture in its own way.
func TestHTTPSettlement(t *testing.T) {
	batch := readFixture(t, "cloudevents", "sdkgo_batch_triple.json")
	nakSecond := func(delay time.Duration) func(Delivery) {
		return func(d Delivery) {
			if d.Event.ID() == "id2" {
				_ = d.Nak(delay, errors.New("temporal unavailable"))
				return
			}
			_ = d.Ack()
		}
	}
	tests := []struct {
		name       string
		timeout    time.Duration
		settle     func(Delivery)
		status     int
		retryAfter string
		reply      httpReply
	}{
		{"all acked late", 0, func(d Delivery) { time.Sleep(20 * time.Millisecond); _ = d.Ack() },
			http.StatusAccepted, "", httpReply{Accepted: 3}},
		{"one nak'ed for 2s", 0, nakSecond(2 * time.Second),
			http.StatusServiceUnavailable, "2", httpReply{Accepted: 2, Retry: 1}},
		{"nak delay rounded up", 0, nakSecond(1500 * time.Millisecond),
			http.StatusServiceUnavailable, "2", httpReply{Accepted: 2, Retry: 1}},
		{"nak without delay", 0, nakSecond(0),
			http.StatusServiceUnavailable, "1", httpReply{Accepted: 2, Retry: 1}},
		{"never settled", 100 * time.Millisecond, func(Delivery) {},
			http.StatusServiceUnavailable, "1", httpReply{Pending: 3}},
		{"one never settled", 100 * time.Millisecond, func(d Delivery) {
			if d.Event.ID() != "id1" {
				_ = d.Ack()
			}
		}, http.StatusServiceUnavailable, "1", httpReply{Accepted: 2, Pending: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{settle: tt.settle}
			src := startSource(t, httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) {
				if tt.timeout > 0 {
					h.Timeout = config.Duration(tt.timeout)
				}
			}), rec)
			started := time.Now()
			rr := post(src, event.ApplicationCloudEventsBatchJSON, batch, nil)

			require.Equal(t, tt.status, rr.Code, rr.Body.String())
			require.Equal(t, tt.retryAfter, rr.Header().Get("Retry-After"))
			reply := decodeReply(t, rr.Body)
			require.Equal(t, tt.reply, httpReply{Accepted: reply.Accepted, Retry: reply.Retry, Pending: reply.Pending})
			if tt.status == http.StatusServiceUnavailable {
				require.Contains(t, reply.Error, "re-send the request after "+tt.retryAfter+"s")
			}
			if tt.timeout > 0 {
				require.GreaterOrEqual(t, time.Since(started), tt.timeout, "waits for the timeout")
			}
			require.Equal(t, []string{"id1", "id2", "id3"}, rec.eventIDs())
		})
	}
}

// A settlement after the request gave up must neither block nor panic, and a
// second settlement is refused as with every source.
func TestHTTPLateSettlement(t *testing.T) {
	rec := &recorder{settle: func(Delivery) {}}
	src := startSource(t, httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) {
		h.Timeout = config.Duration(50 * time.Millisecond)
	}), rec)
	rr := post(src, event.ApplicationCloudEventsJSON, readRequestFixture(t, "cloudevents", structuredFixture).body, nil)
	require.Equal(t, http.StatusServiceUnavailable, rr.Code)

	handled := rec.handled()
	require.Len(t, handled, 1)
	require.NoError(t, handled[0].Ack())
	require.ErrorIs(t, handled[0].Nak(time.Second, nil), errSettled)
	require.ErrorIs(t, handled[0].Ack(), errSettled)
}

// Concurrent requests reach the handler one at a time, each request's events
// together and in order.
func TestHTTPHandlesSequentially(t *testing.T) {
	batch := readFixture(t, "cloudevents", "sdkgo_batch_triple.json")
	// Each call takes a moment, which widens the window for an overlap.
	rec := &recorder{busy: time.Millisecond}
	src := startSource(t, httpTrigger("ce", "cloudevents", nil), rec)
	server := serve(t, src)

	const requests = 8
	var wg sync.WaitGroup
	statuses := make(chan int, requests)
	for range requests {
		wg.Go(func() {
			resp, err := http.Post(server.URL+src.Path(), event.ApplicationCloudEventsBatchJSON, strings.NewReader(string(batch)))
			if err != nil {
				statuses <- 0
				return
			}
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for status := range statuses {
		require.Equal(t, http.StatusAccepted, status)
	}
	require.False(t, rec.overlapped.Load(), "handler calls overlapped")
	ids := rec.eventIDs()
	require.Len(t, ids, 3*requests)
	for i := 0; i < len(ids); i += 3 {
		require.Equal(t, []string{"id1", "id2", "id3"}, ids[i:i+3], "a request's events are handled together, in order")
	}
}

// Run returns only once a handler call under way has returned, so the daemon
// never gets an event after every source has stopped.
func TestHTTPRunWaitsForHandler(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	blocking := func(_ context.Context, d Delivery) {
		close(entered)
		<-release
		_ = d.Ack()
	}
	src, err := NewHTTPSource(httpTrigger("ce", "cloudevents", nil), testenv.Logger(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, blocking, nil) }()
	require.Eventually(t, func() bool { return src.run.Load() != nil }, 5*time.Second, time.Millisecond)

	body := readRequestFixture(t, "cloudevents", structuredFixture).body
	replied := make(chan int, 1)
	go func() { replied <- post(src, event.ApplicationCloudEventsJSON, body, nil).Code }()
	<-entered
	cancel()
	require.Never(t, func() bool { return len(done) > 0 }, 100*time.Millisecond, 5*time.Millisecond,
		"Run returned while the handler was running")
	close(release)
	require.NoError(t, <-done)
	require.Equal(t, http.StatusAccepted, <-replied, "a decision made during shutdown is still reported")
}

func TestNewHTTPSourceErrors(t *testing.T) {
	tests := []struct {
		name    string
		trigger config.Trigger
		want    string
	}{
		{"no http settings", config.Trigger{Name: "x"}, `trigger "x": no http settings`},
		{"unknown format", httpTrigger("x", "xml", nil), `http.format: want cloudevents, alertmanager or webhook, got "xml"`},
		{"webhook without mapping", httpTrigger("x", "webhook", nil), "http.webhook: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTPSource(tt.trigger, testenv.Logger(t))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestHTTPSourceDefaults(t *testing.T) {
	src, err := NewHTTPSource(config.Trigger{Name: "d", HTTP: &config.HTTPTrigger{Path: "/d"}}, nil)
	require.NoError(t, err)
	require.Equal(t, "d", src.Name())
	require.Equal(t, "/d", src.Path())
	require.Equal(t, "cloudevents", src.cfg.Format)
	require.Equal(t, int64(1<<20), src.cfg.MaxBodyBytes)
	require.Equal(t, 30*time.Second, src.cfg.Timeout.Std())
}
