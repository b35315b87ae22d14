package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/batch/engine"
	"github.com/batchwire/batchwire/internal/testenv"
)

func TestCLIEnvVars(t *testing.T) {
	const ns = "cli-env"
	c := cliStartWorker(t, ns)
	cliStartWorkflows(t, c, ns, "env", "env-1", "env-2")
	count := []string{"workflow", "count", "--query", "Tenant = 'env'", "-o", "json"}

	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_CLI_ADDRESS", cliHostPort)
	t.Setenv("TEMPORAL_CLI_NAMESPACE", ns)
	res := runCLI(t, nil, count...)
	require.NoError(t, res.err)
	require.JSONEq(t, `{"namespace":"cli-env","query":"Tenant = 'env'","count":2}`, res.stdout)

	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", cliHostPort)
	t.Setenv("TEMPORAL_NAMESPACE", ns)
	res = runCLI(t, nil, count...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, `"count": 2`)

	// A flag beats the variables: the bad address in one is not used.
	t.Setenv("TEMPORAL_CLI_ADDRESS", "127.0.0.1:1")
	res = runCLI(t, nil, append(count, "--address", cliHostPort)...)
	require.NoError(t, res.err)
	// Without the flag, the two generations disagree: batchwire does not guess.
	res = runCLI(t, nil, append(count, "--command-timeout", "2s")...)
	require.ErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, "TEMPORAL_CLI_ADDRESS and TEMPORAL_ADDRESS are both set")
	t.Setenv("TEMPORAL_ADDRESS", "")
	res = runCLI(t, nil, append(count, "--command-timeout", "2s")...)
	require.ErrorContains(t, res.err, "127.0.0.1:1")
}

func TestCLIConfirmationRefusedLaunchesNothing(t *testing.T) {
	const ns = "cli-confirm"
	c := cliStartWorker(t, ns)
	ids := []string{"confirm-1", "confirm-2"}
	cliStartWorkflows(t, c, ns, "confirm", ids...)
	signal := onServer(ns, "workflow", "signal", "--query", "Tenant = 'confirm' AND ExecutionStatus = 'Running'",
		"--name", "ping", "--reason", "asked first")

	for _, answer := range []string{"n\n", "\n", "nope\n", ""} {
		res := runCLI(t, cliFakeTTY{strings.NewReader(answer)}, signal...)
		require.Error(t, res.err)
		require.Contains(t, res.all(), "nothing was launched")
		require.Contains(t, res.stderr, "This will signal 2 workflow executions in namespace cli-confirm matching: "+
			"Tenant = 'confirm' AND ExecutionStatus = 'Running'\nContinue? [y/N]")
	}
	// No terminal and no --yes: refused before anything is asked.
	res := runCLI(t, strings.NewReader("y\n"), signal...)
	require.ErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, "pass --yes")
	// A dry run changes nothing either.
	res = runCLI(t, nil, append(signal, "--dry-run")...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "Nothing was changed.")

	for _, id := range ids {
		require.Empty(t, cliSignalsIn(t, c, id), id)
	}
	res = runCLI(t, nil, onServer(ns, "batch", "list", "-o", "json")...)
	require.NoError(t, res.err)
	require.JSONEq(t, `[]`, res.stdout)
}

func TestCLISignalYesWait(t *testing.T) {
	const ns = "cli-signal"
	c := cliStartWorker(t, ns)
	targets := []string{"acme-1", "acme-2", "acme-3"}
	bystanders := []string{"globex-1", "globex-2"}
	cliStartWorkflows(t, c, ns, "acme", targets...)
	cliStartWorkflows(t, c, ns, "globex", bystanders...)

	res := runCLI(t, nil, onServer(ns, "workflow", "signal", "--query", "Tenant = 'acme' AND ExecutionStatus = 'Running'",
		"--name", "flag_changed", "--input", `{"flag":"checkout-v2","value":true}`, "--reason", "flag flip",
		"--engine", "server", "--yes", "--wait", "-o", "json")...)
	require.NoError(t, res.err)
	var out launchResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out))
	require.True(t, strings.HasPrefix(out.JobID, "batchwire-cli-"), out.JobID)
	require.Equal(t, launchResult{JobID: out.JobID, Namespace: ns, Operation: "signal",
		Query: "Tenant = 'acme' AND ExecutionStatus = 'Running'", Count: 3, Engine: "server", Launched: true,
		Progress: out.Progress}, out)
	require.NotNil(t, out.Progress)
	require.Equal(t, batch.StateCompleted, out.Progress.State)
	require.Equal(t, [3]int64{3, 3, 0}, [3]int64{out.Progress.Total, out.Progress.Completed, out.Progress.Failed})
	// stderr is no terminal here: a line per change instead of a bar.
	require.Contains(t, res.stderr, "batch job "+out.JobID+": completed, 3/3 completed, 0 failed")

	for _, id := range targets {
		require.Equal(t, map[string]string{"flag_changed": `{"flag":"checkout-v2","value":true}`}, cliSignalsIn(t, c, id), id)
	}
	for _, id := range bystanders {
		require.Empty(t, cliSignalsIn(t, c, id), id)
	}

	// On a terminal, --wait draws a progress bar.
	var tty cliTTYBuffer
	res = runCLIWithStderr(t, nil, &tty, onServer(ns, "workflow", "signal", "--query", "Tenant = 'acme' AND ExecutionStatus = 'Running'",
		"--name", "second", "--reason", "bar", "--engine", "server", "--yes", "--wait", "--job-id", "bar-job")...)
	require.NoError(t, res.err)
	require.Contains(t, tty.String(), "bar-job")
	require.Contains(t, tty.String(), "(3/3")
	require.Contains(t, cliSignalsIn(t, c, targets[0]), "second")
}

// TestCLIWaitExitsOneOnFailures resets an execution that no worker ever
// ran: with no completed workflow task there is no reset point, so the
// operation fails and --wait exits 1.
func TestCLIWaitExitsOneOnFailures(t *testing.T) {
	const ns = "cli-reset"
	c := cliStartWorker(t, ns)
	testenv.StartWorkflows(t, c, "no-worker-polls-this", cliWorkflowName, "unpolled", []string{"unpolled-1"})
	testenv.WaitCount(t, c, ns, "Tenant = 'unpolled'", 1)

	res := runCLI(t, nil, onServer(ns, "workflow", "reset-batch", "--query", "Tenant = 'unpolled'",
		"--type", "LastWorkflowTask", "--reason", "nothing to reset to", "--engine", "server", "--yes", "--wait")...)
	require.Error(t, res.err)
	require.NotErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, "with 1 failed operations")
	require.Contains(t, res.stderr, "Warning: the query has no ExecutionStatus clause")
	require.Contains(t, res.stdout, "0/1 completed, 1 failed")
}

// TestCLIBatchTerminate stops a wedged job, the case batch terminate exists
// for: a query ending in a line comment counts fine, but the batcher appends
// its own clause after it and then retries forever, holding the namespace's
// only batch slot. The CLI refuses such a query, so the job is started with
// the batch package directly.
func TestCLIBatchTerminate(t *testing.T) {
	const ns = "cli-terminate"
	c := cliStartWorker(t, ns)
	ids := []string{"slow-1", "slow-2"}
	cliStartWorkflows(t, c, ns, "slow", ids...)
	bc, err := batch.Dial(context.Background(), batch.Options{Address: cliHostPort, Namespace: ns}, nil)
	require.NoError(t, err)
	t.Cleanup(bc.Close)
	require.NoError(t, bc.Start(context.Background(), batch.Job{ID: "wedged-job", Namespace: ns,
		Query: "Tenant = 'slow' -- wedges the batcher", Reason: "wedge", Op: batch.Signal("ping", nil)}))

	res := runCLI(t, nil, onServer(ns, "batch", "terminate", "--job-id", "wedged-job")...)
	require.ErrorAs(t, res.err, &usageError{})
	// The wedged job holds the namespace's only slot.
	signal := []string{"workflow", "signal", "--query", "Tenant = 'slow' AND ExecutionStatus = 'Running'",
		"--name", "ping", "--reason", "after the wedge", "--engine", "server", "--yes", "--wait"}
	res = runCLI(t, nil, onServer(ns, signal...)...)
	require.ErrorIs(t, res.err, batch.ErrSlotBusy)
	require.ErrorContains(t, res.err, "give --wait-for-slot")
	res = runCLI(t, nil, onServer(ns, "batch", "describe", "--job-id", "wedged-job", "-o", "json")...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, `"state": "running"`)

	res = runCLI(t, nil, onServer(ns, "batch", "terminate", "--job-id", "wedged-job", "--reason", "wedged", "-o", "json")...)
	require.NoError(t, res.err)
	var p batch.Progress
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &p))
	require.Equal(t, "wedged-job", p.JobID)
	require.Equal(t, "signal", p.Operation)
	require.Equal(t, batch.StateFailed, p.State, "the server reports a stopped job as failed")
	for _, id := range ids {
		require.Empty(t, cliSignalsIn(t, c, id), id)
	}

	// The slot is free again: a new job runs to the end.
	res = runCLI(t, nil, onServer(ns, signal...)...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "completed: 2/2 completed, 0 failed.")

	// With --wait-for-slot, a launch waits for a busy slot instead of failing.
	require.NoError(t, bc.Start(context.Background(), batch.Job{ID: "wedged-again", Namespace: ns,
		Query: "Tenant = 'slow' -- wedges the batcher", Reason: "wedge", Op: batch.Signal("ping", nil)}))
	// The slot is freed once the command says it waits, not after a fixed
	// time: under load the command may reach the server later than that.
	var stderr syncBuffer
	done := make(chan cliResult, 1)
	go func() {
		done <- runCLIWithStderr(t, nil, &stderr, onServer(ns, append(signal, "--wait-for-slot", "60s")...)...)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "waiting up to 1m0s for its slot") },
		30*time.Second, 50*time.Millisecond, "the command did not wait for the slot")
	require.NoError(t, bc.Stop(context.Background(), ns, "wedged-again", "free the slot"))
	res = <-done
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "completed: 2/2 completed, 0 failed.")

	res = runCLI(t, nil, onServer(ns, "batch", "terminate", "--job-id", "no-such-job", "--reason", "r")...)
	require.ErrorContains(t, res.err, `batch job "no-such-job" not found in namespace "cli-terminate"`)
}

// TestCLITerminateClientJob stops a client-engine job served by a worker
// standing in for the daemon, so the launching command returns at once.
func TestCLITerminateClientJob(t *testing.T) {
	const ns = "cli-terminate"
	c := cliStartWorker(t, ns)
	ids := []string{"paced-1", "paced-2", "paced-3", "paced-4", "paced-5", "paced-6"}
	cliStartWorkflows(t, c, ns, "paced", ids...)
	daemonWorker := engine.NewWorker(c)
	require.NoError(t, daemonWorker.Start())
	t.Cleanup(daemonWorker.Stop)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.DescribeTaskQueue(context.Background(), engine.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		require.NoError(ct, err)
		require.NotEmpty(ct, resp.GetPollers())
	}, 30*time.Second, 100*time.Millisecond)

	// The engine enforces --rps itself, unlike the server batcher.
	res := runCLI(t, nil, onServer(ns, "workflow", "signal", "--query", "Tenant = 'paced' AND ExecutionStatus = 'Running'",
		"--name", "ping", "--reason", "paced", "--engine", "client", "--rps", "1", "--job-id", "paced-job", "--yes")...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "Started batch job paced-job on the client engine")

	res = runCLI(t, nil, onServer(ns, "batch", "terminate", "--job-id", "paced-job", "--reason", "too slow")...)
	require.NoError(t, res.err)
	require.Regexp(t, `Stop(ped|ping) batch job paced-job`, res.stdout)
	var p batch.Progress
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		res := runCLI(t, nil, onServer(ns, "batch", "describe", "--job-id", "paced-job", "-o", "json")...)
		require.NoError(ct, res.err)
		require.NoError(ct, json.Unmarshal([]byte(res.stdout), &p))
		require.Equal(ct, batch.StateStopped, p.State)
	}, 30*time.Second, 200*time.Millisecond)
	signalled := 0
	for _, id := range ids {
		signalled += len(cliSignalsIn(t, c, id))
	}
	require.Less(t, signalled, len(ids), "the stopped job must not have signalled every workflow")
}

func TestCLIAPIKeyNeverPrinted(t *testing.T) {
	const secret = "sk-live-DO-NOT-PRINT-7f3a9c"
	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_API_KEY", secret)
	q := "Tenant = 'nobody' AND ExecutionStatus = 'Running'"
	for _, args := range [][]string{
		{"workflow", "count", "--query", q},
		{"workflow", "count", "--query", q, "--api-key", secret},
		{"workflow", "count", "--query", q, "--api_key", secret, "-o", "json"},
		{"workflow", "count", "--query", q, "--tls=false"},
		{"workflow", "signal", "--query", q, "--name", "n", "--reason", "r", "--yes"},
		{"batch", "list"},
		{"batch", "describe", "--job-id", "j"},
		{"workflow", "signal", "--query", q, "--name", "n"},
		{"workflow", "count", "--grpc-meta", "authorization"},
		{"workflow", "count", "--codec-auth", secret},
		{"workflow", "signal", "--help"},
		{"batch", "--help"},
	} {
		res := runCLI(t, nil, onServer("cli-reject", append(args, "--command-timeout", "5s")...)...)
		require.NotContains(t, res.all(), secret, args)
		require.NotContains(t, res.all(), secret[8:], args)
	}
}

// An API key turns TLS on (the temporal CLI does the same); --tls=false keeps
// the connection plaintext, which the dev server needs.
func TestCLIAPIKeyWithTLSOff(t *testing.T) {
	clearTemporalEnv(t)
	q := "Tenant = 'nobody' AND ExecutionStatus = 'Running'"
	res := runCLI(t, nil, onServer("cli-reject", "workflow", "count", "--query", q, "--api-key", "k", "--command-timeout", "5s")...)
	require.Error(t, res.err, "TLS against the plaintext dev server")
	res = runCLI(t, nil, onServer("cli-reject", "workflow", "count", "--query", q, "--api-key", "k", "--tls=false", "-o", "json")...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, `"count": 0`)
	res = runCLI(t, nil, onServer("cli-reject", "workflow", "count", "--query", q, "--tls=false", "--tls_ca_path", "/ca.pem")...)
	require.ErrorAs(t, res.err, &usageError{})
}

func TestCLIRejectedQueryLaunchesNothing(t *testing.T) {
	const ns = "cli-reject"
	// The lint refuses what does not parse before any RPC, as the daemon does.
	for _, query := range []string{"WorkflowType = ", "WorkflowType = 'x' AND"} {
		res := runCLI(t, nil, onServer(ns, "workflow", "terminate", "--query", query, "--reason", "r", "--yes")...)
		require.ErrorAs(t, res.err, &usageError{}, query)
		require.ErrorContains(t, res.err, "--query: ", query)
	}
	// What only the server knows, it says.
	res := runCLI(t, nil, onServer(ns, "workflow", "terminate", "--query", "NoSuchAttribute = 'x'", "--reason", "r", "--yes")...)
	require.ErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, "the server rejected the query")
	require.ErrorContains(t, res.err, "nothing was launched")
	res = runCLI(t, nil, onServer(ns, "batch", "list", "-o", "json")...)
	require.NoError(t, res.err)
	require.JSONEq(t, `[]`, res.stdout)
}

// resetCLI runs reset-batch on the query with the given flags.
func resetCLI(t *testing.T, ns, query string, extra ...string) cliResult {
	return runCLI(t, nil, onServer(ns, append([]string{"workflow", "reset-batch", "--query", query,
		"--reason", "bad build"}, extra...)...)...)
}

func TestCLIResetBatchClientEngine(t *testing.T) {
	const ns = "cli-reset"
	c := cliStartWorker(t, ns)
	ids := []string{"creset-1", "creset-2"}
	cliStartWorkflows(t, c, ns, "creset", ids...)
	query := "Tenant = 'creset' AND ExecutionStatus = 'Running'"
	runIDs := currentRuns(t, c, ids...)

	// The client engine plans from each history: nothing ever continued as new.
	res := resetCLI(t, ns, query, "--type", "LastContinuedAsNew", "--dry-run", "-o", "json")
	require.NoError(t, res.err)
	var plan launchResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &plan))
	require.Equal(t, "client", plan.Engine)
	require.Len(t, plan.Targets, 2)
	require.Equal(t, int64(0), *plan.WouldChange)
	for _, target := range plan.Targets {
		require.True(t, target.Skipped, target)
	}

	// --exclude_file needs the client engine; this command runs its worker.
	exclude := filepath.Join(t.TempDir(), "exclude.txt")
	require.NoError(t, os.WriteFile(exclude, []byte("# keep this one\ncreset-2\n"), 0o600))
	res = resetCLI(t, ns, query, "--type", "FirstWorkflowTask", "--exclude_file", exclude, "--job-id", "client-reset", "--yes", "--wait")
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "Started batch job client-reset on the client engine")
	require.Contains(t, res.stdout, "Batch job client-reset completed: 1/1 completed, 0 failed.")
	require.NotContains(t, res.stderr, "no ExecutionStatus clause", "the query filters on ExecutionStatus")
	after := currentRuns(t, c, ids...)
	require.NotEqual(t, runIDs["creset-1"], after["creset-1"], "creset-1 was not reset")
	require.Equal(t, runIDs["creset-2"], after["creset-2"], "creset-2 was excluded")

	// Client jobs are listed and described like server jobs.
	res = runCLI(t, nil, onServer(ns, "batch", "describe", "--job-id", "client-reset", "-o", "json")...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, `"operation": "reset"`)
	require.Contains(t, res.stdout, `"state": "completed"`)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		res := runCLI(t, nil, onServer(ns, "batch", "list", "-o", "json")...)
		require.NoError(ct, res.err)
		require.Equal(ct, 1, strings.Count(res.stdout, `"job_id": "client-reset"`), "listed once")
	}, 30*time.Second, 200*time.Millisecond)
}

func TestCLIResetBatchServer(t *testing.T) {
	const ns = "cli-reset"
	c := cliStartWorker(t, ns)
	ids := []string{"sreset-1", "sreset-2"}
	cliStartWorkflows(t, c, ns, "sreset", ids...)
	runIDs := currentRuns(t, c, ids...)

	// A dry run of a server-side reset still shows the event each execution
	// would reset to, and changes nothing.
	res := resetCLI(t, ns, "Tenant = 'sreset' AND ExecutionStatus = 'Running'", "--type", "FirstWorkflowTask", "--engine", "server", "--dry-run", "-o", "json")
	require.NoError(t, res.err)
	var plan launchResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &plan))
	require.Len(t, plan.Targets, 2)
	for _, target := range plan.Targets {
		require.False(t, target.Skipped, target)
		require.Positive(t, target.EventID, "the reset point of %s", target.WorkflowID)
	}
	require.Equal(t, runIDs, currentRuns(t, c, ids...), "the dry run reset nothing")

	res = resetCLI(t, ns, "Tenant = 'sreset' AND ExecutionStatus = 'Running'",
		"--type", "FirstWorkflowTask", "--reapply-exclude", "signal", "--engine", "server", "--yes", "--wait")
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "on the server engine: reset (FirstWorkflowTask) 2 workflow executions")
	require.Regexp(t, `Batch job batchwire-cli-\S+ completed: 2/2 completed, 0 failed.`, res.stdout)
	after := currentRuns(t, c, ids...)
	for _, id := range ids {
		require.NotEqual(t, runIDs[id], after[id], "%s was not reset", id)
	}
}

// currentRuns returns each workflow's current run id, once its first workflow
// task completed: a reset needs a completed task to reset to.
func currentRuns(t *testing.T, c client.Client, ids ...string) map[string]string {
	t.Helper()
	runs := map[string]string{}
	for _, id := range ids {
		waitFirstTaskDone(t, c, id)
		runs[id] = testenv.CurrentRun(t, c, id)
	}
	return runs
}

// waitFirstTaskDone waits until the worker completed the workflow's first
// task: a reset needs a completed task to reset to.
func waitFirstTaskDone(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		done := false
		for _, ev := range testenv.History(ct, c, workflowID, "") {
			done = done || ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
		}
		require.True(ct, done)
	}, 30*time.Second, 100*time.Millisecond)
}

// syncBuffer is a buffer a command writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
