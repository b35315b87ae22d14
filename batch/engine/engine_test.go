package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/internal/testenv"
)

// fixture is one test's clients, workers and tenant.
type fixture struct {
	home, targets client.Client
	tenant        string
}

func newFixture(t *testing.T, tenant string) fixture {
	t.Helper()
	f := fixture{home: dial(t, homeNS), targets: dial(t, targetNS), tenant: tenant}
	startEngine(t, f.home)
	w := startTargetWorker(t, f.targets, targetQueue+"-"+tenant, registerTargets)
	t.Cleanup(w.Stop)
	return f
}

// start starts n workflows of the fixture's tenant and waits until each is idle.
func (f fixture) start(t *testing.T, prefix, name string, n, minEvents int, args ...any) map[string]string {
	t.Helper()
	runs := testenv.StartWorkflows(t, f.targets, targetQueue+"-"+f.tenant, name, f.tenant, ids(prefix, n), args...)
	for id, run := range runs {
		waitIdle(t, f.targets, id, run, minEvents)
	}
	return runs
}

func (f fixture) query() string {
	return fmt.Sprintf("Tenant = '%s' AND ExecutionStatus = 'Running'", f.tenant)
}

func (f fixture) spec(jobID string, op batch.Operation) Spec {
	return Spec{JobID: jobID, Namespace: targetNS, Query: f.query(), Reason: "engine test " + jobID, Operation: op}
}

func (f fixture) ping(t *testing.T, workflowID string) {
	t.Helper()
	require.NoError(t, f.targets.SignalWorkflow(context.Background(), workflowID, "", pingSignal, "hello"))
}

// startAs starts n workflows of another tenant on the fixture's queue.
func (f fixture) startAs(t *testing.T, tenant, prefix, name string, n, minEvents int, args ...any) map[string]string {
	t.Helper()
	runs := testenv.StartWorkflows(t, f.targets, targetQueue+"-"+f.tenant, name, tenant, ids(prefix, n), args...)
	for id, run := range runs {
		waitIdle(t, f.targets, id, run, minEvents)
	}
	return runs
}

func TestSignalOnlyWhatTheQuerySelects(t *testing.T) {
	f := newFixture(t, "sig")
	hits := f.start(t, "sig-hit", stepperName, 3, 9)
	misses := f.startAs(t, "sig-other", "sig-miss", stepperName, 2, 9)
	testenv.WaitCount(t, f.targets, "", f.query(), 3)

	op := batch.Signal("flag_changed", []byte(`{"flag":"x","value":true}`))
	r := runJob(t, f.home, f.spec("job-sig", op))

	requireCounts(t, r, batch.StateCompleted, 3, 3, 0, 0)
	for id := range hits {
		signals := testenv.Signals(t, f.targets, id)
		require.Len(t, signals, 1, id)
		attrs := signals[0]
		require.Equal(t, "flag_changed", attrs.GetSignalName())
		require.JSONEq(t, `{"flag":"x","value":true}`, string(attrs.GetInput().GetPayloads()[0].GetData()))
		require.Equal(t, identity("job-sig"), attrs.GetIdentity())
	}
	for id := range misses {
		require.Empty(t, testenv.Signals(t, f.targets, id), id)
	}
}

// Pages of 2 over 5 running workflows: each next page is listed while the
// one before is terminated, and the query selects running ones only, so a
// listing that lost its place would skip or repeat some.
func TestTerminatePagesListedAhead(t *testing.T) {
	f := newFixture(t, "ahead")
	runs := f.start(t, "ahead", stepperName, 5, 9)
	testenv.WaitCount(t, f.targets, "", f.query(), 5)

	spec := f.spec("job-ahead", batch.Terminate())
	spec.PageSize = 2
	r := runJob(t, f.home, spec)

	requireCounts(t, r, batch.StateCompleted, 5, 5, 0, 0)
	for id := range runs {
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, testenv.Status(t, f.targets, id), id)
	}
}

func TestTerminateSkipsExcludedIDs(t *testing.T) {
	f := newFixture(t, "term")
	runs := f.start(t, "term", stepperName, 4, 9)
	testenv.WaitCount(t, f.targets, "", f.query(), 4)

	spec := f.spec("job-term", batch.Terminate())
	spec.ExcludeIDs = []string{"term-2"}
	r := runJob(t, f.home, spec)

	requireCounts(t, r, batch.StateCompleted, 3, 3, 0, 0)
	for id := range runs {
		want := enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
		if id == "term-2" {
			want = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		}
		require.Equal(t, want, testenv.Status(t, f.targets, id), id)
	}
	events := testenv.History(t, f.targets, "term-1", "")
	last := events[len(events)-1].GetWorkflowExecutionTerminatedEventAttributes()
	require.Equal(t, identity("job-term"), last.GetIdentity())
	require.Equal(t, spec.Reason, last.GetReason())
}

func TestIncludeIDs(t *testing.T) {
	f := newFixture(t, "incl")
	f.start(t, "incl", stepperName, 3, 9)

	spec := f.spec("job-incl", batch.Signal(pingSignal, []byte(`"hi"`)))
	spec.Query = ""
	spec.IncludeIDs = []string{"incl-1", "incl-3", "incl-missing"}
	r := runJob(t, f.home, spec)

	requireCounts(t, r, batch.StateCompleted, 3, 2, 0, 1)
	require.Len(t, testenv.Signals(t, f.targets, "incl-1"), 1)
	require.Empty(t, testenv.Signals(t, f.targets, "incl-2"))
	require.Len(t, testenv.Signals(t, f.targets, "incl-3"), 1)

	// With a query, the include list narrows what the query selects.
	testenv.WaitCount(t, f.targets, "", f.query(), 3)
	spec.JobID, spec.Query, spec.IncludeIDs = "job-incl-query", f.query(), []string{"incl-2", "incl-missing"}
	r = runJob(t, f.home, spec)
	requireCounts(t, r, batch.StateCompleted, 1, 1, 0, 0)
	require.Len(t, testenv.Signals(t, f.targets, "incl-2"), 1)
	require.Len(t, testenv.Signals(t, f.targets, "incl-1"), 1)
}

// Engine jobs live in the engine's home namespace; a job whose query also
// selects them (here: every running workflow of the home namespace whose id
// starts like the job's) acts on its targets and never on itself.
func TestJobNeverSelectsEngineWorkflows(t *testing.T) {
	f := newFixture(t, "self")
	home := dial(t, homeNS)
	w := startTargetWorker(t, home, targetQueue+"-self-home", registerTargets)
	t.Cleanup(w.Stop)
	runs := testenv.StartWorkflows(t, home, targetQueue+"-self-home", stepperName, "self", ids("selfjob-target", 2))
	for id, run := range runs {
		waitIdle(t, home, id, run, 9)
	}
	query := "WorkflowId STARTS_WITH 'selfjob' AND ExecutionStatus = 'Running'"
	testenv.WaitCount(t, home, "", query, 2)
	spec := Spec{JobID: "selfjob-terminate", Namespace: homeNS, Query: query, Reason: "self", Operation: batch.Terminate()}
	r := runJob(t, f.home, spec)
	requireCounts(t, r, batch.StateCompleted, 2, 2, 0, 0)
	for id := range runs {
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, testenv.Status(t, home, id), id)
	}
}
