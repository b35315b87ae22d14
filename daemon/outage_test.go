package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/examples/worker/remedy"
	"github.com/batchwire/batchwire/internal/testenv"
)

const outageWait = 60 * time.Second

// The downstream outage example end to end: the tenants' OutageWorkflows
// retry CallDownstream against a real HTTP downstream that answers 503. The
// firing alerts of tenant api-server (its "job" label) pause CallDownstream
// in that tenant's workflows only; once the downstream is back, the tenant
// "web" recovers by itself while api-server's stay paused; the resolved alert
// unpauses them with fresh attempts, and they complete.
func TestOutageAlertPausesThenResumesTheTenantsDownstreamCalls(t *testing.T) {
	const ns = "e2e-outage"
	var healthy atomic.Bool
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(downstream.Close)

	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	w := worker.New(c, remedy.OutageTaskQueue, worker.Options{})
	remedy.RegisterOutage(w, remedy.Downstream{URL: downstream.URL})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	targets := []string{"outage-api-server-1", "outage-api-server-2"}
	others := []string{"outage-web-1"}
	testenv.StartWorkflows(t, c, remedy.OutageTaskQueue, remedy.OutageWorkflowName, "api-server", targets, "api-server")
	testenv.StartWorkflows(t, c, remedy.OutageTaskQueue, remedy.OutageWorkflowName, "web", others, "web")
	for _, id := range append(append([]string{}, targets...), others...) {
		waitCall(t, c, id, "is failing", func(p *workflowpb.PendingActivityInfo) bool { return p.GetAttempt() >= 2 })
	}
	testenv.WaitCount(t, c, ns, "WorkflowType = 'OutageWorkflow' AND ExecutionStatus = 'Running'", 3)

	cfg := shippedConfig(t, "../examples/alerts/outage.yaml", natsSrv.ClientURL(), ns)
	d, reg := startDaemon(t, cfg)
	url := "http://" + d.HTTPAddr() + "/hooks/alertmanager"

	require.Equal(t, http.StatusAccepted, postFile(t, url, "../testdata/alertmanager/am-main-68fb2d5_01_firing_group_3_alerts.json"))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "pause-downstream-calls", "operation": "pause_activities"}))
	for _, id := range targets {
		waitCall(t, c, id, "was not paused", (*workflowpb.PendingActivityInfo).GetPaused)
	}
	for _, id := range others {
		require.False(t, pendingCall(t, c, id).GetPaused(), "%s is another tenant's", id)
	}

	healthy.Store(true) // the downstream is back; the alert has not resolved yet
	for _, id := range others {
		requireCompleted(t, c, id)
		require.GreaterOrEqual(t, callAttempts(t, c, id)[0], int32(2), "%s recovered by retrying", id)
	}
	for _, id := range targets {
		require.True(t, pendingCall(t, c, id).GetPaused(), "%s called the downstream while paused", id)
	}

	require.Equal(t, http.StatusAccepted, postFile(t, url, "../testdata/alertmanager/am-main-68fb2d5_03_mixed_2_firing_1_resolved.json"))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "resume-downstream-calls", "operation": "unpause_activities"}))
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "pause-downstream-calls", "operation": "pause_activities"}), "the re-sent firing alerts pause nothing again")
	for _, id := range targets {
		requireCompleted(t, c, id)
		require.Equal(t, []int32{1}, callAttempts(t, c, id), "%s: the unpause did not reset the attempts", id)
	}
}

// pendingCall returns the workflow's pending CallDownstream, or nil.
func pendingCall(t require.TestingT, c client.Client, workflowID string) *workflowpb.PendingActivityInfo {
	resp, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
	require.NoError(t, err)
	for _, p := range resp.GetPendingActivities() {
		if p.GetActivityType().GetName() == remedy.DownstreamActivity {
			return p
		}
	}
	return nil
}

// waitCall waits until the workflow's CallDownstream is pending and ok says so.
func waitCall(t *testing.T, c client.Client, workflowID, failure string, ok func(*workflowpb.PendingActivityInfo) bool) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		p := pendingCall(ct, c, workflowID)
		require.NotNil(ct, p)
		require.True(ct, ok(p), "%v", p)
	}, outageWait, 100*time.Millisecond, "%s: CallDownstream %s", workflowID, failure)
}

func requireCompleted(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), outageWait)
	defer cancel()
	require.NoError(t, c.GetWorkflow(ctx, workflowID, "").Get(ctx, nil), workflowID)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, testenv.Status(t, c, workflowID))
}

// callAttempts lists the attempt of each recorded start of CallDownstream:
// the history records only an activity's last attempt.
func callAttempts(t *testing.T, c client.Client, workflowID string) []int32 {
	t.Helper()
	scheduled := map[int64]bool{}
	var attempts []int32
	for _, ev := range testenv.History(t, c, workflowID, "") {
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == remedy.DownstreamActivity {
			scheduled[ev.GetEventId()] = true
		}
		if started := ev.GetActivityTaskStartedEventAttributes(); started != nil && scheduled[started.GetScheduledEventId()] {
			attempts = append(attempts, started.GetAttempt())
		}
	}
	return attempts
}
