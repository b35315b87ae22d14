package triggers

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
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
		MaxAge:       config.Duration(time.Hour),
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
	reports  *countingReporter
}

func startJetStream(t *testing.T, nc *nats.Conn, trigger config.Trigger, logger *slog.Logger) *jsHarness {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	h := &jsHarness{t: t, js: js, seen: make(chan handled, 20), invalids: make(chan error, 20), done: done, cancel: cancel,
		reports: &countingReporter{counts: map[string]int{}}}
	src := NewJetStreamSource(nc, trigger, logger)
	src.SetReporter(h.reports)
	require.Equal(t, "deploys", src.Name())
	go func() {
		done <- src.Run(ctx,
			func(_ context.Context, d Delivery) { h.seen <- handled{d, time.Now()} },
			func(_ string, err error) { h.invalids <- err })
	}()
	receiveWithin(t, src.Started(), "the JetStream source to start")
	// The stream keeps events either way; a pull request waiting also means
	// delivery starts at once, which the timing assertions rely on.
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
	nc := connect(t, testenv.RunNATS(t))
	h := startJetStream(t, nc, jsTrigger(5), testenv.Logger(t))

	stream, err := h.js.Stream(t.Context(), jsStream)
	require.NoError(t, err)
	require.Equal(t, []string{"deploy.>"}, stream.CachedInfo().Config.Subjects)
	require.Equal(t, jetstream.FileStorage, stream.CachedInfo().Config.Storage)
	require.Equal(t, time.Hour, stream.CachedInfo().Config.MaxAge, "a stream batchwire creates is bounded in age")

	h.publish(eventMsg(t, "deploy.payments", "evt-1"))
	got := h.receive("evt-1", 1)
	require.JSONEq(t, `{"message":"Hello World!"}`, string(got.delivery.Event.Data()))
	require.NoError(t, got.delivery.Ack())
	require.ErrorIs(t, got.delivery.Nak(0, nil), errSettled, "one settlement per delivery")

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
	nc := connect(t, testenv.RunNATS(t))
	h := startJetStream(t, nc, jsTrigger(5), testenv.Logger(t))
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
	nc := connect(t, testenv.RunNATS(t))
	h := startJetStream(t, nc, jsTrigger(5), testenv.Logger(t))
	h.publish(eventMsg(t, "deploy.payments", "evt-slow"))

	first := h.receive("evt-slow", 1) // left unsettled, as by a daemon that crashed
	again := h.receive("evt-slow", 2)
	// The server's ack-wait timer starts when it sends the message, a moment
	// before this test sees it: allow that moment, not a redelivery that came early.
	require.GreaterOrEqual(t, again.at.Sub(first.at), testAckWait-100*time.Millisecond)
	require.NoError(t, again.delivery.Ack())
	h.requireSettled()
	h.stop()
}

func TestJetStreamSourceResumesAfterServerRestart(t *testing.T) {
	storeDir := t.TempDir()
	srv := testenv.RunNATSAt(t, -1, storeDir)
	port := srv.Addr().(*net.TCPAddr).Port
	nc := connect(t, srv, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	h := startJetStream(t, nc, jsTrigger(5), testenv.Logger(t))
	h.publish(eventMsg(t, "deploy.payments", "evt-before"))
	require.NoError(t, h.receive("evt-before", 1).delivery.Ack())

	srv.Shutdown()
	srv.WaitForShutdown()
	require.Eventually(t, func() bool { return !nc.IsConnected() }, waitFor, 10*time.Millisecond)
	testenv.RunNATSAt(t, port, storeDir)
	require.Eventually(t, nc.IsConnected, waitFor, 10*time.Millisecond, "client did not reconnect")

	// JetStream may take a moment to answer after the restart; the message
	// id makes a retried publish store the event once.
	after := eventMsg(t, "deploy.payments", "evt-after")
	after.Header = nats.Header{jetstream.MsgIDHeader: []string{"evt-after"}}
	require.Eventually(t, func() bool {
		_, err := h.js.PublishMsg(t.Context(), after)
		return err == nil
	}, waitFor, 50*time.Millisecond, "publish after restart")

	// The first delivery after the restart is the new event: the ack of the
	// old one survived.
	got := receiveWithin(t, h.seen, "delivery after restart")
	require.Equal(t, "evt-after", got.delivery.Event.ID())
	require.Equal(t, 1, got.delivery.Attempt)
	require.NoError(t, got.delivery.Ack())
	require.Empty(t, h.done, "Run must not return on a reconnect")
	h.stop()
}

func TestJetStreamSourceFinishesInFlightEventOnCancel(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started, release := make(chan struct{}), make(chan struct{})
	acked := make(chan error, 1)
	handle := func(handlerCtx context.Context, d Delivery) {
		close(started)
		<-release
		assert.Error(t, handlerCtx.Err(), "the handler sees the cancel")
		acked <- d.Ack() // settling still works after Run's context ended
	}
	done := make(chan error, 1)
	go func() { done <- NewJetStreamSource(nc, jsTrigger(5), testenv.Logger(t)).Run(ctx, handle, nil) }()
	inflight := eventMsg(t, "deploy.payments", "evt-inflight")
	inflight.Header = nats.Header{jetstream.MsgIDHeader: []string{"evt-inflight"}}
	require.Eventually(t, func() bool {
		_, err := js.PublishMsg(t.Context(), inflight)
		return err == nil // the stream exists once Run has set up
	}, waitFor, 10*time.Millisecond)

	receiveWithin(t, started, "handler to start")
	cancel()
	require.Never(t, func() bool { return len(done) > 0 }, 100*time.Millisecond, 10*time.Millisecond,
		"Run returned while its handler was running")
	close(release)
	require.NoError(t, receiveWithin(t, acked, "ack"))
	require.NoError(t, receiveWithin(t, done, "Run to return"))

	consumer, err := js.Consumer(t.Context(), jsStream, jsDurable)
	require.NoError(t, err)
	info, err := consumer.Info(t.Context())
	require.NoError(t, err)
	require.Zero(t, info.NumAckPending)
}

func TestJetStreamSourceUsesExistingStream(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: jsStream, Subjects: []string{"deploy.>", "rollback.>"}, Storage: jetstream.MemoryStorage,
	})
	require.NoError(t, err)
	_, err = js.Publish(t.Context(), "deploy.payments", editStructured(t, func(m map[string]any) { m["id"] = "evt-old" }))
	require.NoError(t, err)

	logger, logs := testenv.CaptureLogger(t, slog.LevelInfo)
	h := startJetStream(t, nc, jsTrigger(5), logger)
	require.NoError(t, h.receive("evt-old", 1).delivery.Ack(), "a new consumer starts at the stream's first message")

	stream, err := js.Stream(t.Context(), jsStream)
	require.NoError(t, err)
	require.Equal(t, []string{"deploy.>", "rollback.>"}, stream.CachedInfo().Config.Subjects, "stream left as it was")
	require.Equal(t, jetstream.MemoryStorage, stream.CachedInfo().Config.Storage)
	require.Contains(t, logs(), "stream subjects differ from the trigger's")
	h.stop()
}

func TestJetStreamSourceRunErrors(t *testing.T) {
	noCreate := func(tr config.Trigger) config.Trigger {
		no := false
		tr.JetStream.CreateStream = &no
		return tr
	}
	tests := []struct {
		name    string
		trigger config.Trigger
		want    string
	}{
		{
			name:    "trigger without jetstream settings",
			trigger: config.Trigger{Name: "deploys"},
			want:    `trigger "deploys": no jetstream settings`,
		},
		{
			name:    "stream missing and not to be created",
			trigger: noCreate(jsTrigger(5)),
			want:    `stream "DEPLOYS" does not exist and create_stream is false`,
		},
		{
			name: "dead letters stored in the trigger's own stream",
			trigger: func() config.Trigger {
				tr := jsTrigger(5)
				tr.JetStream.Subjects = []string{"deploy.>", "batchwire.dead.>"}
				return tr
			}(),
			want: `dead_letter "batchwire.dead.deploys" is stored in the trigger's own stream "DEPLOYS"`,
		},
		{
			name: "defaults not applied",
			trigger: func() config.Trigger {
				tr := jsTrigger(5)
				tr.JetStream.MaxDeliver = 0
				return tr
			}(),
			want: `trigger "deploys": jetstream.max_deliver: must be at least 1`,
		},
	}
	srv := testenv.RunNATS(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc := connect(t, srv)
			err := NewJetStreamSource(nc, tc.trigger, testenv.Logger(t)).Run(t.Context(), func(context.Context, Delivery) {}, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestJetStreamSourceReturnsWhenConnectionCloses(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	h := startJetStream(t, nc, jsTrigger(5), testenv.Logger(t))
	nc.Close()
	err := receiveWithin(t, h.done, "Run to return after close")
	require.ErrorIs(t, err, jetstream.ErrConnectionClosed)
	require.ErrorContains(t, err, `trigger "deploys": receive from consumer "batchwire-deploys"`)
}

// deliver: new starts a new consumer after what the stream already holds.
func TestJetStreamSourceDeliverNewSkipsHistory(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{Name: jsStream, Subjects: []string{"deploy.>"}})
	require.NoError(t, err)
	_, err = js.Publish(t.Context(), "deploy.payments", editStructured(t, func(m map[string]any) { m["id"] = "evt-old" }))
	require.NoError(t, err)

	trigger := jsTrigger(5)
	trigger.JetStream.Deliver = "new"
	h := startJetStream(t, nc, trigger, testenv.Logger(t))
	h.publish(eventMsg(t, "deploy.payments", "evt-new"))
	first := h.receive("evt-new", 1)
	require.NoError(t, first.delivery.Ack())
	h.requireQuiet()
	h.stop()
}
