package batch

import (
	"encoding/json"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/batchwire/batchwire/config"
)

// PostResetOperation is applied to the new run a reset makes, before its
// first workflow task (server 1.29 and later): workflow options such as a
// versioning override. The API's other variant, a signal, is refused by
// Validate: server 1.29 does not run it.
type PostResetOperation struct {
	Signal        *SignalOptions   `json:"signal,omitempty"`
	UpdateOptions *WorkflowOptions `json:"update_options,omitempty"`
}

func (r *ResetOptions) validatePostReset() []error {
	var errs []error
	for i, op := range r.PostReset {
		field := fmt.Sprintf("reset.post_reset[%d]", i)
		switch {
		case (op.Signal == nil) == (op.UpdateOptions == nil):
			errs = append(errs, fieldErr(field, "exactly one of signal or update_options"))
		case op.Signal != nil:
			// The API has it, but no server release batchwire can name runs
			// it: 1.29.1 fails each reset with "unsupported post reset
			// operation" (measured).
			errs = append(errs, fieldErr(field+".signal", "not run by Temporal server 1.29 (it answers \"unsupported "+
				"post reset operation\"), and no release is known to run it; signal with a rule of its own after the reset"))
		default:
			errs = append(errs, op.UpdateOptions.validateAt(field+".update_options")...)
		}
	}
	if r.CurrentRunOnly && r.Type != ResetBuildID {
		errs = append(errs, fieldErr("reset.current_run_only", "only for type BuildId (the other types reset within the current run)"))
	}
	return errs
}

// PostResetProto maps the post-reset operations to the API's; Validate has checked them.
func (r *ResetOptions) PostResetProto() []*workflowpb.PostResetOperation {
	var out []*workflowpb.PostResetOperation
	for _, op := range r.PostReset {
		if op.Signal != nil {
			signal := &workflowpb.PostResetOperation_SignalWorkflow{SignalName: op.Signal.Name}
			if len(op.Signal.Input) > 0 {
				signal.Input = &commonpb.Payloads{Payloads: []*commonpb.Payload{JSONPayload(op.Signal.Input)}}
			}
			out = append(out, &workflowpb.PostResetOperation{Variant: &workflowpb.PostResetOperation_SignalWorkflow_{SignalWorkflow: signal}})
			continue
		}
		opts, paths := op.UpdateOptions.Proto()
		out = append(out, &workflowpb.PostResetOperation{Variant: &workflowpb.PostResetOperation_UpdateWorkflowOptions_{
			UpdateWorkflowOptions: &workflowpb.PostResetOperation_UpdateWorkflowOptions{
				WorkflowExecutionOptions: opts, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}}})
	}
	return out
}

func (r *ResetOptions) postResetString() []string {
	var parts []string
	for _, op := range r.PostReset {
		if op.Signal != nil {
			parts = append(parts, "then signal "+op.Signal.Name)
		} else {
			parts = append(parts, "then "+op.UpdateOptions.String())
		}
	}
	if r.CurrentRunOnly {
		parts = append(parts, "current_run_only")
	}
	return parts
}

// postResetOperations compiles a rule's reset.post_reset.
func postResetOperations(cfg []config.PostResetAction) ([]PostResetOperation, error) {
	var out []PostResetOperation
	for i, p := range cfg {
		var op PostResetOperation
		if p.Signal != nil {
			input, err := marshalInput(p.Signal.Input)
			if err != nil {
				return nil, fieldErr(fmt.Sprintf("reset.post_reset[%d].signal.input", i), "%v", err)
			}
			op.Signal = &SignalOptions{Name: p.Signal.Name, Input: input}
		}
		if p.UpdateOptions != nil {
			opts := workflowOptions(p.UpdateOptions)
			op.UpdateOptions = &opts
		}
		out = append(out, op)
	}
	return out, nil
}

func marshalInput(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not JSON-shaped: %w", err)
	}
	if strings.Contains(string(raw), "{{") {
		return nil, fmt.Errorf("templates are not rendered here; give fixed JSON")
	}
	return raw, nil
}
