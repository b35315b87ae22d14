package admit

import (
	"context"
	"errors"
	"time"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/rules"
)

// Results of a decision, as in metrics and audit records.
const (
	NotMatched = "not_matched"
	Error      = "error"
	Blocked    = "blocked"
	Delayed    = "delayed"
	DryRun     = "dry_run"
	Launched   = "launched"
	Duplicate  = "duplicate"
	// NoTargets: the query counted no workflows, so no job was started (a
	// server job for nothing would still hold the namespace's only slot).
	NoTargets = "no_targets"
)

// Input is one rule's evaluation of one event, with what the stages need
// from the configuration in force when the event arrived.
type Input struct {
	Eval rules.Evaluation
	// Op is the rule's compiled operation; a signal's input is rendered per event.
	Op     batch.Operation
	Paused bool
	Now    time.Time
}

// Decision is what became of one Input. It is final: for a launch, the
// engine has accepted the job id.
type Decision struct {
	Rule *rules.Rule
	// Matched says the rule's when expression was true.
	Matched bool
	// Action is the rendered action, once the rule matched and rendered.
	Action *rules.Action
	// Job is the batch job, once the count stage has built it.
	Job    batch.Job
	Result string
	// Stage names the stage that decided: match, lint, a guard, count,
	// validate, engine, launch.
	Stage string
	// Guard names the guard that blocked or delayed the action.
	Guard  string
	Reason string
	Err    error
	// RetryAfter is how long the rate guard delays the event.
	RetryAfter time.Duration
	// Count is the preflight count, when Counted; visibility is eventually
	// consistent, so it is approximate.
	Count   int64
	Counted bool
	// Engine is where the job runs (or would): server, client or direct.
	Engine string

	// undo runs when the decision ends in an error or launches nothing
	// after a stage changed guard state, so that a retry of the event, or the
	// next event once there are workflows to select, is not blocked by an
	// attempt that launched nothing.
	undo []func()
}

// Retry reports whether the event must come back later: a delayed launch,
// Temporal unavailable past the retry budget, or a shutdown mid-decision.
func (d *Decision) Retry() bool {
	return d.Result == Delayed || errors.Is(d.Err, batch.ErrUnavailable) || errors.Is(d.Err, batch.ErrShutdown)
}

// stop ends the pipeline with a result; every stage decides through it.
func (d *Decision) stop(stage, result, reason string, err error) bool {
	d.Stage, d.Result, d.Reason, d.Err = stage, result, reason, err
	if reason == "" && err != nil {
		d.Reason = err.Error()
	}
	return false
}

// Stage is one step of admission. Admit returns true to pass the decision
// to the next stage, or ends it through d.stop and returns false.
type Stage interface {
	Admit(ctx context.Context, in *Input, d *Decision) bool
}

// Counter counts a query's executions (the preflight); *batch.Launcher.
type Counter interface {
	Count(ctx context.Context, namespace, query string) (int64, error)
}

// Selector lists a small job's whole selection (complete), or reports that
// it selects more than limit; *batch.Launcher, for the direct engine.
type Selector interface {
	Select(ctx context.Context, job batch.Job, limit int64) (listed []batch.Execution, complete bool, err error)
}

// Starter starts a job on an engine and reports launched or duplicate;
// *batch.Launcher, which then follows the job to its end.
type Starter interface {
	Launch(ctx context.Context, job batch.Job, engine string) (string, error)
}

// Options wire the stages that need I/O or settings.
type Options struct {
	Counter Counter
	Starter Starter
	// Auto is what engine auto weighs (batch.ChooseEngine).
	Auto batch.AutoLimits
	// DirectMax is the direct engine's threshold (batch.Direct); 0 or less
	// when the direct engine is off.
	DirectMax int64
}

// Pipeline runs the stages in order. Guard state (cooldown windows, rate
// limiters) lives in its stages and survives reloads, keyed by rule name.
type Pipeline struct {
	stages   []Stage
	cooldown *cooldown
}

// New returns the pipeline. Its stages, in the order they run:
func New(opts Options) *Pipeline {
	cd := newCooldown()
	return &Pipeline{cooldown: cd, stages: []Stage{
		match{},                             // match.go: the when expression and the rendering
		lint{},                              // lint.go: the rendered query's scope
		paused{},                            // paused.go: launch.paused
		cd,                                  // cooldown.go: guards.cooldown
		newRate(),                           // rate.go: guards.rate
		count{opts.Counter, opts.DirectMax}, // count.go: the job, and its count (or listing)
		noTargets{},                         // no_targets.go: nothing to launch for a count of 0
		maxWorkflows{},                      // max_workflows.go: guards.max_workflows
		dryRun{},                            // dry_run.go: guards.dry_run
		engine{opts.Auto, opts.DirectMax},   // engine.go: server, client or direct
		launch{opts.Starter},                // launch.go: start the job
	}}
}

// CooldownWindows is the number of cooldown windows held, open or expired
// and not yet pruned.
func (p *Pipeline) CooldownWindows() int { return p.cooldown.size() }

// Run takes one input through every stage and returns its decision.
func (p *Pipeline) Run(ctx context.Context, in Input) Decision {
	d := Decision{Rule: in.Eval.Rule}
	for _, s := range p.stages {
		if !s.Admit(ctx, &in, &d) {
			break
		}
	}
	if d.Result == Error || d.Result == NoTargets {
		for _, undo := range d.undo {
			undo()
		}
	}
	d.undo = nil
	return d
}
