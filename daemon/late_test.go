package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// freePort returns a 127.0.0.1 port nothing listens on (for now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// batchwire started before NATS and Temporal exist (compose's first `up`)
// waits for them with its HTTP server up, saying not-ready and why, and
// becomes ready once they appear; it never exits for a dependency that is
// merely late.
func TestRunWaitsForLateNATSAndTemporal(t *testing.T) {
	const ns = "late-deps"
	natsPort, temporalPort := freePort(t), freePort(t)
	temporalAddr := "127.0.0.1:" + strconv.Itoa(temporalPort)
	cfg := exampleConfig(t, "nats://127.0.0.1:"+strconv.Itoa(natsPort), ns)
	cfg.Temporal.Address = temporalAddr
	cfg.Temporal.DialTimeout = config.Duration(2 * time.Second)
	d, _ := runDaemon(t, Options{Config: cfg})

	waitReady := func(want string) {
		t.Helper()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			status, body := getReadyT(c, d)
			assert.Equal(c, http.StatusServiceUnavailable, status)
			assert.Contains(c, body, want)
		}, 30*time.Second, 20*time.Millisecond)
	}
	waitReady("waiting for NATS")

	testenv.RunNATSAt(t, natsPort, t.TempDir())
	waitReady("waiting for Temporal at " + temporalAddr)

	temporal, err := testenv.StartTemporalAt(temporalAddr, ns)
	require.NoError(t, err)
	t.Cleanup(temporal.Stop)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, body := getReadyT(c, d)
		assert.Equal(c, http.StatusOK, status, body)
	}, 60*time.Second, 50*time.Millisecond, "ready once NATS and Temporal are there")
}

// A shutdown while waiting for a dependency exits promptly and cleanly.
func TestShutdownWhileWaitingForTemporal(t *testing.T) {
	natsSrv := runNATS(t)
	cfg := exampleConfig(t, natsSrv.ClientURL(), "e2e-misc")
	cfg.Temporal.Address = "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.Temporal.DialTimeout = config.Duration(10 * time.Second)
	d, err := New(Options{Config: cfg, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	// NATS answers at once; the daemon then waits for Temporal, which never comes.
	require.Eventually(t, func() bool { return d.HTTPAddr() != "" && strings.Contains(d.notReady(), "waiting for Temporal") },
		10*time.Second, 10*time.Millisecond, "not waiting for Temporal: %s", d.notReady())
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return within 3s of the shutdown")
	}
}

// A permanent problem still fails at once: waiting cannot fix an unreadable
// TLS file.
func TestRunFailsAtOnceOnBadTemporalOptions(t *testing.T) {
	natsSrv := runNATS(t)
	cfg := exampleConfig(t, natsSrv.ClientURL(), "e2e-misc")
	cfg.Temporal.TLS.CAFile = "/nonexistent/ca.pem"
	d, err := New(Options{Config: cfg, Logger: testenv.Logger(t)})
	if err != nil {
		require.ErrorContains(t, err, "ca.pem")
		return
	}
	start := time.Now()
	err = d.Run(context.Background())
	require.ErrorContains(t, err, "CA file")
	require.Less(t, time.Since(start), 5*time.Second)
}

func getReadyT(c *assert.CollectT, d *Daemon) (int, string) {
	resp, err := http.Get("http://" + d.HTTPAddr() + "/-/ready")
	if !assert.NoError(c, err) {
		return 0, ""
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
