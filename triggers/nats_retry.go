package triggers

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// natsMaxDeliveries bounds how often a core NATS source hands one event to
// the handler: the first delivery and up to four redeliveries after Nak.
// After the last one a Nak drops the event with a warning. These
// redeliveries live in memory only, so they are lost if the process stops:
// core NATS stays at-most-once.
const natsMaxDeliveries = 5

// natsMaxRetries bounds the events waiting in memory for redelivery, like
// the subscription's own buffer, so a long outage cannot grow it unbounded.
const natsMaxRetries = natsPendingMsgs

var (
	errRetryQueueFull = errors.New("redelivery queue full")
	errSourceStopped  = errors.New("source stopped")
)

// retry is an event waiting for its next delivery.
type retry struct {
	due     time.Time
	event   *cloudevents.Event
	attempt int // the delivery it will be
}

// retryQueue holds Nak'd core NATS events until they are due. Nak may be
// called from any goroutine, so it is locked, and adding a retry interrupts
// Run's current wait, which may end after the new retry is due.
type retryQueue struct {
	mu      sync.Mutex
	pending []retry // ordered by due, then by arrival
	stopped bool
	wake    context.CancelFunc
}

func (q *retryQueue) add(r retry) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.stopped:
		return errSourceStopped
	case len(q.pending) >= natsMaxRetries:
		return errRetryQueueFull
	}
	i, _ := slices.BinarySearchFunc(q.pending, r.due, func(p retry, due time.Time) int {
		if p.due.After(due) {
			return 1
		}
		return -1 // equal due times keep arrival order
	})
	q.pending = slices.Insert(q.pending, i, r)
	if q.wake != nil {
		q.wake()
	}
	return nil
}

// popDue removes and returns the earliest retry if it is due at now.
func (q *retryQueue) popDue(now time.Time) (retry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 || q.pending[0].due.After(now) {
		return retry{}, false
	}
	r := q.pending[0]
	q.pending = slices.Delete(q.pending, 0, 1)
	return r, true
}

// waitContext is ctx, ended early when the earliest retry is due or a new
// retry is added, so Run can wait for messages and retries at once.
func (q *retryQueue) waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var (
		waitCtx context.Context
		cancel  context.CancelFunc
	)
	if len(q.pending) > 0 {
		waitCtx, cancel = context.WithDeadline(ctx, q.pending[0].due)
	} else {
		waitCtx, cancel = context.WithCancel(ctx)
	}
	q.wake = cancel
	return waitCtx, cancel
}

// stop refuses further retries and returns how many were still waiting.
func (q *retryQueue) stop() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	dropped := len(q.pending)
	q.pending = nil
	return dropped
}
