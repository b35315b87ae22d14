package remedy

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names of the deploy example, part of the wire contract with rules and starters.
const (
	OrderTaskQueue     = "batchwire-orders"
	OrderWorkflowName  = "OrderWorkflow"
	FulfilActivityName = "Fulfil"
	ProceedSignalName  = "proceed"
)

// OrderWorkflow waits for the proceed signal, then runs Fulfil until it
// succeeds and returns what Fulfil returned: the build that fulfilled it. It
// is pinned to the version it started on (the worker's default behavior), so
// a bad version keeps its executions until they are moved with an override.
func OrderWorkflow(ctx workflow.Context) (string, error) {
	workflow.GetSignalChannel(ctx, ProceedSignalName).Receive(ctx, nil)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		// A fixed one-second retry: a fixed release shows up within a second.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumInterval: time.Second},
	})
	var fulfilledBy string
	err := workflow.ExecuteActivity(ctx, FulfilActivityName).Get(ctx, &fulfilledBy)
	return fulfilledBy, err
}

// Fulfiller is the Fulfil activity of one build. A Broken build stands in for
// a bad release: its Fulfil always fails.
type Fulfiller struct {
	BuildID string
	Broken  bool
}

// Fulfil returns the build that ran it, or fails on a broken build.
func (f Fulfiller) Fulfil(ctx context.Context) (string, error) {
	if f.Broken {
		return "", temporal.NewApplicationError(fmt.Sprintf("build %s is broken", f.BuildID), "BadRelease")
	}
	activity.GetLogger(ctx).Info("order fulfilled", "build_id", f.BuildID)
	return f.BuildID, nil
}

// RegisterOrders adds OrderWorkflow and the build's Fulfil to w.
func RegisterOrders(w worker.Registry, f Fulfiller) {
	w.RegisterWorkflowWithOptions(OrderWorkflow, workflow.RegisterOptions{Name: OrderWorkflowName})
	w.RegisterActivityWithOptions(f.Fulfil, activity.RegisterOptions{Name: FulfilActivityName})
}

// VersionedOptions makes a worker one version (deployment name, build id) of
// a Worker Deployment whose workflows stay pinned to the version they started
// on, with the same small limits as the flags worker.
func VersionedOptions(base worker.Options, deploymentName, buildID string) worker.Options {
	base.DeploymentOptions = worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: deploymentName, BuildID: buildID},
		DefaultVersioningBehavior: workflow.VersioningBehaviorPinned,
	}
	return base
}
