package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/batchwire/batchwire/batch"
)

// QueueDepth implements batch.Observer.
func (d *Daemon) QueueDepth(namespace string, depth int) {
	d.metrics.queueDepth.WithLabelValues(namespace).Set(float64(depth))
}

// Progressed implements batch.Observer.
func (d *Daemon) Progressed(job batch.Job, p batch.Progress) {
	d.metrics.jobProgress(job, p)
	d.log.Info("batch job progress", "rule", job.Rule, "job_id", job.ID, "state", p.State,
		"total", p.Total, "completed", p.Completed, "failed", p.Failed)
}

// Finished implements batch.Observer.
func (d *Daemon) Finished(job batch.Job, p batch.Progress) {
	d.metrics.jobFinished(job, p)
	rec := Record{Rule: job.Rule, Result: ResultJobEnded, Namespace: job.Namespace, Operation: job.Op.Kind,
		Query: job.Query, JobID: job.ID, JobState: p.State, Completed: &p.Completed, Failed: &p.Failed}
	switch p.StopReason {
	case batch.StopWatchdog:
		rec.Reason = "stopped by the watchdog: no progress within launch.watchdog"
	case batch.StopFailureRatio:
		rec.Reason = fmt.Sprintf("stopped by the circuit breaker: %d of %d operations failed", p.Failed, p.Completed+p.Failed)
	}
	if p.StopReason != "" {
		d.metrics.jobsStopped.WithLabelValues(job.Rule, p.StopReason).Inc()
	}
	// A failure is logged and counted; the job has ended, nothing waits on it.
	_ = d.audit.write(context.Background(), rec)
}

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if why := d.notReady(); why != "" {
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK\n"))
	})
	if d.cfg.HTTP.Admin.Enabled {
		mux.HandleFunc("POST /-/reload", d.handleReload)
	}
	for _, src := range d.httpSources {
		// The source answers other methods with 405 itself.
		mux.Handle(src.Path(), src)
	}
	return mux
}
