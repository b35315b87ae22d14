package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// tlsWorld is the dev server behind two TLS proxies that require a client
// certificate of the test CA: one whose certificate names 127.0.0.1, one whose
// certificate names only temporal.test.
type tlsWorld struct {
	ca               *testenv.CA
	client           testenv.KeyPair
	byIP, byName     *testenv.GRPCProxy
	caPEM, cert, key string
}

const tlsNamespace = "cli-tls"

func newTLSWorld(t *testing.T) *tlsWorld {
	ca := testenv.NewCA(t, "cli-tls")
	w := &tlsWorld{ca: ca, client: ca.Client(t, "operator")}
	proxyTLS := func(server testenv.KeyPair) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{server.TLS(t)}, ClientCAs: ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	}
	w.byIP = testenv.StartGRPCProxy(t, cliHostPort, proxyTLS(ca.Server(t, "frontend")))
	w.byName = testenv.StartGRPCProxy(t, cliHostPort, proxyTLS(ca.ServerFor(t, "named", "temporal.test")))
	for _, f := range []struct {
		path string
		dst  *string
	}{{ca.CertFile, &w.caPEM}, {w.client.CertFile, &w.cert}, {w.client.KeyFile, &w.key}} {
		raw, err := os.ReadFile(f.path)
		require.NoError(t, err)
		*f.dst = string(raw)
	}
	return w
}

// tlsCase is one way to say where and how to connect: environment variables,
// a profile of the TOML client config file, or both, and flags.
type tlsCase struct {
	name  string
	env   map[string]string
	toml  string
	args  []string
	ok    bool
	proxy string // "ip", "name" or "" (the dev server without TLS)
	// wantHeaders are metadata the proxy must have seen on every request.
	wantHeaders map[string]string
	wantHost    string
}

func (w *tlsWorld) cases() []tlsCase {
	mtls := map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": w.client.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": w.client.KeyFile}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range mtls {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	mtlsTOML := fmt.Sprintf("client_cert_path = %q\nclient_key_path = %q\n", w.client.CertFile, w.client.KeyFile)
	return []tlsCase{
		// Environment variables of temporal CLI v1.5.
		{name: "env: CA, client cert and key paths, API key, gRPC metadata", proxy: "ip", ok: true,
			env: with(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": w.ca.CertFile, "TEMPORAL_API_KEY": "key-env",
				"TEMPORAL_GRPC_META_X_TENANT": "acme"}),
			wantHeaders: map[string]string{"authorization": "Bearer key-env", "x-tenant": "acme"}},
		{name: "env: no client certificate is refused by the proxy", proxy: "ip",
			env: map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": w.ca.CertFile}},
		{name: "env: PEM data instead of paths", proxy: "ip", ok: true,
			env: map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_DATA": w.caPEM, "TEMPORAL_TLS_CLIENT_CERT_DATA": w.cert,
				"TEMPORAL_TLS_CLIENT_KEY_DATA": w.key}},
		{name: "env: without the CA the server is not trusted", proxy: "ip", env: with(nil)},
		{name: "env: host verification disabled", proxy: "ip", ok: true,
			env: with(map[string]string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "true"})},
		{name: "env: certificate for another name", proxy: "name",
			env: with(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": w.ca.CertFile})},
		{name: "env: server name override", proxy: "name", ok: true,
			env: with(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": w.ca.CertFile, "TEMPORAL_TLS_SERVER_NAME": "temporal.test"})},
		{name: "env: client authority", proxy: "name", ok: true, wantHost: "temporal.test",
			env: with(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": w.ca.CertFile, "TEMPORAL_CLIENT_AUTHORITY": "temporal.test"})},
		{name: "env: temporal CLI's older TLS variables", proxy: "ip", ok: true,
			env: map[string]string{"TEMPORAL_TLS_CA": w.ca.CertFile, "TEMPORAL_TLS_CERT": w.client.CertFile, "TEMPORAL_TLS_KEY": w.client.KeyFile}},
		{name: "env: TEMPORAL_TLS=true against a plaintext server", env: map[string]string{"TEMPORAL_TLS": "true"}},
		{name: "env: TEMPORAL_TLS=false keeps an API key in plaintext", ok: true,
			env: map[string]string{"TEMPORAL_TLS": "false", "TEMPORAL_API_KEY": "k"}},
		{name: "env: tctl-era variables", proxy: "ip", ok: true,
			env: map[string]string{"TEMPORAL_CLI_TLS_CA": w.ca.CertFile, "TEMPORAL_CLI_TLS_CERT": w.client.CertFile,
				"TEMPORAL_CLI_TLS_KEY": w.client.KeyFile}},
		// The same settings from a profile of the TOML client config file.
		{name: "profile: CA, client cert and key paths, API key, gRPC metadata", proxy: "ip", ok: true,
			toml: fmt.Sprintf("api_key = \"key-profile\"\n[profile.p.grpc_meta]\nx-tenant = \"globex\"\n[profile.p.tls]\n%sserver_ca_cert_path = %q\n",
				mtlsTOML, w.ca.CertFile),
			wantHeaders: map[string]string{"authorization": "Bearer key-profile", "x-tenant": "globex"}},
		{name: "profile: PEM data", proxy: "ip", ok: true,
			toml: fmt.Sprintf("[profile.p.tls]\nserver_ca_cert_data = %q\nclient_cert_data = %q\nclient_key_data = %q\n", w.caPEM, w.cert, w.key)},
		{name: "profile: host verification disabled", proxy: "ip", ok: true,
			toml: "[profile.p.tls]\n" + mtlsTOML + "disable_host_verification = true\n"},
		{name: "profile: server name", proxy: "name", ok: true,
			toml: fmt.Sprintf("[profile.p.tls]\n%sserver_ca_cert_path = %q\nserver_name = \"temporal.test\"\n", mtlsTOML, w.ca.CertFile)},
		{name: "profile: authority", proxy: "name", ok: true, wantHost: "temporal.test",
			toml: fmt.Sprintf("authority = \"temporal.test\"\n[profile.p.tls]\n%sserver_ca_cert_path = %q\n", mtlsTOML, w.ca.CertFile)},
		{name: "profile: tls disabled keeps an API key in plaintext", ok: true,
			toml: "api_key = \"k\"\n[profile.p.tls]\ndisabled = true\n"},
		{name: "profile: an API key alone turns TLS on", toml: "api_key = \"k\"\n"},
		// Precedence: flags over environment over profile.
		{name: "env over profile", proxy: "ip", ok: true,
			toml: fmt.Sprintf("api_key = \"key-profile\"\n[profile.p.tls]\n%sserver_ca_cert_path = %q\n", mtlsTOML, w.ca.CertFile),
			env:  map[string]string{"TEMPORAL_API_KEY": "key-env"}, wantHeaders: map[string]string{"authorization": "Bearer key-env"}},
		{name: "flags over environment", proxy: "ip", ok: true,
			env:  with(map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/nonexistent/ca.pem", "TEMPORAL_API_KEY": "key-env"}),
			args: []string{"--tls-ca-path", w.ca.CertFile, "--api-key", "key-flag"}, wantHeaders: map[string]string{"authorization": "Bearer key-flag"}},
		{name: "v1.5 TLS flags", proxy: "name", ok: true,
			args: []string{"--tls-ca-path", w.ca.CertFile, "--tls-cert-path", w.client.CertFile, "--tls-key-path", w.client.KeyFile,
				"--tls-server-name", "temporal.test", "--grpc-meta", "x-tenant=initech"}, wantHeaders: map[string]string{"x-tenant": "initech"}},
	}
}

// TestTemporalCLIConnectionSettings sets each temporal CLI v1.5 environment
// variable and profile field in turn and connects through a real TLS proxy
// with a test CA: a setting batchwire ignored would fail the case that needs
// it (or pass the one that must fail).
func TestTemporalCLIConnectionSettings(t *testing.T) {
	c := cliStartWorker(t, tlsNamespace)
	cliStartWorkflows(t, c, tlsNamespace, "tls", "tls-1", "tls-2")
	w := newTLSWorld(t)
	for _, tt := range w.cases() {
		t.Run(tt.name, func(t *testing.T) {
			clearTemporalEnv(t)
			address, proxy := cliHostPort, (*testenv.GRPCProxy)(nil)
			switch tt.proxy {
			case "ip":
				address, proxy = w.byIP.Addr(), w.byIP
			case "name":
				address, proxy = w.byName.Addr(), w.byName
			}
			if tt.toml != "" {
				path := filepath.Join(t.TempDir(), "temporal.toml")
				profile := fmt.Sprintf("[profile.p]\naddress = %q\nnamespace = %q\n", address, tlsNamespace) + tt.toml
				require.NoError(t, os.WriteFile(path, []byte(profile), 0o600))
				t.Setenv("TEMPORAL_CONFIG_FILE", path)
				t.Setenv("TEMPORAL_PROFILE", "p")
			} else {
				t.Setenv("TEMPORAL_ADDRESS", address)
				t.Setenv("TEMPORAL_NAMESPACE", tlsNamespace)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if proxy != nil {
				proxy.Seen()
			}
			timeout := "10s"
			if !tt.ok {
				timeout = "2s"
			}
			args := append([]string{"workflow", "count", "--query", "Tenant = 'tls'", "-o", "json", "--command-timeout", timeout}, tt.args...)
			res := runCLI(t, nil, args...)
			if !tt.ok {
				require.Error(t, res.err)
				require.Equal(t, exitFailure, exitCode(res.err))
				return
			}
			require.NoError(t, res.err)
			require.JSONEq(t, `{"namespace":"cli-tls","query":"Tenant = 'tls'","count":2}`, res.stdout)
			if proxy == nil {
				return
			}
			headers, hosts := proxy.Seen()
			require.NotEmpty(t, headers, "the request went through the TLS proxy")
			for i, h := range headers {
				for k, v := range tt.wantHeaders {
					require.Equal(t, v, h.Get(k), "header %s", k)
				}
				if tt.wantHost != "" {
					require.Equal(t, tt.wantHost, hosts[i])
				}
			}
		})
	}
}

// The temporal CLI's environment file (--env-file, --env, TEMPORAL_ENV)
// stands for flags; a codec server, which batchwire cannot encode signal
// input through, is refused for signal rather than ignored.
func TestTemporalCLIEnvFileAndCodec(t *testing.T) {
	clearTemporalEnv(t)
	envFile := filepath.Join(os.Getenv("HOME"), ".config", "temporalio", "temporal.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(envFile), 0o700))
	require.NoError(t, os.WriteFile(envFile, []byte(fmt.Sprintf("env:\n  staging:\n    address: %s\n    namespace: %s\n",
		cliHostPort, tlsNamespace)), 0o600))
	count := []string{"workflow", "count", "--query", "Tenant = 'nobody'", "-o", "json", "--command-timeout", "5s"}
	t.Setenv("TEMPORAL_ENV", "staging")
	res := runCLI(t, nil, count...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, `"namespace": "cli-tls"`)
	res = runCLI(t, nil, append(count, "--env", "prod")...)
	require.ErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, `environment "prod" not found`)

	t.Setenv("TEMPORAL_CODEC_ENDPOINT", "http://127.0.0.1:1/codec")
	res = runCLI(t, nil, count...)
	require.NoError(t, res.err, "count sends no payload: the codec has nothing to do")
	res = runCLI(t, nil, "workflow", "signal", "--query", "Tenant = 'nobody' AND ExecutionStatus = 'Running'",
		"--name", "n", "--input", "{}", "--reason", "r", "--yes")
	require.ErrorAs(t, res.err, &usageError{})
	require.True(t, strings.Contains(res.err.Error(), "cannot encode signal input"), res.err.Error())
}
