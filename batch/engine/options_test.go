package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

var bothEngines = []string{batch.EngineServer, batch.EngineClient}

func isPaused(p *workflowpb.PendingActivityInfo) bool { return p.GetPaused() }

// pauseAll pauses every activity of the targets and the bystander, with a
// client job (the server batcher has no pause), and makes their tenants
// healthy, so that whatever is unpaused next completes.
func (f opsFixture) pauseAll(t *testing.T) {
	t.Helper()
	job := f.job("pause-all", batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: batch.ActivitySelector{MatchAll: true}}))
	job.Query = "Tenant IN ('" + f.tenant + "', '" + f.tenant + "-other') AND ExecutionStatus = 'Running'"
	p := f.run(t, batch.EngineClient, job)
	require.Equal(t, []int64{3, 3, 0}, []int64{p.Total, p.Completed, p.Failed})
	for _, id := range f.all() {
		f.waitActivity(t, id, downstream, isPaused)
		f.waitActivity(t, id, otherService, isPaused)
	}
	healthyTenants.Store(f.tenant, true)
	healthyTenants.Store(f.tenant+"-other", true)
}

// pause_activities pauses the named type in each target, nothing else in
// them, and nothing in the bystander; the server batcher refuses it.
func TestPauseActivitiesOnTheClientEngine(t *testing.T) {
	f := newOpsFixture(t, "pause")
	op := batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: batch.ActivitySelector{Type: downstream}})
	bc := dialBatch(t)
	require.ErrorContains(t, bc.Start(context.Background(), f.job("pause-server", op)), "the server batcher cannot run pause_activities")

	p := f.run(t, batch.EngineClient, f.job("pause", op))
	require.Equal(t, []int64{2, 2, 0}, []int64{p.Total, p.Completed, p.Failed})
	for _, id := range f.targets {
		f.waitActivity(t, id, downstream, isPaused)
		require.False(t, f.pending(t, id, otherService).GetPaused(), "%s: %s paused too", id, otherService)
	}
	require.False(t, f.pending(t, f.bystander[0], downstream).GetPaused(), "the bystander was paused")
}

// unpause_activities with reset_attempts: the targets' Downstream runs again
// from attempt 1 and completes; their OtherService and the bystander stay
// paused. It runs on the client engine: the server 1.29 batcher's unpause
// by type unpaused the bystander too (it drops the job's query).
func TestUnpauseActivities(t *testing.T) {
	f := newOpsFixture(t, "unpause")
	f.pauseAll(t)
	op := batch.UnpauseActivities(batch.UnpauseActivitiesOptions{ActivitySelector: batch.ActivitySelector{Type: downstream},
		ResetAttempts: true, ResetHeartbeats: true})
	require.ErrorContains(t, dialBatch(t).Start(context.Background(), f.job("unpause-server", op)),
		"the server batcher cannot run unpause_activities")

	p := f.run(t, batch.EngineClient, f.job("unpause", op))
	require.Equal(t, batch.StateCompleted, p.State)
	require.EqualValues(t, 2, p.Completed)
	require.Equal(t, batch.KindUnpauseActivities, p.Operation)
	for _, id := range f.targets {
		require.Eventually(t, func() bool { return f.pending(t, id, downstream) == nil }, testWait, pollEvery,
			"%s: %s did not complete", id, downstream)
		require.Equal(t, []int32{1}, startedAttempts(t, f, id, downstream), "%s: attempts were not reset", id)
		require.True(t, f.pending(t, id, otherService).GetPaused(), "%s: %s was unpaused too", id, otherService)
	}
	require.True(t, f.pending(t, f.bystander[0], downstream).GetPaused(), "the bystander was unpaused")
}

// startedAttempts lists the attempt of each started event of the activity type.
func startedAttempts(t *testing.T, f opsFixture, workflowID, activityType string) []int32 {
	events := testenv.History(t, f.c, workflowID, "")
	scheduled := map[int64]bool{}
	var attempts []int32
	for _, ev := range events {
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activityType {
			scheduled[ev.GetEventId()] = true
		}
		if s := ev.GetActivityTaskStartedEventAttributes(); s != nil && scheduled[s.GetScheduledEventId()] {
			attempts = append(attempts, s.GetAttempt())
		}
	}
	return attempts
}

// reset_activities with keep_paused: the targets' Downstream is back at
// attempt 1 and still paused; their OtherService and the bystander keep their attempts.
func TestResetActivities(t *testing.T) {
	for _, engineName := range bothEngines {
		t.Run(engineName, func(t *testing.T) {
			f := newOpsFixture(t, "reset-act-"+engineName)
			f.pauseAll(t)
			op := batch.ResetActivities(batch.ResetActivitiesOptions{ActivitySelector: batch.ActivitySelector{Type: downstream},
				KeepPaused: true, ResetHeartbeats: true})
			p := f.run(t, engineName, f.job("reset-act", op))
			require.Equal(t, batch.StateCompleted, p.State)
			require.EqualValues(t, 2, p.Completed)
			for _, id := range f.targets {
				f.waitActivity(t, id, downstream, func(p *workflowpb.PendingActivityInfo) bool { return p.GetAttempt() == 1 && p.GetPaused() })
				require.GreaterOrEqual(t, f.pending(t, id, otherService).GetAttempt(), int32(2), "%s: %s was reset too", id, otherService)
			}
			require.GreaterOrEqual(t, f.pending(t, f.bystander[0], downstream).GetAttempt(), int32(2), "the bystander was reset")
		})
	}
}

// update_activity_options changes exactly the options set, on the targets'
// Downstream only.
func TestUpdateActivityOptions(t *testing.T) {
	for _, engineName := range bothEngines {
		t.Run(engineName, func(t *testing.T) {
			f := newOpsFixture(t, "update-act-"+engineName)
			heartbeat, interval, attempts := 7*time.Second, 3*time.Second, int32(50)
			op := batch.UpdateActivityOptions(batch.UpdateActivityOptionsOptions{ActivitySelector: batch.ActivitySelector{Type: downstream},
				HeartbeatTimeout: &heartbeat, Retry: &batch.RetryOptions{MaximumInterval: &interval, MaximumAttempts: &attempts}})
			p := f.run(t, engineName, f.job("update-act", op))
			require.Equal(t, batch.StateCompleted, p.State)
			require.EqualValues(t, 2, p.Completed)
			for _, id := range f.targets {
				f.waitActivity(t, id, downstream, func(p *workflowpb.PendingActivityInfo) bool {
					o := p.GetActivityOptions()
					return o.GetHeartbeatTimeout().AsDuration() == heartbeat && o.GetRetryPolicy().GetMaximumInterval().AsDuration() == interval &&
						o.GetRetryPolicy().GetMaximumAttempts() == attempts && o.GetStartToCloseTimeout().AsDuration() == 10*time.Second
				})
				require.Zero(t, f.pending(t, id, otherService).GetActivityOptions().GetRetryPolicy().GetMaximumAttempts(),
					"%s: %s changed too", id, otherService)
			}
			require.Zero(t, f.pending(t, f.bystander[0], downstream).GetActivityOptions().GetHeartbeatTimeout().AsDuration(),
				"the bystander changed")
		})
	}
}

// update_options sets the versioning override on each target (visible in
// DescribeWorkflowExecution): auto-upgrade, then pinned to a version; never
// on the bystander; and unspecified removes it.
func TestUpdateOptionsVersioningOverride(t *testing.T) {
	for _, engineName := range bothEngines {
		t.Run(engineName, func(t *testing.T) {
			f := newOpsFixture(t, "override-"+engineName)
			auto := batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: batch.BehaviorAutoUpgrade}})
			p := f.run(t, engineName, f.job("override", auto))
			require.Equal(t, batch.StateCompleted, p.State)
			require.EqualValues(t, 2, p.Completed)
			require.Equal(t, batch.KindUpdateOptions, p.Operation)
			for _, id := range f.targets {
				require.True(t, f.override(t, id).GetAutoUpgrade(), "%s: no auto-upgrade override", id)
			}
			require.Nil(t, f.override(t, f.bystander[0]), "the bystander got an override")

			pin := batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{
				Behavior: batch.BehaviorPinned, DeploymentName: "shop", BuildID: "v1"}})
			f.run(t, engineName, f.job("override-pin", pin))
			for _, id := range f.targets {
				version := f.override(t, id).GetPinned().GetVersion()
				require.Equal(t, []string{"shop", "v1"}, []string{version.GetDeploymentName(), version.GetBuildId()}, "%s: not pinned", id)
			}
			require.Nil(t, f.override(t, f.bystander[0]), "the bystander got an override")

			unset := batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: batch.BehaviorUnspecified}})
			f.run(t, engineName, f.job("override-unset", unset))
			for _, id := range f.targets {
				require.Nil(t, f.override(t, id), "%s: the override stayed", id)
			}
		})
	}
}

func (f opsFixture) override(t *testing.T, workflowID string) *workflowpb.VersioningOverride {
	resp, err := f.c.DescribeWorkflowExecution(context.Background(), workflowID, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, resp.GetWorkflowExecutionInfo().GetStatus())
	return resp.GetWorkflowExecutionInfo().GetVersioningInfo().GetVersioningOverride()
}

// A reset with a post-reset operation: each target's new run gets the
// versioning override before its first task; the bystander keeps its run.
// (A post-reset signal is refused by Validate: 1.29 fails it.)
func TestResetWithPostResetOperations(t *testing.T) {
	for _, engineName := range bothEngines {
		t.Run(engineName, func(t *testing.T) {
			f := newOpsFixture(t, "post-reset-"+engineName)
			before := map[string]string{}
			for _, id := range f.all() {
				before[id] = testenv.CurrentRun(t, f.c, id)
			}
			op := batch.Reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, PostReset: []batch.PostResetOperation{
				{UpdateOptions: &batch.WorkflowOptions{VersioningOverride: &batch.VersioningOverride{Behavior: batch.BehaviorAutoUpgrade}}},
			}})
			p := f.run(t, engineName, f.job("post-reset", op))
			require.Equal(t, batch.StateCompleted, p.State)
			require.EqualValues(t, 2, p.Completed)
			for _, id := range f.targets {
				run := testenv.CurrentRun(t, f.c, id)
				require.NotEqual(t, before[id], run, "%s was not reset", id)
				require.True(t, f.override(t, id).GetAutoUpgrade(), "%s: no override after the reset", id)
			}
			require.Equal(t, before[f.bystander[0]], testenv.CurrentRun(t, f.c, f.bystander[0]), "the bystander was reset")
			require.Nil(t, f.override(t, f.bystander[0]))
		})
	}
}
