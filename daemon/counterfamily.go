package daemon

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// maxFamilyLabels bounds a family's labels, so that a series holds its
// label pairs in its own allocation.
const maxFamilyLabels = 3

// labelSeparator joins a series' label values into its key; it cannot
// occur in a label value, which is UTF-8.
const labelSeparator = '\xff'

// counterFamily is a labelled counter, as prometheus.CounterVec, for the
// families with series per rule. A client_golang counter holds its own
// label pairs, a created timestamp and a self-collector, about 520 bytes;
// here a series is its count and the label pairs it shares with every
// other series that carries the same label (labelPairs), so 1000 rules'
// ten thousand series hold about 1 MiB instead of 4.8. A scrape
// allocates what it does for a client_golang counter.
type counterFamily struct {
	desc  *prometheus.Desc
	names []string // label names, in the order WithLabelValues takes values
	// order lists label indices by name: a series' label pairs are sorted.
	order []int
	pairs *labelPairs

	mu sync.RWMutex
	// series are keyed by their label values, joined: a map keyed by an
	// array of strings held twice as much for each series.
	series map[string]*counterSeries
}

// counterSeries is one series of a counterFamily; it is a prometheus.Metric.
type counterSeries struct {
	family *counterFamily
	count  atomic.Uint64
	// labels holds the series' label pairs sorted by name, as many as the
	// family has labels (sorted returns them).
	labels [maxFamilyLabels]*dto.LabelPair
}

func (s *counterSeries) sorted() []*dto.LabelPair { return s.labels[:len(s.family.order)] }

// labelPairs holds the label pairs of the counter families, each once: the
// pair rule="x" is one, however many series of however many families carry
// it. A pair goes with the last series that holds it, so the pairs of a
// rule a reload dropped do not stay.
type labelPairs struct {
	mu    sync.Mutex
	names map[string]*string
	pairs map[[2]string]*sharedPair
}

type sharedPair struct {
	pair   *dto.LabelPair
	series int
}

func newLabelPairs() *labelPairs {
	return &labelPairs{names: map[string]*string{}, pairs: map[[2]string]*sharedPair{}}
}

// hold returns the pair name=value for one more series.
func (t *labelPairs) hold(name, value string) *dto.LabelPair {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := [2]string{name, value}
	shared := t.pairs[key]
	if shared == nil {
		namePtr := t.names[name]
		if namePtr == nil {
			namePtr = proto.String(name)
			t.names[name] = namePtr
		}
		shared = &sharedPair{pair: &dto.LabelPair{Name: namePtr, Value: proto.String(value)}}
		t.pairs[key] = shared
	}
	shared.series++
	return shared.pair
}

// release says a series that held pair is gone.
func (t *labelPairs) release(pair *dto.LabelPair) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := [2]string{pair.GetName(), pair.GetValue()}
	if shared := t.pairs[key]; shared != nil {
		if shared.series--; shared.series == 0 {
			delete(t.pairs, key)
		}
	}
}

// newCounterFamily registers a counter family with labels on reg.
func newCounterFamily(reg prometheus.Registerer, pairs *labelPairs, opts prometheus.CounterOpts, labels []string) *counterFamily {
	if len(labels) == 0 || len(labels) > maxFamilyLabels {
		panic("counterFamily: between 1 and 3 labels")
	}
	f := &counterFamily{
		desc:   prometheus.NewDesc(opts.Name, opts.Help, labels, nil),
		names:  labels,
		order:  make([]int, len(labels)),
		pairs:  pairs,
		series: map[string]*counterSeries{},
	}
	for i := range f.order {
		f.order[i] = i
	}
	slices.SortFunc(f.order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	reg.MustRegister(f)
	return f
}

// WithLabelValues returns the series with these label values, in the order
// of the family's labels, creating it at 0.
func (f *counterFamily) WithLabelValues(values ...string) *counterSeries {
	if len(values) != len(f.names) {
		panic("counterFamily: wrong number of label values")
	}
	var buf [128]byte
	key := buf[:0]
	for _, value := range values {
		key = append(append(key, value...), labelSeparator)
	}
	f.mu.RLock()
	s := f.series[string(key)] // a lookup by string(key) does not copy it
	f.mu.RUnlock()
	if s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[string(key)]; s != nil {
		return s
	}
	s = &counterSeries{family: f}
	for i, label := range f.order {
		s.labels[i] = f.pairs.hold(f.names[label], values[label])
	}
	f.series[string(key)] = s
	return s
}

// DeletePartialMatch removes every series whose labels include these, and
// returns how many it removed.
func (f *counterFamily) DeletePartialMatch(labels prometheus.Labels) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	deleted := 0
	for key, s := range f.series {
		if !s.matches(labels) {
			continue
		}
		delete(f.series, key)
		for _, pair := range s.sorted() {
			f.pairs.release(pair)
		}
		deleted++
	}
	return deleted
}

// matches reports whether the series has every one of labels.
func (s *counterSeries) matches(labels prometheus.Labels) bool {
	for name, value := range labels {
		found := false
		for _, pair := range s.sorted() {
			if pair.GetName() == name {
				found = pair.GetValue() == value
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Describe implements prometheus.Collector.
func (f *counterFamily) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect implements prometheus.Collector.
func (f *counterFamily) Collect(ch chan<- prometheus.Metric) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.series {
		ch <- s
	}
}

// Inc adds one to the series.
func (s *counterSeries) Inc() { s.count.Add(1) }

// Add adds n to the series. Every batchwire count is whole, and a counter
// never goes down: a negative n, which Temporal does not report, adds nothing.
func (s *counterSeries) Add(n int64) {
	if n > 0 {
		s.count.Add(uint64(n))
	}
}

// Desc implements prometheus.Metric.
func (s *counterSeries) Desc() *prometheus.Desc { return s.family.desc }

// Write implements prometheus.Metric. The label pairs are shared, as
// client_golang's own counters share theirs: a written metric is read only.
func (s *counterSeries) Write(out *dto.Metric) error {
	out.Label = s.sorted()
	out.Counter = &dto.Counter{Value: proto.Float64(float64(s.count.Load()))}
	return nil
}
