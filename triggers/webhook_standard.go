package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/batchwire/batchwire/config"
)

// The Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	webhookIDHeader        = "webhook-id"
	webhookTimestampHeader = "webhook-timestamp"
	webhookSignatureHeader = "webhook-signature"
	standardSecretPrefix   = "whsec_"
)

// standardWebhookCheck verifies the Standard Webhooks signature: an
// HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>", sent base64
// after "v1," in webhook-signature (several, space-separated, while a
// sender rotates its key). The id and the time are signed with the body,
// so a captured request can neither be replayed outside the tolerance nor
// be given a new id: the signed id is the event id.
type standardWebhookCheck struct {
	key       secret
	tolerance time.Duration
	now       func() time.Time
}

func newStandardWebhookCheck(cfg *config.StandardWebhooks) (*standardWebhookCheck, error) {
	const field = "http.webhook.standard_webhooks"
	raw, err := loadSecretFrom(field, cfg.SecretFile, cfg.SecretEnv)
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(raw), standardSecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, fieldErrorf(field, "the secret is not %q followed by base64", standardSecretPrefix)
	}
	tolerance := cfg.Tolerance.Std()
	if tolerance <= 0 {
		tolerance = config.DefaultWebhookTolerance
	}
	return &standardWebhookCheck{key: key, tolerance: tolerance, now: time.Now}, nil
}

// verify returns the signed webhook-id. The signature is checked before
// the time, so a refusal for the time means a genuine request that came
// too late (a replay) or from a sender whose clock is off.
func (c *standardWebhookCheck) verify(header http.Header, body []byte) (string, error) {
	id, stamp := header.Get(webhookIDHeader), header.Get(webhookTimestampHeader)
	signatures := header.Get(webhookSignatureHeader)
	for name, value := range map[string]string{webhookIDHeader: id, webhookTimestampHeader: stamp, webhookSignatureHeader: signatures} {
		if value == "" {
			return "", c.fail(AuthReasonSignature, "missing header "+name)
		}
	}
	if !c.signed(id, stamp, body, signatures) {
		return "", c.fail(AuthReasonSignature, "webhook-signature does not match the id, timestamp and body")
	}
	seconds, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return "", c.fail(AuthReasonSignature, "webhook-timestamp is not Unix seconds")
	}
	if skew := c.now().Sub(time.Unix(seconds, 0)).Abs(); skew > c.tolerance {
		return "", c.fail(AuthReasonTimestamp, fmt.Sprintf("webhook-timestamp is %s from now, outside the tolerance of %s", skew.Round(time.Second), c.tolerance))
	}
	return id, nil
}

// signed compares each v1 signature with ours in constant time.
func (c *standardWebhookCheck) signed(id, stamp string, body []byte, signatures string) bool {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(id + "." + stamp + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(signatures) {
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func (c *standardWebhookCheck) fail(reason, detail string) error {
	return &DecodeError{Reason: "signature: " + detail, Err: &AuthError{Reason: reason}}
}

// signedHeaders are the headers a mapping may read when the request is
// signed the Standard Webhooks way: only those the signature covers.
func signedHeaders(header http.Header) map[string]string {
	return map[string]string{
		webhookIDHeader:        header.Get(webhookIDHeader),
		webhookTimestampHeader: header.Get(webhookTimestampHeader),
	}
}
