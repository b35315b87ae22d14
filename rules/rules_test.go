package rules

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func signalRule(name, when, query string) config.Rule {
	return config.Rule{
		Name: name, Trigger: "flags", Namespace: "default",
		When: when, Query: query, Reason: "rule " + name,
		Signal: &config.SignalAction{Name: "flag-changed"},
	}
}

func TestEvaluateFlagChanges(t *testing.T) {
	broadcast := signalRule("broadcast-test-flag2",
		`event.type == "flag.changed" && "test-flag2" in data.flags.updated`,
		`WorkflowType = 'FlagAware' AND ExecutionStatus = 'Running' AND FlagKey IN {{ data.flags.updated.map(k, k) }}`)
	broadcast.Reason = "flags changed on {{ data.meta.hostname }} (event {{ event.id }})"
	broadcast.Signal.Input = map[string]any{
		"flag":       "test-flag2",
		"disable":    "{{ data.flags.updated['test-flag2'].new_value.disable }}",
		"variations": "{{ data.flags.updated['test-flag2'].new_value.variations }}",
		"summary":    "{{ size(data.flags.added) }} added, {{ size(data.flags.deleted) }} deleted",
	}
	noMatch := signalRule("deleted-flag", `"test-flag" in data.flags.updated`, `FlagKey = 'test-flag'`)
	missing := signalRule("added-flag", `"test-flag3" in data.flags.added`,
		`FlagKey = {{ data.flags.added['test-flag3'].disable }}`)
	other := signalRule("other-trigger", "true", "A = 1")
	other.Trigger = "deploys"

	set, err := Compile([]config.Rule{broadcast, noMatch, missing, other})
	require.NoError(t, err)
	results := set.Evaluate("flags", flagChangesEvent(t), testNow)
	require.Len(t, results, 3)

	require.NoError(t, results[0].Err)
	require.True(t, results[0].Matched)
	action := results[0].Action
	require.Equal(t, `WorkflowType = 'FlagAware' AND ExecutionStatus = 'Running' AND FlagKey IN ('test-flag2')`, action.Query)
	require.Equal(t, "flags changed on toto (event evt-1)", action.Reason)
	require.Equal(t, "flag-changed", action.Signal.Name)
	require.JSONEq(t, `{"flag": "test-flag2", "disable": true,
		"variations": {"Default": false, "False": false, "True": true},
		"summary": "1 added, 1 deleted"}`, string(action.Signal.Input))
	require.Equal(t, JobID("broadcast-test-flag2", "https://flags.example.com/go-feature-flag", "evt-1"), action.JobID)
	require.Equal(t, "flags", action.Trigger)
	require.Equal(t, "default", action.Namespace)
	require.Equal(t, "flag.changed", action.EventType)

	require.Equal(t, Evaluation{Rule: set.Rules()[1]}, results[1])

	require.True(t, results[2].Matched, "a render error still reports the match")
	require.Nil(t, results[2].Action)
	require.ErrorContains(t, results[2].Err, `rule "added-flag": render query: placeholder {{ data.flags.added['test-flag3'].disable }} at 1:11: no such key: disable`)
}

func TestEvaluateHostileValueStaysOneLiteral(t *testing.T) {
	set, err := Compile([]config.Rule{signalRule("by-id", "true",
		`WorkflowId = {{ data.id }} AND ExecutionStatus = 'Running'`)})
	require.NoError(t, err)
	for _, hostile := range hostileStrings() {
		raw, err := jsonMarshal(map[string]any{"id": hostile})
		require.NoError(t, err)
		results := set.Evaluate("flags", newEvent(t, "1", "s", "t", raw), testNow)
		if refusedInQueries(hostile) {
			require.ErrorContains(t, results[0].Err, "cannot be a query literal")
			continue
		}
		require.NoError(t, results[0].Err)
		tokens, err := tokenizeQuery(results[0].Action.Query)
		require.NoError(t, err)
		require.Equal(t, []token{
			{value: "WorkflowId = "}, {str: true, value: hostile},
			{value: " AND ExecutionStatus = "}, {str: true, value: "Running"},
		}, tokens)
	}
	// The value that breaks quote doubling: QuoteString escapes it, and the
	// renderer refuses it anyway because SQL stores would compare another value.
	quoted, err := QuoteString(`\' OR ExecutionStatus != 0 --`)
	require.NoError(t, err)
	require.Equal(t, `'\\\' OR ExecutionStatus != 0 --'`, quoted)
	raw := []byte(`{"id": "\\' OR ExecutionStatus != 0 --"}`)
	results := set.Evaluate("flags", newEvent(t, "1", "s", "t", raw), testNow)
	require.ErrorContains(t, results[0].Err, `a string holding "\\" (byte 0) cannot be a query literal`)
}

// refusedInQueries tells which strings queryString refuses: those the server
// would compare as another value.
func refusedInQueries(s string) bool {
	return strings.HasPrefix(s, "'") || strings.HasSuffix(s, "'") || strings.ContainsAny(s, "\\\"\t\r\n\x00")
}

func TestEvaluateEventAttributes(t *testing.T) {
	ev := newEvent(t, "id-1", "/ci", "deploy.rolledback", []byte(`{"n": 1}`))
	ev.SetSubject("payments")
	ev.SetTime(testNow.Add(-time.Hour))
	ev.SetExtension("tenant", "acme")
	ev.SetExtension("attempt", 3)
	tests := []struct {
		when    string
		want    bool
		wantErr string
	}{
		{when: `event.id == "id-1" && event.source == "/ci" && event.specversion == "1.0"`, want: true},
		{when: `event.subject == "payments" && event.datacontenttype == "application/json"`, want: true},
		{when: `event.time == timestamp("2025-06-01T11:00:00Z") && now() - event.time == duration("1h")`, want: true},
		{when: `event.tenant == "acme" && event.attempt == 3`, want: true},
		{when: `data.n == 1 && data.n < 1.5`, want: true},
		{when: `has(event.dataschema)`, want: false},
		{when: `event.dataschema == ""`, wantErr: "no such key: dataschema"},
		{when: `data.n`, wantErr: "result is int, not bool"},
		{when: `data.n == 1 ? dyn("yes") : dyn(false)`, wantErr: "result is string, not bool"},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			set, err := Compile([]config.Rule{signalRule("r", tt.when, "A = 1")})
			require.NoError(t, err)
			result := set.Evaluate("flags", ev, testNow)[0]
			if tt.wantErr != "" {
				require.ErrorContains(t, result.Err, `rule "r": evaluate when: `+tt.wantErr)
				require.False(t, result.Matched)
				return
			}
			require.NoError(t, result.Err)
			require.Equal(t, tt.want, result.Matched)
		})
	}
}

func TestEvaluateData(t *testing.T) {
	set, err := Compile([]config.Rule{
		signalRule("reads-data", `data.n == 1`, "A = 1"),
		signalRule("null-data", `data == null`, "A = 1"),
		signalRule("ignores-data", `event.type == "t"`, "A = 1"),
	})
	require.NoError(t, err)
	tests := []struct {
		name        string
		contentType string
		data        string
		want        [3]bool
		wantErr     string
	}{
		{name: "json", contentType: "application/json", data: `{"n": 1}`, want: [3]bool{true, false, true}},
		{name: "json suffix", contentType: "application/cloudevents+json; charset=utf-8", data: `{"n": 1}`, want: [3]bool{true, false, true}},
		{name: "no data", want: [3]bool{false, true, true}, wantErr: "no such key: n"},
		{name: "not JSON by content type", contentType: "text/plain", data: `n=1`, want: [3]bool{false, true, true}, wantErr: "no such key: n"},
		{name: "invalid JSON", contentType: "application/json", data: `{"n": 1`, want: [3]bool{false, false, true}, wantErr: "event data is not valid JSON"},
		{name: "trailing data", contentType: "application/json", data: `{"n": 1} {}`, want: [3]bool{false, false, true}, wantErr: "unexpected data after the JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEvent(t, "1", "s", "t", nil)
			if tt.data != "" {
				require.NoError(t, ev.SetData(tt.contentType, []byte(tt.data)))
			}
			results := set.Evaluate("flags", ev, testNow)
			for i, result := range results {
				require.Equal(t, tt.want[i], result.Matched, result.Rule.Name)
			}
			if tt.wantErr != "" {
				require.ErrorContains(t, results[0].Err, tt.wantErr)
			}
			require.NoError(t, results[2].Err, "a rule that does not read data is unaffected")
		})
	}
}

func TestEvaluateOddEvents(t *testing.T) {
	set, err := Compile([]config.Rule{signalRule("r", `event.id == ""`, "A = {{ event.type }}")})
	require.NoError(t, err)
	require.Nil(t, set.Evaluate("unknown-trigger", &cloudevents.Event{}, testNow))

	results := set.Evaluate("flags", nil, testNow)
	require.ErrorContains(t, results[0].Err, `rule "r": no event`)

	results = set.Evaluate("flags", &cloudevents.Event{}, testNow)
	require.NoError(t, results[0].Err)
	require.Equal(t, "A = ''", results[0].Action.Query)
}

func TestEvaluateIsPureAndConcurrent(t *testing.T) {
	rule := signalRule("r", "true", "StartTime > {{ now() - duration('1h') }} AND Host = {{ data.meta.hostname }}")
	rule.Signal.Input = map[string]any{"at": "{{ now() }}"}
	set, err := Compile([]config.Rule{rule})
	require.NoError(t, err)
	ev := flagChangesEvent(t)
	want := set.Evaluate("flags", ev, testNow)
	require.NoError(t, want[0].Err)
	require.Equal(t, `StartTime > '2025-06-01T11:00:00Z' AND Host = 'toto'`, want[0].Action.Query)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				require.Equal(t, want, set.Evaluate("flags", ev, testNow))
			}
		})
	}
	wg.Wait()
	later := set.Evaluate("flags", ev, testNow.Add(time.Hour))
	require.Equal(t, `StartTime > '2025-06-01T12:00:00Z' AND Host = 'toto'`, later[0].Action.Query)
}

func TestCompileErrors(t *testing.T) {
	rule := func(name string, line int, edit func(*config.Rule)) config.Rule {
		r := signalRule(name, "true", "A = 1")
		r.Line = line
		edit(&r)
		return r
	}
	rules := []config.Rule{
		rule("ok", 1, func(*config.Rule) {}),
		rule("bad-when", 3, func(r *config.Rule) { r.When = `event.type + ` }),
		rule("string-when", 6, func(r *config.Rule) { r.When = `event.type` + ` + "x"` }),
		rule("bad-query", 9, func(r *config.Rule) { r.Query = "A = {{ data.a" }),
		rule("two-bad", 12, func(r *config.Rule) { r.Query = "A = {{ nope }} AND B = {{ 1 + }}"; r.Reason = "{{ }}" }),
		rule("bad-input", 15, func(r *config.Rule) {
			r.Signal.Input = map[string]any{"x": []any{"ok", "{{ nope }}"}, "y": "{{ ) }}"}
		}),
		rule("ok", 18, func(*config.Rule) {}),
	}
	_, err := Compile(rules)
	require.Error(t, err)
	var messages []string
	var problems *config.Error
	require.ErrorAs(t, err, &problems)
	for _, p := range problems.Problems {
		messages = append(messages, strings.SplitN(p.String(), "\n", 2)[0])
	}
	want := []string{
		`line 3: rule "bad-when": when: ERROR: <input>:1:14: Syntax error`,
		`line 6: rule "string-when": when: must be a bool expression, is string`,
		`line 9: rule "bad-query": query: placeholder at 1:5: unclosed {{ (no matching }})`,
		`line 12: rule "two-bad": query: placeholder {{ nope }} at 1:5: ERROR: <input>:1:1: undeclared reference to 'nope'`,
		`line 12: rule "two-bad": query: placeholder {{ 1 + }} at 1:24: ERROR: <input>:1:4: Syntax error`,
		`line 12: rule "two-bad": reason: empty placeholder at 1:1`,
		`line 15: rule "bad-input": signal.input.x[1]: placeholder {{ nope }} at 1:1: ERROR: <input>:1:1: undeclared reference to 'nope'`,
		`line 15: rule "bad-input": signal.input.y: placeholder {{ ) }} at 1:1: ERROR: <input>:1:1: Syntax error`,
		`line 18: rule "ok": name: duplicate rule name`,
	}
	require.Len(t, messages, len(want), strings.Join(messages, "\n"))
	for i := range want {
		require.True(t, strings.HasPrefix(messages[i], want[i]), "got %q\nwant prefix %q", messages[i], want[i])
	}
}

func TestRulesKeepsConfigOrderAndCopies(t *testing.T) {
	input := map[string]any{"k": "v"}
	cfg := []config.Rule{signalRule("b", "true", "A = 1"), signalRule("a", "true", "A = 1")}
	cfg[1].Signal.Input = input
	set, err := Compile(cfg)
	require.NoError(t, err)
	rules := set.Rules()
	require.Equal(t, "b", rules[0].Name)
	require.Equal(t, "a", rules[1].Name)
	require.Equal(t, "signal", rules[1].Operation)

	input["k"] = "changed"
	cfg[1].Signal.Name = "changed"
	require.Equal(t, map[string]any{"k": "v"}, rules[1].Config.Signal.Input)
	require.Equal(t, "flag-changed", rules[1].Config.Signal.Name)
	rules[0] = nil
	require.NotNil(t, set.Rules()[0])
}

func TestJobID(t *testing.T) {
	shape := regexp.MustCompile(`^batchwire-[a-z0-9-]{0,40}-[0-9a-f]{20}$`)
	id := JobID("reset-after-bad-rollout", "/ci/deploys", "evt-1")
	require.Regexp(t, shape, id)
	require.True(t, strings.HasPrefix(id, "batchwire-reset-after-bad-rollout-"))
	require.Equal(t, id, JobID("reset-after-bad-rollout", "/ci/deploys", "evt-1"))

	distinct := map[string]bool{id: true}
	for _, other := range [][3]string{
		{"reset-after-bad-rollout", "/ci/deploys", "evt-2"},
		{"reset-after-bad-rollout", "/ci/other", "evt-1"},
		{"Reset-After-Bad-Rollout", "/ci/deploys", "evt-1"},
		{"reset-after-bad-rollout", "/ci/deploysevt-1", ""},
	} {
		otherID := JobID(other[0], other[1], other[2])
		require.False(t, distinct[otherID], "collision for %v", other)
		distinct[otherID] = true
	}

	long := JobID("Ünïcode Rule_Name/with.dots and a very long tail beyond forty", "s", "i")
	require.Regexp(t, shape, long)
	require.True(t, strings.HasPrefix(long, "batchwire--n-code-rule-name-with-dots-and-a-very-"), long)
}

func TestResultErrorsWrap(t *testing.T) {
	set, err := Compile([]config.Rule{signalRule("r", "true", "A = {{ data.x }}")})
	require.NoError(t, err)
	result := set.Evaluate("flags", newEvent(t, "1", "s", "t", []byte(`{}`)), testNow)[0]
	require.Error(t, result.Err)
	require.NotNil(t, errors.Unwrap(result.Err), "render errors are wrapped with %%w")
}

// TestEvaluateCostIsBounded shows that a large event cannot make a rule run
// unbounded, in time or in memory: loops hit the cost limit, and calls whose
// output outgrows their input are refused before they run.
func TestEvaluateCostIsBounded(t *testing.T) {
	raw, err := jsonMarshal(map[string]any{"items": make([]int, 3000), "s": strings.Repeat("a", 1<<20)})
	require.NoError(t, err)
	repeat := signalRule("render-repeated", "true", "A IN {{ data.items.map(x, data.s) }}")
	repeat.Reason = "{{ data.items.map(x, data.s) }}"
	tests := []struct {
		rule    config.Rule
		wantErr string
		orErr   string
	}{
		// Whichever comes first on a busy machine: the cost limit or the deadline.
		{rule: signalRule("quadratic", `data.items.all(x, data.items.all(y, x == y))`, "A = 1"), wantErr: "cost limit exceeded", orErr: "evaluation deadline"},
		{rule: signalRule("replace", `data.s.replace("a", data.s) != ""`, "A = 1"), wantErr: "replace would build a string of about 1099511627776 bytes"},
		{rule: signalRule("join", `data.items.map(x, data.s).join(",") != ""`, "A = 1"), wantErr: "join would build a string"},
		{rule: signalRule("format", `"%s".format([data.items.map(x, data.s)]) != ""`, "A = 1"), wantErr: "format would build a string"},
		{rule: repeat, wantErr: "render query: placeholder {{ data.items.map(x, data.s) }} at 1:6: value would render to about"},
	}
	for _, tt := range tests {
		t.Run(tt.rule.Name, func(t *testing.T) {
			set, err := Compile([]config.Rule{tt.rule})
			require.NoError(t, err)
			start := time.Now()
			result := set.Evaluate("flags", newEvent(t, "1", "s", "t", raw), testNow)[0]
			require.Error(t, result.Err)
			msg := result.Err.Error()
			require.True(t, strings.Contains(msg, tt.wantErr) || tt.orErr != "" && strings.Contains(msg, tt.orErr), msg)
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

func TestGuardedStringsKeepTheirMeaning(t *testing.T) {
	rule := signalRule("strings", `true`,
		`A = {{ "a-b-c".replace("-", "+") + "a-b-c".replace("-", "", 1) + ["x", "y"].join() + ["x", "y"].join("/") + "%s=%d".format(["k", 3]) }}`)
	set, err := Compile([]config.Rule{rule})
	require.NoError(t, err)
	result := set.Evaluate("flags", newEvent(t, "1", "s", "t", nil), testNow)[0]
	require.NoError(t, result.Err)
	require.Equal(t, `A = 'a+b+cab-cxyx/yk=3'`, result.Action.Query)
}

// Rules that write the same expression share one compiled program, and
// still render each their own text around it.
func TestRulesShareCompiledExpressions(t *testing.T) {
	cfg := []config.Rule{
		signalRule("a", `data.tenant == "x"`, "A = {{ data.tenant }}"),
		signalRule("b", `data.tenant == "y"`, "B = {{ data.tenant }}"),
	}
	cfg[1].Reason = "for {{ data.tenant }}"
	set, err := Compile(cfg)
	require.NoError(t, err)
	a, b := set.Rules()[0], set.Rules()[1]
	require.True(t, a.query.places[0].prg.prg == b.query.places[0].prg.prg, "one program for {{ data.tenant }}")
	require.True(t, a.query.places[0].prg.prg == b.reason.places[0].prg.prg, "one program for {{ data.tenant }}")
	require.False(t, a.when.prg == b.when.prg, "different expressions, different programs")

	ev := cloudevents.NewEvent()
	ev.SetID("1")
	ev.SetSource("test")
	ev.SetType("t")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, map[string]any{"tenant": "y"}))
	evals := set.Evaluate(cfg[1].Trigger, &ev, time.Unix(0, 0))
	require.Len(t, evals, 2)
	require.False(t, evals[0].Matched)
	require.True(t, evals[1].Matched)
	require.Equal(t, "B = 'y'", evals[1].Action.Query)
	require.Equal(t, "for y", evals[1].Action.Reason)
}
