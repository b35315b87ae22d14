package admit

import (
	"context"
	"fmt"

	"github.com/batchwire/batchwire/batch"
)

// count builds the job and counts its query: the preflight of every launch.
// A query the server cannot count never becomes a batch job, which would
// retry forever and hold the namespace's slot.
type count struct{ counter Counter }

func (c count) Admit(ctx context.Context, in *Input, d *Decision) bool {
	a := d.Action
	op := in.Op
	if a.Signal != nil {
		op = op.WithSignalInput(a.Signal.Input)
	}
	d.Job = batch.Job{ID: a.JobID, Rule: a.Rule, Namespace: a.Namespace, Query: a.Query, Reason: a.Reason, Op: op}
	if err := d.Job.Validate(); err != nil {
		return d.stop(StageCount, Error, "", fmt.Errorf("batch job %q: %w", d.Job.ID, err))
	}
	n, err := c.counter.Count(ctx, a.Namespace, a.Query)
	if err != nil {
		return d.stop(StageCount, Error, "", fmt.Errorf("preflight: %w", err))
	}
	d.Count, d.Counted = n, true
	return true
}
