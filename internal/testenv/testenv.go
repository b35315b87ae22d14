// Package testenv starts the real servers batchwire's tests run against: one
// Temporal dev server per test package (the binary `make test` builds into
// .bin/) and an in-process nats-server per test. It also holds the helpers
// more than one package's tests need (starting and inspecting workflows, a
// logger on the test's output), so there is one copy of each.
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

// BatcherRPSEnv, when set, is the dev server's worker.batcherRPS: the server
// batcher's rate (default 50/s), which a benchmark over 10,000 workflows
// raises so its server batcher runs take seconds rather than minutes.
const BatcherRPSEnv = "BATCHWIRE_BENCH_BATCHER_RPS"

// ServerLogEnv names a file the dev server's output is appended to instead
// of the test's output. make bench sets it: go test prints a benchmark's
// name, runs it, then prints its figures, and a server log line written in
// between parted the two, losing the run's figures.
const ServerLogEnv = "BATCHWIRE_DEVSERVER_LOG"

// StartTemporal starts a dev server with the Tenant search attribute and the
// given namespaces created. Call it from TestMain; a missing binary is an
// error, never a skip.
func StartTemporal(namespaces ...string) (*Temporal, error) {
	return StartTemporalAt("", namespaces...)
}

// StartTemporalAt starts a dev server on hostPort (empty: a free port), so a
// test can start Temporal where a daemon already waits for it. The caller
// stops it.
func StartTemporalAt(hostPort string, namespaces ...string) (*Temporal, error) {
	path, err := TemporalBinary()
	if err != nil {
		return nil, err
	}
	// One batch operation per namespace is the server default; it is set
	// explicitly because batchwire's launch queue is built around it.
	args := []string{"--search-attribute", "Tenant=Keyword", "--search-attribute", "Deployment=Keyword",
		"--dynamic-config-value", "frontend.MaxConcurrentBatchOperationPerNamespace=1"}
	if rps := os.Getenv(BatcherRPSEnv); rps != "" {
		args = append(args, "--dynamic-config-value", "worker.batcherRPS="+rps)
	}
	for _, ns := range namespaces {
		args = append(args, "--namespace", ns)
	}
	opts := testsuite.DevServerOptions{
		ExistingPath: path, LogLevel: "error", ExtraArgs: args,
		ClientOptions: &client.Options{Logger: QuietLogger(), HostPort: hostPort},
	}
	if logPath := os.Getenv(ServerLogEnv); logPath != "" {
		// Open for the life of the process, as the server is.
		logFile, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) //nolint:gosec // a path the developer running the tests sets (make bench), in test code
		if err != nil {
			return nil, fmt.Errorf("dev server log: %w", err)
		}
		opts.Stdout, opts.Stderr = logFile, logFile
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, opts)
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
