package admit

import "context"

// paused blocks every launch while launch.paused is set; intake goes on.
type paused struct{}

func (paused) Admit(_ context.Context, in *Input, d *Decision) bool {
	if in.Paused {
		d.Guard = GuardPaused
		return d.stop(GuardPaused, Blocked, "launches are paused (launch.paused)", nil)
	}
	return true
}
