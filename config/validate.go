package config

import (
	"errors"
	"fmt"
	"strings"
)

// Validate checks every field and returns all problems at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Temporal.TLS.Disabled && c.Temporal.TLS.Enabled() {
		errs = append(errs, errors.New("temporal.tls: disabled, yet TLS files or options are set"))
	}
	if (c.Temporal.TLS.CertFile == "") != (c.Temporal.TLS.KeyFile == "") {
		errs = append(errs, errors.New("temporal.tls: cert_file and key_file must be set together"))
	}
	if r := c.Launch.MaxFailureRatio; r < 0 || r >= 1 {
		errs = append(errs, fmt.Errorf("launch.max_failure_ratio: want 0 (off) or a fraction below 1, got %g", r))
	}
	triggers := map[string]bool{}
	for i := range c.Triggers {
		t := &c.Triggers[i]
		if err := t.validate(); err != nil {
			errs = append(errs, fmt.Errorf("triggers[%d] (line %d): %w", i, t.Line, err))
			continue
		}
		if triggers[t.Name] {
			errs = append(errs, fmt.Errorf("triggers[%d] (line %d): duplicate trigger name %q", i, t.Line, t.Name))
		}
		triggers[t.Name] = true
	}
	rules := map[string]bool{}
	for i := range c.Rules {
		r := &c.Rules[i]
		if err := r.validate(triggers); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d] %q (line %d): %w", i, r.Name, r.Line, err))
			continue
		}
		if rules[r.Name] {
			errs = append(errs, fmt.Errorf("rules[%d] (line %d): duplicate rule name %q", i, r.Line, r.Name))
		}
		rules[r.Name] = true
	}
	return errors.Join(errs...)
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

func (h *HTTPTrigger) validate(trigger string) error {
	switch {
	case !strings.HasPrefix(h.Path, "/") || strings.HasPrefix(h.Path, "/-/") || h.Path == "/metrics":
		return fmt.Errorf("trigger %q: http.path: want an absolute path outside /-/ and /metrics, got %q", trigger, h.Path)
	case h.Format != "cloudevents" && h.Format != "alertmanager" && h.Format != "webhook":
		return fmt.Errorf("trigger %q: http.format: want cloudevents, alertmanager or webhook, got %q", trigger, h.Format)
	case h.Format == "webhook" && (h.Webhook == nil || h.Webhook.ID == "" || h.Webhook.Type == "" || h.Webhook.Source == ""):
		return fmt.Errorf("trigger %q: http.webhook: id, type and source expressions are required for format webhook", trigger)
	case h.Format != "webhook" && h.Webhook != nil:
		return fmt.Errorf("trigger %q: http.webhook: only for format webhook", trigger)
	}
	if h.Webhook != nil && h.Webhook.Signature != nil {
		sig := h.Webhook.Signature
		if sig.Header == "" || (sig.SecretFile == "") == (sig.SecretEnv == "") {
			return fmt.Errorf("trigger %q: http.webhook.signature: header and one of secret_file or secret_env are required", trigger)
		}
	}
	return nil
}

func (t *Trigger) validate() error {
	if t.Name == "" {
		return errors.New("name: required")
	}
	switch {
	case countSet(t.NATS != nil, t.JetStream != nil, t.HTTP != nil) > 1:
		return fmt.Errorf("trigger %q: one source per trigger (nats, jetstream or http)", t.Name)
	case t.HTTP != nil:
		return t.HTTP.validate(t.Name)
	case t.NATS != nil:
		if strings.TrimSpace(t.NATS.Subject) == "" {
			return fmt.Errorf("trigger %q: nats.subject: required", t.Name)
		}
	case t.JetStream != nil:
		if t.JetStream.Stream == "" {
			return fmt.Errorf("trigger %q: jetstream.stream: required", t.Name)
		}
		if *t.JetStream.CreateStream && len(t.JetStream.Subjects) == 0 {
			return fmt.Errorf("trigger %q: jetstream.subjects: required to create the stream", t.Name)
		}
		if t.JetStream.Deliver != "all" && t.JetStream.Deliver != "new" {
			return fmt.Errorf("trigger %q: jetstream.deliver: want all or new, got %q", t.Name, t.JetStream.Deliver)
		}
		if t.JetStream.MaxDeliver < 1 {
			return fmt.Errorf("trigger %q: jetstream.max_deliver: must be at least 1", t.Name)
		}
	default:
		return fmt.Errorf("trigger %q: one source is required (nats, jetstream or http)", t.Name)
	}
	return nil
}

func (r *Rule) validate(triggers map[string]bool) error {
	var errs []error
	if r.Name == "" {
		errs = append(errs, errors.New("name: required"))
	}
	if r.Trigger == "" {
		errs = append(errs, errors.New("trigger: required"))
	} else if !triggers[r.Trigger] {
		errs = append(errs, fmt.Errorf("trigger: unknown trigger %q", r.Trigger))
	}
	if strings.TrimSpace(r.When) == "" {
		errs = append(errs, errors.New("when: required (use \"true\" to match every event)"))
	}
	if strings.TrimSpace(r.Query) == "" {
		errs = append(errs, errors.New("query: required"))
	}
	if strings.TrimSpace(r.Reason) == "" {
		errs = append(errs, errors.New("reason: required"))
	}
	errs = append(errs, r.validateAction()...)
	if r.Guards.MaxWorkflows < 0 {
		errs = append(errs, errors.New("guards.max_workflows: must not be negative"))
	}
	if rate := r.Guards.Rate; rate != nil && (rate.Launches <= 0 || rate.Per <= 0) {
		errs = append(errs, errors.New("guards.rate: launches and per must both be positive"))
	}
	switch r.Engine {
	case "", "auto", "server", "client":
	default:
		errs = append(errs, fmt.Errorf("engine: want server, client or auto, got %q", r.Engine))
	}
	return errors.Join(errs...)
}

func (r *Rule) validateAction() []error {
	ops := r.operations()
	switch {
	case len(ops) == 0:
		return []error{errors.New("an action is required: signal, terminate, cancel, delete or reset")}
	case len(ops) > 1:
		return []error{fmt.Errorf("one action per rule, got %s", strings.Join(ops, " and "))}
	case r.Signal != nil && strings.TrimSpace(r.Signal.Name) == "":
		return []error{errors.New("signal.name: required")}
	case r.Reset != nil:
		return r.Reset.validate(r.Engine)
	}
	return nil
}

var resetTypes = map[string]bool{"FirstWorkflowTask": true, "LastWorkflowTask": true, "BuildId": true,
	"LastContinuedAsNew": true, "WorkflowExecutionSignaled": true}

func (a *ResetAction) validate(engine string) []error {
	var errs []error
	if !resetTypes[a.Type] {
		errs = append(errs, fmt.Errorf("reset.type: want FirstWorkflowTask, LastWorkflowTask, BuildId, "+
			"LastContinuedAsNew or WorkflowExecutionSignaled, got %q", a.Type))
	}
	if a.Type == "BuildId" && a.BuildID == "" {
		errs = append(errs, errors.New("reset.build_id: required for type BuildId"))
	}
	if engine == "server" && a.ClientOnly() {
		errs = append(errs, fmt.Errorf("engine: server cannot run reset type %s with these options; use client or auto", a.Type))
	}
	for _, e := range a.ExcludeReapply {
		switch e {
		case "signal", "update", "cancel_request", "nexus":
		default:
			errs = append(errs, fmt.Errorf("reset.exclude_reapply: unknown %q (want signal, update, cancel_request, nexus)", e))
		}
	}
	return errs
}

// ClientOnly reports whether only the client-side engine can run this reset.
func (a *ResetAction) ClientOnly() bool {
	switch a.Type {
	case "FirstWorkflowTask", "LastWorkflowTask", "BuildId":
		return a.OnlyNonDeterministic || a.BadBinaryChecksum != ""
	}
	return true
}
