package engine

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

// localApplyMax is the largest page applied as a local activity: one
// workflow task then applies it, with no activity task to schedule, match and
// report, which is most of a small job's time on the server (BENCHMARKS.md).
const localApplyMax = 100

// localApplyTime bounds how long a local page may take at the job's rate: a
// local activity reports no progress until it ends and a stop waits for it,
// so a paced job keeps the heartbeated activity, whose progress is seen and
// which a stop cuts short.
const localApplyTime = time.Second

// appliesLocally says whether a page of n executions is applied as a local
// activity. A local activity has no heartbeat: when the worker dies, the whole
// page runs again on the next one, with the same executions (the page was
// listed before, and the listing is in history) and the same request ids.
// That repeat is harmless only where the server drops or recognises a repeated
// call: signal and cancel carry the request id, a terminate repeated finds the
// run closed by this job, and a dry run changes nothing. Resets, deletes and
// the option updates keep the heartbeated activity, which resumes where the
// last heartbeat left off.
func (j *jobState) appliesLocally(n int) bool {
	paced := j.spec.RPS > 0 && float64(n)/j.spec.RPS > localApplyTime.Seconds()
	return j.cp.LocalApply && n > 0 && n <= localApplyMax && !paced && repeatSafe(j.spec)
}

func repeatSafe(spec Spec) bool {
	return spec.DryRun || spec.Operation.RepeatSafe()
}

// applyLocally runs ApplyPage as a local activity until every execution has
// an outcome. A stop does not cut a local page short (it has no heartbeat to
// hand back partial counts): the page, at most localApplyMax executions,
// finishes and the job then ends as stopped with exact counts.
func (j *jobState) applyLocally(ctx workflow.Context, execs []Execution) ([]outcome, error) {
	pageCtx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	actCtx := workflow.WithLocalActivityOptions(pageCtx, workflow.LocalActivityOptions{
		StartToCloseTimeout: applyTimeout(j.spec, len(execs)),
		RetryPolicy:         retryPolicy(),
	})
	req := ApplyRequest{Spec: j.spec, Executions: execs}
	for {
		var res ApplyResult
		err := workflow.ExecuteLocalActivity(actCtx, ApplyPageActivity, req).Get(pageCtx, &res)
		if len(res.Outcomes) == len(execs) {
			req.Outcomes = res.Outcomes
			j.keepErrors(res.Errors)
		}
		if err != nil {
			return req.Outcomes, fmt.Errorf("apply page: %w", err)
		}
		if !hasPending(req.Outcomes) {
			return req.Outcomes, nil
		}
	}
}
