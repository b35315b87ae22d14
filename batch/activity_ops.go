package batch

import (
	"fmt"
	"strings"
	"time"
)

// ActivitySelector picks, in each selected execution, the pending
// activities an activity operation acts on: those of one type, or all.
type ActivitySelector struct {
	Type     string `json:"activity_type,omitempty"`
	MatchAll bool   `json:"match_all,omitempty"`
}

func (s ActivitySelector) validate(kind string) []error {
	switch {
	case strings.TrimSpace(s.Type) == "" && !s.MatchAll:
		return []error{fieldErr(kind+".activity_type", "required: an activity type, or match_all: true for every activity")}
	case s.Type != "" && s.MatchAll:
		return []error{fieldErr(kind+".match_all", "not with activity_type: one or the other")}
	}
	return nil
}

func (s ActivitySelector) String() string {
	if s.MatchAll {
		return "match_all"
	}
	return "activity_type=" + s.Type
}

// PauseActivitiesOptions pause the selected activities of each execution
// (PauseActivity per execution: the server batcher has no pause). A paused
// activity is not retried until it is unpaused.
type PauseActivitiesOptions struct {
	ActivitySelector
}

// UnpauseActivitiesOptions unpause the selected paused activities.
type UnpauseActivitiesOptions struct {
	ActivitySelector
	// ResetAttempts starts the attempt count again from 1.
	ResetAttempts bool `json:"reset_attempts,omitempty"`
	// ResetHeartbeats drops the heartbeat details; only with ResetAttempts.
	ResetHeartbeats bool `json:"reset_heartbeats,omitempty"`
	// Jitter starts each activity at a random time within this duration.
	Jitter time.Duration `json:"jitter,omitempty"`
}

// ResetActivitiesOptions reset the selected activities: the attempt count
// starts again from 1 and the activity is scheduled again at once (a
// running attempt is abandoned).
type ResetActivitiesOptions struct {
	ActivitySelector
	// ResetHeartbeats drops the heartbeat details.
	ResetHeartbeats bool `json:"reset_heartbeats,omitempty"`
	// KeepPaused leaves a paused activity paused after the reset.
	KeepPaused bool `json:"keep_paused,omitempty"`
	// Jitter schedules each activity at a random time within this duration.
	Jitter time.Duration `json:"jitter,omitempty"`
	// RestoreOriginalOptions puts back the options the activity was
	// scheduled with, undoing update_activity_options.
	RestoreOriginalOptions bool `json:"restore_original_options,omitempty"`
}

// UpdateActivityOptionsOptions change the selected activities' options. Only
// the options set are changed (the update mask is what is set).
type UpdateActivityOptionsOptions struct {
	ActivitySelector
	TaskQueue              string         `json:"task_queue,omitempty"`
	ScheduleToCloseTimeout *time.Duration `json:"schedule_to_close_timeout,omitempty"`
	ScheduleToStartTimeout *time.Duration `json:"schedule_to_start_timeout,omitempty"`
	StartToCloseTimeout    *time.Duration `json:"start_to_close_timeout,omitempty"`
	HeartbeatTimeout       *time.Duration `json:"heartbeat_timeout,omitempty"`
	Retry                  *RetryOptions  `json:"retry,omitempty"`
	// RestoreOriginalOptions puts back the options the activity was
	// scheduled with; it goes with no other option.
	RestoreOriginalOptions bool `json:"restore_original_options,omitempty"`
}

// RetryOptions are the retry policy fields an update may set.
type RetryOptions struct {
	InitialInterval    *time.Duration `json:"initial_interval,omitempty"`
	MaximumInterval    *time.Duration `json:"maximum_interval,omitempty"`
	BackoffCoefficient *float64       `json:"backoff_coefficient,omitempty"`
	MaximumAttempts    *int32         `json:"maximum_attempts,omitempty"`
}

// PauseActivities returns a pause_activities operation.
func PauseActivities(opts PauseActivitiesOptions) Operation {
	return Operation{Kind: KindPauseActivities, PauseActivities: &opts}
}

// UnpauseActivities returns an unpause_activities operation.
func UnpauseActivities(opts UnpauseActivitiesOptions) Operation {
	return Operation{Kind: KindUnpauseActivities, UnpauseActivities: &opts}
}

// ResetActivities returns a reset_activities operation.
func ResetActivities(opts ResetActivitiesOptions) Operation {
	return Operation{Kind: KindResetActivities, ResetActivities: &opts}
}

// UpdateActivityOptions returns an update_activity_options operation.
func UpdateActivityOptions(opts UpdateActivityOptionsOptions) Operation {
	return Operation{Kind: KindUpdateActivityOptions, UpdateActivityOptions: &opts}
}

func (p *PauseActivitiesOptions) validate() []error {
	if p == nil {
		return ActivitySelector{}.validate(KindPauseActivities)
	}
	return p.ActivitySelector.validate(KindPauseActivities)
}

func (u *UnpauseActivitiesOptions) validate() []error {
	if u == nil {
		return ActivitySelector{}.validate(KindUnpauseActivities)
	}
	errs := u.ActivitySelector.validate(KindUnpauseActivities)
	if u.ResetHeartbeats && !u.ResetAttempts {
		errs = append(errs, fieldErr(KindUnpauseActivities+".reset_heartbeats", "only with reset_attempts: true"))
	}
	return append(errs, validJitter(KindUnpauseActivities, u.Jitter)...)
}

func (r *ResetActivitiesOptions) validate() []error {
	if r == nil {
		return ActivitySelector{}.validate(KindResetActivities)
	}
	errs := r.ActivitySelector.validate(KindResetActivities)
	return append(errs, validJitter(KindResetActivities, r.Jitter)...)
}

func validJitter(kind string, jitter time.Duration) []error {
	if jitter < 0 {
		return []error{fieldErr(kind+".jitter", "must not be negative")}
	}
	return nil
}

func (u *UpdateActivityOptionsOptions) validate() []error {
	const kind = KindUpdateActivityOptions
	if u == nil {
		return ActivitySelector{}.validate(kind)
	}
	errs := u.ActivitySelector.validate(kind)
	paths := u.UpdatePaths()
	switch {
	case u.RestoreOriginalOptions && len(paths) > 0:
		errs = append(errs, fieldErr(kind+".restore_original_options", "goes with no other option (the server refuses both)"))
	case !u.RestoreOriginalOptions && len(paths) == 0:
		errs = append(errs, fieldErr(kind, "nothing to change: set an option (task_queue, a timeout, retry) "+
			"or restore_original_options"))
	}
	for _, d := range []struct {
		name  string
		value *time.Duration
	}{
		{"schedule_to_close_timeout", u.ScheduleToCloseTimeout}, {"schedule_to_start_timeout", u.ScheduleToStartTimeout},
		{"start_to_close_timeout", u.StartToCloseTimeout}, {"heartbeat_timeout", u.HeartbeatTimeout},
	} {
		if d.value != nil && *d.value < 0 {
			errs = append(errs, fieldErr(kind+"."+d.name, "must not be negative"))
		}
	}
	return append(errs, u.Retry.validate(kind+".retry")...)
}

func (r *RetryOptions) validate(prefix string) []error {
	if r == nil {
		return nil
	}
	var errs []error
	if r.BackoffCoefficient != nil && *r.BackoffCoefficient < 1 {
		errs = append(errs, fieldErr(prefix+".backoff_coefficient", "must be 1 or more, got %v", *r.BackoffCoefficient))
	}
	if r.MaximumAttempts != nil && *r.MaximumAttempts < 0 {
		errs = append(errs, fieldErr(prefix+".maximum_attempts", "must not be negative (0 is unlimited)"))
	}
	for name, d := range map[string]*time.Duration{"initial_interval": r.InitialInterval, "maximum_interval": r.MaximumInterval} {
		if d != nil && *d <= 0 {
			errs = append(errs, fieldErr(prefix+"."+name, "must be positive"))
		}
	}
	return errs
}

// UpdatePaths is the update mask: the API's path of each option set, in a
// fixed order.
func (u *UpdateActivityOptionsOptions) UpdatePaths() []string {
	var paths []string
	add := func(set bool, path string) {
		if set {
			paths = append(paths, path)
		}
	}
	add(u.TaskQueue != "", "task_queue.name")
	add(u.ScheduleToCloseTimeout != nil, "schedule_to_close_timeout")
	add(u.ScheduleToStartTimeout != nil, "schedule_to_start_timeout")
	add(u.StartToCloseTimeout != nil, "start_to_close_timeout")
	add(u.HeartbeatTimeout != nil, "heartbeat_timeout")
	if r := u.Retry; r != nil {
		add(r.InitialInterval != nil, "retry_policy.initial_interval")
		add(r.MaximumInterval != nil, "retry_policy.maximum_interval")
		add(r.BackoffCoefficient != nil, "retry_policy.backoff_coefficient")
		add(r.MaximumAttempts != nil, "retry_policy.maximum_attempts")
	}
	return paths
}

// activityString describes an activity operation's options for String.
func (o Operation) activityString() []string {
	var parts []string
	flag := func(set bool, name string) {
		if set {
			parts = append(parts, name)
		}
	}
	jitter := func(d time.Duration) {
		if d > 0 {
			parts = append(parts, "jitter="+d.String())
		}
	}
	switch {
	case o.PauseActivities != nil:
		parts = append(parts, o.PauseActivities.String())
	case o.UnpauseActivities != nil:
		u := o.UnpauseActivities
		parts = append(parts, u.String())
		flag(u.ResetAttempts, "reset_attempts")
		flag(u.ResetHeartbeats, "reset_heartbeats")
		jitter(u.Jitter)
	case o.ResetActivities != nil:
		r := o.ResetActivities
		parts = append(parts, r.String())
		flag(r.ResetHeartbeats, "reset_heartbeats")
		flag(r.KeepPaused, "keep_paused")
		flag(r.RestoreOriginalOptions, "restore_original_options")
		jitter(r.Jitter)
	case o.UpdateActivityOptions != nil:
		u := o.UpdateActivityOptions
		parts = append(parts, u.String())
		flag(u.RestoreOriginalOptions, "restore_original_options")
		if paths := u.UpdatePaths(); len(paths) > 0 {
			parts = append(parts, fmt.Sprintf("set=%s", strings.Join(paths, ",")))
		}
	}
	return parts
}
