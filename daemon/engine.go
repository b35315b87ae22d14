package daemon

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/batch/engine"
)

// startClientEngine runs the client-side engine's worker on the daemon's own
// namespace (temporal.namespace): its job workflows live there, and act on
// each job's target namespace. A job the daemon was running when it stopped
// resumes from its checkpoint once this worker polls again.
func (d *Daemon) startClientEngine(temporal *batch.Client) (batch.ClientEngine, func(), error) {
	if d.opts.ClientEngine != nil {
		return d.opts.ClientEngine, func() {}, nil
	}
	w := engine.NewWorker(temporal.SDK())
	if err := w.Start(); err != nil {
		return nil, nil, fmt.Errorf("start the client engine worker: %w", err)
	}
	adapter := engineAdapter{c: temporal.SDK(), concurrency: d.cfg.Launch.ClientConcurrency, rps: d.cfg.Launch.ClientRPS}
	return adapter, w.Stop, nil
}

// engineAdapter gives the launcher the engine package's functions.
type engineAdapter struct {
	c           client.Client
	concurrency int
	rps         float64
}

func (e engineAdapter) Start(ctx context.Context, job batch.Job) error {
	spec := engine.SpecFrom(job)
	spec.Concurrency, spec.RPS = e.concurrency, e.rps
	return engine.Start(ctx, e.c, spec)
}

func (e engineAdapter) Describe(ctx context.Context, job batch.Job) (batch.Progress, error) {
	return engine.Describe(ctx, e.c, job.ID)
}

func (e engineAdapter) WaitEnded(ctx context.Context, job batch.Job) error {
	return engine.WaitEnded(ctx, e.c, job.ID)
}

func (e engineAdapter) Stop(ctx context.Context, job batch.Job, reason string) error {
	return engine.Stop(ctx, e.c, job.ID, reason)
}
