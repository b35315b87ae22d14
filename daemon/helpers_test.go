package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/examples/worker/flags"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Namespaces created at dev server start; a test that launches batch jobs
// takes its own, because the server runs one batch job per namespace.
var testNamespaces = []string{"e2e-broadcast", "e2e-misc", "e2e-cooldown", "e2e-rate", "e2e-pause", "e2e-shadow", "e2e-burst", "e2e-deploy", "e2e-alerts", "e2e-webhooks"}

// temporalHostPort is the dev server every test in this package shares.
var temporalHostPort string

func TestMain(m *testing.M) {
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

// startFlagWorkflows starts n FlagWorkflows of a tenant and returns their ids.
func startFlagWorkflows(t testing.TB, c client.Client, prefix, tenant string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%s-%d", prefix, tenant, i)
		_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: id, TaskQueue: flags.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(flags.TenantAttribute.ValueSet(tenant)),
		}, flags.WorkflowName, flags.Params{Tenant: tenant})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// waitVisible polls visibility until the query counts want executions, since
// visibility lags writes.
func waitVisible(t testing.TB, c client.Client, namespace, query string, want int64) {
	t.Helper()
	testenv.WaitCount(t, c, namespace, query, want)
}

// signalsIn returns the names of the signals in a workflow's history.
func signalsIn(t testing.TB, c client.Client, workflowID string) []string {
	t.Helper()
	var names []string
	iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if attrs := ev.GetWorkflowExecutionSignaledEventAttributes(); attrs != nil {
			names = append(names, attrs.GetSignalName())
		}
	}
	return names
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
	d, err := New(Options{Config: cfg, Registry: reg, Logger: testLogger(t)})
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
	opts.Registry, opts.Logger = reg, testLogger(t)
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

func testLogger(t testing.TB) *slog.Logger {
	if _, bench := t.(*testing.B); bench {
		// Per-job logs would drown the benchmark figures.
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
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
