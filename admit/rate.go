package admit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/batchwire/batchwire/config"
)

// rateGuard bounds a rule's launches (guards.rate). A launch over the rate
// is delayed, never dropped: the event comes back after RetryAfter.
type rateGuard struct {
	mu       sync.Mutex
	limiters map[string]*limiter
}

type limiter struct {
	spec config.Rate
	lim  *rate.Limiter
}

func newRate() *rateGuard { return &rateGuard{limiters: map[string]*limiter{}} }

func (g *rateGuard) Admit(_ context.Context, in *Input, d *Decision) bool {
	spec := in.Eval.Rule.Config.Guards.Rate
	if spec == nil {
		return true
	}
	if wait := g.reserve(d.Rule.Name, *spec, in.Now); wait > 0 {
		d.Guard, d.RetryAfter = GuardRate, wait
		return d.stop(GuardRate, Delayed, fmt.Sprintf("more than %d launches per %s; retry in %s",
			spec.Launches, spec.Per.Std(), wait.Round(time.Millisecond)), nil)
	}
	return true
}

// reserve takes a token from the rule's limiter, or says how long to wait.
// A limiter is rebuilt when a reload changes the rule's rate.
func (g *rateGuard) reserve(rule string, spec config.Rate, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
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
