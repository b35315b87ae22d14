package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	goldenTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	goldenUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// normalise replaces what changes from run to run with fixed values of the
// width text tables print, so golden tables stay aligned and readable.
func normalise(s string) string {
	s = goldenTime.ReplaceAllString(s, "2000-01-01T00:00:00Z")
	return goldenUUID.ReplaceAllString(s, "00000000-0000-0000-0000-000000000000")
}

// checkGolden compares output with testdata/<name>.golden; -update rewrites it.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got = normalise(got)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/batchwire -run TestCLIGolden -update to create it")
	require.Equal(t, string(want), got)
}

// TestCLIGolden pins the text and JSON shapes of list, describe, count and a
// dry run, on a namespace holding one finished job and known workflows.
func TestCLIGolden(t *testing.T) {
	const ns = "cli-golden"
	c := cliStartWorker(t, ns)
	cliStartWorkflows(t, c, ns, "golden", "golden-1", "golden-2", "golden-3")
	cliStartWorkflows(t, c, ns, "bystander", "bystander-1")
	query := "Tenant = 'golden' AND ExecutionStatus = 'Running'"

	res := runCLI(t, nil, onServer(ns, "workflow", "signal", "--query", query, "--name", "ping",
		"--input", `{"n":1}`, "--reason", "golden run", "--job-id", "golden-job", "--engine", "server", "--yes", "--wait")...)
	require.NoError(t, res.err)
	// The job list is itself a visibility query, and lags like one.
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		res := runCLI(t, nil, onServer(ns, "batch", "list", "-o", "json")...)
		require.NoError(ct, res.err)
		require.Contains(ct, res.stdout, `"golden-job"`)
		require.Contains(ct, res.stdout, `"completed"`)
	}, 30*time.Second, 200*time.Millisecond)

	res = runCLI(t, nil, onServer(ns, "batch", "list", "--color", "always")...)
	require.NoError(t, res.err)
	require.Contains(t, res.stdout, "\x1b[32mcompleted\x1b[0m")

	for _, tt := range []struct {
		name string
		args []string
	}{
		{"batch_list", []string{"batch", "list"}},
		{"batch_describe", []string{"batch", "describe", "--job-id", "golden-job"}},
		{"workflow_count", []string{"workflow", "count", "--query", "Tenant = 'golden'"}},
		{"workflow_list", []string{"workflow", "list", "--query", "Tenant = 'golden'", "--open"}},
		{"signal_dry_run", []string{"workflow", "signal", "--query", query, "--name", "ping",
			"--reason", "look first", "--engine", "server", "--dry-run"}},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(tt.name+"_"+format, func(t *testing.T) {
				res := runCLI(t, nil, onServer(ns, append(tt.args, "-o", format)...)...)
				require.NoError(t, res.err)
				checkGolden(t, "cli_"+tt.name+"."+format, res.stdout)
			})
		}
	}
}
