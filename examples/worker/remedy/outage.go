package remedy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Names of the alerting example.
const (
	OutageTaskQueue      = "batchwire-outage"
	OutageWorkflowName   = "OutageWorkflow"
	DownstreamActivity   = "CallDownstream"
	downstreamRetryEvery = time.Second
)

// OutageWorkflow calls its tenant's downstream service once, retrying every
// second until it answers, and completes.
func OutageWorkflow(ctx workflow.Context, tenant string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: downstreamRetryEvery, BackoffCoefficient: 1,
			MaximumInterval: downstreamRetryEvery},
	})
	return workflow.ExecuteActivity(ctx, DownstreamActivity, tenant).Get(ctx, nil)
}

// Downstream is the service CallDownstream calls: GET URL?tenant=T, which
// must answer 2xx.
type Downstream struct {
	URL    string
	Client *http.Client
}

// CallDownstream fails while the downstream answers anything but 2xx.
func (d Downstream) CallDownstream(ctx context.Context, tenant string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"?tenant="+url.QueryEscape(tenant), nil)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("downstream request", "BadRequest", err)
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("call downstream for tenant %q: %w", tenant, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return temporal.NewApplicationError(fmt.Sprintf("downstream for tenant %q answered %s", tenant, resp.Status), "DownstreamDown")
	}
	activity.GetLogger(ctx).Info("downstream called", "tenant", tenant)
	return nil
}

// RegisterOutage adds OutageWorkflow and CallDownstream to w.
func RegisterOutage(w worker.Registry, d Downstream) {
	w.RegisterWorkflowWithOptions(OutageWorkflow, workflow.RegisterOptions{Name: OutageWorkflowName})
	w.RegisterActivityWithOptions(d.CallDownstream, activity.RegisterOptions{Name: DownstreamActivity})
}
