package daemon

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// olderServer fakes the GetSystemInfo answer of a 1.28 server, which has no
// batch reset of activities; everything else is the real dev server.
var olderServer = &batch.ServerInfo{Version: "1.28.0"}

func activityRuleConfig(natsURL, dataDir, action string) string {
	return fmt.Sprintf(`
temporal: {address: %q, namespace: e2e-misc}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers:
  - name: alerts
    nats: {subject: alerts}
rules:
  - name: r
    trigger: alerts
    when: "true"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'
    %s
    reason: test
    guards: {max_workflows: 10}
`, temporalHostPort, natsURL, dataDir, action)
}

// A rule whose kind the connected server is too old for stops the daemon at
// start, with the rule, its line and the version it needs.
func TestRunRefusesARuleTheServerIsTooOldFor(t *testing.T) {
	natsSrv := runNATS(t)
	path, cfg := writeConfig(t, t.TempDir(), activityRuleConfig(natsSrv.ClientURL(), t.TempDir(),
		"reset_activities: {activity_type: Charge}"))
	d, err := New(Options{Config: cfg, ConfigPath: path, Logger: testenv.Logger(t), ServerInfo: olderServer})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = d.Run(ctx)
	require.ErrorContains(t, err, path+`:14: rule "r": reset_activities: reset_activities needs Temporal server 1.29.0 or later; `+
		"the connected server runs 1.28.0")
	require.False(t, d.Ready())
}

// A reload that adds such a rule is refused and the running rules stay; the
// real dev server (1.29) runs it.
func TestReloadRefusesARuleTheServerIsTooOldFor(t *testing.T) {
	natsSrv := runNATS(t)
	dataDir := t.TempDir()
	path, cfg := writeConfig(t, t.TempDir(), activityRuleConfig(natsSrv.ClientURL(), dataDir, "cancel: {}"))
	d, _ := startDaemonWith(t, Options{Config: cfg, ConfigPath: path, ServerInfo: olderServer})
	require.NoError(t, os.WriteFile(path, []byte(activityRuleConfig(natsSrv.ClientURL(), dataDir,
		"update_activity_options: {activity_type: Charge, heartbeat_timeout: 30s}")), 0o600))
	err := d.Reload()
	require.ErrorContains(t, err, `:14: rule "r": update_activity_options: update_activity_options needs Temporal server 1.29.0 or later`)
	require.Equal(t, "cancel", d.live.Load().ops["r"].Kind, "the running rules stay")

	real, _ := startDaemonWith(t, Options{Config: cfg, ConfigPath: path})
	require.NoError(t, real.Reload(), "the dev server runs update_activity_options")
	require.Equal(t, batch.KindUpdateActivityOptions, real.live.Load().ops["r"].Kind)
}
