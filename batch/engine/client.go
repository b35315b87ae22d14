package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/batchwire/batchwire/batch"
)

// Register registers the engine workflow and activities on a worker.
func Register(w worker.Registry) {
	w.RegisterWorkflowWithOptions(ClientBatch, workflow.RegisterOptions{Name: WorkflowName})
	acts := &Activities{}
	w.RegisterActivityWithOptions(acts.ListPage, activity.RegisterOptions{Name: ListPageActivity})
	w.RegisterActivityWithOptions(acts.ApplyPage, activity.RegisterOptions{Name: ApplyPageActivity})
}

// Worker defaults. WorkerStopTimeout lets calls in flight finish when the
// worker stops, so a daemon shutdown rarely leaves a call whose outcome is
// unknown. heartbeatThrottle makes the SDK send a page's heartbeat (its
// progress, and the channel a Stop arrives on) every second instead of every
// 0.8 heartbeat timeouts.
const (
	WorkerStopTimeout = 10 * time.Second
	heartbeatThrottle = time.Second
)

// NewWorker returns a worker on TaskQueue in c's namespace with the engine
// registered. Options, if given, replace the defaults.
func NewWorker(c client.Client, opts ...worker.Options) worker.Worker {
	options := worker.Options{WorkerStopTimeout: WorkerStopTimeout, MaxHeartbeatThrottleInterval: heartbeatThrottle}
	if len(opts) > 0 {
		options = opts[0]
	}
	w := worker.New(c, TaskQueue, options)
	Register(w)
	return w
}

// Start launches the job as an engine workflow whose id is the job id. A job
// id used before, running or closed, fails with batch.ErrAlreadyStarted: that
// is the idempotency signal, as for server jobs.
//
// Start lists the first page itself and hands it to the workflow in its
// input: the selection is then recorded before anything is applied, and a
// small job runs in the workflow's first task. The start is eager: when this
// client's process runs the engine worker (the daemon does), the server hands
// that first task back in its answer instead of through the task queue.
// When the listing fails, the job starts without it and its workflow lists
// (and fails on a query the server cannot run, as a job that can be described).
func Start(ctx context.Context, c client.Client, spec Spec) error {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return fmt.Errorf("client batch job %q: %w", spec.JobID, err)
	}
	cp := Checkpoint{LocalApply: true, Prefetch: true}
	if first, err := listPage(ctx, c.WorkflowService(), PageRequest{Spec: spec}); err == nil {
		cp.Listed = &first
	}
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       spec.JobID,
		TaskQueue:                                TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		EnableEagerStart:                         true,
	}, WorkflowName, spec, cp)
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &exists) {
		return fmt.Errorf("start client batch job %q: %w", spec.JobID, batch.ErrAlreadyStarted)
	}
	if err != nil {
		return fmt.Errorf("start client batch job %q: %w", spec.JobID, err)
	}
	return nil
}

// Stop stops a running job: the reason is signalled for the record, then the
// workflow is cancelled and ends once the page in flight hands back its
// counts. Operations already applied stay applied. A closed job is left alone.
func Stop(ctx context.Context, c client.Client, jobID, reason string) error {
	p, err := Describe(ctx, c, jobID)
	if err != nil {
		return err
	}
	if p.Done() {
		return nil
	}
	if err := c.SignalWorkflow(ctx, jobID, "", StopSignal, reason); err != nil {
		return fmt.Errorf("stop client batch job %q: signal reason: %w", jobID, err)
	}
	if err := c.CancelWorkflow(ctx, jobID, ""); err != nil {
		return fmt.Errorf("stop client batch job %q: cancel: %w", jobID, err)
	}
	return nil
}

// WaitEnded returns once the job has ended, however it ended (following its
// continue-as-new runs), or with ctx's error.
func WaitEnded(ctx context.Context, c client.Client, jobID string) error {
	err := c.GetWorkflow(ctx, jobID, "").Get(ctx, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("wait for client batch job %q: %w", jobID, batch.ErrNotFound)
	}
	return nil
}

// DryRun plans the job without changing anything: every execution it selects
// now, with the reset point of each (reset only) or why it would be skipped.
func DryRun(ctx context.Context, c client.Client, spec Spec) ([]Target, error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("dry run of %q: %w", spec.JobID, err)
	}
	svc := c.WorkflowService()
	// No start-time cut-off: nothing changes, so no run of our own can appear.
	req := PageRequest{Spec: spec}
	var targets []Target
	for {
		page, err := listPage(ctx, svc, req)
		if err != nil {
			return targets, fmt.Errorf("dry run of %q: %w", spec.JobID, err)
		}
		for _, exec := range page.Executions {
			targets = append(targets, dryRunTarget(ctx, svc, spec, exec))
		}
		if len(page.NextToken) == 0 {
			return targets, nil
		}
		req.Token = page.NextToken
	}
}

func dryRunTarget(ctx context.Context, svc workflowservice.WorkflowServiceClient, spec Spec, exec Execution) Target {
	var target Target
	err := retryTransient(ctx, func() error {
		var planErr error
		target, planErr = plan(ctx, svc, spec, exec)
		return planErr
	})
	if err != nil {
		return Target{WorkflowID: exec.WorkflowID, RunID: exec.RunID, Skipped: true, Reason: "cannot plan: " + err.Error()}
	}
	return target
}
