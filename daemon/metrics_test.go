package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

const twoRules = `triggers:
  - name: deploys
    nats: {subject: deploy.rolledback}
  - name: flags
    nats: {subject: flags.changed}
rules:
  - name: reset-build
    trigger: deploys
    when: "true"
    namespace: payments
    query: WorkflowType = 'W' AND ExecutionStatus = 'Running'
    reset: {type: FirstWorkflowTask}
    reason: test
    guards: {max_workflows: 10}
  - name: broadcast
    trigger: flags
    when: "true"
    query: WorkflowType = 'F' AND ExecutionStatus = 'Running'
    signal: {name: flag_changed}
    reason: test
    guards: {max_workflows: 10}
`

// seriesOf lists the label sets of one family as "k=v,k=v" strings, sorted.
func seriesOf(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var out []string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+l.GetValue())
			}
			out = append(out, strings.Join(pairs, ","))
			require.Zero(t, m.GetCounter().GetValue()+m.GetGauge().GetValue(), "%s{%v} starts at 0", name, pairs)
		}
	}
	slices.Sort(out)
	return out
}

// Every labelled counter whose labels come from configuration exists at 0
// from the start, so increase() sees the first event after a restart; a
// reload creates the new rule's series and removes the dropped rule's.
func TestCountersStartAtZeroForEveryRuleAndTrigger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "batchwire.yaml")
	require.NoError(t, os.WriteFile(path, []byte(twoRules), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	d, err := New(Options{Config: cfg, ConfigPath: path, Registry: reg})
	require.NoError(t, err)

	require.Equal(t, []string{"trigger=deploys", "trigger=flags"}, seriesOf(t, reg, "batchwire_events_received_total"))
	require.Equal(t, []string{"trigger=deploys", "trigger=flags"}, seriesOf(t, reg, "batchwire_events_invalid_total"))
	require.Equal(t, []string{"trigger=deploys", "trigger=flags"}, seriesOf(t, reg, "batchwire_events_panics_total"))
	require.Equal(t, []string{
		"operation=reset,result=completed,rule=reset-build", "operation=reset,result=failed,rule=reset-build",
		"operation=signal,result=completed,rule=broadcast", "operation=signal,result=failed,rule=broadcast",
	}, seriesOf(t, reg, "batchwire_batch_operations_total"))
	require.Equal(t, []string{"operation=reset,rule=reset-build", "operation=signal,rule=broadcast"},
		seriesOf(t, reg, "batchwire_batch_jobs_started_total"))
	require.Equal(t, []string{
		"reason=failure_ratio,rule=broadcast", "reason=failure_ratio,rule=reset-build",
		"reason=watchdog,rule=broadcast", "reason=watchdog,rule=reset-build",
	}, seriesOf(t, reg, "batchwire_batch_jobs_stopped_total"))
	require.Contains(t, seriesOf(t, reg, "batchwire_rules_evaluations_total"), "result=error,rule=reset-build")
	require.Empty(t, seriesOf(t, reg, "batchwire_guard_blocked_total"), "no alert needs guard series before a block")
	require.Contains(t, seriesOf(t, reg, "batchwire_batch_decisions_total"), "outcome=launched,rule=broadcast")
	require.Equal(t, []string{"rule=broadcast", "rule=reset-build"}, seriesOf(t, reg, "batchwire_rules_render_errors_total"))
	require.Equal(t, []string{"rule=broadcast", "rule=reset-build"}, seriesOf(t, reg, "batchwire_duplicates_suppressed_total"))
	require.Equal(t, []string{"namespace=default", "namespace=payments"}, seriesOf(t, reg, "batchwire_launch_queue_depth"))

	renamed := strings.ReplaceAll(twoRules, "name: broadcast", "name: broadcast-v2")
	require.NoError(t, os.WriteFile(path, []byte(renamed), 0o600))
	require.NoError(t, d.Reload())
	require.Equal(t, []string{"rule=broadcast-v2", "rule=reset-build"}, seriesOf(t, reg, "batchwire_duplicates_suppressed_total"))
	require.Equal(t, []string{"operation=reset,rule=reset-build", "operation=signal,rule=broadcast-v2"},
		seriesOf(t, reg, "batchwire_batch_jobs_started_total"))
	for _, series := range seriesOf(t, reg, "batchwire_rules_evaluations_total") {
		require.NotContains(t, series, "rule=broadcast,", "the dropped rule's series are gone")
		require.False(t, strings.HasSuffix(series, "rule=broadcast"), "the dropped rule's series are gone: %s", series)
	}
}

// The build, Go runtime and process collectors are on the daemon's own registry.
func TestBuildInfoAndRuntimeCollectors(t *testing.T) {
	_, reg := newTestDaemon(t, mustParse(t, twoRules))
	families, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetName() != "batchwire_build_info" {
			continue
		}
		require.Len(t, f.GetMetric(), 1)
		labels := map[string]string{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		require.Equal(t, runtime.Version(), labels["goversion"])
		require.NotEmpty(t, labels["version"])
		require.NotEmpty(t, labels["revision"])
		require.Equal(t, 1.0, f.GetMetric()[0].GetGauge().GetValue())
	}
	for _, name := range []string{"batchwire_build_info", "go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds"} {
		require.True(t, names[name], "%s is exported", name)
	}
}

func mustParse(t *testing.T, raw string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "batchwire.yaml")
	require.NoError(t, os.WriteFile(path, []byte(raw), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return cfg
}

// registeredNames lists every batchwire_ metric newMetrics registers,
// whether or not it has a series yet.
func registeredNames(t *testing.T) []string {
	t.Helper()
	rec := &recordingRegisterer{Registry: prometheus.NewRegistry()}
	newMetrics(rec, 0)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	var names []string
	for _, c := range rec.collectors {
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		for desc := range descs {
			m := fqName.FindStringSubmatch(desc.String())
			require.NotNil(t, m, desc.String())
			if strings.HasPrefix(m[1], "batchwire_") {
				names = append(names, m[1])
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

type recordingRegisterer struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Every metric the daemon registers is on a panel of the shipped Grafana
// dashboard, and every panel says its unit and shows a legend.
func TestDashboardShowsEveryMetric(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/batchwire-dashboard.json")
	require.NoError(t, err)
	var dashboard struct {
		Panels []struct {
			Type        string `json:"type"`
			Title       string `json:"title"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dashboard))
	var exprs []string
	for _, p := range dashboard.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.FieldConfig.Defaults.Unit, "panel %q has no unit", p.Title)
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, target := range p.Targets {
			require.NotEmpty(t, target.LegendFormat, "panel %q: a query without a legend", p.Title)
			exprs = append(exprs, target.Expr)
		}
	}
	names := registeredNames(t)
	require.GreaterOrEqual(t, len(names), 22)
	all := strings.Join(exprs, "\n")
	for _, name := range names {
		onPanel := regexp.MustCompile(`\b` + name + `(_bucket|_sum|_count)?\b`)
		require.Regexp(t, onPanel, all, "%s is on no panel of the dashboard", name)
	}
}
