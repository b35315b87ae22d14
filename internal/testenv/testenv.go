// Package testenv starts the real servers batchwire's tests run against: one
// Temporal dev server per test package (the binary `make test` builds into
// .bin/) and an in-process nats-server per test.
package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// Temporal is a running dev server.
type Temporal struct {
	HostPort string
	srv      *testsuite.DevServer
}

// Stop stops the dev server.
func (t *Temporal) Stop() { _ = t.srv.Stop() }

// StartTemporal starts a dev server with the Tenant search attribute and the
// given namespaces created. Call it from TestMain; a missing binary is an
// error, never a skip.
func StartTemporal(namespaces ...string) (*Temporal, error) {
	path, err := TemporalBinary()
	if err != nil {
		return nil, err
	}
	// One batch operation per namespace is the server default; it is set
	// explicitly because batchwire's launch queue is built around it.
	args := []string{"--search-attribute", "Tenant=Keyword", "--search-attribute", "Deployment=Keyword",
		"--dynamic-config-value", "frontend.MaxConcurrentBatchOperationPerNamespace=1"}
	for _, ns := range namespaces {
		args = append(args, "--namespace", ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: path, LogLevel: "error", ExtraArgs: args,
		ClientOptions: &client.Options{Logger: QuietLogger()},
	})
	if err != nil {
		return nil, fmt.Errorf("start Temporal dev server: %w", err)
	}
	return &Temporal{HostPort: srv.FrontendHostPort(), srv: srv}, nil
}

// RunWithTemporal is a TestMain body: it starts the dev server, stores its
// address in *hostPort, runs the tests and stops the server.
func RunWithTemporal(m *testing.M, hostPort *string, namespaces ...string) int {
	srv, err := StartTemporal(namespaces...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need a Temporal dev server:", err)
		return 1
	}
	defer srv.Stop()
	*hostPort = srv.HostPort
	return m.Run()
}

// TemporalBinary finds the temporal CLI: $TEMPORAL_BIN, then .bin/temporal
// at the repository root, then PATH.
func TemporalBinary() (string, error) {
	if p := os.Getenv("TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("temporal")
	if err != nil {
		return "", fmt.Errorf("no temporal CLI: set TEMPORAL_BIN, or run `make test`, which builds it into .bin/: %w", err)
	}
	return p, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// QuietLogger keeps the SDK's chatter out of test output.
func QuietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// Dial connects a client to the dev server in namespace.
func Dial(t testing.TB, hostPort, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: hostPort, Namespace: namespace, Logger: QuietLogger()})
	if err != nil {
		t.Fatalf("dial Temporal: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// RunNATS starts an in-process nats-server on a random 127.0.0.1 port with
// JetStream in a temp dir, stopped when the test ends.
func RunNATS(t testing.TB) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10s")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// WaitCount polls CountWorkflowExecutions until query counts want in the
// namespace (empty: the client's), since visibility lags writes.
func WaitCount(t testing.TB, c client.Client, namespace, query string, want int64) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: namespace, Query: query,
		})
		require.NoError(ct, err)
		require.Equal(ct, want, resp.GetCount())
	}, 30*time.Second, 100*time.Millisecond, "visibility did not count %d for %q", want, query)
}
