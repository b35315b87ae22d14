package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

// The shipped examples compile and render the expected operation from the
// real payloads in testdata/.
func TestExamplesRenderFromRealPayloads(t *testing.T) {
	tests := []struct {
		config, payload, eventType, trigger string
		wantRule, wantQuery, wantReason     string
	}{
		{
			config: "../examples/flags/batchwire.yaml", payload: "../testdata/events/flipt_docs_audit_webhook_flag_updated.body.json",
			eventType: "flag.changed", trigger: "flags", wantRule: "broadcast-flag-change",
			wantQuery:  "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'default'",
			wantReason: "flag maintenance-mode updated (event evt-1)",
		},
		{
			config: "../examples/deploy/batchwire.yaml", payload: "../testdata/events/cdevents_v0.4.1_service_rolledback.json",
			eventType: "dev.cdevents.service.rolledback.0.2.0", trigger: "deploys", wantRule: "reset-after-bad-rollout",
			wantQuery:  "Deployment = 'pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427' AND ExecutionStatus = 'Running'",
			wantReason: "rollback of pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427 in test123 (event evt-1)",
		},
		{
			config: "../examples/deploy/versioning.yaml", payload: "../testdata/events/cdevents_v0.4.1_service_rolledback.json",
			eventType: "dev.cdevents.service.rolledback.0.2.0", trigger: "deploys", wantRule: "pin-after-rollback",
			wantQuery: "WorkflowType = 'OrderWorkflow' AND TemporalWorkerDeployment = 'myapp' AND " +
				"TemporalWorkerDeploymentVersion != 'myapp:0b31b1c02ff4' AND ExecutionStatus = 'Running'",
			wantReason: "rollback of myapp to pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427 in test123 (event evt-1)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.wantRule, func(t *testing.T) {
			cfg, err := config.Load(tt.config)
			require.NoError(t, err)
			set, err := Compile(cfg.Rules)
			require.NoError(t, err)
			body, err := os.ReadFile(tt.payload)
			require.NoError(t, err)
			ev := cloudevents.NewEvent()
			ev.SetID("evt-1")
			ev.SetSource("/test")
			ev.SetType(tt.eventType)
			require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(body)))

			results := set.Evaluate(tt.trigger, &ev, time.Now())
			require.Len(t, results, 1)
			res := results[0]
			require.NoError(t, res.Err)
			require.True(t, res.Matched)
			require.Equal(t, tt.wantRule, res.Action.Rule)
			require.Equal(t, tt.wantQuery, res.Action.Query)
			require.Equal(t, tt.wantReason, res.Action.Reason)
		})
	}
}

func TestAlertsExampleCompiles(t *testing.T) {
	cfg, err := config.Load("../examples/alerts/batchwire.yaml")
	require.NoError(t, err)
	set, err := Compile(cfg.Rules)
	require.NoError(t, err)
	require.Len(t, set.Rules(), 3)
}

// Every configuration shipped in the repository loads, compiles and lints clean.
func TestShippedConfigsAreValid(t *testing.T) {
	paths, err := filepath.Glob("../examples/*/*.yaml")
	require.NoError(t, err)
	paths = append(paths, "../deploy/compose/batchwire.yaml")
	require.GreaterOrEqual(t, len(paths), 5)
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			cfg, err := config.Load(path)
			require.NoError(t, err)
			set, err := Compile(cfg.Rules)
			require.NoError(t, err)
			for _, r := range set.Rules() {
				require.Empty(t, LintRule(r).Errors(), "rule %s", r.Name)
			}
		})
	}
}
