package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/batchwire/batchwire/batch"
)

// TestResumeAfterWorkerStopResetsEachOnce is the acceptance test "kill the
// daemon while a client-side job runs and it resumes without resetting
// anything twice": the engine worker stops mid-page, a new one takes the page
// over from its heartbeat, and every execution ends up reset exactly once.
func TestResumeAfterWorkerStopResetsEachOnce(t *testing.T) {
	targets := dial(t, targetNS)
	home := dial(t, crashNS)
	tw := startTargetWorker(t, targets, targetQueue+"-crash", registerTargets)
	t.Cleanup(tw.Stop)
	runs := startWorkflows(t, targets, targetQueue+"-crash", "crash", stepperName, ids("crash", 6))
	for id, run := range runs {
		waitIdle(t, targets, id, run, stepperIdle)
	}
	query := "Tenant = 'crash' AND ExecutionStatus = 'Running'"
	waitVisible(t, targets, query, 6)

	first := NewWorker(home)
	require.NoError(t, first.Start())
	spec := Spec{JobID: "job-crash", Namespace: targetNS, Query: query, Reason: "crash test",
		Operation: resetOp(batch.ResetLastWorkflowTask), RPS: 2}
	started := time.Now()
	require.NoError(t, Start(context.Background(), home, spec))
	require.Eventually(t, func() bool { return resetCount(t, targets, runs) >= 1 }, testWait, 10*time.Millisecond)
	first.Stop()
	before := resetCount(t, targets, runs)
	t.Logf("worker stopped after %s with %d of 6 reset", time.Since(started).Round(time.Millisecond), before)
	require.Less(t, before, 6, "the job finished before the worker stopped; nothing to resume")

	startEngine(t, home)
	r := waitDone(t, home, spec.JobID)

	requireCounts(t, r, batch.StateCompleted, 6, 6, 0, 0)
	for id, run := range runs {
		requireResetOnce(t, targets, id, run, stepperIdle)
	}
	attempt, page := finalApply(t, home, spec.JobID)
	require.GreaterOrEqual(t, attempt, int32(2), "the page was not retried")
	require.GreaterOrEqual(t, page.Resumed, before, "the retry did not start from the heartbeat")
}

// resetCount counts the workflows whose current run is no longer the original.
func resetCount(t *testing.T, c client.Client, runs map[string]string) int {
	n := 0
	for id, run := range runs {
		desc, err := c.DescribeWorkflowExecution(context.Background(), id, "")
		require.NoError(t, err)
		if desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() != run {
			n++
		}
	}
	return n
}

// finalApply returns the attempt that completed the job's ApplyPage (the
// server records only the last attempt's start) and its result.
func finalApply(t *testing.T, home client.Client, jobID string) (int32, ApplyResult) {
	t.Helper()
	var attempt int32
	var page ApplyResult
	for _, e := range history(t, home, jobID, "") {
		if attrs := e.GetActivityTaskStartedEventAttributes(); attrs != nil {
			attempt = attrs.GetAttempt()
		}
		if attrs := e.GetActivityTaskCompletedEventAttributes(); attrs != nil {
			// The list page's result has no outcomes; the apply page's has.
			var res ApplyResult
			if converter.GetDefaultDataConverter().FromPayloads(attrs.GetResult(), &res) == nil && len(res.Outcomes) > 0 {
				page = res
				break
			}
		}
	}
	return attempt, page
}
