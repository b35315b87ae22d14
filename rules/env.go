package rules

import (
	"context"
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
	"github.com/batchwire/batchwire/internal/jsonvalue"
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

// compileExpr parses, type-checks and plans one expression.
func compileExpr(expr string) (cel.Program, *cel.Type, error) {
	env, err := celEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("build CEL environment: %w", err)
	}
	ast, issues := env.Compile(expr)
	if issues != nil && issues.Err() != nil {
		return nil, nil, issues.Err()
	}
	prg, err := env.Program(ast,
		cel.CostLimit(evalCostLimit),
		cel.InterruptCheckFrequency(interruptCheckEvery),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("plan: %w", err)
	}
	return prg, ast.OutputType(), nil
}

// activation holds one event's variables. It is built once per Evaluate call
// and shared by every rule, so the event is converted and its data decoded
// once however many rules read them. It belongs to one goroutine: Evaluate
// runs the rules of one call in sequence.
type activation struct {
	// ctx ends at the deadline of the rule being evaluated (EvalTimeout).
	ctx   context.Context
	event ref.Val
	now   ref.Val
	// data is decoded on first use: rules that fail on event attributes
	// alone then never pay for decoding the payload.
	data    ref.Val
	dataEv  *cloudevents.Event
	decoded bool
}

var _ interpreter.FunctionActivation = (*activation)(nil)

func newActivation(ev *cloudevents.Event, now time.Time) *activation {
	return &activation{
		event:  types.NewStringInterfaceMap(types.DefaultTypeAdapter, eventAttributes(ev)),
		now:    types.Timestamp{Time: now.UTC()},
		dataEv: ev,
	}
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		return a.event, true
	case "data":
		if !a.decoded && a.dataEv != nil {
			a.data, a.decoded = eventData(a.dataEv), true
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

func (a *activation) nowFunc(string, ...ref.Val) ref.Val { return a.now }

// eventAttributes flattens the context attributes and extensions into one
// map. Optional attributes that are unset are left out, so reading them is an
// error and has() tells whether they are present.
func eventAttributes(ev *cloudevents.Event) map[string]any {
	exts := ev.Extensions()
	attrs := make(map[string]any, len(exts)+8)
	for name, value := range exts {
		attrs[name] = extensionValue(value)
	}
	attrs["id"] = ev.ID()
	attrs["source"] = ev.Source()
	attrs["type"] = ev.Type()
	attrs["specversion"] = ev.SpecVersion()
	setIfPresent(attrs, "subject", ev.Subject())
	setIfPresent(attrs, "datacontenttype", ev.DataContentType())
	setIfPresent(attrs, "dataschema", ev.DataSchema())
	if t := ev.Time(); !t.IsZero() {
		attrs["time"] = t.UTC()
	}
	return attrs
}

func setIfPresent(attrs map[string]any, name, value string) {
	if value != "" {
		attrs[name] = value
	}
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
	decoded, err := jsonvalue.Decode(raw)
	if err != nil {
		return types.NewErr("event data is not valid JSON: %v", err)
	}
	return types.DefaultTypeAdapter.NativeToValue(exactIntegers(decoded))
}

// exactIntegers keeps every JSON integer exact. CEL reads a json.Number that
// does not fit an int64 as a double, which would render 18446744073709551617
// as 18446744073709551616: an integer that fits a uint64 becomes a uint, a
// larger one an error value, which fails only the rules that read it.
func exactIntegers(v any) any {
	switch val := v.(type) {
	case map[string]any:
		for k, elem := range val {
			val[k] = exactIntegers(elem)
		}
	case []any:
		for i, elem := range val {
			val[i] = exactIntegers(elem)
		}
	case json.Number:
		return exactInteger(val)
	}
	return v
}

func exactInteger(n json.Number) any {
	if _, err := n.Int64(); err == nil || strings.ContainsAny(string(n), ".eE") {
		return n
	}
	if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		return u
	}
	return types.NewErr("integer %s does not fit in 64 bits; send it as a string", n)
}

// isJSONContentType treats an unset content type as JSON: webhooks mapped
// to events often do not set one.
func isJSONContentType(contentType string) bool {
	if contentType == "" {
		return true
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || mediaType == "text/json" ||
		strings.HasSuffix(mediaType, "+json")
}
