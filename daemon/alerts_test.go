package daemon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// The alerts example end to end: Alertmanager posts its webhook to the
// daemon; the firing alerts of a tenant signal its workflows once (the other
// alerts of the storm hit the cooldown), and the resolved alert signals them
// to recover.
func TestAlertmanagerWebhookSignalsTenantWorkflows(t *testing.T) {
	const ns = "e2e-alerts"
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	targets := testenv.StartFlagWorkflows(t, c, "alerts", "api-server", 2)
	others := testenv.StartFlagWorkflows(t, c, "alerts", "web", 1)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'", 3)

	cfg := shippedConfig(t, "../examples/alerts/batchwire.yaml", natsSrv.ClientURL(), ns)
	d, reg := startDaemon(t, cfg)
	url := "http://" + d.HTTPAddr() + "/hooks/alertmanager"

	require.Equal(t, http.StatusAccepted, postFile(t, url, "../testdata/alertmanager/am-main-68fb2d5_01_firing_group_3_alerts.json"))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": "degrade-on-alert", "operation": "signal"}))
	require.Equal(t, 2.0, metricValue(t, reg, "batchwire_guard_blocked_total", map[string]string{"rule": "degrade-on-alert", "guard": "cooldown"}))
	for _, id := range targets {
		require.Eventually(t, func() bool { return queryFlags(t, c, id).Flags["degraded-HighRequestLatency"] == true },
			30*time.Second, 100*time.Millisecond, id)
	}

	require.Equal(t, http.StatusAccepted, postFile(t, url, "../testdata/alertmanager/am-main-68fb2d5_03_mixed_2_firing_1_resolved.json"))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": "recover-on-resolve", "operation": "signal"}))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_duplicates_suppressed_total", map[string]string{"rule": "degrade-on-alert"}),
		"the re-sent firing alert maps to the job it already started")
	for _, id := range targets {
		require.Eventually(t, func() bool {
			s := queryFlags(t, c, id)
			return s.Applied == 2 && s.Flags["degraded-HighRequestLatency"] == false
		}, 30*time.Second, 100*time.Millisecond, id)
	}
	for _, id := range others {
		require.Empty(t, testenv.Signals(t, c, id), id)
	}

	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(`{"version":"4",`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_events_invalid_total", map[string]string{"trigger": "alerts"}))
}

func postFile(t *testing.T, url, path string) int {
	t.Helper()
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var answer map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	t.Logf("POST %s: %d %v", path, resp.StatusCode, answer)
	return resp.StatusCode
}
