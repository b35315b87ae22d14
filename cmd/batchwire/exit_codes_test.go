package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	exitAlertsConfig = "../../examples/alerts/batchwire.yaml"
	exitAlertsBody   = "../../testdata/alertmanager/am-main-68fb2d5_03_mixed_2_firing_1_resolved.json"
)

// One exit-code policy everywhere: 0 ok, 1 failure, 2 bad usage or bad
// configuration. Each command's usage errors are run through the root
// command and main's own mapping (exitCode).
func TestExitCodes(t *testing.T) {
	clearTemporalEnv(t)
	scoped := "WorkflowType = 'w' AND ExecutionStatus = 'Running'"
	tests := []struct {
		name string
		args []string
		want int
		// says is a part of the message, when the message matters.
		says string
	}{
		{"version", []string{"version"}, exitOK, ""},
		{"--version", []string{"--version"}, exitOK, ""},
		{"help", []string{"--help"}, exitOK, ""},
		{"unknown subcommand", []string{"bogus"}, exitBadUsage, `unknown command "bogus"`},
		{"unknown subcommand suggests", []string{"chek"}, exitBadUsage, "check"},
		{"unknown flag", []string{"--bogus"}, exitBadUsage, "unknown flag"},
		{"version extra argument", []string{"version", "x"}, exitBadUsage, "takes no arguments"},
		{"run extra argument", []string{"run", "extra"}, exitBadUsage, "takes no arguments"},
		{"run missing config", []string{"run", "--config", "/nonexistent/batchwire.yaml"}, exitBadUsage, ""},
		{"run bad flag value", []string{"run", "--log-level", "loud"}, exitBadUsage, "--log-level"},
		{"check extra argument", []string{"check", "extra"}, exitBadUsage, "takes no arguments"},
		{"check invalid config", []string{"check", "--config", "testdata/check/errors.yaml"}, exitFailure, ""},
		{"test missing --event", []string{"test", "--config", exitAlertsConfig}, exitBadUsage, "--event"},
		{"test extra argument", []string{"test", "extra"}, exitBadUsage, "takes no arguments"},
		{"test alertmanager body suggests --trigger", []string{"test", "--config", exitAlertsConfig, "--event", exitAlertsBody},
			exitBadUsage, "--trigger alerts"},
		{"send missing flags", []string{"send"}, exitBadUsage, "--subject, --type, --source"},
		{"send extra argument", []string{"send", "extra"}, exitBadUsage, "takes no arguments"},
		{"audit extra argument", []string{"audit", "extra"}, exitBadUsage, "takes no arguments"},
		{"batch unknown subcommand", []string{"batch", "bogus"}, exitBadUsage, "unknown command"},
		{"batch list extra argument", []string{"batch", "list", "extra"}, exitBadUsage, "takes no arguments"},
		{"batch describe missing --job-id", []string{"batch", "describe"}, exitBadUsage, "--job-id"},
		{"batch terminate missing --reason", []string{"batch", "terminate", "--job-id", "j"}, exitBadUsage, "--reason"},
		{"workflow unknown subcommand", []string{"workflow", "bogus"}, exitBadUsage, "unknown command"},
		{"workflow list extra argument", []string{"workflow", "list", "extra"}, exitBadUsage, "takes no arguments"},
		{"workflow count bad status", []string{"workflow", "list", "--status", "Sleeping"}, exitBadUsage, "--status"},
		{"workflow signal missing --query", []string{"workflow", "signal", "--name", "n", "--reason", "r"}, exitBadUsage, "--query is required"},
		{"workflow signal missing --name", []string{"workflow", "signal", "--query", scoped, "--reason", "r", "--yes"}, exitBadUsage, "--name"},
		{"workflow terminate unscoped", []string{"workflow", "terminate", "--query", "ExecutionStatus='Running'", "--reason", "r", "--yes"},
			exitBadUsage, "--allow-unscoped"},
		{"workflow reset-batch missing --type", []string{"workflow", "reset-batch", "--query", scoped, "--reason", "r", "--yes"}, exitBadUsage, "--type"},
		{"workflow reset missing --type", []string{"workflow", "reset", "--query", scoped, "--reason", "r", "--yes"}, exitBadUsage, "--type"},
		{"workflow reset without --query", []string{"workflow", "reset", "--workflow-id", "w", "--type", "FirstWorkflowTask", "--reason", "r"},
			exitBadUsage, "--query"},
		{"workflow update-options extra argument", []string{"workflow", "update-options", "x"}, exitBadUsage, "takes no arguments"},
		{"activity unknown subcommand", []string{"activity", "bogus"}, exitBadUsage, "unknown command"},
		{"activity pause extra argument", []string{"activity", "pause", "x"}, exitBadUsage, "takes no arguments"},
		{"bad --profile", []string{"workflow", "list", "--config-file", "/nonexistent/temporal.toml", "--profile", "p"}, exitBadUsage, "profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, nil, tt.args...)
			require.Equal(t, tt.want, exitCode(res.err), "exit code for %v: %v", tt.args, res.err)
			if tt.says != "" {
				require.ErrorContains(t, res.err, tt.says)
			}
		})
	}
}

// A server that never answers fails the command by --command-timeout, and
// the message says that timeout, not the dial's default of 10s.
func TestCommandTimeoutIsReported(t *testing.T) {
	clearTemporalEnv(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = silent.Close() })
	res := runCLI(t, nil, "workflow", "count", "--query", "WorkflowType = 'w'", "--address", silent.Addr().String(),
		"--command-timeout", "1s")
	require.Equal(t, exitFailure, exitCode(res.err))
	require.ErrorContains(t, res.err, "within 1s")
}
