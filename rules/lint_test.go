package rules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

func TestLintQueryErrors(t *testing.T) {
	// An empty want marks a near miss that must pass.
	cases := []struct{ query, want string }{
		{"", "empty query"},
		{"  \n ", "empty query"},
		{"order by StartTime", "empty query"},
		{"true", `constant condition "true"`},
		{"1=1", `constant comparison "1 = 1"`},
		{"'a' = 'a'", "constant comparison"},
		{"WorkflowType = 'x' OR 1 = 1", "constant comparison"},
		{"lower(WorkflowType) = 'x'", "the left side must be a search attribute"},
		{"WorkflowType", "is not a condition"},
		{"ExecutionStatus = 'Running'", "no scope: every comparison is on ExecutionStatus"},
		{"(ExecutionStatus = 1)", "no scope: every comparison"},
		{"ExecutionStatus = 'Running' AND NOT ExecutionStatus = 'Failed'", "no scope: every comparison"},
		{"WorkflowType = 'x' OR ExecutionStatus = 'Running'", `the OR branch "ExecutionStatus = 'Running'"`},
		{"(Tenant = 'a' AND WorkflowType = 'x') OR ExecutionStatus = 1", "the OR branch"},
		{"Tenant = 'a' AND (WorkflowType = 'x' OR ExecutionStatus = 1)", ""},
		{"WorkflowType = 'x' -- all", `comment "-- all"`},
		{"WorkflowType = 'x' # all", `comment "# all"`},
		{"WorkflowType = 'x' // all", `comment "// all"`},
		{"WorkflowType = 'x' /* all */", `comment "/* all */"`},
		{"WorkflowType = 'x' /*! OR 1=1 */", `comment "/*! OR 1=1 */"`},
		{"WorkflowType = 'x';", "';' outside a string literal"},
		{"WorkflowType =", "does not parse as a visibility query: syntax error at column 15"},
		{"WorkflowType = 'x'; drop table t", "';' outside a string literal"},
		{"WorkflowType = 'x' AND AND Tenant = 'y'", "syntax error at column 24 near 'and'"},
		{"WorkflowType = 'x", "does not parse"},
		{"WorkflowType = 'x' union select 1", "only a condition is allowed"},
		{"WorkflowType = 'x' LIMIT 1", "LIMIT is not supported"},
		{"WorkflowId STARTS_WITH ''", "STARTS_WITH an empty string selects every workflow"},
		{"WorkflowId STARTS_WITH 'a'", ""},
		{"WorkflowType = 'x' ORDER BY StartTime", "ORDER BY and GROUP BY"},
		{"WorkflowType = 'x' GROUP BY ExecutionStatus", "ORDER BY and GROUP BY"},
		{"WorkflowType LIKE 'x%'", "operator LIKE is not supported"},
		{"WorkflowType = Foo", `did you forget to quote "Foo"?`},
		{"WorkflowType = NULL", "use WorkflowType IS NULL"},
		{"WorkflowType = :v1", "only string, number and boolean literals"},
		{"WorkflowType = 'x' AND StartTime > '24h'", "not an RFC 3339 timestamp"},
		{"WorkflowType = 'x' AND ExecutionStatus = 'Runing'", "not an execution status"},
		{"WorkflowType = 'x' AND ExecutionStatus = 99", "not an execution status"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			_, err := LintQuery(tc.query)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLintQueryAccepts(t *testing.T) {
	cases := []struct {
		query   string
		warning string
	}{
		{query: "WorkflowType = 'x'"},
		{query: "`Tenant` = 'acme' AND ExecutionStatus = 'Running'"},
		{query: "WorkflowType = 'it''s' AND Tenant = 'it\\'s'"},
		// Comment markers inside literals are data, not comments.
		{query: "WorkflowType = 'a -- b' AND Tenant = '/* x */' AND WorkflowId = '# // ;'"},
		{query: "WorkflowType = 'x' AND StartTime > '2025-06-01T00:00:00Z' AND CloseTime IS NULL"},
		{query: "WorkflowType IN ('a', 'b') AND NOT (ExecutionStatus = 'Completed')"},
		{query: "Tenant STARTS_WITH 'acme' AND ExecutionStatus != 0"},
		{query: "StartTime BETWEEN '2025-01-01T00:00:00Z' AND '2025-02-01T00:00:00Z' AND WorkflowType = 'x'"},
		{query: "(WorkflowType = 'a' AND ExecutionStatus = 'Running') OR (WorkflowType = 'b' AND ExecutionStatus = 1)"},
		{query: `Tenant = 'a\\b'`, warning: `Tenant compared with 'a\\b': the server compares another value: a string holding "\\" (byte 1)`},
		{query: `Tenant = 'line\nbreak'`, warning: `a string holding "\n"`},
		{query: `Tenant = '''victim'''`, warning: "the server compares another value: a string that starts or ends with '"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			warnings, err := LintQuery(tc.query)
			require.NoError(t, err)
			if tc.warning == "" {
				require.Empty(t, warnings)
				return
			}
			require.Len(t, warnings, 1)
			require.Contains(t, warnings[0], tc.warning)
		})
	}
}

// TestLintQueryRendered lints what the renderer makes of hostile values: a
// correctly quoted value is one literal, so lint must accept every one.
func TestLintQueryRendered(t *testing.T) {
	for _, value := range hostileStrings() {
		literal, err := QuoteString(value)
		require.NoError(t, err)
		_, err = LintQuery("WorkflowType = 'FlagWorkflow' AND Tenant = " + literal)
		require.NoError(t, err, "value %q", shorten(value, 40))
	}
}

// lintRule lints cfg as a rule starting on line 7 whose query is on line 9.
func lintRule(t *testing.T, cfg config.Rule) (warnings, errs []string) {
	t.Helper()
	cfg.Line = 7
	cfg.Lines = config.KeyLines{{Path: "query", Line: 9}}
	set, err := Compile([]config.Rule{cfg})
	require.NoError(t, err)
	problems := LintRule(set.Rules()[0])
	for _, p := range problems.Warnings() {
		warnings = append(warnings, p.String())
	}
	for _, p := range problems.Errors() {
		errs = append(errs, p.String())
	}
	return warnings, errs
}

func TestLintRule(t *testing.T) {
	cases := []struct {
		name, query string
		op          func(*config.Rule)
		warnings    []string
		errs        []string
	}{
		{name: "scoped", query: "WorkflowType = 'x' AND ExecutionStatus = 'Running' AND Tenant = {{ data.tenant }}"},
		{name: "list after IN", query: "WorkflowType = 'x' AND ExecutionStatus = 1 AND FlagKey IN {{ data.keys }}"},
		{name: "list in parens", query: "ExecutionStatus = 'Running' AND BuildIds IN ({{ 'versioned:' + data.build }})"},
		{name: "placeholder values are not checked", query: "WorkflowType = 'x' AND ExecutionStatus = 1 AND StartTime > {{ data.since }}"},
		{name: "status from the event only", query: "ExecutionStatus = {{ data.status }}",
			errs: []string{`line 9: rule "r": query: no scope: every comparison is on ExecutionStatus`}},
		{name: "block comment", query: "WorkflowType = 'x' AND ExecutionStatus = 1 /* note */ AND Tenant = {{ data.t }}",
			errs: []string{`line 9: rule "r": query: comment "/* note */"`}},
		{name: "unscoped OR branch", query: "Tenant = {{ data.t }} OR ExecutionStatus = 'Running'",
			errs: []string{"the OR branch"}},
		{name: "signal without status", query: "Tenant = {{ data.t }}",
			warnings: []string{`line 9: rule "r": query: no ExecutionStatus filter: closed workflows match too, so max_workflows counts them`}},
		{name: "reset without status", query: "Tenant = {{ data.t }}",
			op:       func(r *config.Rule) { r.Signal, r.Reset = nil, &config.ResetAction{Type: "LastWorkflowTask"} },
			warnings: []string{"a batch reset also resets the closed workflows"}},
		{name: "terminate without status", query: "Tenant = {{ data.t }}",
			op: func(r *config.Rule) { r.Signal, r.Terminate = nil, &config.EmptyAction{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := signalRule("r", "true", tc.query)
			cfg.Guards.MaxWorkflows = 10
			if tc.op != nil {
				tc.op(&cfg)
			}
			warnings, errs := lintRule(t, cfg)
			requireMessages(t, tc.warnings, warnings)
			requireMessages(t, tc.errs, errs)
		})
	}
}

// requireMessages matches each got message to a want substring, in order.
func requireMessages(t *testing.T, want, got []string) {
	t.Helper()
	require.Len(t, got, len(want), "got %q", got)
	for i := range want {
		require.Contains(t, got[i], want[i])
	}
}

func TestLintRuleMaxWorkflows(t *testing.T) {
	warnings, errs := lintRule(t, signalRule("r", "true", "WorkflowType = 'x' AND ExecutionStatus = 'Running'"))
	require.Empty(t, errs)
	require.Equal(t, []string{`line 7: rule "r": guards.max_workflows: not set, so one event may touch ` +
		`every workflow the query selects; set the most a match may touch`}, warnings)
}

func TestQueryShape(t *testing.T) {
	set, err := Compile([]config.Rule{signalRule("r", "true",
		"WorkflowType = 'x'\n  AND   Tenant = {{ data.tenant }}\nAND FlagKey IN {{ data.keys }}")})
	require.NoError(t, err)
	require.Equal(t, "WorkflowType = 'x' AND Tenant = {{…}} AND FlagKey IN {{…}}", set.Rules()[0].QueryShape())
}

func TestSampleQuery(t *testing.T) {
	tmpl, err := newCompiler().query("A IN {{ data.x }} AND B = {{ data.y }} AND C in\n{{ data.z }} AND D IN ({{ data.w }})")
	require.NoError(t, err)
	got := sampleQuery(tmpl)
	require.Equal(t, 4, strings.Count(got, placeholderSample))
	require.Contains(t, got, "A IN ('{{…}}') AND B = '{{…}}' AND C in\n('{{…}}') AND D IN ('{{…}}')")
}

func TestFiltersStatus(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"WorkflowType = 'x' AND ExecutionStatus = 'Running'", true},
		{"(Tenant = 'a' OR Tenant = 'b') AND ExecutionStatus = 'Running'", true},
		{"ExecutionStatus = 'Running' AND Tenant = 'a' OR ExecutionStatus = 'Failed' AND Tenant = 'b'", true},
		{"Tenant = 'a'", false},
		{"WorkflowId = 'ExecutionStatus'", false},
		{"Tenant = 'a' OR ExecutionStatus = 'Running'", false},
		{"Tenant = 'a' AND", false},
	} {
		require.Equal(t, tc.want, FiltersStatus(tc.query), tc.query)
	}
}
