package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Workflows on two build ids: a BuildId reset (and its bad-binary form)
// resets those a bad build processed, to that build's first task, and skips
// those it never touched.
func TestResetByBuildIDOnTwoBuilds(t *testing.T) {
	for _, op := range []Operation{
		{Kind: "reset", ResetType: "BuildId", BuildID: "build-bad"},
		{Kind: "reset", ResetType: ResetBadBinary, BadBinaryChecksum: "build-bad"},
	} {
		t.Run(op.ResetType, func(t *testing.T) {
			f := newFixture(t, "builds-"+op.ResetType)
			queue := targetQueue + "-versioned-" + op.ResetType // not the fixture's unversioned worker
			good := worker.New(f.targets, queue, worker.Options{BuildID: "build-good"})
			registerTargets(good)
			require.NoError(t, good.Start())
			runs := testenv.StartWorkflows(t, f.targets, queue, stepperName, f.tenant, ids(f.tenant, 2))
			for id, run := range runs {
				waitIdle(t, f.targets, id, run, 9)
			}
			good.Stop()

			// Only the first workflow gets a task from the bad build.
			bad := worker.New(f.targets, queue, worker.Options{BuildID: "build-bad"})
			registerTargets(bad)
			require.NoError(t, bad.Start())
			t.Cleanup(bad.Stop)
			hit, miss := f.tenant+"-1", f.tenant+"-2"
			f.ping(t, hit)
			ok := assert.Eventually(t, func() bool { return completedByBuild(t, f, hit, runs[hit], "build-bad") },
				30*time.Second, 50*time.Millisecond, "the bad build did not process a task of %s", hit)
			if !ok {
				logHistory(t, testenv.History(t, f.targets, hit, runs[hit]))
				t.FailNow()
			}
			testenv.WaitCount(t, f.targets, "", f.query(), 2)

			// The reset point is the bad build's first completed task: the
			// ping's. Usually event 13 (the good build completed 4 and 9), but
			// a loaded machine can add a timed-out task on the stopped good
			// worker's sticky queue first, so it is read from the history.
			want := pingTaskCompleted(t, f, hit, runs[hit], "build-bad")

			r := runJob(t, f.home, f.spec("job-"+op.ResetType, op))
			requireCounts(t, r, batch.StateCompleted, 2, 1, 0, 1)
			requireResetOnce(t, f.targets, hit, runs[hit], want)
			require.Equal(t, runs[miss], testenv.CurrentRun(t, f.targets, miss), "%s never ran on the bad build", miss)
		})
	}
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

			r := runJob(t, f.home, f.spec("job-cd-"+kind, Operation{Kind: kind}))
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
