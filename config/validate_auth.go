package config

import (
	"net"
	"strings"
)

// validateAuth checks the settings that decide who may reach batchwire:
// the HTTP listener's TLS and admin endpoints, the NATS connection's
// credentials and the embedded server's, and warns where a setting leaves
// a door open.
func (c *Config) validateAuth() Problems {
	var problems Problems
	problems = append(problems, c.validateHTTPServer()...)
	problems = append(problems, c.validateNATS()...)
	if c.Temporal.TLS.InsecureSkipVerify {
		problems = append(problems, c.problemf(SeverityWarning, "temporal.tls.insecure_skip_verify",
			"set, so the Temporal server's certificate is not verified: anyone on the path can read the API key and answer for the server"))
	}
	return problems
}

func (c *Config) validateHTTPServer() Problems {
	var problems Problems
	tls := c.HTTP.TLS
	if tls.Enabled() && (tls.CertFile == "" || tls.KeyFile == "") {
		problems = append(problems, c.problemf(SeverityError, "http.tls", "cert_file and key_file are both required to serve TLS"))
	}
	if admin := c.HTTP.Admin; admin.Enabled && strings.TrimSpace(admin.TokenFile) == "" {
		problems = append(problems, c.problemf(SeverityError, "http.admin.token_file",
			"required when the admin endpoints are enabled: POST /-/reload takes a bearer token from this file"))
	}
	return problems
}

func (c *Config) validateNATS() Problems {
	n := c.NATS
	var problems Problems
	if countSet(n.CredentialsFile != "", n.NKeySeedFile != "", n.User != "" || n.PasswordFile != "") > 1 {
		problems = append(problems, c.problemf(SeverityError, "nats",
			"set one of credentials_file, nkey_seed_file or user with password_file"))
	}
	if (n.User == "") != (n.PasswordFile == "") {
		problems = append(problems, c.problemf(SeverityError, "nats.user", "user and password_file must be set together"))
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		problems = append(problems, c.problemf(SeverityError, "nats.tls", "cert_file and key_file must be set together"))
	}
	if n.URL != "" {
		return problems
	}
	// The embedded server.
	if n.TLS.Enabled() {
		problems = append(problems, c.problemf(SeverityError, "nats.tls", "only for an external server (nats.url); the embedded server does not serve TLS"))
	}
	if n.CredentialsFile != "" {
		problems = append(problems, c.problemf(SeverityError, "nats.credentials_file",
			"only for an external server (nats.url); the embedded server takes user with password_file, or nkey_seed_file"))
	}
	if !IsLoopback(n.Listen, true) && n.User == "" && n.NKeySeedFile == "" {
		problems = append(problems, c.problemf(SeverityError, "nats.listen",
			"the embedded nats-server listens beyond loopback (%s) without credentials: anyone who reaches it could publish events and read the audit stream; set nats.user with nats.password_file, or nats.nkey_seed_file, or listen on 127.0.0.1", n.Listen))
	}
	return problems
}

// validateAuth checks a trigger's auth settings against the listener's.
func (t *Trigger) validateAuth(http HTTP) Problems {
	h := t.HTTP
	var problems Problems
	if h.Auth.ClientCert && http.TLS.ClientCAFile == "" {
		problems = append(problems, t.Errorf("http.auth.client_cert",
			"needs http.tls.client_ca_file (and cert_file, key_file): client certificates are verified by the daemon's TLS listener"))
	}
	if !IsLoopback(http.Listen, false) && !h.authenticated() {
		p := t.Errorf("http", "takes events from anyone who reaches %s (not a loopback address): set http.auth.bearer_token_file, http.auth.client_cert, or a webhook signature", http.Listen)
		p.Severity = SeverityWarning
		problems = append(problems, p)
	}
	return problems
}

// authenticated reports whether the trigger checks who sends a request.
func (h *HTTPTrigger) authenticated() bool {
	if h.Auth.Enabled() {
		return true
	}
	return h.Webhook != nil && (h.Webhook.Signature != nil || h.Webhook.StandardWebhooks != nil)
}

// IsLoopback reports whether the host of a host:port address is a loopback
// address. An empty host means every interface to net.Listen, but
// 127.0.0.1 to the embedded nats-server: emptyIsLoopback says which.
func IsLoopback(hostPort string, emptyIsLoopback bool) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	if host == "" {
		return emptyIsLoopback
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
