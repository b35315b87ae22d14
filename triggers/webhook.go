package triggers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/jsonvalue"
)

const (
	// webhookCostLimit bounds the work of one expression: the body is
	// bounded, but a comprehension over it is not. One million units is well
	// under a tenth of a second of CPU.
	webhookCostLimit = 1_000_000
	// maxWebhookExpression bounds an expression's size, in code points; it
	// only guards against a pasted blob.
	maxWebhookExpression = 16 << 10
)

// webhookEnv declares what a mapping expression can read:
//
//   - body: the JSON body, decoded; integers are CEL ints, so
//     string(body.id) gives "27335", not a float's text;
//   - headers: the request headers, lower-case names to their first value;
//   - body_sha256: the hex SHA-256 of the raw body, an id for payloads that
//     carry none (go-feature-flag). Identical bodies share it, so a re-send
//     is a duplicate, but so is a later notification with the same content.
//
// A cel.Env is immutable and safe for concurrent use, so it is built once.
var webhookEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("body", cel.DynType),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("body_sha256", cel.StringType),
		// JSON numbers arrive as int or double depending on their text.
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxWebhookExpression),
	)
})

// webhookField is one compiled mapping expression.
type webhookField struct {
	name string
	prg  cel.Program
}

// webhook maps any JSON body to a CloudEvent: CEL expressions give id, type,
// source and optionally subject, and the body becomes the event's data.
// Examples for the payloads in testdata/events:
//
//	Flipt audit:     id: body.timestamp + "/" + body.payload.key
//	                 type: "flipt." + body.type + "." + body.action
//	                 source: "flipt"
//	Unleash:         id: string(body.id)
//	                 type: "unleash." + body.type
//	                 source: "unleash/" + body.project
//	go-feature-flag: id: body_sha256
//	                 type: "gofeatureflag.flags.changed"
//	                 source: "go-feature-flag/" + body.meta.hostname
//	                 signature: {header: X-Hub-Signature-256, prefix: "sha256="}
type webhook struct {
	fields    []webhookField // id (unless standard is set), type, source, then subject when set
	signature *signatureCheck
	// standard, when set, makes the signed webhook-id the event id and lets
	// the mapping read only the headers the signature covers.
	standard *standardWebhookCheck
}

// FieldError is an error about one field of a trigger, such as
// http.webhook.id, so that the loader can say where it stands.
type FieldError = config.FieldError

var fieldErrorf = config.FieldErrorf

// newWebhook compiles the mapping and loads the signing secret. Its errors
// are *FieldError, joined when there are several.
func newWebhook(cfg *config.Webhook) (*webhook, error) {
	if cfg == nil {
		return nil, fieldErrorf("http.webhook", "required for format webhook")
	}
	exprs := []struct{ name, expr string }{{"id", cfg.ID}, {"type", cfg.Type}, {"source", cfg.Source}}
	hook := &webhook{}
	var errs []error
	if cfg.StandardWebhooks != nil {
		exprs = exprs[1:]
		if strings.TrimSpace(cfg.ID) != "" {
			errs = append(errs, fieldErrorf("http.webhook.id", "must be empty with standard_webhooks: the event id is the signed webhook-id header"))
		}
		check, err := newStandardWebhookCheck(cfg.StandardWebhooks)
		errs = append(errs, err)
		hook.standard = check
	}
	if strings.TrimSpace(cfg.Subject) != "" {
		exprs = append(exprs, struct{ name, expr string }{"subject", cfg.Subject})
	}
	for _, e := range exprs {
		field, err := compileWebhookField(e.name, e.expr)
		errs = append(errs, err)
		hook.fields = append(hook.fields, field)
	}
	if cfg.Signature != nil {
		check, err := newSignatureCheck(cfg.Signature)
		errs = append(errs, err)
		hook.signature = check
		if readsHeaders(cfg.ID) {
			// The signature covers the body only: with the id from a header, an
			// old signed body sent again with a new header value would be a
			// new event.
			errs = append(errs, fieldErrorf("http.webhook.id", "reads headers, which the signature does not cover, "+
				"so a signed body sent again with a new header would be a new event; map the id from the body "+
				"(or body_sha256), or use standard_webhooks, whose signed webhook-id is the event id"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hook, nil
}

// readsHeaders reports whether a mapping expression refers to headers.
func readsHeaders(expr string) bool {
	env, err := webhookEnv()
	if err != nil {
		return false
	}
	parsed, issues := env.Parse(expr)
	if issues != nil && issues.Err() != nil {
		return false
	}
	idents := ast.MatchDescendants(ast.NavigateAST(parsed.NativeRep()), ast.KindMatcher(ast.IdentKind))
	for _, ident := range idents {
		if ident.AsIdent() == "headers" {
			return true
		}
	}
	return false
}

// compileWebhookField type-checks an expression; it must yield a string, or
// a dyn value (anything read from body) that is checked when evaluated.
func compileWebhookField(name, expr string) (webhookField, error) {
	if strings.TrimSpace(expr) == "" {
		return webhookField{}, fieldErrorf("http.webhook."+name, "expression required")
	}
	env, err := webhookEnv()
	if err != nil {
		return webhookField{}, fieldErrorf("http.webhook", "build CEL environment: %w", err)
	}
	ast, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return webhookField{}, fieldErrorf("http.webhook."+name, "compile: %w", issues.Err())
	}
	if out := ast.OutputType(); !out.IsExactType(cel.StringType) && !out.IsExactType(cel.DynType) {
		return webhookField{}, fieldErrorf("http.webhook."+name, "expression yields %s, want string (use string(...))", out)
	}
	prg, err := env.Program(ast, cel.CostLimit(webhookCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return webhookField{}, fieldErrorf("http.webhook."+name, "plan: %w", err)
	}
	return webhookField{name: name, prg: prg}, nil
}

// decode checks the signature first, so an unsigned body is never parsed,
// then maps the body to one event.
func (h *webhook) decode(r *http.Request, body []byte) ([]*cloudevents.Event, error) {
	if err := requireJSON(r.Header); err != nil {
		return nil, err
	}
	headers, signedID, err := h.verify(r.Header, body)
	if err != nil {
		return nil, err
	}
	decoded, err := jsonvalue.Decode(body)
	if err != nil {
		return nil, &DecodeError{Reason: "body is not JSON", Err: err}
	}
	sum := sha256.Sum256(body)
	vars := map[string]any{"body": decoded, "headers": headers, "body_sha256": hex.EncodeToString(sum[:])}
	ev := cloudevents.NewEvent()
	if signedID != "" {
		if err := ev.Context.SetID(signedID); err != nil {
			return nil, &DecodeError{Reason: "webhook-id: " + err.Error()}
		}
	}
	for _, field := range h.fields {
		value, err := field.eval(vars)
		if err == nil {
			err = setWebhookAttribute(&ev, field.name, value)
		}
		if err != nil {
			return nil, &DecodeError{Reason: fmt.Sprintf("webhook mapping: %s: %s", field.name, err.Error())}
		}
	}
	if err := ev.SetData(cloudevents.ApplicationJSON, body); err != nil {
		return nil, &DecodeError{Reason: "set event data", Err: err}
	}
	if err := ev.Validate(); err != nil {
		return nil, &DecodeError{Reason: "webhook mapping: " + validationReason(&ev, err), Err: err}
	}
	return []*cloudevents.Event{&ev}, nil
}

// verify checks the configured signature and returns the headers the
// mapping may read and, for Standard Webhooks, the signed id.
func (h *webhook) verify(header http.Header, body []byte) (map[string]string, string, error) {
	switch {
	case h.standard != nil:
		id, err := h.standard.verify(header, body)
		if err != nil {
			return nil, "", err
		}
		return signedHeaders(header), id, nil
	case h.signature != nil:
		if err := h.signature.verify(header, body); err != nil {
			return nil, "", err
		}
	}
	return lowerHeaders(header), "", nil
}

func (f webhookField) eval(vars map[string]any) (string, error) {
	out, _, err := f.prg.Eval(vars)
	if err != nil {
		return "", err
	}
	value, ok := out.Value().(string)
	switch {
	case !ok:
		return "", fmt.Errorf("evaluated to %s, want a string", out.Type().TypeName())
	case strings.TrimSpace(value) == "":
		return "", errors.New("evaluated to an empty string")
	}
	return value, nil
}

// setWebhookAttribute uses the context's setters, which say why a value is
// refused (a source that is no URI reference); Event's own setters only
// record that the attribute is missing.
func setWebhookAttribute(ev *cloudevents.Event, name, value string) error {
	switch name {
	case "id":
		return ev.Context.SetID(value)
	case "type":
		return ev.Context.SetType(value)
	case "source":
		return ev.Context.SetSource(value)
	case "subject":
		return ev.Context.SetSubject(value)
	}
	return fmt.Errorf("unknown attribute %q", name)
}

// lowerHeaders gives expressions one spelling of each header name.
func lowerHeaders(header http.Header) map[string]string {
	lower := make(map[string]string, len(header))
	for name, values := range header {
		if len(values) > 0 {
			lower[strings.ToLower(name)] = values[0]
		}
	}
	return lower
}
