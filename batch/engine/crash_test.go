package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// TestResumeAfterWorkerStop is the acceptance test "stop the daemon while a
// client-side job runs and it resumes without resetting anything twice", for
// a graceful stop (SIGTERM): the stopping worker hands the page back at once
// and a new worker takes it over from its heartbeat.
func TestResumeAfterWorkerStop(t *testing.T) {
	page := testResume(t, "crash", crashNS, func(t *testing.T, home client.Client) func() {
		w := NewWorker(home)
		require.NoError(t, w.Start())
		return w.Stop
	})
	require.Positive(t, page.Resumed, "the retry did not start from the heartbeat")
}

// TestResumeAfterWorkerKilled is the same with kill -9: the page moves on
// after the heartbeat timeout, and calls the last heartbeat missed are
// repeated with the same request id, which the server drops.
func TestResumeAfterWorkerKilled(t *testing.T) {
	testResume(t, "kill", killNS, func(t *testing.T, _ client.Client) func() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+temporalHostPort, helperEnv+"_NAMESPACE="+killNS)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return func() { require.NoError(t, cmd.Process.Kill()) }
	})
}

// testResume resets six workflows at 2/s on the worker that startWorker
// starts, kills it with the function returned once one is reset, then lets
// an in-process worker finish. It returns the result of the completing attempt.
func testResume(t *testing.T, tenant, homeNamespace string, startWorker func(*testing.T, client.Client) func()) ApplyResult {
	targets := dial(t, targetNS)
	home := dial(t, homeNamespace)
	tw := startTargetWorker(t, targets, targetQueue+"-"+tenant, registerTargets)
	t.Cleanup(tw.Stop)
	runs := testenv.StartWorkflows(t, targets, targetQueue+"-"+tenant, stepperName, tenant, ids(tenant, 6))
	for id, run := range runs {
		waitIdle(t, targets, id, run, stepperIdle)
	}
	query := fmt.Sprintf("Tenant = '%s' AND ExecutionStatus = 'Running'", tenant)
	testenv.WaitCount(t, targets, "", query, 6)

	stopWorker := startWorker(t, home)
	spec := Spec{JobID: "job-" + tenant, Namespace: targetNS, Query: query, Reason: tenant + " test",
		Operation: resetOp(batch.ResetLastWorkflowTask), RPS: 2}
	started := time.Now()
	require.NoError(t, Start(context.Background(), home, spec))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		require.GreaterOrEqual(ct, resetCount(ct, targets, runs), 1)
	}, testWait, 10*time.Millisecond)
	stopWorker()
	before := resetCount(t, targets, runs)
	t.Logf("worker gone after %s with %d of 6 reset", time.Since(started).Round(time.Millisecond), before)
	require.Less(t, before, 6, "the job finished before the worker went; nothing to resume")

	startEngine(t, home)
	r := waitDone(t, home, spec.JobID)

	requireCounts(t, r, batch.StateCompleted, 6, 6, 0, 0)
	for id, run := range runs {
		requireResetOnce(t, targets, id, run, stepperIdle)
	}
	attempt, page := finalApply(t, home, spec.JobID)
	t.Logf("page completed by attempt %d, %d outcomes taken from the heartbeat, after %s",
		attempt, page.Resumed, time.Since(started).Round(time.Millisecond))
	require.GreaterOrEqual(t, attempt, int32(2), "the page was not retried")
	return page
}

// resetCount counts the workflows whose current run is no longer the original.
func resetCount(t require.TestingT, c client.Client, runs map[string]string) int {
	n := 0
	for id, run := range runs {
		if testenv.CurrentRun(t, c, id) != run {
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
	for _, e := range testenv.History(t, home, jobID, "") {
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

// TestRepeatedCallsAreDeduplicated repeats each mutating call the way a
// resumed page does after a crash (same job, same execution) and checks the
// server applied it once: the request id guarantee the resume relies on.
func TestRepeatedCallsAreDeduplicated(t *testing.T) {
	f := newFixture(t, "dedup")
	runs := f.start(t, "dedup", stepperName, 3, stepperIdle)
	svc := f.targets.WorkflowService()
	ctx := context.Background()
	ops := map[string]batch.Operation{
		"dedup-1": resetOp(batch.ResetLastWorkflowTask),
		"dedup-2": batch.Signal(pingSignal, []byte(`"once"`)),
		"dedup-3": batch.Cancel(),
	}
	for id, op := range ops {
		spec := f.spec("job-dedup", op)
		target, err := plan(ctx, svc, spec, Execution{WorkflowID: id, RunID: runs[id]})
		require.NoError(t, err)
		require.NoError(t, apply(ctx, svc, spec, target), id)
		err = apply(ctx, svc, spec, target)
		var closed *serviceerror.NotFound // the cancelled workflow may have ended already
		if op.Kind != "cancel" || !errors.As(err, &closed) {
			require.NoError(t, err, id)
		}
	}
	requireResetOnce(t, f.targets, "dedup-1", runs["dedup-1"], stepperIdle)
	require.Len(t, testenv.Signals(t, f.targets, "dedup-2"), 1)
	cancels := 0
	for _, e := range testenv.History(t, f.targets, "dedup-3", runs["dedup-3"]) {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED {
			cancels++
		}
	}
	require.Equal(t, 1, cancels)
}
