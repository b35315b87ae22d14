package batch

import (
	"context"
	"fmt"
	"time"

	batchpb "go.temporal.io/api/batch/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// listPageSize bounds each list RPC; the server caps pages anyway, and small
// pages let a limited listing stop early.
const listPageSize = 100

// Execution is one workflow execution as visibility lists it.
type Execution struct {
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	StartTime  time.Time `json:"start_time,omitzero"`
}

// ListJobs returns up to limit batch jobs of the namespace (0: all of them),
// as the server lists them. The list carries no counts, reason or query:
// Describe a job for those.
func (c *Client) ListJobs(ctx context.Context, namespace string, limit int) ([]Progress, error) {
	var jobs []Progress
	var token []byte
	for {
		resp, err := c.svc.ListBatchOperations(ctx, &workflowservice.ListBatchOperationsRequest{
			Namespace: namespace, PageSize: listPageFor(limit, len(jobs)), NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list batch jobs in namespace %q: %w", namespace, err)
		}
		for _, info := range resp.GetOperationInfo() {
			jobs = append(jobs, listedJob(namespace, info))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || listLimitReached(limit, len(jobs)) {
			return listFirstN(jobs, limit), nil
		}
	}
}

func listedJob(namespace string, info *batchpb.BatchOperationInfo) Progress {
	return Progress{
		JobID:     info.GetJobId(),
		Namespace: namespace,
		Operation: operationName(info.GetOperationType()),
		State:     stateName(info.GetState()),
		StartTime: info.GetStartTime().AsTime(),
		CloseTime: closeTime(info.GetCloseTime().AsTime()),
	}
}

// ListWorkflows returns up to limit executions matching the visibility query
// (0: all of them). Visibility is eventually consistent: an execution started
// a moment ago may be missing.
func (c *Client) ListWorkflows(ctx context.Context, namespace, query string, limit int) ([]Execution, error) {
	var out []Execution
	var token []byte
	for {
		resp, err := c.svc.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query, PageSize: listPageFor(limit, len(out)), NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", err)
		}
		for _, info := range resp.GetExecutions() {
			out = append(out, Execution{
				WorkflowID: info.GetExecution().GetWorkflowId(),
				RunID:      info.GetExecution().GetRunId(),
				Type:       info.GetType().GetName(),
				Status:     info.GetStatus().String(),
				StartTime:  info.GetStartTime().AsTime(),
			})
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 || listLimitReached(limit, len(out)) {
			return listFirstN(out, limit), nil
		}
	}
}

// pageSize asks for no more than the rest of the limit.
func listPageFor(limit, have int) int32 {
	if limit <= 0 || limit-have >= listPageSize {
		return listPageSize
	}
	return int32(limit - have) //nolint:gosec // below listPageSize here
}

func listLimitReached(limit, have int) bool { return limit > 0 && have >= limit }

func listFirstN[T any](items []T, limit int) []T {
	if limit > 0 && len(items) > limit {
		return items[:limit]
	}
	return items
}
