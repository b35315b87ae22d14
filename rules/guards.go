package rules

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/batchwire/batchwire/config"
)

// Guard names, as used in metrics and audit records.
const (
	GuardPaused   = "paused"
	GuardCooldown = "cooldown"
	GuardRate     = "rate"
)

// Verdict is a guard's answer for one action. An empty Guard admits it.
type Verdict struct {
	Guard  string
	Reason string
	// RetryAfter is set by the rate guard: the action is not refused, only
	// delayed, and the event should be tried again after this long.
	RetryAfter time.Duration
}

// Admitted reports whether every guard let the action through.
func (v Verdict) Admitted() bool { return v.Guard == "" }

// GuardState holds what the I/O-free guards remember between events:
// cooldown windows and rate limiters, keyed by rule name so they survive a
// reload. It is safe for concurrent use.
type GuardState struct {
	mu        sync.Mutex
	cooldowns map[string]cooldown
	limiters  map[string]*limiter
}

type cooldown struct {
	until time.Time
	jobID string
}

type limiter struct {
	spec config.Rate
	lim  *rate.Limiter
}

// NewGuardState returns an empty state.
func NewGuardState() *GuardState {
	return &GuardState{cooldowns: map[string]cooldown{}, limiters: map[string]*limiter{}}
}

// Admit runs the pause switch, the cooldown and the rate guards, in that
// order, for one rendered action. An admitted action starts its rule's
// cooldown window.
func (g *GuardState) Admit(r *Rule, a *Action, paused bool, now time.Time) Verdict {
	if paused {
		return Verdict{Guard: GuardPaused, Reason: "launches are paused (launch.paused)"}
	}
	guards := r.Config.Guards
	key := cooldownKey(a)
	g.mu.Lock()
	defer g.mu.Unlock()
	if cd, ok := g.cooldowns[key]; ok && now.Before(cd.until) && cd.jobID != a.JobID {
		return Verdict{Guard: GuardCooldown, Reason: fmt.Sprintf(
			"the same query launched as job %s less than %s ago", cd.jobID, guards.Cooldown.Std())}
	}
	if guards.Rate != nil {
		if wait := g.reserve(r.Name, *guards.Rate, now); wait > 0 {
			return Verdict{Guard: GuardRate, RetryAfter: wait, Reason: fmt.Sprintf(
				"more than %d launches per %s; retry in %s", guards.Rate.Launches, guards.Rate.Per.Std(), wait.Round(time.Millisecond))}
		}
	}
	if guards.Cooldown > 0 {
		g.cooldowns[key] = cooldown{until: now.Add(guards.Cooldown.Std()), jobID: a.JobID}
	}
	return Verdict{}
}

// Release forgets the cooldown an action started, when its launch failed, so
// that a retry of the same event is not blocked by its own failed attempt.
func (g *GuardState) Release(a *Action) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := cooldownKey(a)
	if cd, ok := g.cooldowns[key]; ok && cd.jobID == a.JobID {
		delete(g.cooldowns, key)
	}
}

// reserve takes a token from the rule's limiter, or says how long to wait.
// A limiter is rebuilt when a reload changes the rule's rate.
func (g *GuardState) reserve(rule string, spec config.Rate, now time.Time) time.Duration {
	l := g.limiters[rule]
	if l == nil || l.spec != spec {
		every := spec.Per.Std() / time.Duration(spec.Launches)
		l = &limiter{spec: spec, lim: rate.NewLimiter(rate.Every(every), spec.Launches)}
		g.limiters[rule] = l
	}
	res := l.lim.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	if wait > 0 {
		res.CancelAt(now)
	}
	return wait
}

func cooldownKey(a *Action) string {
	return a.Rule + "\x00" + a.Namespace + "\x00" + a.Query
}
