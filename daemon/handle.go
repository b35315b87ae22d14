package daemon

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/rules"
	"github.com/batchwire/batchwire/triggers"
)

// handle evaluates one event against the rules and submits every match. The
// delivery is acked once every launch decision is final.
func (d *Daemon) handle(_ context.Context, dl triggers.Delivery) {
	ev := dl.Event
	d.metrics.eventsReceived.WithLabelValues(dl.Trigger).Inc()
	log := d.log.With("trigger", dl.Trigger, "event_id", ev.ID(), "event_source", ev.Source(), "event_type", ev.Type())
	var pending []<-chan batch.Decision
	for _, res := range d.rules.Load().Evaluate(dl.Trigger, ev, d.now()) {
		rule := res.Rule.Name
		switch {
		case res.Err != nil:
			d.metrics.ruleEvaluations.WithLabelValues(rule, "error").Inc()
			log.Warn("rule evaluation failed", "rule", rule, "err", res.Err)
		case !res.Matched:
			d.metrics.ruleEvaluations.WithLabelValues(rule, "not_matched").Inc()
			log.Debug("rule did not match", "rule", rule)
		default:
			d.metrics.ruleEvaluations.WithLabelValues(rule, "matched").Inc()
			log.Info("rule matched", "rule", rule, "namespace", res.Action.Namespace,
				"query", res.Action.Query, "job_id", res.Action.JobID)
			pending = append(pending, d.launcher.Submit(d.request(res.Rule, res.Action)))
		}
	}
	d.inflight.Add(1)
	go func() {
		defer d.inflight.Done()
		for _, ch := range pending {
			<-ch
		}
		if err := dl.Ack(); err != nil {
			log.Warn("ack failed", "err", err)
		}
	}()
}

func (d *Daemon) request(rule *rules.Rule, a *rules.Action) batch.Request {
	job := batch.Job{
		ID: a.JobID, Rule: a.Rule, Namespace: a.Namespace, Query: a.Query, Reason: a.Reason,
	}
	if a.Signal != nil {
		job.Op = batch.Signal{Name: a.Signal.Name, Input: a.Signal.Input}
	}
	return batch.Request{
		Job:          job,
		MaxWorkflows: rule.Config.Guards.MaxWorkflows,
		DryRun:       rule.Config.Guards.DryRun,
	}
}

// invalid records a message that is not a CloudEvent.
func (d *Daemon) invalid(trigger string, err error) {
	d.metrics.eventsInvalid.WithLabelValues(trigger).Inc()
	d.log.Warn("invalid event dropped", "trigger", trigger, "err", err)
}

// QueueDepth implements batch.Observer.
func (d *Daemon) QueueDepth(namespace string, depth int) {
	d.metrics.queueDepth.WithLabelValues(namespace).Set(float64(depth))
}

// Decided implements batch.Observer.
func (d *Daemon) Decided(dec batch.Decision) {
	job := dec.Job
	d.metrics.decisions.WithLabelValues(job.Rule, dec.Outcome).Inc()
	log := d.log.With("rule", job.Rule, "job_id", job.ID, "namespace", job.Namespace,
		"outcome", dec.Outcome, "count", dec.Count)
	switch dec.Outcome {
	case batch.OutcomeLaunched:
		d.metrics.jobsStarted.WithLabelValues(job.Rule, job.Op.Kind()).Inc()
		log.Info("batch job launched", "operation", job.Op.Kind(), "query", job.Query)
	case batch.OutcomeDuplicate:
		d.metrics.duplicates.WithLabelValues(job.Rule).Inc()
		log.Info("batch job already exists; duplicate event suppressed")
	case batch.OutcomeBlocked:
		d.metrics.guardBlocked.WithLabelValues(job.Rule, dec.Guard).Inc()
		log.Warn("launch blocked by guard", "guard", dec.Guard, "err", dec.Err)
	case batch.OutcomeDryRun:
		log.Info("dry run: not launched", "query", job.Query)
	default:
		log.Error("launch failed", "err", dec.Err)
	}
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
	d.log.Info("batch job ended", "rule", job.Rule, "job_id", job.ID, "namespace", job.Namespace,
		"state", p.State, "total", p.Total, "completed", p.Completed, "failed", p.Failed)
}

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !d.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK\n"))
	})
	return mux
}
