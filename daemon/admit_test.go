package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/batchwire/batchwire/rules"
)

// The tests of this file take namespaces of their own.
func init() {
	testNamespaces = append(testNamespaces, "e2e-notargets", "e2e-auditnak", "e2e-dupes")
}

func auditRecords(t testing.TB, natsURL string, cfg config.Audit, filter AuditFilter, want int) []Record {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	var records []Record
	require.Eventually(t, func() bool {
		records, err = ReadAudit(context.Background(), nc, cfg, filter)
		return err == nil && len(records) >= want
	}, 20*time.Second, 50*time.Millisecond, "want %d records for %+v", want, filter)
	return records
}

func rawEvent(t testing.TB, subject, id string, data any) *nats.Msg {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("admit-test")
	ev.SetType("admit.test")
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, data))
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	return &nats.Msg{Subject: subject, Data: raw}
}

// A query that counts no workflows starts no batch job (which would hold the
// namespace's slot): the decision is no_targets, audited and counted. The
// rule that did not match is counted, not audited; the record of a query
// larger than a NATS message is stored, cut, with the hash of the full value.
func TestNoTargetsLaunchesNothingAndAuditIsBounded(t *testing.T) {
	const ns = "e2e-notargets"
	natsSrv := runNATS(t)
	raw := fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 100ms}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers:
  - name: events
    nats: {subject: events}
rules:
  - name: nobody
    trigger: events
    when: "true"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'nobody'
    terminate: {}
    reason: "event {{ event.id }}"
    engine: server
  - name: huge
    trigger: events
    when: "true"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND WorkflowId = {{ data.blob }} AND Tenant = {{ data.blob }}
    terminate: {}
    reason: "event {{ event.id }}"
    guards: {dry_run: true}
  - name: never
    trigger: events
    when: "false"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'never'
    terminate: {}
    reason: never
`, temporalHostPort, ns, natsSrv.ClientURL(), t.TempDir())
	_, cfg := writeConfig(t, t.TempDir(), raw)
	d, reg := startDaemon(t, cfg)

	blob := strings.Repeat("x", 600_000)
	publish(t, natsSrv.ClientURL(), rawEvent(t, "events", "empty-1", map[string]string{"blob": blob}))
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_batch_decisions_total", map[string]string{"rule": "nobody", "outcome": "no_targets"}) == 1
	}, 30*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		return metricValue(t, reg, "batchwire_rules_evaluations_total", map[string]string{"rule": "never", "result": "not_matched"}) == 1
	}, 30*time.Second, 50*time.Millisecond)

	records := auditRecords(t, natsSrv.ClientURL(), d.cfg.Audit, AuditFilter{EventID: "empty-1"}, 2)
	require.Len(t, records, 2, "one record per rule that matched")
	byRule := map[string]Record{}
	for _, r := range records {
		byRule[r.Rule] = r
	}
	require.Equal(t, ResultNoTargets, byRule["nobody"].Result)
	require.EqualValues(t, 0, *byRule["nobody"].Count)
	huge := byRule["huge"].Query
	require.Less(t, len(huge), d.cfg.Audit.MaxRecordBytes)
	require.Regexp(t, `\[cut: 120\d{4} bytes, sha256:[0-9a-f]{64}\]$`, huge)

	c := dialBatchClient(t, ns)
	_, err := c.Describe(context.Background(), ns, rules.JobID("nobody", "admit-test", "empty-1"))
	require.ErrorIs(t, err, batch.ErrNotFound, "no batch job was started")
}

func dialBatchClient(t testing.TB, ns string) *batch.Client {
	t.Helper()
	c, err := batch.Dial(context.Background(), batch.Options{Address: temporalHostPort, Namespace: ns}, slog.Default())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// A launch is never acked without its record: while the audit stream cannot
// take it, the event goes back to JetStream; once it can, the redelivery (a
// duplicate of the job already started) writes the record. One job runs.
func TestLaunchIsNotAckedWithoutItsRecord(t *testing.T) {
	const ns = "e2e-auditnak"
	natsSrv := runNATS(t)
	c := dialTemporal(t, ns)
	startFlagWorker(t, c)
	ids := testenv.StartFlagWorkflows(t, c, ns, "auditnak", 2)
	testenv.WaitCount(t, c, ns, "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'auditnak'", 2)
	raw := fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 100ms}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
triggers:
  - name: flags
    jetstream: {stream: FLAGS, subjects: [flags.>], max_deliver: 20, ack_wait: 5s}
rules:
  - name: auditnak
    trigger: flags
    when: "true"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'auditnak'
    signal: {name: flag_changed, input: {flag: "{{ event.id }}", value: true}}
    reason: "event {{ event.id }}"
    engine: server
`, temporalHostPort, ns, natsSrv.ClientURL(), t.TempDir())
	_, cfg := writeConfig(t, t.TempDir(), raw)
	d, reg := startDaemon(t, cfg)

	nc, err := nats.Connect(natsSrv.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, js.DeleteStream(ctx, d.cfg.Audit.Stream))
	_, err = js.Publish(ctx, "flags.changed", rawEvent(t, "flags.changed", "unrecorded", map[string]bool{"on": true}).Data)
	require.NoError(t, err)

	received := func() float64 {
		return metricValue(t, reg, "batchwire_events_received_total", map[string]string{"trigger": "flags"})
	}
	require.Eventually(t, func() bool { return received() >= 2 }, 30*time.Second, 50*time.Millisecond,
		"the launch whose record failed was not handed back")
	require.Positive(t, metricValue(t, reg, "batchwire_audit_write_failures_total", nil))

	_, err = js.CreateStream(ctx, auditStreamConfig(d.cfg.Audit))
	require.NoError(t, err)
	records := auditRecords(t, natsSrv.ClientURL(), d.cfg.Audit, AuditFilter{EventID: "unrecorded"}, 1)
	require.Equal(t, ResultDuplicate, records[0].Result, "the retry found the job and recorded it")
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_batch_jobs_started_total", map[string]string{"rule": "auditnak", "operation": "signal"}))
	for _, id := range ids {
		require.Eventually(t, func() bool { return len(testenv.Signals(t, c, id)) == 1 }, 30*time.Second, 100*time.Millisecond, id)
	}
	stable := received()
	require.Never(t, func() bool { return received() > stable }, 3*time.Second, 100*time.Millisecond,
		"once recorded, the event was acked")
}

// A job id that exists for another job (a sender who guessed it) is an
// error, not a duplicate; a redelivered event whose job has ended is a
// duplicate that is not followed, so the job's end is counted and audited once.
func TestDuplicateChecksTheExistingJob(t *testing.T) {
	env := newGuardEnv(t, "e2e-dupes", "{}", false, nil)
	ctx := context.Background()
	c := dialBatchClient(t, env.ns)
	squatted := rules.JobID("alert-signal", "alertmanager", "squatted")
	squat := batch.Job{ID: squatted, Namespace: env.ns, Reason: "alert squat", Op: batch.Signal("flag_changed", nil),
		Query: "WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = 'nobody'"}
	require.NoError(t, c.Start(ctx, squat))
	require.Eventually(t, func() bool {
		p, err := c.Describe(ctx, env.ns, squatted)
		return err == nil && p.Done()
	}, 30*time.Second, 100*time.Millisecond)

	publish(t, env.nats, alertEvent(t, "squatted"))
	require.Eventually(t, func() bool { return env.decisions(t, "error") == 1 }, 60*time.Second, 50*time.Millisecond)
	rec := readAudit(t, env, "squatted")[0]
	require.Equal(t, ResultError, rec.Result)
	require.Contains(t, rec.Reason, "job id taken by a different job")
	require.Zero(t, env.decisions(t, "duplicate"))

	jobEnded := func(eventID string) int {
		records := auditRecords(t, env.nats, env.d.cfg.Audit, AuditFilter{JobID: rules.JobID("alert-signal", "alertmanager", eventID)}, 1)
		n := 0
		for _, r := range records {
			if r.Result == ResultJobEnded {
				n++
			}
		}
		return n
	}
	completed := func() float64 {
		return metricValue(t, env.reg, "batchwire_batch_operations_total",
			map[string]string{"rule": "alert-signal", "operation": "signal", "result": "completed"})
	}
	publish(t, env.nats, alertEvent(t, "first"))
	require.Eventually(t, func() bool { return completed() == 3 }, 60*time.Second, 50*time.Millisecond)
	publish(t, env.nats, alertEvent(t, "first"))
	require.Eventually(t, func() bool { return env.decisions(t, "duplicate") == 1 }, 60*time.Second, 50*time.Millisecond)
	// Server jobs of a namespace are taken in order: once a later job has
	// ended, a follow of the duplicate would have ended before it.
	publish(t, env.nats, alertEvent(t, "second"))
	require.Eventually(t, func() bool { return jobEnded("second") == 1 }, 60*time.Second, 50*time.Millisecond)
	require.Equal(t, 1, jobEnded("first"), "the ended job was audited once")
	require.Equal(t, 6.0, completed(), "the ended job's operations were counted once")
	for _, id := range env.ids {
		require.Eventually(t, func() bool { return env.signal(id) == 2 }, 30*time.Second, 100*time.Millisecond, id)
	}
}
