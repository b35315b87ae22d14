package rules

import (
	"fmt"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/jsonvalue"
	"github.com/batchwire/batchwire/internal/testenv"
)

// nonMatching is a rule's when that reads the event type and the data, and
// is false for the go-feature-flag payload.
const nonMatching = `event.type == "flag.changed" && "flag-%d" in data.flags.updated`

// nonMatchingUntyped is nonMatching without its type test.
const nonMatchingUntyped = `"flag-%d" in data.flags.updated`

// BenchmarkDecisionPath splits one event's decision into its parts, each
// beside its anchor from the same run:
//   - event-setup: what every event pays once: decoding the data as far as
//     the rules here read it (data.flags.updated; objects are built on first
//     read, so resolving "data" alone would build none). The attributes are
//     built on first read too, and these rules, whose type test the index
//     decides, read none;
//   - event-setup-with-attributes: the same, with a rule reading an
//     attribute (event.type), which builds them all;
//   - per-rule: one non-matching rule inside Evaluate, from 1000 of them
//     (ns/op is for all 1000; divide by 1000). The type index has chosen
//     the rules by their type test, so Evaluate runs them without it;
//   - cel-raw: cel-go evaluating the same expression on an activation built
//     beforehand, with its default options: the anchor for per-rule;
//   - per-rule-untyped and cel-raw-untyped: the same without the type
//     test, so both evaluate the same expression;
//   - p99/rules=1000: the whole decision for one event over BenchmarkMatch's
//     1000 rules (one matches and renders), timed one event at a time and
//     reported as p50-µs and p99-µs: the tail an event sees, GC included.
//     All 1000 share the event's type, so all are evaluated: the worst case;
//   - p99-100-types/rules=1000: the same over 100 event types, where the
//     type index evaluates the 10 of the event's type.
func BenchmarkDecisionPath(b *testing.B) {
	ev := flagChangesEvent(b)
	// The constant of `"test-flag2" in ...`, made once as a compiled
	// expression makes it.
	testFlag2 := types.String("test-flag2")
	b.Run("event-setup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			act := newActivation(ev, testNow)
			if updated := readUpdatedFlags(b, act); updated.Contains(testFlag2) != types.True {
				b.Fatal("test-flag2 is not in data.flags.updated")
			}
		}
	})
	b.Run("event-setup-with-attributes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			act := newActivation(ev, testNow)
			if updated := readUpdatedFlags(b, act); updated.Contains(testFlag2) != types.True {
				b.Fatal("test-flag2 is not in data.flags.updated")
			}
			if eventType := readEventType(b, act); eventType != types.String("flag.changed") {
				b.Fatalf("event.type is %v", eventType)
			}
		}
	})
	b.Run("per-rule/rules=1000", func(b *testing.B) { perRule(b, ev, nonMatching) })
	b.Run("per-rule-untyped/rules=1000", func(b *testing.B) { perRule(b, ev, nonMatchingUntyped) })
	b.Run("p99/rules=1000", func(b *testing.B) {
		timeEvaluate(b, benchSet(b, 1000, matchMix), ev, 1000)
	})
	b.Run("p99-100-types/rules=1000", func(b *testing.B) {
		// The same 1000 rules spread over 100 event types, as the type
		// index is for: the event's type has 10 of them, rule 0 matching.
		set := benchSet(b, 1000, func(i int) string {
			if i%100 != 0 {
				return fmt.Sprintf(`event.type == "other.%d" && "flag-%d" in data.flags.updated`, i%100, i)
			}
			return matchMix(i)
		})
		timeEvaluate(b, set, ev, 10)
	})
	b.Run("cel-raw", func(b *testing.B) { celRaw(b, ev, fmt.Sprintf(nonMatching, 7)) })
	b.Run("cel-raw-untyped", func(b *testing.B) { celRaw(b, ev, fmt.Sprintf(nonMatchingUntyped, 7)) })
}

// perRule evaluates 1000 rules whose when is the format when with the
// rule's number, none of which matches ev.
func perRule(b *testing.B, ev *cloudevents.Event, when string) {
	cfgs := make([]config.Rule, 1000)
	for i := range cfgs {
		cfgs[i] = signalRule(fmt.Sprintf("rule-%d", i), fmt.Sprintf(when, i),
			"WorkflowType = 'W' AND ExecutionStatus = 'Running'")
	}
	set, err := Compile(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	var results []Evaluation
	b.ReportAllocs()
	for b.Loop() {
		results = set.AppendEvaluate(results[:0], "flags", ev, testNow)
		for _, e := range results {
			if e.Matched || e.Err != nil {
				b.Fatalf("%s: matched %v, err %v", e.Rule.Name, e.Matched, e.Err)
			}
		}
	}
}

// celRaw evaluates expr with cel-go alone, on an activation built
// beforehand from ev, with cel-go's default options.
func celRaw(b *testing.B, ev *cloudevents.Event, expr string) {
	env, err := cel.NewEnv(cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("data", cel.DynType))
	if err != nil {
		b.Fatal(err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		b.Fatal(iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		b.Fatal(err)
	}
	decoded, err := jsonvalue.Decode(ev.Data())
	if err != nil {
		b.Fatal(err)
	}
	attrs := map[string]any{}
	for _, attr := range appendEventAttributes(nil, ev) {
		attrs[attr.key] = attr.val.Value()
	}
	act, err := interpreter.NewActivation(map[string]any{"event": attrs, "data": decoded})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := prg.Eval(act)
		if err != nil || out != types.False {
			b.Fatalf("%v %v", out, err)
		}
	}
}

// BenchmarkTypeIndex measures one event against 1000 rules that all read
// event.type: over 100 types, the index evaluates the 10 of the event's
// type; over one type, all 1000 (the anchor).
func BenchmarkTypeIndex(b *testing.B) {
	ev := flagChangesEvent(b)
	for _, types := range []int{1, 100} {
		b.Run(fmt.Sprintf("types=%d", types), func(b *testing.B) {
			cfgs := make([]config.Rule, 1000)
			for i := range cfgs {
				eventType := "flag.changed"
				if i%types != 0 {
					eventType = fmt.Sprintf("other.%d", i%types)
				}
				cfgs[i] = signalRule(fmt.Sprintf("rule-%d", i),
					fmt.Sprintf(`event.type == %q && "flag-%d" in data.flags.updated`, eventType, i),
					"WorkflowType = 'W' AND ExecutionStatus = 'Running'")
			}
			set, err := Compile(cfgs)
			if err != nil {
				b.Fatal(err)
			}
			want := 1000 / types
			b.ReportAllocs()
			for b.Loop() {
				if n := len(set.Evaluate("flags", ev, testNow)); n != want {
					b.Fatalf("evaluated %d rules, want %d", n, want)
				}
			}
		})
	}
}

// timeEvaluate times each Evaluate of ev over set, which must give want
// results with the first one matched, and reports their p50 and p99. It
// reuses one buffer for the evaluations, as the daemon does.
func timeEvaluate(b *testing.B, set *Set, ev *cloudevents.Event, want int) {
	var took []time.Duration
	var results []Evaluation
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		results = set.AppendEvaluate(results[:0], "flags", ev, testNow)
		took = append(took, time.Since(start))
		if len(results) != want || !results[0].Matched || results[0].Err != nil {
			b.Fatalf("want %d results, the first matched: %d results, first %+v", want, len(results), results[0])
		}
	}
	testenv.ReportPercentiles(b, took, time.Microsecond, "µs")
}

// readEventType reads event.type as a rule's when does.
func readEventType(b *testing.B, act *activation) any {
	event, _ := act.ResolveName("event")
	object, ok := event.(interface{ FindStringKey(string) (any, bool) })
	if !ok {
		b.Fatalf("event %v is not a map with FindStringKey", event)
	}
	eventType, _ := object.FindStringKey("type")
	return eventType
}

// readUpdatedFlags reads data.flags.updated as a rule's when does: the
// interpreter asks a map for a field by its name (FindStringKey) when the
// map offers it, as the decoded data does.
func readUpdatedFlags(b *testing.B, act *activation) traits.Mapper {
	value, _ := act.ResolveName("data")
	for _, name := range []string{"flags", "updated"} {
		object, ok := value.(interface{ FindStringKey(string) (any, bool) })
		if !ok {
			b.Fatalf("%s: %v is not a map with FindStringKey", name, value)
		}
		if value, ok = object.FindStringKey(name); !ok {
			b.Fatalf("no %s in %v", name, object)
		}
	}
	updated, ok := value.(traits.Mapper)
	if !ok {
		b.Fatalf("data.flags.updated is %v", value)
	}
	return updated
}
