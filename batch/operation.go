package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/batchwire/batchwire/config"
)

// Operation kinds.
const (
	KindSignal    = "signal"
	KindTerminate = "terminate"
	KindCancel    = "cancel"
	KindDelete    = "delete"
	KindReset     = "reset"
	// KindUpdateOptions sets workflow execution options: the Worker
	// Versioning override.
	KindUpdateOptions         = "update_options"
	KindPauseActivities       = "pause_activities"
	KindUnpauseActivities     = "unpause_activities"
	KindResetActivities       = "reset_activities"
	KindUpdateActivityOptions = "update_activity_options"
)

// Kinds lists every operation kind, in documentation order.
var Kinds = []string{KindSignal, KindTerminate, KindCancel, KindDelete, KindReset, KindUpdateOptions,
	KindPauseActivities, KindUnpauseActivities, KindResetActivities, KindUpdateActivityOptions}

// Reset types. The server batcher runs the first three; the others need the
// client-side engine, which reads each execution's history.
const (
	ResetFirstWorkflowTask         = "FirstWorkflowTask"
	ResetLastWorkflowTask          = "LastWorkflowTask"
	ResetBuildID                   = "BuildId"
	ResetLastContinuedAsNew        = "LastContinuedAsNew"
	ResetWorkflowExecutionSignaled = "WorkflowExecutionSignaled"
	// ResetBadBinary resets to the first workflow task completed by
	// ResetOptions.BadBinaryChecksum (tctl's BadBinary).
	ResetBadBinary = "BadBinary"
)

// ResetTypes lists every reset type, in documentation order.
var ResetTypes = []string{ResetFirstWorkflowTask, ResetLastWorkflowTask, ResetBuildID,
	ResetLastContinuedAsNew, ResetWorkflowExecutionSignaled, ResetBadBinary}

// ReapplyExcludeKinds are the event kinds a reset can leave out of reapply.
var ReapplyExcludeKinds = []string{"signal", "update", "cancel_request", "nexus"}

// Operation is what a batch job does to each execution it selects. It is
// built once (from a rule at load, from flags in the CLI), validated once by
// Validate, and taken as is by the server batcher, the client engine and
// dry-run. It is plain data, so the client engine's workflow carries it.
type Operation struct {
	Kind                  string                        `json:"kind"`
	Signal                *SignalOptions                `json:"signal,omitempty"`
	Reset                 *ResetOptions                 `json:"reset,omitempty"`
	UpdateOptions         *WorkflowOptions              `json:"update_options,omitempty"`
	PauseActivities       *PauseActivitiesOptions       `json:"pause_activities,omitempty"`
	UnpauseActivities     *UnpauseActivitiesOptions     `json:"unpause_activities,omitempty"`
	ResetActivities       *ResetActivitiesOptions       `json:"reset_activities,omitempty"`
	UpdateActivityOptions *UpdateActivityOptionsOptions `json:"update_activity_options,omitempty"`
}

// SignalOptions are a signal operation's.
type SignalOptions struct {
	Name string `json:"name"`
	// Input is the JSON payload; nil sends none. A rule renders it per event.
	Input json.RawMessage `json:"input,omitempty"`
}

// ResetOptions are a reset operation's. Type picks the reset point; the two
// filters narrow which executions are reset at all, whatever the type:
// an execution that fails a filter is skipped, never reset elsewhere.
type ResetOptions struct {
	Type string `json:"type"`
	// BuildID goes with Type BuildId: the point is the first workflow task
	// completed by this build.
	BuildID string `json:"build_id,omitempty"`
	// BadBinaryChecksum with Type BadBinary is the reset point (the first
	// workflow task this binary completed). With any other type it is a
	// filter: only executions with a workflow task completed by this binary
	// (checksum or build id) are reset, to the point Type names.
	BadBinaryChecksum string `json:"bad_binary_checksum,omitempty"`
	// OnlyNonDeterministic is a filter: only executions whose last workflow
	// task failed with a non-determinism error are reset.
	OnlyNonDeterministic bool `json:"only_non_deterministic,omitempty"`
	// ExcludeReapply lists event kinds not reapplied after the reset point.
	ExcludeReapply []string `json:"exclude_reapply,omitempty"`
	// CurrentRunOnly keeps a BuildId reset within the current run. The
	// client engine always resets within the run it planned from.
	CurrentRunOnly bool `json:"current_run_only,omitempty"`
	// PostReset is applied to the new run before its first workflow task.
	PostReset []PostResetOperation `json:"post_reset,omitempty"`
}

// Signal returns a signal operation.
func Signal(name string, input []byte) Operation {
	return Operation{Kind: KindSignal, Signal: &SignalOptions{Name: name, Input: input}}
}

// Terminate terminates each execution.
func Terminate() Operation { return Operation{Kind: KindTerminate} }

// Cancel requests cancellation of each execution.
func Cancel() Operation { return Operation{Kind: KindCancel} }

// Delete deletes each execution with its history.
func Delete() Operation { return Operation{Kind: KindDelete} }

// Reset returns a reset operation.
func Reset(opts ResetOptions) Operation { return Operation{Kind: KindReset, Reset: &opts} }

// FieldError is a validation error that names the option at fault, in the
// configuration's spelling (reset.build_id), so each caller can say where.
type FieldError = config.FieldError

func fieldErr(field, format string, args ...any) error {
	return config.FieldErrorf(field, format, args...)
}

// Validate is the one validation of an operation: every option does what its
// name says for every variant, or the operation is refused with the reason.
// Errors are *FieldError, joined.
func (o Operation) Validate() error {
	var errs []error
	switch o.Kind {
	case KindSignal:
		errs = o.Signal.validate()
	case KindTerminate, KindCancel, KindDelete:
	case KindReset:
		errs = o.Reset.validate()
	case KindUpdateOptions:
		errs = o.UpdateOptions.validate()
	case KindPauseActivities:
		errs = o.PauseActivities.validate()
	case KindUnpauseActivities:
		errs = o.UnpauseActivities.validate()
	case KindResetActivities:
		errs = o.ResetActivities.validate()
	case KindUpdateActivityOptions:
		errs = o.UpdateActivityOptions.validate()
	default:
		return fieldErr("kind", "want one of %s, got %q", strings.Join(Kinds, ", "), o.Kind)
	}
	set := o.optionsSet()
	for _, kind := range Kinds {
		if set[kind] && kind != o.Kind {
			errs = append(errs, fieldErr(kind, "only for a %s operation", kind))
		}
	}
	return errors.Join(errs...)
}

// optionsSet says, per kind with options, whether its options are set.
func (o Operation) optionsSet() map[string]bool {
	return map[string]bool{
		KindSignal: o.Signal != nil, KindReset: o.Reset != nil, KindUpdateOptions: o.UpdateOptions != nil,
		KindPauseActivities: o.PauseActivities != nil, KindUnpauseActivities: o.UnpauseActivities != nil,
		KindResetActivities: o.ResetActivities != nil, KindUpdateActivityOptions: o.UpdateActivityOptions != nil,
	}
}

func (s *SignalOptions) validate() []error {
	switch {
	case s == nil || strings.TrimSpace(s.Name) == "":
		return []error{fieldErr("signal.name", "required")}
	case len(s.Input) > 0 && !json.Valid(s.Input):
		return []error{fieldErr("signal.input", "not valid JSON")}
	}
	return nil
}

func (r *ResetOptions) validate() []error {
	if r == nil {
		return []error{fieldErr("reset.type", "required: one of %s", strings.Join(ResetTypes, ", "))}
	}
	var errs []error
	switch {
	case r.Type == "":
		errs = append(errs, fieldErr("reset.type", "required: one of %s", strings.Join(ResetTypes, ", ")))
	case !slices.Contains(ResetTypes, r.Type):
		errs = append(errs, fieldErr("reset.type", "want one of %s, got %q", strings.Join(ResetTypes, ", "), r.Type))
	}
	switch {
	case r.Type == ResetBuildID && r.BuildID == "":
		errs = append(errs, fieldErr("reset.build_id", "required for type BuildId"))
	case r.Type != ResetBuildID && r.Type != "" && r.BuildID != "":
		errs = append(errs, fieldErr("reset.build_id", "only for type BuildId (type %s resets elsewhere; "+
			"to reset only executions a build touched, use bad_binary_checksum)", r.Type))
	}
	if r.Type == ResetBadBinary && r.BadBinaryChecksum == "" {
		errs = append(errs, fieldErr("reset.bad_binary_checksum", "required for type BadBinary"))
	}
	errs = append(errs, r.validatePostReset()...)
	for i, kind := range r.ExcludeReapply {
		if !slices.Contains(ReapplyExcludeKinds, kind) {
			errs = append(errs, fieldErr(fmt.Sprintf("reset.exclude_reapply[%d]", i), "unknown %q (want %s)", kind,
				strings.Join(ReapplyExcludeKinds, ", ")))
		}
	}
	return errs
}

// RepeatSafe says whether applying the operation to an execution a second
// time, with the same request id, changes nothing more: the server drops a
// repeated signal or cancel by its request id, and a repeated terminate finds
// the run closed already. A job of such an operation may run again from its
// recorded selection after a crash without keeping per-execution progress.
func (o Operation) RepeatSafe() bool {
	switch o.Kind {
	case KindSignal, KindCancel, KindTerminate:
		return true
	}
	return false
}

// ClientOnly lists what in the operation the server batcher cannot run, in
// the configuration's words; empty means the server batcher can run it all.
func (o Operation) ClientOnly() []string {
	switch o.Kind {
	case KindPauseActivities:
		// The server batcher has no pause.
		return []string{"pause_activities"}
	case KindUnpauseActivities:
		// Measured on server 1.29.1: the batcher's unpause by activity type
		// replaces the job's query with its own pause filter, so it unpauses
		// that type in workflows the query never selected; with match_all
		// the job never ends and holds the namespace's batch slot.
		return []string{"unpause_activities"}
	}
	r := o.Reset
	if o.Kind != KindReset || r == nil {
		return nil
	}
	var needs []string
	switch r.Type {
	case ResetFirstWorkflowTask, ResetLastWorkflowTask, ResetBuildID:
	default:
		needs = append(needs, "reset type "+r.Type)
	}
	if r.OnlyNonDeterministic {
		needs = append(needs, "reset.only_non_deterministic")
	}
	if r.BadBinaryChecksum != "" && r.Type != ResetBadBinary {
		needs = append(needs, "reset.bad_binary_checksum")
	}
	return needs
}

// WithSignalInput returns a copy whose signal carries input (rendered per event).
func (o Operation) WithSignalInput(input []byte) Operation {
	if o.Signal != nil {
		signal := *o.Signal
		signal.Input = input
		o.Signal = &signal
	}
	return o
}

// String reads like `signal flag_changed`, `reset FirstWorkflowTask
// bad_binary_checksum=build-bad`, `terminate`.
func (o Operation) String() string {
	parts := []string{o.Kind}
	switch {
	case o.UpdateOptions != nil:
		parts = append(parts, o.UpdateOptions.String())
	case o.PauseActivities != nil, o.UnpauseActivities != nil, o.ResetActivities != nil, o.UpdateActivityOptions != nil:
		parts = append(parts, o.activityString()...)
	case o.Signal != nil:
		parts = append(parts, o.Signal.Name)
	case o.Reset != nil:
		r := o.Reset
		parts = append(parts, r.Type)
		if r.BuildID != "" {
			parts = append(parts, r.BuildID)
		}
		if r.BadBinaryChecksum != "" {
			parts = append(parts, "bad_binary_checksum="+r.BadBinaryChecksum)
		}
		if r.OnlyNonDeterministic {
			parts = append(parts, "only_non_deterministic")
		}
		if len(r.ExcludeReapply) > 0 {
			parts = append(parts, "exclude_reapply="+strings.Join(r.ExcludeReapply, ","))
		}
		parts = append(parts, r.postResetString()...)
	}
	return strings.Join(parts, " ")
}

// ExcludeTypes maps ExcludeReapply to the API's enum; Validate has checked it.
func (r *ResetOptions) ExcludeTypes() []enumspb.ResetReapplyExcludeType {
	out := make([]enumspb.ResetReapplyExcludeType, 0, len(r.ExcludeReapply))
	for _, name := range r.ExcludeReapply {
		v := enumspb.ResetReapplyExcludeType_value["RESET_REAPPLY_EXCLUDE_TYPE_"+strings.ToUpper(name)]
		out = append(out, enumspb.ResetReapplyExcludeType(v))
	}
	return out
}

// RuleOperation compiles a rule's action into its operation. A signal's input
// is a template the rule renders per event (WithSignalInput); the rest is
// fixed here. The operation is validated; errors are joined *FieldError.
func RuleOperation(r *config.Rule) (Operation, error) {
	var op Operation
	switch r.Operation() {
	case KindSignal:
		op = Signal(r.Signal.Name, nil)
	case KindTerminate:
		op = Terminate()
	case KindCancel:
		op = Cancel()
	case KindDelete:
		op = Delete()
	case KindReset:
		cfg := r.Reset
		postReset, err := postResetOperations(cfg.PostReset)
		if err != nil {
			return Operation{}, err
		}
		op = Reset(ResetOptions{Type: cfg.Type, BuildID: cfg.BuildID, BadBinaryChecksum: cfg.BadBinaryChecksum,
			OnlyNonDeterministic: cfg.OnlyNonDeterministic, ExcludeReapply: slices.Clone(cfg.ExcludeReapply),
			CurrentRunOnly: cfg.CurrentRunOnly, PostReset: postReset})
	case KindUpdateOptions, KindPauseActivities, KindUnpauseActivities, KindResetActivities, KindUpdateActivityOptions:
		op = ruleOptionsOperation(r)
	default:
		return Operation{}, fieldErr("action", "exactly one of %s is required", strings.Join(Kinds, ", "))
	}
	if err := op.Validate(); err != nil {
		return Operation{}, err
	}
	if err := CheckEngine(r.Engine, op); err != nil {
		return Operation{}, err
	}
	return op, nil
}
