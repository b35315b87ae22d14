package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// followJob reads the daemon's per-job metrics until the job ends, printing
// its progress each time it changes.
func (d *demo) followJob(ctx context.Context) error {
	var last string
	return waitFor(ctx, 90*time.Second, "the batch job to complete", func() error {
		job, err := scrapeJob()
		if err != nil {
			return err
		}
		if line := job.String(); line != last {
			fmt.Println("  progress:", line)
			last = line
		}
		switch job.state {
		case "completed":
			if job.completed != targets || job.failed != 0 {
				return fmt.Errorf("job completed with %d/%d operations, %d failed; want %d",
					job.completed, job.total, job.failed, targets)
			}
			return nil
		case "failed", "stopped":
			return fmt.Errorf("job ended %s", job.state)
		}
		return fmt.Errorf("job is %s", job.String())
	})
}

type jobView struct {
	id, rule, state          string
	total, completed, failed int
}

func (j jobView) String() string {
	if j.id == "" {
		return "no job yet"
	}
	return fmt.Sprintf("job %s (rule %s): %s, %d/%d completed, %d failed",
		j.id, j.rule, j.state, j.completed, j.total, j.failed)
}

func scrapeJob() (jobView, error) {
	families, err := scrape()
	if err != nil {
		return jobView{}, err
	}
	var job jobView
	for _, m := range families["batchwire_batch_job_operations"].GetMetric() {
		labels := labelMap(m)
		job.id, job.rule = labels["job_id"], labels["rule"]
		n := int(m.GetGauge().GetValue())
		switch labels["count"] {
		case "total":
			job.total = n
		case "completed":
			job.completed = n
		case "failed":
			job.failed = n
		}
	}
	for _, m := range families["batchwire_batch_job_state"].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			job.state = labelMap(m)["state"]
		}
	}
	return job, nil
}

// printMetrics shows every batchwire series with a value, as an operator
// would see them on /metrics.
func (d *demo) printMetrics(context.Context) error {
	families, err := scrape()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(families))
	for name := range families {
		if strings.HasPrefix(name, "batchwire_") && !strings.HasSuffix(name, "_bucket") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		shown := name
		if families[name].GetType() == dto.MetricType_HISTOGRAM {
			shown += "_count"
		}
		for _, m := range families[name].GetMetric() {
			if v := value(m); v != 0 {
				fmt.Printf("  %s%s %g\n", shown, labelString(m), v)
			}
		}
	}
	return nil
}

func scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(metricsURL + "/metrics") //nolint:gosec // fixed local URL
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func labelMap(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func labelString(m *dto.Metric) string {
	parts := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// verify asks each workflow for its flags through the example worker's query
// handler: every targeted workflow must hold the new value, every other none.
func (d *demo) verify(ctx context.Context) error {
	want := map[string]string{
		targetTenant: flagKey + "=true applied=1",
		otherTenant:  flagKey + "=<unset> applied=0",
	}
	counts := map[string]int{targetTenant: targets, otherTenant: others}
	for _, tenant := range []string{targetTenant, otherTenant} {
		out, err := d.output(ctx, d.binary("worker"), "query", "--address", d.address, "--id-prefix", d.prefix,
			"--tenant", tenant, "--count", fmt.Sprint(counts[tenant]), "--flag", flagKey)
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, line := range lines {
			fmt.Printf("  tenant %-8s %s\n", tenant, line)
			if !strings.HasSuffix(line, want[tenant]) {
				return fmt.Errorf("workflow %q: want %q", line, want[tenant])
			}
		}
		if len(lines) != counts[tenant] {
			return fmt.Errorf("tenant %s: %d workflows answered, want %d", tenant, len(lines), counts[tenant])
		}
	}
	return nil
}
