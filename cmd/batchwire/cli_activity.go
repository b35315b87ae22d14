package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/batchwire/batchwire/batch"
)

func newActivityCmd(g *globalFlags) *cobra.Command {
	cf := &connFlags{}
	cmd := newGroupCmd("activity", "Pause, unpause, reset or change the activities of the workflows a query matches",
		`Act on the pending activities of every workflow execution a visibility query
matches, by activity type (--activity-type) or all of them (--match-all), with
the temporal CLI's flag names. pause and unpause run on batchwire's client
engine (the server batcher has no pause, and server 1.29's batch unpause does
not keep to the query); reset and update-options run on either engine.`,
		`  batchwire activity pause --query "Tenant='acme' AND ExecutionStatus='Running'" \
    --activity-type ChargeCard --reason "payments provider down" --yes --wait
  batchwire activity unpause --query "Tenant='acme' AND ExecutionStatus='Running'" \
    --activity-type ChargeCard --reset-attempts --reason "provider back" --yes --wait`, cf)
	cmd.AddCommand(newActivityOpCmd("pause", cf, g), newActivityOpCmd("unpause", cf, g),
		newActivityOpCmd("reset", cf, g), newActivityOpCmd("update-options", cf, g))
	return cmd
}

// activityFlags hold every activity command's options; each command
// registers the ones it takes.
type activityFlags struct {
	activityType                                   string
	matchAll, resetAttempts, resetHeartbeats       bool
	keepPaused, restoreOriginal                    bool
	jitter                                         time.Duration
	taskQueue                                      string
	scheduleToClose, scheduleToStart, startToClose time.Duration
	heartbeat, retryInitial, retryMaximum          time.Duration
	retryBackoff                                   float64
	retryAttempts                                  int32
	changed                                        func(name string) bool
}

var activityDocs = map[string]struct{ short, long string }{
	"pause": {"Pause activities of every execution a query matches",
		"Pause the pending activities of the type (or all) in every execution the query matches: they are not\n" +
			"retried until unpaused. Runs on batchwire's client engine (PauseActivity per execution)."},
	"unpause": {"Unpause activities of every execution a query matches",
		"Unpause the paused activities of the type (or all), optionally starting their attempts again from 1.\n" +
			"Runs on batchwire's client engine."},
	"reset": {"Reset activities of every execution a query matches",
		"Reset the activities of the type (or all): the attempt count starts again from 1 and the activity is\n" +
			"scheduled again (--reset-attempts is always so)."},
	"update-options": {"Change the options of activities of every execution a query matches",
		"Change the options of the activities of the type (or all). Only the options given are changed."},
}

func newActivityOpCmd(name string, cf *connFlags, g *globalFlags) *cobra.Command {
	f, af := &launchFlags{}, &activityFlags{}
	cmd := &cobra.Command{
		Use:   name + " --query Q (--activity-type T | --match-all) --reason R",
		Short: activityDocs[name].short, Long: activityDocs[name].long + "\n\n" + launchNote, Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			af.changed = func(flag string) bool { return cmd.Flags().Changed(flag) }
			op := af.operation(name)
			p, err := f.plan(op, op.Kind, clientJob{})
			if err != nil {
				return err
			}
			return launch(cmd, cf, g, f, p)
		},
	}
	useSpellings(cmd)
	f.register(cmd.Flags())
	af.register(cmd.Flags(), name)
	return cmd
}

func (af *activityFlags) register(fl *pflag.FlagSet, name string) {
	fl.StringVar(&af.activityType, "activity-type", "", "the activities of this type")
	fl.BoolVar(&af.matchAll, "match-all", false, "every activity (instead of --activity-type)")
	switch name {
	case "unpause":
		fl.BoolVar(&af.resetAttempts, "reset-attempts", false, "start the attempt count again from 1")
		fl.BoolVar(&af.resetHeartbeats, "reset-heartbeats", false, "drop the heartbeat details; only with --reset-attempts")
		durationVar(fl, &af.jitter, "jitter", "start each activity at a random time within this duration")
	case "reset":
		fl.BoolVar(&af.resetAttempts, "reset-attempts", true, "start the attempt count again from 1 (a reset always does)")
		fl.BoolVar(&af.resetHeartbeats, "reset-heartbeats", false, "drop the heartbeat details")
		fl.BoolVar(&af.keepPaused, "keep-paused", false, "a paused activity stays paused")
		durationVar(fl, &af.jitter, "jitter", "schedule each activity at a random time within this duration")
		fl.BoolVar(&af.restoreOriginal, "restore-original-options", false, "restore the options the activity was scheduled with")
	case "update-options":
		af.registerOptions(fl)
	}
}

func (af *activityFlags) registerOptions(fl *pflag.FlagSet) {
	fl.StringVar(&af.taskQueue, "task-queue", "", "task queue of the activity")
	durationVar(fl, &af.scheduleToClose, "schedule-to-close-timeout", "how long the caller waits for completion, retries included")
	durationVar(fl, &af.scheduleToStart, "schedule-to-start-timeout", "how long a task may wait in the queue")
	durationVar(fl, &af.startToClose, "start-to-close-timeout", "how long one attempt may run")
	durationVar(fl, &af.heartbeat, "heartbeat-timeout", "longest time between heartbeats")
	durationVar(fl, &af.retryInitial, "retry-initial-interval", "interval before the first retry")
	durationVar(fl, &af.retryMaximum, "retry-maximum-interval", "longest interval between retries")
	fl.Float64Var(&af.retryBackoff, "retry-backoff-coefficient", 0, "factor between retry intervals (1 or more)")
	fl.Int32Var(&af.retryAttempts, "retry-maximum-attempts", 0, "most attempts; 0 is unlimited")
	fl.BoolVar(&af.restoreOriginal, "restore-original-options", false, "restore the options the activity was scheduled with")
}

// operation builds the command's operation; Validate (in plan) checks it.
func (af *activityFlags) operation(name string) batch.Operation {
	sel := batch.ActivitySelector{Type: af.activityType, MatchAll: af.matchAll}
	switch name {
	case "pause":
		return batch.PauseActivities(batch.PauseActivitiesOptions{ActivitySelector: sel})
	case "unpause":
		return batch.UnpauseActivities(batch.UnpauseActivitiesOptions{ActivitySelector: sel, ResetAttempts: af.resetAttempts,
			ResetHeartbeats: af.resetHeartbeats, Jitter: af.jitter})
	case "reset":
		return batch.ResetActivities(batch.ResetActivitiesOptions{ActivitySelector: sel, ResetHeartbeats: af.resetHeartbeats,
			KeepPaused: af.keepPaused, Jitter: af.jitter, RestoreOriginalOptions: af.restoreOriginal})
	}
	opts := batch.UpdateActivityOptionsOptions{ActivitySelector: sel, RestoreOriginalOptions: af.restoreOriginal,
		ScheduleToCloseTimeout: af.duration("schedule-to-close-timeout", af.scheduleToClose),
		ScheduleToStartTimeout: af.duration("schedule-to-start-timeout", af.scheduleToStart),
		StartToCloseTimeout:    af.duration("start-to-close-timeout", af.startToClose),
		HeartbeatTimeout:       af.duration("heartbeat-timeout", af.heartbeat)}
	if af.changed("task-queue") {
		opts.TaskQueue = af.taskQueue
	}
	retry := batch.RetryOptions{InitialInterval: af.duration("retry-initial-interval", af.retryInitial),
		MaximumInterval: af.duration("retry-maximum-interval", af.retryMaximum)}
	if af.changed("retry-backoff-coefficient") {
		retry.BackoffCoefficient = &af.retryBackoff
	}
	if af.changed("retry-maximum-attempts") {
		retry.MaximumAttempts = &af.retryAttempts
	}
	if retry != (batch.RetryOptions{}) {
		opts.Retry = &retry
	}
	return batch.UpdateActivityOptions(opts)
}

// duration is the flag's value when it was given, nil otherwise: only the
// options given are changed.
func (af *activityFlags) duration(flag string, value time.Duration) *time.Duration {
	if !af.changed(flag) {
		return nil
	}
	return &value
}

// activityOptionFlags names the flag of each activity option, for errors:
// the options are spelt as the flags, with _ for -.
func activityOptionFlags() map[string]string {
	out := map[string]string{}
	for _, kind := range []string{batch.KindPauseActivities, batch.KindUnpauseActivities, batch.KindResetActivities,
		batch.KindUpdateActivityOptions} {
		for _, option := range []string{"activity_type", "match_all", "reset_attempts", "reset_heartbeats", "jitter",
			"keep_paused", "restore_original_options", "task_queue", "schedule_to_close_timeout",
			"schedule_to_start_timeout", "start_to_close_timeout", "heartbeat_timeout"} {
			out[kind+"."+option] = "--" + strings.ReplaceAll(option, "_", "-")
		}
		for _, option := range []string{"initial_interval", "maximum_interval", "backoff_coefficient", "maximum_attempts"} {
			out[kind+".retry."+option] = "--retry-" + strings.ReplaceAll(option, "_", "-")
		}
	}
	return out
}
