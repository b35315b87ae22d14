package engine

import (
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/batchwire/batchwire/batch"
)

// ResetPoint returns the WorkflowTaskFinishEventId to reset history to for op,
// or ok false and why the execution does not qualify. Resetting to a workflow
// task's finish event keeps every event before that task started and runs the
// task again on the current code, so "reset to task X" undoes X and what followed.
//
// What each type resets to (tctl and the server batcher are the sources):
//   - FirstWorkflowTask: the first WorkflowTaskCompleted (server batcher and
//     temporal CLI); with none, the first WorkflowTaskStarted.
//   - LastWorkflowTask: the last WorkflowTaskCompleted (server batcher, CLI);
//     with none, the first WorkflowTaskStarted.
//   - LastContinuedAsNew: history must be the run that continued as new (the
//     current run's predecessor, as in tctl); the point is the task that issued
//     the continue-as-new, so that run's last task runs again.
//   - WorkflowExecutionSignaled: the first WorkflowTaskCompleted after the last
//     signal, i.e. the task that handled it; the signal
//     precedes the point, so it stays in history and is handled again. With no
//     completed task yet, the first WorkflowTaskStarted after the signal.
//   - BuildId, BadBinary: the first WorkflowTaskCompleted by that build id or
//     binary checksum (tctl BadBinary and the server's auto-reset points use the
//     same event), which undoes everything that build did.
//
// The two filters narrow which histories qualify at all, whatever the type;
// one that fails a filter is skipped, never reset elsewhere:
//   - OnlyNonDeterministic: the last workflow task failed with a
//     non-determinism error.
//   - BadBinaryChecksum (beside any type but BadBinary, where it is the
//     point): some workflow task was completed by that binary or build.
func ResetPoint(history []*historypb.HistoryEvent, op batch.ResetOptions) (eventID int64, ok bool, reason string) {
	if op.OnlyNonDeterministic && !LastTaskNonDeterministic(history) {
		return 0, false, "last workflow task did not fail with a non-determinism error"
	}
	if op.BadBinaryChecksum != "" {
		if _, touched, _ := firstCompletedBy(history, op.BadBinaryChecksum); !touched {
			return 0, false, fmt.Sprintf("no workflow task completed by bad binary %q", op.BadBinaryChecksum)
		}
	}
	switch op.Type {
	case batch.ResetFirstWorkflowTask:
		return firstWorkflowTask(history)
	case batch.ResetLastWorkflowTask:
		return lastWorkflowTask(history)
	case batch.ResetLastContinuedAsNew:
		return continuedAsNewTask(history)
	case batch.ResetWorkflowExecutionSignaled:
		return afterLastSignal(history)
	case batch.ResetBuildID:
		return firstCompletedBy(history, op.BuildID)
	case batch.ResetBadBinary:
		return firstCompletedBy(history, op.BadBinaryChecksum)
	}
	return 0, false, fmt.Sprintf("unknown reset type %q", op.Type)
}

func firstWorkflowTask(history []*historypb.HistoryEvent) (int64, bool, string) {
	for _, e := range history {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			return e.GetEventId(), true, ""
		}
	}
	return firstStartedFrom(history, 0)
}

func lastWorkflowTask(history []*historypb.HistoryEvent) (int64, bool, string) {
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			return history[i].GetEventId(), true, ""
		}
	}
	return firstStartedFrom(history, 0)
}

// firstStartedFrom is the fallback for a workflow whose tasks never completed
// (every one failed, for instance): reset to a started task. The server batcher
// uses scheduled+1 instead, which is not a task event when a signal landed in between.
func firstStartedFrom(history []*historypb.HistoryEvent, from int) (int64, bool, string) {
	for _, e := range history[from:] {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
			return e.GetEventId(), true, ""
		}
	}
	return 0, false, "no workflow task has started"
}

func continuedAsNewTask(history []*historypb.HistoryEvent) (int64, bool, string) {
	var last int64
	for _, e := range history {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			last = e.GetEventId()
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			if id := e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetWorkflowTaskCompletedEventId(); id > 0 {
				return id, true, ""
			}
			if last > 0 {
				return last, true, ""
			}
			return 0, false, "continue-as-new without a completed workflow task"
		}
	}
	return 0, false, "run did not continue as new"
}

func afterLastSignal(history []*historypb.HistoryEvent) (int64, bool, string) {
	at := -1
	for i, e := range history {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			at = i
		}
	}
	if at < 0 {
		return 0, false, "never signalled"
	}
	for _, e := range history[at+1:] {
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			return e.GetEventId(), true, ""
		}
	}
	if id, ok, _ := firstStartedFrom(history, at+1); ok {
		return id, true, ""
	}
	return 0, false, "no workflow task has picked up the last signal yet"
}

func firstCompletedBy(history []*historypb.HistoryEvent, build string) (int64, bool, string) {
	for _, e := range history {
		attrs := e.GetWorkflowTaskCompletedEventAttributes()
		if attrs != nil && completedBy(attrs, build) {
			return e.GetEventId(), true, ""
		}
	}
	return 0, false, fmt.Sprintf("no workflow task completed by build %q", build)
}

// completedBy looks at every field a worker's build has been recorded in over
// the versioning APIs' history: binary checksum, version stamp, deployment.
func completedBy(attrs *historypb.WorkflowTaskCompletedEventAttributes, build string) bool {
	//nolint:staticcheck // deprecated fields are what older workers and servers fill
	candidates := []string{attrs.GetBinaryChecksum(), attrs.GetWorkerVersion().GetBuildId(),
		attrs.GetDeployment().GetBuildId(), attrs.GetDeploymentVersion().GetBuildId()}
	for _, c := range candidates {
		if c != "" && c == build {
			return true
		}
	}
	return false
}

// LastTaskNonDeterministic reports whether the last workflow task outcome in
// history is a failure caused by non-determinism. Like tctl, a later completed
// task clears an earlier failure; unlike tctl, an unhandled worker failure (a
// panic) counts only if its message says non-determinism, since the Go SDK and
// current SDKs report NDEs with their own cause.
func LastTaskNonDeterministic(history []*historypb.HistoryEvent) bool {
	var failed *historypb.WorkflowTaskFailedEventAttributes
	for _, e := range history {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			failed = e.GetWorkflowTaskFailedEventAttributes()
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			failed = nil
		}
	}
	if failed == nil {
		return false
	}
	if failed.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR {
		return true
	}
	msg := strings.ToLower(failed.GetFailure().GetMessage())
	return failed.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE &&
		(strings.Contains(msg, "nondeterminis") || strings.Contains(msg, "non-determinis"))
}
