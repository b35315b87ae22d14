package admit

import (
	"context"

	"github.com/batchwire/batchwire/batch"
)

// launch starts the job. A job id that exists already is the idempotency
// signal: a redelivered event finds the job it started before.
type launch struct{ starter Starter }

func (l launch) Admit(ctx context.Context, _ *Input, d *Decision) bool {
	outcome, err := l.starter.Launch(ctx, d.Job, d.Engine)
	switch {
	case err != nil:
		return d.stop(StageLaunch, Error, "", err)
	case outcome == batch.OutcomeDuplicate:
		return d.stop(StageLaunch, Duplicate, "", nil)
	}
	return d.stop(StageLaunch, Launched, "", nil)
}
