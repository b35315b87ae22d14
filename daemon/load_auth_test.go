package daemon

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

const authTestRule = `rules:
  - name: r
    trigger: t
    when: "true"
    query: WorkflowType = 'W' AND ExecutionStatus = 'Running'
    terminate: {}
    reason: test
    guards: {max_workflows: 10}
`

// writeAuthConfig writes body to a config file; {{dir}} stands for a temp dir
// holding the secret files the case writes.
func writeAuthConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "batchwire.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(body, "{{dir}}", dir)+authTestRule), 0o600))
	return path
}

// The loader warns where a configuration leaves a door open, and check
// prints the warnings: an HTTP trigger without authentication on an address
// beyond loopback, a secret file others may read, an API key sent in
// plaintext, a Temporal certificate not verified. Warnings do not refuse
// the file.
func TestLoadWarnsAboutOpenDoors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // warnings, each as a suffix after the file name
	}{
		{"unauthenticated trigger on every interface", `http: {listen: "0.0.0.0:9464"}
triggers:
  - name: t
    http: {path: /hooks/a}
`, []string{`:4: trigger "t": http: takes events from anyone who reaches 0.0.0.0:9464 (not a loopback address): set http.auth.bearer_token_file, http.auth.client_cert, or a webhook signature`}},
		{"unauthenticated trigger on loopback", `http: {listen: "127.0.0.1:9464"}
triggers:
  - name: t
    http: {path: /hooks/a}
`, nil},
		{"bearer token beyond loopback, its file 0644", `http: {listen: ":9464"}
triggers:
  - name: t
    http: {path: /hooks/a, auth: {bearer_token_file: "{{dir}}/open-token"}}
`, []string{`:4: trigger "t": http.auth.bearer_token_file: {{dir}}/open-token is readable by its group or by everyone (mode 0644); make it 0600 or 0400`}},
		{"api key in plaintext", `temporal: {api_key_file: "{{dir}}/api-key", tls: {disabled: true}}
triggers:
  - name: t
    nats: {subject: s}
`, []string{`:1: temporal.tls.disabled: the API key is sent in plaintext: anyone on the path to Temporal can read it and act as batchwire`}},
		{"insecure_skip_verify", `temporal: {tls: {insecure_skip_verify: true}}
triggers:
  - name: t
    nats: {subject: s}
`, []string{`:1: temporal.tls.insecure_skip_verify: set, so the Temporal server's certificate is not verified: anyone on the path can read the API key and answer for the server`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "open-token"), []byte("token\n"), 0o644)) //nolint:gosec // the case
			require.NoError(t, os.WriteFile(filepath.Join(dir, "api-key"), []byte("key\n"), 0o600))
			path := writeAuthConfig(t, dir, tt.yaml)
			loaded, problems := Load(path, testenv.Logger(t))
			require.Empty(t, problems.Errors())
			require.NotNil(t, loaded)
			var got []string
			for _, p := range problems.Warnings() {
				if !strings.Contains(p.Field, "max_workflows") {
					got = append(got, strings.TrimPrefix(p.String(), path))
				}
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, strings.ReplaceAll(w, "{{dir}}", dir))
			}
			require.Equal(t, want, got)
		})
	}
}

// POST /-/reload is not served unless http.admin.enabled; then only with
// the token from http.admin.token_file, each refusal counted. A reload
// reads the token file again, so writing it and reloading rotates it.
func TestAdminReloadNeedsToken(t *testing.T) {
	dir := t.TempDir()
	post := func(d *Daemon, authorization string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/-/reload", nil)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, req)
		return rec
	}
	triggersYAML := "triggers:\n  - name: t\n    nats: {subject: s}\n"

	off := loadTestDaemon(t, writeAuthConfig(t, t.TempDir(), triggersYAML))
	require.Equal(t, http.StatusNotFound, post(off.d, "").Code, "the admin endpoints are off by default")

	tokenFile := testenv.WriteSecret(t, "admin-token", "first-token")
	path := writeAuthConfig(t, dir, "http: {admin: {enabled: true, token_file: "+tokenFile+"}}\n"+triggersYAML)
	on := loadTestDaemon(t, path)
	for _, authorization := range []string{"", "Bearer wrong", "Basic first-token", "first-token"} {
		rec := post(on.d, authorization)
		require.Equal(t, http.StatusUnauthorized, rec.Code, authorization)
		require.NotContains(t, rec.Body.String(), "first-token")
	}
	require.Equal(t, 4.0, metricValue(t, on.reg, "batchwire_http_auth_failures_total",
		map[string]string{"trigger": adminTrigger, "reason": "bearer_token"}))
	require.Equal(t, http.StatusOK, post(on.d, "Bearer first-token").Code)

	require.NoError(t, os.WriteFile(tokenFile, []byte("second-token\n"), 0o600))
	require.Equal(t, http.StatusOK, post(on.d, "Bearer first-token").Code, "the reload that reads the new token")
	require.Equal(t, http.StatusUnauthorized, post(on.d, "Bearer first-token").Code)
	require.Equal(t, http.StatusOK, post(on.d, "Bearer second-token").Code)
}

type loadedDaemon struct {
	d   *Daemon
	reg *prometheus.Registry
}

// loadTestDaemon builds a daemon, not running, from the file at path.
func loadTestDaemon(t *testing.T, path string) loadedDaemon {
	t.Helper()
	loaded, problems := Load(path, testenv.Logger(t))
	require.NoError(t, problems.Err())
	reg := prometheus.NewRegistry()
	d, err := New(Options{Loaded: loaded, ConfigPath: path, Registry: reg, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	return loadedDaemon{d: d, reg: reg}
}
