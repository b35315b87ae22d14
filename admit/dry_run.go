package admit

import "context"

// dryRun ends a shadow rule's decision after the count (guards.dry_run).
type dryRun struct{}

func (dryRun) Admit(_ context.Context, in *Input, d *Decision) bool {
	if in.Eval.Rule.Config.Guards.DryRun {
		return d.stop(GuardDryRun, DryRun, "guards.dry_run: counted, not launched", nil)
	}
	return true
}
