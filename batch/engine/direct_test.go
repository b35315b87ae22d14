package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// directEnv makes the test binary run one direct job and wait to be killed
// (see TestDirectJobAfterProcessKilled) instead of running the tests.
const directEnv = "BATCHWIRE_DIRECT_JOB"

// newDirect returns a direct engine on a fresh in-process nats-server's bucket.
func newDirect(t *testing.T, c client.Client, natsURL string, max int) *Direct {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := OpenDirectJournal(context.Background(), js)
	require.NoError(t, err)
	return &Direct{Client: c, Journal: kv, Max: max, Concurrency: 4}
}

func directTargets(t *testing.T, tenant string, n int) (client.Client, map[string]string, string) {
	t.Helper()
	targets := dial(t, targetNS)
	tw := startTargetWorker(t, targets, targetQueue+"-"+tenant, registerTargets)
	t.Cleanup(tw.Stop)
	runs := testenv.StartWorkflows(t, targets, targetQueue+"-"+tenant, stepperName, tenant, ids(tenant, n))
	query := "Tenant = '" + tenant + "' AND ExecutionStatus = 'Running'"
	testenv.WaitCount(t, targets, "", query, int64(n))
	return targets, runs, query
}

// A direct job signals every selected workflow once, records its end, and
// the same job again is reported as started before, with nothing applied
// twice; another job under its id is told apart from it.
func TestDirectJobAppliesOnceAndRecordsItsEnd(t *testing.T) {
	const tenant, n = "direct-once", 5
	targets, runs, query := directTargets(t, tenant, n)
	d := newDirect(t, targets, testenv.RunNATS(t).ClientURL(), 10)
	job := batch.Job{ID: "job-" + tenant, Rule: "r", Namespace: targetNS, Query: query, Reason: tenant + " test",
		Op: batch.Signal(pingSignal, []byte(`"once"`))}

	p, err := d.Run(context.Background(), job)
	require.NoError(t, err)
	require.Equal(t, batch.StateCompleted, p.State)
	require.Equal(t, [3]int64{n, n, 0}, [3]int64{p.Total, p.Completed, p.Failed})
	for id := range runs {
		require.Len(t, testenv.Signals(t, targets, id), 1, id)
	}

	again, err := d.Run(context.Background(), job)
	require.ErrorIs(t, err, batch.ErrAlreadyStarted)
	require.Equal(t, p.JobID, again.JobID)
	require.True(t, again.Done())
	require.Equal(t, query, again.Query, "the record names its query, so another job under the id is told apart")

	other := job
	other.Reason = "another reason"
	_, err = d.Run(context.Background(), other)
	require.ErrorIs(t, err, batch.ErrAlreadyStarted)
	for id := range runs {
		require.Len(t, testenv.Signals(t, targets, id), 1, "%s: nothing applied by the repeats", id)
	}
	unfinished, err := d.Unfinished(context.Background())
	require.NoError(t, err)
	require.Empty(t, unfinished)
}

// A query selecting more than Max executions is not the direct engine's:
// ErrNotDirect, no record, nothing applied.
func TestDirectJobDeclinesALargeSelection(t *testing.T) {
	const tenant, n = "direct-large", 3
	targets, runs, query := directTargets(t, tenant, n)
	d := newDirect(t, targets, testenv.RunNATS(t).ClientURL(), 2)
	job := batch.Job{ID: "job-" + tenant, Namespace: targetNS, Query: query, Reason: tenant + " test",
		Op: batch.Signal(pingSignal, nil)}
	_, err := d.Run(context.Background(), job)
	require.ErrorIs(t, err, batch.ErrNotDirect)
	for id := range runs {
		require.Empty(t, testenv.Signals(t, targets, id), id)
	}
	_, err = d.Journal.Get(context.Background(), directKey(job.ID))
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)

	reset := job
	reset.Op = batch.Operation{Kind: batch.KindReset, Reset: &batch.ResetOptions{Type: batch.ResetFirstWorkflowTask}}
	_, err = d.Run(context.Background(), reset)
	require.ErrorIs(t, err, batch.ErrNotDirect, "a reset is not repeat-safe")
}

// Killing (kill -9) the process that runs a direct job mid-job leaves its
// record open; the next process finds it (Unfinished), runs it again from the
// recorded selection with the same request ids, and every target ends with
// exactly one signal.
func TestDirectJobAfterProcessKilled(t *testing.T) {
	const tenant, n = "direct-kill", 5
	targets, runs, query := directTargets(t, tenant, n)
	natsSrv := testenv.RunNATS(t)
	d := newDirect(t, targets, natsSrv.ClientURL(), 10)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), directEnv+"="+temporalHostPort, directEnv+"_NATS="+natsSrv.ClientURL(),
		directEnv+"_QUERY="+query, directEnv+"_ID=job-"+tenant)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	killMidJob(t, cmd, targets, runs)

	jobs, err := d.Unfinished(context.Background())
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Equal(t, "job-"+tenant, jobs[0].ID)
	p, err := d.Run(context.Background(), jobs[0])
	require.NoError(t, err)
	require.Equal(t, [3]int64{n, n, 0}, [3]int64{p.Total, p.Completed, p.Failed})
	for id := range runs {
		require.Len(t, testenv.Signals(t, targets, id), 1, "%s: one signal, though the job ran twice", id)
	}
	jobs, err = d.Unfinished(context.Background())
	require.NoError(t, err)
	require.Empty(t, jobs)
}

// runDirectProcess runs the kill test's direct job at 5 signals a second, so
// that it is still applying when the test kills the process, then waits.
func runDirectProcess(hostPort string) int {
	c, err := client.Dial(client.Options{HostPort: hostPort, Namespace: targetNS, Logger: testenv.QuietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "direct process: dial:", err)
		return 1
	}
	nc, err := nats.Connect(os.Getenv(directEnv + "_NATS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "direct process: nats:", err)
		return 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "direct process: jetstream:", err)
		return 1
	}
	kv, err := OpenDirectJournal(context.Background(), js)
	if err != nil {
		fmt.Fprintln(os.Stderr, "direct process:", err)
		return 1
	}
	d := &Direct{Client: c, Journal: kv, Max: 10, Concurrency: 1}
	job := batch.Job{ID: os.Getenv(directEnv + "_ID"), Namespace: targetNS, Query: os.Getenv(directEnv + "_QUERY"),
		Reason: "direct-kill test", Op: batch.Signal(pingSignal, []byte(`"once"`)), MaxOpsPerSecond: 5}
	if _, err := d.Run(context.Background(), job); err != nil {
		fmt.Fprintln(os.Stderr, "direct process:", err)
		return 1
	}
	return 0 // the test kills it before the job ends; if not, the test fails
}

// Two runs of one job at once in one process (a job resumed at start while
// its event is delivered again): one applies it, the other waits and finds
// its end, so the job's end is reported once.
func TestDirectJobRunTwiceAtOnce(t *testing.T) {
	const tenant, n = "direct-twice", 4
	targets, runs, query := directTargets(t, tenant, n)
	d := newDirect(t, targets, testenv.RunNATS(t).ClientURL(), 10)
	job := batch.Job{ID: "job-" + tenant, Namespace: targetNS, Query: query, Reason: tenant + " test",
		Op: batch.Signal(pingSignal, []byte(`"once"`))}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := d.Run(context.Background(), job)
			errs <- err
		}()
	}
	var ended, duplicates int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			ended++
		case errors.Is(err, batch.ErrAlreadyStarted):
			duplicates++
		default:
			t.Fatal(err)
		}
	}
	require.Equal(t, []int{1, 1}, []int{ended, duplicates}, "ended, duplicates")
	for id := range runs {
		require.Len(t, testenv.Signals(t, targets, id), 1, id)
	}
}
