package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
)

func TestSpecValidate(t *testing.T) {
	valid := Spec{JobID: "j", Namespace: "ns", Query: "WorkflowType = 'x'", Reason: "r",
		Operation: batch.Terminate()}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"valid", func(*Spec) {}, ""},
		{"include ids instead of a query", func(s *Spec) { s.Query, s.IncludeIDs = "", []string{"a"} }, ""},
		{"no job id", func(s *Spec) { s.JobID = "" }, "job_id is required"},
		{"no namespace", func(s *Spec) { s.Namespace = "" }, "namespace is required"},
		{"no selection", func(s *Spec) { s.Query = " " }, "query or include_ids is required"},
		{"no reason", func(s *Spec) { s.Reason = "" }, "reason is required"},
		{"page too large", func(s *Spec) { s.PageSize = 5000 }, "page_size 5000: at most 1000"},
		{"negative rps", func(s *Spec) { s.RPS = -1 }, "concurrency, rps and page_size must not be negative"},
		{"operation checked by batch.Operation.Validate", func(s *Spec) { s.Operation = batch.Signal("", nil) },
			"operation: signal.name: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := valid
			tt.change(&spec)
			err := spec.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestSpecFrom(t *testing.T) {
	op := batch.Reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BadBinaryChecksum: "bad"})
	spec := SpecFrom(batch.Job{ID: "j", Namespace: "ns", Query: "q", Reason: "r", Op: op, MaxOpsPerSecond: 5})
	require.Equal(t, Spec{JobID: "j", Namespace: "ns", Query: "q", Reason: "r", Operation: op, RPS: 5}, spec,
		"the engine takes the operation as is")
}

// pageOf returns a page of n executions with a work function that takes 100ms
// and records how many ran at once.
func pageOf(n int) (ApplyRequest, *int32, func(context.Context, Execution) (outcome, string)) {
	req := ApplyRequest{Executions: make([]Execution, n)}
	for i := range req.Executions {
		req.Executions[i] = Execution{WorkflowID: string(rune('a' + i)), RunID: "r"}
	}
	var active, peak int32
	work := func(context.Context, Execution) (outcome, string) {
		now := atomic.AddInt32(&active, 1)
		for p := atomic.LoadInt32(&peak); now > p && !atomic.CompareAndSwapInt32(&peak, p, now); p = atomic.LoadInt32(&peak) {
		}
		time.Sleep(100 * time.Millisecond) // the call's duration, in the bubble's fake time
		atomic.AddInt32(&active, -1)
		return completed, ""
	}
	return req, &peak, work
}

func TestDispatchHonoursRateAndConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, peak, work := pageOf(4)
		var beats []ApplyResult
		run := newPageRun(req, func(r ApplyResult) { beats = append(beats, r) })
		start := time.Now()
		run.dispatch(context.Background(), nil, Spec{RPS: 2, Concurrency: 8}, work)
		// A token at 0, 0.5, 1 and 1.5 s; the last call takes 100ms.
		require.Equal(t, 1600*time.Millisecond, time.Since(start))
		require.Equal(t, int32(1), *peak, "at 2/s calls of 100ms never overlap")
		require.Equal(t, []outcome{completed, completed, completed, completed}, run.snapshot().Outcomes)
		for i := 1; i < len(beats); i++ {
			require.GreaterOrEqual(t, doneIn(beats[i]), doneIn(beats[i-1]), "heartbeats never go back")
		}

		req, peak, work = pageOf(6)
		run = newPageRun(req, func(ApplyResult) {})
		run.dispatch(context.Background(), nil, Spec{RPS: 1000, Concurrency: 2}, work)
		require.Equal(t, int32(2), *peak)
	})
}

// A page records its outcomes every recordEvery, not after each execution
// (which encoded the whole page each time), and its last record holds them all.
func TestDispatchRecordsOnATicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, _, work := pageOf(1000)
		var beats []ApplyResult
		run := newPageRun(req, func(r ApplyResult) { beats = append(beats, r) })
		start := time.Now()
		run.dispatch(context.Background(), nil, Spec{Concurrency: 32}, work)
		elapsed := time.Since(start)
		require.LessOrEqual(t, len(beats), 1+int(elapsed/recordEvery), "one record per tick, and the last")
		require.Equal(t, 1000, doneIn(beats[len(beats)-1]), "the last record holds every outcome")
		for i := 1; i < len(beats); i++ {
			require.GreaterOrEqual(t, doneIn(beats[i]), doneIn(beats[i-1]), "records never go back")
		}
	})
}

func TestDispatchResumesAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req, _, work := pageOf(5)
		req.Outcomes = []outcome{completed, skipped, pending, pending, pending}
		stop := make(chan struct{})
		var once sync.Once
		var calls []string
		stopAfterFirst := func(ctx context.Context, e Execution) (outcome, string) {
			calls = append(calls, e.WorkflowID)
			once.Do(func() { close(stop) })
			return work(ctx, e)
		}
		run := newPageRun(req, func(ApplyResult) {})
		run.dispatch(context.Background(), stop, Spec{RPS: 1000, Concurrency: 1}, stopAfterFirst)
		require.Equal(t, []string{"c"}, calls, "done ones are not redone; none start after the stop")
		require.Equal(t, []outcome{completed, skipped, completed, pending, pending}, run.snapshot().Outcomes)
	})
}

func doneIn(r ApplyResult) int {
	n := 0
	for _, o := range r.Outcomes {
		if o != pending {
			n++
		}
	}
	return n
}
