package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Mappings for the feature-flag services in testdata/events.
var (
	fliptMapping = config.Webhook{
		ID:     `body.timestamp + "/" + body.payload.key`,
		Type:   `"flipt." + body.type + "." + body.action`,
		Source: `"flipt"`,
	}
	unleashMapping = config.Webhook{
		ID:      `string(body.id)`,
		Type:    `"unleash." + body.type`,
		Source:  `"unleash/" + body.project`,
		Subject: `body.featureName`,
	}
	goFeatureFlagMapping = config.Webhook{
		ID:     `body_sha256`,
		Type:   `"gofeatureflag.flags.changed"`,
		Source: `"go-feature-flag/" + body.meta.hostname`,
	}
)

func webhookTrigger(mapping config.Webhook) config.Trigger {
	return httpTrigger("flags", "webhook", func(h *config.HTTPTrigger) { h.Webhook = &mapping })
}

func sha256Hex(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func TestWebhookMappings(t *testing.T) {
	unleash := readFixture(t, "events", "unleash_docs_feature-strategy-add.json")
	gff := readFixture(t, "events", "go-feature-flag_webhook_flag_changes.json")
	tests := []struct {
		name                     string
		mapping                  config.Webhook
		body                     []byte
		id, typ, source, subject string
	}{
		{"flipt audit", fliptMapping, readFixture(t, "events", "flipt_docs_audit_webhook_flag_updated.body.json"),
			"2023-09-13T13:05:18-04:00/maintenance-mode", "flipt.flag.updated", "flipt", ""},
		{"unleash", unleashMapping, unleash,
			"27335", "unleash.feature-strategy-add", "unleash/my-other-project", "new-feature"},
		// Integers keep every digit: a float's text would be 1.2345678e+07.
		{"unleash large id", unleashMapping, editJSON(t, unleash, func(m map[string]any) { m["id"] = 12345678 }),
			"12345678", "unleash.feature-strategy-add", "unleash/my-other-project", "new-feature"},
		{"go-feature-flag", goFeatureFlagMapping, gff,
			sha256Hex(gff), "gofeatureflag.flags.changed", "go-feature-flag/toto", ""},
		{"headers", config.Webhook{ID: `headers["x-request-id"]`, Type: `"ci.build"`, Source: `headers["user-agent"]`},
			[]byte(`{}`), "req-42", "ci.build", "ci-runner/1.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, webhookTrigger(tt.mapping), rec)
			rr := post(src, "application/json", tt.body, func(r *http.Request) {
				r.Header.Set("X-Request-ID", "req-42")
				r.Header.Set("User-Agent", "ci-runner/1.0")
			})

			require.Equal(t, http.StatusAccepted, rr.Code, rr.Body.String())
			handled := rec.handled()
			require.Len(t, handled, 1)
			ev := handled[0].Event
			require.Equal(t, tt.id, ev.ID())
			require.Equal(t, tt.typ, ev.Type())
			require.Equal(t, tt.source, ev.Source())
			require.Equal(t, tt.subject, ev.Subject())
			require.Equal(t, "application/json", ev.DataContentType())
			require.Equal(t, tt.body, ev.Data(), "data is the body as sent")
		})
	}
}

func TestWebhookMappingErrors(t *testing.T) {
	unleash := readFixture(t, "events", "unleash_docs_feature-strategy-add.json")
	tests := []struct {
		name    string
		mapping config.Webhook
		body    []byte
		want    string
	}{
		{"missing key", fliptMapping, unleash, "webhook mapping: id: no such key: timestamp"},
		{"not a string", config.Webhook{ID: `body.id`, Type: `"t"`, Source: `"s"`}, unleash,
			"webhook mapping: id: evaluated to int, want a string"},
		{"empty string", config.Webhook{ID: `string(body.id)`, Type: `body.environment == "default" ? "" : "t"`, Source: `"s"`},
			unleash, "webhook mapping: type: evaluated to an empty string"},
		{"empty subject", config.Webhook{ID: `string(body.id)`, Type: `"t"`, Source: `"s"`, Subject: `""`}, unleash,
			"webhook mapping: subject: evaluated to an empty string"},
		{"not JSON", unleashMapping, unleash[:len(unleash)-2], "body is not JSON"},
		{"trailing data", unleashMapping, append(append([]byte{}, unleash...), []byte(` {}`)...), "body is not JSON"},
		{"invalid source", config.Webhook{ID: `"1"`, Type: `"t"`, Source: `"%zz"`}, unleash,
			"webhook mapping: source: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			src := startSource(t, webhookTrigger(tt.mapping), rec)
			requireRejected(t, post(src, "application/json", tt.body, nil), rec, http.StatusBadRequest, tt.want)
		})
	}
}

func TestWebhookCompileErrors(t *testing.T) {
	t.Setenv("BATCHWIRE_TEST_SIGNED_ID", testSecret)
	tests := []struct {
		name    string
		mapping config.Webhook
		want    string
	}{
		{"syntax", config.Webhook{ID: `body.id +`, Type: `"t"`, Source: `"s"`}, "http.webhook.id: compile"},
		{"not a string", config.Webhook{ID: `"1"`, Type: `1 + 2`, Source: `"s"`}, "http.webhook.type: expression yields int, want string"},
		{"unknown variable", config.Webhook{ID: `"1"`, Type: `"t"`, Source: `event.source`}, "http.webhook.source: compile"},
		{"missing", config.Webhook{ID: `"1"`, Type: `"t"`}, "http.webhook.source: expression required"},
		{"every error at once", config.Webhook{ID: `(`, Type: `1`, Source: `"s"`}, "http.webhook.type"},
		// A signed body sent again with a new X-Delivery would be a new event.
		{"signed id from a header", config.Webhook{ID: `headers["x-delivery"] + body.id`, Type: `"t"`, Source: `"s"`,
			Signature: &config.Signature{Header: "X-Hub-Signature-256", SecretEnv: "BATCHWIRE_TEST_SIGNED_ID"}},
			"http.webhook.id: reads headers, which the signature does not cover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHTTPSource(webhookTrigger(tt.mapping), testenv.Logger(t))
			require.ErrorContains(t, err, `trigger "flags": `)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// testSecret must never appear in an answer, a log line or an error.
const testSecret = "s3cr3t-do-not-leak"

func sign(body []byte, key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// go-feature-flag signs its webhook like GitHub: X-Hub-Signature-256.
func TestWebhookSignature(t *testing.T) {
	body := readFixture(t, "events", "go-feature-flag_webhook_flag_changes.json")
	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600))
	const secretEnv = "BATCHWIRE_TEST_WEBHOOK_SECRET" //nolint:gosec // the name of a variable, not a secret
	t.Setenv(secretEnv, testSecret)
	good := sign(body, testSecret)
	tests := []struct {
		name      string
		signature string // "" sends no header
		status    int
		want      string
	}{
		{"good", good, http.StatusAccepted, ""},
		{"good, upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), http.StatusAccepted, ""},
		{"missing", "", http.StatusUnauthorized, "signature: missing header X-Hub-Signature-256"},
		{"other key", sign(body, testSecret+"x"), http.StatusUnauthorized, "does not match the body"},
		{"other body", sign(append(append([]byte{}, body...), ' '), testSecret), http.StatusUnauthorized, "does not match the body"},
		{"no prefix", strings.TrimPrefix(good, "sha256="), http.StatusUnauthorized, `does not start with "sha256="`},
		{"not hex", "sha256=" + testSecret, http.StatusUnauthorized, "is not a hex digest"},
		{"truncated", good[:len(good)-2], http.StatusUnauthorized, "does not match the body"},
	}
	sources := map[string]config.Signature{
		"secret_file": {Header: "X-Hub-Signature-256", Prefix: "sha256=", SecretFile: secretFile},
		"secret_env":  {Header: "X-Hub-Signature-256", Prefix: "sha256=", SecretEnv: secretEnv},
	}
	for sourceName, signature := range sources {
		for _, tt := range tests {
			t.Run(sourceName+"/"+tt.name, func(t *testing.T) {
				logger, logged := testenv.CaptureLogger(t, slog.LevelDebug)
				mapping := goFeatureFlagMapping
				mapping.Signature = &signature
				rec := &recorder{}
				src := startSourceLogged(t, webhookTrigger(mapping), rec, logger)
				rr := post(src, "application/json", body, func(r *http.Request) {
					if tt.signature != "" {
						r.Header.Set("X-Hub-Signature-256", tt.signature)
					}
				})
				answer := rr.Body.String()
				if tt.status == http.StatusAccepted {
					require.Equal(t, http.StatusAccepted, rr.Code, answer)
					require.Len(t, rec.handled(), 1)
				} else {
					require.Equal(t, http.StatusUnauthorized, tt.status)
					requireUnauthorized(t, rr, rec, AuthReasonSignature, tt.want)
				}
				require.NotContains(t, answer, testSecret)
				require.NotContains(t, logged(), testSecret)
				require.NotContains(t, logged(), strings.TrimPrefix(good, "sha256="), "the expected digest is never logged")
			})
		}
	}
}

func TestWebhookSecretErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	const emptyEnv = "BATCHWIRE_TEST_EMPTY_SECRET"
	t.Setenv(emptyEnv, "")
	tests := []struct {
		name      string
		signature config.Signature
		want      string
	}{
		{"missing file", config.Signature{Header: "X-Sig", SecretFile: filepath.Join(dir, "nope")}, "http.webhook.signature.secret_file: open "},
		{"empty file", config.Signature{Header: "X-Sig", SecretFile: empty}, "is empty"},
		{"unset env", config.Signature{Header: "X-Sig", SecretEnv: emptyEnv},
			"environment variable BATCHWIRE_TEST_EMPTY_SECRET is unset or empty"},
		{"no source", config.Signature{Header: "X-Sig"}, "secret_file or secret_env: required"},
		{"no header", config.Signature{SecretFile: empty}, "signature.header: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mapping := fliptMapping
			mapping.Signature = &tt.signature
			_, err := NewHTTPSource(webhookTrigger(mapping), testenv.Logger(t))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// A secret held by a source prints as [redacted] however it is formatted.
func TestSecretRedacted(t *testing.T) {
	key := secret(testSecret)
	logger, logged := testenv.CaptureLogger(t, slog.LevelDebug)
	logger.Info("check", "key", key, "check", &signatureCheck{header: "X", key: key})
	require.NotContains(t, logged(), testSecret)
	require.Contains(t, logged(), "[redacted]")
}
