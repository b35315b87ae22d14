package rules

import (
	"os"
	"testing"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

// FuzzRenderQuery puts an arbitrary string into a query with one
// placeholder. The result must read back as exactly the template's fixed
// text plus one string literal equal to the input, or be an error for input
// that has no safe literal form.
func FuzzRenderQuery(f *testing.F) {
	for _, value := range hostileStrings() {
		// Large seeds make the fuzzer spend its time minimizing them.
		if len(value) <= 256 {
			f.Add(value)
		}
	}
	tmpl, err := newCompiler().query(`WorkflowId = {{ data.v }} AND ExecutionStatus = 'Running' /* scoped */`)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, value string) {
		act := &activation{data: types.DefaultTypeAdapter.NativeToValue(map[string]any{"v": value})}
		query, err := tmpl.render(act, scalarLiteral)
		if err != nil {
			require.False(t, utf8.ValidString(value) && !hasUnescapableControl(value) && !refusedInQueries(value),
				"only invalid UTF-8, control characters and values the server would misread may fail: %v", err)
			return
		}
		tokens, err := tokenizeQuery(query)
		require.NoError(t, err, query)
		require.Equal(t, []token{
			{value: "WorkflowId = "}, {str: true, value: value},
			{value: " AND ExecutionStatus = "}, {str: true, value: "Running"},
			{value: " /* scoped */"},
		}, tokens)
	})
}

func hasUnescapableControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 || c == 0x7f) && c != '\n' && c != '\r' && c != '\t' && c != 0 {
			return true
		}
	}
	return false
}

// FuzzEvaluate feeds arbitrary event data to a set whose rules read it in
// every way a rule can: Evaluate must return a result, never panic.
func FuzzEvaluate(f *testing.F) {
	payload, err := os.ReadFile(flagChangesPath)
	require.NoError(f, err)
	f.Add(payload)
	f.Add([]byte(`{"flags": {"updated": {"test-flag2": {"new_value": [1, "x", null]}}}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`"\u0000"`))
	rule := signalRule("fuzz", `has(data.flags) && "test-flag2" in data.flags.updated`,
		`Flag IN {{ data.flags.updated.map(k, k) }} AND V = {{ data.flags.updated['test-flag2'].new_value }}`)
	rule.Reason = "{{ data }}"
	rule.Signal.Input = map[string]any{"value": "{{ data.flags.updated['test-flag2'] }}"}
	set, err := Compile([]config.Rule{rule})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev := newEvent(t, "1", "s", "t", data)
		results := set.Evaluate("flags", ev, testNow)
		require.Len(t, results, 1)
		if results[0].Err == nil && results[0].Matched {
			require.NotNil(t, results[0].Action)
		}
	})
}
