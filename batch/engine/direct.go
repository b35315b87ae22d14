package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/batch"
)

// The direct engine applies a small job of a repeat-safe operation (signal,
// cancel, terminate) from the calling process, with no job workflow: a job
// workflow's start, task and completion cost a small job most of its time on
// the server (BENCHMARKS.md). What the workflow's history gives the client
// engine, a record in a JetStream key-value bucket gives the direct engine:
//   - the selection is listed and recorded before anything is applied, so a
//     run after a crash applies the operation to the same executions, with
//     the same request ids (RequestID), which the server drops as repeats;
//   - the record is the job id's claim: a redelivered event finds its job
//     ended (a duplicate) or interrupted (resumed), and another job under
//     the same id is refused (batch.ErrJobIDTaken).
//
// The daemon resumes interrupted records when it starts (Unfinished), so a
// crash mid-job ends with every selected execution applied once, whatever
// delivered the event.
type Direct struct {
	Client client.Client
	// Journal is the bucket the records live in (OpenDirectJournal).
	Journal jetstream.KeyValue
	// Max is the largest selection the engine takes; a larger one is
	// batch.ErrNotDirect, for the client engine.
	Max         int
	Concurrency int
	Logger      *slog.Logger

	mu      sync.Mutex
	running map[string]chan struct{} // by key: the runs of this process
}

// DirectBucket is the key-value bucket of direct job records.
const DirectBucket = "BATCHWIRE_DIRECT"

// directRetention is how long a direct job's record is kept: a redelivered
// event within it finds its job.
const directRetention = 7 * 24 * time.Hour

// directRetryMax bounds the backoff between passes over executions left
// pending by transient errors.
const directRetryMax = 5 * time.Second

// OpenDirectJournal creates the direct engine's bucket, or opens it.
func OpenDirectJournal(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      DirectBucket,
		Description: "batchwire direct jobs: each job's selection and outcomes",
		TTL:         directRetention,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("direct job bucket %s: %w", DirectBucket, err)
	}
	return kv, nil
}

// directRecord is a direct job's durable record.
type directRecord struct {
	Spec       Spec        `json:"spec"`
	Rule       string      `json:"rule,omitempty"`
	Executions []Execution `json:"executions"`
	Outcomes   []outcome   `json:"outcomes,omitempty"`
	Errors     []string    `json:"errors,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	ClosedAt   time.Time   `json:"closed_at,omitzero"`
	Done       bool        `json:"done"`
}

func (r directRecord) job() batch.Job {
	s := r.Spec
	return batch.Job{ID: s.JobID, Rule: r.Rule, Namespace: s.Namespace, Query: s.Query, Reason: s.Reason, Op: s.Operation}
}

// progress reports the record as a job's progress; skipped executions count
// as completed, as they do for the client engine's jobs.
func (r directRecord) progress() batch.Progress {
	p := batch.Progress{JobID: r.Spec.JobID, Namespace: r.Spec.Namespace, Operation: r.Spec.Operation.Kind,
		State: batch.StateRunning, Total: int64(len(r.Executions)), Reason: r.Spec.Reason, Query: r.Spec.Query,
		StartTime: r.StartedAt, CloseTime: r.ClosedAt}
	for _, o := range r.Outcomes {
		switch o {
		case completed, skipped:
			p.Completed++
		case failed:
			p.Failed++
		}
	}
	if r.Done {
		p.State = batch.StateCompleted
	}
	return p
}

// sameJob says whether spec is the job the record holds: the same namespace,
// query, reason and operation.
func (r directRecord) sameJob(spec Spec) bool {
	a, errA := json.Marshal(r.Spec.Operation)
	b, errB := json.Marshal(spec.Operation)
	return errA == nil && errB == nil && string(a) == string(b) &&
		r.Spec.Namespace == spec.Namespace && r.Spec.Query == spec.Query && r.Spec.Reason == spec.Reason
}

// directKey is a job id's key: job ids may hold characters keys may not.
func directKey(jobID string) string {
	sum := sha256.Sum256([]byte(jobID))
	return hex.EncodeToString(sum[:16])
}

// Run applies job and returns its end. A job id with a record already is
// resumed when the record is this job and has not ended; otherwise Run
// returns the recorded job's progress with batch.ErrAlreadyStarted, for the
// launcher to report a duplicate or a taken id. A job the engine does not
// take (a selection over Max, an operation that is not repeat-safe, the
// bucket unreachable) is batch.ErrNotDirect. A run cut short by ctx returns
// batch.ErrShutdown; its record stays open for the next run.
func (d *Direct) Run(ctx context.Context, job batch.Job) (batch.Progress, error) {
	spec := SpecFrom(job)
	spec.Concurrency, spec.PageSize = d.Concurrency, d.Max
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return batch.Progress{}, fmt.Errorf("direct batch job %q: %w", job.ID, err)
	}
	if !job.Op.RepeatSafe() || d.Max <= 0 || d.Max > maxPageSize {
		return batch.Progress{}, fmt.Errorf("direct batch job %q: %w: %s", job.ID, batch.ErrNotDirect, job.Op.Kind)
	}
	key := directKey(job.ID)
	release, err := d.enter(ctx, key)
	if err != nil {
		return batch.Progress{}, fmt.Errorf("direct batch job %q: %w", job.ID, err)
	}
	defer release()
	var listed []Execution
	if job.Listed != nil {
		if len(job.Listed) > d.Max {
			return batch.Progress{}, fmt.Errorf("direct batch job %q: %w: %d executions listed", job.ID, batch.ErrNotDirect, len(job.Listed))
		}
		listed = make([]Execution, len(job.Listed))
		for i, e := range job.Listed {
			listed[i] = Execution{WorkflowID: e.WorkflowID, RunID: e.RunID}
		}
	}
	rec, rev, err := d.claim(ctx, key, spec, job.Rule, listed)
	if err != nil {
		return rec.progress(), err
	}
	return d.apply(ctx, key, rec, rev)
}

// enter waits until no other run of this process holds key, so that a job
// resumed at start and its event delivered again meanwhile do not both apply
// it: the second finds the first's end in the record.
func (d *Direct) enter(ctx context.Context, key string) (func(), error) {
	for {
		d.mu.Lock()
		if d.running == nil {
			d.running = map[string]chan struct{}{}
		}
		busy, ok := d.running[key]
		if !ok {
			done := make(chan struct{})
			d.running[key] = done
			d.mu.Unlock()
			return func() {
				d.mu.Lock()
				delete(d.running, key)
				d.mu.Unlock()
				close(done)
			}, nil
		}
		d.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, batch.ErrShutdown
		}
	}
}

// claim returns the record to apply: a new one for a job id without a
// record, listed (unless the preflight listed it: listed is not nil) and
// recorded first, or the interrupted record of this job.
func (d *Direct) claim(ctx context.Context, key string, spec Spec, rule string, listed []Execution) (directRecord, uint64, error) {
	rec, rev, err := d.load(ctx, key)
	if err == nil {
		if rec.Done || !rec.sameJob(spec) {
			return rec, rev, fmt.Errorf("direct batch job %q: %w", spec.JobID, batch.ErrAlreadyStarted)
		}
		return rec, rev, nil
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return rec, 0, fmt.Errorf("direct batch job %q: %w: its bucket: %w", spec.JobID, batch.ErrNotDirect, err)
	}
	execs := listed
	if execs == nil {
		page, err := listPage(ctx, d.Client.WorkflowService(), PageRequest{Spec: spec})
		if err != nil {
			return rec, 0, fmt.Errorf("direct batch job %q: list: %w", spec.JobID, err)
		}
		if len(page.NextToken) > 0 {
			return rec, 0, fmt.Errorf("direct batch job %q: %w: the query selects more than %d executions",
				spec.JobID, batch.ErrNotDirect, d.Max)
		}
		execs = page.Executions
	}
	rec = directRecord{Spec: spec, Rule: rule, Executions: execs, StartedAt: time.Now().UTC()}
	body, err := json.Marshal(rec)
	if err != nil {
		return rec, 0, fmt.Errorf("direct batch job %q: %w", spec.JobID, err)
	}
	rev, err = d.Journal.Create(ctx, key, body)
	if errors.Is(err, jetstream.ErrKeyExists) {
		// Another delivery of the same event claimed it a moment ago.
		return d.claim(ctx, key, spec, rule, listed)
	}
	if err != nil {
		return rec, 0, fmt.Errorf("direct batch job %q: %w: record: %w", spec.JobID, batch.ErrNotDirect, err)
	}
	return rec, rev, nil
}

func (d *Direct) load(ctx context.Context, key string) (directRecord, uint64, error) {
	entry, err := d.Journal.Get(ctx, key)
	if err != nil {
		return directRecord{}, 0, err
	}
	var rec directRecord
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return rec, 0, fmt.Errorf("direct job record %s: %w", key, err)
	}
	return rec, entry.Revision(), nil
}

// apply applies the operation to every execution of the record without an
// outcome, passing again over those transient errors left, then records the
// end. An execution applied before (a resumed record keeps no per-execution
// progress while it runs) is applied again with the same request id.
func (d *Direct) apply(ctx context.Context, key string, rec directRecord, rev uint64) (batch.Progress, error) {
	spec, svc := rec.Spec, d.Client.WorkflowService()
	run := newPageRun(ApplyRequest{Executions: rec.Executions, Outcomes: rec.Outcomes}, func(ApplyResult) {})
	backoff := 200 * time.Millisecond
	for {
		run.dispatch(ctx, nil, spec, func(ctx context.Context, exec Execution) (outcome, string) {
			return handle(ctx, svc, spec, exec)
		})
		result := run.snapshot()
		rec.Outcomes, rec.Errors = result.Outcomes, result.Errors
		if countPending(result.Outcomes) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return rec.progress(), fmt.Errorf("direct batch job %q: %d executions left: %w",
				spec.JobID, countPending(result.Outcomes), batch.ErrShutdown)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, directRetryMax)
	}
	rec.Done, rec.ClosedAt = true, time.Now().UTC()
	if body, err := json.Marshal(rec); err == nil {
		_, err = d.Journal.Update(context.WithoutCancel(ctx), key, body, rev)
		if err != nil && d.Logger != nil {
			// The job has ended; an open record only makes a later run
			// apply it again, which the request ids make harmless.
			d.Logger.Warn("could not record the end of a direct batch job", "job_id", spec.JobID, "err", err)
		}
	}
	return rec.progress(), nil
}

// Select lists job's selection, as the direct engine would record it, when it
// holds at most limit executions (complete); else complete is false. The
// daemon's preflight uses it for a direct candidate, so that a small job
// costs one visibility call.
func (d *Direct) Select(ctx context.Context, job batch.Job, limit int64) ([]batch.Execution, bool, error) {
	spec := SpecFrom(job)
	spec.PageSize = int(min(limit, int64(d.Max)))
	spec = spec.withDefaults()
	if spec.PageSize <= 0 {
		return nil, false, nil
	}
	page, err := listPage(ctx, d.Client.WorkflowService(), PageRequest{Spec: spec})
	if err != nil || len(page.NextToken) > 0 {
		return nil, false, err
	}
	listed := make([]batch.Execution, len(page.Executions))
	for i, e := range page.Executions {
		listed[i] = batch.Execution{WorkflowID: e.WorkflowID, RunID: e.RunID}
	}
	return listed, true, nil
}

// Unfinished lists the jobs whose records have not ended: a process that
// stopped mid-job leaves them, and Run resumes each.
func (d *Direct) Unfinished(ctx context.Context) ([]batch.Job, error) {
	lister, err := d.Journal.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("direct job bucket %s: %w", DirectBucket, err)
	}
	defer func() { _ = lister.Stop() }()
	var jobs []batch.Job
	for key := range lister.Keys() {
		rec, _, err := d.load(ctx, key)
		if err != nil {
			if d.Logger != nil {
				d.Logger.Warn("unreadable direct job record", "key", key, "err", err)
			}
			continue
		}
		if !rec.Done {
			jobs = append(jobs, rec.job())
		}
	}
	return jobs, nil
}
