package admit

import (
	"context"
	"fmt"

	"github.com/batchwire/batchwire/batch"
)

// count builds the job and counts its query: the preflight of every launch.
// A query the server cannot count never becomes a batch job, which would
// retry forever and hold the namespace's slot. A job that may run on the
// direct engine is listed instead, when its selection is small enough to list
// whole: the listing gives the count and is the job's selection, so a small
// job costs one visibility call (the count is then exact).
type count struct {
	counter   Counter
	directMax int64
}

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
	if selector, ok := c.counter.(Selector); ok && batch.DirectCandidate(in.Eval.Rule.Config.Engine, d.Job, c.directMax) {
		listed, complete, err := selector.Select(ctx, d.Job, c.directMax)
		if err != nil {
			return d.stop(StageCount, Error, "", fmt.Errorf("preflight: %w", err))
		}
		if complete {
			d.Job.Listed = listed
			d.Count, d.Counted = int64(len(listed)), true
			return true
		}
	}
	n, err := c.counter.Count(ctx, a.Namespace, a.Query)
	if err != nil {
		return d.stop(StageCount, Error, "", fmt.Errorf("preflight: %w", err))
	}
	d.Count, d.Counted = n, true
	return true
}
