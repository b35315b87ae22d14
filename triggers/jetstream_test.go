package triggers

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

const (
	jsStream     = "DEPLOYS"
	jsDurable    = "batchwire-deploys"
	jsDeadLetter = "batchwire.dead.deploys"
	// testAckWait is short so that "not redelivered" can be shown by waiting
	// past it, and an AckWait redelivery arrives quickly.
	testAckWait = time.Second
)

func jsTrigger(maxDeliver int) config.Trigger {
	create := true
	return config.Trigger{Name: "deploys", JetStream: &config.JetStreamTrigger{
		Stream:       jsStream,
		Subjects:     []string{"deploy.>"},
		Durable:      jsDurable,
		CreateStream: &create,
		MaxDeliver:   maxDeliver,
		AckWait:      config.Duration(testAckWait),
		DeadLetter:   jsDeadLetter,
	}}
}

// jsHarness runs a JetStreamSource whose handler passes every delivery to
// the test, which settles it (or not) as the case requires.
type jsHarness struct {
	t        *testing.T
	js       jetstream.JetStream
	seen     chan handled
	invalids chan error
	done     <-chan error
	cancel   context.CancelFunc
}

func startJetStream(t *testing.T, nc *nats.Conn, trigger config.Trigger, logger *slog.Logger) *jsHarness {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	h := &jsHarness{t: t, js: js, seen: make(chan handled, 20), invalids: make(chan error, 20), done: done, cancel: cancel}
	src := NewJetStreamSource(nc, trigger, logger)
	require.Equal(t, "deploys", src.Name())
	go func() {
		done <- src.Run(ctx,
			func(_ context.Context, d Delivery) { h.seen <- handled{d, time.Now()} },
			func(_ string, err error) { h.invalids <- err })
	}()
	// Ready once the consumer has a pull request waiting: nothing published
	// from now on can be missed.
	require.Eventually(t, func() bool {
		info, err := h.consumerInfo()
		return err == nil && info.NumWaiting > 0
	}, waitFor, 10*time.Millisecond, "consumer never pulled")
	return h
}

func (h *jsHarness) consumerInfo() (*jetstream.ConsumerInfo, error) {
	consumer, err := h.js.Consumer(h.t.Context(), jsStream, jsDurable)
	if err != nil {
		return nil, err
	}
	return consumer.Info(h.t.Context())
}

func (h *jsHarness) requireSettled() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		info, err := h.consumerInfo()
		return err == nil && info.NumAckPending == 0
	}, waitFor, 10*time.Millisecond, "messages left pending")
}

// publish stores an event in the stream and returns its stream sequence.
func (h *jsHarness) publish(msg *nats.Msg) uint64 {
	h.t.Helper()
	ack, err := h.js.PublishMsg(h.t.Context(), msg)
	require.NoError(h.t, err)
	return ack.Sequence
}

func (h *jsHarness) receive(wantID string, wantAttempt int) handled {
	h.t.Helper()
	got := receiveWithin(h.t, h.seen, "delivery of "+wantID)
	require.Equal(h.t, wantID, got.delivery.Event.ID())
	require.Equal(h.t, wantAttempt, got.delivery.Attempt)
	require.Equal(h.t, "deploys", got.delivery.Trigger)
	return got
}

// requireQuiet shows nothing more arrives, waiting past AckWait so that an
// unsettled message would have come back.
func (h *jsHarness) requireQuiet() {
	h.t.Helper()
	require.Never(h.t, func() bool { return len(h.seen) > 0 || len(h.invalids) > 0 },
		testAckWait+500*time.Millisecond, 20*time.Millisecond, "unexpected delivery")
}

func (h *jsHarness) stop() {
	h.t.Helper()
	h.cancel()
	require.NoError(h.t, receiveWithin(h.t, h.done, "Run to return after cancel"))
}

func eventMsg(t *testing.T, subject, id string) *nats.Msg {
	t.Helper()
	return &nats.Msg{Subject: subject, Data: editStructured(t, func(m map[string]any) { m["id"] = id })}
}

func TestJetStreamSourceCreatesStreamAndAcks(t *testing.T) {
	nc := connect(t, runServer(t))
	h := startJetStream(t, nc, jsTrigger(5), testLogger(t))

	stream, err := h.js.Stream(t.Context(), jsStream)
	require.NoError(t, err)
	require.Equal(t, []string{"deploy.>"}, stream.CachedInfo().Config.Subjects)
	require.Equal(t, jetstream.FileStorage, stream.CachedInfo().Config.Storage)

	h.publish(eventMsg(t, "deploy.payments", "evt-1"))
	got := h.receive("evt-1", 1)
	require.JSONEq(t, `{"message":"Hello World!"}`, string(got.delivery.Event.Data()))
	require.NoError(t, got.delivery.Ack())
	require.ErrorIs(t, got.delivery.Term(), errSettled, "one settlement per delivery")

	// Ack waits for the server, so the ack is recorded when it returns.
	info, err := h.consumerInfo()
	require.NoError(t, err)
	require.Zero(t, info.NumAckPending)
	require.Equal(t, uint64(1), info.AckFloor.Stream)
	require.Equal(t, jetstream.AckExplicitPolicy, info.Config.AckPolicy)
	require.Equal(t, 5, info.Config.MaxDeliver)
	require.Equal(t, testAckWait, info.Config.AckWait)
	h.requireQuiet()
	info, err = h.consumerInfo()
	require.NoError(t, err)
	require.Zero(t, info.NumRedelivered)
	h.stop()
}

func TestJetStreamSourceNakRedeliversAfterDelay(t *testing.T) {
	nc := connect(t, runServer(t))
	h := startJetStream(t, nc, jsTrigger(5), testLogger(t))
	h.publish(eventMsg(t, "deploy.payments", "evt-nak"))

	first := h.receive("evt-nak", 1)
	const delay = 500 * time.Millisecond
	nakAt := time.Now()
	require.NoError(t, first.delivery.Nak(delay, errors.New("temporal unavailable")))
	again := h.receive("evt-nak", 2)
	require.GreaterOrEqual(t, again.at.Sub(nakAt), delay, "redelivered before the delay")
	require.NoError(t, again.delivery.Ack())
	h.requireSettled()
	h.stop()
}

func TestJetStreamSourceRedeliversAfterAckWait(t *testing.T) {
	nc := connect(t, runServer(t))
	h := startJetStream(t, nc, jsTrigger(5), testLogger(t))
	h.publish(eventMsg(t, "deploy.payments", "evt-slow"))

	first := h.receive("evt-slow", 1) // left unsettled, as by a daemon that crashed
	again := h.receive("evt-slow", 2)
	require.GreaterOrEqual(t, again.at.Sub(first.at), testAckWait)
	require.NoError(t, again.delivery.Ack())
	h.requireSettled()
	h.stop()
}
