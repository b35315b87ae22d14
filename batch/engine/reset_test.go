package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// A stepper idle at event 9: task 2-4, timer 5-6, task 7-9.
const stepperIdle = 9

func TestResetFirstAndLastWorkflowTask(t *testing.T) {
	tests := []struct {
		resetType string
		want      int64
	}{
		{batch.ResetLastWorkflowTask, 9},
		{batch.ResetFirstWorkflowTask, 4},
	}
	for _, tt := range tests {
		t.Run(tt.resetType, func(t *testing.T) {
			f := newFixture(t, "r-"+strings.ToLower(tt.resetType))
			runs := f.start(t, f.tenant, stepperName, 2, stepperIdle)
			testenv.WaitCount(t, f.targets, "", f.query(), 2)

			r := runJob(t, f.home, f.spec("job-"+f.tenant, resetOp(tt.resetType)))

			requireCounts(t, r, batch.StateCompleted, 2, 2, 0, 0)
			for id, run := range runs {
				requireResetOnce(t, f.targets, id, run, tt.want)
			}
		})
	}
}

func TestResetWorkflowExecutionSignaled(t *testing.T) {
	f := newFixture(t, "r-signaled")
	runs := f.start(t, "r-signaled", stepperName, 3, stepperIdle)
	for _, id := range []string{"r-signaled-1", "r-signaled-2"} {
		f.ping(t, id)
		waitIdle(t, f.targets, id, runs[id], 13) // signal 10, the task that handled it 11-13
	}
	testenv.WaitCount(t, f.targets, "", f.query(), 3)

	r := runJob(t, f.home, f.spec("job-r-signaled", resetOp(batch.ResetWorkflowExecutionSignaled)))

	requireCounts(t, r, batch.StateCompleted, 3, 2, 0, 1)
	requireResetOnce(t, f.targets, "r-signaled-1", runs["r-signaled-1"], 13)
	requireResetOnce(t, f.targets, "r-signaled-2", runs["r-signaled-2"], 13)
	require.Equal(t, runs["r-signaled-3"], testenv.CurrentRun(t, f.targets, "r-signaled-3"), "never signalled: left alone")
}

func TestResetLastContinuedAsNew(t *testing.T) {
	f := newFixture(t, "r-can")
	firstRuns := testenv.StartWorkflows(t, f.targets, targetQueue+"-"+f.tenant, continueName, f.tenant, ids("r-can", 2), false)
	never := testenv.StartWorkflows(t, f.targets, targetQueue+"-"+f.tenant, continueName, f.tenant, []string{"r-can-never"}, true)
	continued := map[string]string{}
	for id, first := range firstRuns {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			continued[id] = testenv.CurrentRun(ct, f.targets, id)
			require.NotEqual(ct, first, continued[id])
		}, testWait, pollEvery)
		waitIdle(t, f.targets, id, continued[id], 4)
	}
	waitIdle(t, f.targets, "r-can-never", never["r-can-never"], 4)
	testenv.WaitCount(t, f.targets, "", f.query(), 3)

	r := runJob(t, f.home, f.spec("job-r-can", resetOp(batch.ResetLastContinuedAsNew)))

	requireCounts(t, r, batch.StateCompleted, 3, 2, 0, 1)
	for id, first := range firstRuns {
		requireContinuedRunReset(t, f, id, first, continued[id])
	}
	require.Equal(t, never["r-can-never"], testenv.CurrentRun(t, f.targets, "r-can-never"))
}

// requireContinuedRunReset checks a LastContinuedAsNew reset: the run that
// continued as new (first) was reset at the task that continued it (event 4),
// the run it had continued into was terminated, and the reset run continued
// as new again into the current run.
func requireContinuedRunReset(t *testing.T, f fixture, workflowID, first, continued string) {
	t.Helper()
	desc, err := f.targets.DescribeWorkflowExecution(context.Background(), workflowID, continued)
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, desc.GetWorkflowExecutionInfo().GetStatus())
	var resetRun string
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		cur := testenv.CurrentRun(ct, f.targets, workflowID)
		resetRun = testenv.History(ct, f.targets, workflowID, cur)[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		require.NotEqual(ct, first, resetRun, "current run still continues the first run")
	}, testWait, pollEvery)
	ev := resetEvent(testenv.History(t, f.targets, workflowID, resetRun))
	require.NotNil(t, ev, "%s: run %s is not a reset run", workflowID, resetRun)
	require.Equal(t, int64(4), ev.GetEventId())
	require.Equal(t, first, ev.GetWorkflowTaskFailedEventAttributes().GetBaseRunId())
}

func TestResetOnlyNonDeterministic(t *testing.T) {
	f := newFixture(t, "r-nde")
	queue := "engine-nde"
	w := startTargetWorker(t, f.targets, queue, func(w worker.Registry) {
		w.RegisterWorkflowWithOptions(drifter, workflow.RegisterOptions{Name: ndeName})
		w.RegisterActivity(noop)
	})
	t.Cleanup(w.Stop)
	bad := testenv.StartWorkflows(t, f.targets, queue, ndeName, f.tenant, []string{"r-nde-bad"}, true)
	good := testenv.StartWorkflows(t, f.targets, queue, ndeName, f.tenant, []string{"r-nde-good"}, false)
	waitIdle(t, f.targets, "r-nde-bad", bad["r-nde-bad"], 10) // task 2-4, activity 5-7, task 8-10
	waitIdle(t, f.targets, "r-nde-good", good["r-nde-good"], 4)

	// The workflow's code changes incompatibly, and the next task of each run
	// replays from history, as on a restarted worker. The worker is not
	// stopped for it: a stopped worker's last poll can still take the ping's
	// task, which then times out and hides the failure of its retry.
	drifted.Store(true)
	t.Cleanup(func() { drifted.Store(false) })
	worker.PurgeStickyWorkflowCache()
	f.ping(t, "r-nde-bad")
	f.ping(t, "r-nde-good")
	if !assert.EventuallyWithT(t, func(ct *assert.CollectT) {
		require.True(ct, LastTaskNonDeterministic(testenv.History(ct, f.targets, "r-nde-bad", "")))
	}, testWait, pollEvery, "bad run never failed with a non-determinism error") {
		logHistory(t, testenv.History(t, f.targets, "r-nde-bad", ""))
		t.FailNow()
	}
	waitIdle(t, f.targets, "r-nde-good", good["r-nde-good"], 8)
	testenv.WaitCount(t, f.targets, "", f.query(), 2)

	op := batch.Reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, OnlyNonDeterministic: true})
	r := runJob(t, f.home, f.spec("job-r-nde", op))

	requireCounts(t, r, batch.StateCompleted, 2, 1, 0, 1)
	requireResetOnce(t, f.targets, "r-nde-bad", bad["r-nde-bad"], 4)
	require.Equal(t, good["r-nde-good"], testenv.CurrentRun(t, f.targets, "r-nde-good"), "healthy run left alone")
}
