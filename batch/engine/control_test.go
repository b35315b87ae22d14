package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/batchwire/batchwire/batch"
)

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, "dry")
	runs := f.start(t, "dry", stepperName, 3, stepperIdle)
	for _, id := range []string{"dry-1", "dry-2"} {
		f.ping(t, id)
		waitIdle(t, f.targets, id, runs[id], 13)
	}
	waitVisible(t, f.targets, f.query(), 3)
	lengths := map[string]int{}
	for id := range runs {
		lengths[id] = len(history(t, f.targets, id, ""))
	}
	spec := f.spec("job-dry", resetOp(batch.ResetWorkflowExecutionSignaled))

	targets, err := DryRun(context.Background(), f.home, spec)
	require.NoError(t, err)
	slices.SortFunc(targets, func(a, b Target) int { return strings.Compare(a.WorkflowID, b.WorkflowID) })
	require.Equal(t, []Target{
		{WorkflowID: "dry-1", RunID: runs["dry-1"], ResetRunID: runs["dry-1"], EventID: 13},
		{WorkflowID: "dry-2", RunID: runs["dry-2"], ResetRunID: runs["dry-2"], EventID: 13},
		{WorkflowID: "dry-3", RunID: runs["dry-3"], ResetRunID: runs["dry-3"], Skipped: true, Reason: "never signalled"},
	}, targets)

	// A dry-run job plans through the workflow and counts what it would do.
	spec.DryRun = true
	r := runJob(t, f.home, spec)
	requireCounts(t, r, batch.StateCompleted, 3, 2, 0, 1)

	for id, run := range runs {
		require.Equal(t, run, currentRunOf(t, f.targets, id), id)
		require.Len(t, history(t, f.targets, id, ""), lengths[id], "%s: history changed", id)
	}
}

func TestStopDescribeListAndDuplicates(t *testing.T) {
	f := newFixture(t, "stop")
	f.start(t, "stop", stepperName, 4, stepperIdle)
	waitVisible(t, f.targets, f.query(), 4)
	spec := f.spec("job-stop", Operation{Kind: "signal", SignalName: pingSignal, SignalInput: []byte(`"slow"`)})
	spec.RPS = 0.5 // one signal every two seconds: time to stop it mid-page

	require.NoError(t, Start(context.Background(), f.home, spec))
	require.ErrorIs(t, Start(context.Background(), f.home, spec), batch.ErrAlreadyStarted, "running duplicate")
	require.Eventually(t, func() bool { return signalledCount(t, f, 4) >= 1 }, testWait, pollEvery)
	running, err := Describe(context.Background(), f.home, spec.JobID)
	require.NoError(t, err)
	require.Equal(t, batch.StateRunning, running.State)
	require.NoError(t, Stop(context.Background(), f.home, spec.JobID, "operator said so"))

	r := waitDone(t, f.home, spec.JobID)
	require.Equal(t, batch.StateStopped, r.State)
	require.Equal(t, "operator said so", r.StopReason)
	require.Equal(t, int64(4), r.Total)
	require.Equal(t, int64(signalledCount(t, f, 4)), r.Completed, "counts match the signals sent")
	require.Less(t, r.Completed, int64(4), "stopped before the end")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, status(t, f.home, spec.JobID))

	require.NoError(t, Stop(context.Background(), f.home, spec.JobID, "again"), "stopping a closed job is a no-op")
	require.ErrorIs(t, Start(context.Background(), f.home, spec), batch.ErrAlreadyStarted, "closed duplicate")
	_, err = Describe(context.Background(), f.home, "no-such-job")
	require.ErrorIs(t, err, batch.ErrNotFound)

	jobs, err := List(context.Background(), f.home, 100)
	require.NoError(t, err)
	i := slices.IndexFunc(jobs, func(p batch.Progress) bool { return p.JobID == spec.JobID })
	require.GreaterOrEqual(t, i, 0, "job not listed")
	require.Equal(t, r.Progress, jobs[i])
}

func signalledCount(t *testing.T, f fixture, n int) int {
	t.Helper()
	count := 0
	for _, id := range ids("stop", n) {
		count += len(signalsIn(t, f.targets, id))
	}
	return count
}
