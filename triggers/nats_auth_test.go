package triggers

import (
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// runAuthNATS starts an in-process nats-server with opts on a random
// loopback port, stopped when the test ends.
func runAuthNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", server.RANDOM_PORT, true, true
	srv, err := server.NewServer(opts)
	require.NoError(t, err)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second), "nats-server not ready")
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func newUserSeed(t *testing.T) (seed []byte, public string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	require.NoError(t, err)
	seed, err = kp.Seed()
	require.NoError(t, err)
	public, err = kp.PublicKey()
	require.NoError(t, err)
	return seed, public
}

// connectWith reads the secrets of cfg as the loader does and connects.
func connectWith(t *testing.T, cfg config.NATS) (*nats.Conn, error) {
	t.Helper()
	auth, err := ReadNATSAuth(cfg)
	require.NoError(t, err)
	nc, err := Connect(cfg, auth, nil, testenv.Logger(t))
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// A server that requires TLS with verified client certificates and a user
// with a password: the daemon connects with nats.tls and nats.user; without
// a client certificate or with another password it is refused, and the
// password is in no error.
func TestConnectTLSClientCertAndPassword(t *testing.T) {
	const password = "nats-password-do-not-leak"
	ca := testenv.NewCA(t, "nats")
	serverPair, clientPair := ca.Server(t, "nats-server"), ca.Client(t, "batchwire")
	srv := runAuthNATS(t, &server.Options{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serverPair.TLS(t)}, ClientCAs: ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		TLSVerify: true, TLSTimeout: 2,
		Users: []*server.User{{Username: "batchwire", Password: password}},
	})
	passwordFile := testenv.WriteSecret(t, "password", password)
	good := config.NATS{URL: srv.ClientURL(), User: "batchwire", PasswordFile: passwordFile,
		TLS: config.NATSTLS{CAFile: ca.CertFile, CertFile: clientPair.CertFile, KeyFile: clientPair.KeyFile}}

	nc, err := connectWith(t, good)
	require.NoError(t, err)
	require.True(t, nc.TLSRequired())
	require.NoError(t, nc.Publish("deploy.x", []byte("{}")))
	require.NoError(t, nc.Flush())

	noCert := good
	noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
	_, err = connectWith(t, noCert)
	require.Error(t, err, "a client without a certificate is refused")

	wrong := good
	wrong.PasswordFile = testenv.WriteSecret(t, "wrong", password+"-wrong")
	_, err = connectWith(t, wrong)
	require.Error(t, err)
	require.NotContains(t, err.Error(), password)
}

// An nkey user: the daemon signs the server's nonce with the seed in
// nats.nkey_seed_file; another user's seed is refused.
func TestConnectNkey(t *testing.T) {
	seed, public := newUserSeed(t)
	srv := runAuthNATS(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: public}}})
	nc, err := connectWith(t, config.NATS{URL: srv.ClientURL(), NKeySeedFile: testenv.WriteSecret(t, "seed", string(seed))})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	other, _ := newUserSeed(t)
	_, err = connectWith(t, config.NATS{URL: srv.ClientURL(), NKeySeedFile: testenv.WriteSecret(t, "other", string(other))})
	require.Error(t, err)
	require.NotContains(t, err.Error(), string(other))

	_, err = nats.Connect(srv.ClientURL())
	require.Error(t, err, "the server takes no anonymous client")
}

func TestReadNATSAuthErrors(t *testing.T) {
	_, err := ReadNATSAuth(config.NATS{NKeySeedFile: testenv.WriteSecret(t, "seed", "SUnot-a-seed")})
	require.ErrorContains(t, err, "nats.nkey_seed_file: ")
	require.ErrorContains(t, err, "does not hold an nkey user seed")
	require.NotContains(t, err.Error(), "SUnot-a-seed")
	_, err = ReadNATSAuth(config.NATS{User: "u", PasswordFile: testenv.WriteSecret(t, "empty", "")})
	require.ErrorContains(t, err, "nats.password_file: ")
	require.ErrorContains(t, err, "is empty")
}

// The embedded server with credentials accepts them only: an anonymous
// client and a wrong password are refused, the daemon's own connection
// (the same credentials) gets JetStream. It listens beyond loopback here,
// which config allows only with credentials.
func TestEmbeddedRequiresCredentials(t *testing.T) {
	seed, _ := newUserSeed(t)
	cases := map[string]struct {
		auth   NATSAuth
		client nats.Option
	}{
		"user and password": {NATSAuth{User: "batchwire", Password: secret("embedded-password")}, nats.UserInfo("batchwire", "embedded-password")},
		"nkey":              {NATSAuth{Seed: secret(seed)}, nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv, err := StartEmbedded("0.0.0.0:-1", t.TempDir(), tc.auth, testenv.Logger(t))
			require.NoError(t, err)
			t.Cleanup(func() {
				srv.Shutdown()
				srv.WaitForShutdown()
			})
			url := "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Addr().(*net.TCPAddr).Port))

			_, err = nats.Connect(url)
			require.Error(t, err, "an anonymous client is refused")
			_, err = nats.Connect(url, nats.UserInfo("batchwire", "guess"))
			require.Error(t, err, "a wrong password is refused")
			if tc.client != nil {
				nc, err := nats.Connect(url, tc.client)
				require.NoError(t, err, "a publisher with the credentials is accepted")
				nc.Close()
			}

			nc, err := Connect(config.NATS{}, tc.auth, srv, testenv.Logger(t))
			require.NoError(t, err)
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "DEPLOYS", Subjects: []string{"deploy.>"}})
			require.NoError(t, err)
		})
	}
}
