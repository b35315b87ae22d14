package triggers

import (
	"context"
	"errors"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// errSettled is returned by a second Ack or Nak of one delivery.
var errSettled = errors.New("delivery already settled")

// Delivery is one decoded, validated event and the callbacks that settle it
// with its source. The daemon calls exactly one of Ack and Nak per delivery,
// once the decision about the event is final. A second settlement
// returns an error and does nothing; a settlement that itself fails (the
// server did not confirm) leaves the delivery unsettled, so it may be tried
// again.
//
// What settling means depends on the source: JetStream (at-least-once)
// redelivers on Nak and dead-letters after the last allowed delivery; core
// NATS (at-most-once) redelivers a Nak'd event from memory only, and its Ack
// does nothing.
type Delivery struct {
	Trigger string
	Event   *cloudevents.Event
	// Attempt counts deliveries of this event, 1 for the first. A daemon can
	// grow its Nak delay with it.
	Attempt int
	// Ack reports that the decision for the event is durable.
	Ack func() error
	// Nak tries this event again after delay; cause says why, and is recorded
	// with the event if this was its last allowed delivery.
	Nak func(delay time.Duration, cause error) error
	// InProgress, when set, tells the source that the decision is still being
	// made, so it does not redeliver the event; call it more often than
	// AckWait while a launch waits, for example, in its namespace queue.
	InProgress func() error
	AckWait    time.Duration
	// WhenBusy says what the daemon does with the delivery while its trigger
	// has max_in_flight events in flight already; Deadline bounds the wait of
	// RefuseWhenBusy.
	WhenBusy WhenBusy
	Deadline time.Time
}

// WhenBusy is a source's answer to a daemon that cannot take more events of
// its trigger now.
type WhenBusy int

const (
	// WaitWhenBusy blocks the handler until a slot frees. A source calls its
	// handler sequentially, so it takes nothing more meanwhile: JetStream
	// stops pulling and the server keeps the messages.
	WaitWhenBusy WhenBusy = iota
	// DropWhenBusy drops the event at once, counted: core NATS is
	// at-most-once, and waiting would only overflow the client's buffer.
	DropWhenBusy
	// RefuseWhenBusy waits until Deadline at most, then naks the delivery,
	// so that an HTTP sender is answered 503 with Retry-After.
	RefuseWhenBusy
)

// Reporter counts what a source loses or sets aside, for the daemon's
// metrics; reason is one of the source's own fixed words, never event data.
// n counts events, except reason queue_full, which counts HTTP requests
// refused before their body was read.
type Reporter interface {
	Dropped(trigger, reason string, n int)
	DeadLettered(trigger, reason string)
}

// Reasons a source reports.
const (
	DropSlowConsumer      = "slow_consumer"      // core NATS: the client's buffer was full
	DropRedeliveriesSpent = "redeliveries_spent" // core NATS: nak'ed on its last delivery
	DropRetryQueueFull    = "retry_queue_full"   // core NATS: too many events awaiting redelivery
	DropShutdown          = "shutdown"           // core NATS: buffered or awaiting redelivery at shutdown
	DropQueueFull         = "queue_full"         // HTTP: max_in_flight requests waiting already
	DropInFlight          = "in_flight"          // the daemon: max_in_flight events in flight

	DeadLetterInvalid     = "invalid"       // a message that does not decode
	DeadLetterLastAttempt = "last_delivery" // nak'ed on its last delivery
	DeadLetterAckWait     = "ack_wait"      // no decision within ack_wait on its last delivery
)

// reporting is a source's Reporter; without one, losses are only logged.
type reporting struct{ reporter Reporter }

// SetReporter makes the source count its losses with r; call it before Run.
func (p *reporting) SetReporter(r Reporter) { p.reporter = r }

func (p *reporting) dropped(trigger, reason string, n int) {
	if p.reporter != nil && n > 0 {
		p.reporter.Dropped(trigger, reason, n)
	}
}

func (p *reporting) deadLettered(trigger, reason string) {
	if p.reporter != nil {
		p.reporter.DeadLettered(trigger, reason)
	}
}

// Handler receives deliveries. A source calls it sequentially, so events of
// one trigger are handled in arrival order; while it runs, new messages wait
// in the source's bounded buffer.
type Handler func(ctx context.Context, d Delivery)

// Invalid is called for each message that fails to decode, with a
// *DecodeError, so the caller can count and audit it; the source continues.
type Invalid func(trigger string, err error)

// settlement enforces "one settlement per delivery": a second one could, for
// JetStream, dead-letter a message that was already acked.
type settlement struct {
	mu   sync.Mutex
	done bool
}

// settle runs f unless the delivery is settled already; the lock also
// serialises a daemon that settles from more than one goroutine.
func (s *settlement) settle(f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errSettled
	}
	if err := f(); err != nil {
		return err
	}
	s.done = true
	return nil
}

// settleOnce wraps a source's settling callbacks so that only the first
// successful one takes effect.
func settleOnce(ack func() error, nak func(time.Duration, error) error) (func() error, func(time.Duration, error) error) {
	s := &settlement{}
	return func() error { return s.settle(ack) },
		func(delay time.Duration, cause error) error {
			return s.settle(func() error { return nak(delay, cause) })
		}
}

// noopAck is the Ack of a source that cannot redeliver (at-most-once).
func noopAck() error { return nil }

// started is closed once a source takes events, so a caller can tell a
// subscription that exists on the server from one still on its way there:
// core NATS drops whatever is published before the server has it.
type started struct {
	once sync.Once
	ch   chan struct{}
}

func newStarted() started { return started{ch: make(chan struct{})} }

func (s *started) mark() { s.once.Do(func() { close(s.ch) }) }
