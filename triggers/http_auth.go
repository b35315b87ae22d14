package triggers

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"os"
	"strings"

	"github.com/batchwire/batchwire/config"
)

// Reasons a request fails authentication: the reason label of
// batchwire_http_auth_failures_total. A fixed set, never request data.
const (
	AuthReasonBearerToken = "bearer_token"
	AuthReasonClientCert  = "client_cert"
	AuthReasonSignature   = "signature"
	AuthReasonTimestamp   = "timestamp"
)

// AuthError marks a request refused for its credentials; the source
// answers it 401. Reason is one of the AuthReason constants.
type AuthError struct {
	Reason string
}

func (e *AuthError) Error() string { return "authentication failed: " + e.Reason }

// AuthFailed is told of each request refused by authentication, with the
// trigger's name and the reason; the daemon counts them.
type AuthFailed func(trigger, reason string)

// httpAuth checks what a request must present before its body is read:
// a bearer token, a verified client certificate, or both.
type httpAuth struct {
	// tokenSum is the SHA-256 of the bearer token: comparing digests of a
	// fixed length keeps the comparison's time from telling the token's.
	tokenSum   []byte
	clientCert bool
}

func newHTTPAuth(cfg config.HTTPAuth) (*httpAuth, error) {
	auth := &httpAuth{clientCert: cfg.ClientCert}
	if cfg.BearerTokenFile != "" {
		token, err := readSecretFile("http.auth.bearer_token_file", cfg.BearerTokenFile)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(token)
		auth.tokenSum = sum[:]
	}
	return auth, nil
}

// check returns an *AuthError naming the first requirement r fails, or nil.
func (a *httpAuth) check(r *http.Request) error {
	if a.clientCert && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
		return &AuthError{Reason: AuthReasonClientCert}
	}
	if a.tokenSum != nil && !bearerMatches(r.Header.Get("Authorization"), a.tokenSum) {
		return &AuthError{Reason: AuthReasonBearerToken}
	}
	return nil
}

// bearerMatches compares the request's bearer token with the expected
// token's digest in constant time.
func bearerMatches(authorization string, wantSum []byte) bool {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], wantSum) == 1
}

// BearerMatches reports whether an Authorization header carries token, in
// constant time: the daemon's admin endpoints take the same check.
func BearerMatches(authorization string, token []byte) bool {
	sum := sha256.Sum256(token)
	return bearerMatches(authorization, sum[:])
}

// ReadSecretFile reads a secret from path for field: errors name the field
// and the file, never what the file holds. Surrounding white space, a
// trailing newline from an editor or `echo` among it, is not part of it.
func ReadSecretFile(field, path string) ([]byte, error) { return readSecretFile(field, path) }

func readSecretFile(field, path string) (secret, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // an operator's configured file
	if err != nil {
		// "open <path>: <cause>": nothing of the content.
		return nil, fieldErrorf(field, "%w", err)
	}
	value := strings.TrimSpace(string(raw))
	if value == "" {
		return nil, fieldErrorf(field, "%s is empty", path)
	}
	return secret(value), nil
}
