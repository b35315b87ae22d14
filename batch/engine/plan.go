package engine

import (
	"context"
	"fmt"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/batchwire/batchwire/batch"
)

// Execution is one workflow run a job selected. The run id is fixed when the
// page is listed, before anything changes: a run id resolved at apply time
// would, after a crash, name the run our own reset created.
type Execution struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// historyPageSize is the largest page the frontend serves by default.
const historyPageSize = 1000

// plan decides what to do to one execution without changing anything: for a
// reset it reads history and computes the reset point.
func plan(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, exec Execution) (Target, error) {
	target := Target{WorkflowID: exec.WorkflowID, RunID: exec.RunID}
	if exec.RunID == "" {
		target.Skipped, target.Reason = true, "workflow id not found"
		return target, nil
	}
	if spec.Operation.Kind == batch.KindPauseActivities {
		return planPause(ctx, svc, spec, target)
	}
	if spec.Operation.Kind != batch.KindReset {
		return target, nil
	}
	op := *spec.Operation.Reset
	history, err := readHistory(ctx, svc, spec.Namespace, exec.WorkflowID, exec.RunID)
	if err != nil {
		return target, err
	}
	target.ResetRunID = exec.RunID
	if op.Type == batch.ResetLastContinuedAsNew {
		if op.OnlyNonDeterministic && !LastTaskNonDeterministic(history) {
			target.Skipped, target.Reason = true, "last workflow task did not fail with a non-determinism error"
			return target, nil
		}
		// The reset point lies in the run that continued as new (as in tctl).
		target.ResetRunID = history[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if target.ResetRunID == "" {
			target.Skipped, target.Reason = true, "run was not continued from another run"
			return target, nil
		}
		if history, err = readHistory(ctx, svc, spec.Namespace, exec.WorkflowID, target.ResetRunID); err != nil {
			return target, fmt.Errorf("previous run %s: %w", target.ResetRunID, err)
		}
		// Checked on the current run above; the bad binary filter applies to
		// the run that is reset.
		op.OnlyNonDeterministic = false
	}
	eventID, ok, reason := ResetPoint(history, op)
	target.EventID, target.Skipped, target.Reason = eventID, !ok, reason
	return target, nil
}

// readHistory reads a run's whole history; reset points need the full picture
// (the last signal, the last completed task) and histories are bounded by the server.
func readHistory(ctx context.Context, svc workflowservice.WorkflowServiceClient, namespace, workflowID, runID string) ([]*historypb.HistoryEvent, error) {
	req := &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:       namespace,
		Execution:       executionOf(workflowID, runID),
		MaximumPageSize: historyPageSize,
	}
	var events []*historypb.HistoryEvent
	for {
		resp, err := svc.GetWorkflowExecutionHistory(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("read history of %s/%s: %w", workflowID, runID, err)
		}
		events = append(events, resp.GetHistory().GetEvents()...)
		if len(resp.GetNextPageToken()) == 0 {
			break
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("history of %s/%s is empty", workflowID, runID)
	}
	return events, nil
}
