package daemon

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
)

// exposition renders a registry as the text format /metrics serves.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var out bytes.Buffer
	for _, f := range families {
		_, err := expfmt.MetricFamilyToText(&out, f)
		require.NoError(t, err)
	}
	return out.String()
}

// A counterFamily exposes what a prometheus.CounterVec does for the same
// series, whatever the order of its labels, and deletes the same.
func TestCounterFamilyExposesWhatCounterVecDoes(t *testing.T) {
	opts := prometheus.CounterOpts{Name: "batchwire_test_total", Help: "A test counter."}
	labels := []string{"rule", "operation", "result"}
	vecReg, familyReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	vec := prometheus.NewCounterVec(opts, labels)
	vecReg.MustRegister(vec)
	family := newCounterFamily(familyReg, newLabelPairs(), opts, labels)

	for _, rule := range []string{"b", "a", "c"} {
		vec.WithLabelValues(rule, "signal", "completed").Add(3)
		family.WithLabelValues(rule, "signal", "completed").Add(3)
		vec.WithLabelValues(rule, "signal", "failed").Inc()
		family.WithLabelValues(rule, "signal", "failed").Inc()
	}
	vec.WithLabelValues("a", "reset", "failed")
	family.WithLabelValues("a", "reset", "failed")
	require.Equal(t, exposition(t, vecReg), exposition(t, familyReg))

	for _, match := range []prometheus.Labels{{"rule": "b"}, {"operation": "reset"}, {"rule": "a", "result": "failed"}, {"nope": "x"}} {
		require.Equal(t, vec.DeletePartialMatch(match), family.DeletePartialMatch(match), "%v", match)
		require.Equal(t, exposition(t, vecReg), exposition(t, familyReg), "after deleting %v", match)
	}
}

// The label pairs of deleted series go with them: rules a reload renames
// leave nothing behind.
func TestCounterFamilyReleasesLabelPairs(t *testing.T) {
	pairs := newLabelPairs()
	opts := prometheus.CounterOpts{Name: "batchwire_test_total", Help: "A test counter."}
	evaluations := newCounterFamily(prometheus.NewRegistry(), pairs, opts, []string{"rule", "result"})
	opts.Name = "batchwire_other_total"
	duplicates := newCounterFamily(prometheus.NewRegistry(), pairs, opts, []string{"rule"})
	for i := range 10 {
		evaluations.WithLabelValues(fmt.Sprint("rule-", i), "error")
		evaluations.WithLabelValues(fmt.Sprint("rule-", i), "matched")
		duplicates.WithLabelValues(fmt.Sprint("rule-", i))
	}
	require.Len(t, pairs.pairs, 12, "ten rules and two results")
	require.Same(t, evaluations.WithLabelValues("rule-1", "error").labels[1], duplicates.WithLabelValues("rule-1").labels[0],
		"one pair rule=rule-1 for every family")
	for i := range 10 {
		evaluations.DeletePartialMatch(prometheus.Labels{"rule": fmt.Sprint("rule-", i)})
	}
	require.Len(t, pairs.pairs, 10, "the families' other series still hold their rules")
	for i := range 10 {
		duplicates.DeletePartialMatch(prometheus.Labels{"rule": fmt.Sprint("rule-", i)})
	}
	require.Empty(t, pairs.pairs)
}

// The series configuration creates for 1000 rules cost about 1 KiB a rule
// (with a client_golang counter per series they cost 4.8): an idle daemon
// with many rules holds little else per rule.
func TestRuleSeriesMemory(t *testing.T) {
	const rules = 1000
	cfg := &config.Config{}
	ops := map[string]batch.Operation{}
	for i := range rules {
		name := fmt.Sprintf("rule-%04d", i)
		cfg.Rules = append(cfg.Rules, config.Rule{Name: name, Trigger: "t", Namespace: "default"})
		ops[name] = batch.Operation{Kind: "signal"}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := newMetrics(prometheus.NewRegistry(), 0)
	m.configured(cfg, ops)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	perRule := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / rules
	t.Logf("%d bytes a rule", perRule)
	require.Less(t, perRule, int64(2<<10), "bytes a rule's series hold")
}

// Counting an event finds its series without allocating.
func TestCounterFamilyFindsSeriesWithoutAllocating(t *testing.T) {
	family := newCounterFamily(prometheus.NewRegistry(), newLabelPairs(),
		prometheus.CounterOpts{Name: "batchwire_test_total", Help: "A test counter."}, []string{"rule", "result"})
	family.WithLabelValues("reset-after-bad-rollout", "matched")
	allocs := testing.AllocsPerRun(100, func() {
		family.WithLabelValues("reset-after-bad-rollout", "matched").Inc()
	})
	require.Zero(t, allocs)
}
