package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/rules"
	"github.com/batchwire/batchwire/triggers"
)

// launch is one admitted action waiting for its launch decision.
type launch struct {
	action   *rules.Action
	decision <-chan batch.Decision
}

// handle evaluates one event against the rules of its trigger, runs the
// guards and submits every admitted action. The delivery is acked once every
// decision is final and audited, or nak'ed when an action must be retried.
func (d *Daemon) handle(ctx context.Context, dl triggers.Delivery) {
	defer d.survive(dl)
	ev := dl.Event
	d.metrics.eventsReceived.WithLabelValues(dl.Trigger).Inc()
	log := d.log.With("trigger", dl.Trigger, "event_id", ev.ID(), "event_source", ev.Source(), "event_type", ev.Type())
	st := d.live.Load()
	now := d.now()
	var launches []launch
	var retry time.Duration
	for _, res := range st.rules.Evaluate(dl.Trigger, ev, now) {
		rec := eventRecord(dl, res.Rule)
		l, delay := d.decide(res, &rec, st.cfg.Launch.Paused, now)
		if l != nil {
			launches = append(launches, *l)
			continue
		}
		retry = max(retry, delay)
		d.audit.write(ctx, rec)
	}
	d.inflight.Add(1)
	go func() {
		defer d.inflight.Done()
		d.settle(ctx, dl, log, launches, retry)
	}()
}

// decide takes one rule's result for an event to a submitted launch, or
// fills rec with why not (and how long to wait, for the rate guard).
func (d *Daemon) decide(res rules.Result, rec *Record, paused bool, now time.Time) (*launch, time.Duration) {
	rule := res.Rule.Name
	switch {
	case res.Err != nil:
		d.metrics.ruleEvaluations.WithLabelValues(rule, "error").Inc()
		if res.Matched {
			d.metrics.renderErrors.WithLabelValues(rule).Inc()
		}
		rec.Result, rec.Reason = ResultError, res.Err.Error()
		return nil, 0
	case !res.Matched:
		d.metrics.ruleEvaluations.WithLabelValues(rule, "not_matched").Inc()
		rec.Result, rec.Reason = ResultNotMatched, "when is false"
		return nil, 0
	}
	d.metrics.ruleEvaluations.WithLabelValues(rule, "matched").Inc()
	fillAction(rec, res.Action)
	// The rendered query is linted again: a value can still make it select
	// everything, e.g. an empty STARTS_WITH prefix.
	if _, err := rules.LintQuery(res.Action.Query); err != nil {
		rec.Result, rec.Reason = ResultError, fmt.Sprintf("rendered query refused: %v", err)
		d.metrics.renderErrors.WithLabelValues(rule).Inc()
		return nil, 0
	}
	v := d.guards.Admit(res.Rule, res.Action, paused, now)
	if v.Admitted() {
		return &launch{res.Action, d.launcher.Submit(d.request(res.Rule, res.Action))}, 0
	}
	rec.Result, rec.Guard, rec.Reason = ResultBlocked, v.Guard, v.Reason
	if v.RetryAfter > 0 {
		rec.Result = ResultDelayed
	}
	d.metrics.guardBlocked.WithLabelValues(rule, v.Guard).Inc()
	return nil, v.RetryAfter
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

// settle waits for the launch decisions, audits them, then acks or naks.
func (d *Daemon) settle(ctx context.Context, dl triggers.Delivery, log *slog.Logger, launches []launch, retry time.Duration) {
	var cause error
	if retry > 0 {
		cause = errors.New("rate guard delayed a launch")
	}
	stop := keepInProgress(dl, log)
	defer stop()
	for _, l := range launches {
		dec := <-l.decision
		rec := eventRecord(dl, nil)
		rec.Rule = l.action.Rule
		fillDecision(&rec, l.action, dec)
		d.audit.write(ctx, rec)
		if dec.Outcome == batch.OutcomeError {
			d.guards.Release(l.action)
		}
		if errors.Is(dec.Err, batch.ErrShutdown) || errors.Is(dec.Err, batch.ErrUnavailable) {
			cause = dec.Err
			retry = max(retry, redeliveryBackoff(dl.Attempt))
		}
	}
	var err error
	if cause != nil {
		err = dl.Nak(retry, cause)
	} else {
		err = dl.Ack()
	}
	if err != nil {
		log.Warn("settle delivery", "err", err)
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
					log.Warn("could not extend the ack deadline", "err", err)
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

func eventRecord(dl triggers.Delivery, rule *rules.Rule) Record {
	rec := Record{Trigger: dl.Trigger, EventID: dl.Event.ID(), EventSource: dl.Event.Source(), EventType: dl.Event.Type()}
	if rule != nil {
		rec.Rule, rec.Namespace, rec.Operation = rule.Name, rule.Namespace, rule.Operation
	}
	return rec
}

func fillAction(rec *Record, a *rules.Action) {
	rec.Namespace, rec.Operation, rec.Query, rec.JobID = a.Namespace, a.Operation, a.Query, a.JobID
}

func fillDecision(rec *Record, a *rules.Action, dec batch.Decision) {
	fillAction(rec, a)
	rec.Result, rec.Guard, rec.Engine = dec.Outcome, dec.Guard, dec.Engine
	if dec.Err != nil {
		rec.Reason = dec.Err.Error()
	}
	if dec.Counted {
		count := dec.Count
		rec.Count = &count
	}
}

// request turns a rendered action into a launch request.
func (d *Daemon) request(rule *rules.Rule, a *rules.Action) batch.Request {
	job := batch.Job{
		ID: a.JobID, Rule: a.Rule, Namespace: a.Namespace, Query: a.Query, Reason: a.Reason,
		Op: operation(rule, a),
	}
	guards := rule.Config.Guards
	return batch.Request{Job: job, MaxWorkflows: guards.MaxWorkflows, DryRun: guards.DryRun, Engine: rule.Config.Engine}
}

func operation(rule *rules.Rule, a *rules.Action) batch.Operation {
	cfg := rule.Config
	switch {
	case a.Signal != nil:
		return batch.Signal{Name: a.Signal.Name, Input: a.Signal.Input}
	case cfg.Terminate != nil:
		return batch.Terminate{}
	case cfg.Cancel != nil:
		return batch.Cancel{}
	case cfg.Delete != nil:
		return batch.Delete{}
	case cfg.Reset != nil:
		r := cfg.Reset
		return batch.Reset{Type: r.Type, BuildID: r.BuildID, ExcludeReapply: r.ExcludeReapply,
			OnlyNonDeterministic: r.OnlyNonDeterministic, BadBinaryChecksum: r.BadBinaryChecksum}
	}
	panic(fmt.Sprintf("rule %q: compiled without an action", rule.Name))
}

// invalid records a message that is not a CloudEvent.
func (d *Daemon) invalid(trigger string, err error) {
	d.metrics.eventsInvalid.WithLabelValues(trigger).Inc()
	d.log.Warn("invalid event", "trigger", trigger, "err", err)
}
