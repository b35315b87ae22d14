package batch

import (
	"errors"
	"fmt"
)

// run decides a server request from the namespace queue and follows the job
// to its end before the queue takes the next one.
func (l *Launcher) run(item queued) {
	job := item.req.Job
	d := l.preflight(item.req)
	d.Engine = EngineServer
	if d.Outcome == "" {
		d.Outcome, d.Err = l.launchServer(job)
	}
	l.settle(item, d, l.serverTracker())
}

// runClientOrRoute counts a client or auto request, then runs it on the
// client engine or hands it to the namespace queue for the server batcher.
func (l *Launcher) runClientOrRoute(item queued) {
	req := item.req
	d := l.preflight(req)
	if d.Outcome != "" {
		l.settle(item, d, tracker{})
		return
	}
	clientOnly := !ServerSupports(req.Job.Op)
	small := d.Count <= l.opts.AutoClientMax && l.opts.Client != nil
	if req.Engine != EngineClient && !clientOnly && !small {
		req.Engine = EngineServer
		l.enqueue(queued{req: req, done: item.done})
		return
	}
	d.Engine = EngineClient
	if l.opts.Client == nil {
		d.Outcome, d.Err = OutcomeError, fmt.Errorf("batch job %q: %s needs the client engine, which is not running", req.Job.ID, opName(req.Job.Op))
	} else {
		d.Outcome, d.Err = l.launchClient(req.Job)
	}
	l.settle(item, d, l.clientTracker())
}

func (l *Launcher) settle(item queued, d Decision, t tracker) {
	l.obs.Decided(d)
	item.done <- d
	if d.Outcome == OutcomeLaunched || d.Outcome == OutcomeDuplicate {
		l.follow(item.req.Job, t)
	}
}

// preflight validates, counts and applies the guards that need the count.
// An empty Outcome means the launch may go ahead.
func (l *Launcher) preflight(req Request) Decision {
	job := req.Job
	d := Decision{Job: job}
	if err := job.Validate(); err != nil {
		d.Outcome, d.Err = OutcomeError, fmt.Errorf("batch job %q: %w", job.ID, err)
		return d
	}
	count, err := retry(l, "count", func() (int64, error) {
		return l.api.Count(l.ctx, job.Namespace, job.Query)
	})
	if err != nil {
		d.Outcome, d.Err = OutcomeError, fmt.Errorf("preflight: %w", err)
		return d
	}
	d.Count, d.Counted = count, true
	switch {
	case req.MaxWorkflows > 0 && count > req.MaxWorkflows:
		d.Outcome, d.Guard = OutcomeBlocked, "max_workflows"
		d.Err = fmt.Errorf("query selects %d workflows, more than max_workflows %d", count, req.MaxWorkflows)
	case req.DryRun:
		d.Outcome = OutcomeDryRun
	}
	return d
}

func (l *Launcher) launchServer(job Job) (string, error) {
	_, err := retry(l, "start", func() (struct{}, error) {
		err := l.api.Start(l.ctx, job)
		if errors.Is(err, ErrSlotBusy) && l.exists(job) {
			// A relaunch of a job that is still running reports a busy slot
			// before it reports the duplicate id.
			return struct{}{}, fmt.Errorf("start: %w", ErrAlreadyStarted)
		}
		return struct{}{}, err
	})
	return launchOutcome(err)
}

func (l *Launcher) launchClient(job Job) (string, error) {
	_, err := retry(l, "start client job", func() (struct{}, error) {
		return struct{}{}, l.opts.Client.Start(l.ctx, job)
	})
	return launchOutcome(err)
}

func launchOutcome(err error) (string, error) {
	switch {
	case err == nil:
		return OutcomeLaunched, nil
	case errors.Is(err, ErrAlreadyStarted):
		return OutcomeDuplicate, nil
	default:
		return OutcomeError, err
	}
}

func (l *Launcher) exists(job Job) bool {
	_, err := l.api.Describe(l.ctx, job.Namespace, job.ID)
	return err == nil
}

func opName(op Operation) string {
	if r, ok := op.(Reset); ok {
		return "reset " + r.Type
	}
	return op.Kind()
}
