package engine

import (
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	deploymentpb "go.temporal.io/api/deployment/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/batchwire/batchwire/batch"
)

// hist builds a history by hand, numbering events from 1 as the server does.
type hist []*historypb.HistoryEvent

func (h hist) add(t enumspb.EventType, set func(*historypb.HistoryEvent)) hist {
	e := &historypb.HistoryEvent{EventId: int64(len(h) + 1), EventType: t}
	if set != nil {
		set(e)
	}
	return append(h, e)
}

func (h hist) started() hist {
	return h.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, nil)
}

// task appends a workflow task (scheduled, started, completed) completed by build.
func (h hist) task(build string) hist {
	h = h.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, nil)
	h = h.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, nil)
	return h.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowTaskCompletedEventAttributes{
			WorkflowTaskCompletedEventAttributes: &historypb.WorkflowTaskCompletedEventAttributes{
				WorkerVersion: &commonpb.WorkerVersionStamp{BuildId: build}}}
	})
}

func (h hist) failedTask(cause enumspb.WorkflowTaskFailedCause, msg string) hist {
	h = h.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, nil)
	h = h.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, nil)
	return h.add(enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowTaskFailedEventAttributes{
			WorkflowTaskFailedEventAttributes: &historypb.WorkflowTaskFailedEventAttributes{
				Cause: cause, Failure: &failurepb.Failure{Message: msg}}}
	})
}

func (h hist) signal(name string) hist {
	return h.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{
			WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: name}}
	})
}

func (h hist) activity() hist {
	h = h.add(enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, nil)
	h = h.add(enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, nil)
	return h.add(enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, nil)
}

func (h hist) continuedAsNew(taskID int64) hist {
	return h.add(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, func(e *historypb.HistoryEvent) {
		e.Attributes = &historypb.HistoryEvent_WorkflowExecutionContinuedAsNewEventAttributes{
			WorkflowExecutionContinuedAsNewEventAttributes: &historypb.WorkflowExecutionContinuedAsNewEventAttributes{
				WorkflowTaskCompletedEventId: taskID}}
	})
}

const nde = enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR

func resetOp(resetType string) batch.Operation {
	return batch.Reset(batch.ResetOptions{Type: resetType})
}

func TestResetPoint(t *testing.T) {
	// 1 started, 2-4 task, 5-7 activity, 8-10 task, 11 signal, 12-14 task, 15-17 task
	typical := hist{}.started().task("v1").activity().task("v1").signal("flag").task("v2").task("v2")
	ndeAfterSignal := hist{}.started().task("v1").signal("flag").failedTask(nde, "[TMPRL1100] nondeterministic workflow")
	tests := []struct {
		name    string
		history hist
		op      batch.Operation
		want    int64
		ok      bool
		reason  string
	}{
		{"first task", typical, resetOp(batch.ResetFirstWorkflowTask), 4, true, ""},
		{"last task", typical, resetOp(batch.ResetLastWorkflowTask), 17, true, ""},
		{"last task before a failed one", ndeAfterSignal, resetOp(batch.ResetLastWorkflowTask), 4, true, ""},
		{"no completed task: first started", hist{}.started().failedTask(nde, "x"), resetOp(batch.ResetFirstWorkflowTask), 3, true, ""},
		{"no completed task: last falls back to started", hist{}.started().failedTask(nde, "x"), resetOp(batch.ResetLastWorkflowTask), 3, true, ""},
		{"no task at all", hist{}.started(), resetOp(batch.ResetLastWorkflowTask), 0, false, "no workflow task has started"},
		{"task that handled the last signal", typical, resetOp(batch.ResetWorkflowExecutionSignaled), 14, true, ""},
		{"signal picked up by a failing task", ndeAfterSignal, resetOp(batch.ResetWorkflowExecutionSignaled), 7, true, ""},
		{"signal not picked up yet", hist{}.started().task("v1").signal("flag"), resetOp(batch.ResetWorkflowExecutionSignaled),
			0, false, "no workflow task has picked up the last signal yet"},
		{"never signalled", hist{}.started().task("v1"), resetOp(batch.ResetWorkflowExecutionSignaled), 0, false, "never signalled"},
		{"continued as new", hist{}.started().task("v1").activity().task("v1").continuedAsNew(10),
			resetOp(batch.ResetLastContinuedAsNew), 10, true, ""},
		{"continued as new without task id", hist{}.started().task("v1").activity().task("v1").continuedAsNew(0),
			resetOp(batch.ResetLastContinuedAsNew), 10, true, ""},
		{"did not continue as new", typical, resetOp(batch.ResetLastContinuedAsNew), 0, false, "run did not continue as new"},
		{"build id: first task of the build", typical, batch.Reset(batch.ResetOptions{Type: batch.ResetBuildID, BuildID: "v2"}), 14, true, ""},
		{"bad binary", typical, batch.Reset(batch.ResetOptions{Type: batch.ResetBadBinary, BadBinaryChecksum: "v1"}), 4, true, ""},
		{"bad binary never ran", typical, batch.Reset(batch.ResetOptions{Type: batch.ResetBadBinary, BadBinaryChecksum: "v9"}),
			0, false, `no workflow task completed by bad binary "v9"`},
		{"bad binary filter: first task of a run it touched", typical,
			batch.Reset(batch.ResetOptions{Type: batch.ResetFirstWorkflowTask, BadBinaryChecksum: "v2"}), 4, true, ""},
		{"bad binary filter: a run it never touched is skipped", typical,
			batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, BadBinaryChecksum: "v9"}),
			0, false, `no workflow task completed by bad binary "v9"`},
		{"bad binary filter beside a build id point", typical,
			batch.Reset(batch.ResetOptions{Type: batch.ResetBuildID, BuildID: "v2", BadBinaryChecksum: "v1"}), 14, true, ""},
		{"bad binary filter and a signal point", hist{}.started().task("v1").signal("flag").task("v1"),
			batch.Reset(batch.ResetOptions{Type: batch.ResetWorkflowExecutionSignaled, BadBinaryChecksum: "v2"}),
			0, false, `no workflow task completed by bad binary "v2"`},
		{"only non-deterministic: qualifies", ndeAfterSignal, batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask, OnlyNonDeterministic: true}), 4, true, ""},
		{"only non-deterministic: healthy", typical, batch.Reset(batch.ResetOptions{Type: batch.ResetLastWorkflowTask,
			OnlyNonDeterministic: true}), 0, false, "last workflow task did not fail with a non-determinism error"},
		{"unknown type", typical, resetOp("Sideways"), 0, false, `unknown reset type "Sideways"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, reason := ResetPoint(tt.history, *tt.op.Reset)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.reason, reason)
		})
	}
}

func TestCompletedByEveryBuildField(t *testing.T) {
	tests := map[string]*historypb.WorkflowTaskCompletedEventAttributes{
		"binary checksum":    {BinaryChecksum: "b1"},
		"version stamp":      {WorkerVersion: &commonpb.WorkerVersionStamp{BuildId: "b1"}},
		"deployment":         {Deployment: &deploymentpb.Deployment{BuildId: "b1"}},
		"deployment version": {DeploymentVersion: &deploymentpb.WorkerDeploymentVersion{BuildId: "b1"}},
	}
	for name, attrs := range tests {
		t.Run(name, func(t *testing.T) {
			require.True(t, completedBy(attrs, "b1"))
			require.False(t, completedBy(attrs, "b2"))
		})
	}
	require.False(t, completedBy(&historypb.WorkflowTaskCompletedEventAttributes{}, ""), "empty build matches nothing")
}

func TestLastTaskNonDeterministic(t *testing.T) {
	unhandled := enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE
	tests := []struct {
		name    string
		history hist
		want    bool
	}{
		{"NDE cause", hist{}.started().task("v1").failedTask(nde, "boom"), true},
		{"unhandled failure saying nondeterministic", hist{}.started().failedTask(unhandled, "Nondeterministic workflow"), true},
		{"plain panic", hist{}.started().failedTask(unhandled, "nil pointer dereference"), false},
		{"NDE then a completed task", hist{}.started().failedTask(nde, "x").task("v2"), false},
		{"healthy", hist{}.started().task("v1"), false},
		{"empty", hist{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, LastTaskNonDeterministic(tt.history))
		})
	}
}

func TestRequestIDIsStablePerExecution(t *testing.T) {
	id := RequestID("job", "wf", "run")
	require.Equal(t, id, RequestID("job", "wf", "run"))
	require.NotEqual(t, id, RequestID("job", "wf", "run2"))
	require.NotEqual(t, id, RequestID("job2", "wf", "run"))
	// The separator keeps ("a","bc") and ("ab","c") apart.
	require.NotEqual(t, RequestID("j", "a", "bc"), RequestID("j", "ab", "c"))
}
