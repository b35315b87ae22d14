package daemon

import (
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/internal/testenv"
)

// BenchmarkBurst20 sends 20 signal events for the same 5 workflows at once,
// through batchwire and through a script that runs `temporal workflow signal
// --query` per event, and reports how many events each applied and lost. Its
// anchor is a plain loop doing the same 20 list+signal rounds, all at once.
// Every sub-benchmark (and every -count run of it) signals 5 fresh workflows.
func BenchmarkBurst20(b *testing.B) {
	const ns, events = "e2e-burst", 20
	c := dialTemporal(b, ns)
	startFlagWorker(b, c)

	b.Run("plain-list-signal-loop", func(b *testing.B) {
		query, applied := burstTargets(b, c, ns)
		for i := 0; b.Loop(); i++ {
			before := applied()
			var wg sync.WaitGroup
			for j := range events {
				wg.Go(func() { listAndSignal(b, c, ns, query, fmt.Sprintf("plain-%d-%d-%d", time.Now().UnixNano(), i, j)) })
			}
			wg.Wait()
			waitApplied(b, applied, before+events)
		}
		b.ReportMetric(0, "lost-events/op")
	})
	b.Run("script-temporal-signal-per-event", func(b *testing.B) {
		bin, err := testenv.TemporalBinary()
		if err != nil {
			b.Fatal(err)
		}
		query, applied := burstTargets(b, c, ns)
		lost := 0
		for b.Loop() {
			before := applied()
			var wg sync.WaitGroup
			var mu sync.Mutex
			failed := 0
			for i := range events {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := exec.Command(bin, "workflow", "signal", "--address", temporalHostPort, "--namespace", ns,
						"--query", query, "--name", "flag_changed", "--input", fmt.Sprintf(`{"flag":"s%d","value":true}`, i),
						"--reason", "script", "--yes")
					if cmd.Run() != nil {
						mu.Lock()
						failed++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			lost += failed
			waitApplied(b, applied, before+events-failed)
		}
		b.ReportMetric(float64(lost)/float64(b.N), "lost-events/op")
	})
	for _, engine := range []string{"server", "auto"} {
		b.Run("batchwire-"+engine, func(b *testing.B) {
			query, applied := burstTargets(b, c, ns)
			benchBatchwireBurst(b, ns, query, engine, applied)
		})
	}
}

// burstTargets starts 5 fresh flag workflows for one sub-benchmark and
// returns the query that selects them and a count of the changes the first
// one applied. Each sub-benchmark has its own: a workflow's cost per signal
// grows with its history, which would favour whichever ran first.
func burstTargets(b *testing.B, c client.Client, ns string) (string, func() int) {
	const targets = 5
	tenant := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	ids := testenv.StartFlagWorkflows(b, c, "bench", tenant, targets)
	testenv.WaitCount(b, c, ns, fmt.Sprintf("Tenant = '%s'", tenant), targets)
	query := fmt.Sprintf("WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = '%s'", tenant)
	return query, func() int { return queryFlags(b, c, ids[0]).Applied }
}

// benchBatchwireBurst sends each burst through a daemon whose rule uses engine.
func benchBatchwireBurst(b *testing.B, ns, query, engine string, applied func() int) {
	const events = 20
	t := b
	natsSrv := testenv.RunNATS(b)
	_, cfg := writeConfig(t, b.TempDir(), fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 50ms}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
audit: {disabled: true}
triggers: [{name: flags, nats: {subject: flags.changed}}]
rules:
  - name: burst
    trigger: flags
    when: "true"
    query: %s
    signal: {name: flag_changed, input: {flag: "{{ event.id }}", value: true}}
    reason: "{{ event.id }}"
    engine: %s
`, temporalHostPort, ns, natsSrv.ClientURL(), b.TempDir(), yamlQuote(query), engine))
	startDaemon(t, cfg)
	// One connection sends the whole burst at once, as the anchor starts its
	// 20 rounds at once; a connection per event would time 20 NATS handshakes.
	nc, err := nats.Connect(natsSrv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	for i := 0; b.Loop(); i++ {
		before := applied()
		for j := range events {
			if err := nc.PublishMsg(fliptEvent(t, fmt.Sprintf("bench-%s-%d-%d-%d", engine, time.Now().UnixNano(), i, j))); err != nil {
				b.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			b.Fatal(err)
		}
		waitApplied(b, applied, before+events)
	}
	b.ReportMetric(0, "lost-events/op")
}

func yamlQuote(s string) string { return fmt.Sprintf("%q", s) }

// waitApplied waits until the first target has applied want changes.
func waitApplied(b *testing.B, applied func() int, want int) {
	deadline := time.Now().Add(2 * time.Minute)
	for applied() < want {
		if time.Now().After(deadline) {
			b.Fatalf("applied %d, want %d", applied(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
