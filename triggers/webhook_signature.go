package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/batchwire/batchwire/config"
)

// secret holds a signing key. It prints and logs as "[redacted]", so a
// struct holding it cannot leak it through a log line or an error.
type secret []byte

func (secret) String() string               { return "[redacted]" }
func (secret) GoString() string             { return "[redacted]" }
func (secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// signatureCheck verifies an HMAC-SHA256 of the raw body, sent hex-encoded
// in a header after an optional prefix, as GitHub's X-Hub-Signature-256
// ("sha256=<hex>") and go-feature-flag do.
type signatureCheck struct {
	header string
	prefix string
	key    secret
}

func newSignatureCheck(cfg *config.Signature) (*signatureCheck, error) {
	if strings.TrimSpace(cfg.Header) == "" {
		return nil, fieldErrorf("http.webhook.signature.header", "required")
	}
	key, err := loadSecretFrom("http.webhook.signature", cfg.SecretFile, cfg.SecretEnv)
	if err != nil {
		return nil, err
	}
	return &signatureCheck{header: cfg.Header, prefix: cfg.Prefix, key: key}, nil
}

// loadSecretFrom reads the key of field (http.webhook.signature) from a
// file or the environment. Errors are *FieldError naming where the secret
// was looked for, never what was found. A file's trailing newline is not
// part of the secret: editors and `echo` add one.
func loadSecretFrom(field, file, env string) (secret, error) {
	switch {
	case file != "" && env != "":
		return nil, fieldErrorf(field, "set one of secret_file or secret_env, not both")
	case file != "":
		raw, err := os.ReadFile(file) //nolint:gosec // an operator's configured file
		if err != nil {
			return nil, fieldErrorf(field+".secret_file", "%w", err)
		}
		key := strings.TrimRight(string(raw), "\r\n")
		if key == "" {
			return nil, fieldErrorf(field+".secret_file", "%s is empty", file)
		}
		return secret(key), nil
	case env != "":
		key := os.Getenv(env)
		if key == "" {
			return nil, fieldErrorf(field+".secret_env", "environment variable %s is unset or empty", env)
		}
		return secret(key), nil
	}
	return nil, fieldErrorf(field, "secret_file or secret_env: required")
}

// verify compares in constant time, so the answer's timing does not tell a
// forger how much of a guessed signature was right. Failures never repeat
// the received or the expected value.
func (c *signatureCheck) verify(header http.Header, body []byte) error {
	value := header.Get(c.header)
	if value == "" {
		return c.fail("missing header " + c.header)
	}
	digest, ok := strings.CutPrefix(strings.TrimSpace(value), c.prefix)
	if !ok {
		return c.fail(fmt.Sprintf("header %s does not start with %q", c.header, c.prefix))
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return c.fail(fmt.Sprintf("header %s is not a hex digest", c.header))
	}
	mac := hmac.New(sha256.New, c.key)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return c.fail(fmt.Sprintf("header %s does not match the body", c.header))
	}
	return nil
}

func (c *signatureCheck) fail(reason string) error {
	return &DecodeError{Reason: "signature: " + reason, Err: &AuthError{Reason: AuthReasonSignature}}
}
