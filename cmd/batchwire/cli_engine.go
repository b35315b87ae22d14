package main

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/batch/engine"
)

// clientJobs is the client-side batch engine as the CLI uses it: jobs that run
// as workflows on batchwire's own worker instead of the server batcher, for
// what the server lacks. Their progress has the server's shape, so `batch
// list`, `batch describe` and `batch terminate` show both kinds alike.
type clientJobs interface {
	List(ctx context.Context, limit int) ([]batch.Progress, error)
	// Describe and Stop return an error wrapping batch.ErrNotFound for an
	// unknown job id.
	Describe(ctx context.Context, jobID string) (batch.Progress, error)
	Stop(ctx context.Context, jobID, reason string) error
	// DryRun plans every execution the job selects; nothing changes.
	DryRun(ctx context.Context, job clientJob) ([]clientTarget, error)
	Start(ctx context.Context, job clientJob) error
	// Served reports whether some worker (a batchwire daemon) polls the
	// engine's task queue; Serve runs one in this process until stopped.
	Served(ctx context.Context) (bool, error)
	Serve() (stop func(), err error)
}

// clientJob is a job plus what only the client engine can do.
type clientJob struct {
	batch.Job
	// IncludeIDs and ExcludeIDs narrow the query to, or away from, these
	// workflow ids (reset-batch --input_file, --exclude_file).
	IncludeIDs []string
	ExcludeIDs []string
}

// clientTarget is what a client job would do to one execution.
type clientTarget = engine.Target

// engineListAll bounds `batch list --limit 0` for engine jobs, each of which
// costs a describe.
const engineListAll = 1000

// clientEngine adapts batch/engine to the CLI. Engine jobs run in the
// namespace of the command, on the engine's task queue there.
func clientEngine(c *batch.Client, namespace string) clientJobs {
	return engineJobs{sdk: c.SDK(), namespace: namespace}
}

type engineJobs struct {
	sdk       client.Client
	namespace string
}

func (e engineJobs) List(ctx context.Context, limit int) ([]batch.Progress, error) {
	if limit <= 0 {
		limit = engineListAll
	}
	return engine.List(ctx, e.sdk, limit)
}

func (e engineJobs) Describe(ctx context.Context, jobID string) (batch.Progress, error) {
	return engine.Describe(ctx, e.sdk, jobID)
}

func (e engineJobs) Stop(ctx context.Context, jobID, reason string) error {
	return engine.Stop(ctx, e.sdk, jobID, reason)
}

func (e engineJobs) DryRun(ctx context.Context, job clientJob) ([]clientTarget, error) {
	spec, err := job.spec()
	if err != nil {
		return nil, err
	}
	return engine.DryRun(ctx, e.sdk, spec)
}

func (e engineJobs) Start(ctx context.Context, job clientJob) error {
	spec, err := job.spec()
	if err != nil {
		return err
	}
	return engine.Start(ctx, e.sdk, spec)
}

func (e engineJobs) Served(ctx context.Context) (bool, error) {
	resp, err := e.sdk.DescribeTaskQueue(ctx, engine.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return false, fmt.Errorf("describe task queue %s: %w", engine.TaskQueue, err)
	}
	return len(resp.GetPollers()) > 0, nil
}

func (e engineJobs) Serve() (func(), error) {
	w := engine.NewWorker(e.sdk)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start client engine worker in namespace %q: %w", e.namespace, err)
	}
	return w.Stop, nil
}

func (j clientJob) spec() (engine.Spec, error) {
	spec := engine.SpecFrom(j.Job)
	spec.IncludeIDs, spec.ExcludeIDs = j.IncludeIDs, j.ExcludeIDs
	return spec, nil
}
