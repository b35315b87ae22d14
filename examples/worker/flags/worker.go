package flags

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names shared by the worker, the starters and batchwire rules. They are part of the
// wire contract: renaming one strands running executions.
const (
	TaskQueue      = "batchwire-flags"
	WorkflowName   = "FlagWorkflow"
	ActivityName   = "SyncFlags"
	SignalName     = "flag_changed"
	StopSignalName = "stop"
	QueryName      = "flags"
	UpdateName     = "set_flag"
)

// TenantAttribute is the keyword search attribute batchwire rules select on
// (`Tenant = 'acme'`). The namespace must have it registered; the dev server does with
// `--search-attribute Tenant=Keyword`.
var TenantAttribute = temporal.NewSearchAttributeKeyKeyword("Tenant")

// StickyWorkflowCacheSize is for worker.SetStickyWorkflowCacheSize, which is process-wide
// and so cannot live in Options. Each cached execution keeps its state and coroutines in
// memory to skip a history replay on the next task; a flag workflow is a few KB, so 1000
// fits a small box, where the SDK default of 10000 would mostly hold idle tenants.
const StickyWorkflowCacheSize = 1000

// Register adds FlagWorkflow and SyncFlags to w under their stable names.
func Register(w worker.Registry) {
	w.RegisterWorkflowWithOptions(FlagWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivityWithOptions(SyncFlags, activityOptions())
}

// Options returns worker options sized for a 2-core machine. Every concurrency knob is
// set explicitly: the SDK defaults (1000 concurrent tasks, 100k activities/s) assume a
// large host, and a broadcast signal to every workflow arrives all at once.
func Options() worker.Options {
	return worker.Options{
		// SyncFlags waits on I/O (the flag store), not CPU, so a few per core keep the
		// cores busy while bounding memory and the fan-out towards the flag store.
		MaxConcurrentActivityExecutionSize: 8,
		// Workflow tasks replay history on the CPU: about two per core. The SDK panics
		// on 1 because its pollers alternate between sticky and normal queues.
		MaxConcurrentWorkflowTaskExecutionSize: 4,
		// Long polls cost little; 2 is the minimum the SDK accepts (1 panics, as above)
		// and keeps one poll open while the other hands over a task.
		MaxConcurrentWorkflowTaskPollers: 2,
		// Activities are rarer than workflow tasks here (one per coalesced change), so
		// two polls already outpace the 8 execution slots.
		MaxConcurrentActivityTaskPollers: 2,
		// A flag broadcast signals every tenant at once (the server batcher does about
		// 50/s); capping pushes on this worker protects the flag store. Worker-side,
		// unlike TaskQueueActivitiesPerSecond, which the server enforces queue-wide.
		WorkerActivitiesPerSecond: 20,
		// After this worker dies, the server moves a workflow's next task off this
		// worker's sticky queue after this long, so a signal waits at most 5 s for
		// another worker. Lower makes failover faster but costs replays on busy hosts.
		StickyScheduleToStartTimeout: 5 * time.Second,
		// On SIGTERM, running SyncFlags get this long to finish before being cancelled;
		// they heartbeat, so a retry on another worker resumes where this one stopped.
		WorkerStopTimeout: 10 * time.Second,
	}
}
