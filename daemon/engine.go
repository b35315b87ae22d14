package daemon

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// startDirectEngine opens the direct engine's bucket, or returns nil (the
// client engine then takes its jobs) when launch.direct_max turns it off,
// a client engine was injected, or JetStream cannot keep its records.
func (d *Daemon) startDirectEngine(ctx context.Context, nc *nats.Conn, temporal *batch.Client) batch.DirectEngine {
	if d.cfg.Launch.DirectMax <= 0 || d.opts.ClientEngine != nil || nc == nil {
		return nil
	}
	js, err := jetstream.New(nc)
	var journal jetstream.KeyValue
	if err == nil {
		journal, err = engine.OpenDirectJournal(ctx, js)
	}
	if err != nil {
		d.log.Warn("direct engine off: its records need JetStream; small jobs run on the client engine", "err", err)
		return nil
	}
	return &engine.Direct{Client: temporal.SDK(), Journal: journal, Max: int(d.cfg.Launch.DirectMax),
		Concurrency: d.cfg.Launch.ClientConcurrency, Logger: d.log}
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
