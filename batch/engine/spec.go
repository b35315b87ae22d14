package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/batchwire/batchwire/batch"
)

// Names the daemon's worker and the CLI agree on.
const (
	TaskQueue    = "batchwire-engine"
	WorkflowName = "batchwire.ClientBatch"
	// ProgressQuery returns a Result, whose JSON is a superset of batch.Progress.
	ProgressQuery = "progress"
	// StopSignal carries the reason of a Stop; the cancel that follows ends the job.
	StopSignal = "batchwire.stop"

	ListPageActivity  = "batchwire.ListPage"
	ApplyPageActivity = "batchwire.ApplyPage"
)

// Reset types only the engine knows, beside the batch.Reset* ones.
const (
	// ResetBadBinary resets to the first workflow task completed by
	// Operation.BadBinaryChecksum (tctl's BadBinary).
	ResetBadBinary = "BadBinary"
)

// Defaults for a Spec's zero fields.
const (
	DefaultConcurrency = 8
	DefaultRPS         = 20
	DefaultPageSize    = 100
	// maxPageSize bounds the heartbeat details, which hold one outcome per execution of a page.
	maxPageSize = 1000
)

// Operation is a serialisable description of what the engine does to each execution.
type Operation struct {
	// Kind is signal, terminate, cancel, delete or reset (batch.Operation.Kind).
	Kind string `json:"kind"`
	// SignalName is the signal to send (Kind signal). For a WorkflowExecutionSignaled
	// reset it narrows "the last signal" to signals of this name.
	SignalName  string          `json:"signal_name,omitempty"`
	SignalInput json.RawMessage `json:"signal_input,omitempty"`
	// ResetType is one of batch.ResetTypes or ResetBadBinary.
	ResetType         string `json:"reset_type,omitempty"`
	BuildID           string `json:"build_id,omitempty"`
	BadBinaryChecksum string `json:"bad_binary_checksum,omitempty"`
	// OnlyNonDeterministic resets only executions whose last workflow task failed
	// with a non-determinism error; the others are skipped.
	OnlyNonDeterministic bool `json:"only_non_deterministic,omitempty"`
	// ReapplyExclude lists event kinds not reapplied after the reset point:
	// signal, update, cancel_request, nexus.
	ReapplyExclude []string `json:"reapply_exclude,omitempty"`
}

// Spec is one client-side batch job.
type Spec struct {
	JobID string `json:"job_id"`
	// Namespace is where the operation lands; the engine workflow itself runs in
	// the namespace of the client that starts it.
	Namespace string    `json:"namespace"`
	Query     string    `json:"query,omitempty"`
	Reason    string    `json:"reason"`
	Operation Operation `json:"operation"`
	// IncludeIDs, when set, limits the job to these workflow ids (their current
	// runs when Query is empty, else the ones Query selects).
	IncludeIDs []string `json:"include_ids,omitempty"`
	ExcludeIDs []string `json:"exclude_ids,omitempty"`
	// Concurrency is how many executions are worked on at once (default 8).
	Concurrency int `json:"concurrency,omitempty"`
	// RPS caps executions handled per second (default 20); the engine enforces
	// it itself because the server may ignore a requested rate.
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
}

// Result is a job's progress: batch.Progress plus what only the engine knows.
type Result struct {
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
	EventID int64  `json:"event_id,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

const maxErrorSamples = 10

func (s Spec) withDefaults() Spec {
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.RPS == 0 {
		s.RPS = DefaultRPS
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

// Validate checks the operation's fields for its kind.
func (o Operation) Validate() error {
	switch o.Kind {
	case "signal":
		if strings.TrimSpace(o.SignalName) == "" {
			return errors.New("signal_name is required")
		}
		if len(o.SignalInput) > 0 && !json.Valid(o.SignalInput) {
			return errors.New("signal_input is not valid JSON")
		}
	case "terminate", "cancel", "delete":
	case "reset":
		return o.validateReset()
	default:
		return fmt.Errorf("kind %q: want signal, terminate, cancel, delete or reset", o.Kind)
	}
	if o.OnlyNonDeterministic {
		return errors.New("only_non_deterministic applies to reset only")
	}
	return nil
}

func (o Operation) validateReset() error {
	if !slices.Contains(batch.ResetTypes, o.ResetType) && o.ResetType != ResetBadBinary {
		return fmt.Errorf("reset_type %q: want one of %s, %s", o.ResetType,
			strings.Join(batch.ResetTypes, ", "), ResetBadBinary)
	}
	if o.ResetType == batch.ResetBuildID && o.BuildID == "" {
		return errors.New("reset_type BuildId needs build_id")
	}
	if o.ResetType == ResetBadBinary && o.BadBinaryChecksum == "" {
		return errors.New("reset_type BadBinary needs bad_binary_checksum")
	}
	_, err := o.excludeTypes()
	return err
}

func (o Operation) excludeTypes() ([]enumspb.ResetReapplyExcludeType, error) {
	out := make([]enumspb.ResetReapplyExcludeType, 0, len(o.ReapplyExclude))
	for _, name := range o.ReapplyExclude {
		v, ok := enumspb.ResetReapplyExcludeType_value["RESET_REAPPLY_EXCLUDE_TYPE_"+strings.ToUpper(name)]
		if !ok || v == 0 {
			return nil, fmt.Errorf("reapply_exclude %q: want signal, update, cancel_request or nexus", name)
		}
		out = append(out, enumspb.ResetReapplyExcludeType(v))
	}
	return out, nil
}

// OperationFrom converts a batch operation, so a rule's operation can run on
// either engine.
func OperationFrom(op batch.Operation) (Operation, error) {
	switch o := op.(type) {
	case batch.Signal:
		return Operation{Kind: "signal", SignalName: o.Name, SignalInput: o.Input}, nil
	case batch.Terminate, batch.Cancel, batch.Delete:
		return Operation{Kind: op.Kind()}, nil
	case batch.Reset:
		return Operation{Kind: "reset", ResetType: o.Type, BuildID: o.BuildID, ReapplyExclude: o.ExcludeReapply,
			OnlyNonDeterministic: o.OnlyNonDeterministic, BadBinaryChecksum: o.BadBinaryChecksum}, nil
	case nil:
		return Operation{}, errors.New("operation is required")
	}
	return Operation{}, fmt.Errorf("operation %q has no client-side form", op.Kind())
}

// SpecFrom builds a client-side spec from a batch job; the engine-only fields
// (include and exclude ids, concurrency, the reset filters) are set after.
func SpecFrom(job batch.Job) (Spec, error) {
	op, err := OperationFrom(job.Op)
	if err != nil {
		return Spec{}, fmt.Errorf("batch job %q: %w", job.ID, err)
	}
	return Spec{JobID: job.ID, Namespace: job.Namespace, Query: job.Query, Reason: job.Reason,
		Operation: op, RPS: float64(job.MaxOpsPerSecond)}, nil
}
