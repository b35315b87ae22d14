package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/daemon"
)

// goodConfig is what a reload test daemon starts from before a broken file
// is copied over it.
const goodConfig = `triggers:
  - name: t
    nats: {subject: s}
rules:
  - name: r
    trigger: t
    when: "true"
    query: WorkflowType = 'W' AND ExecutionStatus = 'Running'
    terminate: {}
    reason: test
    guards: {max_workflows: 10}
`

// TestInvalidConfigsRefusedEverywhere runs every broken configuration of
// testdata/configs/invalid through check, run and reload (Reload and POST
// /-/reload): each must refuse it with the same problem text, which holds
// the file's `# want:` line (line number, owner and field), and none may
// panic.
func TestInvalidConfigsRefusedEverywhere(t *testing.T) {
	t.Setenv("BATCHWIRE_TEST_UNSET_SECRET", "")
	paths, err := filepath.Glob("../../testdata/configs/invalid/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 30)
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			want := wantLine(t, path)
			_, problems := daemon.Load(path, nil)
			require.NotEmpty(t, problems.Errors(), "the loader accepts it")
			lines := problemLines(problems.Errors())
			require.Contains(t, strings.Join(lines, "\n"), path+want)

			var printed bytes.Buffer
			printProblems(&printed, problems)
			require.Contains(t, printed.String(), "  error: "+path+want)

			var checkOut bytes.Buffer
			checkErr := noPanic(t, "check", func() error { return runCheck(&checkOut, path) })
			require.Error(t, checkErr)
			require.Contains(t, checkOut.String(), "\n"+printed.String()+"FAILED: ")

			stderr := noPanicRun(t, path)
			require.Equal(t, printed.String(), stderr)

			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			reloadErr, httpCode, httpBody := reloadWith(t, withAdmin(t, []byte(goodConfig)), raw, path)
			require.Equal(t, strings.Join(lines, "\n"), reloadErr)
			require.Equal(t, http.StatusBadRequest, httpCode)
			require.Equal(t, strings.Join(lines, "\n")+"\n", httpBody)
		})
	}
}

// TestShippedConfigsPassEverywhere keeps every shipped configuration free of
// errors for check, run's loader and reload.
func TestShippedConfigsPassEverywhere(t *testing.T) {
	t.Setenv("FLIPT_WEBHOOK_SECRET", "test-secret")
	paths, err := filepath.Glob("../../examples/*/*.yaml")
	require.NoError(t, err)
	paths = append(paths, "../../deploy/compose/batchwire.yaml")
	require.GreaterOrEqual(t, len(paths), 7)
	require.Subset(t, paths, []string{"../../examples/deploy/versioning.yaml", "../../examples/alerts/outage.yaml"},
		"the remediation examples' configurations")
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			var checkOut bytes.Buffer
			require.NoError(t, noPanic(t, "check", func() error { return runCheck(&checkOut, path) }))
			require.Contains(t, checkOut.String(), "SUCCESS: ")
			require.NotContains(t, checkOut.String(), "error: ")

			var stderr bytes.Buffer
			loaded, err := loadConfig(&stderr, path, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			require.NotEmpty(t, loaded.Rules.Rules())
			require.Empty(t, stderr.String())

			// A reload cannot change triggers or connections, so the daemon
			// starts from the file itself, with the admin endpoints on.
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			raw = withAdmin(t, raw)
			reloadErr, httpCode, httpBody := reloadWith(t, raw, raw, path)
			require.Empty(t, reloadErr)
			require.Equal(t, http.StatusOK, httpCode, httpBody)
		})
	}
}

// wantLine reads the `# want: ` comment on the first line of a corpus file.
func wantLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	first, err := bufio.NewReader(f).ReadString('\n')
	require.NoError(t, err)
	want, ok := strings.CutPrefix(strings.TrimSpace(first), "# want: ")
	require.True(t, ok, "%s: the first line must be # want: <problem text>", path)
	require.Regexp(t, `^:\d+: `, want, "the wanted text starts with the line number")
	return want
}

func problemLines(problems config.Problems) []string {
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.String()
	}
	return lines
}

func noPanic(t *testing.T, what string, f func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s panicked: %v", what, r)
		}
	}()
	return f()
}

// noPanicRun runs `batchwire run` in-process and returns its stderr. It
// must fail at load, before connecting anything; the deadline only keeps a
// regression from hanging the test.
func noPanicRun(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetArgs([]string{"run", "--config", path, "--log-level", "never"})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := noPanic(t, "run", func() error { return root.ExecuteContext(ctx) })
	require.Error(t, err)
	require.True(t, errors.As(err, new(usageError)), "run exits 2 for a bad configuration: %v", err)
	require.NoError(t, ctx.Err(), "run got past the loader")
	require.Empty(t, stdout.String())
	return stderr.String()
}

// adminToken is the admin bearer token withAdmin configures.
const adminToken = "corpus-admin-token"

// withAdmin returns the configuration raw with the admin endpoints enabled
// (http.admin), their token in a file of the test's, so that POST
// /-/reload is served.
func withAdmin(t *testing.T, raw []byte) []byte {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(adminToken+"\n"), 0o600))
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	httpSection, _ := doc["http"].(map[string]any)
	if httpSection == nil {
		httpSection = map[string]any{}
	}
	httpSection["admin"] = map[string]any{"enabled": true, "token_file": tokenFile}
	doc["http"] = httpSection
	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	return out
}

// reloadWith starts a daemon (without running it: New does no I/O) from
// the configuration start in a file, writes next over that file, and
// reloads twice: by Reload and by POST /-/reload with the admin token. The
// error text names path where it named the file, as check's does.
func reloadWith(t *testing.T, start, next []byte, path string) (reloadErr string, httpCode int, httpBody string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), filepath.Base(path))
	require.NoError(t, os.WriteFile(file, start, 0o600))
	cfg, err := config.Load(file)
	require.NoError(t, err)
	var d *daemon.Daemon
	require.NoError(t, noPanic(t, "New", func() (err error) {
		d, err = daemon.New(daemon.Options{Config: cfg, ConfigPath: file, Logger: slog.New(slog.DiscardHandler)})
		return err
	}))
	require.NoError(t, os.WriteFile(file, next, 0o600))
	if err := noPanic(t, "Reload", d.Reload); err != nil {
		reloadErr = strings.ReplaceAll(err.Error(), file, path)
	}
	rec := httptest.NewRecorder()
	_ = noPanic(t, "POST /-/reload", func() error {
		req := httptest.NewRequest(http.MethodPost, "/-/reload", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		d.Handler().ServeHTTP(rec, req)
		return nil
	})
	return reloadErr, rec.Code, strings.ReplaceAll(rec.Body.String(), file, path)
}
