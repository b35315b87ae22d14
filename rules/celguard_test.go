package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

// A regex taken from the event is a compile error, wherever it stands; a
// literal one compiles (and an invalid literal is refused at load too).
func TestMatchesNeedsALiteralPattern(t *testing.T) {
	tests := []struct {
		name, when, query, wantErr string
	}{
		{name: "member, data pattern", when: `data.s.matches(data.re)`, wantErr: "must be a string literal"},
		{name: "global, data pattern", when: `matches(data.s, data.re)`, wantErr: "must be a string literal"},
		{name: "built pattern", when: `data.s.matches("^" + data.re)`, wantErr: "must be a string literal"},
		{name: "in a placeholder", when: `true`, query: `A = {{ data.s.matches(event.id) }}`, wantErr: "must be a string literal"},
		{name: "invalid literal", when: `data.s.matches("(")`, wantErr: "invalid matches argument"},
		{name: "literal", when: `data.s.matches("^a+$") && matches(data.s, "a")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query := tt.query
			if query == "" {
				query = "A = 1"
			}
			_, err := Compile([]config.Rule{signalRule("r", tt.when, query)})
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// A rule whose evaluation outlasts the deadline is stopped with an error
// that says so, even when it stays under the cost limit.
func TestEvaluationStopsAtTheDeadline(t *testing.T) {
	evalTimeout = time.Millisecond
	t.Cleanup(func() { evalTimeout = EvalTimeout })
	raw, err := jsonMarshal(map[string]any{"items": make([]int, 300)})
	require.NoError(t, err)
	slow := signalRule("slow", `data.items.all(x, data.items.all(y, x == y))`, "A = 1")
	set, err := Compile([]config.Rule{slow})
	require.NoError(t, err)
	start := time.Now()
	result := set.Evaluate("flags", newEvent(t, "1", "s", "t", raw), testNow)[0]
	require.ErrorContains(t, result.Err, "stopped at the evaluation deadline of 1ms")
	require.Less(t, time.Since(start), time.Second)
}

// JSON integers stay exact: one past int64 is a uint, one past uint64 is an
// error for the rules that read it, never a rounded double.
func TestLargeIntegersStayExact(t *testing.T) {
	raw := []byte(`{"u64": 18446744073709551615, "big": 18446744073709551617, "neg": -9223372036854775809, "f": 1.5e3, "ok": 1}`)
	tests := []struct{ query, want, wantErr string }{
		{query: `Big = {{ data.u64 }}`, want: `Big = 18446744073709551615`},
		{query: `Big = {{ data.big }}`, wantErr: "integer 18446744073709551617 does not fit in 64 bits"},
		{query: `Big = {{ data.neg }}`, wantErr: "does not fit in 64 bits"},
		{query: `F = {{ data.f }} AND N = {{ data.ok }}`, want: `F = 1500 AND N = 1`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			set, err := Compile([]config.Rule{signalRule("r", "true", tt.query)})
			require.NoError(t, err)
			result := set.Evaluate("flags", newEvent(t, "1", "s", "t", raw), testNow)[0]
			if tt.wantErr != "" {
				require.ErrorContains(t, result.Err, tt.wantErr)
				return
			}
			require.NoError(t, result.Err)
			require.Equal(t, tt.want, result.Action.Query)
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	a, err := CanonicalQuery(`Tenant = "acme"   AND WorkflowId IN ('w2', 'w1', 'w2')`)
	require.NoError(t, err)
	b, err := CanonicalQuery(`Tenant='acme' AND WorkflowId in ("w1","w2")`)
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, `Tenant = 'acme' and WorkflowId in ('w1', 'w2')`, a)
	c, err := CanonicalQuery(`Tenant = 'acme' AND WorkflowId IN ('w1', 'w3')`)
	require.NoError(t, err)
	require.NotEqual(t, a, c)
}
