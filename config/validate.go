package config

import (
	"strings"
)

// Validate checks every field and returns every problem at once, each with
// its owner, field and line. It does not change the configuration.
func (c *Config) Validate() Problems {
	var problems Problems
	tls := c.Temporal.TLS
	if tls.Disabled && tls.Enabled() {
		problems = append(problems, c.problemf(SeverityError, "temporal.tls", "disabled, yet TLS files or options are set"))
	}
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		problems = append(problems, c.problemf(SeverityError, "temporal.tls", "cert_file and key_file must be set together"))
	}
	if r := c.Launch.MaxFailureRatio; r < 0 || r >= 1 {
		problems = append(problems, c.problemf(SeverityError, "launch.max_failure_ratio",
			"want 0 (off) or a fraction below 1, got %g", r))
	}
	if m := c.Launch.DirectMax; m < -1 || m > MaxDirectMax {
		problems = append(problems, c.problemf(SeverityError, "launch.direct_max",
			"want -1 (off), 0 (the default, %d) or up to %d, got %d", DefaultDirectMax, MaxDirectMax, m))
	}
	if c.Launch.ServerRPS < 0 || c.Launch.ClientRPS < 0 {
		problems = append(problems, c.problemf(SeverityError, "launch",
			"server_rps and client_rps must not be negative, got %g and %g", c.Launch.ServerRPS, c.Launch.ClientRPS))
	}
	if a := c.Audit; a.MaxRecordBytes < MinAuditRecordBytes || a.MaxBytes < int64(a.MaxRecordBytes) {
		problems = append(problems, c.problemf(SeverityError, "audit",
			"max_record_bytes must be at least %d and max_bytes at least max_record_bytes, got %d and %d",
			MinAuditRecordBytes, a.MaxRecordBytes, a.MaxBytes))
	}
	if c.Launch.Paused {
		problems = append(problems, c.problemf(SeverityWarning, "launch.paused",
			"set, so no rule launches anything until it is cleared"))
	}
	problems = append(problems, c.validateAuth()...)
	triggers := map[string]bool{}
	paths := map[string]string{}
	for i := range c.Triggers {
		t := &c.Triggers[i]
		triggerProblems := t.validate(triggers, paths)
		if t.HTTP != nil && t.Name != "" && !triggers[t.Name] {
			triggerProblems = append(triggerProblems, t.validateAuth(c.HTTP)...)
		}
		problems = append(problems, triggerProblems...)
		triggers[t.Name] = true
	}
	rules := map[string]bool{}
	for i := range c.Rules {
		r := &c.Rules[i]
		ruleProblems := r.validate(triggers)
		if len(ruleProblems) == 0 && rules[r.Name] {
			// Job ids are derived from the name, so two rules with one name
			// would collide on every event.
			ruleProblems = append(ruleProblems, r.Errorf("name", "duplicate rule name %q", r.Name))
		}
		problems = append(problems, ruleProblems...)
		rules[r.Name] = true
	}
	return problems
}

func countSet(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}

func (t *Trigger) validate(names map[string]bool, paths map[string]string) Problems {
	problems := t.validateSource(names, paths)
	if t.MaxInFlight < 1 {
		problems = append(problems, t.Errorf("max_in_flight", "must be at least 1, got %d", t.MaxInFlight))
	}
	return problems
}

func (t *Trigger) validateSource(names map[string]bool, paths map[string]string) Problems {
	switch {
	case t.Name == "":
		return Problems{t.Errorf("name", "required")}
	case names[t.Name]:
		return Problems{t.Errorf("name", "duplicate trigger name %q", t.Name)}
	case countSet(t.NATS != nil, t.JetStream != nil, t.HTTP != nil) > 1:
		return Problems{t.Errorf("", "one source per trigger (nats, jetstream or http)")}
	case t.HTTP != nil:
		return t.validateHTTP(paths)
	case t.NATS != nil:
		if strings.TrimSpace(t.NATS.Subject) == "" {
			return Problems{t.Errorf("nats.subject", "required")}
		}
	case t.JetStream != nil:
		return t.validateJetStream()
	default:
		return Problems{t.Errorf("", "one source is required (nats, jetstream or http)")}
	}
	return nil
}

func (t *Trigger) validateJetStream() Problems {
	js := t.JetStream
	var problems Problems
	if js.Stream == "" {
		problems = append(problems, t.Errorf("jetstream.stream", "required"))
	}
	if *js.CreateStream && len(js.Subjects) == 0 {
		problems = append(problems, t.Errorf("jetstream.subjects", "required to create the stream"))
	}
	if js.Deliver != "all" && js.Deliver != "new" {
		problems = append(problems, t.Errorf("jetstream.deliver", "want all or new, got %q", js.Deliver))
	}
	if js.MaxDeliver < 1 {
		problems = append(problems, t.Errorf("jetstream.max_deliver", "must be at least 1"))
	}
	return problems
}

func (t *Trigger) validateHTTP(paths map[string]string) Problems {
	h := t.HTTP
	var problems Problems
	if why := badHTTPPath(h.Path); why != "" {
		problems = append(problems, t.Errorf("http.path", "%s, got %q", why, h.Path))
	} else if other, taken := paths[h.Path]; taken {
		problems = append(problems, t.Errorf("http.path", "%q is already the path of trigger %q; one trigger per path", h.Path, other))
	} else {
		paths[h.Path] = t.Name
	}
	switch {
	case h.Format != "cloudevents" && h.Format != "alertmanager" && h.Format != "webhook":
		problems = append(problems, t.Errorf("http.format", "want cloudevents, alertmanager or webhook, got %q", h.Format))
	case h.Format == "webhook" && h.Webhook == nil:
		problems = append(problems, t.Errorf("http.webhook", "required for format webhook (id, type and source expressions)"))
	case h.Format != "webhook" && h.Webhook != nil:
		problems = append(problems, t.Errorf("http.webhook", "only for format webhook"))
	}
	if h.Webhook != nil {
		problems = append(problems, t.validateWebhook()...)
	}
	for _, bound := range []struct {
		field string
		value int64
	}{{"http.max_alerts", int64(h.MaxAlerts)}, {"http.max_batch_events", int64(h.MaxBatchEvents)}, {"http.max_body_bytes", h.MaxBodyBytes}} {
		if bound.value < 1 {
			problems = append(problems, t.Errorf(bound.field, "must be at least 1, got %d", bound.value))
		}
	}
	return problems
}

func (t *Trigger) validateWebhook() Problems {
	hook := t.HTTP.Webhook
	var problems Problems
	required := []struct{ name, expr string }{{"type", hook.Type}, {"source", hook.Source}}
	if hook.StandardWebhooks == nil {
		required = append([]struct{ name, expr string }{{"id", hook.ID}}, required...)
	}
	for _, field := range required {
		if strings.TrimSpace(field.expr) == "" {
			problems = append(problems, t.Errorf("http.webhook."+field.name, "expression required for format webhook"))
		}
	}
	if hook.StandardWebhooks != nil {
		problems = append(problems, t.validateStandardWebhooks(hook)...)
	}
	if sig := hook.Signature; sig != nil {
		if strings.TrimSpace(sig.Header) == "" {
			problems = append(problems, t.Errorf("http.webhook.signature.header", "required"))
		}
		if (sig.SecretFile == "") == (sig.SecretEnv == "") {
			problems = append(problems, t.Errorf("http.webhook.signature", "set one of secret_file or secret_env"))
		}
	}
	return problems
}

func (t *Trigger) validateStandardWebhooks(hook *Webhook) Problems {
	var problems Problems
	if strings.TrimSpace(hook.ID) != "" {
		problems = append(problems, t.Errorf("http.webhook.id",
			"must be empty with standard_webhooks: the event id is the signed webhook-id header, so that no unsigned part of a request can make a new event"))
	}
	if hook.Signature != nil {
		problems = append(problems, t.Errorf("http.webhook.signature", "set one of signature or standard_webhooks"))
	}
	if sw := hook.StandardWebhooks; (sw.SecretFile == "") == (sw.SecretEnv == "") {
		problems = append(problems, t.Errorf("http.webhook.standard_webhooks", "set one of secret_file or secret_env"))
	}
	return problems
}

// pathChars are the characters an HTTP trigger path may hold: the
// unreserved and sub-delimiter characters of RFC 3986, ':', '@' and '/'.
// Anything else is either escaped in requests, so that the path could
// never match, or means something to http.ServeMux ({wildcards}, a method
// or host before the path).
const pathChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"

// badHTTPPath says why path cannot be an HTTP trigger's path, or is empty.
// A path is matched exactly: http.ServeMux would read {name} as a wildcard,
// a trailing slash as every path below it, and an unclean path would never
// match, so each is refused here rather than found by a panic at start.
func badHTTPPath(path string) string {
	switch {
	case !strings.HasPrefix(path, "/"):
		return "want an absolute path such as /hooks/flipt (no method, host or scheme before it)"
	case strings.ContainsAny(path, "{}"):
		return "want a literal path: { and } would make it a pattern with wildcards"
	case strings.IndexFunc(path, func(r rune) bool { return !strings.ContainsRune(pathChars, r) }) >= 0:
		return "want letters, digits and - . _ ~ / only (no spaces, %-escapes, ? or #)"
	case path == "/" || strings.HasSuffix(path, "/"):
		return "want a path without a trailing slash: it would take every path below it"
	case strings.Contains(path, "//") || strings.Contains(path, "/./") || strings.Contains(path, "/../") ||
		strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/.."):
		return "want a clean path (no //, /./ or /../)"
	case strings.HasPrefix(path, "/-/") || path == "/-" || path == "/metrics" || strings.HasPrefix(path, "/metrics/"):
		return "want a path outside /-/ and /metrics, which batchwire serves itself"
	}
	return ""
}

func (r *Rule) validate(triggers map[string]bool) Problems {
	var problems Problems
	if r.Name == "" {
		problems = append(problems, r.Errorf("name", "required"))
	}
	if r.Trigger == "" {
		problems = append(problems, r.Errorf("trigger", "required"))
	} else if !triggers[r.Trigger] {
		problems = append(problems, r.Errorf("trigger", "unknown trigger %q", r.Trigger))
	}
	for _, field := range []struct{ name, value, hint string }{
		{"when", r.When, ` (use "true" to match every event)`}, {"query", r.Query, ""}, {"reason", r.Reason, ""},
	} {
		if strings.TrimSpace(field.value) == "" {
			problems = append(problems, r.Errorf(field.name, "required%s", field.hint))
		}
	}
	problems = append(problems, r.validateAction()...)
	if r.Guards.MaxWorkflows < 0 {
		problems = append(problems, r.Errorf("guards.max_workflows", "must not be negative"))
	}
	if rate := r.Guards.Rate; rate != nil && (rate.Launches <= 0 || rate.Per <= 0) {
		problems = append(problems, r.Errorf("guards.rate", "launches and per must both be positive"))
	}
	// The action's options and the engine are validated once, by
	// batch.RuleOperation, in the loader.
	return problems
}

func (r *Rule) validateAction() Problems {
	ops := r.operations()
	switch {
	case len(ops) == 0:
		return Problems{r.Errorf("", "an action is required: signal, terminate, cancel, delete, reset, update_options, "+
			"pause_activities, unpause_activities, reset_activities or update_activity_options")}
	case len(ops) > 1:
		// Point at the action that comes last in the file: the one added.
		last := ops[0]
		for _, op := range ops[1:] {
			if lineOf(r.Lines, op, 0) > lineOf(r.Lines, last, 0) {
				last = op
			}
		}
		return Problems{r.Errorf(last, "one action per rule, got %s", strings.Join(ops, " and "))}
	}
	return nil
}
