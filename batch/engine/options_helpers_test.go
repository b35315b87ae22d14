package engine

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Activity types of callsTwo; both fail until their tenant is healthy.
const (
	downstream   = "Downstream"
	otherService = "OtherService"
	callsTwoName = "CallsTwo"
)

// healthyTenants holds the tenants whose activities succeed.
var healthyTenants sync.Map

// callsTwo runs a Downstream and an OtherService activity side by side, each
// retried every second until its tenant is healthy, and completes when both have.
func callsTwo(ctx workflow.Context, tenant string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 1, MaximumInterval: time.Second},
	})
	first := workflow.ExecuteActivity(ctx, downstream, tenant)
	second := workflow.ExecuteActivity(ctx, otherService, tenant)
	if err := first.Get(ctx, nil); err != nil {
		return err
	}
	return second.Get(ctx, nil)
}

func failUntilHealthy(ctx context.Context, tenant string) error {
	if _, ok := healthyTenants.Load(tenant); ok {
		return nil
	}
	return temporal.NewApplicationError("downstream of "+tenant+" is down ("+activity.GetInfo(ctx).ActivityType.Name+")", "Down")
}

func registerCallsTwo(w worker.Registry) {
	w.RegisterWorkflowWithOptions(callsTwo, workflow.RegisterOptions{Name: callsTwoName})
	w.RegisterActivityWithOptions(failUntilHealthy, activity.RegisterOptions{Name: downstream})
	w.RegisterActivityWithOptions(failUntilHealthy, activity.RegisterOptions{Name: otherService})
}

// opsFixture is one kind's test: a worker for its tenants, the two target
// workflows of tenant and one workflow of tenant+"-other" that no job selects.
type opsFixture struct {
	c                  client.Client
	tenant             string
	targets, bystander []string
}

func newOpsFixture(t *testing.T, tenant string) opsFixture {
	t.Helper()
	c := dial(t, targetNS)
	queue := targetQueue + "-ops-" + tenant
	w := startTargetWorker(t, c, queue, registerCallsTwo)
	t.Cleanup(w.Stop)
	f := opsFixture{c: c, tenant: tenant, targets: ids(tenant, 2), bystander: []string{tenant + "-other-1"}}
	testenv.StartWorkflows(t, c, queue, callsTwoName, tenant, f.targets, tenant)
	testenv.StartWorkflows(t, c, queue, callsTwoName, tenant+"-other", f.bystander, tenant+"-other")
	for _, id := range f.all() {
		f.waitActivity(t, id, downstream, func(p *workflowpb.PendingActivityInfo) bool { return p.GetAttempt() >= 2 })
	}
	testenv.WaitCount(t, c, targetNS, f.query(), 2)
	return f
}

func (f opsFixture) all() []string { return append(append([]string{}, f.targets...), f.bystander...) }

func (f opsFixture) query() string {
	return "Tenant = '" + f.tenant + "' AND ExecutionStatus = 'Running'"
}

// pending returns the workflow's pending activity of type name, or nil.
func (f opsFixture) pending(t require.TestingT, workflowID, name string) *workflowpb.PendingActivityInfo {
	resp, err := f.c.DescribeWorkflowExecution(context.Background(), workflowID, "")
	require.NoError(t, err)
	for _, p := range resp.GetPendingActivities() {
		if p.GetActivityType().GetName() == name {
			return p
		}
	}
	return nil
}

// waitActivity waits until the workflow's activity of type name is pending and ok says so.
func (f opsFixture) waitActivity(t *testing.T, workflowID, name string, ok func(*workflowpb.PendingActivityInfo) bool) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		p := f.pending(ct, workflowID, name)
		require.NotNil(ct, p, "%s: no pending %s", workflowID, name)
		require.True(ct, ok(p), "%s: %s is %v", workflowID, name, p)
	}, testWait, pollEvery)
}

func (f opsFixture) job(id string, op batch.Operation) batch.Job {
	return batch.Job{ID: id + "-" + f.tenant, Namespace: targetNS, Query: f.query(), Reason: "ops test", Op: op}
}

// run runs the job to its end on engine and returns its final progress.
func (f opsFixture) run(t *testing.T, engineName string, job batch.Job) batch.Progress {
	t.Helper()
	if engineName == batch.EngineClient {
		home := dial(t, homeNS)
		startEngine(t, home)
		r := runJob(t, home, SpecFrom(job))
		return r.Progress
	}
	bc := dialBatch(t)
	// The namespace's one batch slot is freed once visibility sees the
	// previous test's job closed, which lags its end under load.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		err := bc.Start(context.Background(), job)
		require.False(ct, errors.Is(err, batch.ErrSlotBusy), "slot still busy: %v", err)
		require.NoError(t, err)
	}, testWait, 100*time.Millisecond)
	var p batch.Progress
	var err error
	require.Eventually(t, func() bool {
		p, err = bc.Describe(context.Background(), targetNS, job.ID)
		return err == nil && p.Done()
	}, testWait, 100*time.Millisecond, "server job %s did not end", job.ID)
	return p
}

func dialBatch(t *testing.T) *batch.Client {
	t.Helper()
	bc, err := batch.Dial(context.Background(), batch.Options{Address: temporalHostPort, Namespace: targetNS}, slog.Default())
	require.NoError(t, err)
	t.Cleanup(bc.Close)
	return bc
}
