package admit

import (
	"context"

	"github.com/batchwire/batchwire/batch"
)

// launch starts the job. A job id that exists already for the same job is
// the idempotency signal: a redelivered event finds the job it started
// before. The same id for another job is an error (batch.ErrJobIDTaken).
type launch struct{ starter Starter }

func (l launch) Admit(ctx context.Context, _ *Input, d *Decision) bool {
	outcome, err := l.starter.Launch(ctx, d.Job, d.Engine)
	switch {
	case err != nil:
		return d.stop(StageLaunch, Error, "", err)
	case outcome == batch.OutcomeDuplicate:
		return d.stop(StageLaunch, Duplicate, "the job exists and runs; following it", nil)
	case outcome == batch.OutcomeDuplicateEnded:
		return d.stop(StageLaunch, Duplicate, "the job exists and has ended; its end was reported before", nil)
	}
	return d.stop(StageLaunch, Launched, "", nil)
}
