package testenv

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// RunNATS starts an in-process nats-server on a random 127.0.0.1 port with
// JetStream in a temp dir, stopped when the test ends.
func RunNATS(t testing.TB) *server.Server {
	t.Helper()
	return RunNATSAt(t, server.RANDOM_PORT, t.TempDir())
}

// RunNATSAt starts a nats-server on a given port (server.RANDOM_PORT: any)
// with JetStream in storeDir, so a test can stop it and start "the same"
// server again, with its streams. It is stopped when the test ends.
func RunNATSAt(t testing.TB, port int, storeDir string) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready within 10s")
	}
	// Waiting for the shutdown frees the port and the store for a restart.
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}
