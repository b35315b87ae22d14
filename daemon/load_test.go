package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Load lists every problem of a file at once: a rule with an unknown key is
// left out of compilation, and the others are still compiled, linted and
// built, so their faults show in the same run.
func TestLoadListsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "batchwire.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`temporal: {api_key_file: /nonexistent/key}
triggers:
  - name: hook
    http:
      path: /hooks/a
      format: webhook
      webhook: {id: "body.id +", type: '"t"', source: '"s"'}
rules:
  - name: typo
    trigger: hook
    when: "true"
    query: WorkflowType = 'W' AND ExecutionStatus = 'Running'
    terminate: {}
    reasn: x
  - name: bad-when
    trigger: hook
    when: event.type ==
    query: WorkflowType = 'W' AND ExecutionStatus = 'Running'
    terminate: {}
    reason: x
  - name: unscoped
    trigger: hook
    when: "true"
    query: ExecutionStatus = 'Running'
    terminate: {}
    reason: x
`), 0o600))
	loaded, problems := Load(path, testenv.Logger(t))
	require.Nil(t, loaded)
	var got []string
	for _, p := range problems {
		got = append(got, firstLine(p.String()))
	}
	celEOF := "Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', " +
		"'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"
	require.Equal(t, []string{
		path + ":1: temporal.api_key_file: open /nonexistent/key: no such file or directory",
		path + `:7: trigger "hook": http.webhook.id: compile: ERROR: <input>:1:10: ` + celEOF,
		path + `:14: rule "typo": reasn: unknown field; did you mean "reason"?`,
		path + `:17: rule "bad-when": when: ERROR: <input>:1:14: ` + celEOF,
		path + `:21: rule "unscoped": guards.max_workflows: not set, so one event may touch every workflow ` +
			`the query selects; set the most a match may touch`,
		path + `:24: rule "unscoped": query: no scope: every comparison is on ExecutionStatus, so the query selects ` +
			`every workflow of the namespace in that status; add a scope such as WorkflowType = '...'`,
	}, got)
	require.Len(t, problems.Errors(), 5)
	require.Equal(t, config.SeverityWarning, problems[4].Severity)
}

// New builds its Config with the same loader: a webhook mapping that does
// not compile, which check reports, also stops New, in the same words.
func TestNewRunsTheLoader(t *testing.T) {
	cfg, err := config.Parse([]byte(`triggers:
  - name: hook
    http: {path: /hooks/a, format: webhook, webhook: {id: "body.id +", type: '"t"', source: '"s"'}}
`))
	require.NoError(t, err, "config alone cannot compile the mapping")
	_, problems := Build(cfg, "batchwire.yaml", testenv.Logger(t))
	require.Len(t, problems, 1)
	_, err = New(Options{Config: cfg, ConfigPath: "batchwire.yaml", Logger: testenv.Logger(t)})
	require.EqualError(t, err, problems.Err().Error())
	require.Contains(t, err.Error(), `batchwire.yaml:3: trigger "hook": http.webhook.id: compile: ERROR`)

	good, err := config.Parse([]byte("triggers: [{name: hook, http: {path: /hooks/a}}]\n"))
	require.NoError(t, err)
	loaded, problems := Build(good, "", testenv.Logger(t))
	require.Empty(t, problems)
	require.Contains(t, loaded.HTTPSources, "hook")
	d, err := New(Options{Loaded: loaded, Logger: testenv.Logger(t)})
	require.NoError(t, err)
	require.Same(t, loaded.HTTPSources["hook"], d.httpSources["hook"])
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
