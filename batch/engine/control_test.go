package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t, "dry")
	runs := f.start(t, "dry", stepperName, 3, stepperIdle)
	for _, id := range []string{"dry-1", "dry-2"} {
		f.ping(t, id)
		waitIdle(t, f.targets, id, runs[id], 13)
	}
	testenv.WaitCount(t, f.targets, "", f.query(), 3)
	lengths := map[string]int{}
	for id := range runs {
		lengths[id] = len(testenv.History(t, f.targets, id, ""))
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
		require.Equal(t, run, testenv.CurrentRun(t, f.targets, id), id)
		require.Len(t, testenv.History(t, f.targets, id, ""), lengths[id], "%s: history changed", id)
	}
}

func TestStopDescribeListAndDuplicates(t *testing.T) {
	f := newFixture(t, "stop")
	f.start(t, "stop", stepperName, 4, stepperIdle)
	testenv.WaitCount(t, f.targets, "", f.query(), 4)
	spec := f.spec("job-stop", batch.Signal(pingSignal, []byte(`"slow"`)))
	spec.RPS = 0.5 // one signal every two seconds: time to stop it mid-page

	require.NoError(t, Start(context.Background(), f.home, spec))
	require.ErrorIs(t, Start(context.Background(), f.home, spec), batch.ErrAlreadyStarted, "running duplicate")
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		require.GreaterOrEqual(ct, signalledCount(ct, f, 4), 1)
	}, testWait, pollEvery)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		running, err := Describe(context.Background(), f.home, spec.JobID)
		require.NoError(ct, err)
		require.Equal(ct, batch.StateRunning, running.State)
		require.GreaterOrEqual(ct, running.Completed, int64(1), "the page in flight counts from its heartbeat")
	}, testWait, pollEvery)
	value, err := f.home.QueryWorkflow(context.Background(), spec.JobID, "", ProgressQuery)
	require.NoError(t, err)
	var progress batch.Progress // the query answers in the shape of a server job's progress
	require.NoError(t, value.Get(&progress))
	require.Equal(t, spec.JobID, progress.JobID)
	require.Equal(t, batch.StateRunning, progress.State)
	require.Equal(t, int64(4), progress.Total)
	require.NoError(t, Stop(context.Background(), f.home, spec.JobID, "operator said so"))

	r := waitDone(t, f.home, spec.JobID)
	require.Equal(t, batch.StateStopped, r.State)
	require.Equal(t, "operator said so", r.StopReason)
	require.Equal(t, int64(4), r.Total)
	require.Equal(t, int64(signalledCount(t, f, 4)), r.Completed, "counts match the signals sent")
	require.Less(t, r.Completed, int64(4), "stopped before the end")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, testenv.Status(t, f.home, spec.JobID))

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

func signalledCount(t require.TestingT, f fixture, n int) int {
	count := 0
	for _, id := range ids("stop", n) {
		count += len(testenv.Signals(t, f.targets, id))
	}
	return count
}

func TestContinueAsNewKeepsCounts(t *testing.T) {
	f := newFixture(t, "can-job")
	f.start(t, "can-job", stepperName, 2, stepperIdle)
	spec := f.spec("job-can", batch.Signal(pingSignal, []byte(`"x"`)))
	spec.Query, spec.PageSize = "", 1
	// pagesPerRun+1 one-id pages: the job continues as new once.
	spec.IncludeIDs = append([]string{"can-job-1"}, ids("can-job-missing", pagesPerRun-1)...)
	spec.IncludeIDs = append(spec.IncludeIDs, "can-job-2")

	r := runJob(t, f.home, spec)

	requireCounts(t, r, batch.StateCompleted, pagesPerRun+1, 2, 0, pagesPerRun-1)
	testenv.WaitCount(t, f.home, "", "WorkflowId = 'job-can'", 2)
	jobs, err := List(context.Background(), f.home, 100)
	require.NoError(t, err)
	listed := slices.DeleteFunc(jobs, func(p batch.Progress) bool { return p.JobID != spec.JobID })
	require.Equal(t, []batch.Progress{r.Progress}, listed, "one entry per job, not per run")
}

func TestInvalidQueryFailsTheJob(t *testing.T) {
	f := newFixture(t, "bad-query")
	spec := f.spec("job-bad-query", batch.Terminate())
	spec.Query = "Tenant = "

	r := runJob(t, f.home, spec)

	require.Equal(t, batch.StateFailed, r.State)
	require.NotEmpty(t, r.Errors)
	require.Contains(t, r.Errors[len(r.Errors)-1], "Tenant = ")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, testenv.Status(t, f.home, spec.JobID))
}
