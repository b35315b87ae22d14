package batch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// untilDoneOrCanceled runs until signalled "done" or cancelled; a cancel
// ends it as Canceled, so a batch cancel shows in its status.
func untilDoneOrCanceled(ctx workflow.Context) error {
	for {
		sel := workflow.NewSelector(ctx)
		done := false
		sel.AddReceive(workflow.GetSignalChannel(ctx, "done"), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); done = true })
		sel.AddReceive(workflow.GetSignalChannel(ctx, "poke"), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if done {
			return nil
		}
	}
}

func startOpsWorker(t *testing.T, c client.Client, queue, buildID string) worker.Worker {
	t.Helper()
	w := worker.New(c, queue, worker.Options{BuildID: buildID})
	w.RegisterWorkflowWithOptions(untilDoneOrCanceled, workflow.RegisterOptions{Name: "UntilDoneOrCanceled"})
	require.NoError(t, w.Start())
	return w
}

func startOps(t *testing.T, c client.Client, queue string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: queue}, "UntilDoneOrCanceled")
		require.NoError(t, err)
	}
}

// runServerJob launches a job on the server batcher and waits for its end.
func runServerJob(t *testing.T, l *batch.Launcher, rec *recorder, job batch.Job) batch.Progress {
	t.Helper()
	outcome, err := l.Launch(context.Background(), job, batch.EngineServer)
	require.NoError(t, err)
	require.Equal(t, batch.OutcomeLaunched, outcome)
	var p batch.Progress
	require.Eventually(t, func() bool {
		var ok bool
		p, ok = rec.finishedJob(job.ID)
		return ok
	}, 60*time.Second, 50*time.Millisecond, "job %s did not end", job.ID)
	return p
}

// Terminate, cancel and delete on the server batcher, each on its own
// workflows and on no others.
func TestServerTerminateCancelDelete(t *testing.T) {
	const ns, queue = "launch-ops", "ops"
	sdk := testenv.Dial(t, temporalHostPort, ns)
	w := startOpsWorker(t, sdk, queue, "")
	defer w.Stop()
	startOps(t, sdk, queue, "term-1", "term-2", "cancel-1", "cancel-2", "delete-1", "delete-2", "keep-1")
	testenv.WaitCount(t, sdk, ns, "WorkflowType = 'UntilDoneOrCanceled' AND ExecutionStatus = 'Running'", 7)
	rec := newRecorder()
	l := newLauncher(t, dialBatch(t, ns), rec, 0)

	for _, tt := range []struct {
		prefix string
		op     batch.Operation
	}{{"term", batch.Terminate()}, {"cancel", batch.Cancel()}, {"delete", batch.Delete()}} {
		query := fmt.Sprintf("WorkflowId STARTS_WITH '%s-' AND ExecutionStatus = 'Running'", tt.prefix)
		p := runServerJob(t, l, rec, batch.Job{ID: "ops-" + tt.prefix, Namespace: ns, Query: query, Reason: "test", Op: tt.op})
		require.Equal(t, batch.StateCompleted, p.State)
		require.EqualValues(t, 2, p.Completed, tt.prefix)
	}
	for _, id := range []string{"term-1", "term-2"} {
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, testenv.Status(t, sdk, id), id)
	}
	for _, id := range []string{"cancel-1", "cancel-2"} {
		require.Eventually(t, func() bool { return testenv.Status(t, sdk, id) == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED },
			30*time.Second, 50*time.Millisecond, id)
	}
	for _, id := range []string{"delete-1", "delete-2"} {
		require.Eventually(t, func() bool {
			_, err := sdk.DescribeWorkflow(context.Background(), id, "")
			var notFound *serviceerror.NotFound
			return errors.As(err, &notFound)
		}, 30*time.Second, 50*time.Millisecond, "%s was not deleted", id)
	}
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, testenv.Status(t, sdk, "keep-1"))
}

// A BuildId reset resets the workflows a given build processed, to the first
// task of that build, and leaves those it never processed.
func TestServerResetByBuildID(t *testing.T) {
	const ns, queue = "launch-ops", "builds"
	sdk := testenv.Dial(t, temporalHostPort, ns)
	old := startOpsWorker(t, sdk, queue, "build-old")
	startOps(t, sdk, queue, "build-a", "build-b")
	waitFirstTask(t, sdk, "build-a", "build-b")
	old.Stop()

	bad := startOpsWorker(t, sdk, queue, "build-bad")
	defer bad.Stop()
	// Only build-a gets a task processed by the bad build.
	require.NoError(t, sdk.SignalWorkflow(context.Background(), "build-a", "", "poke", nil))
	require.Eventually(t, func() bool { return processedBy(t, sdk, "build-a", "build-bad") }, 30*time.Second, 50*time.Millisecond)
	before := map[string]string{"build-a": testenv.CurrentRun(t, sdk, "build-a"), "build-b": testenv.CurrentRun(t, sdk, "build-b")}
	testenv.WaitCount(t, sdk, ns, "WorkflowId STARTS_WITH 'build-' AND ExecutionStatus = 'Running'", 2)

	rec := newRecorder()
	l := newLauncher(t, dialBatch(t, ns), rec, 0)
	runServerJob(t, l, rec, batch.Job{ID: "reset-build-bad", Namespace: ns, Reason: "bad build",
		Query: "WorkflowId STARTS_WITH 'build-' AND ExecutionStatus = 'Running'",
		Op:    batch.Reset(batch.ResetOptions{Type: batch.ResetBuildID, BuildID: "build-bad"})})

	require.Eventually(t, func() bool { return testenv.CurrentRun(t, sdk, "build-a") != before["build-a"] }, 30*time.Second, 50*time.Millisecond,
		"build-a, processed by the bad build, was not reset")
	require.Equal(t, before["build-b"], testenv.CurrentRun(t, sdk, "build-b"), "build-b never ran on the bad build")
}

// processedBy reports whether a workflow task of the workflow was completed by buildID.
func processedBy(t *testing.T, c client.Client, id, buildID string) bool {
	t.Helper()
	for _, ev := range testenv.History(t, c, id, "") {
		attrs := ev.GetWorkflowTaskCompletedEventAttributes()
		if attrs != nil && (attrs.GetWorkerVersion().GetBuildId() == buildID || attrs.GetBinaryChecksum() == buildID) {
			return true
		}
	}
	return false
}

func waitFirstTask(t *testing.T, c client.Client, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.Eventually(t, func() bool { return processedBy(t, c, id, "build-old") }, 30*time.Second, 50*time.Millisecond, id)
	}
}
