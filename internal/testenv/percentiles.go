package testenv

import (
	"slices"
	"testing"
	"time"
)

// ReportPercentiles reports the p50 and p99 of took, in unit, as the
// benchmark metrics p50-<name> and p99-<name> (name is the unit's, "ms" or
// "µs"). It sorts took.
func ReportPercentiles(b *testing.B, took []time.Duration, unit time.Duration, name string) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	at := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))]) / float64(unit)
	}
	b.ReportMetric(at(0.50), "p50-"+name)
	b.ReportMetric(at(0.99), "p99-"+name)
}
