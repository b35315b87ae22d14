package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// Identify implements API: Describe, with the query taken from the job's
// start when the server leaves it out of DescribeBatchOperation (1.29 does).
// A server batch job is a system workflow whose id is the job id and whose
// input carries the StartBatchOperationRequest, in protobuf JSON.
func (c *Client) Identify(ctx context.Context, namespace, jobID string) (Progress, error) {
	p, err := c.Describe(ctx, namespace, jobID)
	if err != nil || p.Query != "" {
		return p, err
	}
	query, err := c.startedQuery(ctx, namespace, jobID)
	if err != nil {
		return p, fmt.Errorf("identify batch job %q: %w", jobID, err)
	}
	p.Query = query
	return p, nil
}

// batcherInput is the part of the batcher workflow's input that names the query.
type batcherInput struct {
	Request struct {
		VisibilityQuery string `json:"visibilityQuery"`
	} `json:"request"`
}

func (c *Client) startedQuery(ctx context.Context, namespace, jobID string) (string, error) {
	resp, err := c.svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:              namespace,
		Execution:              &commonpb.WorkflowExecution{WorkflowId: jobID},
		MaximumPageSize:        1,
		HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
	})
	if err != nil {
		return "", fmt.Errorf("read its start: %w", err)
	}
	events := resp.GetHistory().GetEvents()
	if len(events) == 0 {
		return "", errors.New("read its start: empty history")
	}
	for _, payload := range events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads() {
		var in batcherInput
		if json.Unmarshal(payload.GetData(), &in) == nil && in.Request.VisibilityQuery != "" {
			return in.Request.VisibilityQuery, nil
		}
	}
	return "", nil
}
