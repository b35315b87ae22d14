package flags

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// FlagChange is the payload of the flag_changed signal and the set_flag update; it is
// what a batchwire rule renders from a flag service's webhook.
type FlagChange struct {
	Flag   string `json:"flag"`
	Value  any    `json:"value"`
	Source string `json:"source,omitempty"`
}

// Params starts a FlagWorkflow, and carries its state across continue-as-new.
type Params struct {
	Tenant string         `json:"tenant"`
	Flags  map[string]any `json:"flags,omitempty"`
	// Applied is the change count of earlier runs; starters leave it 0.
	Applied int `json:"applied,omitempty"`
}

// State is what the flags query and the set_flag update return.
type State struct {
	Flags   map[string]any `json:"flags"`
	Applied int            `json:"applied"`
	Tenant  string         `json:"tenant"`
}

// maxChangesPerRun bounds a run's history: each change costs a signal or update plus an
// activity, about ten events, so 500 changes stay far below the server's history limits
// while making continue-as-new rare.
const maxChangesPerRun = 500

// flagRun is the state of one run. Handlers and the main loop share it; workflow code
// runs one coroutine at a time, so it needs no locking.
type flagRun struct {
	state          State
	appliedThisRun int
	synced         int // state.Applied as of the last successful SyncFlags
	stopping       bool
}

// FlagWorkflow holds a tenant's flags until it gets the stop signal. Each change,
// whether signalled or sent as an update, is followed by a SyncFlags push; changes that
// arrive while a push runs are pushed together by the next one.
func FlagWorkflow(ctx workflow.Context, in Params) error {
	run := newFlagRun(in)
	if err := run.registerHandlers(ctx); err != nil {
		return err
	}
	signals := run.signalSelector(ctx)
	for !run.stopping && !run.shouldContinueAsNew(ctx) {
		// Await rather than Select alone: an update changes state without a channel.
		err := workflow.Await(ctx, func() bool { return signals.HasPending() || run.dirty() })
		if err != nil {
			return err
		}
		if err := run.step(ctx, signals); err != nil {
			return err
		}
	}
	return run.finish(ctx, signals)
}

func newFlagRun(in Params) *flagRun {
	flags := maps.Clone(in.Flags)
	if flags == nil {
		flags = map[string]any{}
	}
	return &flagRun{
		state:  State{Flags: flags, Applied: in.Applied, Tenant: in.Tenant},
		synced: in.Applied, // the previous run pushed everything before continuing as new
	}
}

func (r *flagRun) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryName, r.query); err != nil {
		return fmt.Errorf("register query %q: %w", QueryName, err)
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateName, r.setFlag,
		workflow.UpdateHandlerOptions{Validator: r.validateSetFlag})
	if err != nil {
		return fmt.Errorf("register update %q: %w", UpdateName, err)
	}
	return nil
}

func (r *flagRun) signalSelector(ctx workflow.Context) workflow.Selector {
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalName), func(c workflow.ReceiveChannel, _ bool) {
		var change FlagChange
		c.Receive(ctx, &change) // an undecodable payload is logged by the SDK and left zero
		if err := validateChange(change); err != nil {
			// A signal cannot be rejected; dropping it keeps one bad event from
			// wedging a workflow that a broadcast reaches along with thousands of others.
			workflow.GetLogger(ctx).Warn("ignoring flag change", "error", err)
			return
		}
		r.apply(change)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, StopSignalName), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		r.stopping = true
	})
	return sel
}

func (r *flagRun) query() (State, error) {
	return r.snapshot(), nil
}

func (r *flagRun) validateSetFlag(_ workflow.Context, change FlagChange) error {
	if r.stopping {
		return errors.New("flag workflow is stopping")
	}
	return validateChange(change)
}

// setFlag returns only after the change was pushed, so a caller of the update knows
// the flag store has it, which a signal cannot tell.
func (r *flagRun) setFlag(ctx workflow.Context, change FlagChange) (State, error) {
	r.apply(change)
	applied := r.state.Applied
	if err := workflow.Await(ctx, func() bool { return r.synced >= applied }); err != nil {
		return State{}, err
	}
	return r.snapshot(), nil
}

func validateChange(change FlagChange) error {
	if strings.TrimSpace(change.Flag) == "" {
		return errors.New("flag name is empty")
	}
	return nil
}

func (r *flagRun) apply(change FlagChange) {
	r.state.Flags[change.Flag] = change.Value
	r.state.Applied++
	r.appliedThisRun++
}

func (r *flagRun) dirty() bool { return r.synced < r.state.Applied }

func (r *flagRun) snapshot() State {
	return State{Flags: maps.Clone(r.state.Flags), Applied: r.state.Applied, Tenant: r.state.Tenant}
}

func (r *flagRun) shouldContinueAsNew(ctx workflow.Context) bool {
	return r.appliedThisRun >= maxChangesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

// step applies every signal already delivered, then pushes the result once.
func (r *flagRun) step(ctx workflow.Context, signals workflow.Selector) error {
	for signals.HasPending() {
		signals.Select(ctx)
	}
	return r.syncIfDirty(ctx)
}

func (r *flagRun) syncIfDirty(ctx workflow.Context) error {
	if !r.dirty() {
		return nil
	}
	req := SyncRequest{Tenant: r.state.Tenant, Flags: maps.Clone(r.state.Flags), Applied: r.state.Applied}
	actx := workflow.WithActivityOptions(ctx, syncActivityOptions())
	if err := workflow.ExecuteActivity(actx, ActivityName, req).Get(actx, nil); err != nil {
		return fmt.Errorf("sync flags (applied %d): %w", req.Applied, err)
	}
	r.synced = req.Applied
	return nil
}

// finish drains signals and lets running updates complete before the run ends:
// continue-as-new would drop both, and a stop should not cut off an accepted update.
func (r *flagRun) finish(ctx workflow.Context, signals workflow.Selector) error {
	for {
		if err := r.step(ctx, signals); err != nil {
			return err
		}
		err := workflow.Await(ctx, func() bool {
			return signals.HasPending() || r.dirty() || workflow.AllHandlersFinished(ctx)
		})
		if err != nil {
			return err
		}
		if !signals.HasPending() && !r.dirty() {
			break
		}
	}
	if r.stopping {
		return nil
	}
	next := Params{Tenant: r.state.Tenant, Flags: r.state.Flags, Applied: r.state.Applied}
	return workflow.NewContinueAsNewError(ctx, WorkflowName, next)
}

// syncActivityOptions retries without limit because a flag store that is down should
// delay the push, not fail the tenant's workflow; the heartbeat timeout notices a dead
// worker long before StartToClose would.
func syncActivityOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}
