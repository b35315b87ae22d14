package rules

import (
	"fmt"
	"testing"

	"cel.dev/cel-go/common/types"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

// whenTypes compiles a when expression for the event types it requires.
func whenTypes(t *testing.T, expr string) []string {
	t.Helper()
	_, types, err := newCompiler().when(expr)
	require.NoError(t, err, expr)
	return types
}

func TestWhenTypes(t *testing.T) {
	tests := map[string][]string{
		`event.type == "a"`:                {"a"},
		`"a" == event.type`:                {"a"},
		`event.type == "a" && data.x == 1`: {"a"},
		`data.x == 1 && (event.source == "s" && event.type == "b")`: {"b"},
		`event.type in ["a", "b"]`:                                  {"a", "b"},
		`event.type == "a" || event.type == "b"`:                    nil,
		`event.type != "a"`:                                         nil,
		`event.type in ["a", data.t]`:                               nil,
		`event.type == data.t`:                                      nil,
		`has(event.type) && true`:                                   nil,
		`event["type"] == "a"`:                                      nil,
		`true`:                                                      nil,
	}
	for expr, want := range tests {
		require.Equal(t, want, whenTypes(t, expr), expr)
	}
}

// The index changes no answer: for every event type, the indexed Evaluate
// gives what evaluating every rule's when as written gives, minus rules
// that answered false, in configuration order. Evaluate runs a typed rule
// without its type test (withoutTypeTest), so this also checks that the
// test removed was true wherever the rule is evaluated, and that what is
// left answers as the whole expression did.
func TestIndexChangesNoResult(t *testing.T) {
	whens := []string{
		`event.type == "a"`,
		`true`,
		`event.type in ["b", "c"] && event.source == "src"`,
		`event.type == "a" && data.missing == 1`, // an error for type a; false for others
		`event.type == "c" || event.type == "a"`,
		`event.type == "b"`,
		`data.missing == 1 && event.type == "b"`,
		`"a" == event.type && data.x == 1`,
		`data.x == 1 && (event.source == "src" && event.type == "c")`,
		`(event.type == "b" && data.x == 2) && event.source == "src"`,
		`event.type == "a" && data.x`,                                       // not a bool: an error for type a
		`event.type == "d" && data.x > 0`,                                   // a type no other rule has
		`event.type == "a" && [1, 2].exists(v, v == data.x) && has(data.x)`, // macros in what is left
		`event.type in ["a", "c"] && data.x in [1, 2]`,
	}
	cfgs := make([]config.Rule, len(whens))
	for i, when := range whens {
		cfgs[i] = signalRule(fmt.Sprintf("r%d", i), when, "WorkflowType = 'W' AND ExecutionStatus = 'Running'")
	}
	set, err := Compile(cfgs)
	require.NoError(t, err)
	for _, eventType := range []string{"a", "b", "c", "d"} {
		ev := cloudevents.NewEvent()
		ev.SetID("1")
		ev.SetSource("src")
		ev.SetType(eventType)
		require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, map[string]int{"x": 1}))

		var all []string
		act := newActivation(&ev, testNow)
		for _, r := range set.Rules() {
			if matched, err := evaluateAsWritten(t, r.Config.When, act); matched || err != nil {
				all = append(all, fmt.Sprintf("%s matched=%v err=%v", r.Name, matched, err != nil))
			}
		}
		var indexed []string
		evaluated := 0
		for _, e := range set.Evaluate("flags", &ev, testNow) {
			evaluated++
			if e.Matched || e.Err != nil {
				indexed = append(indexed, fmt.Sprintf("%s matched=%v err=%v", e.Rule.Name, e.Matched, e.Err != nil))
			}
		}
		require.Equal(t, all, indexed, "event type %s", eventType)
		require.Less(t, evaluated, len(whens), "event type %s: the index skipped rules", eventType)
	}
}

// evaluateAsWritten evaluates a when expression whole, type test included,
// as a rule's when answers.
func evaluateAsWritten(t *testing.T, when string, act *activation) (bool, error) {
	t.Helper()
	checked, err := checkExpr(when)
	require.NoError(t, err, when)
	prg, err := planExpr(checked)
	require.NoError(t, err, when)
	return matches(prg, act)
}

// A typed rule's when is planned without its type test, so Evaluate does
// not test again what the index decided: evaluated on its own for an event
// of another type, it answers as if the type matched.
func TestTypedWhenRunsWithoutItsTypeTest(t *testing.T) {
	ev := newEvent(t, "1", "src", "other", []byte(`{"x": 1}`))
	for when, want := range map[string]bool{
		`event.type == "a"`:                          true,
		`event.type == "a" && data.x == 1`:           true,
		`data.x == 1 && event.type in ["a", "b"]`:    true,
		`event.type == "a" && data.x == 2`:           false,
		`event.type == "a" || data.x == 1`:           true, // no type required: kept whole
		`event.type == "a" || data.x == 2`:           false,
		`event.source == "src" && event.type == "a"`: true,
	} {
		prg, _, err := newCompiler().when(when)
		require.NoError(t, err, when)
		out, err := evalProgram(prg, newActivation(ev, testNow))
		require.NoError(t, err, when)
		require.Equal(t, types.Bool(want), out, when)
	}
}

// 1000 rules over 100 event types: an event is evaluated against its type's
// rules only.
func TestIndexEvaluatesAboutTenOfAThousand(t *testing.T) {
	cfgs := make([]config.Rule, 1000)
	for i := range cfgs {
		cfgs[i] = signalRule(fmt.Sprintf("r%d", i), fmt.Sprintf(`event.type == "type-%d" && data.x == 1`, i%100),
			"WorkflowType = 'W' AND ExecutionStatus = 'Running'")
	}
	set, err := Compile(cfgs)
	require.NoError(t, err)
	ev := cloudevents.NewEvent()
	ev.SetID("1")
	ev.SetSource("src")
	ev.SetType("type-7")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, map[string]int{"x": 1}))
	evals := set.Evaluate("flags", &ev, testNow)
	require.Len(t, evals, 10)
	for _, e := range evals {
		require.True(t, e.Matched, e.Rule.Name)
	}
}
