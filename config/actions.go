package config

// UpdateOptionsAction sets workflow execution options on every selected
// workflow: the Worker Versioning override.
type UpdateOptionsAction struct {
	VersioningOverride *VersioningOverrideAction `yaml:"versioning_override"`
}

// VersioningOverrideAction is a Worker Versioning override: behavior pinned
// (with the deployment name and build id of the version), auto_upgrade, or
// unspecified (remove the override).
type VersioningOverrideAction struct {
	Behavior       string `yaml:"behavior"`
	DeploymentName string `yaml:"deployment_name"`
	BuildID        string `yaml:"build_id"`
}

// PauseActivitiesAction pauses the pending activities of one type (or all)
// in every selected workflow.
type PauseActivitiesAction struct {
	ActivityType string `yaml:"activity_type"`
	MatchAll     bool   `yaml:"match_all"`
}

// UnpauseActivitiesAction unpauses paused activities of one type (or all).
type UnpauseActivitiesAction struct {
	ActivityType    string   `yaml:"activity_type"`
	MatchAll        bool     `yaml:"match_all"`
	ResetAttempts   bool     `yaml:"reset_attempts"`
	ResetHeartbeats bool     `yaml:"reset_heartbeats"`
	Jitter          Duration `yaml:"jitter"`
}

// ResetActivitiesAction resets activities of one type (or all): attempts
// start again from 1.
type ResetActivitiesAction struct {
	ActivityType           string   `yaml:"activity_type"`
	MatchAll               bool     `yaml:"match_all"`
	ResetHeartbeats        bool     `yaml:"reset_heartbeats"`
	KeepPaused             bool     `yaml:"keep_paused"`
	Jitter                 Duration `yaml:"jitter"`
	RestoreOriginalOptions bool     `yaml:"restore_original_options"`
}

// UpdateActivityOptionsAction changes the options of activities of one type
// (or all); only the options written are changed.
type UpdateActivityOptionsAction struct {
	ActivityType           string       `yaml:"activity_type"`
	MatchAll               bool         `yaml:"match_all"`
	TaskQueue              string       `yaml:"task_queue"`
	ScheduleToCloseTimeout *Duration    `yaml:"schedule_to_close_timeout"`
	ScheduleToStartTimeout *Duration    `yaml:"schedule_to_start_timeout"`
	StartToCloseTimeout    *Duration    `yaml:"start_to_close_timeout"`
	HeartbeatTimeout       *Duration    `yaml:"heartbeat_timeout"`
	Retry                  *RetryAction `yaml:"retry"`
	RestoreOriginalOptions bool         `yaml:"restore_original_options"`
}

// RetryAction holds the retry policy fields an update may set.
type RetryAction struct {
	InitialInterval    *Duration `yaml:"initial_interval"`
	MaximumInterval    *Duration `yaml:"maximum_interval"`
	BackoffCoefficient *float64  `yaml:"backoff_coefficient"`
	MaximumAttempts    *int32    `yaml:"maximum_attempts"`
}
