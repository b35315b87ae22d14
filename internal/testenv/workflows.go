package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/batchwire/batchwire/examples/worker/flags"
)

// helper marks the caller as a helper when t can be marked: the helpers that
// take require.TestingT also run inside require.EventuallyWithT, whose
// CollectT cannot.
func helper(t require.TestingT) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
}

// StartWorkflows starts workflowType once per id on taskQueue, tagged with
// the Tenant search attribute rules select on, and returns each id's run id.
func StartWorkflows(t testing.TB, c client.Client, taskQueue, workflowType, tenant string, ids []string, args ...any) map[string]string {
	t.Helper()
	runs := make(map[string]string, len(ids))
	for _, id := range ids {
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: id, TaskQueue: taskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(flags.TenantAttribute.ValueSet(tenant)),
		}, workflowType, args...)
		require.NoError(t, err)
		runs[id] = run.GetRunID()
	}
	return runs
}

// StartFlagWorkflows starts n of the example FlagWorkflows of a tenant, with
// ids prefix-tenant-1 to prefix-tenant-n, and returns the ids. They run once
// a flags worker polls flags.TaskQueue; until then they stay Running, which
// is all a count needs.
func StartFlagWorkflows(t testing.TB, c client.Client, prefix, tenant string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("%s-%s-%d", prefix, tenant, i))
	}
	StartWorkflows(t, c, flags.TaskQueue, flags.WorkflowName, tenant, ids, flags.Params{Tenant: tenant})
	return ids
}

// WaitCount polls CountWorkflowExecutions until query counts want in the
// namespace (empty: the client's), since visibility lags writes.
func WaitCount(t testing.TB, c client.Client, namespace, query string, want int64) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: namespace, Query: query,
		})
		require.NoError(ct, err)
		require.Equal(ct, want, resp.GetCount())
	}, 30*time.Second, 100*time.Millisecond, "visibility did not count %d for %q", want, query)
}

// CurrentRun returns the run id of a workflow's current run, which a reset
// or a continue-as-new replaces.
func CurrentRun(t require.TestingT, c client.Client, workflowID string) string {
	helper(t)
	desc, err := c.DescribeWorkflow(context.Background(), workflowID, "")
	require.NoError(t, err)
	return desc.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// Status returns the status of a workflow's current run.
func Status(t require.TestingT, c client.Client, workflowID string) enumspb.WorkflowExecutionStatus {
	helper(t)
	desc, err := c.DescribeWorkflow(context.Background(), workflowID, "")
	require.NoError(t, err)
	return desc.RawResponse.GetWorkflowExecutionInfo().GetStatus()
}

// Describe returns what the server says of a workflow's current run:
// status, versioning info (and its override).
func Describe(t require.TestingT, c client.Client, workflowID string) *workflowpb.WorkflowExecutionInfo {
	helper(t)
	desc, err := c.DescribeWorkflow(context.Background(), workflowID, "")
	require.NoError(t, err)
	return desc.RawResponse.GetWorkflowExecutionInfo()
}

// Runs lists the run ids visibility holds for a workflow id in the namespace
// (empty: the client's): the original run and each run a reset made.
func Runs(t require.TestingT, c client.Client, namespace, workflowID string) []string {
	helper(t)
	resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: namespace, Query: fmt.Sprintf("WorkflowId = '%s'", workflowID),
	})
	require.NoError(t, err)
	var runs []string
	for _, info := range resp.GetExecutions() {
		runs = append(runs, info.GetExecution().GetRunId())
	}
	return runs
}

// History reads one run's events (the current run when runID is empty).
func History(t require.TestingT, c client.Client, workflowID, runID string) []*historypb.HistoryEvent {
	helper(t)
	var events []*historypb.HistoryEvent
	iter := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	return events
}

// Signals returns the signals in the history of a workflow's current run, in
// the order they arrived: what a batch operation or a rule delivered.
func Signals(t require.TestingT, c client.Client, workflowID string) []*historypb.WorkflowExecutionSignaledEventAttributes {
	helper(t)
	var signals []*historypb.WorkflowExecutionSignaledEventAttributes
	for _, ev := range History(t, c, workflowID, "") {
		if attrs := ev.GetWorkflowExecutionSignaledEventAttributes(); attrs != nil {
			signals = append(signals, attrs)
		}
	}
	return signals
}

// SignalNames returns the names of the signals in a workflow's current run.
func SignalNames(t require.TestingT, c client.Client, workflowID string) []string {
	helper(t)
	var names []string
	for _, attrs := range Signals(t, c, workflowID) {
		names = append(names, attrs.GetSignalName())
	}
	return names
}
