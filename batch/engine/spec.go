package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/batchwire/batchwire/batch"
)

// Names the daemon's worker and the CLI agree on.
const (
	TaskQueue    = "batchwire-engine"
	WorkflowName = "batchwire.ClientBatch"
	// ProgressQuery returns a Report, whose JSON is a superset of batch.Progress.
	ProgressQuery = "progress"
	// StopSignal carries the reason of a Stop; the cancel that follows ends the job.
	StopSignal = "batchwire.stop"

	ListPageActivity  = "batchwire.ListPage"
	ApplyPageActivity = "batchwire.ApplyPage"
)

// Defaults for a Spec's zero fields; the rate and concurrency are batch's,
// shared with the daemon and the CLI.
const (
	// DefaultPageSize is the largest page: each page costs a listing and
	// an activity, and at 100 a page those round trips held a fan-out over
	// 1000 workflows to half the speed of a plain loop (BENCHMARKS.md).
	DefaultPageSize = maxPageSize
	// maxPageSize bounds the heartbeat details, which hold one outcome per execution of a page.
	maxPageSize = 1000
)

// Spec is one client-side batch job.
type Spec struct {
	JobID string `json:"job_id"`
	// Namespace is where the operation lands; the engine workflow itself runs in
	// the namespace of the client that starts it.
	Namespace string          `json:"namespace"`
	Query     string          `json:"query,omitempty"`
	Reason    string          `json:"reason"`
	Operation batch.Operation `json:"operation"`
	// IncludeIDs, when set, limits the job to these workflow ids (their current
	// runs when Query is empty, else the ones Query selects).
	IncludeIDs []string `json:"include_ids,omitempty"`
	ExcludeIDs []string `json:"exclude_ids,omitempty"`
	// Concurrency is how many executions are worked on at once
	// (default batch.DefaultClientConcurrency).
	Concurrency int `json:"concurrency,omitempty"`
	// RPS caps executions handled per second (default batch.DefaultClientRPS,
	// 0: no cap, Concurrency is the bound); the engine enforces it itself
	// because the server may ignore a requested rate.
	RPS      float64 `json:"rps,omitempty"`
	PageSize int     `json:"page_size,omitempty"`
	// DryRun plans every execution but changes nothing; what would be applied
	// counts as completed.
	DryRun bool `json:"dry_run,omitempty"`
}

// Checkpoint is the job's durable position, carried across continue-as-new.
type Checkpoint struct {
	PageToken []byte    `json:"page_token,omitempty"`
	Total     int64     `json:"total"`
	Completed int64     `json:"completed"`
	Failed    int64     `json:"failed"`
	Skipped   int64     `json:"skipped"`
	Done      bool      `json:"done"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Errors keeps the first few failures, for the audit record.
	Errors []string `json:"errors,omitempty"`
	// Listed is the next page, already listed: the first one by Start before
	// the job began, so the selection is durable (in the start event) before
	// anything is applied and the first workflow task needs no listing
	// activity; later ones by the listing that ran while the page before was
	// applied (Prefetch).
	Listed *Page `json:"listed,omitempty"`
	// LocalApply lets the job apply small pages as local activities (see
	// appliesLocally); jobs started before it existed replay as they ran.
	// A flag in the input rather than workflow.GetVersion, whose search
	// attribute update would cost every small job a visibility write.
	LocalApply bool `json:"local_apply,omitempty"`
	// Prefetch lists the next page while the current one is applied, so a
	// page follows the one before without waiting for a listing; jobs started
	// before it existed replay as they ran.
	Prefetch bool `json:"prefetch,omitempty"`
}

// Report is a job's progress: batch.Progress plus what only the engine knows.
type Report struct {
	batch.Progress
	// Skipped counts selected executions the operation did not apply to (for
	// example not non-deterministic, never signalled, already closed).
	Skipped    int64    `json:"skipped"`
	Errors     []string `json:"errors,omitempty"`
	StopReason string   `json:"stop_reason,omitempty"`
}

// Target is what the engine does (or would do) to one execution.
type Target struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// ResetRunID is the run a reset starts from; it differs from RunID for
	// LastContinuedAsNew, which resets the run that continued as new.
	ResetRunID string `json:"reset_run_id,omitempty"`
	// EventID is the reset point (WorkflowTaskFinishEventId).
	EventID int64 `json:"event_id,omitempty"`
	// ActivityIDs are the activities a pause acts on, found by plan.
	ActivityIDs []string `json:"activity_ids,omitempty"`
	Skipped     bool     `json:"skipped,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

const maxErrorSamples = 10

func (s Spec) withDefaults() Spec {
	if s.Concurrency == 0 {
		s.Concurrency = batch.DefaultClientConcurrency
	}
	if s.RPS == 0 {
		s.RPS = batch.DefaultClientRPS // 0 stays 0: no cap
	}
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	return s
}

// Validate checks the spec before any workflow starts, with errors naming the field.
func (s Spec) Validate() error {
	switch {
	case s.JobID == "":
		return errors.New("job_id is required")
	case s.Namespace == "":
		return errors.New("namespace is required")
	case strings.TrimSpace(s.Query) == "" && len(s.IncludeIDs) == 0:
		return errors.New("query or include_ids is required")
	case strings.TrimSpace(s.Reason) == "":
		return errors.New("reason is required")
	case s.PageSize > maxPageSize:
		return fmt.Errorf("page_size %d: at most %d", s.PageSize, maxPageSize)
	case s.Concurrency < 0 || s.RPS < 0 || s.PageSize < 0:
		return errors.New("concurrency, rps and page_size must not be negative")
	}
	if err := s.Operation.Validate(); err != nil {
		return fmt.Errorf("operation: %w", err)
	}
	return nil
}

// SpecFrom builds a client-side spec from a batch job; the engine-only
// fields (include and exclude ids, concurrency, dry run) are set after.
func SpecFrom(job batch.Job) Spec {
	return Spec{JobID: job.ID, Namespace: job.Namespace, Query: job.Query, Reason: job.Reason,
		Operation: job.Op, RPS: float64(job.MaxOpsPerSecond)}
}
