package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	batchpb "go.temporal.io/api/batch/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
)

// Errors a caller acts on.
var (
	// ErrAlreadyStarted means a job with this id exists: the launch was done before.
	ErrAlreadyStarted = errors.New("batch job already started")
	// ErrSlotBusy means the namespace's concurrent batch operation limit is reached.
	ErrSlotBusy = errors.New("namespace batch slot busy")
	// ErrJobIDTaken means a job with this id exists, but it is another job.
	ErrJobIDTaken = errors.New("job id taken by a different job")
	// ErrNotFound means no batch job has this id.
	ErrNotFound = errors.New("batch job not found")
	// ErrUnavailable means Temporal kept failing with transient errors for
	// longer than the retry budget; the event should be tried again later.
	ErrUnavailable = errors.New("temporal unavailable")
	// ErrShutdown means the launcher stopped before the decision was made;
	// the event should be tried again by the next run.
	ErrShutdown = errors.New("launcher shutting down")
	// ErrNotDirect means the direct engine does not take the job (too many
	// executions, its bucket unreachable); the client engine runs it.
	ErrNotDirect = errors.New("not a job for the direct engine")
)

// Job is one batch operation to launch.
type Job struct {
	ID string
	// Rule names the rule that made the job, for metrics and audit; empty for CLI jobs.
	Rule      string
	Namespace string
	Query     string
	Reason    string
	Op        Operation
	// MaxOpsPerSecond asks the server batcher for a rate; 0 keeps its default.
	MaxOpsPerSecond float32
	// Listed, when not nil, is the whole selection, listed by the preflight
	// of a job small enough for the direct engine, which records it instead
	// of listing the query again.
	Listed []Execution
}

// Validate checks locally what the server would reject with an opaque error.
func (j Job) Validate() error {
	switch {
	case j.ID == "":
		return errors.New("job id is required")
	case j.Namespace == "":
		return errors.New("namespace is required")
	case strings.TrimSpace(j.Query) == "":
		return errors.New("query is required")
	case strings.TrimSpace(j.Reason) == "":
		return errors.New("reason is required")
	}
	return j.Op.Validate()
}

// Progress is a batch job's state as last described.
type Progress struct {
	JobID     string    `json:"job_id"`
	Namespace string    `json:"namespace"`
	Operation string    `json:"operation"`
	State     string    `json:"state"`
	Total     int64     `json:"total"`
	Completed int64     `json:"completed"`
	Failed    int64     `json:"failed"`
	Reason    string    `json:"reason,omitempty"`
	Query     string    `json:"query,omitempty"`
	StartTime time.Time `json:"start_time,omitzero"`
	CloseTime time.Time `json:"close_time,omitzero"`
	// StopReason says why batchwire stopped the job itself (StopWatchdog,
	// StopFailureRatio); empty otherwise.
	StopReason string `json:"stop_reason,omitempty"`
}

// Job states, as exported in metrics and shown by the CLI.
const (
	StateRunning   = "running"
	StateCompleted = "completed"
	StateFailed    = "failed"
	StateStopped   = "stopped"
	StateUnknown   = "unknown"
)

// States lists every state, for per-job state gauges.
var States = []string{StateRunning, StateCompleted, StateFailed, StateStopped, StateUnknown}

// Done reports whether the job has ended.
func (p Progress) Done() bool {
	return p.State == StateCompleted || p.State == StateFailed || p.State == StateStopped
}

// Count runs the visibility query through CountWorkflowExecutions. It is the
// preflight for every launch: a query the server cannot run must never become
// a batch job, which would retry forever and hold the namespace's slot.
func (c *Client) Count(ctx context.Context, namespace, query string) (int64, error) {
	resp, err := c.svc.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: namespace, Query: query,
	})
	if err != nil {
		return 0, fmt.Errorf("count workflows: %w", err)
	}
	return resp.GetCount(), nil
}

// Start launches the job on the server batcher.
func (c *Client) Start(ctx context.Context, job Job) error {
	if err := job.Validate(); err != nil {
		return fmt.Errorf("batch job %q: %w", job.ID, err)
	}
	if needs := job.Op.ClientOnly(); len(needs) > 0 {
		return fmt.Errorf("batch job %q: the server batcher cannot run %s; use the client engine", job.ID, strings.Join(needs, ", "))
	}
	req := &workflowservice.StartBatchOperationRequest{
		Namespace:              job.Namespace,
		VisibilityQuery:        job.Query,
		JobId:                  job.ID,
		Reason:                 job.Reason,
		MaxOperationsPerSecond: job.MaxOpsPerSecond,
	}
	c.setOperation(req, job.Op)
	_, err := c.svc.StartBatchOperation(ctx, req)
	return classify(fmt.Sprintf("start batch job %q", job.ID), err)
}

func (c *Client) setOperation(req *workflowservice.StartBatchOperationRequest, op Operation) {
	switch op.Kind {
	case KindSignal:
		sig := &batchpb.BatchOperationSignal{Signal: op.Signal.Name, Identity: c.identity}
		if len(op.Signal.Input) > 0 {
			sig.Input = &commonpb.Payloads{Payloads: []*commonpb.Payload{JSONPayload(op.Signal.Input)}}
		}
		req.Operation = &workflowservice.StartBatchOperationRequest_SignalOperation{SignalOperation: sig}
	case KindTerminate:
		req.Operation = &workflowservice.StartBatchOperationRequest_TerminationOperation{
			TerminationOperation: &batchpb.BatchOperationTermination{Identity: c.identity}}
	case KindCancel:
		req.Operation = &workflowservice.StartBatchOperationRequest_CancellationOperation{
			CancellationOperation: &batchpb.BatchOperationCancellation{Identity: c.identity}}
	case KindDelete:
		req.Operation = &workflowservice.StartBatchOperationRequest_DeletionOperation{
			DeletionOperation: &batchpb.BatchOperationDeletion{Identity: c.identity}}
	case KindReset:
		req.Operation = &workflowservice.StartBatchOperationRequest_ResetOperation{
			ResetOperation: &batchpb.BatchOperationReset{Identity: c.identity, Options: serverResetOptions(op.Reset),
				PostResetOperations: op.Reset.PostResetProto()}}
	default:
		c.setOptionsOperation(req, op)
	}
}

// JSONPayload wraps JSON bytes in the payload encoding every SDK decodes.
func JSONPayload(data []byte) *commonpb.Payload {
	return &commonpb.Payload{
		Metadata: map[string][]byte{"encoding": []byte("json/plain")},
		Data:     data,
	}
}

// Describe returns the job's current progress.
func (c *Client) Describe(ctx context.Context, namespace, jobID string) (Progress, error) {
	resp, err := c.svc.DescribeBatchOperation(ctx, &workflowservice.DescribeBatchOperationRequest{
		Namespace: namespace, JobId: jobID,
	})
	if err != nil {
		return Progress{}, classify(fmt.Sprintf("describe batch job %q", jobID), err)
	}
	return Progress{
		JobID:     resp.GetJobId(),
		Namespace: namespace,
		Operation: operationName(resp.GetOperationType()),
		State:     stateName(resp.GetState()),
		Total:     resp.GetTotalOperationCount(),
		Completed: resp.GetCompleteOperationCount(),
		Failed:    resp.GetFailureOperationCount(),
		Reason:    resp.GetReason(),
		Query:     resp.GetQuery(),
		StartTime: resp.GetStartTime().AsTime(),
		CloseTime: closeTime(resp.GetCloseTime().AsTime()),
	}, nil
}

// Stop stops a running job; operations already applied stay applied.
func (c *Client) Stop(ctx context.Context, namespace, jobID, reason string) error {
	_, err := c.svc.StopBatchOperation(ctx, &workflowservice.StopBatchOperationRequest{
		Namespace: namespace, JobId: jobID, Reason: reason, Identity: c.identity,
	})
	return classify(fmt.Sprintf("stop batch job %q", jobID), err)
}

func classify(doing string, err error) error {
	if err == nil {
		return nil
	}
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	var exhausted *serviceerror.ResourceExhausted
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &exists):
		return fmt.Errorf("%s: %w", doing, ErrAlreadyStarted)
	case errors.As(err, &exhausted):
		return fmt.Errorf("%s: %w: %s", doing, ErrSlotBusy, exhausted.Message)
	case errors.As(err, &notFound):
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func stateName(s enumspb.BatchOperationState) string {
	switch s {
	case enumspb.BATCH_OPERATION_STATE_RUNNING:
		return StateRunning
	case enumspb.BATCH_OPERATION_STATE_COMPLETED:
		return StateCompleted
	case enumspb.BATCH_OPERATION_STATE_FAILED:
		return StateFailed
	default:
		// The server has no "stopped" state on describe; a stopped job reads as failed.
		return StateUnknown
	}
}

// operationName names the server's operation type with batchwire's kind.
func operationName(t enumspb.BatchOperationType) string {
	switch t {
	case enumspb.BATCH_OPERATION_TYPE_UPDATE_EXECUTION_OPTIONS, //nolint:staticcheck // older servers report it
		enumspb.BATCH_OPERATION_TYPE_UPDATE_WORKFLOW_EXECUTION_OPTIONS:
		return KindUpdateOptions
	case enumspb.BATCH_OPERATION_TYPE_UNPAUSE_ACTIVITY:
		return KindUnpauseActivities
	case enumspb.BATCH_OPERATION_TYPE_RESET_ACTIVITY:
		return KindResetActivities
	case enumspb.BATCH_OPERATION_TYPE_UPDATE_ACTIVITY_OPTIONS:
		return KindUpdateActivityOptions
	}
	name := strings.TrimPrefix(t.String(), "BATCH_OPERATION_TYPE_")
	name = strings.TrimSuffix(name, "_WORKFLOW")
	return strings.ToLower(name)
}

func closeTime(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t
}
