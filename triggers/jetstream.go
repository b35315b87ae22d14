package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/batchwire/batchwire/config"
)

const (
	// jsPullBatch is how many messages one pull request asks for. The handler
	// takes them one at a time while the server's AckWait clock runs from
	// delivery, so a large batch could expire in the client buffer and be
	// redelivered for nothing, using up MaxDeliver. Events are few and each
	// takes a Temporal round trip, so a small batch costs little.
	jsPullBatch = 8
	// jsRequestTimeout bounds the requests a settlement makes (ack,
	// dead-letter publish).
	jsRequestTimeout = 5 * time.Second
	// jsDeadLetterRetry is when a malformed message comes back if its
	// dead-letter publish failed, so the publish is tried again.
	jsDeadLetterRetry = 5 * time.Second
)

// JetStreamSource delivers the events stored in one JetStream stream through
// a durable pull consumer, at least once: a message comes back until it is
// settled. Ack confirms it with the server before returning; Nak redelivers it
// after the delay, and on its last allowed delivery (MaxDeliver) publishes it
// to the dead-letter subject with the cause and terms it.
// A message the handler leaves unsettled comes back after AckWait; if that was
// its last delivery the server drops it without a dead letter.
type JetStreamSource struct {
	reporting
	nc      *nats.Conn
	trigger config.Trigger
	logger  *slog.Logger
	started started
}

// NewJetStreamSource returns a source for t, which must have JetStream
// settings with config's defaults applied.
func NewJetStreamSource(nc *nats.Conn, t config.Trigger, logger *slog.Logger) *JetStreamSource {
	if logger == nil {
		logger = slog.Default()
	}
	return &JetStreamSource{nc: nc, trigger: t, logger: logger.With("trigger", t.Name), started: newStarted()}
}

// Name is the trigger's name.
func (s *JetStreamSource) Name() string { return s.trigger.Name }

// Started is closed once the durable consumer exists and is being pulled.
// The stream keeps what is published before that, so this tells readiness,
// not whether events can be missed.
func (s *JetStreamSource) Started() <-chan struct{} { return s.started.ch }

// Run creates the stream if it is missing and allowed to, creates or updates
// the durable consumer, and calls handle for each valid event, one at a
// time, until ctx is done; an event being handled then is finished first,
// and Run returns nil. A message that does not decode goes to invalid, then
// straight to the dead-letter subject. The consumer resumes by itself when
// the connection comes back. Run returns an error if it cannot set up, the
// connection is closed, or the consumer disappears under it (re-creating it
// would deliver the whole stream again).
func (s *JetStreamSource) Run(ctx context.Context, handle Handler, invalid Invalid) error {
	run, err := s.newRun()
	if err != nil {
		return err
	}
	consumer, err := run.setup(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while setting up
		}
		return err
	}
	advisories, err := run.watchMaxDeliveries()
	if err != nil {
		return err
	}
	defer func() { _ = advisories.Unsubscribe() }()
	iter, err := consumer.Messages(jetstream.PullMaxMessages(jsPullBatch))
	if err != nil {
		return fmt.Errorf("trigger %q: consume from %q: %w", s.trigger.Name, run.cfg.Durable, err)
	}
	defer func() {
		// Buffered messages are not acked, so the server redelivers them after AckWait.
		iter.Stop()
		s.logger.Info("stopped consuming JetStream", "stream", run.cfg.Stream, "durable", run.cfg.Durable)
	}()
	s.logger.Info("consuming JetStream (at-least-once)", "stream", run.cfg.Stream, "durable", run.cfg.Durable,
		"subjects", run.cfg.Subjects, "max_deliver", run.cfg.MaxDeliver, "ack_wait", run.cfg.AckWait.Std(),
		"dead_letter", run.cfg.DeadLetter)
	s.started.mark()
	return run.consume(ctx, consumer, iter, handle, invalid)
}

// jsRun is what one Run of a JetStreamSource works with.
type jsRun struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	cfg     *config.JetStreamTrigger
	trigger string
	logger  *slog.Logger
	report  *reporting
	// maxAckPending is the trigger's max_in_flight: the server delivers no
	// more unsettled messages than the daemon takes at once, so none waits
	// in the client's buffer while its ack wait runs out.
	maxAckPending int
}

func (s *JetStreamSource) newRun() (*jsRun, error) {
	name, cfg := s.trigger.Name, s.trigger.JetStream
	var problem string
	switch {
	case cfg == nil:
		return nil, fmt.Errorf("trigger %q: no jetstream settings", name)
	case cfg.Stream == "":
		problem = "stream: required"
	case cfg.Durable == "":
		problem = "durable: required"
	case cfg.MaxDeliver < 1:
		problem = "max_deliver: must be at least 1"
	case cfg.AckWait <= 0:
		problem = "ack_wait: must be positive"
	case cfg.DeadLetter == "":
		problem = "dead_letter: required"
	}
	if problem != "" {
		return nil, fmt.Errorf("trigger %q: jetstream.%s", name, problem)
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, fmt.Errorf("trigger %q: jetstream: %w", name, err)
	}
	return &jsRun{nc: s.nc, js: js, cfg: cfg, trigger: name, logger: s.logger, report: &s.reporting,
		maxAckPending: maxInFlight(s.trigger)}, nil
}

func (r *jsRun) consume(ctx context.Context, consumer jetstream.Consumer, iter jetstream.MessagesContext,
	handle Handler, invalid Invalid,
) error {
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		switch {
		case ctx.Err() != nil:
			// A message taken as ctx ended stays unacked and comes back.
			return nil
		case err != nil:
			if err := r.checkConsumer(ctx, consumer, err); err != nil {
				return err
			}
		default:
			r.deliver(ctx, msg, handle, invalid)
		}
	}
}

// checkConsumer decides whether an iterator error ends Run. A missed
// heartbeat is not fatal (the iterator pulls again) unless the consumer is
// gone, as after a server restart that lost its state.
func (r *jsRun) checkConsumer(ctx context.Context, consumer jetstream.Consumer, nextErr error) error {
	if !errors.Is(nextErr, jetstream.ErrNoHeartbeat) {
		return fmt.Errorf("trigger %q: receive from consumer %q: %w", r.trigger, r.cfg.Durable, nextErr)
	}
	_, err := consumer.Info(ctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("trigger %q: consumer %q on stream %q is gone: %w", r.trigger, r.cfg.Durable, r.cfg.Stream, err)
	}
	r.logger.Warn("no heartbeat from JetStream consumer; pulling again", "durable", r.cfg.Durable, "info_err", err)
	return nil
}

func (r *jsRun) setup(ctx context.Context) (jetstream.Consumer, error) {
	stream, err := r.ensureStream(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.checkDeadLetter(ctx); err != nil {
		return nil, err
	}
	deliver := jetstream.DeliverAllPolicy
	if r.cfg.Deliver == "new" {
		deliver = jetstream.DeliverNewPolicy
	}
	consumer, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:        r.cfg.Durable,
		Description:    "batchwire trigger " + r.trigger,
		DeliverPolicy:  deliver,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        r.cfg.AckWait.Std(),
		MaxDeliver:     r.cfg.MaxDeliver,
		MaxAckPending:  r.maxAckPending,
		FilterSubjects: r.cfg.Subjects, // none: every subject of the stream
	})
	if err != nil {
		return nil, fmt.Errorf("trigger %q: create or update consumer %q on stream %q: %w",
			r.trigger, r.cfg.Durable, r.cfg.Stream, err)
	}
	return consumer, nil
}

// ensureStream uses an existing stream as it is: it may be shared and is
// the operator's to change.
func (r *jsRun) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	switch {
	case err == nil:
		r.warnIfSubjectsDiffer(stream.CachedInfo().Config.Subjects)
		return stream, nil
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("trigger %q: look up stream %q: %w", r.trigger, r.cfg.Stream, err)
	case r.cfg.CreateStream != nil && !*r.cfg.CreateStream:
		return nil, fmt.Errorf("trigger %q: stream %q does not exist and create_stream is false", r.trigger, r.cfg.Stream)
	}
	stream, err = r.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        r.cfg.Stream,
		Description: "events for batchwire trigger " + r.trigger,
		Subjects:    r.cfg.Subjects,
		Storage:     jetstream.FileStorage,
		// Events are only needed until decided; the age bound keeps a
		// stream batchwire created from growing without end.
		MaxAge: r.cfg.MaxAge.Std(),
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another batchwire created it meanwhile; use theirs.
		return r.ensureStream(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("trigger %q: create stream %q: %w", r.trigger, r.cfg.Stream, err)
	}
	r.logger.Info("created JetStream stream", "stream", r.cfg.Stream, "subjects", r.cfg.Subjects)
	return stream, nil
}

func (r *jsRun) warnIfSubjectsDiffer(actual []string) {
	if len(r.cfg.Subjects) == 0 {
		return
	}
	want, got := slices.Sorted(slices.Values(r.cfg.Subjects)), slices.Sorted(slices.Values(actual))
	if !slices.Equal(want, got) {
		r.logger.Warn("stream subjects differ from the trigger's; using the stream as it is",
			"stream", r.cfg.Stream, "stream_subjects", got, "trigger_subjects", want)
	}
}

// checkDeadLetter refuses a dead-letter subject that the trigger's own
// stream stores: every dead letter would come back as a new event.
func (r *jsRun) checkDeadLetter(ctx context.Context) error {
	name, err := r.js.StreamNameBySubject(ctx, r.cfg.DeadLetter)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("trigger %q: find the stream of dead_letter %q: %w", r.trigger, r.cfg.DeadLetter, err)
	case name == r.cfg.Stream:
		return fmt.Errorf("trigger %q: dead_letter %q is stored in the trigger's own stream %q, "+
			"so dead letters would be delivered again", r.trigger, r.cfg.DeadLetter, r.cfg.Stream)
	}
	return nil
}
