package triggers

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// emptyExtensionMsg is a binary-mode message with a header named exactly
// "ce-", on which cloudevents sdk-go v2.16.2 panics (see recoverDecode).
func emptyExtensionMsg(subject string) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Header.Set("ce-specversion", "1.0")
	msg.Header.Set("ce-id", "x")
	msg.Header.Set("ce-source", "attacker")
	msg.Header.Set("ce-type", "t")
	msg.Header["ce-"] = []string{"boom"}
	msg.Data = []byte("{}")
	return msg
}

// A message that made the SDK panic stopped the process; now it is refused
// like any malformed message and the source takes the next one.
func TestNATSSourceSurvivesEmptyExtensionHeader(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	src := NewNATSSource(nc, deployTrigger(""), testenv.Logger(t))
	deliveries := make(chan Delivery, 1)
	invalids := make(chan error, 1)
	runSource(t, t.Context(), src, func(_ context.Context, d Delivery) { deliveries <- d },
		func(_ string, err error) { invalids <- err })

	require.NoError(t, nc.PublishMsg(emptyExtensionMsg("deploy.payments")))
	publishEvent(t, nc, "deploy.payments", "after")

	err := receiveWithin(t, invalids, "the refused message")
	var decodeErr *DecodeError
	require.ErrorAs(t, err, &decodeErr)
	require.Contains(t, decodeErr.Reason, `header "ce-" names no attribute`)
	require.Equal(t, "after", receiveWithin(t, deliveries, "the next event").Event.ID())
}

func TestJetStreamSourceSurvivesEmptyExtensionHeader(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	h := startJetStream(t, nc, jsTrigger(3), testenv.Logger(t))
	h.publish(emptyExtensionMsg("deploy.payments"))
	h.publish(&nats.Msg{Subject: "deploy.payments", Data: editStructured(t, func(m map[string]any) { m["id"] = "after" })})

	err := receiveWithin(t, h.invalids, "the refused message")
	require.ErrorContains(t, err, `header "ce-" names no attribute`)
	require.NoError(t, h.receive("after", 1).delivery.Ack())
	h.requireSettled()
	require.Equal(t, 1, h.reports.get("dead_lettered/deploys/invalid"), "the refused message is dead-lettered and counted")
}

// Over HTTP the server's own recover dropped the connection, and nothing was
// counted: now the request is answered 400 and reported.
func TestHTTPSurvivesEmptyExtensionHeader(t *testing.T) {
	rec := &recorder{}
	src := startSource(t, httpTrigger("ce", "cloudevents", nil), rec)
	server := serve(t, src)
	req, err := http.NewRequest(http.MethodPost, server.URL+src.Path(), strings.NewReader("{}"))
	require.NoError(t, err)
	for key, values := range emptyExtensionMsg("").Header {
		req.Header[key] = values
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, "the connection must be answered, not dropped")
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, decodeReply(t, resp.Body).Error, `names no attribute`)
	require.Len(t, rec.invalids(), 1)
}

// Whatever else panics inside a decoder is refused with 400 and reported as
// a panic, for the daemon to count.
func TestHTTPDecoderPanicIsRefused(t *testing.T) {
	rec := &recorder{}
	src := startSource(t, httpTrigger("ce", "cloudevents", nil), rec)
	src.decode = func(*http.Request, []byte) ([]*cloudevents.Event, error) { panic("library bug") }
	rr := post(src, "application/cloudevents+json", []byte("{}"), nil)
	requireRejected(t, rr, rec, http.StatusBadRequest, "decoder panicked")
	var decodeErr *DecodeError
	require.ErrorAs(t, rec.invalids()[0], &decodeErr)
	require.True(t, decodeErr.Panicked)
	require.Contains(t, decodeErr.Stack, "survive_test.go")
}

// The SDK's panic itself, reached without the header check, is recovered by
// DecodeNATS: the recover is what keeps the next unknown panic harmless.
func TestDecodeNATSRecoversSDKPanic(t *testing.T) {
	msg := emptyExtensionMsg("s")
	var (
		ev  *cloudevents.Event
		err error
	)
	require.NotPanics(t, func() {
		defer recoverDecode(&ev, &err)
		ev, err = decodeBinaryUnchecked(msg)
	})
	require.Nil(t, ev)
	var decodeErr *DecodeError
	require.ErrorAs(t, err, &decodeErr)
	require.True(t, decodeErr.Panicked)
	require.Contains(t, decodeErr.Err.Error(), "index out of range")
}

// countingReporter keeps what a source reports, by kind/trigger/reason.
type countingReporter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *countingReporter) Dropped(trigger, reason string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts["dropped/"+trigger+"/"+reason] += n
}

func (r *countingReporter) DeadLettered(trigger, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts["dead_lettered/"+trigger+"/"+reason]++
}

func (r *countingReporter) get(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}
