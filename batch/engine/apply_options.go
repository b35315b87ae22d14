package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/batchwire/batchwire/batch"
)

// applyOptions applies the versioning and activity kinds to one execution,
// with the same per-execution calls the server batcher makes, plus
// PauseActivity, which the batcher lacks.
func applyOptions(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, t Target) error {
	exec, who := executionOf(t.WorkflowID, t.RunID), identity(spec.JobID)
	op := spec.Operation
	var err error
	switch op.Kind {
	case batch.KindUpdateOptions:
		opts, paths := op.UpdateOptions.Proto()
		_, err = svc.UpdateWorkflowExecutionOptions(ctx, &workflowservice.UpdateWorkflowExecutionOptionsRequest{
			Namespace: spec.Namespace, WorkflowExecution: exec, WorkflowExecutionOptions: opts,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}, Identity: who})
	case batch.KindPauseActivities:
		err = pauseActivities(ctx, svc, spec, t)
	case batch.KindUnpauseActivities:
		u := op.UnpauseActivities
		req := &workflowservice.UnpauseActivityRequest{Namespace: spec.Namespace, Execution: exec, Identity: who,
			ResetAttempts: u.ResetAttempts, ResetHeartbeat: u.ResetHeartbeats, Jitter: jitter(u.Jitter)}
		if u.MatchAll {
			req.Activity = &workflowservice.UnpauseActivityRequest_UnpauseAll{UnpauseAll: true}
		} else {
			req.Activity = &workflowservice.UnpauseActivityRequest_Type{Type: u.Type}
		}
		_, err = svc.UnpauseActivity(ctx, req)
	case batch.KindResetActivities:
		err = resetActivities(ctx, svc, spec, exec)
	case batch.KindUpdateActivityOptions:
		u := op.UpdateActivityOptions
		req := &workflowservice.UpdateActivityOptionsRequest{Namespace: spec.Namespace, Execution: exec, Identity: who,
			ActivityOptions: u.Proto(), UpdateMask: &fieldmaskpb.FieldMask{Paths: u.UpdatePaths()},
			RestoreOriginal: u.RestoreOriginalOptions}
		if u.MatchAll {
			req.Activity = &workflowservice.UpdateActivityOptionsRequest_MatchAll{MatchAll: true}
		} else {
			req.Activity = &workflowservice.UpdateActivityOptionsRequest_Type{Type: u.Type}
		}
		_, err = svc.UpdateActivityOptions(ctx, req)
	default:
		err = fmt.Errorf("unknown operation kind %q", op.Kind)
	}
	return err
}

func resetActivities(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, exec *commonpb.WorkflowExecution) error {
	r := spec.Operation.ResetActivities
	req := &workflowservice.ResetActivityRequest{Namespace: spec.Namespace, Execution: exec, Identity: identity(spec.JobID),
		ResetHeartbeat: r.ResetHeartbeats, KeepPaused: r.KeepPaused, Jitter: jitter(r.Jitter),
		RestoreOriginalOptions: r.RestoreOriginalOptions}
	if r.MatchAll {
		req.Activity = &workflowservice.ResetActivityRequest_MatchAll{MatchAll: true}
	} else {
		req.Activity = &workflowservice.ResetActivityRequest_Type{Type: r.Type}
	}
	_, err := svc.ResetActivity(ctx, req)
	return err
}

// pauseActivities pauses each activity plan found pending and not yet
// paused, by id, with a request id per activity so a repeat is dropped.
func pauseActivities(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, t Target) error {
	var errs []error
	for _, activityID := range t.ActivityIDs {
		_, err := svc.PauseActivity(ctx, &workflowservice.PauseActivityRequest{
			Namespace: spec.Namespace, Execution: executionOf(t.WorkflowID, t.RunID), Identity: identity(spec.JobID),
			Activity: &workflowservice.PauseActivityRequest_Id{Id: activityID},
			Reason:   spec.Reason, RequestId: RequestID(spec.JobID, t.WorkflowID, t.RunID+"\x00"+activityID),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("activity %s: %w", activityID, err))
		}
	}
	return errors.Join(errs...)
}

// planPause lists the pending, unpaused activities the selector picks in
// one execution; none means the execution is skipped.
func planPause(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, target Target) (Target, error) {
	resp, err := svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
		Namespace: spec.Namespace, Execution: executionOf(target.WorkflowID, target.RunID)})
	if err != nil {
		return target, err
	}
	sel := spec.Operation.PauseActivities.ActivitySelector
	for _, pending := range resp.GetPendingActivities() {
		if pending.GetPaused() || (!sel.MatchAll && pending.GetActivityType().GetName() != sel.Type) {
			continue
		}
		target.ActivityIDs = append(target.ActivityIDs, pending.GetActivityId())
	}
	if len(target.ActivityIDs) == 0 {
		target.Skipped, target.Reason = true, "no pending unpaused activity of "+sel.String()
	}
	return target, nil
}

func jitter(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}
