package rules

import (
	"fmt"
	"testing"

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
// gives what evaluating every rule of the trigger gives, minus rules that
// answered false, in configuration order.
func TestIndexChangesNoResult(t *testing.T) {
	whens := []string{
		`event.type == "a"`,
		`true`,
		`event.type in ["b", "c"] && event.source == "src"`,
		`event.type == "a" && data.missing == 1`, // an error for type a; false for others
		`event.type == "c" || event.type == "a"`,
		`event.type == "b"`,
		`data.missing == 1 && event.type == "b"`,
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
			if e := r.evaluate(act, "flags", &ev); e.Matched || e.Err != nil {
				all = append(all, fmt.Sprintf("%s matched=%v err=%v", r.Name, e.Matched, e.Err != nil))
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
