package triggers

import (
	"context"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Delivery is one decoded, validated event and the callbacks that settle it
// with its source. What settling means depends on the source: JetStream
// redelivers on Nak, core NATS never redelivers and its callbacks do nothing.
type Delivery struct {
	Trigger string
	Event   *cloudevents.Event
	// Ack reports that the decision for the event is durable.
	Ack func() error
	// Nak asks for redelivery after delay, for failures that may pass.
	Nak func(delay time.Duration) error
	// Term gives up on the event for good; it will not be redelivered.
	Term func() error
}

// Handler receives deliveries. A source calls it sequentially, so events of
// one trigger are handled in arrival order; while it runs, new messages wait
// in the source's bounded buffer.
type Handler func(ctx context.Context, d Delivery)

// Invalid is called for each message that fails to decode, with a
// *DecodeError, so the caller can count and audit it; the source continues.
type Invalid func(trigger string, err error)

// Settling callbacks for sources that cannot redeliver (at-most-once).
func noopAck() error              { return nil }
func noopNak(time.Duration) error { return nil }
func noopTerm() error             { return nil }
