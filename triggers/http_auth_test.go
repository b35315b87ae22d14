package triggers

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// authCase is one format's trigger and a body it accepts.
type authCase struct {
	format      string
	contentType string
	body        []byte
	edit        func(*config.HTTPTrigger)
}

func authCases(t *testing.T) []authCase {
	flipt := fliptMapping
	return []authCase{
		{"cloudevents", "application/cloudevents+json", readHTTPFixture(t, structuredFixture).body, nil},
		{"alertmanager", "application/json", readFixture(t, "alertmanager", amFiringFixture), nil},
		{"webhook", "application/json", readFixture(t, "events", "flipt_docs_audit_webhook_flag_updated.body.json"),
			func(h *config.HTTPTrigger) { h.Webhook = &flipt }},
	}
}

// postTo sends body to url over real HTTP with the given headers.
func postTo(t *testing.T, client *http.Client, url, contentType string, body []byte, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for name, values := range header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// Every format takes a bearer token from a file: a request without it, with
// another token or another scheme is refused 401 before its body is read,
// counted by reason, and reaches neither the handler nor invalid.
func TestHTTPBearerToken(t *testing.T) {
	const token = "bearer-token-do-not-leak"
	tokenFile := testenv.WriteSecret(t, "token", token)
	for _, tc := range authCases(t) {
		t.Run(tc.format, func(t *testing.T) {
			logger, logged := testenv.CaptureLogger(t, -8)
			rec := &recorder{}
			src := startSourceLogged(t, httpTrigger("hook", tc.format, func(h *config.HTTPTrigger) {
				h.Auth.BearerTokenFile = tokenFile
				if tc.edit != nil {
					tc.edit(h)
				}
			}), rec, logger)
			server := serve(t, src)
			url := server.URL + src.Path()
			for _, authorization := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Basic " + token, token} {
				resp := postTo(t, server.Client(), url, tc.contentType, tc.body, http.Header{"Authorization": {authorization}})
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "Authorization %q", authorization)
				require.Equal(t, `Bearer realm="batchwire"`, resp.Header.Get("WWW-Authenticate"))
			}
			require.Len(t, rec.authFailures(), 5)
			require.Equal(t, AuthReasonBearerToken, rec.authFailures()[0])
			require.Empty(t, rec.handled())
			require.Empty(t, rec.invalids())

			resp := postTo(t, server.Client(), url, tc.contentType, tc.body, http.Header{"Authorization": {"Bearer " + token}})
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
			require.NotEmpty(t, rec.handled())
			require.NotContains(t, logged(), token)
		})
	}
}

func TestBearerTokenFileErrors(t *testing.T) {
	empty := testenv.WriteSecret(t, "empty", "")
	for name, path := range map[string]string{"missing": empty + "-nope", "empty": empty} {
		t.Run(name, func(t *testing.T) {
			_, err := NewHTTPSource(httpTrigger("hook", "cloudevents", func(h *config.HTTPTrigger) {
				h.Auth.BearerTokenFile = path
			}), testenv.Logger(t))
			var fieldErr *FieldError
			require.ErrorAs(t, err, &fieldErr)
			require.Equal(t, "http.auth.bearer_token_file", fieldErr.Field)
		})
	}
}

// A trigger with auth.client_cert over a TLS listener that asks for client
// certificates: a client without one is refused 401 (client_cert), one with
// a certificate the CA signed is accepted, and one with a certificate of
// another CA gets nowhere.
func TestHTTPClientCertificate(t *testing.T) {
	ca, other := testenv.NewCA(t, "clients"), testenv.NewCA(t, "strangers")
	serverPair := ca.Server(t, "batchwire")
	for _, tc := range authCases(t) {
		t.Run(tc.format, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, httpTrigger("hook", tc.format, func(h *config.HTTPTrigger) {
				h.Auth.ClientCert = true
				if tc.edit != nil {
					tc.edit(h)
				}
			}), rec)
			mux := http.NewServeMux()
			mux.Handle(src.Path(), src)
			server := httptest.NewUnstartedServer(mux)
			server.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair.TLS(t)},
				ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
			server.StartTLS()
			t.Cleanup(server.Close)
			url := server.URL + src.Path()
			client := func(pairs ...testenv.KeyPair) *http.Client {
				cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
				for _, p := range pairs {
					cfg.Certificates = append(cfg.Certificates, p.TLS(t))
				}
				return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			}

			resp := postTo(t, client(), url, tc.contentType, tc.body, nil)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, []string{AuthReasonClientCert}, rec.authFailures())
			require.Empty(t, rec.handled())

			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(tc.body))
			require.NoError(t, err)
			// A Go client does not send a certificate the server's CA list
			// does not name; either way the request gets nowhere.
			if resp, err := client(other.Client(t, "stranger")).Do(req); err == nil {
				_ = resp.Body.Close()
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			}
			require.Empty(t, rec.handled())

			resp = postTo(t, client(ca.Client(t, "alertmanager")), url, tc.contentType, tc.body, nil)
			require.Equal(t, http.StatusAccepted, resp.StatusCode)
			require.NotEmpty(t, rec.handled())
		})
	}
}

// standardSign signs a request the Standard Webhooks way.
func standardSign(key []byte, id, stamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + stamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// The example of the Standard Webhooks specification verifies, so a sender
// built on its libraries is understood.
func TestStandardWebhooksSpecExample(t *testing.T) {
	t.Setenv("BATCHWIRE_TEST_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	check, err := newStandardWebhookCheck(&config.StandardWebhooks{SecretEnv: "BATCHWIRE_TEST_WHSEC"})
	require.NoError(t, err)
	check.now = func() time.Time { return time.Unix(1614265330, 0) }
	header := http.Header{}
	header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	header.Set("webhook-timestamp", "1614265330")
	header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	id, err := check.verify(header, []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", id)
}

// Standard Webhooks over real HTTP: the signed webhook-id is the event id;
// a tampered signature, body or id is refused (signature), and a genuine
// request outside the tolerance, old or from the future, is refused
// (timestamp): a captured request cannot be replayed later.
func TestStandardWebhooks(t *testing.T) {
	key := []byte("standard-webhooks-test-key-32byt")
	secretFile := testenv.WriteSecret(t, "whsec", "whsec_"+base64.StdEncoding.EncodeToString(key))
	body := readFixture(t, "events", "flipt_docs_audit_webhook_flag_updated.body.json")
	mapping := fliptMapping
	mapping.ID = ""
	mapping.StandardWebhooks = &config.StandardWebhooks{SecretFile: secretFile, Tolerance: config.Duration(5 * time.Minute)}
	rec := &recorder{}
	src := startSource(t, webhookTrigger(mapping), rec)
	server := serve(t, src)
	send := func(id string, at time.Time, sign func(id, stamp string) string, sentBody []byte) int {
		stamp := strconv.FormatInt(at.Unix(), 10)
		header := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {stamp}, "Webhook-Signature": {sign(id, stamp)}}
		return postTo(t, server.Client(), server.URL+src.Path(), "application/json", sentBody, header).StatusCode
	}
	good := func(id, stamp string) string { return standardSign(key, id, stamp, body) }
	now := time.Now()

	require.Equal(t, http.StatusAccepted, send("msg_1", now, good, body))
	require.Equal(t, []string{"msg_1"}, rec.eventIDs(), "the signed webhook-id is the event id")

	refusals := []struct {
		name   string
		status int
		reason string
	}{
		{"tampered signature", send("msg_2", now, func(id, stamp string) string {
			sig := []byte(good(id, stamp))
			sig[5] ^= 1
			return string(sig)
		}, body), AuthReasonSignature},
		{"other key", send("msg_3", now, func(id, stamp string) string {
			return standardSign([]byte("another-key"), id, stamp, body)
		}, body), AuthReasonSignature},
		{"tampered body", send("msg_4", now, good, append(bytes.Clone(body), ' ')), AuthReasonSignature},
		{"new id on a signed request", send("msg_5", now, func(_, stamp string) string { return good("msg_1", stamp) }, body), AuthReasonSignature},
		{"replay after the window", send("msg_6", now.Add(-10*time.Minute), good, body), AuthReasonTimestamp},
		{"from the future", send("msg_7", now.Add(10*time.Minute), good, body), AuthReasonTimestamp},
	}
	var wantReasons []string
	for _, r := range refusals {
		require.Equal(t, http.StatusUnauthorized, r.status, r.name)
		wantReasons = append(wantReasons, r.reason)
	}
	require.Equal(t, wantReasons, rec.authFailures())
	require.Empty(t, rec.invalids())

	// Within the window a re-sent request keeps its id, so the daemon's job
	// id makes it a duplicate rather than a new launch.
	require.Equal(t, http.StatusAccepted, send("msg_1", now.Add(-time.Minute), good, body))
	require.Equal(t, []string{"msg_1", "msg_1"}, rec.eventIDs())
}

// With Standard Webhooks a mapping sees only the signed headers, so no
// unsigned header can change the event.
func TestStandardWebhooksMappingSeesSignedHeadersOnly(t *testing.T) {
	key := []byte("k")
	t.Setenv("BATCHWIRE_TEST_WHSEC", "whsec_"+base64.StdEncoding.EncodeToString(key))
	body := []byte(`{"kind":"x"}`)
	mapping := config.Webhook{Type: `"t"`, Source: `"s"`, Subject: `headers["x-delivery"]`,
		StandardWebhooks: &config.StandardWebhooks{SecretEnv: "BATCHWIRE_TEST_WHSEC"}}
	rec := &recorder{}
	src := startSource(t, webhookTrigger(mapping), rec)
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	rr := post(src, "application/json", body, func(r *http.Request) {
		r.Header.Set("webhook-id", "msg_1")
		r.Header.Set("webhook-timestamp", stamp)
		r.Header.Set("webhook-signature", standardSign(key, "msg_1", stamp, body))
		r.Header.Set("X-Delivery", "unsigned")
	})
	requireRejected(t, rr, rec, http.StatusBadRequest, "webhook mapping: subject")
}

func TestStandardWebhooksConfigErrors(t *testing.T) {
	t.Setenv("BATCHWIRE_TEST_WHSEC", "whsec_not base64!")
	_, err := NewHTTPSource(webhookTrigger(config.Webhook{Type: `"t"`, Source: `"s"`,
		StandardWebhooks: &config.StandardWebhooks{SecretEnv: "BATCHWIRE_TEST_WHSEC"}}), testenv.Logger(t))
	require.ErrorContains(t, err, `http.webhook.standard_webhooks: the secret is not "whsec_" followed by base64`)
	require.NotContains(t, err.Error(), "not base64!")

	t.Setenv("BATCHWIRE_TEST_WHSEC", "whsec_"+base64.StdEncoding.EncodeToString([]byte("k")))
	_, err = NewHTTPSource(webhookTrigger(config.Webhook{ID: "body.id", Type: `"t"`, Source: `"s"`,
		StandardWebhooks: &config.StandardWebhooks{SecretEnv: "BATCHWIRE_TEST_WHSEC"}}), testenv.Logger(t))
	require.ErrorContains(t, err, "http.webhook.id: must be empty with standard_webhooks")
}
