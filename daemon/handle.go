package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/rules"
	"github.com/batchwire/batchwire/triggers"
)

// handle takes one event through the rules of its trigger (rules.Evaluate,
// pure) and each rule's result through the admission pipeline (admit), then
// records every decision and settles the delivery: ack once every decision
// is final and audited, nak when one must be tried again.
//
// At most the trigger's max_in_flight events are under way at once; past
// that, the delivery's WhenBusy says whether the source waits, the event is
// dropped, or the sender is told to retry.
func (d *Daemon) handle(ctx context.Context, dl triggers.Delivery) {
	defer d.survive(dl)
	d.metrics.eventsReceived.WithLabelValues(dl.Trigger).Inc()
	release, ok := d.slots.acquire(ctx, dl, d.log)
	if !ok {
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			release()
		}
	}()
	st := d.live.Load()
	now := d.now()
	evals := st.rules.AppendEvaluate(d.evalBuffers.get(), dl.Trigger, dl.Event, now)
	d.inflight.Add(1)
	handedOff = true
	go func() {
		defer d.inflight.Done()
		defer release()
		defer d.survive(dl)
		d.admitAll(ctx, dl, st, evals, now)
	}()
}

// admitAll runs the pipeline for each rule at once (a server launch may wait
// for its namespace's slot, which must not hold up the other rules), then
// records and settles.
func (d *Daemon) admitAll(ctx context.Context, dl triggers.Delivery, st *liveState, evals []rules.Evaluation, now time.Time) {
	stop := keepInProgress(dl, d.log)
	defer stop()
	// A rule whose when was false is decided by the pipeline's first stage
	// and only counted (record): with many rules most are, so they are
	// counted here without a decision each.
	open := evals[:0:0]
	for _, ev := range evals {
		if !ev.Matched && ev.Err == nil {
			d.metrics.countNotMatched(ev.Rule.Name)
			continue
		}
		open = append(open, ev)
	}
	d.evalBuffers.put(evals)
	decisions := make([]admit.Decision, len(open))
	var wg sync.WaitGroup
	for i, ev := range open {
		in := admit.Input{Eval: ev, Op: st.ops[ev.Rule.Name], Paused: st.cfg.Launch.Paused, Now: now}
		if !ev.Matched || ev.Err != nil {
			// Decided by the first stage, at once: no goroutine per rule.
			decisions[i] = d.pipeline.Run(d.launchCtx, in)
			continue
		}
		wg.Go(func() { decisions[i] = d.pipeline.Run(d.launchCtx, in) })
	}
	wg.Wait()
	var retry time.Duration
	var cause error
	for _, dec := range decisions {
		unrecorded := d.record(ctx, dl, dec)
		if dec.Retry() || unrecorded != nil {
			cause = errors.Join(cause, fmt.Errorf("rule %q: %s", dec.Rule.Name, dec.Reason), unrecorded)
			wait := dec.RetryAfter
			if wait == 0 {
				wait = redeliveryBackoff(dl.Attempt)
			}
			retry = max(retry, wait)
		}
	}
	d.settle(dl, retry, cause)
}

// record counts and audits one decision: the only place either happens. A
// rule that did not match is counted only. It returns an error when a job
// was started (or found) and its record is not stored: the event must then
// come back, and its retry, a duplicate, writes the record.
func (d *Daemon) record(ctx context.Context, dl triggers.Delivery, dec admit.Decision) error {
	d.metrics.decided(dec)
	if dec.Result == admit.NotMatched {
		return nil
	}
	err := d.audit.write(ctx, decisionRecord(dl, dec))
	if err != nil && (dec.Result == admit.Launched || dec.Result == admit.Duplicate) {
		return err
	}
	return nil
}

// settle acks the delivery, or naks it after retry when cause is set.
func (d *Daemon) settle(dl triggers.Delivery, retry time.Duration, cause error) {
	var err error
	if cause != nil {
		err = dl.Nak(retry, cause)
	} else {
		err = dl.Ack()
	}
	if err != nil {
		d.log.Warn("settle delivery", "trigger", dl.Trigger, "event_id", dl.Event.ID(), "err", err)
	}
}

// survive keeps a bug triggered by one event from stopping the daemon: the
// event is logged with the stack, counted, and handed back to its source,
// which dead-letters it after its last delivery (JetStream).
func (d *Daemon) survive(dl triggers.Delivery) {
	r := recover()
	if r == nil {
		return
	}
	d.metrics.handlerPanics.WithLabelValues(dl.Trigger).Inc()
	d.log.Error("event handling panicked; the event goes back to its source", "trigger", dl.Trigger,
		"event_id", dl.Event.ID(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	if err := dl.Nak(redeliveryBackoff(dl.Attempt), fmt.Errorf("panic: %v", r)); err != nil {
		d.log.Warn("settle delivery", "err", err)
	}
}

// keepInProgress tells an at-least-once source, while decisions are pending,
// that the event is being worked on, so it is not redelivered meanwhile.
func keepInProgress(dl triggers.Delivery, log *slog.Logger) (stop func()) {
	if dl.InProgress == nil || dl.AckWait <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		ticker := time.NewTicker(dl.AckWait / 3)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				if err := dl.InProgress(); err != nil {
					log.Warn("could not extend the ack deadline", "trigger", dl.Trigger, "event_id", dl.Event.ID(), "err", err)
				}
			}
		}
	}()
	return func() { close(done) }
}

// redeliveryBackoff grows with the delivery attempt: 1s, 2s, 4s ... up to 1m.
func redeliveryBackoff(attempt int) time.Duration {
	backoff := time.Second << min(max(attempt-1, 0), 6)
	return min(backoff, time.Minute)
}

// decisionRecord is the audit record of one decision.
func decisionRecord(dl triggers.Delivery, dec admit.Decision) Record {
	rule := dec.Rule
	rec := Record{Trigger: dl.Trigger, EventID: dl.Event.ID(), EventSource: dl.Event.Source(), EventType: dl.Event.Type(),
		Rule: rule.Name, Namespace: rule.Namespace, Operation: rule.Operation,
		Result: dec.Result, Guard: dec.Guard, Reason: dec.Reason, Engine: dec.Engine}
	if a := dec.Action; a != nil {
		rec.Namespace, rec.Query, rec.JobID = a.Namespace, a.Query, a.JobID
	}
	if dec.Counted {
		count := dec.Count
		rec.Count = &count
	}
	return rec
}

// invalid records a message that is not a CloudEvent. A decoder that
// panicked on it is a library's bug: counted on its own and logged with
// the stack, so it can be reported.
func (d *Daemon) invalid(trigger string, err error) {
	d.metrics.eventsInvalid.WithLabelValues(trigger).Inc()
	var decodeErr *triggers.DecodeError
	if errors.As(err, &decodeErr) && decodeErr.Panicked {
		d.metrics.decodePanics.WithLabelValues(trigger).Inc()
		d.log.Error("decoder panicked; the message is refused and the daemon goes on", "trigger", trigger,
			"err", err, "stack", decodeErr.Stack)
		return
	}
	d.log.Warn("invalid event", "trigger", trigger, "err", err)
}

// evalBuffers reuses the buffers events are evaluated into: with many rules
// of a trigger, a buffer of their evaluations was most of what deciding an
// event allocated (48 KB for 1000 rules), and so most of the work it gave
// the garbage collector.
type evalBuffers struct{ pool sync.Pool }

// maxPooledEvaluations keeps a buffer of more evaluations than this out of
// the pool, so that one event of a huge trigger does not pin its buffer.
const maxPooledEvaluations = 4096

func (b *evalBuffers) get() []rules.Evaluation {
	if buf, ok := b.pool.Get().(*[]rules.Evaluation); ok {
		return (*buf)[:0]
	}
	return nil
}

// put returns a buffer once nothing reads it, cleared so that it holds no
// rule or action alive.
func (b *evalBuffers) put(buf []rules.Evaluation) {
	if cap(buf) == 0 || cap(buf) > maxPooledEvaluations {
		return
	}
	clear(buf)
	buf = buf[:0]
	b.pool.Put(&buf)
}
