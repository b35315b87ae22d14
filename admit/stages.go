package admit

// Stage and guard names, as in metrics (guard label) and audit records.
const (
	StageMatch    = "match"
	StageLint     = "lint"
	StageCount    = "count"
	StageEngine   = "engine"
	StageLaunch   = "launch"
	GuardPaused   = "paused"
	GuardCooldown = "cooldown"
	GuardRate     = "rate"
	GuardMax      = "max_workflows"
	GuardDryRun   = "dry_run"
)
