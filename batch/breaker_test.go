package batch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
)

// fakeProgressAPI is a fake Temporal for the circuit breaker: a server job
// whose operations fail at a chosen rate cannot be paced on the dev server
// (it finishes before a second describe), so Describe replays a script.
type fakeProgressAPI struct {
	mu      sync.Mutex
	script  []batch.Progress
	stopped string
}

func (f *fakeProgressAPI) Count(context.Context, string, string) (int64, error) { return 100, nil }
func (f *fakeProgressAPI) Start(context.Context, batch.Job) error               { return nil }

func (f *fakeProgressAPI) Describe(context.Context, string, string) (batch.Progress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped != "" {
		return batch.Progress{State: batch.StateFailed}, nil
	}
	p := f.script[0]
	if len(f.script) > 1 {
		f.script = f.script[1:]
	}
	return p, nil
}

// Identify is never called: Start never reports an existing job.
func (f *fakeProgressAPI) Identify(ctx context.Context, ns, id string) (batch.Progress, error) {
	return f.Describe(ctx, ns, id)
}

func (f *fakeProgressAPI) Stop(_ context.Context, _, _, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = reason
	return nil
}

func TestCircuitBreaker(t *testing.T) {
	running := func(completed, failed int64) batch.Progress {
		return batch.Progress{State: batch.StateRunning, Total: 100, Completed: completed, Failed: failed}
	}
	tests := []struct {
		name      string
		script    []batch.Progress
		wantState string
		wantStop  string
	}{
		{"failures over the ratio stop the job",
			[]batch.Progress{running(1, 1), running(3, 9), running(4, 40)}, batch.StateStopped, "9 of 12 operations failed"},
		{"too few operations to judge",
			[]batch.Progress{running(0, 4), {State: batch.StateCompleted, Total: 4, Failed: 4}}, batch.StateCompleted, ""},
		{"failures under the ratio",
			[]batch.Progress{running(20, 5), {State: batch.StateCompleted, Total: 100, Completed: 90, Failed: 10}}, batch.StateCompleted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeProgressAPI{script: tt.script}
			rec := newRecorder()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := batch.NewLauncher(ctx, api, rec, batch.LauncherOptions{
				PollInterval: 5 * time.Millisecond, MaxFailureRatio: 0.5, MinOpsForRatio: 10,
			})
			job := batch.Job{ID: "j", Namespace: "ns", Query: "WorkflowType = 'x'", Reason: "r", Op: batch.Terminate()}
			outcome, err := l.Launch(context.Background(), job, batch.EngineServer)
			require.NoError(t, err)
			require.Equal(t, batch.OutcomeLaunched, outcome)
			require.Eventually(t, func() bool { _, ok := rec.finishedJob("j"); return ok }, 5*time.Second, time.Millisecond)
			p, _ := rec.finishedJob("j")
			require.Equal(t, tt.wantState, p.State)
			api.mu.Lock()
			defer api.mu.Unlock()
			if tt.wantStop == "" {
				require.Empty(t, api.stopped)
				return
			}
			require.Equal(t, batch.StopFailureRatio, p.StopReason)
			require.Contains(t, api.stopped, tt.wantStop)
		})
	}
}
