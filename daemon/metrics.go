package daemon

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
)

// metrics holds every batchwire_ series. Labels come from configuration (rule,
// trigger, namespace, operation), never from event data; the job id on the
// per-job gauges is ours, and those series are removed a while after the job ends.
type metrics struct {
	// notMatched holds each rule's not_matched evaluation counter, resolved
	// once: with 1000 rules an event counts 1000 of them, and resolving a
	// series by its label values costs more than evaluating the rule.
	notMatched       sync.Map // rule name → *counterSeries
	eventsReceived   *prometheus.CounterVec
	eventsInvalid    *prometheus.CounterVec
	triggerUp        *prometheus.GaugeVec
	ruleEvaluations  *counterFamily
	renderErrors     *counterFamily
	decisions        *counterFamily
	guardBlocked     *counterFamily
	duplicates       *counterFamily
	jobsStarted      *counterFamily
	jobOperations    *prometheus.GaugeVec
	jobState         *prometheus.GaugeVec
	operationsDone   *counterFamily
	jobDuration      *prometheus.HistogramVec
	queueDepth       *prometheus.GaugeVec
	jobsStopped      *counterFamily
	rpcErrors        *prometheus.CounterVec
	handlerPanics    *prometheus.CounterVec
	httpAuthFailures *prometheus.CounterVec
	decodePanics     *prometheus.CounterVec
	eventsDropped    *prometheus.CounterVec
	deadLettered     *prometheus.CounterVec
	triggerInFlight  *prometheus.GaugeVec
	auditFailures    prometheus.Counter
	reloadSuccessful prometheus.Gauge
	reloadTimestamp  prometheus.Gauge
	configHash       prometheus.Gauge

	// jobRetention is how long per-job series stay after the job ends, so the
	// final counts can be scraped.
	jobRetention time.Duration
	reg          prometheus.Registerer
	// rules are the rule names whose series configured created; only New and
	// Reload (under its lock) touch it.
	rules map[string]bool
}

func newMetrics(reg prometheus.Registerer, jobRetention time.Duration) *metrics {
	f := promauto.With(reg)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	version, revision := buildVersion()
	pairs := newLabelPairs()
	f.NewGauge(prometheus.GaugeOpts{Name: "batchwire_build_info",
		Help:        "Always 1; its labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	}).Set(1)
	return &metrics{
		eventsReceived: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_events_received_total",
			Help: "Events decoded from a trigger."}, []string{"trigger"}),
		eventsInvalid: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_events_invalid_total",
			Help: "Messages that could not be decoded as a CloudEvent."}, []string{"trigger"}),
		ruleEvaluations: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_rules_evaluations_total",
			Help: "Rule evaluations by result: matched, not_matched, error."}, []string{"rule", "result"}),
		renderErrors: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_rules_render_errors_total",
			Help: "Matched events whose query, reason or input could not be rendered, or whose rendered query was refused."}, []string{"rule"}),
		decisions: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_batch_decisions_total",
			Help: "Launch decisions by outcome: launched, duplicate, no_targets, dry_run, blocked, delayed, error."}, []string{"rule", "outcome"}),
		guardBlocked: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_guard_blocked_total",
			Help: "Launches a guard refused."}, []string{"rule", "guard"}),
		duplicates: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_duplicates_suppressed_total",
			Help: "Launches whose job id already existed (a redelivered event)."}, []string{"rule"}),
		jobsStarted: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_batch_jobs_started_total",
			Help: "Batch jobs started."}, []string{"rule", "operation"}),
		jobOperations: f.NewGaugeVec(prometheus.GaugeOpts{Name: "batchwire_batch_job_operations",
			Help: "Per job: total, completed and failed operations as last described."}, []string{"rule", "job_id", "count"}),
		jobState: f.NewGaugeVec(prometheus.GaugeOpts{Name: "batchwire_batch_job_state",
			Help: "Per job: 1 for its current state, 0 for the others."}, []string{"rule", "job_id", "state"}),
		operationsDone: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_batch_operations_total",
			Help: "Operations of ended jobs, by result: completed, failed."}, []string{"rule", "operation", "result"}),
		jobDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "batchwire_batch_job_duration_seconds",
			Help:    "Time from launch to the end of a job.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14)}, []string{"rule", "operation", "state"}),
		queueDepth: f.NewGaugeVec(prometheus.GaugeOpts{Name: "batchwire_launch_queue_depth",
			Help: "Launches waiting for the namespace's batch slot."}, []string{"namespace"}),
		jobsStopped: newCounterFamily(reg, pairs, prometheus.CounterOpts{Name: "batchwire_batch_jobs_stopped_total",
			Help: "Jobs batchwire stopped itself, by reason: watchdog (no progress within launch.watchdog), " +
				"failure_ratio (the circuit breaker, launch.max_failure_ratio)."}, []string{"rule", "reason"}),
		triggerUp: f.NewGaugeVec(prometheus.GaugeOpts{Name: "batchwire_trigger_up",
			Help: "1 while the trigger takes events (its subscription confirmed by the server, its consumer pulling, or its HTTP path open), 0 otherwise."}, []string{"trigger"}),
		rpcErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_temporal_rpc_errors_total",
			Help: "Failed Temporal RPCs by method and gRPC code."}, []string{"method", "code"}),
		handlerPanics: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_events_panics_total",
			Help: "Events whose handling panicked (a bug); the daemon goes on and the event is retried."}, []string{"trigger"}),
		httpAuthFailures: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_http_auth_failures_total",
			Help: "HTTP requests refused for their credentials, by trigger (/-/admin for the admin endpoints) and reason: bearer_token, client_cert, signature, timestamp."},
			[]string{"trigger", "reason"}),
		decodePanics: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_decode_panics_total",
			Help: "Messages on which a decoding library panicked (a bug of the library); each is refused, counted as invalid too, and the daemon goes on."}, []string{"trigger"}),
		eventsDropped: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_events_dropped_total",
			Help: "Events lost or refused without a decision, by reason: in_flight, slow_consumer, redeliveries_spent, " +
				"retry_queue_full, shutdown (events), queue_full (HTTP requests refused before their body was read)."},
			[]string{"trigger", "reason"}),
		deadLettered: f.NewCounterVec(prometheus.CounterOpts{Name: "batchwire_events_dead_lettered_total",
			Help: "JetStream messages published to the dead-letter subject, by reason: invalid, last_delivery, ack_wait."},
			[]string{"trigger", "reason"}),
		triggerInFlight: f.NewGaugeVec(prometheus.GaugeOpts{Name: "batchwire_trigger_in_flight",
			Help: "Events of the trigger whose decisions are under way (at most its max_in_flight)."}, []string{"trigger"}),
		auditFailures: f.NewCounter(prometheus.CounterOpts{Name: "batchwire_audit_write_failures_total",
			Help: "Audit records that could not be stored in the audit stream (they are still logged)."}),
		reloadSuccessful: f.NewGauge(prometheus.GaugeOpts{Name: "batchwire_config_last_reload_successful",
			Help: "Whether the last configuration load succeeded."}),
		reloadTimestamp: f.NewGauge(prometheus.GaugeOpts{Name: "batchwire_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully."}),
		configHash: f.NewGauge(prometheus.GaugeOpts{Name: "batchwire_config_hash",
			Help: "First 48 bits of the SHA-256 of the live configuration file."}),
		jobRetention: jobRetention,
		reg:          reg,
		rules:        map[string]bool{},
	}
}

// buildVersion reads the module version and VCS revision the Go toolchain
// stamped into the binary ("(devel)" and "unknown" when it had neither).
func buildVersion() (version, revision string) {
	version, revision = "(devel)", "unknown"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version, revision
	}
	if info.Main.Version != "" {
		version = info.Main.Version
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return version, revision
}

// configured creates, at 0, every series whose labels the configuration
// fixes, so that increase() and rate() see the first event of a rule or
// trigger after a start or a reload (a series born at 1 has no increase).
// Series of rules no longer configured are removed.
func (m *metrics) configured(cfg *config.Config, ops map[string]batch.Operation) {
	for _, t := range cfg.Triggers {
		m.eventsReceived.WithLabelValues(t.Name)
		m.eventsInvalid.WithLabelValues(t.Name)
		m.handlerPanics.WithLabelValues(t.Name)
		m.decodePanics.WithLabelValues(t.Name)
		m.triggerInFlight.WithLabelValues(t.Name)
	}
	next := map[string]bool{}
	for _, r := range cfg.Rules {
		next[r.Name] = true
		m.queueDepth.WithLabelValues(r.Namespace)
		m.ruleConfigured(r.Name, ops[r.Name].Kind)
	}
	for name := range m.rules {
		if !next[name] {
			m.forgetRule(name)
		}
	}
	m.rules = next
}

func (m *metrics) ruleConfigured(rule, operation string) {
	m.notMatched.Delete(rule) // a rule dropped and added again has a new series
	// Only the series an alert or a failure panel takes increase() of: a
	// series per rule costs memory here and in Prometheus (about 1 KiB
	// each), and 1000 rules with every outcome and guard were 22,000 series.
	m.ruleEvaluations.WithLabelValues(rule, "error")
	m.renderErrors.WithLabelValues(rule)
	for _, outcome := range []string{admit.Launched, admit.Error} {
		m.decisions.WithLabelValues(rule, outcome)
	}
	m.duplicates.WithLabelValues(rule)
	for _, reason := range []string{batch.StopWatchdog, batch.StopFailureRatio} {
		m.jobsStopped.WithLabelValues(rule, reason)
	}
	if operation == "" {
		return
	}
	m.jobsStarted.WithLabelValues(rule, operation)
	m.operationsDone.WithLabelValues(rule, operation, "completed")
	m.operationsDone.WithLabelValues(rule, operation, "failed")
}

// forgetRule removes a dropped rule's counters; per-job gauges stay until
// their jobs end.
func (m *metrics) forgetRule(rule string) {
	m.notMatched.Delete(rule)
	byRule := prometheus.Labels{"rule": rule}
	for _, family := range []*counterFamily{m.ruleEvaluations, m.renderErrors, m.decisions,
		m.guardBlocked, m.duplicates, m.jobsStarted, m.operationsDone, m.jobsStopped} {
		family.DeletePartialMatch(byRule)
	}
}

// Dropped and DeadLettered count what a source loses or sets aside
// (triggers.Reporter).
func (m *metrics) Dropped(trigger, reason string, n int) {
	m.eventsDropped.WithLabelValues(trigger, reason).Add(float64(n))
}

func (m *metrics) DeadLettered(trigger, reason string) {
	m.deadLettered.WithLabelValues(trigger, reason).Inc()
}

// watchCooldown exports the number of cooldown windows the pipeline holds.
func (m *metrics) watchCooldown(windows func() int) {
	promauto.With(m.reg).NewGaugeFunc(prometheus.GaugeOpts{Name: "batchwire_guard_cooldown_windows",
		Help: "Cooldown windows held (open, or expired and not yet pruned; expired ones are pruned every minute)."},
		func() float64 { return float64(windows()) })
}

func (m *metrics) configLoaded(hash string) {
	m.reloadSuccessful.Set(1)
	m.reloadTimestamp.SetToCurrentTime()
	if len(hash) >= 12 {
		v, _ := strconv.ParseUint(hash[:12], 16, 64)
		m.configHash.Set(float64(v))
	}
}

// countNotMatched counts one evaluation of rule whose when was false.
func (m *metrics) countNotMatched(rule string) {
	c, ok := m.notMatched.Load(rule)
	if !ok {
		c, _ = m.notMatched.LoadOrStore(rule, m.ruleEvaluations.WithLabelValues(rule, "not_matched"))
	}
	c.(*counterSeries).Inc()
}

// decided counts one admission decision.
func (m *metrics) decided(dec admit.Decision) {
	rule := dec.Rule.Name
	matchFailed := dec.Result == admit.Error && dec.Stage == admit.StageMatch
	switch {
	case matchFailed:
		m.ruleEvaluations.WithLabelValues(rule, "error").Inc()
	case !dec.Matched:
		m.countNotMatched(rule)
	default:
		m.ruleEvaluations.WithLabelValues(rule, "matched").Inc()
	}
	if dec.Matched && dec.Result == admit.Error && (dec.Stage == admit.StageMatch || dec.Stage == admit.StageLint) {
		m.renderErrors.WithLabelValues(rule).Inc()
	}
	if !dec.Matched || matchFailed {
		return
	}
	m.decisions.WithLabelValues(rule, dec.Result).Inc()
	switch dec.Result {
	case admit.Blocked, admit.Delayed:
		m.guardBlocked.WithLabelValues(rule, dec.Guard).Inc()
	case admit.Launched:
		m.jobsStarted.WithLabelValues(rule, dec.Job.Op.Kind).Inc()
	case admit.Duplicate:
		m.duplicates.WithLabelValues(rule).Inc()
	}
}

func (m *metrics) jobProgress(job batch.Job, p batch.Progress) {
	m.jobOperations.WithLabelValues(job.Rule, job.ID, "total").Set(float64(p.Total))
	m.jobOperations.WithLabelValues(job.Rule, job.ID, "completed").Set(float64(p.Completed))
	m.jobOperations.WithLabelValues(job.Rule, job.ID, "failed").Set(float64(p.Failed))
	for _, s := range batch.States {
		v := 0.0
		if s == p.State {
			v = 1
		}
		m.jobState.WithLabelValues(job.Rule, job.ID, s).Set(v)
	}
}

func (m *metrics) jobFinished(job batch.Job, p batch.Progress) {
	m.jobProgress(job, p)
	op := job.Op.Kind
	m.operationsDone.WithLabelValues(job.Rule, op, "completed").Add(p.Completed)
	m.operationsDone.WithLabelValues(job.Rule, op, "failed").Add(p.Failed)
	if !p.StartTime.IsZero() && !p.CloseTime.IsZero() {
		m.jobDuration.WithLabelValues(job.Rule, op, p.State).Observe(p.CloseTime.Sub(p.StartTime).Seconds())
	}
	m.expireJob(job)
}

// expireJob removes the job's series after the retention period.
func (m *metrics) expireJob(job batch.Job) {
	time.AfterFunc(m.jobRetention, func() {
		m.jobOperations.DeletePartialMatch(prometheus.Labels{"job_id": job.ID})
		m.jobState.DeletePartialMatch(prometheus.Labels{"job_id": job.ID})
	})
}
