package batch

import (
	"errors"
	"fmt"
	"strings"

	batchpb "go.temporal.io/api/batch/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Reset types. The server batcher supports the first three; the others need
// the client-side engine, which reads each execution's history.
const (
	ResetFirstWorkflowTask         = "FirstWorkflowTask"
	ResetLastWorkflowTask          = "LastWorkflowTask"
	ResetBuildID                   = "BuildId"
	ResetLastContinuedAsNew        = "LastContinuedAsNew"
	ResetWorkflowExecutionSignaled = "WorkflowExecutionSignaled"
)

// ResetTypes lists every reset type batchwire knows, in documentation order.
var ResetTypes = []string{ResetFirstWorkflowTask, ResetLastWorkflowTask, ResetBuildID,
	ResetLastContinuedAsNew, ResetWorkflowExecutionSignaled}

// Reset resets each workflow to a point in its history.
type Reset struct {
	Type string
	// BuildID is the build whose first workflow task is the reset point (Type BuildId).
	BuildID string
	// ExcludeReapply lists event kinds not to reapply after the reset point:
	// "signal", "update", "cancel_request", "nexus".
	ExcludeReapply []string
	// OnlyNonDeterministic resets only executions whose last workflow task
	// failed with a non-determinism error (client engine only).
	OnlyNonDeterministic bool
	// BadBinaryChecksum resets to before the first workflow task completed by
	// this binary (client engine only).
	BadBinaryChecksum string
}

// Kind implements Operation.
func (Reset) Kind() string { return "reset" }

// ServerSide reports whether the server batcher can run this reset.
func (r Reset) ServerSide() bool {
	if r.OnlyNonDeterministic || r.BadBinaryChecksum != "" {
		return false
	}
	switch r.Type {
	case ResetFirstWorkflowTask, ResetLastWorkflowTask, ResetBuildID:
		return true
	}
	return false
}

func (r Reset) validate() error {
	known := false
	for _, t := range ResetTypes {
		known = known || t == r.Type
	}
	if !known {
		return fmt.Errorf("reset type %q: want one of %s", r.Type, strings.Join(ResetTypes, ", "))
	}
	if r.Type == ResetBuildID && r.BuildID == "" {
		return errors.New("reset type BuildId needs a build id")
	}
	_, err := r.excludeTypes()
	return err
}

func (r Reset) excludeTypes() ([]enumspb.ResetReapplyExcludeType, error) {
	out := make([]enumspb.ResetReapplyExcludeType, 0, len(r.ExcludeReapply))
	for _, name := range r.ExcludeReapply {
		v, ok := enumspb.ResetReapplyExcludeType_value["RESET_REAPPLY_EXCLUDE_TYPE_"+strings.ToUpper(name)]
		if !ok || v == 0 {
			return nil, fmt.Errorf("reset: unknown reapply exclude type %q (want signal, update, cancel_request, nexus)", name)
		}
		out = append(out, enumspb.ResetReapplyExcludeType(v))
	}
	return out, nil
}

// ServerSupports reports whether the server batcher can run op; only some
// resets need the client-side engine.
func ServerSupports(op Operation) bool {
	r, ok := op.(Reset)
	return !ok || r.ServerSide()
}

func (r Reset) options() *commonpb.ResetOptions {
	opts := &commonpb.ResetOptions{}
	opts.ResetReapplyExcludeTypes, _ = r.excludeTypes()
	switch r.Type {
	case ResetFirstWorkflowTask:
		opts.Target = &commonpb.ResetOptions_FirstWorkflowTask{FirstWorkflowTask: &emptypb.Empty{}}
	case ResetLastWorkflowTask:
		opts.Target = &commonpb.ResetOptions_LastWorkflowTask{LastWorkflowTask: &emptypb.Empty{}}
	case ResetBuildID:
		opts.Target = &commonpb.ResetOptions_BuildId{BuildId: r.BuildID}
	}
	return opts
}

func (c *Client) setReset(req *workflowservice.StartBatchOperationRequest, r Reset) {
	req.Operation = &workflowservice.StartBatchOperationRequest_ResetOperation{
		ResetOperation: &batchpb.BatchOperationReset{Identity: c.identity, Options: r.options()}}
}
