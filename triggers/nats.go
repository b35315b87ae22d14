package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"

	"github.com/batchwire/batchwire/config"
)

// Client-side buffer of one core NATS subscription. Past either limit the
// client drops messages (a slow consumer) rather than growing without bound;
// drops are logged with their running total.
const (
	natsPendingMsgs  = 4096
	natsPendingBytes = 64 << 20
)

// natsConfirmTimeout bounds one wait for the server to confirm a
// subscription, and is the pause before the next.
const natsConfirmTimeout = 5 * time.Second

// NATSSource delivers the events published on one core NATS subject.
//
// Core NATS is at-most-once: a message is gone once the server has pushed
// it, whether or not batchwire acted on it. Ack is therefore a no-op that
// returns nil. Nak keeps the event in memory and hands it to the handler
// again after the delay, at most natsMaxDeliveries times in all; those
// redeliveries, messages buffered but not yet handled when Run stops, and
// messages the client dropped as a slow consumer are lost. Use a JetStream
// trigger where every event must lead to a decision.
type NATSSource struct {
	reporting
	nc      *nats.Conn
	trigger config.Trigger
	logger  *slog.Logger
	started started
	// confirmTimeout is natsConfirmTimeout, shorter in tests.
	confirmTimeout time.Duration
}

// NewNATSSource returns a source for t, which must have NATS settings.
func NewNATSSource(nc *nats.Conn, t config.Trigger, logger *slog.Logger) *NATSSource {
	if logger == nil {
		logger = slog.Default()
	}
	return &NATSSource{nc: nc, trigger: t, logger: logger.With("trigger", t.Name), started: newStarted(),
		confirmTimeout: natsConfirmTimeout}
}

// Name is the trigger's name.
func (s *NATSSource) Name() string { return s.trigger.Name }

// Started is closed once the server has confirmed the subscription: from
// then on nothing published to the subject can pass the source by.
func (s *NATSSource) Started() <-chan struct{} { return s.started.ch }

// Run subscribes (in the queue group, if one is configured) and calls handle
// for each valid event and each Nak'd event that is due again, one at a
// time, until ctx is done; then it unsubscribes and returns nil. A message
// that does not decode goes to invalid and the source carries on. Run
// returns an error only if it cannot subscribe or the connection is closed
// under it.
func (s *NATSSource) Run(ctx context.Context, handle Handler, invalid Invalid) error {
	sub, err := s.subscribe()
	if err != nil {
		return err
	}
	confirmCtx, stopConfirm := context.WithCancel(ctx)
	defer stopConfirm()
	go s.confirm(confirmCtx)
	retries := &retryQueue{}
	defer s.stop(sub, retries)
	var droppedBefore int
	for {
		s.redeliverDue(ctx, retries, handle)
		msg, err := s.next(ctx, sub, retries)
		switch {
		case err == nil:
			s.deliver(ctx, msg, retries, handle, invalid)
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			// A retry is due or was just added; only ctx ends Run.
		case errors.Is(err, nats.ErrSlowConsumer):
			dropped, _ := sub.Dropped()
			s.dropped(s.trigger.Name, DropSlowConsumer, dropped-droppedBefore)
			droppedBefore = dropped
			s.logger.Warn("slow consumer: core NATS messages dropped", "subject", sub.Subject, "dropped_total", dropped)
		default:
			return fmt.Errorf("trigger %q: receive on %q: %w", s.trigger.Name, sub.Subject, err)
		}
	}
}

// next waits for a message, but no longer than until the next retry is due.
func (s *NATSSource) next(ctx context.Context, sub *nats.Subscription, retries *retryQueue) (*nats.Msg, error) {
	waitCtx, cancel := retries.waitContext(ctx)
	defer cancel()
	return sub.NextMsgWithContext(waitCtx)
}

// redeliverDue hands every retry that is due to the handler before the next
// new message, so a busy subject cannot starve redeliveries.
func (s *NATSSource) redeliverDue(ctx context.Context, retries *retryQueue, handle Handler) {
	for ctx.Err() == nil {
		r, ok := retries.popDue(time.Now())
		if !ok {
			return
		}
		s.handleEvent(ctx, r.event, r.attempt, retries, handle)
	}
}

// subscribe uses a synchronous subscription so the handler runs on Run's
// goroutine, in order, and with byte as well as message limits (a channel
// subscription only bounds the message count).
func (s *NATSSource) subscribe() (*nats.Subscription, error) {
	if s.trigger.NATS == nil {
		return nil, fmt.Errorf("trigger %q: no nats settings", s.trigger.Name)
	}
	subject, queue := s.trigger.NATS.Subject, s.trigger.NATS.Queue
	sub, err := s.nc.QueueSubscribeSync(subject, queue)
	if err != nil {
		return nil, fmt.Errorf("trigger %q: subscribe to %q: %w", s.trigger.Name, subject, err)
	}
	if err := sub.SetPendingLimits(natsPendingMsgs, natsPendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("trigger %q: set pending limits on %q: %w", s.trigger.Name, subject, err)
	}
	s.logger.Info("subscribed to core NATS (at-most-once)", "subject", subject, "queue", queue)
	return sub, nil
}

// confirm waits for the server to have the subscription (a flush answers
// only after the SUB sent before it) and then marks the source started. A
// reconnect re-sends the subscription, so confirm keeps trying until ctx ends.
func (s *NATSSource) confirm(ctx context.Context) {
	for ctx.Err() == nil {
		flushCtx, cancel := context.WithTimeout(ctx, s.confirmTimeout)
		err := s.nc.FlushWithContext(flushCtx)
		cancel()
		switch {
		case err == nil:
			s.started.mark()
			return
		case ctx.Err() != nil, errors.Is(err, nats.ErrConnectionClosed):
			return
		}
		s.logger.Warn("NATS server has not confirmed the subscription yet; retrying", "subject", s.trigger.NATS.Subject, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(s.confirmTimeout):
		}
	}
}

// stop ends intake at once. Messages still in the client buffer are not
// handled: their handler would run with a cancelled context and could not
// finish a decision anyway, so they are counted as lost instead, as are
// events waiting for redelivery.
func (s *NATSSource) stop(sub *nats.Subscription, retries *retryQueue) {
	pending, _, _ := sub.Pending()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.logger.Warn("unsubscribe from core NATS", "subject", sub.Subject, "err", err)
	}
	if pending > 0 {
		s.dropped(s.trigger.Name, DropShutdown, pending)
		s.logger.Warn("buffered core NATS messages dropped at shutdown", "subject", sub.Subject, "dropped", pending)
	}
	if dropped := retries.stop(); dropped > 0 {
		s.dropped(s.trigger.Name, DropShutdown, dropped)
		s.logger.Warn("core NATS events awaiting redelivery dropped at shutdown", "subject", sub.Subject, "dropped", dropped)
	}
	s.logger.Info("unsubscribed from core NATS", "subject", sub.Subject)
}

func (s *NATSSource) deliver(ctx context.Context, msg *nats.Msg, retries *retryQueue, handle Handler, invalid Invalid) {
	ev, err := DecodeNATS(msg)
	if err != nil {
		s.reject(msg, err, invalid)
		return
	}
	s.handleEvent(ctx, ev, 1, retries, handle)
}

// handleEvent gives the handler its own copy of the event, so a handler that
// changes it cannot change what a redelivery sees.
func (s *NATSSource) handleEvent(ctx context.Context, ev *cloudevents.Event, attempt int, retries *retryQueue, handle Handler) {
	retryLater := func(delay time.Duration, cause error) error { return s.nak(retries, ev, attempt, delay, cause) }
	ack, nak := settleOnce(noopAck, retryLater)
	copied := ev.Clone()
	handle(ctx, Delivery{
		Trigger: s.trigger.Name,
		Event:   &copied,
		Attempt: attempt,
		Ack:     ack,
		Nak:     nak,
		// At-most-once: waiting for a slot would only fill the client's
		// buffer, which then drops without saying which message.
		WhenBusy: DropWhenBusy,
	})
}

func (s *NATSSource) nak(retries *retryQueue, ev *cloudevents.Event, attempt int, delay time.Duration, cause error) error {
	if attempt >= natsMaxDeliveries {
		s.dropped(s.trigger.Name, DropRedeliveriesSpent, 1)
		s.logger.Warn("core NATS event dropped after its last delivery",
			"event_id", ev.ID(), "deliveries", attempt, "cause", cause)
		return nil
	}
	err := retries.add(retry{due: time.Now().Add(max(delay, 0)), event: ev, attempt: attempt + 1})
	if err != nil {
		reason := DropRetryQueueFull
		if errors.Is(err, errSourceStopped) {
			reason = DropShutdown
		}
		s.dropped(s.trigger.Name, reason, 1)
		s.logger.Warn("core NATS event dropped instead of redelivered",
			"event_id", ev.ID(), "deliveries", attempt, "cause", cause, "err", err)
		return fmt.Errorf("trigger %q: redeliver event %q: %w", s.trigger.Name, ev.ID(), err)
	}
	return nil
}

func (s *NATSSource) reject(msg *nats.Msg, err error, invalid Invalid) {
	var decodeErr *DecodeError
	if errors.As(err, &decodeErr) {
		decodeErr.Trigger = s.trigger.Name
	}
	if invalid == nil {
		s.logger.Warn("malformed event dropped", "subject", msg.Subject, "err", err)
		return
	}
	invalid(s.trigger.Name, err)
}
