package daemon

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/examples/worker/flags"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Namespaces created at dev server start; a test that launches batch jobs
// takes its own, because the server runs one batch job per namespace.
var testNamespaces = []string{"e2e-broadcast", "e2e-misc", "e2e-cooldown", "e2e-rate", "e2e-pause", "e2e-shadow", "e2e-burst", "e2e-deploy", "e2e-alerts", "e2e-webhooks", "e2e-versioning", "e2e-outage", "e2e-effect"}

// temporalHostPort is the dev server every test in this package shares.
var temporalHostPort string

// TestMain starts the dev server, except to fuzz (go test -run=^$
// -fuzz=FuzzX): fuzz targets need no servers, and every fuzz worker process
// runs TestMain again.
func TestMain(m *testing.M) {
	flag.Parse()
	if fuzz := flag.Lookup("test.fuzz"); fuzz != nil && fuzz.Value.String() != "" {
		os.Exit(m.Run())
	}
	os.Exit(testenv.RunWithTemporal(m, &temporalHostPort, testNamespaces...))
}

func runNATS(t testing.TB) *server.Server { return testenv.RunNATS(t) }

func dialTemporal(t testing.TB, namespace string) client.Client {
	return testenv.Dial(t, temporalHostPort, namespace)
}

// startFlagWorker runs the example worker in-process on the namespace.
func startFlagWorker(t testing.TB, c client.Client) {
	t.Helper()
	w := worker.New(c, flags.TaskQueue, flags.Options())
	flags.Register(w)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// startDaemon runs a daemon until the test ends and waits until it is ready.
func startDaemon(t testing.TB, cfg *config.Config) (*Daemon, *prometheus.Registry) {
	t.Helper()
	return startDaemonWith(t, Options{Config: cfg})
}

// newTestDaemon builds a daemon that is not running, for code that needs no servers.
func newTestDaemon(t testing.TB, cfg *config.Config) (*Daemon, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(Options{Config: cfg, Registry: reg, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	return d, reg
}

// startDaemonWith runs a daemon with opts plus a fresh registry and the
// test's logger, and waits until it is ready.
func startDaemonWith(t testing.TB, opts Options) (*Daemon, *prometheus.Registry) {
	t.Helper()
	d, reg := runDaemon(t, opts)
	require.Eventually(t, d.Ready, 30*time.Second, 20*time.Millisecond, "daemon not ready")
	return d, reg
}

// runDaemon starts a daemon's Run and stops it at cleanup; it does not wait.
func runDaemon(t testing.TB, opts Options) (*Daemon, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registry, opts.Logger = reg, testenv.Logger(t)
	d, err := New(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop within 30s")
		}
	})
	return d, reg
}

// metricValue reads one series from the registry; a series that does not
// exist reads as 0.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	matched := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			matched++
		}
	}
	return matched == len(want)
}

func publish(t testing.TB, url string, msg *nats.Msg) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.PublishMsg(msg))
	require.NoError(t, nc.Flush())
}
