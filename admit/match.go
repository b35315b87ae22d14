package admit

import "context"

// match passes an input whose rule matched and rendered its action.
type match struct{}

func (match) Admit(_ context.Context, in *Input, d *Decision) bool {
	ev := in.Eval
	d.Matched = ev.Matched
	switch {
	case ev.Err != nil:
		return d.stop(StageMatch, Error, "", ev.Err)
	case !ev.Matched:
		return d.stop(StageMatch, NotMatched, "when is false", nil)
	}
	d.Action = ev.Action
	return true
}
