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
	if err == nil {
		l.follow(item.job, l.serverTracker())
	}
}

func (l *Launcher) launchServer(job Job) (string, error) {
	_, err := retry(l.ctx, l, "start", func() (struct{}, error) {
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

// launchClient starts a client-engine job; it needs no namespace slot, so it
// does not queue. The job is followed in the background.
func (l *Launcher) launchClient(ctx context.Context, job Job) (string, error) {
	if l.opts.Client == nil {
		return "", fmt.Errorf("batch job %q: %s needs the client engine, which is not running", job.ID, job.Op)
	}
	_, err := retry(ctx, l, "start client job", func() (struct{}, error) {
		return struct{}{}, l.opts.Client.Start(ctx, job)
	})
	outcome, err := launchOutcome(err)
	if err == nil {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.follow(job, l.clientTracker())
		}()
	}
	return outcome, err
}

func launchOutcome(err error) (string, error) {
	switch {
	case err == nil:
		return OutcomeLaunched, nil
	case errors.Is(err, ErrAlreadyStarted):
		return OutcomeDuplicate, nil
	default:
		return "", err
	}
}

func (l *Launcher) exists(job Job) bool {
	_, err := l.api.Describe(l.ctx, job.Namespace, job.ID)
	return err == nil
}
