package batch_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
)

func ptr[T any](v T) *T { return &v }

func pinned(name, build string) batch.Operation {
	return batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{
		Behavior: batch.BehaviorPinned, DeploymentName: name, BuildID: build}})
}

func byType(t string) batch.ActivitySelector { return batch.ActivitySelector{Type: t} }

// Each new kind: its options validated once, each error naming the option
// in config spelling.
func TestOptionsOperationsValidate(t *testing.T) {
	all := batch.ActivitySelector{MatchAll: true}
	tests := []struct {
		name string
		op   batch.Operation
		want string
	}{
		{"pinned", pinned("d", "v1"), ""},
		{"pinned without build", pinned("d", ""), "update_options.versioning_override.build_id: required with behavior pinned"},
		{"pinned without deployment", pinned("", "v1"), "update_options.versioning_override.deployment_name: required"},
		{"auto upgrade", batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: "auto_upgrade"}}), ""},
		{"unspecified with a build", batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{
			Behavior: "unspecified", BuildID: "v1"}}), "update_options.versioning_override.behavior: deployment_name and build_id go with behavior pinned only"},
		{"unknown behavior", batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: "sticky"}}),
			`update_options.versioning_override.behavior: want one of pinned, auto_upgrade, unspecified, got "sticky"`},
		{"no override", batch.UpdateOptions(batch.WorkflowOptions{}), "update_options.versioning_override: required"},
		{"pause by type", batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: byType("Charge")}), ""},
		{"pause all", batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: all}), ""},
		{"pause nothing", batch.PauseActivities(batch.PauseActivitiesOptions{}), "pause_activities.activity_type: required"},
		{"pause both", batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: batch.ActivitySelector{Type: "A", MatchAll: true}}),
			"pause_activities.match_all: not with activity_type"},
		{"unpause", batch.UnpauseActivities(batch.UnpauseActivitiesOptions{ActivitySelector: byType("A"), ResetAttempts: true,
			ResetHeartbeats: true, Jitter: time.Second}), ""},
		{"unpause heartbeats without attempts", batch.UnpauseActivities(batch.UnpauseActivitiesOptions{ActivitySelector: all,
			ResetHeartbeats: true}), "unpause_activities.reset_heartbeats: only with reset_attempts: true"},
		{"reset activities", batch.ResetActivities(batch.ResetActivitiesOptions{ActivitySelector: all, KeepPaused: true,
			RestoreOriginalOptions: true, ResetHeartbeats: true}), ""},
		{"reset activities negative jitter", batch.ResetActivities(batch.ResetActivitiesOptions{ActivitySelector: all, Jitter: -time.Second}),
			"reset_activities.jitter: must not be negative"},
		{"update activity options", batch.UpdateActivityOptions(batch.UpdateActivityOptionsOptions{ActivitySelector: byType("A"),
			StartToCloseTimeout: ptr(time.Minute), Retry: &batch.RetryOptions{MaximumAttempts: ptr(int32(3))}}), ""},
		{"update nothing", batch.UpdateActivityOptions(batch.UpdateActivityOptionsOptions{ActivitySelector: byType("A")}),
			"update_activity_options: nothing to change"},
		{"restore beside an option", batch.UpdateActivityOptions(batch.UpdateActivityOptionsOptions{ActivitySelector: byType("A"),
			TaskQueue: "q", RestoreOriginalOptions: true}), "update_activity_options.restore_original_options: goes with no other option"},
		{"bad backoff", batch.UpdateActivityOptions(batch.UpdateActivityOptionsOptions{ActivitySelector: byType("A"),
			Retry: &batch.RetryOptions{BackoffCoefficient: ptr(0.5)}}), "update_activity_options.retry.backoff_coefficient: must be 1 or more"},
		{"post-reset override", batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, PostReset: []batch.PostResetOperation{
			{UpdateOptions: &batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: "auto_upgrade"}}}}}), ""},
		{"post-reset signal", batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, PostReset: []batch.PostResetOperation{
			{Signal: &batch.SignalOptions{Name: "s"}}}}), "reset.post_reset[0].signal: not run by Temporal server 1.29"},
		{"post-reset pinned without build", batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, PostReset: []batch.PostResetOperation{
			{UpdateOptions: &batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: "pinned", DeploymentName: "d"}}}}}),
			"reset.post_reset[0].update_options.versioning_override.build_id: required with behavior pinned"},
		{"post-reset empty", batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, PostReset: []batch.PostResetOperation{{}}}),
			"reset.post_reset[0]: exactly one of signal or update_options"},
		{"current run only", batch.Reset(batch.ResetOptions{Type: batch.ResetBuildID, BuildID: "b", CurrentRunOnly: true}), ""},
		{"current run only beside another type", batch.Reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, CurrentRunOnly: true}),
			"reset.current_run_only: only for type BuildId"},
		{"options of another kind", batch.Operation{Kind: batch.KindTerminate, PauseActivities: &batch.PauseActivitiesOptions{}},
			"pause_activities: only for a pause_activities operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			var fe *batch.FieldError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestOptionsOperationsEngines(t *testing.T) {
	require.Equal(t, []string{"unpause_activities"}, batch.UnpauseActivities(batch.UnpauseActivitiesOptions{ActivitySelector: byType("A")}).ClientOnly())
	pause := batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: byType("A")})
	require.Equal(t, []string{"pause_activities"}, pause.ClientOnly())
	require.ErrorContains(t, batch.CheckEngine(batch.EngineServer, pause), "engine: server cannot run pause_activities")
	got, err := batch.ChooseEngine(batch.EngineAuto, pause, 10_000, batch.AutoLimits{ClientMax: 100, ServerRPS: batch.DefaultServerRPS})
	require.NoError(t, err)
	require.Equal(t, batch.EngineClient, got)
	for _, op := range []batch.Operation{pinned("d", "v1"),
		batch.ResetActivities(batch.ResetActivitiesOptions{ActivitySelector: byType("A")}),
		batch.UpdateActivityOptions(batch.UpdateActivityOptionsOptions{ActivitySelector: byType("A"), TaskQueue: "q"})} {
		require.Empty(t, op.ClientOnly(), op.String())
		require.NoError(t, batch.CheckEngine(batch.EngineServer, op))
	}
}

func TestRuleOptionsOperations(t *testing.T) {
	minute, attempts := config.Duration(time.Minute), int32(5)
	tests := []struct {
		rule config.Rule
		want string
	}{
		{config.Rule{UpdateOptions: &config.UpdateOptionsAction{VersioningOverride: &config.VersioningOverrideAction{
			Behavior: "pinned", DeploymentName: "shop", BuildID: "v1"}}}, "update_options versioning_override=pinned:shop/v1"},
		{config.Rule{PauseActivities: &config.PauseActivitiesAction{ActivityType: "Charge"}}, "pause_activities activity_type=Charge"},
		{config.Rule{UnpauseActivities: &config.UnpauseActivitiesAction{MatchAll: true, ResetAttempts: true,
			Jitter: config.Duration(time.Second)}}, "unpause_activities match_all reset_attempts jitter=1s"},
		{config.Rule{ResetActivities: &config.ResetActivitiesAction{ActivityType: "A", KeepPaused: true}},
			"reset_activities activity_type=A keep_paused"},
		{config.Rule{UpdateActivityOptions: &config.UpdateActivityOptionsAction{ActivityType: "A", HeartbeatTimeout: &minute,
			Retry: &config.RetryAction{MaximumAttempts: &attempts}}},
			"update_activity_options activity_type=A set=heartbeat_timeout,retry_policy.maximum_attempts"},
	}
	for _, tt := range tests {
		op, err := batch.RuleOperation(&tt.rule)
		require.NoError(t, err)
		require.Equal(t, tt.want, op.String())
		raw, err := json.Marshal(op)
		require.NoError(t, err)
		var back batch.Operation
		require.NoError(t, json.Unmarshal(raw, &back))
		require.Equal(t, op, back, "the client engine's workflow carries it as JSON")
	}
}
