package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/batchwire/batchwire/examples/worker/flags"
	"github.com/batchwire/batchwire/internal/testenv"
)

// BenchmarkEventToEffect measures one event from its publish on core NATS to
// the signal in the history of every one of its 5 targets, through a daemon
// whose rule runs on engine auto, and the same effect by a plain loop that
// lists the targets and signals them (its anchor, in the same run). Effects
// are seen by a long poll on each target's history, the same way for both.
// It reports the p50 and p99 of the events it sent, in milliseconds.
func BenchmarkEventToEffect(b *testing.B) {
	const ns, targets = "e2e-effect", 5
	c := dialTemporal(b, ns)
	startFlagWorker(b, c)
	// Each sub-benchmark signals 5 fresh workflows: a workflow's cost per
	// signal grows with its history, which would favour whichever ran first.
	fresh := func(b *testing.B) (string, *signalWatch) {
		tenant := fmt.Sprintf("effect-%d", time.Now().UnixNano())
		ids := testenv.StartFlagWorkflows(b, c, "effect", tenant, targets)
		query := fmt.Sprintf("WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = '%s'", tenant)
		testenv.WaitCount(b, c, ns, query, targets)
		return query, watchSignals(b, c, ids)
	}

	b.Run("plain-list-signal-loop", func(b *testing.B) {
		query, seen := fresh(b)
		var took []time.Duration
		for i := 0; b.Loop(); i++ {
			flag := fmt.Sprintf("anchor-%d-%d", time.Now().UnixNano(), i)
			start := time.Now()
			listAndSignal(b, c, ns, query, flag)
			took = append(took, seen.wait(b, flag, start))
		}
		testenv.ReportPercentiles(b, took, time.Millisecond, "ms")
	})
	b.Run("batchwire-auto", func(b *testing.B) {
		query, seen := fresh(b)
		natsSrv := testenv.RunNATS(b)
		_, cfg := writeConfig(b, b.TempDir(), fmt.Sprintf(`
temporal: {address: %q, namespace: %q}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
audit: {disabled: true}
triggers: [{name: flags, nats: {subject: flags.changed}}]
rules:
  - name: effect
    trigger: flags
    when: "true"
    query: %s
    signal: {name: flag_changed, input: {flag: "{{ event.id }}", value: true}}
    reason: "{{ event.id }}"
    engine: auto
`, temporalHostPort, ns, natsSrv.ClientURL(), b.TempDir(), yamlQuote(query)))
		startDaemon(b, cfg)
		nc, err := nats.Connect(natsSrv.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		var took []time.Duration
		for i := 0; b.Loop(); i++ {
			flag := fmt.Sprintf("effect-%d-%d", time.Now().UnixNano(), i)
			msg := fliptEvent(b, flag)
			start := time.Now()
			if err := nc.PublishMsg(msg); err != nil {
				b.Fatal(err)
			}
			took = append(took, seen.wait(b, flag, start))
		}
		testenv.ReportPercentiles(b, took, time.Millisecond, "ms")
	})
}

// listAndSignal is what a hand-written tool does for one event: list the
// query's executions, then signal each of them at once.
func listAndSignal(b *testing.B, c client.Client, ns, query, flag string) {
	resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, info := range resp.GetExecutions() {
		exec := info.GetExecution()
		wg.Go(func() {
			err := c.SignalWorkflow(context.Background(), exec.GetWorkflowId(), exec.GetRunId(), flags.SignalName,
				flags.FlagChange{Flag: flag, Value: true})
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// signalWatch follows the histories of the targets and notes when each
// flag's signal reached each of them.
type signalWatch struct {
	targets int
	mu      sync.Mutex
	arrived map[string][]time.Time
	changed chan struct{}
}

func watchSignals(b *testing.B, c client.Client, ids []string) *signalWatch {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	w := &signalWatch{targets: len(ids), arrived: map[string][]time.Time{}, changed: make(chan struct{}, 1)}
	for _, id := range ids {
		go w.follow(ctx, c, id)
	}
	return w
}

func (w *signalWatch) follow(ctx context.Context, c client.Client, workflowID string) {
	iter := c.GetWorkflowHistory(ctx, workflowID, "", true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return
		}
		attrs := ev.GetWorkflowExecutionSignaledEventAttributes()
		if attrs == nil || len(attrs.GetInput().GetPayloads()) == 0 {
			continue
		}
		var change flags.FlagChange
		if json.Unmarshal(attrs.GetInput().GetPayloads()[0].GetData(), &change) != nil {
			continue
		}
		w.mu.Lock()
		w.arrived[change.Flag] = append(w.arrived[change.Flag], time.Now())
		w.mu.Unlock()
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
}

// wait returns how long after start the flag had reached every target.
func (w *signalWatch) wait(b *testing.B, flag string, start time.Time) time.Duration {
	deadline := time.After(time.Minute)
	for {
		w.mu.Lock()
		times := w.arrived[flag]
		w.mu.Unlock()
		if len(times) >= w.targets {
			return slices.MaxFunc(times, func(a, b time.Time) int { return a.Compare(b) }).Sub(start)
		}
		select {
		case <-w.changed:
		case <-deadline:
			b.Fatalf("flag %s reached %d of %d targets within a minute", flag, len(times), w.targets)
		}
	}
}
