package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/batchwire/batchwire/batch"
)

// queryTimeout bounds the progress query: it needs a worker, and a job whose
// worker is down should still describe (from its checkpoint) rather than hang.
const queryTimeout = 5 * time.Second

// Describe returns a job's progress in the shape of a server job's.
func Describe(ctx context.Context, c client.Client, jobID string) (batch.Progress, error) {
	r, err := Status(ctx, c, jobID)
	return r.Progress, err
}

// Status is Describe plus what only the engine reports (skipped, failures).
// A running job answers the progress query, to which the page in flight adds
// its last heartbeat; a closed one is read from its result.
func Status(ctx context.Context, c client.Client, jobID string) (Report, error) {
	desc, err := describe(ctx, c, jobID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return Report{}, fmt.Errorf("describe client batch job %q: %w", jobID, batch.ErrNotFound)
	}
	if err != nil {
		return Report{}, fmt.Errorf("describe client batch job %q: %w", jobID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != WorkflowName {
		return Report{}, fmt.Errorf("describe client batch job %q: workflow of type %s: %w",
			jobID, info.GetType().GetName(), batch.ErrNotFound)
	}
	r, err := statusOf(ctx, c, info)
	if err != nil || r.Done() {
		return r, err
	}
	// Read the page in flight after the query: a page that ends in between
	// is then missed for a moment rather than counted twice.
	if desc, err = describe(ctx, c, jobID); err == nil {
		addInFlight(&r, desc.GetPendingActivities())
	}
	return r, nil
}

func describe(ctx context.Context, c client.Client, jobID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	desc, err := c.DescribeWorkflow(ctx, jobID, "")
	if err != nil {
		return nil, err
	}
	return desc.RawResponse, nil
}

// List returns up to limit (default 100) jobs of the engine in c's namespace, newest first.
func List(ctx context.Context, c client.Client, limit int) ([]batch.Progress, error) {
	if limit <= 0 {
		limit = 100
	}
	req := &workflowservice.ListWorkflowExecutionsRequest{
		Query:    fmt.Sprintf("WorkflowType = '%s'", WorkflowName),
		PageSize: int32(min(limit, maxPageSize)), //nolint:gosec // bounded just here
	}
	var out []batch.Progress
	seen := map[string]bool{}
	for len(out) < limit {
		resp, err := c.ListWorkflow(ctx, req)
		if err != nil {
			return out, fmt.Errorf("list client batch jobs: %w", err)
		}
		for _, info := range resp.GetExecutions() {
			// Each continue-as-new leaves a run behind, which visibility may
			// still show as running; a job is described once, from its latest run.
			jobID := info.GetExecution().GetWorkflowId()
			if seen[jobID] || len(out) == limit {
				continue
			}
			seen[jobID] = true
			p, err := Describe(ctx, c, jobID)
			if err != nil {
				return out, err
			}
			out = append(out, p)
		}
		if len(resp.GetNextPageToken()) == 0 {
			break
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
	return out, nil
}

func statusOf(ctx context.Context, c client.Client, info *workflowpb.WorkflowExecutionInfo) (Report, error) {
	jobID, runID := info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId()
	var r Report
	var err error
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		if r, err = queryProgress(ctx, c, jobID, runID); err != nil {
			r, err = fromStartInput(ctx, c, jobID, runID, batch.StateRunning)
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		r, err = fromStartInput(ctx, c, jobID, runID, batch.StateStopped)
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		r, err = fromStartInput(ctx, c, jobID, runID, batch.StateFailed)
	default:
		r, err = closedResult(ctx, c, jobID, runID)
	}
	if err != nil {
		return Report{}, fmt.Errorf("describe client batch job %q: %w", jobID, err)
	}
	if info.GetCloseTime() != nil {
		r.CloseTime = info.GetCloseTime().AsTime()
	}
	return r, nil
}

func queryProgress(ctx context.Context, c client.Client, jobID, runID string) (Report, error) {
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	value, err := c.QueryWorkflow(qctx, jobID, runID, ProgressQuery)
	if err != nil {
		return Report{}, fmt.Errorf("query progress: %w", err)
	}
	var r Report
	if err := value.Get(&r); err != nil {
		return Report{}, fmt.Errorf("decode progress: %w", err)
	}
	return r, nil
}

// closedResult reads the job's outcome: the result when it completed, the
// failure's or cancellation's details (the counts) when it failed or stopped.
func closedResult(ctx context.Context, c client.Client, jobID, runID string) (Report, error) {
	var r Report
	err := c.GetWorkflow(ctx, jobID, runID).Get(ctx, &r)
	var canceled *temporal.CanceledError
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return r, nil
	case errors.As(err, &canceled) && canceled.HasDetails() && canceled.Details(&r) == nil:
		r.State = batch.StateStopped
		return r, nil
	case errors.As(err, &canceled):
		return fromStartInput(ctx, c, jobID, runID, batch.StateStopped)
	case errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&r) == nil:
		r.State = batch.StateFailed
		return r, nil
	}
	return fromStartInput(ctx, c, jobID, runID, batch.StateFailed)
}

// fromStartInput rebuilds progress from the run's input, the checkpoint of its
// last continue-as-new: the best that is known of a terminated job, or of a
// running one whose worker cannot answer.
func fromStartInput(ctx context.Context, c client.Client, jobID, runID, state string) (Report, error) {
	iter := c.GetWorkflowHistory(ctx, jobID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !iter.HasNext() {
		return Report{}, errors.New("empty history")
	}
	first, err := iter.Next()
	if err != nil {
		return Report{}, fmt.Errorf("read start event: %w", err)
	}
	var spec Spec
	var cp Checkpoint
	input := first.GetWorkflowExecutionStartedEventAttributes().GetInput()
	if err := converter.GetDefaultDataConverter().FromPayloads(input, &spec, &cp); err != nil {
		return Report{}, fmt.Errorf("decode job input: %w", err)
	}
	if cp.StartedAt.IsZero() {
		cp.StartedAt = first.GetEventTime().AsTime()
	}
	job := jobState{spec: spec.withDefaults(), cp: cp, state: state}
	return job.result(), nil
}

// addInFlight adds the counts of the page being applied, from its heartbeat;
// the workflow itself learns them only when the page ends.
func addInFlight(r *Report, pending []*workflowpb.PendingActivityInfo) {
	for _, act := range pending {
		if act.GetActivityType().GetName() != ApplyPageActivity || act.GetHeartbeatDetails() == nil {
			continue
		}
		var page ApplyResult
		if err := converter.GetDefaultDataConverter().FromPayloads(act.GetHeartbeatDetails(), &page); err != nil {
			continue
		}
		for _, o := range page.Outcomes {
			switch o {
			case completed:
				r.Completed++
			case failed:
				r.Failed++
			case skipped:
				r.Skipped++
			}
		}
	}
}

func executionOf(workflowID, runID string) *commonpb.WorkflowExecution {
	return &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID}
}
