package rules

import (
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	cetypes "github.com/cloudevents/sdk-go/v2/types"
)

const (
	// maxExpressionSize bounds one expression, in code points. Expressions
	// come from the operator, so this only guards against a pasted blob.
	maxExpressionSize = 16 << 10
	// evalCostLimit bounds the work of one evaluation. Cost grows with the
	// size of the strings and lists an event carries, so without a limit a
	// large or crafted payload could make a comprehension run for minutes.
	// One million units is well under a tenth of a second of CPU.
	evalCostLimit = 1_000_000
)

// celEnv is built once: a cel.Env is immutable and safe for concurrent use.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	stringLib, err := guardedStrings()
	if err != nil {
		return nil, fmt.Errorf("string library: %w", err)
	}
	return cel.NewEnv(append(stringLib,
		cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("data", cel.DynType),
		// now() is late-bound so that the evaluation time is an input of each
		// evaluation, keeping rendering a pure function of (rule, event, now).
		cel.Function("now", cel.Overload("now_timestamp", nil, cel.TimestampType,
			cel.LateFunctionBinding())),
		// JSON numbers arrive as int or double depending on their text, so
		// `data.percent > 0.5` must work whichever one the sender wrote.
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		cel.ParserExpressionSizeLimit(maxExpressionSize),
		cel.ASTValidators(constantRegexes{}, cel.ValidateRegexLiterals()),
	)...)
})

// compiler compiles the expressions of one set of rules, planning each
// distinct expression once: a placeholder that many rules write, such as
// {{ data.tenant }} or {{ event.id }}, is then one program that they share
// (a cel.Program is immutable and safe for concurrent use), where each
// copy held about 1 KiB.
type compiler struct {
	exprs map[string]compiledExpr
}

type compiledExpr struct {
	checked *cel.Ast
	// prg is planned when first asked for: a typed when is planned without
	// its type test instead (compiler.when).
	prg *program
	err error
}

func newCompiler() *compiler { return &compiler{exprs: map[string]compiledExpr{}} }

// check parses and type-checks expr, or returns what it did before. The
// checked ASTs stay only as long as the compiler, the time of one
// CompileAll.
func (c *compiler) check(expr string) (*cel.Ast, error) {
	if done, ok := c.exprs[expr]; ok {
		return done.checked, done.err
	}
	checked, err := checkExpr(expr)
	c.exprs[expr] = compiledExpr{checked: checked, err: err}
	return checked, err
}

// expr checks and plans expr, or returns the program it planned before.
func (c *compiler) expr(expr string) (program, error) {
	checked, err := c.check(expr)
	if err != nil {
		return program{}, err
	}
	done := c.exprs[expr]
	if done.prg == nil {
		prg, err := planExpr(checked)
		if err != nil {
			return program{}, err
		}
		done.prg = &prg
		c.exprs[expr] = done
	}
	return *done.prg, nil
}

// checkExpr parses and type-checks one expression.
func checkExpr(expr string) (*cel.Ast, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("build CEL environment: %w", err)
	}
	checked, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return nil, issues.Err()
	}
	return checked, nil
}

// planExpr plans a checked expression.
func planExpr(checked *cel.Ast) (program, error) {
	env, err := celEnv()
	if err != nil {
		return program{}, fmt.Errorf("build CEL environment: %w", err)
	}
	folds := hasComprehensions(checked)
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if folds {
		// Only a comprehension can loop: it alone needs the cost limit and
		// the deadline, whose bookkeeping costs allocations on every
		// evaluation. Without one, an expression's work is bounded by its
		// own size and the event's.
		opts = append(opts, cel.CostLimit(evalCostLimit), cel.InterruptCheckFrequency(interruptCheckEvery))
	}
	prg, err := env.Program(checked, opts...)
	if err != nil {
		return program{}, fmt.Errorf("plan: %w", err)
	}
	return program{prg: prg, folds: folds}, nil
}

// activation holds one event's variables. It is built once per Evaluate call
// and shared by every rule, so the event is converted and its data decoded
// once however many rules read them. It belongs to one goroutine: Evaluate
// runs the rules of one call in sequence.
type activation struct {
	// deadline ends the evaluation of the rule under way (EvalTimeout).
	deadline time.Time
	ev       *cloudevents.Event
	// event, data and now are built on first use: a rule whose type test
	// the index has decided may read neither the attributes nor the clock,
	// and rules that fail on event attributes alone never pay for decoding
	// the payload.
	event   ref.Val
	data    ref.Val
	decoded bool
	now     ref.Val
	nowTime time.Time
	// eventMap and attrs hold event, in the activation's own allocation.
	eventMap fieldMap
	attrs    [8]field
}

var _ interpreter.FunctionActivation = (*activation)(nil)

func newActivation(ev *cloudevents.Event, now time.Time) *activation {
	return &activation{ev: ev, nowTime: now}
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		if a.event == nil {
			a.eventMap.init(appendEventAttributes(a.attrs[:0], a.ev))
			a.event = &a.eventMap
		}
		return a.event, true
	case "data":
		if !a.decoded && a.ev != nil {
			a.data, a.decoded = eventData(a.ev), true
		}
		return a.data, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation.
func (a *activation) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	if name == "now" {
		return a.nowFunc, true
	}
	return nil, false
}

func (a *activation) nowFunc(string, ...ref.Val) ref.Val {
	if a.now == nil {
		a.now = types.Timestamp{Time: a.nowTime.UTC()}
	}
	return a.now
}

// appendEventAttributes appends the context attributes and extensions of
// ev to attrs as CEL fields; the attributes come last, so that an
// extension cannot take an attribute's name. Optional attributes that are
// unset are left out, so reading them is an error and has() tells whether
// they are present.
func appendEventAttributes(attrs []field, ev *cloudevents.Event) []field {
	for name, value := range ev.Extensions() {
		attrs = append(attrs, field{name, types.DefaultTypeAdapter.NativeToValue(extensionValue(value))})
	}
	attrs = append(attrs,
		field{"id", types.String(ev.ID())},
		field{"source", types.String(ev.Source())},
		field{"type", types.String(ev.Type())},
		field{"specversion", types.String(ev.SpecVersion())})
	attrs = appendIfPresent(attrs, "subject", ev.Subject())
	attrs = appendIfPresent(attrs, "datacontenttype", ev.DataContentType())
	attrs = appendIfPresent(attrs, "dataschema", ev.DataSchema())
	if t := ev.Time(); !t.IsZero() {
		attrs = append(attrs, field{"time", types.Timestamp{Time: t.UTC()}})
	}
	return attrs
}

func appendIfPresent(attrs []field, name, value string) []field {
	if value == "" {
		return attrs
	}
	return append(attrs, field{name, types.String(value)})
}

// extensionValue maps a CloudEvents attribute value to a CEL-friendly one.
func extensionValue(value any) any {
	canonical, err := cetypes.Validate(value)
	if err != nil {
		return fmt.Sprint(value)
	}
	switch v := canonical.(type) {
	case nil, bool, string, []byte:
		return v
	case int32:
		return int64(v)
	case cetypes.Timestamp:
		return v.UTC()
	}
	text, err := cetypes.Format(canonical)
	if err != nil {
		return fmt.Sprint(canonical)
	}
	return text
}

// eventData decodes the payload. Absent or explicitly non-JSON data is null;
// data that should be JSON but is not becomes an error value, which fails only
// the rules that actually read it.
func eventData(ev *cloudevents.Event) ref.Val {
	raw := ev.Data()
	if len(raw) == 0 || !isJSONContentType(ev.DataContentType()) {
		return types.NullValue
	}
	decoded, err := decodeJSON(raw)
	if err != nil {
		return types.NewErr("event data is not valid JSON: %v", err)
	}
	return decoded
}

// celValue converts JSON decoded by encoding/json into CEL values: the
// meaning decodeJSON keeps in one pass, and the reference its tests and
// fuzzing compare it with. Every JSON integer stays
// exact: CEL reads a json.Number that does not fit an int64 as a double,
// which would render 18446744073709551617 as 18446744073709551616, so one
// that fits a uint64 becomes a uint, a larger one an error value, which
// fails only the rules that read it.
func celValue(v any) ref.Val {
	switch val := v.(type) {
	case map[string]any:
		m := make(map[ref.Val]ref.Val, len(val))
		for k, elem := range val {
			m[types.String(k)] = celValue(elem)
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	case []any:
		list := make([]ref.Val, len(val))
		for i, elem := range val {
			list[i] = celValue(elem)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, list)
	case json.Number:
		return exactInteger(val)
	case string:
		return types.String(val)
	case bool:
		return types.Bool(val)
	case nil:
		return types.NullValue
	}
	return types.DefaultTypeAdapter.NativeToValue(v)
}

func exactInteger(n json.Number) ref.Val {
	if i, err := n.Int64(); err == nil {
		return types.Int(i)
	}
	if strings.ContainsAny(string(n), ".eE") {
		if f, err := n.Float64(); err == nil {
			return types.Double(f)
		}
	}
	if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return types.Uint(u)
	}
	return types.NewErr("integer %s does not fit in 64 bits; send it as a string", n)
}

// isJSONContentType treats an unset content type as JSON: webhooks mapped
// to events often do not set one.
func isJSONContentType(contentType string) bool {
	if contentType == "" || contentType == "application/json" {
		return true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || mediaType == "text/json" ||
		strings.HasSuffix(mediaType, "+json")
}
