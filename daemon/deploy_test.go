package daemon

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/batchwire/batchwire/examples/worker/flags"
	"github.com/batchwire/batchwire/internal/testenv"
)

// The deploy example end to end: a CDEvents service.rolledback event on
// JetStream resets every running workflow that started on the rolled-back
// artifact, and none of the others.
func TestDeployRollbackResetsWorkflowsOfTheBadArtifact(t *testing.T) {
	const ns = "e2e-deploy"
	body, err := os.ReadFile("../testdata/events/cdevents_v0.4.1_service_rolledback.json")
	require.NoError(t, err)
	var cd struct {
		Context struct{ ID, Source, Type string } `json:"context"`
		Subject struct {
			Content struct{ ArtifactID string } `json:"content"`
		} `json:"subject"`
	}
	require.NoError(t, json.Unmarshal(body, &cd))

	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	bad := startDeployed(t, c, "on-bad", cd.Subject.Content.ArtifactID, 2)
	good := startDeployed(t, c, "on-good", "pkg:oci/myapp@sha256%3Agood", 2)
	testenv.WaitCount(t, c, ns, "ExecutionStatus = 'Running' AND WorkflowType = 'FlagWorkflow'", 4)

	cfg := shippedConfig(t, "../examples/deploy/batchwire.yaml", natsSrv.ClientURL(), ns)
	_, reg := startDaemon(t, cfg)

	ev := cloudevents.NewEvent()
	ev.SetID(cd.Context.ID)
	ev.SetSource(cd.Context.Source)
	ev.SetType(cd.Context.Type)
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(body)))
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	nc, err := nats.Connect(natsSrv.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the daemon creates the stream
		_, err := js.Publish("deploy.myapp", raw)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)

	for id, run := range bad {
		require.Eventually(t, func() bool { return testenv.CurrentRun(t, c, id) != run }, 60*time.Second, 100*time.Millisecond,
			"%s was not reset", id)
	}
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "reset-after-bad-rollout", "operation": "reset"}))
	for id, run := range good {
		require.Equal(t, run, testenv.CurrentRun(t, c, id), "%s started on a good artifact and must not be reset", id)
	}
}

// startDeployed starts n FlagWorkflows carrying the artifact they run on.
func startDeployed(t *testing.T, c client.Client, prefix, artifact string, n int) map[string]string {
	t.Helper()
	runs := map[string]string{}
	for i := range n {
		id := prefix + "-" + string(rune('a'+i))
		run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
			ID: id, TaskQueue: flags.TaskQueue,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporal.NewSearchAttributeKeyKeyword("Deployment").ValueSet(artifact)),
		}, flags.WorkflowName, flags.Params{Tenant: "deploy"})
		require.NoError(t, err)
		runs[id] = run.GetRunID()
	}
	return runs
}
