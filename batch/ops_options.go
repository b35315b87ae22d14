package batch

import (
	"time"

	activitypb "go.temporal.io/api/activity/v1"
	batchpb "go.temporal.io/api/batch/v1"
	commonpb "go.temporal.io/api/common/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// setOptionsOperation maps the versioning and activity kinds to the server
// batcher's operations. pause_activities has none (ClientOnly).
func (c *Client) setOptionsOperation(req *workflowservice.StartBatchOperationRequest, op Operation) {
	switch op.Kind {
	case KindUpdateOptions:
		opts, paths := op.UpdateOptions.Proto()
		req.Operation = &workflowservice.StartBatchOperationRequest_UpdateWorkflowOptionsOperation{
			UpdateWorkflowOptionsOperation: &batchpb.BatchOperationUpdateWorkflowExecutionOptions{
				Identity: c.identity, WorkflowExecutionOptions: opts, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}}
	case KindUnpauseActivities:
		u := op.UnpauseActivities
		unpause := &batchpb.BatchOperationUnpauseActivities{Identity: c.identity, ResetAttempts: u.ResetAttempts,
			ResetHeartbeat: u.ResetHeartbeats, Jitter: jitter(u.Jitter)}
		if u.MatchAll {
			unpause.Activity = &batchpb.BatchOperationUnpauseActivities_MatchAll{MatchAll: true}
		} else {
			unpause.Activity = &batchpb.BatchOperationUnpauseActivities_Type{Type: u.Type}
		}
		req.Operation = &workflowservice.StartBatchOperationRequest_UnpauseActivitiesOperation{UnpauseActivitiesOperation: unpause}
	case KindResetActivities:
		r := op.ResetActivities
		// Attempts always start again from 1 on a reset (as ResetActivity does).
		reset := &batchpb.BatchOperationResetActivities{Identity: c.identity, ResetAttempts: true,
			ResetHeartbeat: r.ResetHeartbeats, KeepPaused: r.KeepPaused, Jitter: jitter(r.Jitter),
			RestoreOriginalOptions: r.RestoreOriginalOptions}
		if r.MatchAll {
			reset.Activity = &batchpb.BatchOperationResetActivities_MatchAll{MatchAll: true}
		} else {
			reset.Activity = &batchpb.BatchOperationResetActivities_Type{Type: r.Type}
		}
		req.Operation = &workflowservice.StartBatchOperationRequest_ResetActivitiesOperation{ResetActivitiesOperation: reset}
	case KindUpdateActivityOptions:
		u := op.UpdateActivityOptions
		update := &batchpb.BatchOperationUpdateActivityOptions{Identity: c.identity, ActivityOptions: u.Proto(),
			UpdateMask: &fieldmaskpb.FieldMask{Paths: u.UpdatePaths()}, RestoreOriginal: u.RestoreOriginalOptions}
		if u.MatchAll {
			update.Activity = &batchpb.BatchOperationUpdateActivityOptions_MatchAll{MatchAll: true}
		} else {
			update.Activity = &batchpb.BatchOperationUpdateActivityOptions_Type{Type: u.Type}
		}
		req.Operation = &workflowservice.StartBatchOperationRequest_UpdateActivityOptionsOperation{UpdateActivityOptionsOperation: update}
	}
}

// Proto maps the options set to the API's; UpdatePaths is the mask.
func (u *UpdateActivityOptionsOptions) Proto() *activitypb.ActivityOptions {
	opts := &activitypb.ActivityOptions{
		ScheduleToCloseTimeout: optionalDuration(u.ScheduleToCloseTimeout),
		ScheduleToStartTimeout: optionalDuration(u.ScheduleToStartTimeout),
		StartToCloseTimeout:    optionalDuration(u.StartToCloseTimeout),
		HeartbeatTimeout:       optionalDuration(u.HeartbeatTimeout),
	}
	if u.TaskQueue != "" {
		opts.TaskQueue = &taskqueuepb.TaskQueue{Name: u.TaskQueue}
	}
	if r := u.Retry; r != nil {
		policy := &commonpb.RetryPolicy{InitialInterval: optionalDuration(r.InitialInterval),
			MaximumInterval: optionalDuration(r.MaximumInterval)}
		if r.BackoffCoefficient != nil {
			policy.BackoffCoefficient = *r.BackoffCoefficient
		}
		if r.MaximumAttempts != nil {
			policy.MaximumAttempts = *r.MaximumAttempts
		}
		opts.RetryPolicy = policy
	}
	return opts
}

func optionalDuration(d *time.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(*d)
}

func jitter(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}
