package main

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

const (
	cliActivityNS    = "cli-activity"
	cliActivityQueue = "batchwire-cli-activity"
	cliFlaky         = "Flaky"
)

// flakyUp makes the Flaky activity succeed.
var flakyUp atomic.Bool

// callsFlaky runs one Flaky activity, retried every second until it succeeds.
func callsFlaky(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1}})
	return workflow.ExecuteActivity(ctx, cliFlaky).Get(ctx, nil)
}

func flaky(context.Context) error {
	if flakyUp.Load() {
		return nil
	}
	return temporal.NewApplicationError("downstream down", "Down")
}

func startFlakyWorkflows(t *testing.T, tenant string, ids ...string) client.Client {
	t.Helper()
	c := testenv.Dial(t, cliHostPort, cliActivityNS)
	w := worker.New(c, cliActivityQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(callsFlaky, workflow.RegisterOptions{Name: "CallsFlaky"})
	w.RegisterActivityWithOptions(flaky, activity.RegisterOptions{Name: cliFlaky})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	testenv.StartWorkflows(t, c, cliActivityQueue, "CallsFlaky", tenant, ids)
	return c
}

func flakyPending(t require.TestingT, c client.Client, id string) *workflowpb.PendingActivityInfo {
	resp, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	if len(resp.GetPendingActivities()) == 0 {
		return nil
	}
	return resp.GetPendingActivities()[0]
}

func activityCLI(t *testing.T, args ...string) launchResult {
	t.Helper()
	res := runCLI(t, nil, onServer(cliActivityNS, append(args, "--reason", "downstream outage", "-o", "json")...)...)
	require.NoError(t, res.err, res.all())
	var out launchResult
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &out), res.stdout)
	return out
}

// The activity and update-options commands, with the temporal CLI's flags,
// on two targets and one bystander: dry run, pause, update options, reset,
// versioning override, unpause; the targets then complete.
func TestCLIActivityCommands(t *testing.T) {
	targets, bystander := []string{"act-1", "act-2"}, "other-1"
	c := startFlakyWorkflows(t, "act", targets...)
	startFlakyWorkflows(t, "other", bystander)
	query := "Tenant = 'act' AND ExecutionStatus = 'Running'"
	testenv.WaitCount(t, c, cliActivityNS, query, 2)
	waitAll := func(ids []string, ok func(*workflowpb.PendingActivityInfo) bool, what string) {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			for _, id := range ids {
				p := flakyPending(ct, c, id)
				require.True(ct, p != nil && ok(p), "%s: %s: %v", id, what, p)
			}
		}, 30*time.Second, 100*time.Millisecond)
	}
	waitAll(append(targets, bystander), func(p *workflowpb.PendingActivityInfo) bool { return p.GetAttempt() >= 2 }, "retrying")

	plan := activityCLI(t, "activity", "pause", "--query", query, "--activity-type", cliFlaky, "--dry-run")
	require.Equal(t, []any{batch.EngineClient, false, int64(2)}, []any{plan.Engine, plan.Launched, plan.Count})
	require.False(t, flakyPending(t, c, targets[0]).GetPaused(), "a dry run changes nothing")

	out := activityCLI(t, "activity", "pause", "--query", query, "--activity-type", cliFlaky, "--yes", "--wait")
	require.Equal(t, [3]int64{2, 2, 0}, [3]int64{out.Progress.Total, out.Progress.Completed, out.Progress.Failed})
	waitAll(targets, func(p *workflowpb.PendingActivityInfo) bool { return p.GetPaused() }, "paused")

	out = activityCLI(t, "activity", "update-options", "--query", query, "--activity-type", cliFlaky, "--engine", "server",
		"--heartbeat-timeout", "7s", "--retry-maximum-attempts", "40", "--yes", "--wait")
	require.Equal(t, batch.KindUpdateActivityOptions, out.Progress.Operation)
	waitAll(targets, func(p *workflowpb.PendingActivityInfo) bool {
		return p.GetActivityOptions().GetHeartbeatTimeout().AsDuration() == 7*time.Second &&
			p.GetActivityOptions().GetRetryPolicy().GetMaximumAttempts() == 40
	}, "options changed")

	activityCLI(t, "activity", "reset", "--query", query, "--activity-type", cliFlaky, "--keep-paused", "--engine", "server", "--yes", "--wait")
	waitAll(targets, func(p *workflowpb.PendingActivityInfo) bool { return p.GetPaused() && p.GetAttempt() == 1 }, "reset, still paused")

	activityCLI(t, "workflow", "update-options", "--query", query, "--versioning-override-behavior", "auto_upgrade",
		"--engine", "server", "--yes", "--wait")
	for _, id := range targets {
		require.True(t, testenv.Describe(t, c, id).GetVersioningInfo().GetVersioningOverride().GetAutoUpgrade(), id)
	}

	bystanderInfo := flakyPending(t, c, bystander)
	require.False(t, bystanderInfo.GetPaused())
	require.GreaterOrEqual(t, bystanderInfo.GetAttempt(), int32(2), "the bystander was reset")
	require.Zero(t, bystanderInfo.GetActivityOptions().GetRetryPolicy().GetMaximumAttempts(), "the bystander was changed")
	require.Nil(t, testenv.Describe(t, c, bystander).GetVersioningInfo().GetVersioningOverride())

	flakyUp.Store(true)
	activityCLI(t, "activity", "unpause", "--query", query, "--activity-type", cliFlaky, "--reset-attempts", "--yes", "--wait")
	for _, id := range targets {
		require.Eventually(t, func() bool { return testenv.Status(t, c, id) == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED },
			30*time.Second, 100*time.Millisecond, id)
	}
}

// Option mistakes are refused before any RPC, in the flags' names.
func TestCLIActivityFlagErrors(t *testing.T) {
	base := []string{"--query", "Tenant = 'x'", "--reason", "r", "--yes"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"activity", "pause"}, "--activity-type: required: an activity type, or match_all: true for every activity"},
		{[]string{"activity", "unpause", "--activity-type", "A", "--match-all"}, "--match-all: not with activity_type"},
		{[]string{"activity", "unpause", "--match-all", "--reset-heartbeats"}, "--reset-heartbeats: only with reset_attempts"},
		{[]string{"activity", "update-options", "--activity-type", "A", "--retry-backoff-coefficient", "0.5"},
			"--retry-backoff-coefficient: must be 1 or more, got 0.5"},
		{[]string{"activity", "update-options", "--activity-type", "A", "--task-queue", "q", "--restore-original-options"},
			"--restore-original-options: goes with no other option"},
		{[]string{"activity", "pause", "--activity-type", "A", "--engine", "server"},
			"--engine: server cannot run pause_activities"},
		{[]string{"workflow", "update-options", "--versioning-override-behavior", "pinned", "--versioning-override-build-id", "v1"},
			"--versioning-override-deployment-name: required with behavior pinned"},
		{[]string{"workflow", "update-options", "--versioning-override-behavior", "sticky"},
			`--versioning-override-behavior: want one of pinned, auto_upgrade, unspecified, got "sticky"`},
	}
	for _, tt := range tests {
		res := runCLI(t, nil, append(tt.args, base...)...)
		require.ErrorAs(t, res.err, &usageError{}, tt.args)
		require.ErrorContains(t, res.err, tt.want)
	}
}
