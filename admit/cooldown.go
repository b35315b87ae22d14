package admit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// cooldown launches a rule with the same selection at most once per
// guards.cooldown window; a redelivery of the event that opened the window
// (same job id) passes, so it can find its job. The selection is the
// rendered query in canonical form with now() fixed (rules.Action.Selection),
// so an event cannot pass by reordering an IN list, by its spelling of a
// literal, or by the time it was rendered.
type cooldown struct {
	mu      sync.Mutex
	windows map[string]window
	// nextPrune is when expired windows are next forgotten.
	nextPrune time.Time
}

type window struct {
	until time.Time
	jobID string
}

// cooldownPruneEvery is how often, in event time, expired windows are
// forgotten; the map then holds at most the windows opened within the longest
// cooldown plus this.
const cooldownPruneEvery = time.Minute

func newCooldown() *cooldown { return &cooldown{windows: map[string]window{}} }

func (c *cooldown) Admit(_ context.Context, in *Input, d *Decision) bool {
	period := in.Eval.Rule.Config.Guards.Cooldown.Std()
	a := d.Action
	selection := a.Selection
	if selection == "" {
		selection = a.Query
	}
	key := a.Rule + "\x00" + a.Namespace + "\x00" + selection
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(in.Now)
	if w, ok := c.windows[key]; ok && in.Now.Before(w.until) && w.jobID != a.JobID {
		d.Guard = GuardCooldown
		return d.stop(GuardCooldown, Blocked, fmt.Sprintf("the same selection launched as job %s less than %s ago", w.jobID, period), nil)
	}
	if period > 0 {
		opened := window{until: in.Now.Add(period), jobID: a.JobID}
		c.windows[key] = opened
		d.undo = append(d.undo, func() { c.release(key, opened.jobID) })
	}
	return true
}

// prune forgets expired windows, at most once per cooldownPruneEvery.
func (c *cooldown) prune(now time.Time) {
	if now.Before(c.nextPrune) {
		return
	}
	c.nextPrune = now.Add(cooldownPruneEvery)
	for key, w := range c.windows {
		if !now.Before(w.until) {
			delete(c.windows, key)
		}
	}
}

// size is the number of windows held, for a gauge.
func (c *cooldown) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.windows)
}

// release forgets a window whose launch failed or was not needed.
func (c *cooldown) release(key, jobID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w, ok := c.windows[key]; ok && w.jobID == jobID {
		delete(c.windows, key)
	}
}
