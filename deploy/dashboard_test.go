package deploy

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

var promql = parser.NewParser(parser.Options{})

// dashboardQueries maps each panel title to its queries.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile("grafana/batchwire-dashboard.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	out := map[string][]string{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		_, dup := out[p.Title]
		require.False(t, dup, "two panels are titled %q", p.Title)
		for _, target := range p.Targets {
			out[p.Title] = append(out[p.Title], target.Expr)
		}
	}
	return out
}

// Every dashboard query is valid PromQL.
func TestDashboardQueriesParse(t *testing.T) {
	for title, exprs := range dashboardQueries(t) {
		for _, expr := range exprs {
			_, err := promql.ParseExpr(expr)
			require.NoError(t, err, "panel %q: %s", title, expr)
		}
	}
}

// The expressions deploy/prometheus/dashboard_test.yaml evaluates (with two
// instances) are the ones on the panels it names.
func TestDashboardQueriesAreTheTestedOnes(t *testing.T) {
	panels := dashboardQueries(t)
	var file struct {
		Tests []struct {
			Name           string `yaml:"name"`
			PromqlExprTest []struct {
				Expr string `yaml:"expr"`
			} `yaml:"promql_expr_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/dashboard_test.yaml", &file)
	require.NotEmpty(t, file.Tests)
	for _, test := range file.Tests {
		exprs, ok := panels[test.Name]
		require.True(t, ok, "no panel is titled %q", test.Name)
		var onPanel []string
		for _, e := range exprs {
			onPanel = append(onPanel, canonical(t, e))
		}
		for _, tested := range test.PromqlExprTest {
			require.Contains(t, onPanel, canonical(t, tested.Expr), "panel %q", test.Name)
		}
	}
}

func canonical(t *testing.T, expr string) string {
	t.Helper()
	parsed, err := promql.ParseExpr(expr)
	require.NoError(t, err, expr)
	return parsed.String()
}

// alertNames parses a rule file as Prometheus does (unknown fields refused,
// every expression and template checked) and lists its alerts in order.
func alertNames(t *testing.T, path string) []string {
	t.Helper()
	groups, errs := rulefmt.ParseFile(path, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	require.Empty(t, errs, path)
	var names []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

// Every alert has a promtool unit test that expects it to fire.
func TestEveryAlertHasAUnitTest(t *testing.T) {
	alerts := alertNames(t, "prometheus/batchwire-alerts.yaml")
	require.NotEmpty(t, alerts)
	var file struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/batchwire-alerts_test.yaml", &file)
	require.Equal(t, []string{"batchwire-alerts.yaml"}, file.RuleFiles)
	var firing []string
	for _, test := range file.Tests {
		for _, a := range test.AlertRuleTest {
			require.Contains(t, alerts, a.Alertname)
			if len(a.ExpAlerts) > 0 {
				firing = append(firing, a.Alertname)
			}
		}
	}
	for _, alert := range alerts {
		require.True(t, slices.Contains(firing, alert), "no test expects %s to fire", alert)
	}
}
