package engine

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// A small signal job runs in its first workflow task as one local activity,
// which has no heartbeat. Killing its worker (kill -9) mid-page: the task
// times out, the next worker runs the page again from the listing recorded in
// the job's input, with the same request ids, and every target ends with
// exactly one signal.
func TestLocalPageAfterWorkerKilled(t *testing.T) {
	const tenant, n = "lkill", 5
	targets := dial(t, targetNS)
	home := dial(t, killNS)
	tw := startTargetWorker(t, targets, targetQueue+"-"+tenant, registerTargets)
	t.Cleanup(tw.Stop)
	runs := testenv.StartWorkflows(t, targets, targetQueue+"-"+tenant, stepperName, tenant, ids(tenant, n))
	for id, run := range runs {
		waitIdle(t, targets, id, run, stepperIdle)
	}
	query := "Tenant = '" + tenant + "' AND ExecutionStatus = 'Running'"
	testenv.WaitCount(t, targets, "", query, n)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+temporalHostPort, helperEnv+"_NAMESPACE="+killNS)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// 5 signals at 5/s: a page of 0.8s, short enough to run locally, long
	// enough to kill the worker in the middle of it.
	spec := Spec{JobID: "job-" + tenant, Namespace: targetNS, Query: query, Reason: tenant + " test",
		Operation: batch.Signal(pingSignal, []byte(`"once"`)), RPS: 5}
	require.NoError(t, Start(context.Background(), home, spec))
	killMidJob(t, cmd, targets, runs)

	startEngine(t, home)
	r := waitDone(t, home, spec.JobID)

	requireCounts(t, r, batch.StateCompleted, n, n, 0, 0)
	for id := range runs {
		require.Len(t, testenv.Signals(t, targets, id), 1, "%s: one signal, though the page ran twice", id)
	}
	var timedOut, markers, activities int
	for _, e := range testenv.History(t, home, spec.JobID, "") {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			timedOut++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			markers++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activities++
		}
	}
	require.Positive(t, timedOut, "the killed worker's task was not retried")
	require.Equal(t, []int{1, 0}, []int{markers, activities}, "one local activity, no activity task")
}
