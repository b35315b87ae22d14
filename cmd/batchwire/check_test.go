package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCheckGolden pins what an operator reads from `batchwire check`: the
// rule table of a shipped example, every error of a broken file at once,
// typo'd keys named by rule and field, and warnings that still exit 0.
func TestCheckGolden(t *testing.T) {
	tests := []struct {
		name, config string
		wantErr      string
	}{
		{name: "check_flags_example", config: "../../examples/flags/batchwire.yaml"},
		{name: "check_warnings", config: "testdata/check/warnings.yaml"},
		{name: "check_errors", config: "testdata/check/errors.yaml", wantErr: "config testdata/check/errors.yaml: 9 errors"},
		{name: "check_typos", config: "testdata/check/typo.yaml", wantErr: "config testdata/check/typo.yaml: 3 errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, nil, "check", "--config", tt.config)
			checkGolden(t, filepath.Join("golden", tt.name), res.stdout)
			if tt.wantErr == "" {
				require.NoError(t, res.err)
				return
			}
			require.EqualError(t, res.err, tt.wantErr)
			// A plain error: main exits 1 for it, 2 only for a usageError.
			require.False(t, errors.As(res.err, new(usageError)))
		})
	}
}

// TestCheckExamples keeps every shipped example free of errors.
func TestCheckExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*/batchwire.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		report := checkConfig(path)
		require.Empty(t, report.errs, path)
		require.NotEmpty(t, report.rules, path)
	}
}

func TestCheckMissingFile(t *testing.T) {
	res := runCLI(t, nil, "check", "--config", filepath.Join(t.TempDir(), "none.yaml"))
	require.ErrorContains(t, res.err, "1 error")
	require.Contains(t, res.stdout, "error: read config: open ")
}

// TestCheckUnknownKeys covers typos at every depth: top level, a trigger,
// and a rule's nested block, each with the nearest known key.
func TestCheckUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typos.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`temporal: {adress: "x:1"}
triggers:
  - name: flags
    nats: {subjct: flags.changed}
rules:
  - name: r
    trigger: flags
    when: "true"
    query: WorkflowType = 'x' AND ExecutionStatus = 'Running'
    reset: {type: LastWorkflowTask, exclude_replay: [signal]}
    reason: x
    guards: {max_workflows: 1, rate: {launches: 1, pr: 1m}}
    completely_unknown: 1
`), 0o600))
	report := checkConfig(path)
	require.Equal(t, []string{
		`temporal.adress: unknown field at line 1; did you mean "address"?`,
		`trigger "flags" (line 3): nats.subjct: unknown field at line 4; did you mean "subject"?`,
		`rule "r" (line 6): reset.exclude_replay: unknown field at line 10; did you mean "exclude_reapply"?`,
		`rule "r" (line 6): guards.rate.pr: unknown field at line 12; did you mean "per"?`,
		`rule "r" (line 6): completely_unknown: unknown field at line 13`,
	}, report.errs)
}

func TestFlattenErrors(t *testing.T) {
	joined := errors.Join(errors.New("a"), fmt.Errorf("ctx: %w", errors.Join(errors.New("b"), errors.New("c"))))
	require.Equal(t, []string{"top: a", "top: ctx: b", "top: ctx: c"}, flattenErrors(fmt.Errorf("top: %w", joined)))
	require.Nil(t, flattenErrors(nil))
}

func TestShortDuration(t *testing.T) {
	for in, want := range map[string]string{"10m": "10m", "1h": "1h", "90s": "1m30s", "1h30m": "1h30m", "500ms": "500ms"} {
		d, err := time.ParseDuration(in)
		require.NoError(t, err)
		require.Equal(t, want, shortDuration(d), in)
	}
}
