package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

const waitFor = 5 * time.Second

// runSource starts src.Run in the background and waits until it has
// started, so nothing published afterwards can be missed. The returned
// channel yields Run's result.
func runSource(t *testing.T, ctx context.Context, src *NATSSource, handle Handler, invalid Invalid) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, handle, invalid) }()
	receiveWithin(t, src.Started(), "the source to start")
	return done
}

// requireNotStarted fails the test if src has started.
func requireNotStarted(t *testing.T, src *NATSSource, msg string) {
	t.Helper()
	select {
	case <-src.Started():
		require.FailNow(t, msg)
	default:
	}
}

// Started means the server has the subscription, so an event published on
// another connection right then reaches the source; core NATS would drop it
// otherwise.
func TestNATSSourceStartedMeansTheServerHasTheSubscription(t *testing.T) {
	srv := testenv.RunNATS(t)
	src := NewNATSSource(connect(t, srv), deployTrigger(""), testenv.Logger(t))
	deliveries := make(chan Delivery, 1)
	requireNotStarted(t, src, "started before Run")
	runSource(t, t.Context(), src, func(_ context.Context, d Delivery) { deliveries <- d }, nil)

	require.True(t, srv.GlobalAccount().SubscriptionInterest("deploy.payments"))
	publishEvent(t, connect(t, srv), "deploy.payments", "first")
	require.Equal(t, "first", receiveWithin(t, deliveries, "the event published once started").Event.ID())
}

func receiveWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		require.FailNow(t, "timed out waiting for "+what)
		var zero T
		return zero
	}
}

// A source started while the server is away is not started until the server
// is back and has the subscription (the client re-sends it on reconnect); it
// says so in the log meanwhile, and then takes events published elsewhere.
func TestNATSSourceStartsOnceTheServerIsBack(t *testing.T) {
	storeDir := t.TempDir()
	srv := testenv.RunNATSAt(t, -1, storeDir)
	port := srv.Addr().(*net.TCPAddr).Port
	nc := connect(t, srv, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	srv.Shutdown()
	srv.WaitForShutdown()
	require.Eventually(t, func() bool { return !nc.IsConnected() }, waitFor, 10*time.Millisecond)

	logger, logs := testenv.CaptureLogger(t, slog.LevelInfo)
	src := NewNATSSource(nc, deployTrigger(""), logger)
	src.confirmTimeout = 100 * time.Millisecond
	deliveries := make(chan Delivery, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(t.Context(), func(_ context.Context, d Delivery) { deliveries <- d }, nil) }()
	require.Eventually(t, func() bool { return strings.Contains(logs(), "has not confirmed the subscription yet") },
		waitFor, 10*time.Millisecond, "no word of the unconfirmed subscription")
	requireNotStarted(t, src, "started while the server is away")

	srv = testenv.RunNATSAt(t, port, storeDir)
	receiveWithin(t, src.Started(), "the source to start once the server is back")
	require.True(t, srv.GlobalAccount().SubscriptionInterest("deploy.payments"))
	publishEvent(t, connect(t, srv), "deploy.payments", "after")
	require.Equal(t, "after", receiveWithin(t, deliveries, "the event published once started").Event.ID())
	require.Empty(t, done, "Run must not return on a reconnect")
}

func deployTrigger(queue string) config.Trigger {
	return config.Trigger{Name: "deploys", NATS: &config.NATSTrigger{Subject: "deploy.>", Queue: queue}}
}

func TestNATSSourceDeliversValidEventsInOrder(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	src := NewNATSSource(nc, deployTrigger(""), testenv.Logger(t))
	require.Equal(t, "deploys", src.Name())

	deliveries := make(chan Delivery, 10)
	type rejected struct {
		trigger string
		err     error
	}
	invalids := make(chan rejected, 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runSource(t, ctx, src,
		func(_ context.Context, d Delivery) { deliveries <- d },
		func(trigger string, err error) { invalids <- rejected{trigger, err} })

	good1 := &nats.Msg{Subject: "deploy.payments", Data: editStructured(t, func(m map[string]any) { m["id"] = "good-1" })}
	good2 := binaryMsg(t, keepCase, func(h nats.Header) { h["ce-id"] = []string{"good-2"} })
	good2.Subject = "deploy.billing"
	require.NoError(t, nc.Publish("deploy.payments", []byte("not json")))
	require.NoError(t, nc.PublishMsg(good1))
	require.NoError(t, nc.PublishMsg(good2))

	for _, wantID := range []string{"good-1", "good-2"} {
		d := receiveWithin(t, deliveries, "delivery "+wantID)
		require.Equal(t, "deploys", d.Trigger)
		require.Equal(t, wantID, d.Event.ID())
		require.Equal(t, 1, d.Attempt)
		require.JSONEq(t, `{"message":"Hello World!"}`, string(d.Event.Data()))
		// Core NATS cannot redeliver: Ack is a documented no-op.
		require.NoError(t, d.Ack())
		require.ErrorIs(t, d.Nak(0, errors.New("too late")), errSettled, "one settlement per delivery")
	}
	bad := receiveWithin(t, invalids, "invalid callback")
	require.Equal(t, "deploys", bad.trigger)
	var decodeErr *DecodeError
	require.True(t, errors.As(bad.err, &decodeErr))
	require.Equal(t, "deploys", decodeErr.Trigger)
	require.Equal(t, "body is not JSON", decodeErr.Reason)
	require.Empty(t, invalids, "invalid must be called once")
	require.NoError(t, nc.Flush())
	require.Never(t, func() bool { return len(deliveries) > 0 }, 100*time.Millisecond, 10*time.Millisecond,
		"acked events must not come back")

	cancel()
	require.NoError(t, receiveWithin(t, done, "Run to return after cancel"))
	require.Zero(t, nc.NumSubscriptions(), "Run must unsubscribe")
}

func TestNATSSourceQueueGroupSplitsMessages(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	ids := make(chan string, 100)
	handle := func(_ context.Context, d Delivery) { ids <- d.Event.ID() }
	var runs []<-chan error
	for range 2 {
		src := NewNATSSource(nc, deployTrigger("batchwire"), testenv.Logger(t))
		runs = append(runs, runSource(t, ctx, src, handle, nil))
	}

	const published = 20
	body := readHTTPFixture(t, structuredFixture).body
	for range published {
		require.NoError(t, nc.Publish("deploy.payments", body))
	}
	require.NoError(t, nc.Flush())
	for range published {
		receiveWithin(t, ids, "queued delivery")
	}
	// A queue group hands each message to one member only: no extras arrive.
	require.NoError(t, nc.Flush())
	require.Never(t, func() bool { return len(ids) > 0 }, 100*time.Millisecond, 10*time.Millisecond)

	cancel()
	for _, done := range runs {
		require.NoError(t, receiveWithin(t, done, "Run to return after cancel"))
	}
}

func TestNATSSourceRunErrors(t *testing.T) {
	tests := []struct {
		name    string
		trigger config.Trigger
		prepare func(nc *nats.Conn)
		want    string
	}{
		{
			name:    "trigger without nats settings",
			trigger: config.Trigger{Name: "broken"},
			prepare: func(*nats.Conn) {},
			want:    `trigger "broken": no nats settings`,
		},
		{
			name:    "invalid subject",
			trigger: config.Trigger{Name: "bad", NATS: &config.NATSTrigger{Subject: "deploy..x"}},
			prepare: func(*nats.Conn) {},
			want:    `trigger "bad": subscribe to "deploy..x"`,
		},
		{
			name:    "connection already closed",
			trigger: deployTrigger(""),
			prepare: func(nc *nats.Conn) { nc.Close() },
			want:    "connection closed",
		},
	}
	srv := testenv.RunNATS(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc := connect(t, srv)
			tc.prepare(nc)
			err := NewNATSSource(nc, tc.trigger, testenv.Logger(t)).Run(t.Context(), func(context.Context, Delivery) {}, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNATSSourceReturnsWhenConnectionCloses(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	src := NewNATSSource(nc, deployTrigger(""), testenv.Logger(t))
	done := runSource(t, t.Context(), src, func(context.Context, Delivery) {}, nil)

	nc.Close()
	err := receiveWithin(t, done, "Run to return after close")
	require.ErrorIs(t, err, nats.ErrConnectionClosed)
	require.ErrorContains(t, err, `trigger "deploys": receive on "deploy.>"`)
}

// handled is what a test handler saw, and when.
type handled struct {
	delivery Delivery
	at       time.Time
}

func publishEvent(t *testing.T, nc *nats.Conn, subject, id string) {
	t.Helper()
	body := editStructured(t, func(m map[string]any) { m["id"] = id })
	require.NoError(t, nc.Publish(subject, body))
}

func TestNATSSourceNakRedeliversThenDrops(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	logger, logs := testenv.CaptureLogger(t, slog.LevelInfo)
	src := NewNATSSource(nc, deployTrigger(""), logger)
	reports := &countingReporter{counts: map[string]int{}}
	src.SetReporter(reports)
	const delay = 100 * time.Millisecond

	seen := make(chan handled, 20)
	handle := func(_ context.Context, d Delivery) {
		seen <- handled{d, time.Now()}
		if d.Event.ID() == "flaky" {
			assert.NoError(t, d.Nak(delay, fmt.Errorf("temporal unavailable (attempt %d)", d.Attempt)))
			return
		}
		assert.NoError(t, d.Ack())
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runSource(t, ctx, src, handle, nil)

	publishEvent(t, nc, "deploy.payments", "flaky")
	publishEvent(t, nc, "deploy.payments", "steady")

	first := receiveWithin(t, seen, "first delivery")
	require.Equal(t, "flaky", first.delivery.Event.ID())
	require.Equal(t, 1, first.delivery.Attempt)
	// A redelivery waits its turn behind messages that arrived before it was due.
	require.Equal(t, "steady", receiveWithin(t, seen, "new message").delivery.Event.ID())
	previous := first
	for attempt := 2; attempt <= natsMaxDeliveries; attempt++ {
		again := receiveWithin(t, seen, fmt.Sprintf("redelivery %d", attempt))
		require.Equal(t, "flaky", again.delivery.Event.ID())
		require.Equal(t, attempt, again.delivery.Attempt)
		require.GreaterOrEqual(t, again.at.Sub(previous.at), delay, "redelivered before its delay")
		previous = again
	}
	require.Never(t, func() bool { return len(seen) > 0 }, 3*delay, 10*time.Millisecond,
		"no delivery after the last allowed one")
	require.Contains(t, logs(), "core NATS event dropped after its last delivery")
	require.Contains(t, logs(), "temporal unavailable (attempt 5)")
	require.Equal(t, 1, reports.get("dropped/deploys/redeliveries_spent"))

	cancel()
	require.NoError(t, receiveWithin(t, done, "Run to return after cancel"))
}

func TestNATSSourceDropsPendingRedeliveriesAtShutdown(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	logger, logs := testenv.CaptureLogger(t, slog.LevelInfo)
	src := NewNATSSource(nc, deployTrigger(""), logger)
	reports := &countingReporter{counts: map[string]int{}}
	src.SetReporter(reports)

	naked := make(chan Delivery, 1)
	handle := func(_ context.Context, d Delivery) {
		assert.NoError(t, d.Nak(time.Hour, errors.New("temporal unavailable")))
		naked <- d
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runSource(t, ctx, src, handle, nil)
	publishEvent(t, nc, "deploy.payments", "later")
	d := receiveWithin(t, naked, "delivery")

	cancel()
	require.NoError(t, receiveWithin(t, done, "Run to return although a redelivery is pending"))
	require.Contains(t, logs(), "core NATS events awaiting redelivery dropped at shutdown")
	require.Equal(t, 1, reports.get("dropped/deploys/shutdown"))
	require.ErrorIs(t, d.Nak(0, nil), errSettled)
}

func TestNATSSourceNakAfterHandlerReturned(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	src := NewNATSSource(nc, deployTrigger(""), testenv.Logger(t))
	seen := make(chan handled, 2)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	runSource(t, ctx, src, func(_ context.Context, d Delivery) { seen <- handled{d, time.Now()} }, nil)
	publishEvent(t, nc, "deploy.payments", "settled-later")
	first := receiveWithin(t, seen, "delivery")

	// Run is idle, waiting for messages: the Nak must wake it.
	const delay = 50 * time.Millisecond
	nakAt := time.Now()
	require.NoError(t, first.delivery.Nak(delay, errors.New("decided late")))
	again := receiveWithin(t, seen, "redelivery")
	require.Equal(t, 2, again.delivery.Attempt)
	require.GreaterOrEqual(t, again.at.Sub(nakAt), delay)
}
