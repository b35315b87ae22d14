package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Namespaces created at dev server start: engine workflows run in homeNS (the
// daemon's namespace), the workflows they operate on in targetNS, and the
// crash test gets its own home so no other engine worker can take its job.
const (
	homeNS   = "engine-home"
	crashNS  = "engine-crash"
	killNS   = "engine-kill"
	targetNS = "engine-targets"
)

// Deadlines for conditions tests wait on.
const (
	testWait  = 30 * time.Second
	pollEvery = 50 * time.Millisecond
)

// temporalHostPort is the dev server every test in this package shares.
var temporalHostPort string

// helperEnv makes the test binary an engine worker process (see
// TestResumeAfterWorkerKilled) instead of running the tests.
const helperEnv = "BATCHWIRE_ENGINE_WORKER"

func TestMain(m *testing.M) {
	// Short enough that a killed worker's page moves on within seconds; both
	// processes must agree, as the workflow replays in either.
	heartbeatTimeout = 3 * time.Second
	if hostPort := os.Getenv(helperEnv); hostPort != "" {
		os.Exit(runWorkerProcess(hostPort, os.Getenv(helperEnv+"_NAMESPACE")))
	}
	if hostPort := os.Getenv(directEnv); hostPort != "" {
		os.Exit(runDirectProcess(hostPort))
	}
	os.Exit(testenv.RunWithTemporal(m, &temporalHostPort, homeNS, crashNS, killNS, targetNS))
}

// runWorkerProcess runs an engine worker until the process is killed.
func runWorkerProcess(hostPort, namespace string) int {
	c, err := client.Dial(client.Options{HostPort: hostPort, Namespace: namespace, Logger: testenv.QuietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker process: dial:", err)
		return 1
	}
	if err := NewWorker(c).Run(worker.InterruptCh()); err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 1
	}
	return 0
}

func dial(t *testing.T, namespace string) client.Client {
	return testenv.Dial(t, temporalHostPort, namespace)
}

// startEngine runs an engine worker in c's namespace until the test ends.
func startEngine(t *testing.T, c client.Client) {
	t.Helper()
	w := NewWorker(c)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// startTargetWorker runs the target workflows on queue in the target namespace.
func startTargetWorker(t *testing.T, c client.Client, queue string, register func(worker.Registry)) worker.Worker {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	register(w)
	require.NoError(t, w.Start())
	return w
}

func registerTargets(w worker.Registry) {
	w.RegisterWorkflowWithOptions(stepper, workflow.RegisterOptions{Name: stepperName})
	w.RegisterWorkflowWithOptions(continueOnce, workflow.RegisterOptions{Name: continueName})
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i+1)
	}
	return out
}

// waitIdle waits until a run's last event is a completed workflow task with at
// least minEvents events, i.e. the workflow is blocked waiting.
func waitIdle(t *testing.T, c client.Client, workflowID, runID string, minEvents int) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		events := testenv.History(ct, c, workflowID, runID)
		require.GreaterOrEqual(ct, len(events), minEvents)
		require.Equal(ct, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, events[len(events)-1].GetEventType())
	}, 30*time.Second, 50*time.Millisecond, "%s/%s never went idle", workflowID, runID)
}

// runJob starts a job and waits for it to end.
func runJob(t *testing.T, home client.Client, spec Spec) Report {
	t.Helper()
	require.NoError(t, Start(context.Background(), home, spec))
	return waitDone(t, home, spec.JobID)
}

func waitDone(t *testing.T, home client.Client, jobID string) Report {
	t.Helper()
	var r Report
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		var err error
		r, err = Status(context.Background(), home, jobID)
		require.NoError(ct, err)
		require.True(ct, r.Done(), "state %s", r.State)
	}, 60*time.Second, 100*time.Millisecond)
	return r
}

// logHistory logs each event with its attributes, for a failure to show the
// history it was judged on.
func logHistory(t *testing.T, events []*historypb.HistoryEvent) {
	t.Helper()
	for _, ev := range events {
		t.Log(ev.GetEventId(), ev.GetEventType(), ev.GetAttributes())
	}
}

// resetEvent returns the event the server writes at the reset point of a run
// made by a reset: a failed workflow task with cause ResetWorkflow.
func resetEvent(events []*historypb.HistoryEvent) *historypb.HistoryEvent {
	for _, e := range events {
		if e.GetWorkflowTaskFailedEventAttributes().GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW {
			return e
		}
	}
	return nil
}

// requireResetOnce asserts the workflow has exactly two runs, the original and
// the current one, and that the current one was reset from base at eventID.
func requireResetOnce(t *testing.T, c client.Client, workflowID, base string, eventID int64) {
	t.Helper()
	cur := testenv.CurrentRun(t, c, workflowID)
	require.NotEqual(t, base, cur, "%s was not reset", workflowID)
	ev := resetEvent(testenv.History(t, c, workflowID, cur))
	require.NotNil(t, ev, "%s: current run has no reset event", workflowID)
	require.Equal(t, eventID, ev.GetEventId(), "%s: reset point", workflowID)
	require.Equal(t, base, ev.GetWorkflowTaskFailedEventAttributes().GetBaseRunId())
	testenv.WaitCount(t, c, "", fmt.Sprintf("WorkflowId = '%s'", workflowID), 2)
	require.ElementsMatch(t, []string{base, cur}, testenv.Runs(t, c, "", workflowID), "%s: runs", workflowID)
}

func requireCounts(t *testing.T, r Report, state string, total, done, failedN, skippedN int64) {
	t.Helper()
	require.Equal(t, state, r.State, "errors: %v", r.Errors)
	require.Equal(t, []int64{total, done, failedN, skippedN}, []int64{r.Total, r.Completed, r.Failed, r.Skipped},
		"total, completed, failed, skipped (errors: %v)", r.Errors)
}

// killMidJob waits until at least one of runs has a signal, kills cmd (the
// process applying the job) with SIGKILL and returns how many were signalled
// by then, which must be fewer than all: otherwise nothing is left to repeat.
func killMidJob(t *testing.T, cmd *exec.Cmd, targets client.Client, runs map[string]string) int {
	t.Helper()
	signalled := func(t require.TestingT) int {
		count := 0
		for id := range runs {
			if len(testenv.Signals(t, targets, id)) > 0 {
				count++
			}
		}
		return count
	}
	require.EventuallyWithT(t, func(ct *assert.CollectT) { require.GreaterOrEqual(ct, signalled(ct), 1) },
		testWait, 10*time.Millisecond)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	before := signalled(t)
	t.Logf("process killed with %d of %d signalled", before, len(runs))
	require.Less(t, before, len(runs), "the job finished before the process went; nothing to repeat")
	return before
}
