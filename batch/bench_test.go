package batch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/batch/engine"
	"github.com/batchwire/batchwire/internal/testenv"
)

// BenchmarkSignalFiveWorkflows measures one small signal job end to end on the
// dev server: from launch to the job's reported completion, by the server
// batcher, against a plain loop of SignalWorkflowExecution calls.
func BenchmarkSignalFiveWorkflows(b *testing.B) {
	const ns, targets = "launch-queue", 5
	t := b
	sdk := testenv.Dial(b, temporalHostPort, ns)
	prefix := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	startWaiting(t, sdk, ns, prefix, targets)
	query := fmt.Sprintf("WorkflowId STARTS_WITH '%s' AND ExecutionStatus = 'Running'", prefix)

	b.Run("server-batcher", func(b *testing.B) {
		c := dialBatch(t, ns)
		rec := newRecorder()
		l := newLauncher(t, c, rec, 0)
		for i := 0; b.Loop(); i++ {
			jobID := fmt.Sprintf("%s-job-%d", prefix, i)
			if outcome, err := l.Launch(context.Background(), signalJob(jobID, ns, query), batch.EngineServer); outcome != batch.OutcomeLaunched {
				b.Fatalf("launch: %s %v", outcome, err)
			}
			for {
				if p, ok := rec.finishedJob(jobID); ok {
					if p.Completed != targets {
						b.Fatalf("job %s: %+v", jobID, p)
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	b.Run("client-engine", func(b *testing.B) {
		w := engine.NewWorker(sdk)
		if err := w.Start(); err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		for i := 0; b.Loop(); i++ {
			jobID := fmt.Sprintf("%s-client-%d", prefix, i)
			spec := engine.Spec{JobID: jobID, Namespace: ns, Query: query, Reason: "bench",
				Operation: batch.Signal("poke", nil), Concurrency: 8, RPS: 200}
			if err := engine.Start(context.Background(), sdk, spec); err != nil {
				b.Fatal(err)
			}
			for {
				p, err := engine.Describe(context.Background(), sdk, jobID)
				if err == nil && p.Done() {
					if p.Completed != targets {
						b.Fatalf("job %s: %+v", jobID, p)
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	b.Run("plain-signal-loop", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for i := range targets {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := sdk.SignalWorkflow(context.Background(), fmt.Sprintf("%s-%d", prefix, i), "", "poke", nil); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
		}
	})
}
