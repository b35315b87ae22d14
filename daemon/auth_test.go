package daemon

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// A daemon locked down as SECURITY.md describes, over real TLS and HTTP:
// the embedded nats-server takes only the configured user, the HTTP
// listener serves TLS with a client CA, and each trigger format takes only
// authenticated requests (a client certificate, a Standard Webhooks
// signature, a bearer token). A refused request is counted and never
// reaches the rules; an accepted one is evaluated by them.
func TestLockedDownDaemon(t *testing.T) {
	const adminToken, bearer = "admin-token", "alertmanager-token"
	ca := testenv.NewCA(t, "batchwire")
	serverPair, clientPair := ca.Server(t, "batchwire"), ca.Client(t, "sender")
	key := []byte("standard-webhooks-key")
	path := lockedDownConfig(t, ca, serverPair, key, adminToken, bearer)
	loaded, problems := Load(path, testenv.Logger(t))
	require.NoError(t, problems.Err())
	require.Empty(t, problems.Warnings(), "a locked-down configuration draws no warning")
	d, reg := startDaemonWith(t, Options{Loaded: loaded, ConfigPath: path})
	base := "https://" + d.HTTPAddr()

	_, err := nats.Connect(d.NATSURL())
	require.Error(t, err, "the embedded nats-server takes no anonymous client")

	anonymous, withCert := httpsClient(t, ca), httpsClient(t, ca, clientPair)
	evaluated := func(rule string) float64 {
		return metricValue(t, reg, "batchwire_rules_evaluations_total", map[string]string{"rule": rule, "result": "not_matched"})
	}
	failures := func(trigger, reason string) float64 {
		return metricValue(t, reg, "batchwire_http_auth_failures_total", map[string]string{"trigger": trigger, "reason": reason})
	}

	// mTLS.
	event := []byte(`{"specversion":"1.0","id":"e-1","source":"test","type":"deploy.done"}`)
	require.Equal(t, http.StatusUnauthorized, postHTTPS(t, anonymous, base+"/hooks/mtls", "application/cloudevents+json", event, nil))
	require.Equal(t, 1.0, failures("mtls", "client_cert"))
	require.Zero(t, evaluated("on-mtls"))
	require.Equal(t, http.StatusAccepted, postHTTPS(t, withCert, base+"/hooks/mtls", "application/cloudevents+json", event, nil))
	require.Equal(t, 1.0, evaluated("on-mtls"), "the event reached the rules")

	// Standard Webhooks.
	body := []byte(`{"kind":"flag.updated"}`)
	now := time.Now()
	require.Equal(t, http.StatusAccepted, postHTTPS(t, anonymous, base+"/hooks/standard", "application/json", body, standardHeaders(key, "msg_1", now, body)))
	require.Equal(t, 1.0, evaluated("on-standard"))
	require.Equal(t, http.StatusUnauthorized, postHTTPS(t, anonymous, base+"/hooks/standard", "application/json", body, standardHeaders(key, "msg_2", now.Add(-time.Hour), body)))
	require.Equal(t, 1.0, failures("standard", "timestamp"), "a replay outside the window is refused")
	tampered := standardHeaders(key, "msg_3", now, body)
	tampered.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	require.Equal(t, http.StatusUnauthorized, postHTTPS(t, anonymous, base+"/hooks/standard", "application/json", body, tampered))
	require.Equal(t, 1.0, failures("standard", "signature"))
	require.Equal(t, 1.0, evaluated("on-standard"))

	// Bearer token.
	alerts, err := os.ReadFile("../testdata/alertmanager/am-main-68fb2d5_01_firing_group_3_alerts.json")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, postHTTPS(t, anonymous, base+"/hooks/alerts", "application/json", alerts, http.Header{"Authorization": {"Bearer wrong"}}))
	require.Equal(t, 1.0, failures("alerts", "bearer_token"))
	require.Equal(t, http.StatusAccepted, postHTTPS(t, anonymous, base+"/hooks/alerts", "application/json", alerts, http.Header{"Authorization": {"Bearer " + bearer}}))
	require.Equal(t, 3.0, evaluated("on-alerts"), "one event per alert reached the rules")

	// /metrics and the probes need no client certificate; reload needs the admin token.
	resp, err := anonymous.Get(base + "/-/ready")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusUnauthorized, postHTTPS(t, anonymous, base+"/-/reload", "", nil, nil))
	require.Equal(t, http.StatusOK, postHTTPS(t, anonymous, base+"/-/reload", "", nil, http.Header{"Authorization": {"Bearer " + adminToken}}))
}

func lockedDownConfig(t *testing.T, ca *testenv.CA, serverPair testenv.KeyPair, key []byte, adminToken, bearer string) string {
	t.Helper()
	rule := func(name, trigger string) string {
		return fmt.Sprintf(`  - name: %s
    trigger: %s
    when: event.source == "never" # evaluated for every event (not skipped by the type index), never matched
    query: WorkflowType = 'W' AND ExecutionStatus = 'Running'
    terminate: {}
    reason: test
    guards: {max_workflows: 1}
`, name, trigger)
	}
	yaml := fmt.Sprintf(`temporal: {address: %q, namespace: e2e-misc}
nats:
  listen: 127.0.0.1:0
  user: batchwire
  password_file: %s
http:
  listen: 127.0.0.1:0
  tls: {cert_file: %s, key_file: %s, client_ca_file: %s}
  admin: {enabled: true, token_file: %s}
data_dir: %s
triggers:
  - name: mtls
    http: {path: /hooks/mtls, auth: {client_cert: true}}
  - name: standard
    http:
      path: /hooks/standard
      format: webhook
      webhook: {type: body.kind, source: '"flags"', standard_webhooks: {secret_file: %s}}
  - name: alerts
    http: {path: /hooks/alerts, format: alertmanager, auth: {bearer_token_file: %s}}
rules:
`, temporalHostPort, testenv.WriteSecret(t, "nats-password", "nats-password"),
		serverPair.CertFile, serverPair.KeyFile, ca.CertFile, testenv.WriteSecret(t, "admin-token", adminToken),
		t.TempDir(), testenv.WriteSecret(t, "whsec", "whsec_"+base64.StdEncoding.EncodeToString(key)),
		testenv.WriteSecret(t, "bearer", bearer))
	yaml += rule("on-mtls", "mtls") + rule("on-standard", "standard") + rule("on-alerts", "alerts")
	path := testenv.WriteSecret(t, "batchwire.yaml", yaml)
	return path
}

func httpsClient(t *testing.T, ca *testenv.CA, pairs ...testenv.KeyPair) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	for _, p := range pairs {
		cfg.Certificates = append(cfg.Certificates, p.TLS(t))
	}
	transport := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}
}

func postHTTPS(t *testing.T, client *http.Client, url, contentType string, body []byte, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for name, values := range header {
		req.Header[name] = values
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// standardHeaders signs a request the Standard Webhooks way.
func standardHeaders(key []byte, id string, at time.Time, body []byte) http.Header {
	stamp := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + stamp + "."))
	mac.Write(body)
	header := http.Header{}
	header.Set("webhook-id", id)
	header.Set("webhook-timestamp", stamp)
	header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return header
}
