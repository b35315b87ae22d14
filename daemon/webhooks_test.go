package daemon

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

// The webhook example end to end: Flipt (signed) and Unleash post their real
// bodies to the daemon, which maps each to a CloudEvent and signals the
// flag's tenant; a body with a wrong signature is refused and changes nothing.
func TestFlagServiceWebhooksSignalTenantWorkflows(t *testing.T) {
	const ns, secret = "e2e-webhooks", "flipt-test-secret"
	t.Setenv("FLIPT_WEBHOOK_SECRET", secret)
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	targets := testenv.StartFlagWorkflows(t, c, "hooks", "default", 2)
	others := testenv.StartFlagWorkflows(t, c, "hooks", "other", 1)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'", 3)
	d, reg := startDaemon(t, shippedConfig(t, "../examples/flags/webhooks.yaml", natsSrv.ClientURL(), ns))
	base := "http://" + d.HTTPAddr()

	flipt, err := os.ReadFile("../testdata/events/flipt_docs_audit_webhook_flag_updated.body.json")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, postSigned(t, base+"/hooks/flipt", flipt, "wrong-secret"))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_http_auth_failures_total", map[string]string{"trigger": "flipt", "reason": "signature"}))
	require.Zero(t, metricValue(t, reg, "batchwire_events_invalid_total", map[string]string{"trigger": "flipt"}))
	require.Equal(t, http.StatusAccepted, postSigned(t, base+"/hooks/flipt", flipt, secret))
	require.Equal(t, http.StatusAccepted, postFile(t, base+"/hooks/unleash", "../testdata/events/unleash_docs_feature-strategy-add.json"))

	for _, id := range targets {
		require.Eventually(t, func() bool {
			s := queryFlags(t, c, id)
			return s.Applied == 2 && s.Flags["maintenance-mode"] == true && s.Flags["new-feature"] == 67.0
		}, 30*time.Second, 100*time.Millisecond, "%s: %+v", id, queryFlags(t, c, id))
	}
	for _, id := range others {
		require.Empty(t, testenv.Signals(t, c, id), id)
	}
}

func postSigned(t *testing.T, url string, body []byte, key string) int {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Flipt-Webhook-Signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}
