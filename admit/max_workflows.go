package admit

import (
	"context"
	"fmt"
)

// maxWorkflows refuses a launch whose query counts more executions than
// guards.max_workflows allows.
type maxWorkflows struct{}

func (maxWorkflows) Admit(_ context.Context, in *Input, d *Decision) bool {
	limit := in.Eval.Rule.Config.Guards.MaxWorkflows
	if limit > 0 && d.Count > limit {
		d.Guard = GuardMax
		return d.stop(GuardMax, Blocked, fmt.Sprintf("query selects %d workflows, more than max_workflows %d", d.Count, limit), nil)
	}
	return true
}
