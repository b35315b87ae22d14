package triggers

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

func startEmbedded(t *testing.T, listen string) *server.Server {
	t.Helper()
	srv, err := StartEmbedded(listen, t.TempDir(), NATSAuth{}, testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func TestStartEmbeddedWithJetStream(t *testing.T) {
	srv := startEmbedded(t, "127.0.0.1:0")
	require.True(t, srv.JetStreamEnabled())
	port := srv.Addr().(*net.TCPAddr).Port
	require.NotEqual(t, server.DEFAULT_PORT, port, "port 0 must pick a free port, not 4222")

	nc, err := Connect(config.NATS{}, NATSAuth{}, srv, testenv.Logger(t))
	require.NoError(t, err)
	t.Cleanup(nc.Close)

	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := t.Context()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "DEPLOYS", Subjects: []string{"deploy.>"}})
	require.NoError(t, err)
	ack, err := js.Publish(ctx, "deploy.payments", readHTTPFixture(t, structuredFixture).body)
	require.NoError(t, err)
	require.Equal(t, uint64(1), ack.Sequence)
}

func TestStartEmbeddedPortInUse(t *testing.T) {
	first := startEmbedded(t, "127.0.0.1:0")
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(first.Addr().(*net.TCPAddr).Port))

	started := time.Now()
	srv, err := StartEmbedded(listen, t.TempDir(), NATSAuth{}, testenv.Logger(t))
	require.Nil(t, srv)
	require.ErrorContains(t, err, "embedded nats-server on "+listen)
	require.ErrorContains(t, err, "address already in use")
	require.Less(t, time.Since(started), embeddedReadyTimeout, "a port in use must fail fast")
}

func TestStartEmbeddedRejects(t *testing.T) {
	tests := []struct {
		name, listen, storeDir, want string
	}{
		{"no store dir", "127.0.0.1:0", "", "JetStream store dir required"},
		{"bad listen", "127.0.0.1", "data", "missing port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := StartEmbedded(tc.listen, tc.storeDir, NATSAuth{}, testenv.Logger(t))
			require.Nil(t, srv)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		listen   string
		wantHost string
		wantPort int
		wantErr  string
	}{
		{listen: "127.0.0.1:4222", wantHost: "127.0.0.1", wantPort: 4222},
		{listen: "127.0.0.1:0", wantHost: "127.0.0.1", wantPort: server.RANDOM_PORT},
		{listen: "127.0.0.1:-1", wantHost: "127.0.0.1", wantPort: server.RANDOM_PORT},
		{listen: ":4333", wantHost: "127.0.0.1", wantPort: 4333},
		{listen: "0.0.0.0:4222", wantHost: "0.0.0.0", wantPort: 4222},
		{listen: "", wantErr: "listen address required"},
		{listen: "localhost", wantErr: "missing port"},
		{listen: "127.0.0.1:nats", wantErr: `invalid port "nats"`},
		{listen: "127.0.0.1:70000", wantErr: `invalid port "70000"`},
	}
	for _, tc := range tests {
		t.Run(tc.listen, func(t *testing.T) {
			host, port, err := parseListen(tc.listen)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantHost, host)
			require.Equal(t, tc.wantPort, port)
		})
	}
}

func TestConnect(t *testing.T) {
	srv := testenv.RunNATS(t)
	closedPort := freePort(t)
	tests := []struct {
		name     string
		cfg      config.NATS
		embedded *server.Server
		wantErr  string
		noLeak   string // must not appear in the error
	}{
		{name: "external url", cfg: config.NATS{URL: srv.ClientURL()}},
		{name: "embedded server", embedded: srv},
		{name: "url wins over embedded", cfg: config.NATS{URL: srv.ClientURL()}, embedded: srv},
		{name: "nothing to connect to", wantErr: "no url configured and no embedded server"},
		{
			name:    "unreachable, credentials not leaked",
			cfg:     config.NATS{URL: fmt.Sprintf("nats://alice:s3cret@127.0.0.1:%d", closedPort)},
			wantErr: fmt.Sprintf("connect to nats nats://127.0.0.1:%d", closedPort),
			noLeak:  "s3cret",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := Connect(tc.cfg, NATSAuth{}, tc.embedded, testenv.Logger(t))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				if tc.noLeak != "" {
					require.NotContains(t, err.Error(), tc.noLeak)
				}
				return
			}
			require.NoError(t, err)
			defer nc.Close()
			require.True(t, nc.IsConnected())
			require.NoError(t, nc.Publish("ping", nil))
			require.NoError(t, nc.Flush())
		})
	}
}

// freePort returns a port nothing listens on, for a connection that must fail.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@nats.example:4222", "nats://nats.example:4222"},
		{"nats://s3crettoken@nats.example:4222", "nats://nats.example:4222"},
		{"alice:s3cret@nats.example:4222", "nats://nats.example:4222"},
		{"nats://a:s3cret@n1:4222, tls://b:s3cret@n2:4222", "nats://n1:4222,tls://n2:4222"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := redactURLs(tc.in)
			require.Equal(t, tc.want, got)
			require.NotContains(t, got, "s3cret")
		})
	}
}
