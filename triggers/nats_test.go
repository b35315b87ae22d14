package triggers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

const waitFor = 5 * time.Second

// runSource starts src.Run in the background and waits until its
// subscription exists, so nothing published afterwards can be missed. The
// returned channel yields Run's result.
func runSource(t *testing.T, ctx context.Context, nc *nats.Conn, src *NATSSource, handle Handler, invalid Invalid) <-chan error {
	t.Helper()
	before := nc.NumSubscriptions()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, handle, invalid) }()
	require.Eventually(t, func() bool { return nc.NumSubscriptions() > before }, waitFor, 5*time.Millisecond)
	return done
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

func deployTrigger(queue string) config.Trigger {
	return config.Trigger{Name: "deploys", NATS: &config.NATSTrigger{Subject: "deploy.>", Queue: queue}}
}

func TestNATSSourceDeliversValidEventsInOrder(t *testing.T) {
	nc := connect(t, runServer(t))
	src := NewNATSSource(nc, deployTrigger(""), testLogger(t))
	require.Equal(t, "deploys", src.Name())

	deliveries := make(chan Delivery, 10)
	type rejected struct {
		trigger string
		err     error
	}
	invalids := make(chan rejected, 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := runSource(t, ctx, nc, src,
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
		require.JSONEq(t, `{"message":"Hello World!"}`, string(d.Event.Data()))
		// Core NATS cannot redeliver: settling is a documented no-op.
		require.NoError(t, d.Ack())
		require.NoError(t, d.Nak(time.Second))
		require.NoError(t, d.Term())
	}
	bad := receiveWithin(t, invalids, "invalid callback")
	require.Equal(t, "deploys", bad.trigger)
	var decodeErr *DecodeError
	require.True(t, errors.As(bad.err, &decodeErr))
	require.Equal(t, "deploys", decodeErr.Trigger)
	require.Equal(t, "body is not JSON", decodeErr.Reason)
	require.Empty(t, invalids, "invalid must be called once")

	cancel()
	require.NoError(t, receiveWithin(t, done, "Run to return after cancel"))
	require.Zero(t, nc.NumSubscriptions(), "Run must unsubscribe")
}

func TestNATSSourceQueueGroupSplitsMessages(t *testing.T) {
	nc := connect(t, runServer(t))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	ids := make(chan string, 100)
	handle := func(_ context.Context, d Delivery) { ids <- d.Event.ID() }
	var runs []<-chan error
	for range 2 {
		src := NewNATSSource(nc, deployTrigger("batchwire"), testLogger(t))
		runs = append(runs, runSource(t, ctx, nc, src, handle, nil))
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
	srv := runServer(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc := connect(t, srv)
			tc.prepare(nc)
			err := NewNATSSource(nc, tc.trigger, testLogger(t)).Run(t.Context(), func(context.Context, Delivery) {}, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNATSSourceReturnsWhenConnectionCloses(t *testing.T) {
	nc := connect(t, runServer(t))
	src := NewNATSSource(nc, deployTrigger(""), testLogger(t))
	done := runSource(t, t.Context(), nc, src, func(context.Context, Delivery) {}, nil)

	nc.Close()
	err := receiveWithin(t, done, "Run to return after close")
	require.ErrorIs(t, err, nats.ErrConnectionClosed)
	require.ErrorContains(t, err, `trigger "deploys": receive on "deploy.>"`)
}
