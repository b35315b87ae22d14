package batch

import (
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// serverResetOptions maps a reset the server batcher can run (ClientOnly is
// empty) to the API's options.
func serverResetOptions(r *ResetOptions) *commonpb.ResetOptions {
	opts := &commonpb.ResetOptions{ResetReapplyExcludeTypes: r.ExcludeTypes(), CurrentRunOnly: r.CurrentRunOnly}
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
