package rules

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

var benchSizes = []int{1, 100, 1000}

// BenchmarkMatch measures one event against n rules of its trigger, of
// which only the first matches: the cost of deciding, not of rendering.
func BenchmarkMatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			runEvaluate(b, benchSet(b, n, matchMix), 1)
		})
	}
}

// matchMix is the when of rule i in BenchmarkMatch: the first rule matches
// the go-feature-flag payload, the others read the same fields and do not.
func matchMix(i int) string {
	if i == 0 {
		return `event.type == "flag.changed" && "test-flag2" in data.flags.updated`
	}
	return fmt.Sprintf(`event.type == "flag.changed" && "flag-%d" in data.flags.updated`, i)
}

// BenchmarkRender measures one event against n rules that all match, so
// every rule renders its query, reason and signal input.
func BenchmarkRender(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			set := benchSet(b, n, func(int) string {
				return `event.type == "flag.changed" && "test-flag2" in data.flags.updated`
			})
			runEvaluate(b, set, n)
		})
	}
}

func benchSet(b *testing.B, n int, when func(int) string) *Set {
	rules := make([]config.Rule, n)
	for i := range rules {
		rules[i] = signalRule(fmt.Sprintf("rule-%d", i), when(i),
			`WorkflowType = 'FlagAware' AND ExecutionStatus = 'Running' AND FlagKey IN {{ data.flags.updated.map(k, k) }}`)
		rules[i].Reason = "flags changed on {{ data.meta.hostname }} (event {{ event.id }})"
		rules[i].Signal.Input = map[string]any{
			"flag":    "test-flag2",
			"disable": "{{ data.flags.updated['test-flag2'].new_value.disable }}",
		}
	}
	set, err := Compile(rules)
	require.NoError(b, err)
	return set
}

func runEvaluate(b *testing.B, set *Set, wantMatches int) {
	ev := flagChangesEvent(b)
	b.ReportAllocs()
	for b.Loop() {
		matches := 0
		for _, result := range set.Evaluate("flags", ev, testNow) {
			if result.Err != nil {
				b.Fatal(result.Err)
			}
			if result.Matched {
				matches++
			}
		}
		if matches != wantMatches {
			b.Fatalf("%d rules matched, want %d", matches, wantMatches)
		}
	}
}
