package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Workflows on two build ids, one of which a bad build touched. A BuildId or
// BadBinary reset resets it to the bad build's first task. bad_binary_checksum
// beside any other reset type is a filter: the run the bad build touched is
// reset to the point that type names, the untouched run is skipped, never
// reset. Beside LastContinuedAsNew the filter applies to the run that
// continued as new; these runs never continued, so both are skipped.
func TestResetByBuildIDOnTwoBuilds(t *testing.T) {
	const bad = "build-bad"
	type point func(events []*historypb.HistoryEvent, badTask int64) int64
	badFirst := func(_ []*historypb.HistoryEvent, badTask int64) int64 { return badTask }
	tests := []struct {
		name  string
		opts  batch.ResetOptions
		point point // nil: nothing is reset
	}{
		{"BuildId", batch.ResetOptions{Type: batch.ResetBuildID, BuildID: bad}, badFirst},
		{"BadBinary", batch.ResetOptions{Type: batch.ResetBadBinary, BadBinaryChecksum: bad}, badFirst},
		{"FirstWorkflowTask-filtered", batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BadBinaryChecksum: bad},
			func(events []*historypb.HistoryEvent, _ int64) int64 { return completedTasks(events)[0] }},
		{"LastWorkflowTask-filtered", batch.ResetOptions{Type: batch.ResetLastWorkflowTask, BadBinaryChecksum: bad},
			func(events []*historypb.HistoryEvent, _ int64) int64 { return slices.Max(completedTasks(events)) }},
		{"Signaled-filtered", batch.ResetOptions{Type: batch.ResetWorkflowExecutionSignaled, BadBinaryChecksum: bad},
			badFirst}, // the ping is the last signal, and the bad build's task handled it
		{"BuildId-filtered", batch.ResetOptions{Type: batch.ResetBuildID, BuildID: bad, BadBinaryChecksum: bad}, badFirst},
		{"LastContinuedAsNew-filtered", batch.ResetOptions{Type: batch.ResetLastContinuedAsNew, BadBinaryChecksum: bad}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, runs, hit, miss := twoBuilds(t, tt.name, bad)
			badTask := pingTaskCompleted(t, f, hit, runs[hit], bad)
			r := runJob(t, f.home, f.spec("job-"+tt.name, batch.Reset(tt.opts)))
			require.Equal(t, runs[miss], testenv.CurrentRun(t, f.targets, miss), "%s never ran on the bad build", miss)
			if tt.point == nil {
				requireCounts(t, r, batch.StateCompleted, 2, 0, 0, 2)
				require.Equal(t, runs[hit], testenv.CurrentRun(t, f.targets, hit), "%s has no run that continued as new", hit)
				return
			}
			requireCounts(t, r, batch.StateCompleted, 2, 1, 0, 1)
			requireResetOnce(t, f.targets, hit, runs[hit], tt.point(testenv.History(t, f.targets, hit, runs[hit]), badTask))
		})
	}
}

// twoBuilds starts two workflows on build-good; then only the first (hit)
// gets a task from the bad build.
func twoBuilds(t *testing.T, name, bad string) (f fixture, runs map[string]string, hit, miss string) {
	f = newFixture(t, "builds-"+strings.ToLower(name))
	queue := targetQueue + "-versioned-" + name // not the fixture's unversioned worker
	good := worker.New(f.targets, queue, worker.Options{BuildID: "build-good"})
	registerTargets(good)
	require.NoError(t, good.Start())
	runs = testenv.StartWorkflows(t, f.targets, queue, stepperName, f.tenant, ids(f.tenant, 2))
	for id, run := range runs {
		waitIdle(t, f.targets, id, run, 9)
	}
	good.Stop()

	badWorker := worker.New(f.targets, queue, worker.Options{BuildID: bad})
	registerTargets(badWorker)
	require.NoError(t, badWorker.Start())
	t.Cleanup(badWorker.Stop)
	hit, miss = f.tenant+"-1", f.tenant+"-2"
	f.ping(t, hit)
	ok := assert.Eventually(t, func() bool { return completedByBuild(t, f, hit, runs[hit], bad) },
		30*time.Second, 50*time.Millisecond, "the bad build did not process a task of %s", hit)
	if !ok {
		logHistory(t, testenv.History(t, f.targets, hit, runs[hit]))
		t.FailNow()
	}
	waitIdle(t, f.targets, hit, runs[hit], 13) // the ping's task completed; no task runs during the job
	testenv.WaitCount(t, f.targets, "", f.query(), 2)
	return f, runs, hit, miss
}

// completedTasks lists the ids of the WorkflowTaskCompleted events.
func completedTasks(events []*historypb.HistoryEvent) []int64 {
	var out []int64
	for _, ev := range events {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			out = append(out, ev.GetEventId())
		}
	}
	return out
}

// completedByBuild reports whether a workflow task of the run was completed by buildID.
func completedByBuild(t *testing.T, f fixture, id, run, buildID string) bool {
	for _, ev := range testenv.History(t, f.targets, id, run) {
		attrs := ev.GetWorkflowTaskCompletedEventAttributes()
		if attrs != nil && completedBy(attrs, buildID) {
			return true
		}
	}
	return false
}

// Cancel and delete on the client engine, each on the selected workflows only.
func TestCancelAndDeleteOnTheClientEngine(t *testing.T) {
	for _, kind := range []string{"cancel", "delete"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, "cd-"+kind)
			hits := f.start(t, "cd-"+kind+"-hit", stepperName, 2, 9)
			misses := f.startAs(t, "cd-"+kind+"-other", "cd-"+kind+"-miss", stepperName, 1, 9)
			testenv.WaitCount(t, f.targets, "", f.query(), 2)

			r := runJob(t, f.home, f.spec("job-cd-"+kind, batch.Operation{Kind: kind}))
			requireCounts(t, r, batch.StateCompleted, 2, 2, 0, 0)
			for id := range hits {
				if kind == "cancel" {
					// A cancel is a request the workflow handles in its own
					// way; its mark is the request in the history.
					require.True(t, cancelRequested(t, f, id), "%s got no cancel request", id)
					continue
				}
				require.Eventually(t, func() bool {
					_, err := f.targets.DescribeWorkflow(context.Background(), id, "")
					var notFound *serviceerror.NotFound
					return errors.As(err, &notFound)
				}, 30*time.Second, 50*time.Millisecond, "%s was not deleted", id)
			}
			for id := range misses {
				require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, testenv.Status(t, f.targets, id), id)
				require.False(t, cancelRequested(t, f, id), id)
			}
		})
	}
}

func cancelRequested(t *testing.T, f fixture, id string) bool {
	for _, ev := range testenv.History(t, f.targets, id, "") {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED {
			return true
		}
	}
	return false
}

// pingTaskCompleted returns the id of the first WorkflowTaskCompleted event
// after the ping signal, requiring that buildID completed it.
func pingTaskCompleted(t *testing.T, f fixture, id, run, buildID string) int64 {
	t.Helper()
	events := testenv.History(t, f.targets, id, run)
	signalled := false
	for _, ev := range events {
		if ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == pingSignal {
			signalled = true
		}
		attrs := ev.GetWorkflowTaskCompletedEventAttributes()
		if !signalled || attrs == nil {
			continue
		}
		require.Equal(t, buildID, attrs.GetWorkerVersion().GetBuildId(),
			"%s: first task after the ping, event %d", id, ev.GetEventId())
		return ev.GetEventId()
	}
	logHistory(t, events)
	t.Fatalf("%s: no completed workflow task after the ping", id)
	return 0
}
