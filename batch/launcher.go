package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
)

// API is the part of Temporal the launcher needs; *Client implements it.
type API interface {
	Count(ctx context.Context, namespace, query string) (int64, error)
	Start(ctx context.Context, job Job) error
	Describe(ctx context.Context, namespace, jobID string) (Progress, error)
	// Identify is Describe with the query the job was started with, which
	// Describe may leave out (server 1.29 does).
	Identify(ctx context.Context, namespace, jobID string) (Progress, error)
	Stop(ctx context.Context, namespace, jobID, reason string) error
}

// Observer hears about the queues and every job's progress, for metrics and
// logs. Launch decisions come back to the caller only, as Launch's result.
type Observer interface {
	QueueDepth(namespace string, depth int)
	Progressed(job Job, p Progress)
	Finished(job Job, p Progress)
}

// Outcomes of a launch that did not fail.
const (
	// OutcomeLaunched: the engine accepted the job.
	OutcomeLaunched = "launched"
	// OutcomeDuplicate: this job exists already and is still running; it is
	// followed as if just launched (a redelivered event finds its job).
	OutcomeDuplicate = "duplicate"
	// OutcomeDuplicateEnded: this job exists already and has ended; it is not
	// followed, so its end is not reported a second time.
	OutcomeDuplicateEnded = "duplicate_ended"
)

// ClientEngine runs batch jobs as batchwire's own workflow instead of the
// server batcher. Its jobs report progress in the same shape.
type ClientEngine interface {
	Start(ctx context.Context, job Job) error
	Describe(ctx context.Context, job Job) (Progress, error)
	Stop(ctx context.Context, job Job, reason string) error
}

// EndWaiter is a ClientEngine that can also wait for a job to end. The
// launcher then learns of the end at once instead of at its next poll, so a
// small job is reported done milliseconds after it is.
type EndWaiter interface {
	WaitEnded(ctx context.Context, job Job) error
}

// DirectEngine applies small jobs of repeat-safe operations in this process
// (engine.Direct): Run returns once the job has ended.
type DirectEngine interface {
	// Run applies job. A job id with a record of another or an ended job is
	// ErrAlreadyStarted with that job's progress; a job it does not take is
	// ErrNotDirect.
	Run(ctx context.Context, job Job) (Progress, error)
	// Unfinished lists the jobs a stop interrupted, for Run to resume.
	Unfinished(ctx context.Context) ([]Job, error)
	// Select lists the job's selection when it holds at most limit
	// executions; complete is false when it holds more.
	Select(ctx context.Context, job Job, limit int64) (listed []Execution, complete bool, err error)
}

// LauncherOptions tune polling and retries.
type LauncherOptions struct {
	PollInterval time.Duration
	MinBackoff   time.Duration
	MaxBackoff   time.Duration
	// Watchdog stops a job whose progress has not moved for this long; 0 disables it.
	Watchdog time.Duration
	// MaxFailureRatio is the circuit breaker: a running job whose failed share
	// of at least MinOpsForRatio finished operations passes it is stopped.
	// 0 disables it.
	MaxFailureRatio float64
	MinOpsForRatio  int64
	// Client runs client-engine jobs; nil means only the server batcher is available.
	Client ClientEngine
	// Direct runs jobs engine auto chose for the direct engine; nil sends
	// them to Client.
	Direct DirectEngine
	// RetryBudget bounds how long one call is retried on transient errors
	// before the decision fails with ErrUnavailable; 0 retries until shutdown.
	RetryBudget time.Duration
	Logger      *slog.Logger
}

// Launcher runs jobs through one FIFO queue per namespace. The server allows
// one running batch operation per namespace by default, so a namespace's
// queue launches a job, follows it to the end, then takes the next.
type Launcher struct {
	api  API
	obs  Observer
	opts LauncherOptions
	ctx  context.Context

	mu     sync.Mutex
	queues map[string]*queue
	wg     sync.WaitGroup
}

// queued is a server job waiting for its namespace's slot; done receives
// the launch's outcome once.
type queued struct {
	job  Job
	done chan launched
}

type launched struct {
	outcome string
	err     error
}

type queue struct {
	pending []queued
	running bool
}

// NewLauncher returns a launcher whose queues stop when ctx is done.
func NewLauncher(ctx context.Context, api API, obs Observer, opts LauncherOptions) *Launcher {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Launcher{api: api, obs: obs, opts: opts, ctx: ctx, queues: map[string]*queue{}}
}

// Launch starts job on engine (server or client, as batch.ChooseEngine
// picked) and returns once the engine has accepted it (OutcomeLaunched), found
// it already started (OutcomeDuplicate, OutcomeDuplicateEnded), or failed. A
// job id that exists for another job (another operation, query or reason) is
// ErrJobIDTaken: job ids are derived from the event, so a sender could
// otherwise start a job under the id of an event still to come. A server job first waits
// in its namespace's queue for the slot. A started job is then followed to its
// end in the background and reported to the Observer.
func (l *Launcher) Launch(ctx context.Context, job Job, engine string) (string, error) {
	if err := job.Validate(); err != nil {
		return "", fmt.Errorf("batch job %q: %w", job.ID, err)
	}
	switch engine {
	case EngineClient:
		return l.launchClient(ctx, job)
	case EngineDirect:
		return l.launchDirect(ctx, job)
	}
	item := queued{job: job, done: make(chan launched, 1)}
	l.enqueue(item)
	select {
	case res := <-item.done:
		return res.outcome, res.err
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for the batch slot of namespace %q: %w", job.Namespace, ErrShutdown)
	}
}

// Count runs the preflight count, retrying while Temporal is unavailable.
func (l *Launcher) Count(ctx context.Context, namespace, query string) (int64, error) {
	return retry(ctx, l, "count", func() (int64, error) { return l.api.Count(ctx, namespace, query) })
}

// Select lists a small job's whole selection for the direct engine, as its
// preflight, retrying while Temporal is unavailable: one visibility call
// instead of a count and then a listing. complete is false when the job
// selects more than limit executions, or the launcher has no direct engine.
func (l *Launcher) Select(ctx context.Context, job Job, limit int64) ([]Execution, bool, error) {
	if l.opts.Direct == nil {
		return nil, false, nil
	}
	type listing struct {
		execs    []Execution
		complete bool
	}
	got, err := retry(ctx, l, "list", func() (listing, error) {
		execs, complete, err := l.opts.Direct.Select(ctx, job, limit)
		return listing{execs, complete}, err
	})
	return got.execs, got.complete, err
}

func (l *Launcher) enqueue(item queued) {
	ns := item.job.Namespace
	l.mu.Lock()
	q := l.queues[ns]
	if q == nil {
		q = &queue{}
		l.queues[ns] = q
	}
	q.pending = append(q.pending, item)
	depth := len(q.pending)
	start := !q.running
	q.running = true
	l.mu.Unlock()
	l.obs.QueueDepth(ns, depth)
	if start {
		l.wg.Add(1)
		go l.drain(ns, q)
	}
}

// Wait blocks until every queue has stopped (after the context is done) or drained.
func (l *Launcher) Wait() { l.wg.Wait() }

func (l *Launcher) drain(ns string, q *queue) {
	defer l.wg.Done()
	for {
		l.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			l.mu.Unlock()
			return
		}
		item := q.pending[0]
		q.pending = q.pending[1:]
		depth := len(q.pending)
		l.mu.Unlock()
		l.obs.QueueDepth(ns, depth)
		l.run(item)
	}
}

// tracker describes, identifies and stops jobs of one engine; ended, when
// set, returns a channel closed once the job has ended (or waiting failed).
type tracker struct {
	describe func(Job) (Progress, error)
	identify func(Job) (Progress, error)
	stop     func(Job, string) error
	ended    func(context.Context, Job) <-chan struct{}
}

func (l *Launcher) serverTracker() tracker {
	return tracker{
		describe: func(j Job) (Progress, error) { return l.api.Describe(l.ctx, j.Namespace, j.ID) },
		identify: func(j Job) (Progress, error) { return l.api.Identify(l.ctx, j.Namespace, j.ID) },
		stop:     func(j Job, reason string) error { return l.api.Stop(l.ctx, j.Namespace, j.ID, reason) },
	}
}

func (l *Launcher) clientTracker() tracker {
	describe := func(j Job) (Progress, error) { return l.opts.Client.Describe(l.ctx, j) }
	t := tracker{
		describe: describe,
		identify: describe,
		stop:     func(j Job, reason string) error { return l.opts.Client.Stop(l.ctx, j, reason) },
	}
	if waiter, ok := l.opts.Client.(EndWaiter); ok {
		t.ended = func(ctx context.Context, j Job) <-chan struct{} {
			ch := make(chan struct{})
			go func() {
				defer close(ch)
				if err := waiter.WaitEnded(ctx, j); err != nil && ctx.Err() == nil {
					l.opts.Logger.Debug("wait for batch job end", "job_id", j.ID, "err", err)
				}
			}()
			return ch
		}
	}
	return t
}

// follow describes the job until it ends, keeping the last non-zero counts
// because the server reports zeros for failed jobs. A job whose progress does
// not move within the watchdog period is stopped: a batch job whose query the
// batcher cannot run stays Running with total 0 and holds the namespace's slot.
func (l *Launcher) follow(job Job, t tracker) {
	var last Progress
	moved := time.Now()
	ticker := time.NewTicker(l.opts.PollInterval)
	defer ticker.Stop()
	var ended <-chan struct{}
	if t.ended != nil {
		ctx, cancel := context.WithCancel(l.ctx)
		defer cancel()
		ended = t.ended(ctx, job)
	}
	for {
		p, err := t.describe(job)
		if err == nil {
			p = keepCounts(last, p)
			if p != last {
				l.obs.Progressed(job, p)
				moved = time.Now()
			}
			last = p
			if p.Done() {
				l.obs.Finished(job, p)
				return
			}
			if reason := l.stopReason(p, moved); reason != "" && l.stopJob(job, p, t, reason) {
				return
			}
		} else {
			l.opts.Logger.Warn("describe batch job", "job_id", job.ID, "namespace", job.Namespace, "err", err)
		}
		select {
		case <-l.ctx.Done():
			return
		case <-ticker.C:
		case <-ended:
			ended = nil // once: a nil channel never fires again
		}
	}
}

// Reasons the launcher stops a job of its own accord, as in Progress.StopReason.
const (
	StopWatchdog     = "watchdog"
	StopFailureRatio = "failure_ratio"
)

// stopReason says why a running job must be stopped, or "" to let it run.
func (l *Launcher) stopReason(p Progress, moved time.Time) string {
	if l.opts.Watchdog > 0 && time.Since(moved) > l.opts.Watchdog {
		return StopWatchdog
	}
	finished := p.Completed + p.Failed
	if l.opts.MaxFailureRatio > 0 && finished > 0 && finished >= l.opts.MinOpsForRatio &&
		float64(p.Failed)/float64(finished) > l.opts.MaxFailureRatio {
		return StopFailureRatio
	}
	return ""
}

// stopJob stops the job and reports it stopped; on failure the caller keeps
// following and tries again on the next poll.
func (l *Launcher) stopJob(job Job, p Progress, t tracker, why string) bool {
	reason := fmt.Sprintf("batchwire watchdog: no progress for %s", l.opts.Watchdog)
	if why == StopFailureRatio {
		reason = fmt.Sprintf("batchwire circuit breaker: %d of %d operations failed, more than %.0f%%",
			p.Failed, p.Completed+p.Failed, 100*l.opts.MaxFailureRatio)
	}
	if err := t.stop(job, reason); err != nil {
		l.opts.Logger.Error("could not stop batch job", "job_id", job.ID, "namespace", job.Namespace, "reason", reason, "err", err)
		return false
	}
	l.opts.Logger.Warn("stopped batch job", "job_id", job.ID, "namespace", job.Namespace, "reason", reason)
	p.State, p.StopReason = StateStopped, why
	l.obs.Progressed(job, p)
	l.obs.Finished(job, p)
	return true
}

func keepCounts(last, p Progress) Progress {
	if p.Total == 0 && p.Completed == 0 && p.Failed == 0 {
		p.Total, p.Completed, p.Failed = last.Total, last.Completed, last.Failed
	}
	return p
}

// retry repeats call while its error is transient (Temporal unavailable, slot
// busy), with exponential backoff, until ctx ends or the retry budget is spent.
func retry[T any](ctx context.Context, l *Launcher, what string, call func() (T, error)) (T, error) {
	backoff := l.opts.MinBackoff
	var giveUp time.Time
	if l.opts.RetryBudget > 0 {
		giveUp = time.Now().Add(l.opts.RetryBudget)
	}
	for {
		if ctx.Err() != nil {
			var zero T
			return zero, fmt.Errorf("%s: %w", what, ErrShutdown)
		}
		v, err := call()
		if err == nil || !transient(err) {
			return v, err
		}
		if !giveUp.IsZero() && time.Now().After(giveUp) {
			return v, fmt.Errorf("%s: %w for %s: %w", what, ErrUnavailable, l.opts.RetryBudget, err)
		}
		l.opts.Logger.Info("retrying", "call", what, "after", backoff, "err", err)
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: %w (last error: %w)", what, ErrShutdown, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, l.opts.MaxBackoff)
	}
}

func transient(err error) bool {
	if errors.Is(err, ErrSlotBusy) {
		return true
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var canceled *serviceerror.Canceled
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}
