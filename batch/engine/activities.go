package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"
)

// Activities are the engine's activities. Client, when nil, is the worker's own
// client (activity.GetClient), so Register needs none.
type Activities struct {
	Client client.Client
}

// ApplyRequest is one page to apply, with the outcomes known so far.
type ApplyRequest struct {
	Spec       Spec        `json:"spec"`
	Executions []Execution `json:"executions"`
	Outcomes   []outcome   `json:"outcomes,omitempty"`
}

// ApplyResult holds one outcome per execution; pending ones were not reached
// because the job is being stopped.
type ApplyResult struct {
	Outcomes []outcome `json:"outcomes"`
	Errors   []string  `json:"errors,omitempty"`
	// Resumed counts the outcomes this attempt took over from an earlier
	// attempt's heartbeat instead of applying them again.
	Resumed int `json:"resumed,omitempty"`
}

// errWorkerStopping makes the server retry the page on another worker, which
// resumes from the last heartbeat.
const errWorkerStopping = "WorkerStopping"

// callTimeout bounds the work on one execution (history reads, the call and
// its retries).
const callTimeout = time.Minute

// recordEvery is how often a page records its outcomes as heartbeat details.
// Recording after every execution encoded the whole page each time, under the
// page's lock: quadratic in the page size. The SDK sends the latest details at
// most every heartbeatThrottle anyway, so a retry after a crash repeats about
// as much work as before, and the request ids make those repeats harmless.
const recordEvery = 250 * time.Millisecond

func (a *Activities) service(ctx context.Context) workflowservice.WorkflowServiceClient {
	if a.Client != nil {
		return a.Client.WorkflowService()
	}
	return activity.GetClient(ctx).WorkflowService()
}

// ListPage lists the next page of executions the job selects.
func (a *Activities) ListPage(ctx context.Context, req PageRequest) (Page, error) {
	return listPage(ctx, a.service(ctx), req)
}

// ApplyPage applies the operation to each pending execution of the page, at
// most Concurrency at a time and RPS per second. Its heartbeat holds every
// outcome recorded, so a retry (worker crash, heartbeat timeout) starts from
// there; calls in flight or not yet recorded at a crash repeat with the same
// request id.
func (a *Activities) ApplyPage(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	spec := req.Spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return ApplyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), errInvalidSpec, err)
	}
	run := newPageRun(req, func(snapshot ApplyResult) { activity.RecordHeartbeat(ctx, snapshot) })
	if activity.HasHeartbeatDetails(ctx) {
		var saved ApplyResult
		if err := activity.GetHeartbeatDetails(ctx, &saved); err == nil && len(saved.Outcomes) == len(req.Executions) {
			run.resume(saved)
			activity.GetLogger(ctx).Info("resuming page from heartbeat", "job_id", spec.JobID, "done", run.resumed)
		}
	}
	svc := a.service(ctx)
	stop := activity.GetWorkerStopChannel(ctx)
	run.dispatch(ctx, stop, spec, func(ctx context.Context, exec Execution) (outcome, string) {
		return handle(ctx, svc, spec, exec)
	})
	result := run.snapshot()
	select {
	case <-stop:
		return result, temporal.NewApplicationError("worker stopping", errWorkerStopping)
	default:
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The job is being stopped: report what was done.
		return result, nil
	}
	if n := countPending(result.Outcomes); n > 0 {
		return result, fmt.Errorf("apply page: %d executions left after transient errors, last: %s", n, run.lastTransient())
	}
	return result, nil
}

func countPending(outcomes []outcome) int {
	n := 0
	for _, o := range outcomes {
		if o == pending {
			n++
		}
	}
	return n
}

// pageRun tracks the outcomes of one page while goroutines fill them in.
// Snapshots are heartbeated under the lock, so the details the server keeps
// never go back to an older state.
type pageRun struct {
	mu        sync.Mutex
	execs     []Execution
	outcomes  []outcome
	errors    []string
	resumed   int
	transient string // the last transient error, for the page's retry
	heartbeat func(ApplyResult)
}

func newPageRun(req ApplyRequest, heartbeat func(ApplyResult)) *pageRun {
	run := &pageRun{execs: req.Executions, outcomes: make([]outcome, len(req.Executions)), heartbeat: heartbeat}
	if len(req.Outcomes) == len(req.Executions) {
		copy(run.outcomes, req.Outcomes)
	}
	return run
}

func (r *pageRun) resume(saved ApplyResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, o := range saved.Outcomes {
		if o != pending {
			r.outcomes[i] = o
			r.resumed++
		}
	}
	r.errors = append(r.errors, saved.Errors...)
}

func (r *pageRun) record(i int, o outcome, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o == pending {
		r.transient = msg
		return
	}
	r.outcomes[i] = o
	if o == failed && len(r.errors) < maxErrorSamples {
		r.errors = append(r.errors, msg)
	}
}

func (r *pageRun) beat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heartbeat(r.snapshotLocked())
}

func (r *pageRun) snapshot() ApplyResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

func (r *pageRun) snapshotLocked() ApplyResult {
	return ApplyResult{Outcomes: append([]outcome(nil), r.outcomes...), Errors: append([]string(nil), r.errors...),
		Resumed: r.resumed}
}

func (r *pageRun) lastTransient() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.transient
}

func (r *pageRun) outcomeOf(i int) outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outcomes[i]
}

// dispatch runs work for every pending execution, and stops handing out new
// ones when ctx ends or the worker stops; calls already running finish.
func (r *pageRun) dispatch(ctx context.Context, stop <-chan struct{}, spec Spec,
	work func(context.Context, Execution) (outcome, string)) {
	gate, closeGate := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.keepAlive(gate, closeGate, stop) })
	limiter := rate.NewLimiter(limitOf(spec.RPS), 1)
	slots := make(chan struct{}, spec.Concurrency)
	var workers sync.WaitGroup
	for i, exec := range r.execs {
		if r.outcomeOf(i) != pending {
			continue
		}
		if !acquire(gate, slots, limiter) {
			break
		}
		workers.Go(func() {
			defer func() { <-slots }()
			o, msg := r.finish(ctx, exec, work)
			r.record(i, o, msg)
		})
	}
	workers.Wait()
	closeGate()
	wg.Wait()
	r.beat() // the last outcomes, for a retry after a worker stop
}

// finish runs one call to the end even when the job is stopped or the
// worker is stopping meanwhile: a call cut off after the server applied it
// would be counted as not done. Its own deadline replaces the activity's.
func (r *pageRun) finish(ctx context.Context, exec Execution,
	work func(context.Context, Execution) (outcome, string)) (outcome, string) {
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	return work(callCtx, exec)
}

// keepAlive heartbeats the outcomes every recordEvery, which also keeps the
// activity visibly alive while the rate limiter makes the page wait, and
// closes the gate when the worker stops.
func (r *pageRun) keepAlive(gate context.Context, closeGate func(), stop <-chan struct{}) {
	ticker := time.NewTicker(recordEvery)
	defer ticker.Stop()
	for {
		select {
		case <-gate.Done():
			return
		case <-stop:
			closeGate()
			return
		case <-ticker.C:
			r.beat()
		}
	}
}

// limitOf is the limiter's rate for a spec's RPS, where 0 is no cap.
func limitOf(rps float64) rate.Limit {
	if rps <= 0 {
		return rate.Inf
	}
	return rate.Limit(rps)
}

// acquire takes a concurrency slot and a rate token, or reports that the gate closed.
func acquire(gate context.Context, slots chan struct{}, limiter *rate.Limiter) bool {
	select {
	case <-gate.Done():
		return false
	case slots <- struct{}{}:
	}
	if err := limiter.Wait(gate); err != nil {
		<-slots
		return false
	}
	return true
}
