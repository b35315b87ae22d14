package admit

import "context"

// noTargets ends a decision whose query counted no workflows: there is
// nothing to launch, and a server job for nothing would still hold the
// namespace's only batch slot while it runs. The count is approximate
// (visibility is eventually consistent): a workflow started a moment before
// the event may be missed, as it may be by a job.
type noTargets struct{}

func (noTargets) Admit(_ context.Context, _ *Input, d *Decision) bool {
	if d.Counted && d.Count == 0 {
		return d.stop(StageCount, NoTargets, "the query selects no workflows; no job was started", nil)
	}
	return true
}
