package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/batchwire/batchwire/batch"
)

// requestIDSpace makes request ids batchwire's own: the same (job, workflow,
// run) always yields the same id, and no other tool's ids collide with it.
var requestIDSpace = uuid.MustParse("6f1f3c55-8a53-4c1e-9a43-2b8f5e0d7c11")

// RequestID is the id every mutating call for one execution of one job
// carries, so the server drops a call the engine repeats after a crash: reset
// (the current run's create request id), signal (requested signal ids) and
// cancel dedupe on it. Terminate and delete have no request id.
func RequestID(jobID, workflowID, runID string) string {
	return uuid.NewSHA1(requestIDSpace, []byte(jobID+"\x00"+workflowID+"\x00"+runID)).String()
}

// identity names the job in every event it causes, for the audit trail.
func identity(jobID string) string { return "batchwire-engine:" + jobID }

// apply performs the operation on a planned target.
func apply(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, t Target) error {
	exec := executionOf(t.WorkflowID, t.RunID)
	requestID := RequestID(spec.JobID, t.WorkflowID, t.RunID)
	op := spec.Operation
	var err error
	switch op.Kind {
	case "signal":
		req := &workflowservice.SignalWorkflowExecutionRequest{Namespace: spec.Namespace, WorkflowExecution: exec,
			SignalName: op.Signal.Name, Identity: identity(spec.JobID), RequestId: requestID}
		if len(op.Signal.Input) > 0 {
			req.Input = &commonpb.Payloads{Payloads: []*commonpb.Payload{batch.JSONPayload(op.Signal.Input)}}
		}
		_, err = svc.SignalWorkflowExecution(ctx, req)
	case "terminate":
		_, err = svc.TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{
			Namespace: spec.Namespace, WorkflowExecution: exec, Reason: spec.Reason, Identity: identity(spec.JobID)})
	case "cancel":
		_, err = svc.RequestCancelWorkflowExecution(ctx, &workflowservice.RequestCancelWorkflowExecutionRequest{
			Namespace: spec.Namespace, WorkflowExecution: exec, Reason: spec.Reason,
			Identity: identity(spec.JobID), RequestId: requestID})
	case "delete":
		_, err = svc.DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: spec.Namespace, WorkflowExecution: exec})
	case "reset":
		err = reset(ctx, svc, spec, t, requestID)
	default:
		err = applyOptions(ctx, svc, spec, t)
	}
	if err != nil {
		return fmt.Errorf("%s %s/%s: %w", op.Kind, t.WorkflowID, t.RunID, err)
	}
	return nil
}

func reset(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, t Target, requestID string) error {
	_, err := svc.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 spec.Namespace,
		WorkflowExecution:         executionOf(t.WorkflowID, t.ResetRunID),
		Reason:                    spec.Reason,
		WorkflowTaskFinishEventId: t.EventID,
		RequestId:                 requestID,
		ResetReapplyExcludeTypes:  spec.Operation.Reset.ExcludeTypes(),
		PostResetOperations:       spec.Operation.Reset.PostResetProto(),
		Identity:                  identity(spec.JobID),
	})
	return err
}

// outcome is what happened to one execution of a page.
type outcome int8

const (
	pending outcome = iota
	completed
	failed
	skipped
)

// handle plans and applies the operation for one execution, retrying
// transient errors a few times. An execution still stuck on a transient or
// context error stays pending, so the page's next attempt does it (the
// request id makes a repeat harmless).
func handle(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, exec Execution) (outcome, string) {
	var target Target
	err := retryTransient(ctx, func() error {
		var planErr error
		target, planErr = plan(ctx, svc, spec, exec)
		return planErr
	})
	if err == nil && target.Skipped {
		return skipped, target.Reason
	}
	if err == nil && !spec.DryRun {
		err = retryTransient(ctx, func() error { return apply(ctx, svc, spec, target) })
	}
	return classify(ctx, svc, spec, exec, err)
}

func classify(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, exec Execution, err error) (outcome, string) {
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		return completed, ""
	case ctx.Err() != nil || transient(err):
		// Temporal, not the execution, is in trouble: leave it for the page's
		// retry rather than count it failed.
		return pending, err.Error()
	case errors.As(err, &notFound) && spec.Operation.Kind == "terminate" && terminatedByJob(ctx, svc, spec, exec):
		// A terminate repeated after a crash finds the run closed by this job.
		return completed, ""
	case errors.As(err, &notFound):
		return skipped, "execution already closed or deleted"
	}
	return failed, err.Error()
}

// terminatedByJob reports whether the run's last event is a termination with this job's identity.
func terminatedByJob(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, exec Execution) bool {
	resp, err := svc.GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace:       spec.Namespace,
		Execution:       executionOf(exec.WorkflowID, exec.RunID),
		MaximumPageSize: 1,
	})
	if err != nil || len(resp.GetHistory().GetEvents()) == 0 {
		return false
	}
	last := resp.GetHistory().GetEvents()[0]
	return last.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED &&
		last.GetWorkflowExecutionTerminatedEventAttributes().GetIdentity() == identity(spec.JobID)
}

// retryTransient repeats call a few times while the server is briefly
// unavailable or busy.
func retryTransient(ctx context.Context, call func() error) error {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := call()
		if err == nil || attempt == 3 || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// transient reports an error that says nothing about the execution itself.
func transient(err error) bool {
	var unavailable *serviceerror.Unavailable
	var exhausted *serviceerror.ResourceExhausted
	var deadline *serviceerror.DeadlineExceeded
	var aborted *serviceerror.Aborted
	var canceled *serviceerror.Canceled // the connection closing under a stopping daemon
	return errors.As(err, &unavailable) || errors.As(err, &exhausted) || errors.As(err, &deadline) ||
		errors.As(err, &aborted) || errors.As(err, &canceled) || errors.Is(err, context.DeadlineExceeded)
}
