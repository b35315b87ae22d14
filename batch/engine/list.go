package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"
)

// PageRequest asks ListPage for the page after Token.
type PageRequest struct {
	Spec  Spec   `json:"spec"`
	Token []byte `json:"token,omitempty"`
	// StartedAt is when the job began; executions started later are left out
	// (see selectable).
	StartedAt time.Time `json:"started_at"`
}

// Page is one page of selected executions.
type Page struct {
	Executions []Execution `json:"executions"`
	NextToken  []byte      `json:"next_token,omitempty"`
}

// Error types the workflow does not retry.
const (
	errInvalidSpec  = "InvalidSpec"
	errInvalidQuery = "InvalidQuery"
)

// listPage selects the next page: from visibility when the spec has a query,
// else straight from the include list (each id's current run), which needs no
// visibility and sees workflows started a moment ago.
func listPage(ctx context.Context, svc workflowservice.WorkflowServiceClient, req PageRequest) (Page, error) {
	spec := req.Spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return Page{}, temporal.NewNonRetryableApplicationError(err.Error(), errInvalidSpec, err)
	}
	if spec.Query == "" {
		return includePage(ctx, svc, spec, req.Token)
	}
	resp, err := svc.ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: spec.Namespace, Query: spec.Query, NextPageToken: req.Token,
		PageSize: int32(spec.PageSize), //nolint:gosec // Validate bounds it by maxPageSize
	})
	if err != nil {
		return Page{}, listError(spec, err)
	}
	include, exclude := idSet(spec.IncludeIDs), idSet(spec.ExcludeIDs)
	page := Page{NextToken: resp.GetNextPageToken()}
	for _, info := range resp.GetExecutions() {
		id := info.GetExecution().GetWorkflowId()
		if exclude[id] || (include != nil && !include[id]) || !selectable(info.GetStartTime().AsTime(), req.StartedAt) {
			continue
		}
		if info.GetType().GetName() == WorkflowName {
			// Engine jobs live in the daemon's namespace: a broad query there
			// (every running workflow) must not make a job act on itself or
			// on another job.
			continue
		}
		page.Executions = append(page.Executions, Execution{WorkflowID: id, RunID: info.GetExecution().GetRunId()})
	}
	return page, nil
}

// selectable leaves out runs that started after the job: a reset's new run
// starts at the reset (measured on server 1.29) and matches the same query, so
// without this a later page could reset it again. It also makes the job act on
// the executions that existed when it began. Both times are the server's:
// workflow.Now is the time of the workflow task.
func selectable(runStart, jobStart time.Time) bool {
	return jobStart.IsZero() || !runStart.After(jobStart)
}

func listError(spec Spec, err error) error {
	var invalid *serviceerror.InvalidArgument
	var nsNotFound *serviceerror.NamespaceNotFound
	if errors.As(err, &invalid) || errors.As(err, &nsNotFound) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("list %q in namespace %s: %v", spec.Query, spec.Namespace, err), errInvalidQuery, err)
	}
	return fmt.Errorf("list %q in namespace %s: %w", spec.Query, spec.Namespace, err)
}

// includePage resolves each include id to its current run; the token is the
// offset into the include list.
func includePage(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, token []byte) (Page, error) {
	offset := 0
	if len(token) > 0 {
		n, err := strconv.Atoi(string(token))
		if err != nil {
			return Page{}, temporal.NewNonRetryableApplicationError("bad include page token", errInvalidSpec, err)
		}
		offset = n
	}
	end := min(offset+spec.PageSize, len(spec.IncludeIDs))
	exclude := idSet(spec.ExcludeIDs)
	var page Page
	for _, id := range spec.IncludeIDs[offset:end] {
		if exclude[id] {
			continue
		}
		runID, err := currentRun(ctx, svc, spec.Namespace, id)
		if err != nil {
			return Page{}, err
		}
		page.Executions = append(page.Executions, Execution{WorkflowID: id, RunID: runID})
	}
	if end < len(spec.IncludeIDs) {
		page.NextToken = []byte(strconv.Itoa(end))
	}
	return page, nil
}

// currentRun returns the id's current run, or "" when no workflow has the id.
func currentRun(ctx context.Context, svc workflowservice.WorkflowServiceClient, namespace, workflowID string) (string, error) {
	resp, err := svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
		Namespace: namespace, Execution: executionOf(workflowID, ""),
	})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", workflowID, err)
	}
	return resp.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
}

func idSet(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set
}
