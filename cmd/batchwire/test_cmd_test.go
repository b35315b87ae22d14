package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/stretchr/testify/require"
)

const (
	testRulesConfig = "testdata/test/batchwire.yaml"
	flagsExample    = "../../examples/flags/batchwire.yaml"
	fliptPayload    = "../../testdata/events/flipt_docs_audit_webhook_flag_updated.body.json"
	fixedTime       = "2025-06-01T12:00:00Z"
)

// TestTestCmdGolden pins `batchwire test` without a server, in text and
// JSON: a raw webhook payload wrapped into an event against the shipped
// example, a structured CloudEvent meeting one rule of each outcome, and the
// CloudEvents conformance request body, which matches nothing.
func TestTestCmdGolden(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	conformance := conformanceEvent(t)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "test_flags_example", args: []string{"--config", flagsExample, "--event", fliptPayload,
			"--type", "flag.changed", "--source", "flipt/audit"}},
		{name: "test_outcomes", args: []string{"--config", testRulesConfig,
			"--event", "testdata/test/flipt_flag_updated.cloudevent.json"}, wantErr: "2 rules failed to evaluate"},
		{name: "test_conformance_event", args: []string{"--config", testRulesConfig,
			"--event", conformance, "--trigger", "deploys"}},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "json"} {
			t.Run(tt.name+"_"+format, func(t *testing.T) {
				args := append([]string{"test", "--time", fixedTime, "-o", format}, tt.args...)
				res := runCLI(t, nil, args...)
				checkGolden(t, filepath.Join("golden", tt.name+"."+format), res.stdout)
				if tt.wantErr == "" {
					require.NoError(t, res.err)
					return
				}
				require.EqualError(t, res.err, tt.wantErr)
				require.False(t, errors.As(res.err, new(usageError)), "a rule error exits 1, not 2")
			})
		}
	}
}

// conformanceEvent writes the body of the CloudEvents conformance request
// (structured mode) to a file, as an operator would save it.
func conformanceEvent(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/cloudevents/conformance_structured_request.http")
	require.NoError(t, err)
	_, body, found := bytes.Cut(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	require.True(t, found, "the request has a body after a blank line")
	path := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(path, body, 0o600))
	return path
}

func TestTestCmdUsageErrors(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	base := []string{"test", "--config", testRulesConfig}
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--event", fliptPayload}, "is not a structured-mode CloudEvent"},
		{[]string{"--event", fliptPayload, "--type", "flag.changed"}, "--type and --source go together"},
		{[]string{"--event", "testdata/test/flipt_flag_updated.cloudevent.json", "--id", "x"}, "--id goes with --type and --source"},
		{[]string{"--event", "testdata/test/batchwire.yaml", "--type", "t", "--source", "s"}, "data is not valid JSON"},
		{[]string{"--event", "testdata/test/none.json"}, "--event: open testdata/test/none.json"},
		{[]string{"--event", fliptPayload, "--type", "t", "--source", "s", "--trigger", "nope"}, `no rule uses trigger "nope"`},
		{[]string{"--event", fliptPayload, "--type", "t", "--source", "s", "-o", "yaml"}, "--output: want text or json"},
		{[]string{"--event", fliptPayload, "--type", "t", "--source", "s", "--time", "noon"}, "--time: "},
		{[]string{"--event", fliptPayload, "--type", "t", "--source", "s", "--config", "testdata/check/errors.yaml"}, "config testdata/check/errors.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			res := runCLI(t, nil, append(base, tt.args...)...)
			require.ErrorContains(t, res.err, tt.wantErr)
			require.True(t, errors.As(res.err, new(usageError)), "bad input exits 2")
			require.Empty(t, res.stdout)
		})
	}
}

// TestTestCmdCountsOnServer runs the count preflight of each matching rule
// on the dev server: three running workflows of the event's tenant, and a
// bystander tenant that must not be counted. The capped rule's max_workflows
// of 2 would block the launch; nothing is launched either way.
func TestTestCmdCountsOnServer(t *testing.T) {
	const ns, tenant = "default", "test-cmd-count"
	c := testenv.Dial(t, cliHostPort, ns)
	// No worker runs them: they stay Running, which is all a count needs.
	testenv.StartFlagWorkflows(t, c, "test-cmd", tenant, 3)
	testenv.StartFlagWorkflows(t, c, "test-cmd", "test-cmd-bystander", 1)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND Tenant STARTS_WITH 'test-cmd-'", 4)

	event := fliptEventForTenant(t, tenant)
	t.Setenv("TEMPORAL_ADDRESS", cliHostPort)
	res := runCLI(t, nil, "test", "--config", testRulesConfig, "--event", event,
		"--type", "flag.changed", "--source", "flipt/audit", "--trigger", "flags", "-o", "json")
	require.EqualError(t, res.err, "2 rules failed to evaluate")
	var report testReport
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &report))
	require.Equal(t, cliHostPort, report.Temporal)
	counts := map[string]string{}
	for _, o := range report.Rules {
		if o.Count != nil {
			counts[o.Rule] = fmt.Sprintf("%d: %s", *o.Count, o.Verdict)
		}
	}
	require.Equal(t, map[string]string{
		"broadcast-flag-change": "3: would launch on 3 workflows on the direct engine",
		"broadcast-capped":      "3: blocked by max_workflows: 3 selected, at most 2 allowed",
	}, counts)

	text := runCLI(t, nil, "test", "--config", testRulesConfig, "--event", event, "--type", "flag.changed",
		"--source", "flipt/audit", "--trigger", "flags", "--temporal", cliHostPort, "--namespace", "cli-golden")
	require.Contains(t, text.stdout, "  namespace: cli-golden\n")
	require.Contains(t, text.stdout, "  count:     0 workflows\n", "--namespace moves the count")
}

// fliptEventForTenant is the real Flipt payload with its namespace (the
// rules' tenant) set to tenant.
func fliptEventForTenant(t *testing.T, tenant string) string {
	t.Helper()
	raw, err := os.ReadFile(fliptPayload)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body))
	body["payload"].(map[string]any)["namespace_key"] = tenant
	out, err := json.Marshal(body)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "flipt.json")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

// With --trigger naming an Alertmanager trigger, the file is the webhook body
// and each alert is tried as the event the trigger would make of it.
func TestTestCommandAlertmanagerBody(t *testing.T) {
	res := runCLI(t, nil, "test", "--config", "../../examples/alerts/batchwire.yaml", "--trigger", "alerts",
		"--event", "../../testdata/alertmanager/am-main-68fb2d5_03_mixed_2_firing_1_resolved.json")
	require.NoError(t, res.err)
	require.Equal(t, 3, strings.Count(res.stdout, "event  id="), "one event per alert")
	require.Contains(t, res.stdout, "type=alertmanager.alert.resolved")
	require.Equal(t, 2, strings.Count(res.stdout, "rule degrade-on-alert (trigger alerts): MATCHED"))
	require.Equal(t, 1, strings.Count(res.stdout, "rule recover-on-resolve (trigger alerts): MATCHED"))

	bad := filepath.Join(t.TempDir(), "v3.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"version":"3","alerts":[]}`), 0o600))
	res = runCLI(t, nil, "test", "--config", "../../examples/alerts/batchwire.yaml", "--trigger", "alerts", "--event", bad)
	require.ErrorAs(t, res.err, &usageError{})
	require.ErrorContains(t, res.err, `as trigger "alerts" (alertmanager) would receive it`)
}
