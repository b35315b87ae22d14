package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/examples/worker/remedy"
	"github.com/batchwire/batchwire/internal/testenv"
)

// The versions of the deploy example's Worker Deployment: goodBuild is the
// release examples/deploy/versioning.yaml rolls back to (the first 12 hex
// digits of the digest in the CDEvents payload), badBuild the release after it.
const (
	orderDeployment = "myapp"
	goodBuild       = "0b31b1c02ff4"
	badBuild        = "9f8e7d6c5b4a"
	versioningWait  = 60 * time.Second
)

// The Worker Versioning deploy example end to end: two versions of the
// example worker; orders started on the good one, then the bad one rolled
// out and orders started on it, failing; CD rolls back and reports it with a
// CDEvents service.rolledback event on JetStream, and the daemon pins every
// order that runs on the bad version to the good one. The pinned orders then
// complete on the good version's worker, while the bad version's worker is
// still polling; the orders that never ran on the bad version are untouched.
func TestRollbackPinsBadVersionExecutionsToThePreviousVersion(t *testing.T) {
	const ns = "e2e-versioning"
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)

	startOrderWorker(t, c, goodBuild, false)
	setCurrentVersion(t, c, goodBuild)
	onGood := startOrders(t, c, "order-good", 2)
	for _, id := range onGood {
		waitOnVersion(t, c, id, goodBuild)
	}

	startOrderWorker(t, c, badBuild, true) // the rollout
	setCurrentVersion(t, c, badBuild)
	onBad := startOrders(t, c, "order-bad", 2)
	for _, id := range onBad {
		waitOnVersion(t, c, id, badBuild)
		require.NoError(t, c.SignalWorkflow(context.Background(), id, "", remedy.ProceedSignalName, nil))
	}
	for _, id := range onBad {
		waitFulfilFailing(t, c, id)
	}

	setCurrentVersion(t, c, goodBuild) // the rollback: new orders start on the good version again
	for _, id := range onBad {
		require.Equal(t, badBuild, testenv.Describe(t, c, id).GetVersioningInfo().GetDeploymentVersion().GetBuildId(),
			"%s is pinned: the rollback alone does not move it", id)
	}
	testenv.WaitCount(t, c, ns, "TemporalWorkerDeploymentVersion = '"+orderDeployment+":"+badBuild+"' AND ExecutionStatus = 'Running'", 2)

	cfg := shippedConfig(t, "../examples/deploy/versioning.yaml", natsSrv.ClientURL(), ns)
	_, reg := startDaemon(t, cfg)
	publishRolledBack(t, natsSrv.ClientURL())

	for _, id := range onBad {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			version := testenv.Describe(ct, c, id).GetVersioningInfo().GetVersioningOverride().GetPinned().GetVersion()
			require.Equal(ct, []string{orderDeployment, goodBuild}, []string{version.GetDeploymentName(), version.GetBuildId()})
		}, versioningWait, 200*time.Millisecond, "%s was not pinned to the previous version", id)
		require.Equal(t, goodBuild, orderResult(t, c, id), "%s must complete on the good version", id)
	}
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "pin-after-rollback", "operation": "update_options"}))

	for _, id := range onGood {
		info := testenv.Describe(t, c, id)
		require.Nil(t, info.GetVersioningInfo().GetVersioningOverride(), "%s never ran on the bad version", id)
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, info.GetStatus(), id)
		require.Equal(t, goodBuild, info.GetVersioningInfo().GetDeploymentVersion().GetBuildId(), id)
		require.NoError(t, c.SignalWorkflow(context.Background(), id, "", remedy.ProceedSignalName, nil))
		require.Equal(t, goodBuild, orderResult(t, c, id), id)
	}
}

// startOrderWorker runs one version of the example's Worker Deployment.
func startOrderWorker(t *testing.T, c client.Client, buildID string, broken bool) {
	t.Helper()
	w := worker.New(c, remedy.OrderTaskQueue, remedy.VersionedOptions(worker.Options{}, orderDeployment, buildID))
	remedy.RegisterOrders(w, remedy.Fulfiller{BuildID: buildID, Broken: broken})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// setCurrentVersion makes buildID the deployment's current version, as CD
// does on a rollout or a rollback. A version exists once its worker has
// polled, so it is retried until then.
func setCurrentVersion(t *testing.T, c client.Client, buildID string) {
	t.Helper()
	deployment := c.WorkerDeploymentClient().GetHandle(orderDeployment)
	var err error
	require.Eventually(t, func() bool {
		_, err = deployment.SetCurrentVersion(context.Background(), client.WorkerDeploymentSetCurrentVersionOptions{BuildID: buildID})
		return err == nil
	}, versioningWait, 200*time.Millisecond, "set current version %s: %v", buildID, err)
}

func startOrders(t *testing.T, c client.Client, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: remedy.OrderTaskQueue},
			remedy.OrderWorkflowName)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// waitOnVersion waits until the execution's first task has run on buildID.
func waitOnVersion(t *testing.T, c client.Client, workflowID, buildID string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		info := testenv.Describe(ct, c, workflowID).GetVersioningInfo()
		require.Equal(ct, enumspb.VERSIONING_BEHAVIOR_PINNED, info.GetBehavior())
		require.Equal(ct, buildID, info.GetDeploymentVersion().GetBuildId())
	}, versioningWait, 100*time.Millisecond, "%s did not start on %s", workflowID, buildID)
}

// waitFulfilFailing waits until the bad build has failed the order's Fulfil.
func waitFulfilFailing(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
		require.NoError(ct, err)
		require.NotEmpty(ct, resp.GetPendingActivities())
		pending := resp.GetPendingActivities()[0]
		require.GreaterOrEqual(ct, pending.GetAttempt(), int32(2))
		require.Contains(ct, pending.GetLastFailure().GetMessage(), "build "+badBuild+" is broken")
	}, versioningWait, 100*time.Millisecond, "%s: Fulfil is not failing on the bad build", workflowID)
}

// orderResult waits for the order to complete and returns the build that fulfilled it.
func orderResult(t *testing.T, c client.Client, workflowID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), versioningWait)
	defer cancel()
	var fulfilledBy string
	require.NoError(t, c.GetWorkflow(ctx, workflowID, "").Get(ctx, &fulfilledBy), workflowID)
	return fulfilledBy
}

// publishRolledBack publishes the CDEvents payload verbatim as a CloudEvent
// with the ids its context names, once the daemon has created the stream.
func publishRolledBack(t *testing.T, natsURL string) {
	t.Helper()
	body, err := os.ReadFile("../testdata/events/cdevents_v0.4.1_service_rolledback.json")
	require.NoError(t, err)
	var cd struct {
		Context struct{ ID, Source, Type string } `json:"context"`
	}
	require.NoError(t, json.Unmarshal(body, &cd))
	ev := cloudevents.NewEvent()
	ev.SetID(cd.Context.ID)
	ev.SetSource(cd.Context.Source)
	ev.SetType(cd.Context.Type)
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(body)))
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := js.Publish("deploy.myapp", raw)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
}
