package triggers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
)

// maxDeliverAdvisory is what the server publishes when a message reached the
// consumer's MaxDeliver without being settled.
type maxDeliverAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// watchMaxDeliveries dead-letters a message whose last delivery ran out its
// ack wait without a decision: the server then drops it from the consumer
// and says so only in an advisory. A message nak'ed on its last delivery is
// dead-lettered by nak itself and raises no such advisory.
func (r *jsRun) watchMaxDeliveries() (*nats.Subscription, error) {
	subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", r.cfg.Stream, r.cfg.Durable)
	sub, err := r.nc.Subscribe(subject, func(msg *nats.Msg) {
		// The stored message is a sender's; nothing in it may stop the process.
		defer func() {
			if p := recover(); p != nil {
				r.logger.Error("dead-lettering after the last delivery panicked", "panic", fmt.Sprint(p))
			}
		}()
		var adv maxDeliverAdvisory
		if err := json.Unmarshal(msg.Data, &adv); err != nil {
			r.logger.Error("unreadable max-deliveries advisory", "err", err)
			return
		}
		if err := r.deadLetterDropped(adv); err != nil {
			r.logger.Error("message dropped after its last delivery could not be dead-lettered",
				"stream", adv.Stream, "stream_seq", adv.StreamSeq, "err", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("trigger %q: watch max-deliveries advisories: %w", r.trigger, err)
	}
	return sub, nil
}

func (r *jsRun) deadLetterDropped(adv maxDeliverAdvisory) error {
	ctx, cancel := context.WithTimeout(context.Background(), jsRequestTimeout)
	defer cancel()
	stream, err := r.js.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("look up stream: %w", err)
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return fmt.Errorf("read stream seq %d: %w", adv.StreamSeq, err)
	}
	cause := fmt.Errorf("no decision within ack_wait (%s) on the last of %d deliveries", r.cfg.AckWait.Std(), adv.Deliveries)
	if err := r.publishDeadLetter(r.deadLetterOf(raw.Header, raw.Subject, raw.Data, adv.Stream, adv.StreamSeq, adv.Deliveries, cause)); err != nil {
		return err
	}
	r.report.deadLettered(r.trigger, DeadLetterAckWait)
	r.logger.Warn("event dead-lettered", "dead_letter", r.cfg.DeadLetter, "stream_seq", adv.StreamSeq,
		"deliveries", adv.Deliveries, "cause", cause)
	return nil
}
