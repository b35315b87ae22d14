package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/rules"
)

// clearTemporalEnv keeps the developer's own TEMPORAL_* settings, temporal
// CLI environment file and client config file out of a test.
func clearTemporalEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "TEMPORAL_") {
			t.Setenv(name, "")
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
}

// resolveConn parses args the way a command group does and resolves them.
func resolveConn(t *testing.T, args ...string) (*connFlags, error) {
	t.Helper()
	cf := &connFlags{}
	cmd := &cobra.Command{Use: "x"}
	useSpellings(cmd)
	cf.register(cmd.Flags())
	if err := cmd.ParseFlags(args); err != nil {
		// The root's flag error function makes this a usage error.
		return cf, usageError{err}
	}
	return cf, cf.resolve(cmd.Flags())
}

func TestConnFlagsEnvResolution(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		args          []string
		wantAddress   string
		wantNamespace string
	}{
		{name: "defaults", wantAddress: "127.0.0.1:7233", wantNamespace: "default"},
		{name: "CLI variables", env: map[string]string{"TEMPORAL_CLI_ADDRESS": "a:1", "TEMPORAL_CLI_NAMESPACE": "ns1"},
			wantAddress: "a:1", wantNamespace: "ns1"},
		{name: "plain variables", env: map[string]string{"TEMPORAL_ADDRESS": "b:2", "TEMPORAL_NAMESPACE": "ns2"},
			wantAddress: "b:2", wantNamespace: "ns2"},
		{name: "both generations agreeing",
			env:         map[string]string{"TEMPORAL_CLI_ADDRESS": "a:1", "TEMPORAL_ADDRESS": "a:1", "TEMPORAL_NAMESPACE": "ns2"},
			wantAddress: "a:1", wantNamespace: "ns2"},
		{name: "flags win over variables", env: map[string]string{"TEMPORAL_CLI_ADDRESS": "a:1", "TEMPORAL_CLI_NAMESPACE": "ns1"},
			args: []string{"--address", "c:3", "-n", "ns3"}, wantAddress: "c:3", wantNamespace: "ns3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearTemporalEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cf, err := resolveConn(t, tt.args...)
			require.NoError(t, err)
			require.Equal(t, tt.wantAddress, cf.conn.Address)
			require.Equal(t, tt.wantNamespace, cf.conn.Namespace)
		})
	}
}

// Two generations naming the same setting differently: batchwire does not
// guess which one the operator means.
func TestConnFlagsGenerationsDisagree(t *testing.T) {
	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_CLI_ADDRESS", "a:1")
	t.Setenv("TEMPORAL_ADDRESS", "b:2")
	_, err := resolveConn(t)
	require.ErrorAs(t, err, &usageError{})
	require.ErrorContains(t, err, "TEMPORAL_CLI_ADDRESS and TEMPORAL_ADDRESS are both set")
	cf, err := resolveConn(t, "--address", "c:3")
	require.NoError(t, err)
	require.Equal(t, "c:3", cf.conn.Address)
}

func TestConnFlagsTLSAndKeyFromEnv(t *testing.T) {
	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_API_KEY", "k")
	t.Setenv("TEMPORAL_CLI_TLS_CA", "/ca.pem")
	t.Setenv("TEMPORAL_CLI_TLS_CERT", "/cert.pem")
	t.Setenv("TEMPORAL_CLI_TLS_KEY", "/key.pem")
	t.Setenv("TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION", "true")
	cf, err := resolveConn(t)
	require.NoError(t, err)
	require.Equal(t, "k", cf.conn.APIKey)
	require.Equal(t, batch.TLSOptions{Base: true, CAFile: "/ca.pem", CertFile: "/cert.pem", KeyFile: "/key.pem",
		InsecureSkipVerify: true}, cf.conn.TLS)

	t.Setenv("TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION", "maybe")
	_, err = resolveConn(t)
	require.ErrorAs(t, err, &usageError{})
	require.ErrorContains(t, err, "TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION")
}

func TestConnFlagsBothSpellings(t *testing.T) {
	clearTemporalEnv(t)
	for _, args := range [][]string{
		{"--tls_ca_path", "/ca", "--tls_cert_path", "/c", "--tls_key_path", "/k", "--tls_server_name", "h",
			"--tls_disable_host_verification", "--command_timeout", "5s", "--grpc_meta", "x-a=1", "--api_key", "k"},
		{"--tls-ca-path", "/ca", "--tls-cert-path", "/c", "--tls-key-path", "/k", "--tls-server-name", "h",
			"--tls-disable-host-verification", "--command-timeout", "5s", "--grpc-meta", "x-a=1", "--api-key", "k"},
	} {
		cf, err := resolveConn(t, args...)
		require.NoError(t, err, args)
		require.Equal(t, batch.Options{Address: "127.0.0.1:7233", Namespace: "default", APIKey: "k",
			TLS:     batch.TLSOptions{Base: true, CAFile: "/ca", CertFile: "/c", KeyFile: "/k", ServerName: "h", InsecureSkipVerify: true},
			Headers: map[string]string{"x-a": "1"}, Identity: cliIdentity(), DialTimeout: 5 * time.Second}, cf.conn)
	}
}

func TestCommandFlagsBothSpellings(t *testing.T) {
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"workflow", "reset-batch", "--input-file", "f"}, "input_file"},
		{[]string{"workflow", "reset-batch", "--input_file", "f"}, "input_file"},
		{[]string{"workflow", "reset-batch", "--exclude-file", "f"}, "exclude_file"},
		{[]string{"workflow", "reset-batch", "--reset-bad-binary-checksum", "f"}, "reset_bad_binary_checksum"},
		{[]string{"workflow", "signal", "--input_file", "f"}, "input-file"},
		{[]string{"workflow", "signal", "--job_id", "f"}, "job-id"},
		{[]string{"batch", "describe", "--job_id", "f"}, "job-id"},
		{[]string{"batch", "describe", "--tls-ca-path", "f"}, "tls_ca_path"},
	} {
		cmd, rest, err := newRootCmd().Find(tt.args)
		require.NoError(t, err)
		require.NoError(t, cmd.ParseFlags(rest), tt.args)
		require.Equal(t, "f", cmd.Flags().Lookup(tt.flag).Value.String(), tt.args)
	}
	cmd, rest, err := newRootCmd().Find([]string{"workflow", "reset-batch", "--reapply_exclude", "signal,update"})
	require.NoError(t, err)
	require.NoError(t, cmd.ParseFlags(rest))
	require.Equal(t, "[signal,update]", cmd.Flags().Lookup("reapply-exclude").Value.String())
}

func TestConnFlagsRejections(t *testing.T) {
	clearTemporalEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--codec-auth", "x"}, "need a codec endpoint"},
		{[]string{"--env", "prod"}, `environment "prod" not found`},
		{[]string{"--env-file", "/nonexistent/x.yaml"}, "temporal CLI environment file"},
		{[]string{"--profile", "prod"}, "unable to find profile prod"},
		{[]string{"--config-file", "/nonexistent/x.toml", "--profile", "p"}, "unable to find profile p"},
		{[]string{"--no-json-shorthand-payloads"}, "never prints payloads"},
		{[]string{"-o", "yaml"}, "--output: want text or json"},
		{[]string{"--color", "sometimes"}, "--color: want always, never or auto"},
		{[]string{"--grpc-meta", "novalue"}, "--grpc-meta entry 1: want KEY=VALUE"},
		{[]string{"--command-timeout", "-1s"}, "must not be negative"},
	} {
		_, err := resolveConn(t, tt.args...)
		require.ErrorAs(t, err, &usageError{}, tt.args)
		require.ErrorContains(t, err, tt.want)
	}
}

// TestUsageErrorsBeforeConnecting runs commands whose flags are wrong; each
// must be a usage error (exit 2) found without a server.
func TestUsageErrorsBeforeConnecting(t *testing.T) {
	clearTemporalEnv(t)
	noServer := []string{"--address", "127.0.0.1:1", "--command-timeout", "1s"}
	q := "Tenant = 'x' AND ExecutionStatus = 'Running'"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"workflow", "signal", "-q", q, "--name", "n"}, "--reason is required"},
		{[]string{"workflow", "signal", "-q", q, "--name", "n", "--reason", "  "}, "--reason is required"},
		{[]string{"workflow", "terminate", "-q", q}, "--reason is required"},
		{[]string{"workflow", "cancel", "-q", q}, "--reason is required"},
		{[]string{"workflow", "delete", "-q", q}, "--reason is required"},
		{[]string{"workflow", "reset-batch", "-q", q, "--type", "FirstWorkflowTask"}, "--reason is required"},
		{[]string{"batch", "terminate", "--job-id", "j"}, "--reason"},
		{[]string{"batch", "describe"}, "--job-id"},
		{[]string{"workflow", "signal", "--name", "n", "--reason", "r"}, "--query is required"},
		{[]string{"workflow", "signal", "-q", q, "--reason", "r"}, "--name: required"},
		{[]string{"workflow", "signal", "-q", q, "--name", "n", "--reason", "r", "--input", "{nope"}, "not valid JSON"},
		{[]string{"workflow", "signal", "-q", q, "--name", "n", "--reason", "r", "--input", "1", "--input-file", "f"}, "exclusive"},
		{[]string{"workflow", "terminate", "-q", "Tenant = 'x' -- all", "--reason", "r"}, "line comment"},
		{[]string{"workflow", "terminate", "-q", q, "--reason", "r", "--engine", "cloud"}, "--engine"},
		{[]string{"workflow", "terminate", "-q", q, "--reason", "r"}, "pass --yes"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r"}, "--type: required"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "Sometime"}, "want one of"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "BuildId"}, "--build-id: required for type BuildId"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "LastContinuedAsNew", "--engine", "server"},
			"--engine: server cannot run reset type LastContinuedAsNew"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "FirstWorkflowTask", "--input_file", "/nonexistent"},
			"--input_file"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "BadBinary"},
			"--reset_bad_binary_checksum: required for type BadBinary"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "LastWorkflowTask",
			"--reset_bad_binary_checksum", "abc", "--engine", "server"}, "--engine: server cannot run --reset_bad_binary_checksum"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "LastWorkflowTask", "--build-id", "b"},
			"--build-id: only for type BuildId"},
		{[]string{"workflow", "reset-batch", "-q", q, "--reason", "r", "--type", "LastWorkflowTask",
			"--only_non_deterministic", "--engine", "server"}, "--engine: server cannot run --only_non_deterministic"},
		{[]string{"workflow", "list", "--status", "Sleeping"}, "--status"},
		{[]string{"workflow", "list", "--status", "Completed", "--open"}, "conflicts"},
		{[]string{"workflow", "nonsense"}, "unknown command"},
		{[]string{"batch", "list", "--no-such-flag"}, "unknown flag"},
	} {
		res := runCLI(t, nil, append(tt.args, noServer...)...)
		require.ErrorAs(t, res.err, &usageError{}, tt.args)
		require.ErrorContains(t, res.err, tt.want, tt.args)
	}
}

func TestWithStatus(t *testing.T) {
	for _, tt := range []struct {
		query, status string
		open          bool
		want          string
	}{
		{"", "", false, ""},
		{"WorkflowType = 'a'", "", false, "WorkflowType = 'a'"},
		{"", "completed", false, "ExecutionStatus = 'Completed'"},
		{"a = 1 OR b = 2", "TimedOut", false, "(a = 1 OR b = 2\n) AND ExecutionStatus = 'TimedOut'"},
		{"a = 1", "", true, "(a = 1\n) AND ExecutionStatus = 'Running'"},
		{"a = 1", "running", true, "(a = 1\n) AND ExecutionStatus = 'Running'"},
	} {
		got, err := withStatus(tt.query, tt.status, tt.open)
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func TestCheckLaunchQuery(t *testing.T) {
	for _, ok := range []string{
		"WorkflowId = 'a--b'",
		`WorkflowId = 'it\'s -- fine'`,
		`WorkflowId = "x # y" AND Tenant = 'it''s'`,
		// Backslash escapes the quote, so the whole tail is one literal.
		`WorkflowId = '\' OR ExecutionStatus != 0 --'`,
	} {
		_, err := checkLaunchQuery(ok, false)
		require.NoError(t, err, ok)
	}
	for _, bad := range []string{
		"", "   ",
		"WorkflowType = 'a' -- everything",
		"WorkflowType = 'a' # note",
		"WorkflowType = 'a' // note",
		// The server drops block comments, and runs the body of /*! */ as SQL.
		"/* why */ WorkflowType = 'a'",
		"WorkflowType = 'a';",
		// The quote-doubled hostile value: the doubled quote closes the
		// literal, and the comment would swallow the batcher's clause.
		`WorkflowId = '\'' OR ExecutionStatus != 0 --'`,
	} {
		_, err := checkLaunchQuery(bad, true)
		require.ErrorAs(t, err, &usageError{}, bad)
	}
}

// The CLI refuses what the daemon's lint stage (admit/lint.go, rules.LintQuery)
// refuses, with the same words; --allow-unscoped lets through only a query
// whose one problem is its missing scope.
func TestCheckLaunchQueryIsTheDaemonsLint(t *testing.T) {
	tests := []struct {
		query         string
		allowUnscoped bool
	}{
		{"ExecutionStatus='Running'", true},
		{"ExecutionStatus = 'Running' OR ExecutionStatus = 'Failed'", true},
		{"WorkflowType = 'a' OR ExecutionStatus = 'Running'", true},
		{"WorkflowType = 'a' AND 1=1", false},
		{"true", false},
		{"WorkflowType = ", false},
		{"StartTime > '24h' AND WorkflowType = 'a'", false},
		{"WorkflowType STARTS_WITH '' AND ExecutionStatus = 'Running'", false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, daemonErr := rules.LintQuery(tt.query)
			require.Error(t, daemonErr)
			_, err := checkLaunchQuery(tt.query, false)
			require.ErrorAs(t, err, &usageError{})
			require.True(t, strings.HasPrefix(err.Error(), "--query: "+daemonErr.Error()), err.Error())
			_, err = checkLaunchQuery(tt.query, true)
			if tt.allowUnscoped {
				require.NoError(t, err)
			} else {
				require.ErrorAs(t, err, &usageError{})
			}
		})
	}
	warnings, err := checkLaunchQuery("WorkflowType = 'a' AND ExecutionStatus = 'Running'", false)
	require.NoError(t, err)
	daemonWarnings, _ := rules.LintQuery("WorkflowType = 'a' AND ExecutionStatus = 'Running'")
	require.Equal(t, daemonWarnings, warnings)
}

// The case: an unscoped terminate is refused before any RPC (exit 2),
// and --allow-unscoped is the explicit escape (it then goes on to connect).
func TestTerminateUnscopedNeedsAllowUnscoped(t *testing.T) {
	args := []string{"workflow", "terminate", "--query", "ExecutionStatus='Running'", "--reason", "r", "--yes",
		"--address", "127.0.0.1:1", "--command-timeout", "1s"}
	res := runCLI(t, nil, args...)
	require.ErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, "no scope")
	require.Contains(t, res.err.Error(), "--allow-unscoped")

	res = runCLI(t, nil, append(args, "--allow-unscoped")...)
	require.Error(t, res.err)
	require.NotErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, "connect to Temporal")
}

func TestHelpHasExamples(t *testing.T) {
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		require.NotEmpty(t, cmd.Example, "command %q has no Example", cmd.CommandPath())
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	root := newRootCmd()
	for _, name := range []string{"batch", "workflow"} {
		cmd, _, err := root.Find([]string{name})
		require.NoError(t, err)
		walk(cmd)
	}
}

func TestLineViewPrintsChangesOnly(t *testing.T) {
	var out strings.Builder
	v := &lineView{w: &out, jobID: "j", started: time.Now().Add(-time.Second)}
	running := batchProgress("running", 4, 1, 0)
	v.update(running)
	v.update(running)
	v.update(batchProgress("completed", 4, 3, 1))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	require.Contains(t, lines[0], "batch job j: running, 1/4 completed, 0 failed")
	require.Contains(t, lines[1], "completed, 3/4 completed, 1 failed")
	require.Contains(t, lines[1], "ETA 0s")
}

func TestKeepCountsOverZeroedFinalDescribe(t *testing.T) {
	last := batchProgress("running", 10, 4, 1)
	got := keepCounts(batchProgress("failed", 0, 0, 0), last)
	require.Equal(t, batchProgress("failed", 10, 4, 1), got)
	require.Equal(t, batchProgress("completed", 3, 3, 0), keepCounts(batchProgress("completed", 3, 3, 0), last))
}

func batchProgress(state string, total, completed, failed int64) batch.Progress {
	return batch.Progress{JobID: "j", State: state, Total: total, Completed: completed, Failed: failed}
}

// Duration flags read durations as the configuration does: 7d and 1w too.
func TestDurationFlagsTakePrometheusUnits(t *testing.T) {
	clearTemporalEnv(t)
	cf, err := resolveConn(t, "--command-timeout", "1d")
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, cf.commandTimeout)
	_, err = resolveConn(t, "--command-timeout", "-1d")
	require.ErrorContains(t, err, "must not be negative")
	cmd, rest, err := newRootCmd().Find([]string{"audit", "--since", "1w"})
	require.NoError(t, err)
	require.NoError(t, cmd.ParseFlags(rest))
	require.Equal(t, "168h0m0s", cmd.Flags().Lookup("since").Value.String())
}
