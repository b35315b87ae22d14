package batch_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/batch/engine"
	"github.com/batchwire/batchwire/internal/testenv"
)

// fanOutEnv opts in to BenchmarkFanOut and says over how many running
// workflows, e.g. "1000" or "1000,10000": it starts that many workflows and
// takes minutes, so `go test -bench .` leaves it out.
const fanOutEnv = "BATCHWIRE_BENCH_FANOUT"

// fanOutConcurrency is the plain loop's and the client engine's concurrency.
const fanOutConcurrency = 32

// BenchmarkFanOut signals every one of N running workflows: by a plain loop
// (list, then SignalWorkflowExecution at concurrency 32), by the client
// engine at the same concurrency with its default rate (no cap), and by the
// server batcher with the dev server's dynamic config (worker.batcherRPS at
// its default 50 unless BATCHWIRE_BENCH_BATCHER_RPS sets it,
// frontend.MaxConcurrentBatchOperationPerNamespace=1). It reports signals/s,
// and the server batcher's rate as batcher-rps. The workflows it starts are
// terminated at the end.
func BenchmarkFanOut(b *testing.B) {
	sizes := os.Getenv(fanOutEnv)
	if sizes == "" {
		b.Skipf("set %s=1000 (or 1000,10000) to run it", fanOutEnv)
	}
	for _, size := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(size))
		if err != nil || n <= 0 {
			b.Fatalf("%s: %q is not a workflow count", fanOutEnv, size)
		}
		b.Run(fmt.Sprintf("workflows=%d", n), func(b *testing.B) { benchFanOut(b, n) })
	}
}

func benchFanOut(b *testing.B, n int) {
	const ns = "fan-out"
	sdk := testenv.Dial(b, temporalHostPort, ns)
	// Each run of each side signals n fresh workflows, terminated after it:
	// on the same workflows a later run paid for the histories and server
	// state the earlier runs left (over 10,000, one run to the next of the
	// same side lost 16%), which favoured whichever side ran first.
	targets := func(b *testing.B) (string, string) {
		prefix := fmt.Sprintf("fan-%d", time.Now().UnixNano())
		startManyWaiting(b, sdk, ns, prefix, n)
		return prefix, fmt.Sprintf("WorkflowId STARTS_WITH '%s' AND ExecutionStatus = 'Running'", prefix)
	}
	rate := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "signals/s")
	}

	b.Run("plain-signal-loop", func(b *testing.B) {
		_, query := targets(b)
		for b.Loop() {
			start := time.Now()
			plainFanOut(b, sdk, ns, query)
			rate(b, start)
		}
	})
	b.Run("client-engine", func(b *testing.B) {
		prefix, query := targets(b)
		w := engine.NewWorker(sdk)
		if err := w.Start(); err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			spec := engine.Spec{JobID: fmt.Sprintf("%s-client-%d-%d", prefix, time.Now().UnixNano(), i), Namespace: ns, Query: query,
				Reason: "bench", Operation: batch.Signal("poke", nil), Concurrency: fanOutConcurrency}
			if err := engine.Start(context.Background(), sdk, spec); err != nil {
				b.Fatal(err)
			}
			if err := engine.WaitEnded(context.Background(), sdk, spec.JobID); err != nil {
				b.Fatal(err)
			}
			rate(b, start)
			if p, err := engine.Describe(context.Background(), sdk, spec.JobID); err != nil || p.Completed != int64(n) {
				b.Fatalf("job %s: %+v %v", spec.JobID, p, err)
			}
		}
	})
	b.Run("server-batcher", func(b *testing.B) {
		prefix, query := targets(b)
		batcherRPS := 50.0 // the server's default worker.batcherRPS
		if v, err := strconv.ParseFloat(os.Getenv(testenv.BatcherRPSEnv), 64); err == nil {
			batcherRPS = v
		}
		rec := newRecorder()
		l := newLauncher(b, dialBatch(b, ns), rec, 0)
		for i := 0; b.Loop(); i++ {
			start := time.Now()
			jobID := fmt.Sprintf("%s-server-%d-%d", prefix, time.Now().UnixNano(), i)
			if outcome, err := l.Launch(context.Background(), signalJob(jobID, ns, query), batch.EngineServer); outcome != batch.OutcomeLaunched {
				b.Fatalf("launch: %s %v", outcome, err)
			}
			for {
				if p, ok := rec.finishedJob(jobID); ok {
					rate(b, start)
					b.ReportMetric(batcherRPS, "batcher-rps")
					if p.Completed != int64(n) {
						b.Fatalf("job %s: %+v", jobID, p)
					}
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
}

// plainFanOut lists the query page by page and signals every execution, at
// most fanOutConcurrency at a time.
func plainFanOut(b *testing.B, c client.Client, ns, query string) {
	slots := make(chan struct{}, fanOutConcurrency)
	var wg sync.WaitGroup
	req := &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query, PageSize: 1000}
	for {
		resp, err := c.ListWorkflow(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		for _, info := range resp.GetExecutions() {
			exec := info.GetExecution()
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				if err := c.SignalWorkflow(context.Background(), exec.GetWorkflowId(), exec.GetRunId(), "poke", nil); err != nil {
					b.Error(err)
				}
			})
		}
		if len(resp.GetNextPageToken()) == 0 {
			break
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
	wg.Wait()
}

// startManyWaiting starts n waiting workflows at concurrency 32, waits
// until visibility counts them, and terminates them when b ends.
func startManyWaiting(b *testing.B, c client.Client, ns, prefix string, n int) {
	b.Cleanup(func() { terminateMany(b, c, prefix, n) })
	w := worker.New(c, waitQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(waitForSignal, workflow.RegisterOptions{Name: "WaitForSignal"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	forEachAtOnce(n, func(i int) {
		_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: fmt.Sprintf("%s-%d", prefix, i), TaskQueue: waitQueue}, "WaitForSignal")
		if err != nil {
			b.Error(err)
		}
	})
	deadline := time.Now().Add(5 * time.Minute)
	query := fmt.Sprintf("WorkflowId STARTS_WITH '%s' AND ExecutionStatus = 'Running'", prefix)
	for {
		resp, err := c.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns, Query: query})
		if err == nil && resp.GetCount() == int64(n) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("visibility did not count %d workflows within 5 minutes", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// terminateMany terminates the n workflows startManyWaiting started, at
// concurrency 32 and within 5 minutes, so the next benchmark's server is not
// left with them; ids never started or already closed are not found, which is fine.
func terminateMany(b *testing.B, c client.Client, prefix string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	forEachAtOnce(n, func(i int) {
		err := c.TerminateWorkflow(ctx, fmt.Sprintf("%s-%d", prefix, i), "", "fan-out benchmark done")
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) && ctx.Err() == nil {
			b.Errorf("terminate %s-%d: %v", prefix, i, err)
		}
	})
	if ctx.Err() != nil {
		b.Errorf("terminating %d workflows took over 5 minutes", n)
	}
}

// forEachAtOnce calls f for 0 to n-1, fanOutConcurrency calls at a time.
func forEachAtOnce(n int, f func(i int)) {
	slots := make(chan struct{}, fanOutConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			f(i)
		})
	}
	wg.Wait()
}
