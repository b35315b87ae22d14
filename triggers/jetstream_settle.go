package triggers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers a dead letter carries besides the original message's own.
const (
	HeaderError      = "Batchwire-Error"
	HeaderTrigger    = "Batchwire-Trigger"
	HeaderStream     = "Batchwire-Stream"
	HeaderStreamSeq  = "Batchwire-Stream-Seq"
	HeaderDeliveries = "Batchwire-Deliveries"
	HeaderSubject    = "Batchwire-Subject"
)

// maxErrorHeader bounds Batchwire-Error: a cause may carry a whole server
// response, and headers count against the server's max payload.
const maxErrorHeader = 2048

// jsMessage is one delivered JetStream message with its metadata.
type jsMessage struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
}

// attempt is the message's delivery count, from 1; MaxDeliver bounds it.
func (m jsMessage) attempt() int {
	return int(m.meta.NumDelivered) //nolint:gosec // bounded by the consumer's MaxDeliver
}

// last reports whether the server will not deliver the message again.
func (m jsMessage) last(maxDeliver int) bool { return m.attempt() >= maxDeliver }

func (r *jsRun) deliver(ctx context.Context, msg jetstream.Msg, handle Handler, invalid Invalid) {
	meta, err := msg.Metadata()
	if err != nil {
		// Only a message without a JetStream reply subject has no metadata;
		// it cannot be settled either, so there is nothing to do with it.
		r.logger.Error("JetStream message without metadata skipped", "subject", msg.Subject(), "err", err)
		return
	}
	m := jsMessage{msg: msg, meta: meta}
	ev, err := DecodeNATS(&nats.Msg{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()})
	if err != nil {
		r.reject(m, err, invalid)
		return
	}
	ack, nak := settleOnce(
		func() error { return r.ack(m) },
		func(delay time.Duration, cause error) error { return r.nak(m, delay, cause) },
	)
	handle(ctx, Delivery{
		Trigger: r.trigger,
		Event:   ev,
		Attempt: m.attempt(),
		Ack:     ack,
		Nak:     nak,
		// InProgress resets the server's AckWait clock for this message.
		InProgress: func() error { return msg.InProgress() },
		AckWait:    r.cfg.AckWait.Std(),
		WhenBusy:   WaitWhenBusy,
	})
}

// ack waits for the server to confirm, so that once Ack returns nil the
// decision is recorded and the message will not come back. Settlements use
// their own context, not Run's: at shutdown the daemon settles its last event
// after Run's context has ended.
func (r *jsRun) ack(m jsMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), jsRequestTimeout)
	defer cancel()
	if err := m.msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("trigger %q: ack stream seq %d: %w", r.trigger, m.meta.Sequence.Stream, err)
	}
	return nil
}

func (r *jsRun) nak(m jsMessage, delay time.Duration, cause error) error {
	if !m.last(r.cfg.MaxDeliver) {
		if err := m.msg.NakWithDelay(max(delay, 0)); err != nil {
			return fmt.Errorf("trigger %q: nak stream seq %d: %w", r.trigger, m.meta.Sequence.Stream, err)
		}
		return nil
	}
	if err := r.deadLetter(m, DeadLetterLastAttempt, cause); err != nil {
		r.logger.Error("last delivery not dead-lettered; the server will not deliver it again",
			"stream", m.meta.Stream, "stream_seq", m.meta.Sequence.Stream, "cause", cause, "err", err)
		return err
	}
	return nil
}

// reject reports a malformed message and dead-letters it at once: it will
// never decode, so redelivering it could only fail again.
func (r *jsRun) reject(m jsMessage, err error, invalid Invalid) {
	var decodeErr *DecodeError
	if errors.As(err, &decodeErr) {
		decodeErr.Trigger = r.trigger
	}
	if invalid != nil {
		invalid(r.trigger, err)
	} else {
		r.logger.Warn("malformed event", "subject", m.msg.Subject(), "err", err)
	}
	dlErr := r.deadLetter(m, DeadLetterInvalid, err)
	switch {
	case dlErr == nil:
	case !m.last(r.cfg.MaxDeliver):
		r.logger.Warn("malformed event not dead-lettered; retrying", "stream_seq", m.meta.Sequence.Stream, "err", dlErr)
		if nakErr := m.msg.NakWithDelay(jsDeadLetterRetry); nakErr != nil {
			r.logger.Warn("nak malformed event", "stream_seq", m.meta.Sequence.Stream, "err", nakErr)
		}
	default:
		r.logger.Error("malformed event not dead-lettered on its last delivery; the server will not deliver it again",
			"stream", m.meta.Stream, "stream_seq", m.meta.Sequence.Stream, "err", dlErr)
	}
}

// deadLetter publishes the message with its cause to the dead-letter subject
// and terms it, so it is not delivered again.
func (r *jsRun) deadLetter(m jsMessage, reason string, cause error) error {
	if err := r.publishDeadLetter(r.deadLetterMsg(m, cause)); err != nil {
		return fmt.Errorf("trigger %q: dead-letter stream seq %d to %q: %w",
			r.trigger, m.meta.Sequence.Stream, r.cfg.DeadLetter, err)
	}
	if err := m.msg.Term(); err != nil {
		return fmt.Errorf("trigger %q: term stream seq %d after dead-lettering it: %w", r.trigger, m.meta.Sequence.Stream, err)
	}
	r.report.deadLettered(r.trigger, reason)
	r.logger.Warn("event dead-lettered", "dead_letter", r.cfg.DeadLetter, "stream_seq", m.meta.Sequence.Stream,
		"deliveries", m.meta.NumDelivered, "cause", cause)
	return nil
}

// publishDeadLetter publishes through JetStream when a stream stores the
// subject, to know the dead letter is stored; otherwise it is a core NATS
// publish, flushed so at least the server has it.
func (r *jsRun) publishDeadLetter(dead *nats.Msg) error {
	ctx, cancel := context.WithTimeout(context.Background(), jsRequestTimeout)
	defer cancel()
	_, err := r.js.StreamNameBySubject(ctx, dead.Subject)
	switch {
	case err == nil:
		if _, err := r.js.PublishMsg(ctx, dead); err != nil {
			return fmt.Errorf("publish to the dead-letter stream: %w", err)
		}
		return nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if err := r.nc.PublishMsg(dead); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if err := r.nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("find the stream of the dead-letter subject: %w", err)
	}
}

// deadLetterMsg keeps the original body and headers and adds where the
// message came from and why it failed.
func (r *jsRun) deadLetterMsg(m jsMessage, cause error) *nats.Msg {
	return r.deadLetterOf(m.msg.Headers(), m.msg.Subject(), m.msg.Data(),
		m.meta.Stream, m.meta.Sequence.Stream, m.meta.NumDelivered, cause)
}

// deadLetterOf builds a dead letter. The original's Nats-* headers are left
// out because the server acts on them (Nats-Rollup would purge a dead-letter
// stream, Nats-Expected-* would fail the publish); its Nats-Msg-Id names the
// original message instead, so a dead-letter stream keeps one copy if the
// same message is dead-lettered twice.
func (r *jsRun) deadLetterOf(header nats.Header, subject string, data []byte,
	stream string, streamSeq, deliveries uint64, cause error,
) *nats.Msg {
	dead := nats.NewMsg(r.cfg.DeadLetter)
	for key, values := range header {
		if !strings.HasPrefix(strings.ToLower(key), "nats-") {
			dead.Header[key] = slices.Clone(values)
		}
	}
	seq := strconv.FormatUint(streamSeq, 10)
	dead.Header.Set(HeaderError, errorHeader(cause))
	dead.Header.Set(HeaderTrigger, r.trigger)
	dead.Header.Set(HeaderStream, stream)
	dead.Header.Set(HeaderStreamSeq, seq)
	dead.Header.Set(HeaderDeliveries, strconv.FormatUint(deliveries, 10))
	dead.Header.Set(HeaderSubject, subject)
	dead.Header.Set(jetstream.MsgIDHeader, "batchwire-dead:"+stream+":"+seq)
	dead.Data = data
	return dead
}

// errorHeader keeps the cause on one bounded line: a header value cannot
// hold CR or LF.
func errorHeader(cause error) string {
	if cause == nil {
		return "unknown (no cause given)"
	}
	text := strings.Join(strings.FieldsFunc(cause.Error(), func(r rune) bool { return r == '\r' || r == '\n' }), " ")
	if len(text) > maxErrorHeader {
		text = strings.ToValidUTF8(text[:maxErrorHeader], "") + "..."
	}
	return text
}
