package batch

import (
	"time"

	"github.com/batchwire/batchwire/config"
)

// ruleOptionsOperation compiles the rule actions added with Worker
// Versioning and activity operations; RuleOperation validates the result.
func ruleOptionsOperation(r *config.Rule) Operation {
	switch {
	case r.UpdateOptions != nil:
		return UpdateOptions(workflowOptions(r.UpdateOptions))
	case r.PauseActivities != nil:
		a := r.PauseActivities
		return PauseActivities(PauseActivitiesOptions{ActivitySelector: ActivitySelector{Type: a.ActivityType, MatchAll: a.MatchAll}})
	case r.UnpauseActivities != nil:
		a := r.UnpauseActivities
		return UnpauseActivities(UnpauseActivitiesOptions{
			ActivitySelector: ActivitySelector{Type: a.ActivityType, MatchAll: a.MatchAll},
			ResetAttempts:    a.ResetAttempts, ResetHeartbeats: a.ResetHeartbeats, Jitter: a.Jitter.Std()})
	case r.ResetActivities != nil:
		a := r.ResetActivities
		return ResetActivities(ResetActivitiesOptions{
			ActivitySelector: ActivitySelector{Type: a.ActivityType, MatchAll: a.MatchAll},
			ResetHeartbeats:  a.ResetHeartbeats, KeepPaused: a.KeepPaused, Jitter: a.Jitter.Std(),
			RestoreOriginalOptions: a.RestoreOriginalOptions})
	case r.UpdateActivityOptions != nil:
		return UpdateActivityOptions(activityOptions(r.UpdateActivityOptions))
	}
	return Operation{}
}

func workflowOptions(a *config.UpdateOptionsAction) WorkflowOptions {
	var opts WorkflowOptions
	if v := a.VersioningOverride; v != nil {
		opts.VersioningOverride = &VersioningOverride{Behavior: v.Behavior, DeploymentName: v.DeploymentName, BuildID: v.BuildID}
	}
	return opts
}

func activityOptions(a *config.UpdateActivityOptionsAction) UpdateActivityOptionsOptions {
	opts := UpdateActivityOptionsOptions{
		ActivitySelector:       ActivitySelector{Type: a.ActivityType, MatchAll: a.MatchAll},
		TaskQueue:              a.TaskQueue,
		ScheduleToCloseTimeout: durationPtr(a.ScheduleToCloseTimeout),
		ScheduleToStartTimeout: durationPtr(a.ScheduleToStartTimeout),
		StartToCloseTimeout:    durationPtr(a.StartToCloseTimeout),
		HeartbeatTimeout:       durationPtr(a.HeartbeatTimeout),
		RestoreOriginalOptions: a.RestoreOriginalOptions,
	}
	if r := a.Retry; r != nil {
		opts.Retry = &RetryOptions{InitialInterval: durationPtr(r.InitialInterval), MaximumInterval: durationPtr(r.MaximumInterval),
			BackoffCoefficient: r.BackoffCoefficient, MaximumAttempts: r.MaximumAttempts}
	}
	return opts
}

func durationPtr(d *config.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.Std()
	return &v
}
