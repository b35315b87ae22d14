package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// alertRuleConfig is a daemon config whose one rule signals the FlagWorkflows
// of the tenant named by the first alert's job label, in the Alertmanager
// webhook payload. guards is the YAML of the rule's guards block.
func alertRuleConfig(natsURL, namespace, dataDir, guards string, paused bool) string {
	return fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 100ms}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
launch: {paused: %t}
triggers:
  - name: alerts
    nats: {subject: alerts}
rules:
  - name: alert-signal
    trigger: alerts
    when: data.status == "firing"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = {{ data.alerts[0].labels.job }}
    signal: {name: flag_changed, input: {flag: "{{ data.alerts[0].labels.alertname }}", value: "{{ data.status }}"}}
    reason: "alert {{ data.groupKey }}"
    engine: server
    guards: %s
`, temporalHostPort, namespace, natsURL, dataDir, paused, guards)
}

func writeConfig(t testing.TB, dir, yaml string) (string, *config.Config) {
	t.Helper()
	path := filepath.Join(dir, "batchwire.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return path, cfg
}

// alertEvent wraps the real Alertmanager webhook body in a CloudEvent.
func alertEvent(t testing.TB, id string) *nats.Msg {
	t.Helper()
	body, err := os.ReadFile("../testdata/alertmanager/am-main-68fb2d5_01_firing_group_3_alerts.json")
	require.NoError(t, err)
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("alertmanager")
	ev.SetType("alertmanager.firing")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(body)))
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	return &nats.Msg{Subject: "alerts", Data: raw}
}

// fakeClock is the clock the rules and guards see; time moves only when the
// test says so, so a cooldown window can be crossed without waiting.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type guardEnv struct {
	ns      string
	nats    string
	dataDir string
	path    string
	d       *Daemon
	reg     *prometheus.Registry
	ids     []string // targeted workflows
	signal  func(id string) int
}

// newGuardEnv starts three FlagWorkflows of tenant api-server (the job label
// of the payload's first alert) and a daemon running the alert rule.
func newGuardEnv(t testing.TB, ns, guards string, paused bool, clock *fakeClock) *guardEnv {
	t.Helper()
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	ids := testenv.StartFlagWorkflows(t, c, ns, "api-server", 3)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'", 3)
	dataDir := t.TempDir()
	path, cfg := writeConfig(t, t.TempDir(), alertRuleConfig(natsSrv.ClientURL(), ns, dataDir, guards, paused))
	opts := Options{Config: cfg, ConfigPath: path}
	if clock != nil {
		opts.Now = clock.Now
	}
	d, reg := startDaemonWith(t, opts)
	env := &guardEnv{ns: ns, nats: natsSrv.ClientURL(), dataDir: dataDir, path: path, d: d, reg: reg, ids: ids,
		signal: func(id string) int { return len(testenv.Signals(t, c, id)) }}
	return env
}

// rewrite replaces the running configuration file with new guards.
func (e *guardEnv) rewrite(t *testing.T, guards string, paused bool) {
	t.Helper()
	raw := alertRuleConfig(e.nats, e.ns, e.dataDir, guards, paused)
	require.NoError(t, os.WriteFile(e.path, []byte(raw), 0o600))
}

func (e *guardEnv) decisions(t *testing.T, outcome string) float64 {
	return metricValue(t, e.reg, "batchwire_batch_decisions_total", map[string]string{"rule": "alert-signal", "outcome": outcome})
}

func (e *guardEnv) blocked(t *testing.T, guard string) float64 {
	return metricValue(t, e.reg, "batchwire_guard_blocked_total", map[string]string{"rule": "alert-signal", "guard": guard})
}

func (e *guardEnv) received(t *testing.T) float64 {
	return metricValue(t, e.reg, "batchwire_events_received_total", map[string]string{"trigger": "alerts"})
}

// A storm of 50 identical alerts within the cooldown launches one job; after
// the window, the next alert launches again.
func TestCooldownGuard(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	env := newGuardEnv(t, "e2e-cooldown", "{cooldown: 10m}", false, clock)
	for i := range 50 {
		publish(t, env.nats, alertEvent(t, fmt.Sprintf("storm-%d", i)))
	}
	require.Eventually(t, func() bool { return env.blocked(t, "cooldown") == 49 && env.decisions(t, "launched") == 1 },
		30*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool { return env.signal(env.ids[0]) == 1 }, 30*time.Second, 100*time.Millisecond)

	clock.Advance(11 * time.Minute)
	publish(t, env.nats, alertEvent(t, "after-window"))
	require.Eventually(t, func() bool { return env.decisions(t, "launched") == 2 }, 30*time.Second, 50*time.Millisecond)
	for _, id := range env.ids {
		require.Eventually(t, func() bool { return env.signal(id) == 2 }, 30*time.Second, 100*time.Millisecond, id)
	}
	require.Equal(t, 49.0, env.blocked(t, "cooldown"), "no further blocks")
}

// Over the rate, a launch is delayed and retried, never dropped.
func TestRateGuardDelaysOverflow(t *testing.T) {
	env := newGuardEnv(t, "e2e-rate", "{rate: {launches: 2, per: 3s}}", false, nil)
	start := time.Now()
	for i := range 3 {
		publish(t, env.nats, alertEvent(t, fmt.Sprintf("rate-%d", i)))
	}
	require.Eventually(t, func() bool { return env.blocked(t, "rate") >= 1 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return env.decisions(t, "launched") == 3 }, 60*time.Second, 50*time.Millisecond,
		"the delayed event was retried and launched")
	require.Greater(t, time.Since(start), time.Second, "the third launch waited for a token")
	require.Equal(t, 3.0, metricValue(t, env.reg, "batchwire_batch_jobs_started_total",
		map[string]string{"rule": "alert-signal", "operation": "signal"}))
	for _, id := range env.ids {
		require.Eventually(t, func() bool { return env.signal(id) == 3 }, 60*time.Second, 100*time.Millisecond, id)
	}
}

// The pause switch blocks launches but not intake; a reload lifts it, a bad
// reload keeps the running configuration, and a reload that changes a field
// fixed at start is refused with the field named.
func TestPauseAndReload(t *testing.T) {
	env := newGuardEnv(t, "e2e-pause", "{max_workflows: 10}", true, nil)
	publish(t, env.nats, alertEvent(t, "paused-1"))
	require.Eventually(t, func() bool { return env.blocked(t, "paused") == 1 }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, env.received(t), "intake goes on while paused")
	require.Zero(t, env.decisions(t, "launched"))

	require.NoError(t, os.WriteFile(env.path, []byte("rules: [{name: broken"), 0o600))
	require.Error(t, env.d.Reload())
	require.Zero(t, metricValue(t, env.reg, "batchwire_config_last_reload_successful", nil))

	moved := alertRuleConfig(env.nats, env.ns, t.TempDir(), "{max_workflows: 10}", false)
	require.NoError(t, os.WriteFile(env.path, []byte(moved), 0o600))
	require.ErrorContains(t, env.d.Reload(), "data_dir cannot change at run time")

	publish(t, env.nats, alertEvent(t, "still-paused"))
	require.Eventually(t, func() bool { return env.blocked(t, "paused") == 2 }, 30*time.Second, 20*time.Millisecond,
		"failed reloads kept the paused configuration")

	env.rewrite(t, "{max_workflows: 10}", false)
	require.NoError(t, env.d.Reload())
	require.Equal(t, 1.0, metricValue(t, env.reg, "batchwire_config_last_reload_successful", nil))
	publish(t, env.nats, alertEvent(t, "resumed-1"))
	require.Eventually(t, func() bool { return env.decisions(t, "launched") == 1 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return env.signal(env.ids[0]) == 1 }, 30*time.Second, 100*time.Millisecond)
}

// Shadow mode counts and audits but launches nothing; max_workflows blocks
// a query that selects more, and lets one that selects fewer through.
func TestDryRunAndMaxWorkflowsGuards(t *testing.T) {
	env := newGuardEnv(t, "e2e-shadow", "{dry_run: true}", false, nil)
	publish(t, env.nats, alertEvent(t, "shadow-1"))
	require.Eventually(t, func() bool { return env.decisions(t, "dry_run") == 1 }, 30*time.Second, 20*time.Millisecond)
	records := readAudit(t, env, "shadow-1")
	require.Len(t, records, 1)
	require.Equal(t, ResultDryRun, records[0].Result)
	require.EqualValues(t, 3, *records[0].Count)
	require.Contains(t, records[0].Query, "Tenant = 'api-server'")
	for _, id := range env.ids {
		require.Zero(t, env.signal(id), "dry run changed %s", id)
	}

	env.rewrite(t, "{max_workflows: 2}", false)
	require.NoError(t, env.d.Reload())
	publish(t, env.nats, alertEvent(t, "too-many"))
	require.Eventually(t, func() bool { return env.blocked(t, "max_workflows") == 1 }, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, ResultBlocked, readAudit(t, env, "too-many")[0].Result)

	env.rewrite(t, "{max_workflows: 3}", false)
	require.NoError(t, env.d.Reload())
	publish(t, env.nats, alertEvent(t, "few-enough"))
	require.Eventually(t, func() bool { return env.decisions(t, "launched") == 1 }, 30*time.Second, 20*time.Millisecond)
	for _, id := range env.ids {
		require.Eventually(t, func() bool { return env.signal(id) == 1 }, 30*time.Second, 100*time.Millisecond, id)
	}
}

func readAudit(t testing.TB, env *guardEnv, eventID string) []Record {
	t.Helper()
	nc, err := nats.Connect(env.nats)
	require.NoError(t, err)
	defer nc.Close()
	var records []Record
	require.Eventually(t, func() bool {
		records, err = ReadAudit(context.Background(), nc, env.d.cfg.Audit, AuditFilter{EventID: eventID})
		return err == nil && len(records) > 0
	}, 10*time.Second, 50*time.Millisecond)
	return records
}
