package batch_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Each test that launches batch jobs takes its own namespace: the server runs
// one batch operation per namespace at a time.
var launcherNamespaces = []string{"launch-queue", "launch-watchdog", "launch-guards", "launch-ops", "fan-out"}

var temporalHostPort string

func TestMain(m *testing.M) {
	// The fan-out benchmark's 10,000 waiting workflows and the engine's job
	// share this process's sticky cache (10,000 by default): past it, each
	// signal's workflow task replays its workflow's history, a cost that
	// falls on whichever side of the benchmark runs second.
	worker.SetStickyWorkflowCacheSize(25000)
	os.Exit(testenv.RunWithTemporal(m, &temporalHostPort, launcherNamespaces...))
}

const waitQueue = "batch-test"

// waitForSignal is a test workflow that runs until it is signalled "done".
func waitForSignal(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return nil
}

// startWaiting starts n waiting workflows whose ids share prefix and waits
// until visibility shows them all.
func startWaiting(t testing.TB, c client.Client, namespace, prefix string, n int) {
	t.Helper()
	w := worker.New(c, waitQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(waitForSignal, workflow.RegisterOptions{Name: "WaitForSignal"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	for i := range n {
		_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: fmt.Sprintf("%s-%d", prefix, i), TaskQueue: waitQueue,
		}, "WaitForSignal")
		require.NoError(t, err)
	}
	testenv.WaitCount(t, c, namespace, fmt.Sprintf("WorkflowId STARTS_WITH '%s' AND ExecutionStatus = 'Running'", prefix), int64(n))
}

// recorder is an Observer that keeps everything it hears.
type recorder struct {
	mu       sync.Mutex
	finished map[string]batch.Progress
	ends     map[string]int
	maxDepth int
}

func newRecorder() *recorder {
	return &recorder{finished: map[string]batch.Progress{}, ends: map[string]int{}}
}

func (r *recorder) endsOf(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ends[id]
}

func (r *recorder) QueueDepth(_ string, depth int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxDepth = max(r.maxDepth, depth)
}

func (r *recorder) Progressed(batch.Job, batch.Progress) {}

func (r *recorder) Finished(job batch.Job, p batch.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished[job.ID] = p
	r.ends[job.ID]++
}

func (r *recorder) finishedJob(id string) (batch.Progress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.finished[id]
	return p, ok
}

func dialBatch(t testing.TB, namespace string) *batch.Client {
	t.Helper()
	c, err := batch.Dial(context.Background(), batch.Options{Address: temporalHostPort, Namespace: namespace}, slog.Default())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func newLauncher(t testing.TB, c *batch.Client, obs batch.Observer, watchdog time.Duration) *batch.Launcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := batch.NewLauncher(ctx, c, obs, batch.LauncherOptions{PollInterval: 100 * time.Millisecond, Watchdog: watchdog})
	t.Cleanup(func() { cancel(); l.Wait() })
	return l
}

func signalJob(id, namespace, query string) batch.Job {
	return batch.Job{ID: id, Namespace: namespace, Query: query, Reason: "test", Op: batch.Signal("poke", nil)}
}

// A burst of jobs for one namespace runs one after the other: none fails with
// "Max concurrent batch operations is reached".
func TestLauncherQueuesJobsPerNamespace(t *testing.T) {
	const ns = "launch-queue"
	startWaiting(t, testenv.Dial(t, temporalHostPort, ns), ns, "queue", 3)
	c := dialBatch(t, ns)
	rec := newRecorder()
	l := newLauncher(t, c, rec, 0)
	query := "WorkflowId STARTS_WITH 'queue' AND ExecutionStatus = 'Running'"

	n, err := l.Count(context.Background(), ns, query)
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	outcomes := make([]string, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			outcomes[i], errs[i] = l.Launch(context.Background(), signalJob(fmt.Sprintf("queue-job-%d", i), ns, query), batch.EngineServer)
		})
	}
	wg.Wait()
	for i := range 4 {
		require.NoError(t, errs[i], "job %d", i)
		require.Equal(t, batch.OutcomeLaunched, outcomes[i], "job %d", i)
	}
	for i := range 4 {
		require.Eventually(t, func() bool {
			p, ok := rec.finishedJob(fmt.Sprintf("queue-job-%d", i))
			return ok && p.State == batch.StateCompleted && p.Completed == 3
		}, 60*time.Second, 50*time.Millisecond, "job %d", i)
	}
	require.GreaterOrEqual(t, rec.maxDepth, 2, "later jobs waited in the queue")

	// Relaunching a finished job id is a duplicate, not a second job, and its
	// end is not reported again.
	outcome, err := l.Launch(context.Background(), signalJob("queue-job-0", ns, query), batch.EngineServer)
	require.NoError(t, err)
	require.Equal(t, batch.OutcomeDuplicateEnded, outcome)
	// The queue is FIFO: once a later job has ended, a follow of the
	// duplicate would have reported its end already.
	_, err = l.Launch(context.Background(), signalJob("queue-job-4", ns, query), batch.EngineServer)
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, ok := rec.finishedJob("queue-job-4"); return ok }, 60*time.Second, 50*time.Millisecond)
	require.Equal(t, 1, rec.endsOf("queue-job-0"), "the ended job was reported once")

	// The same id for another operation, query or reason is not a duplicate.
	others := map[string]batch.Job{
		"operation": {ID: "queue-job-1", Namespace: ns, Query: query, Reason: "test", Op: batch.Terminate()},
		"query":     signalJob("queue-job-1", ns, "WorkflowId STARTS_WITH 'queue-1' AND ExecutionStatus = 'Running'"),
		"reason":    {ID: "queue-job-1", Namespace: ns, Query: query, Reason: "another", Op: batch.Signal("poke", nil)},
	}
	for what, job := range others {
		_, err := l.Launch(context.Background(), job, batch.EngineServer)
		require.ErrorIs(t, err, batch.ErrJobIDTaken, what)
	}
}

// A query whose trailing comment swallows the clause the batcher appends
// counts fine but wedges the job; the watchdog stops it and frees the slot.
func TestWatchdogStopsWedgedJob(t *testing.T) {
	const ns = "launch-watchdog"
	startWaiting(t, testenv.Dial(t, temporalHostPort, ns), ns, "wedge", 2)
	c := dialBatch(t, ns)
	rec := newRecorder()
	l := newLauncher(t, c, rec, 3*time.Second)

	wedged := "WorkflowId STARTS_WITH 'wedge' -- a comment ends the query"
	_, err := l.Count(context.Background(), ns, wedged)
	require.NoError(t, err, "the preflight count accepts the query")
	outcome, err := l.Launch(context.Background(), signalJob("wedged-job", ns, wedged), batch.EngineServer)
	require.NoError(t, err)
	require.Equal(t, batch.OutcomeLaunched, outcome)
	require.Eventually(t, func() bool {
		p, ok := rec.finishedJob("wedged-job")
		return ok && p.State == batch.StateStopped
	}, 60*time.Second, 100*time.Millisecond, "watchdog did not stop the wedged job")

	// The namespace's slot is free again: a good job runs to completion.
	good := "WorkflowId STARTS_WITH 'wedge' AND ExecutionStatus = 'Running'"
	outcome, err = l.Launch(context.Background(), signalJob("after-wedge", ns, good), batch.EngineServer)
	require.NoError(t, err)
	require.Equal(t, batch.OutcomeLaunched, outcome)
	require.Eventually(t, func() bool {
		p, ok := rec.finishedJob("after-wedge")
		return ok && p.State == batch.StateCompleted && p.Completed == 2
	}, 60*time.Second, 100*time.Millisecond)
}

// What the server would refuse with an opaque error is refused before any
// job exists: a query it cannot run fails the count, an invalid operation
// fails the launch.
func TestLauncherRefusesBeforeLaunching(t *testing.T) {
	const ns = "launch-guards"
	startWaiting(t, testenv.Dial(t, temporalHostPort, ns), ns, "guard", 3)
	c := dialBatch(t, ns)
	l := newLauncher(t, c, newRecorder(), 0)
	query := "WorkflowId STARTS_WITH 'guard' AND ExecutionStatus = 'Running'"

	_, err := l.Count(context.Background(), ns, "NoSuchAttribute = 'x'")
	require.ErrorContains(t, err, "count workflows")

	noName := batch.Job{ID: "g-nosig", Namespace: ns, Query: query, Reason: "r", Op: batch.Signal("", nil)}
	for _, engine := range []string{batch.EngineServer, batch.EngineClient} {
		_, err = l.Launch(context.Background(), noName, engine)
		require.ErrorContains(t, err, "signal.name: required", engine)
	}
	_, err = c.Describe(context.Background(), ns, noName.ID)
	require.ErrorIs(t, err, batch.ErrNotFound, "nothing was launched")

	outcome, err := l.Launch(context.Background(), signalJob("g-ok", ns, query), batch.EngineServer)
	require.NoError(t, err)
	require.Equal(t, batch.OutcomeLaunched, outcome)
}

// With an API key the SDK turns TLS on by itself; TLS.Disabled keeps the
// connection plaintext, for a local or mesh-encrypted frontend.
func TestAPIKeyOverPlaintext(t *testing.T) {
	opts := batch.Options{Address: temporalHostPort, Namespace: "launch-guards", APIKey: "secret-key", DialTimeout: 3 * time.Second}
	_, err := batch.Dial(context.Background(), opts, slog.Default())
	require.Error(t, err, "TLS against the plaintext dev server must fail")
	require.NotContains(t, err.Error(), "secret-key")

	opts.TLS.Disabled = true
	c, err := batch.Dial(context.Background(), opts, slog.Default())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Count(context.Background(), "launch-guards", "WorkflowType = 'nothing'")
	require.NoError(t, err)
}
