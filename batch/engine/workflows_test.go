package engine

import (
	"context"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Target workflows the tests run the engine against.
const (
	targetQueue  = "engine-targets"
	stepperName  = "test.Stepper"
	continueName = "test.ContinueOnce"
	ndeName      = "test.Drifter"
	pingSignal   = "ping"
)

// stepper sleeps once, so its first and last workflow tasks differ (events 4
// and 9), then handles ping signals until it is stopped.
func stepper(ctx workflow.Context) error {
	if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
		return err
	}
	return awaitPings(ctx)
}

func awaitPings(ctx workflow.Context) error {
	pings := workflow.GetSignalChannel(ctx, pingSignal)
	for {
		var payload any
		pings.Receive(ctx, &payload)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// continueOnce continues as new once when started with continued false: its
// first run ends at event 5, after the task (event 4) that continued it.
func continueOnce(ctx workflow.Context, continued bool) error {
	if !continued {
		return workflow.NewContinueAsNewError(ctx, continueName, true)
	}
	return awaitPings(ctx)
}

// drifted switches the drifter to its changed code. Reading it in workflow
// code is the point: it is an incompatible worker change made while runs are
// open.
var drifted atomic.Bool

// drifter before the change runs an activity on a "bad" run, after it a
// timer, so a bad run fails replay with a non-determinism error once the code
// changed; a good run replays fine.
func drifter(ctx workflow.Context, bad bool) error {
	if bad && drifted.Load() {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	} else if bad {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		if err := workflow.ExecuteActivity(actx, noop).Get(ctx, nil); err != nil {
			return err
		}
	}
	return awaitPings(ctx)
}

func noop(context.Context) error { return nil }
