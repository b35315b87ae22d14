package admit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// cooldown launches a rule with the same rendered query at most once per
// guards.cooldown window; a redelivery of the event that opened the window
// (same job id) passes, so it can find its job.
type cooldown struct {
	mu      sync.Mutex
	windows map[string]window
}

type window struct {
	until time.Time
	jobID string
}

func newCooldown() *cooldown { return &cooldown{windows: map[string]window{}} }

func (c *cooldown) Admit(_ context.Context, in *Input, d *Decision) bool {
	period := in.Eval.Rule.Config.Guards.Cooldown.Std()
	a := d.Action
	key := a.Rule + "\x00" + a.Namespace + "\x00" + a.Query
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.windows[key]; ok && in.Now.Before(w.until) && w.jobID != a.JobID {
		d.Guard = GuardCooldown
		return d.stop(GuardCooldown, Blocked, fmt.Sprintf("the same query launched as job %s less than %s ago", w.jobID, period), nil)
	}
	if period > 0 {
		opened := window{until: in.Now.Add(period), jobID: a.JobID}
		c.windows[key] = opened
		d.undo = append(d.undo, func() { c.release(key, opened.jobID) })
	}
	return true
}

// release forgets a window whose launch failed.
func (c *cooldown) release(key, jobID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.windows[key]; ok && w.jobID == jobID {
		delete(c.windows, key)
	}
}
