package flags

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// newEnv returns a test environment with the real workflow and activity, and a counter
// of SyncFlags runs: the SDK's Assert*Called helpers see only mocked activities.
func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *int) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	Register(env)
	syncs := new(int)
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == ActivityName {
			*syncs++
		}
	})
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env, syncs
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) State {
	t.Helper()
	value, err := env.QueryWorkflow(QueryName)
	require.NoError(t, err)
	var state State
	require.NoError(t, value.Get(&state))
	return state
}

func TestSignalAppliesChangeAndQuerySeesIt(t *testing.T) {
	env, syncs := newEnv(t)
	want := SyncRequest{Tenant: "acme", Flags: map[string]any{"x": true}, Applied: 1}
	env.OnActivity(ActivityName, mock.Anything, want).Return(SyncResult{Pushed: 1}, nil).Once()

	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalName, FlagChange{Flag: "x", Value: true, Source: "test"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, State{Flags: map[string]any{"x": true}, Applied: 1, Tenant: "acme"}, queryState(t, env))
		env.SignalWorkflow(StopSignalName, nil)
	}, 2*time.Minute)
	env.ExecuteWorkflow(FlagWorkflow, Params{Tenant: "acme"})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 1, *syncs)
}

func TestSignalWithEmptyFlagIsIgnored(t *testing.T) {
	env, syncs := newEnv(t)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalName, FlagChange{Flag: " ", Value: true})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, State{Flags: map[string]any{"y": 1.0}, Tenant: "acme"}, queryState(t, env))
		env.SignalWorkflow(StopSignalName, nil)
	}, 2*time.Minute)
	env.ExecuteWorkflow(FlagWorkflow, Params{Tenant: "acme", Flags: map[string]any{"y": 1.0}})

	require.NoError(t, env.GetWorkflowError())
	require.Zero(t, *syncs)
}

func TestUpdateSetFlag(t *testing.T) {
	tests := []struct {
		name       string
		change     FlagChange
		wantReject string
		wantState  State
	}{
		{name: "empty flag name is rejected", change: FlagChange{Flag: "", Value: true}, wantReject: "flag name is empty"},
		{name: "blank flag name is rejected", change: FlagChange{Flag: "  ", Value: true}, wantReject: "flag name is empty"},
		{
			name:      "valid change is applied and synced",
			change:    FlagChange{Flag: "dark-mode", Value: "on"},
			wantState: State{Flags: map[string]any{"dark-mode": "on"}, Applied: 1, Tenant: "acme"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, syncs := newEnv(t)
			var rejected error
			var result State
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(UpdateName, "u1", &testsuite.TestUpdateCallback{
					OnAccept:   func() {},
					OnReject:   func(err error) { rejected = err },
					OnComplete: func(v any, err error) { require.NoError(t, err); result = v.(State) },
				}, tt.change)
			}, time.Minute)
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(StopSignalName, nil) }, 2*time.Minute)
			env.ExecuteWorkflow(FlagWorkflow, Params{Tenant: "acme"})

			require.NoError(t, env.GetWorkflowError())
			if tt.wantReject != "" {
				require.ErrorContains(t, rejected, tt.wantReject)
				require.Zero(t, *syncs)
				return
			}
			require.NoError(t, rejected)
			require.Equal(t, tt.wantState, result)
			require.Equal(t, 1, *syncs)
		})
	}
}

func TestContinueAsNewCarriesState(t *testing.T) {
	env, syncs := newEnv(t)
	env.OnActivity(ActivityName, mock.Anything, mock.Anything).Return(SyncResult{}, nil)
	env.RegisterDelayedCallback(func() {
		for range maxChangesPerRun {
			env.SignalWorkflow(SignalName, FlagChange{Flag: "x", Value: true})
		}
	}, time.Minute)
	env.ExecuteWorkflow(FlagWorkflow, Params{Tenant: "acme", Applied: 7})

	var canErr *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &canErr), "got %v", env.GetWorkflowError())
	require.Equal(t, WorkflowName, canErr.WorkflowType.Name)
	var next Params
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(canErr.Input, &next))
	require.Equal(t, Params{Tenant: "acme", Flags: map[string]any{"x": true}, Applied: 7 + maxChangesPerRun}, next)
	// The first signal starts a push; the rest arrive while it runs and share the next.
	require.Equal(t, 2, *syncs)
}
