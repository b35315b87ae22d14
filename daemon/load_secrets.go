package daemon

import (
	"crypto/tls"
	"fmt"
	"os"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/triggers"
)

// secrets is what the loader reads from the secret files beside the API
// key: the NATS credentials and the admin token.
type secrets struct {
	nats       triggers.NATSAuth
	adminToken []byte
	httpTLS    *tls.Config
}

// readSecrets reads the NATS and admin secret files, each error a problem
// about its field, and warns about secret files others may read and about
// an API key sent in plaintext.
func readSecrets(cfg *config.Config, apiKey string) (secrets, config.Problems) {
	var out secrets
	var problems config.Problems
	auth, err := triggers.ReadNATSAuth(cfg.NATS)
	problems = append(problems, fieldProblems(cfg, "nats", err)...)
	out.nats = auth
	if admin := cfg.HTTP.Admin; admin.Enabled && admin.TokenFile != "" {
		token, err := triggers.ReadSecretFile("http.admin.token_file", admin.TokenFile)
		problems = append(problems, fieldProblems(cfg, "http.admin.token_file", err)...)
		out.adminToken = token
	}
	httpTLS, err := serverTLS(cfg.HTTP.TLS)
	problems = append(problems, fieldProblems(cfg, "http.tls", err)...)
	out.httpTLS = httpTLS
	problems = append(problems, fieldProblems(cfg, "nats.tls", checkNATSTLS(cfg.NATS.TLS))...)
	if apiKey != "" && cfg.Temporal.TLS.Disabled {
		problems = append(problems, config.Problem{Line: cfg.Line("temporal.tls.disabled"), Field: "temporal.tls.disabled",
			Message:  "the API key is sent in plaintext: anyone on the path to Temporal can read it and act as batchwire",
			Severity: config.SeverityWarning})
	}
	problems = append(problems, secretFileWarnings(cfg)...)
	return out, problems
}

// checkNATSTLS reads the NATS TLS files as the connection will, so a bad
// file is a problem at load rather than a failure to connect.
func checkNATSTLS(cfg config.NATSTLS) error {
	if cfg.CAFile != "" {
		if _, err := certPool(cfg.CAFile); err != nil {
			return &triggers.FieldError{Field: "nats.tls.ca_file", Err: err}
		}
	}
	if cfg.CertFile != "" && cfg.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			return &triggers.FieldError{Field: "nats.tls", Err: fmt.Errorf("load cert_file and key_file: %w", err)}
		}
	}
	return nil
}

// fieldProblems turns a secret error into problems at the field a
// *config.FieldError names, else at field.
func fieldProblems(cfg *config.Config, field string, err error) config.Problems {
	return config.SplitErrors(err, field, func(field, message string) config.Problem {
		return config.Problem{Line: cfg.Line(field), Field: field, Message: message}
	})
}

// secretFileWarnings warns about each secret file that its group or other
// users may read: a secret is only as safe as the file that holds it.
// A file that cannot be read at all is left to the check that reads it.
func secretFileWarnings(cfg *config.Config) config.Problems {
	var problems config.Problems
	warn := func(line int, owner, field, path string) {
		if path == "" {
			return
		}
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm()&0o044 == 0 {
			return
		}
		problems = append(problems, config.Problem{Line: line, Owner: owner, Field: field, Severity: config.SeverityWarning,
			Message: fmt.Sprintf("%s is readable by its group or by everyone (mode %04o); make it 0600 or 0400", path, info.Mode().Perm())})
	}
	for _, f := range []struct{ field, path string }{
		{"temporal.api_key_file", cfg.Temporal.APIKeyFile},
		{"temporal.tls.key_file", cfg.Temporal.TLS.KeyFile},
		{"nats.credentials_file", cfg.NATS.CredentialsFile},
		{"nats.nkey_seed_file", cfg.NATS.NKeySeedFile},
		{"nats.password_file", cfg.NATS.PasswordFile},
		{"nats.tls.key_file", cfg.NATS.TLS.KeyFile},
		{"http.tls.key_file", cfg.HTTP.TLS.KeyFile},
		{"http.admin.token_file", cfg.HTTP.Admin.TokenFile},
	} {
		warn(cfg.Line(f.field), "", f.field, f.path)
	}
	for i := range cfg.Triggers {
		t := &cfg.Triggers[i]
		for field, path := range triggerSecretFiles(t) {
			warn(t.Errorf(field, "").Line, config.TriggerOwner(t.Name), field, path)
		}
	}
	return problems
}

// triggerSecretFiles lists a trigger's secret files by field.
func triggerSecretFiles(t *config.Trigger) map[string]string {
	files := map[string]string{}
	h := t.HTTP
	if h == nil {
		return files
	}
	files["http.auth.bearer_token_file"] = h.Auth.BearerTokenFile
	if hook := h.Webhook; hook != nil {
		if hook.Signature != nil {
			files["http.webhook.signature.secret_file"] = hook.Signature.SecretFile
		}
		if hook.StandardWebhooks != nil {
			files["http.webhook.standard_webhooks.secret_file"] = hook.StandardWebhooks.SecretFile
		}
	}
	return files
}
