package engine

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
)

// pagesPerRun bounds one run's history (two activities per page) before the
// job continues as new with its checkpoint.
const pagesPerRun = 10

// heartbeatTimeout is how long a crashed worker holds a page before the server
// gives it to another. A variable so the kill test need not wait 20s.
var heartbeatTimeout = 20 * time.Second

// ClientBatch is the engine workflow: it pages the job's selection and applies
// the operation page by page, keeping its position in cp.
func ClientBatch(ctx workflow.Context, spec Spec, cp Checkpoint) (Report, error) {
	spec = spec.withDefaults()
	if cp.StartedAt.IsZero() {
		cp.StartedAt = workflow.Now(ctx)
	}
	job := &jobState{spec: spec, cp: cp, state: batch.StateRunning}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (Report, error) { return job.result(), nil }); err != nil {
		return Report{}, fmt.Errorf("register progress query: %w", err)
	}
	if err := spec.Validate(); err != nil {
		return job.fail(temporal.NewNonRetryableApplicationError(err.Error(), errInvalidSpec, err))
	}
	for pages := 0; !job.cp.Done; pages++ {
		if pages == pagesPerRun {
			return Report{}, workflow.NewContinueAsNewError(ctx, WorkflowName, spec, job.cp)
		}
		err := job.runPage(ctx)
		switch {
		case ctx.Err() != nil:
			return job.stop(ctx)
		case err != nil:
			return job.fail(err)
		}
	}
	workflow.GetLogger(ctx).Info("client batch job completed", "job_id", spec.JobID,
		"total", job.cp.Total, "completed", job.cp.Completed, "failed", job.cp.Failed, "skipped", job.cp.Skipped)
	return job.final(batch.StateCompleted), nil
}

// jobState is the workflow's view of the job, read by the progress query.
type jobState struct {
	spec       Spec
	cp         Checkpoint
	state      string
	stopReason string
}

func (j *jobState) runPage(ctx workflow.Context) error {
	page, err := j.nextPage(ctx)
	if err != nil {
		return err
	}
	var next workflow.Future
	if j.cp.Prefetch && len(page.NextToken) > 0 {
		next = j.list(ctx, page.NextToken)
	}
	j.cp.Total += int64(len(page.Executions))
	var outcomes []outcome
	if j.appliesLocally(len(page.Executions)) {
		outcomes, err = j.applyLocally(ctx, page.Executions)
	} else {
		outcomes, err = j.applyPage(ctx, page.Executions)
	}
	j.count(outcomes)
	if err != nil || ctx.Err() != nil {
		return err
	}
	j.cp.PageToken, j.cp.Done = page.NextToken, len(page.NextToken) == 0
	if next != nil {
		var listed Page
		if err := next.Get(ctx, &listed); err != nil {
			return fmt.Errorf("list page: %w", err)
		}
		j.cp.Listed = &listed
	}
	return nil
}

// nextPage is the page already listed (by Start, or while the page before
// was applied), else the next one from ListPage.
func (j *jobState) nextPage(ctx workflow.Context) (Page, error) {
	if j.cp.Listed != nil {
		page := *j.cp.Listed
		j.cp.Listed = nil
		return page, nil
	}
	var page Page
	if err := j.list(ctx, j.cp.PageToken).Get(ctx, &page); err != nil {
		return Page{}, fmt.Errorf("list page: %w", err)
	}
	return page, nil
}

// list runs ListPage for the page after token.
func (j *jobState) list(ctx workflow.Context, token []byte) workflow.Future {
	listCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         retryPolicy(),
	})
	req := PageRequest{Spec: j.spec, Token: token, StartedAt: j.cp.StartedAt}
	return workflow.ExecuteActivity(listCtx, ListPageActivity, req)
}

// applyPage runs ApplyPage until every execution has an outcome. The
// activity retries itself on transient trouble; a result with pending
// outcomes means it saw the job being stopped.
func (j *jobState) applyPage(ctx workflow.Context, execs []Execution) ([]outcome, error) {
	if len(execs) == 0 {
		return nil, nil
	}
	actCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: applyTimeout(j.spec, len(execs)),
		HeartbeatTimeout:    heartbeatTimeout,
		WaitForCancellation: true, // so a stop still returns the counts done so far
		RetryPolicy:         retryPolicy(),
	})
	req := ApplyRequest{Spec: j.spec, Executions: execs}
	for {
		var res ApplyResult
		err := workflow.ExecuteActivity(actCtx, ApplyPageActivity, req).Get(ctx, &res)
		if len(res.Outcomes) == len(execs) {
			req.Outcomes = res.Outcomes
			j.keepErrors(res.Errors)
		}
		if err != nil || ctx.Err() != nil || !hasPending(req.Outcomes) {
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("apply page: %w", err)
			}
			return req.Outcomes, err
		}
	}
}

func (j *jobState) count(outcomes []outcome) {
	for _, o := range outcomes {
		switch o {
		case completed:
			j.cp.Completed++
		case failed:
			j.cp.Failed++
		case skipped:
			j.cp.Skipped++
		}
	}
}

func (j *jobState) keepErrors(errs []string) {
	for _, e := range errs {
		if len(j.cp.Errors) < maxErrorSamples {
			j.cp.Errors = append(j.cp.Errors, e)
		}
	}
}

// stop ends a cancelled job as Canceled, with the counts as details.
func (j *jobState) stop(ctx workflow.Context) (Report, error) {
	workflow.GetSignalChannel(ctx, StopSignal).ReceiveAsync(&j.stopReason)
	return Report{}, temporal.NewCanceledError(j.final(batch.StateStopped))
}

// fail ends the job as Failed, with the counts as details.
func (j *jobState) fail(err error) (Report, error) {
	j.keepErrors([]string{err.Error()})
	var appErr *temporal.ApplicationError
	errType := "BatchFailed"
	if errors.As(err, &appErr) && appErr.Type() != "" {
		errType = appErr.Type()
	}
	return Report{}, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("client batch job %q: %v", j.spec.JobID, err), errType, err, j.final(batch.StateFailed))
}

// final is the job's last word. The query keeps answering "running" until the
// workflow has closed, so a caller that sees a final state also finds the job closed.
func (j *jobState) final(state string) Report {
	r := j.result()
	r.State = state
	return r
}

func (j *jobState) result() Report {
	return Report{
		Progress: batch.Progress{
			JobID:     j.spec.JobID,
			Namespace: j.spec.Namespace,
			Operation: j.spec.Operation.Kind,
			State:     j.state,
			Total:     j.cp.Total,
			Completed: j.cp.Completed,
			Failed:    j.cp.Failed,
			Reason:    j.spec.Reason,
			Query:     j.spec.Query,
			StartTime: j.cp.StartedAt,
		},
		Skipped:    j.cp.Skipped,
		Errors:     j.cp.Errors,
		StopReason: j.stopReason,
	}
}

func hasPending(outcomes []outcome) bool {
	for _, o := range outcomes {
		if o == pending {
			return true
		}
	}
	return false
}

// retryPolicy retries for as long as it takes: a daemon or Temporal outage
// must delay a job, not fail it. Invalid specs and queries never heal.
func retryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{errInvalidSpec, errInvalidQuery},
	}
}

// applyTimeout leaves a page three times the time its rate limit needs, plus slack.
func applyTimeout(spec Spec, n int) time.Duration {
	if spec.RPS <= 0 {
		return 5 * time.Minute
	}
	perExec := time.Duration(float64(time.Second) / spec.RPS)
	return 3*time.Duration(n)*perExec + 5*time.Minute
}
