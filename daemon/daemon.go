package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/triggers"
)

// Options configure a Daemon.
type Options struct {
	// Loaded is what Load or Build made of the configuration. When it is
	// nil, New builds Config itself, with the same checks.
	Loaded *Loaded
	Config *config.Config
	Logger *slog.Logger
	// Registry receives every metric; tests pass a fresh one.
	Registry *prometheus.Registry
	// APIKey, when set, replaces the key the loader read from
	// temporal.api_key_file or TEMPORAL_API_KEY.
	APIKey string
	// ConfigPath is the file Reload reads; empty disables reloading.
	ConfigPath string
	// ClientEngine runs client-side batch jobs; nil starts batchwire's own
	// engine worker on temporal.namespace.
	ClientEngine batch.ClientEngine
	// ShutdownGrace bounds how long Run waits for in-flight decisions after
	// intake stops; 0 means 30s.
	ShutdownGrace time.Duration
	// Now is the clock rules see; nil means time.Now.
	Now func() time.Time
	// ServerInfo, when set, replaces what the Temporal server says of its
	// version and capabilities (GetSystemInfo): tests fake an older server.
	ServerInfo *batch.ServerInfo
}

// Daemon turns events into batch jobs.
type Daemon struct {
	cfg     *config.Config // as started: the parts that cannot change at run time
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	live    atomic.Pointer[liveState]
	audit   *auditor
	now     func() time.Time
	reload  sync.Mutex
	// server is what the connected Temporal server runs, read once at start;
	// nil until then. Each rule's operation is checked against it.
	server atomic.Pointer[batch.ServerInfo]

	// httpSources are the HTTP triggers, built by the loader so that a bad
	// webhook mapping or an unreadable secret fails at start.
	httpSources map[string]*triggers.HTTPSource
	natsAuth    triggers.NATSAuth
	httpTLS     *tls.Config

	// running is set while Run takes events; triggerLive holds, per trigger
	// (fixed in New: a reload cannot change triggers), whether it has started
	// taking events and not stopped since.
	running     atomic.Bool
	triggerLive map[string]*atomic.Bool
	// waiting says which dependency Run is waiting for, while it waits.
	waiting  atomic.Value // string
	httpAddr atomic.Value // string
	natsURL  atomic.Value // string
	launcher *batch.Launcher
	pipeline *admit.Pipeline
	// evalBuffers are the buffers events are evaluated into (handle.go).
	evalBuffers evalBuffers
	// launchCtx outlives intake: in-flight decisions finish after intake
	// stops, until the shutdown grace is over.
	launchCtx context.Context
	inflight  sync.WaitGroup
	// slots bounds each trigger's events in flight (max_in_flight).
	slots *inFlight
}

// New prepares the daemon from what the loader built (Options.Loaded, or
// Build of Options.Config); it does no I/O beyond reading the secrets the
// configuration names.
func New(opts Options) (*Daemon, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	loaded := opts.Loaded
	if loaded == nil {
		if opts.Config == nil {
			return nil, errors.New("daemon: a configuration is required")
		}
		var problems config.Problems
		loaded, problems = Build(opts.Config, opts.ConfigPath, opts.Logger)
		if err := problems.Err(); err != nil {
			return nil, err
		}
	}
	opts.Config = loaded.Config
	if opts.APIKey == "" {
		opts.APIKey = loaded.APIKey
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = 30 * time.Second
	}
	d := &Daemon{
		cfg: opts.Config, opts: opts, log: opts.Logger, reg: opts.Registry, now: opts.Now,
		metrics: newMetrics(opts.Registry, opts.Config.Metrics.JobRetention.Std()),

		httpSources: loaded.HTTPSources,
		natsAuth:    loaded.NATSAuth,
		httpTLS:     loaded.HTTPTLS,
		triggerLive: map[string]*atomic.Bool{},
	}
	for _, t := range opts.Config.Triggers {
		d.triggerLive[t.Name] = new(atomic.Bool)
	}
	for _, src := range d.httpSources {
		src.OnAuthFailure(func(trigger, reason string) {
			d.metrics.httpAuthFailures.WithLabelValues(trigger, reason).Inc()
		})
	}
	d.slots = newInFlight(opts.Config.Triggers, d.metrics)
	d.live.Store(&liveState{cfg: opts.Config, rules: loaded.Rules, ops: loaded.Ops, adminToken: loaded.AdminToken})
	d.metrics.configLoaded(opts.Config.Hash)
	d.metrics.configured(opts.Config, loaded.Ops)
	return d, nil
}

// HTTPAddr is the address the HTTP server listens on, once Run has bound it.
func (d *Daemon) HTTPAddr() string { s, _ := d.httpAddr.Load().(string); return s }

// NATSURL is the URL of the NATS server in use, once Run has connected.
func (d *Daemon) NATSURL() string { s, _ := d.natsURL.Load().(string); return s }

// Ready reports whether every trigger takes events: each NATS subscription
// is confirmed by the server, each JetStream consumer is pulling and each
// HTTP path is open. A trigger that stops with an error makes it false.
func (d *Daemon) Ready() bool { return d.notReady() == "" }

// notReady says why the daemon is not ready, or is empty when it is.
func (d *Daemon) notReady() string {
	if why, _ := d.waiting.Load().(string); why != "" {
		return why
	}
	if !d.running.Load() {
		return "not running"
	}
	var down []string
	for name, live := range d.triggerLive {
		if !live.Load() {
			down = append(down, name)
		}
	}
	if len(down) == 0 {
		return ""
	}
	slices.Sort(down)
	return "triggers not taking events: " + strings.Join(down, ", ")
}

// Run starts everything and blocks until ctx is done or a component fails.
// On shutdown it stops intake first, then waits (up to ShutdownGrace) for
// in-flight decisions; decisions still open after that are handed back to
// their source (nak) for the next run.
func (d *Daemon) Run(ctx context.Context) error {
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	defer stopHTTP()
	httpErr, err := d.serveHTTP(httpCtx)
	if err != nil {
		return err
	}
	// The HTTP server is up first, so probes answer (503 with the reason)
	// while a dependency that is merely late is waited for.
	nc, stopNATS, err := d.connectNATSWaiting(ctx)
	if err != nil {
		return shutdownOr(ctx, err)
	}
	defer stopNATS()
	temporal, err := d.dialTemporal(ctx)
	if err != nil {
		return shutdownOr(ctx, err)
	}
	defer temporal.Close()
	engine, stopEngine, err := d.startClientEngine(temporal)
	if err != nil {
		return err
	}
	defer stopEngine()

	launchCtx, stopLaunches := context.WithCancel(context.Background())
	defer stopLaunches()
	d.audit = newAuditor(ctx, d.cfg.Audit, nc, d.log, d.metrics.auditFailures.Inc)
	opts := d.launcherOptions(engine)
	opts.Direct = d.startDirectEngine(ctx, nc, temporal)
	directMax := d.cfg.Launch.DirectMax
	if opts.Direct == nil {
		directMax = 0
	}
	d.launcher = batch.NewLauncher(launchCtx, temporal, d, opts)
	d.launchCtx = launchCtx
	d.launcher.ResumeDirect()
	d.pipeline = admit.New(admit.Options{Counter: d.launcher, Starter: d.launcher,
		Auto: batch.AutoLimitsOf(d.cfg.Launch), DirectMax: directMax})
	d.metrics.watchCooldown(d.pipeline.CooldownWindows)
	intakeCtx, stopIntake := context.WithCancel(ctx)
	defer stopIntake()
	sources := d.startTriggers(intakeCtx, nc)
	d.running.Store(true)
	releaseMemory()
	d.log.Info("batchwire running", "http", d.HTTPAddr(), "nats", d.NATSURL(),
		"temporal", d.cfg.Temporal.Address, "rules", len(d.live.Load().rules.Rules()))

	select {
	case <-ctx.Done():
	case err = <-httpErr:
	}
	d.running.Store(false)
	d.log.Info("batchwire stopping: intake closed, finishing in-flight decisions", "grace", d.opts.ShutdownGrace)
	stopIntake()
	sources.Wait()
	d.waitInflight(stopLaunches)
	return err
}

// shutdownOr is nil when ctx ended (a shutdown while waiting for a
// dependency is a clean exit), else err.
func shutdownOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// checkServer reads what the server runs and refuses to start when a rule
// needs a newer server; a reload is checked against the same answer.
func (d *Daemon) checkServer(ctx context.Context, temporal *batch.Client) error {
	info, err := d.readServerInfo(ctx, temporal)
	if err != nil {
		return err
	}
	live := d.live.Load()
	if err := ServerProblems(info, live.cfg, live.ops).InFile(d.opts.ConfigPath).Err(); err != nil {
		return errPermanent{fmt.Errorf("the Temporal server at %s cannot run every rule: %w", d.cfg.Temporal.Address, err)}
	}
	d.server.Store(&info)
	d.log.Info("temporal server", "version", info.Version, "address", d.cfg.Temporal.Address)
	return nil
}

// waitInflight gives in-flight decisions the grace period, then stops the
// launcher so the rest end with batch.ErrShutdown and are nak'ed.
func (d *Daemon) waitInflight(stopLaunches context.CancelFunc) {
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.opts.ShutdownGrace):
		d.log.Warn("shutdown grace over; open decisions go back to their source")
	}
	stopLaunches()
	d.inflight.Wait()
	d.launcher.Wait()
}

func (d *Daemon) launcherOptions(engine batch.ClientEngine) batch.LauncherOptions {
	return batch.LauncherOptions{
		PollInterval:    d.cfg.Temporal.PollInterval.Std(),
		Watchdog:        d.cfg.Launch.Watchdog.Std(),
		MaxFailureRatio: d.cfg.Launch.MaxFailureRatio,
		MinOpsForRatio:  d.cfg.Launch.MinOpsForRatio,
		Client:          engine,
		// Past this, the event goes back to its source with a backoff
		// instead of holding its delivery open while Temporal is away.
		RetryBudget: d.cfg.Launch.RetryBudget.Std(),
		Logger:      d.log,
	}
}

func (d *Daemon) temporalOptions() batch.Options {
	opts := batch.OptionsFrom(d.cfg.Temporal, d.opts.APIKey)
	opts.OnRPCError = func(method, code string) {
		d.metrics.rpcErrors.WithLabelValues(method, code).Inc()
	}
	return opts
}

// connectNATS connects to the configured server, or starts an embedded one.
func (d *Daemon) connectNATS() (*nats.Conn, func(), error) {
	var embedded *server.Server
	if d.cfg.NATS.URL == "" {
		storeDir := filepath.Join(d.cfg.DataDir, "jetstream")
		if err := os.MkdirAll(storeDir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("create data dir: %w", err)
		}
		srv, err := triggers.StartEmbedded(d.cfg.NATS.Listen, storeDir, d.natsAuth, d.log)
		if err != nil {
			return nil, nil, err
		}
		embedded = srv
	}
	nc, err := triggers.Connect(d.cfg.NATS, d.natsAuth, embedded, d.log)
	if err != nil {
		if embedded != nil {
			embedded.Shutdown()
		}
		return nil, nil, err
	}
	d.natsURL.Store(nc.ConnectedUrlRedacted())
	stop := func() {
		_ = nc.Drain()
		nc.Close()
		if embedded != nil {
			embedded.Shutdown()
			embedded.WaitForShutdown()
		}
	}
	return nc, stop, nil
}

func (d *Daemon) startTriggers(ctx context.Context, nc *nats.Conn) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, t := range d.cfg.Triggers {
		var src source
		switch {
		case t.HTTP != nil:
			src = d.httpSources[t.Name]
		case t.JetStream != nil:
			src = triggers.NewJetStreamSource(nc, t, d.log)
		default:
			src = triggers.NewNATSSource(nc, t, d.log)
		}
		src.SetReporter(d.metrics)
		d.metrics.triggerUp.WithLabelValues(t.Name).Set(0)
		wg.Add(2)
		stopped := make(chan struct{})
		go func() {
			defer wg.Done()
			defer close(stopped)
			d.runTrigger(ctx, src)
		}()
		go func() {
			defer wg.Done()
			d.trackTrigger(src, stopped)
		}()
	}
	return &wg
}

// runTrigger runs one source until ctx ends. A panic in it (a bug; decoding
// and handling recover on their own) stops that trigger, counted and logged,
// not the process.
func (d *Daemon) runTrigger(ctx context.Context, src source) {
	defer func() {
		if r := recover(); r != nil {
			d.metrics.handlerPanics.WithLabelValues(src.Name()).Inc()
			d.log.Error("trigger panicked and stopped", "trigger", src.Name(), "panic", fmt.Sprint(r),
				"stack", string(debug.Stack()))
		}
	}()
	if err := src.Run(ctx, d.handle, d.invalid); err != nil {
		d.log.Error("trigger stopped", "trigger", src.Name(), "err", err)
	}
}

// trackTrigger keeps readiness and batchwire_trigger_up in step with one
// trigger: up from when it starts taking events until its Run returns.
func (d *Daemon) trackTrigger(src source, stopped <-chan struct{}) {
	select {
	case <-src.Started():
	case <-stopped:
		return
	}
	live, up := d.triggerLive[src.Name()], d.metrics.triggerUp.WithLabelValues(src.Name())
	live.Store(true)
	up.Set(1)
	if d.Ready() {
		d.log.Info("batchwire ready: every trigger takes events", "triggers", len(d.triggerLive))
	}
	<-stopped
	live.Store(false)
	up.Set(0)
}

// source is what every trigger kind offers.
type source interface {
	Name() string
	Run(ctx context.Context, handle triggers.Handler, invalid triggers.Invalid) error
	// Started is closed once the source takes events.
	Started() <-chan struct{}
	// SetReporter makes the source count what it drops or dead-letters.
	SetReporter(r triggers.Reporter)
}

// Bounds of the HTTP server. Headers are small in every format (the
// CloudEvents binary mode puts attributes there; 64 KiB is ample).
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = time.Minute
	httpIdleTimeout       = 2 * time.Minute
	httpMaxHeaderBytes    = 64 << 10
	// httpWriteMargin is the answer's own time after the decision.
	httpWriteMargin = 10 * time.Second
)

// httpWriteTimeout lets the slowest trigger answer: a trigger answers only
// once its events are decided or its http.timeout has passed, counted from
// when its body was read, which ReadTimeout bounds.
func httpWriteTimeout(triggers []config.Trigger) time.Duration {
	decision := time.Duration(0)
	for _, t := range triggers {
		if t.HTTP != nil {
			decision = max(decision, t.HTTP.Timeout.Std())
		}
	}
	return httpReadTimeout + decision + httpWriteMargin
}

func (d *Daemon) serveHTTP(ctx context.Context) (<-chan error, error) {
	ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w", d.cfg.HTTP.Listen, err)
	}
	d.httpAddr.Store(ln.Addr().String())
	if d.httpTLS != nil {
		ln = tls.NewListener(ln, d.httpTLS)
	}
	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		// ReadTimeout bounds slow uploads to HTTP triggers.
		ReadTimeout:    httpReadTimeout,
		WriteTimeout:   httpWriteTimeout(d.cfg.Triggers),
		IdleTimeout:    httpIdleTimeout,
		MaxHeaderBytes: httpMaxHeaderBytes,
	}
	errc := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	go func() {
		<-ctx.Done()
		// The shutdown needs its own deadline: ctx is already done here.
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	return errc, nil
}
