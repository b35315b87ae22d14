package batch

import (
	"context"
	"errors"
	"fmt"
)

// run starts a server job from its namespace's queue, hands the outcome back
// to Launch, and follows the job to its end before the queue takes the next.
func (l *Launcher) run(item queued) {
	outcome, err := l.launchServer(item.job)
	item.done <- launched{outcome, err}
	if err == nil && outcome != OutcomeDuplicateEnded {
		l.follow(item.job, l.serverTracker())
	}
}

func (l *Launcher) launchServer(job Job) (string, error) {
	t := l.serverTracker()
	_, err := retry(l.ctx, l, "start", func() (struct{}, error) {
		err := l.api.Start(l.ctx, job)
		if errors.Is(err, ErrSlotBusy) && l.exists(job) {
			// A relaunch of a job that is still running reports a busy slot
			// before it reports the duplicate id.
			return struct{}{}, fmt.Errorf("start: %w", ErrAlreadyStarted)
		}
		return struct{}{}, err
	})
	return l.launchOutcome(job, t, err)
}

// launchClient starts a client-engine job; it needs no namespace slot, so it
// does not queue. The job is followed in the background.
func (l *Launcher) launchClient(ctx context.Context, job Job) (string, error) {
	if l.opts.Client == nil {
		return "", fmt.Errorf("batch job %q: %s needs the client engine, which is not running", job.ID, job.Op)
	}
	_, err := retry(ctx, l, "start client job", func() (struct{}, error) {
		return struct{}{}, l.opts.Client.Start(ctx, job)
	})
	outcome, err := l.launchOutcome(job, l.clientTracker(), err)
	if err == nil && outcome != OutcomeDuplicateEnded {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.follow(job, l.clientTracker())
		}()
	}
	return outcome, err
}

// launchDirect applies the job on the direct engine and reports its end
// before it returns; a job the direct engine does not take goes to the
// client engine. Executions left by transient errors are retried by the
// engine until ctx ends; a listing or record that fails with one is retried
// here, within the launch's retry budget.
func (l *Launcher) launchDirect(ctx context.Context, job Job) (string, error) {
	if l.opts.Direct == nil {
		return l.launchClient(ctx, job)
	}
	// A run is safe to repeat whole: it resumes its own record.
	p, err := retry(ctx, l, "direct job", func() (Progress, error) { return l.opts.Direct.Run(ctx, job) })
	switch {
	case errors.Is(err, ErrNotDirect):
		l.opts.Logger.Debug("direct engine declined the job; the client engine runs it", "job_id", job.ID, "err", err)
		return l.launchClient(ctx, job)
	case errors.Is(err, ErrAlreadyStarted):
		if differs := job.differsFrom(p); differs != "" {
			return "", fmt.Errorf("batch job %q: %w: %s", job.ID, ErrJobIDTaken, differs)
		}
		return OutcomeDuplicateEnded, nil
	case err != nil:
		return "", err
	}
	l.obs.Progressed(job, p)
	l.obs.Finished(job, p)
	return OutcomeLaunched, nil
}

// ResumeDirect runs again, in the background, the direct jobs a stop
// interrupted, and reports each one's end.
func (l *Launcher) ResumeDirect() {
	if l.opts.Direct == nil {
		return
	}
	l.wg.Go(func() {
		jobs, err := l.opts.Direct.Unfinished(l.ctx)
		if err != nil {
			l.opts.Logger.Warn("cannot list interrupted direct jobs", "err", err)
			return
		}
		for _, job := range jobs {
			l.opts.Logger.Info("resuming an interrupted direct batch job", "job_id", job.ID, "rule", job.Rule)
			p, err := l.opts.Direct.Run(l.ctx, job)
			if err != nil {
				l.opts.Logger.Warn("resume direct batch job", "job_id", job.ID, "err", err)
				continue
			}
			l.obs.Progressed(job, p)
			l.obs.Finished(job, p)
		}
	})
}

// launchOutcome turns the start's error into an outcome. A job id that
// exists is a duplicate only when the existing job is this job; it is
// followed only while it runs.
func (l *Launcher) launchOutcome(job Job, t tracker, err error) (string, error) {
	switch {
	case err == nil:
		return OutcomeLaunched, nil
	case !errors.Is(err, ErrAlreadyStarted):
		return "", err
	}
	existing, err := retry(l.ctx, l, "describe the existing job", func() (Progress, error) { return t.identify(job) })
	if errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("batch job %q: %w: it is not a batch job (%w)", job.ID, ErrJobIDTaken, err)
	}
	if err != nil {
		return "", fmt.Errorf("batch job %q exists: %w", job.ID, err)
	}
	if differs := job.differsFrom(existing); differs != "" {
		return "", fmt.Errorf("batch job %q: %w: %s", job.ID, ErrJobIDTaken, differs)
	}
	if existing.Done() {
		return OutcomeDuplicateEnded, nil
	}
	return OutcomeDuplicate, nil
}

// differsFrom says how an existing job with this job's id is another job:
// its operation, query or reason, as the engine reports them. A signal's name
// and input are not reported, so two signal jobs that differ only there are
// taken for one; the reason, which rules derive from the event, tells most
// of them apart.
func (j Job) differsFrom(p Progress) string {
	switch {
	case p.Operation != j.Op.Kind:
		return fmt.Sprintf("it runs %s, not %s", p.Operation, j.Op.Kind)
	case p.Query == "":
		return "its query cannot be read, so it cannot be told apart"
	case p.Query != j.Query:
		return fmt.Sprintf("its query is %q, not %q", p.Query, j.Query)
	case p.Reason != j.Reason:
		return fmt.Sprintf("its reason is %q, not %q", p.Reason, j.Reason)
	}
	return ""
}

func (l *Launcher) exists(job Job) bool {
	_, err := l.api.Describe(l.ctx, job.Namespace, job.ID)
	return err == nil
}
