package flags

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
)

var threeFlags = SyncRequest{Tenant: "acme", Flags: map[string]any{"a": 1, "b": true, "c": "on"}, Applied: 3}

func TestSyncFlagsHeartbeats(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(SyncFlags, activityOptions())
	var progress []int
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var done int
		require.NoError(t, details.Get(&done))
		progress = append(progress, done)
	})

	value, err := env.ExecuteActivity(ActivityName, threeFlags)
	require.NoError(t, err)
	var result SyncResult
	require.NoError(t, value.Get(&result))
	require.Equal(t, SyncResult{Pushed: 3}, result)
	// The SDK throttles heartbeats, so only the first one is certain to arrive.
	require.NotEmpty(t, progress)
	require.Equal(t, 1, progress[0])
	require.IsIncreasing(t, progress)
}

func TestSyncFlagsResumesFromHeartbeat(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(SyncFlags, activityOptions())
	env.SetHeartbeatDetails(2)

	value, err := env.ExecuteActivity(ActivityName, threeFlags)
	require.NoError(t, err)
	var result SyncResult
	require.NoError(t, value.Get(&result))
	require.Equal(t, SyncResult{Pushed: 1}, result)
}

func TestPushAllStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var beats []int
	heartbeat := func(done int) {
		beats = append(beats, done)
		cancel() // cancelled after the first push, as if the workflow was cancelled
	}
	pushed, err := pushAll(ctx, threeFlags, 0, heartbeat)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, pushed)
	require.Equal(t, []int{1}, beats)
}
