package daemon

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
)

// BenchmarkFootprint runs the real `batchwire run` binary with an embedded
// nats-server and N rules over T core NATS triggers against the dev server,
// and reports what an operator sizes a pod by: start to ready, resident
// memory and goroutines when idle (twice, to show they are stable), the
// resident memory after ten scrapes of /metrics, the
// decision throughput of a burst of non-matching events, and the peak
// resident memory under it. None of the rules match, so the figures are the
// daemon's own, without Temporal round trips. Run with -benchtime 1x.
func BenchmarkFootprint(b *testing.B) {
	bin := buildBatchwire(b)
	for _, shape := range []struct{ rules, triggers int }{{1, 1}, {100, 1}, {1000, 1}, {1000, 8}} {
		b.Run(fmt.Sprintf("rules=%d/triggers=%d", shape.rules, shape.triggers), func(b *testing.B) {
			for b.Loop() {
				footprint(b, bin, shape.rules, shape.triggers)
			}
		})
	}
}

func footprint(b *testing.B, bin string, rules, triggers int) {
	const burst = 10000
	httpAddr, natsAddr := freeAddr(b), freeAddr(b)
	cfg := footprintConfig(b, httpAddr, natsAddr, rules, triggers)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfg, "--log-level", "error")
	cmd.Dir = b.TempDir()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }()
	waitReady(b, httpAddr)
	ready := time.Since(start)

	time.Sleep(2 * time.Second) // idle on purpose: the figures are those of an idle daemon
	goroutines1, rss1 := idleSample(b, httpAddr, cmd.Process.Pid)
	rssFile := statusMiB(b, cmd.Process.Pid, "RssFile:")
	time.Sleep(2 * time.Second)
	goroutines2, rss2 := idleSample(b, httpAddr, cmd.Process.Pid)
	scraped := scrapedRSS(b, httpAddr, cmd.Process.Pid)

	peak, elapsed, dropped := publishBurst(b, "nats://"+natsAddr, httpAddr, cmd.Process.Pid, burst, triggers)
	b.ReportMetric(float64(ready.Milliseconds()), "ms-to-ready")
	b.ReportMetric(rss1, "idle-rss-MiB")
	b.ReportMetric(rss2-rss1, "idle-rss-growth-MiB")
	b.ReportMetric(rssFile, "idle-rss-file-MiB")
	b.ReportMetric(scraped, "scraped-rss-MiB")
	b.ReportMetric(goroutines1, "idle-goroutines")
	b.ReportMetric(goroutines2-goroutines1, "idle-goroutine-growth")
	b.ReportMetric(float64(burst-dropped)/elapsed.Seconds(), "decided-events/s")
	b.ReportMetric(dropped, "dropped-events")
	b.ReportMetric(peak, "burst-peak-rss-MiB")
}

// idleSample reads the goroutines from a scrape of /metrics, then the
// resident memory. Both samples are thus taken just after a scrape, as an
// operator's daemon always is: reading the memory before the first scrape
// and after the second counted the first scrape's garbage (a scrape of
// 1000 rules' series allocates megabytes) as idle growth.
func idleSample(b *testing.B, httpAddr string, pid int) (goroutines, rss float64) {
	goroutines = gauge(b, httpAddr, "go_goroutines")
	return goroutines, rssMiB(b, pid)
}

// scrapedRSS scrapes /metrics once a second, ten times, then reads the
// resident memory: what an idle daemon that Prometheus scrapes settles at.
// A scrape is what an idle daemon allocates most (3.6 MiB each with 1000
// rules' series), so the heap grows back to the collector's goal, about
// twice the live heap, which the samples taken after start do not show.
func scrapedRSS(b *testing.B, httpAddr string, pid int) float64 {
	for range 10 {
		gauge(b, httpAddr, "go_goroutines")
		time.Sleep(time.Second)
	}
	return rssMiB(b, pid)
}

func buildBatchwire(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "batchwire")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/batchwire").CombinedOutput()
	if err != nil {
		b.Fatalf("build batchwire: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// footprintConfig writes N rules spread over T triggers; each rule reads
// the event's data, and none matches the events the benchmark sends.
func footprintConfig(b *testing.B, httpAddr, natsAddr string, rules, triggers int) string {
	var s strings.Builder
	fmt.Fprintf(&s, "temporal: {address: %q, namespace: default}\nnats: {listen: %q}\nhttp: {listen: %q}\n",
		temporalHostPort, natsAddr, httpAddr)
	fmt.Fprintf(&s, "data_dir: %q\naudit: {disabled: true}\ntriggers:\n", b.TempDir())
	for t := range triggers {
		fmt.Fprintf(&s, "  - {name: t%d, nats: {subject: bench.t%d}}\n", t, t)
	}
	s.WriteString("rules:\n")
	for i := range rules {
		fmt.Fprintf(&s, `  - name: r%d
    trigger: t%d
    when: '"flag-%d" in data.flags.updated'
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND Tenant = {{ data.tenant }}
    signal: {name: flag_changed}
    reason: bench
    guards: {max_workflows: 10}
`, i, i%triggers, i)
	}
	path := filepath.Join(b.TempDir(), "batchwire.yaml")
	if err := os.WriteFile(path, []byte(s.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func waitReady(b *testing.B, httpAddr string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + httpAddr + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("batchwire not ready within 60s")
}

// rssMiB reads the process's resident set from /proc.
func rssMiB(b *testing.B, pid int) float64 { return statusMiB(b, pid, "VmRSS:") }

// statusMiB reads one kB field of /proc/<pid>/status, in MiB. RssFile is the
// part of the resident set that maps files: the pages of the executable the
// process has touched, clean and shared with the page cache.
func statusMiB(b *testing.B, pid int, field string) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == field {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// gauge reads one unlabelled series from the daemon's /metrics.
func gauge(b *testing.B, httpAddr, name string) float64 {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var sum float64
	found := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			if err == nil {
				sum += v
				found = true
			}
		}
	}
	if !found {
		b.Fatalf("metric %s not exported", name)
	}
	return sum
}

// publishBurst publishes n events across the triggers as fast as one
// connection can, then waits until every event is received or dropped,
// sampling the resident memory meanwhile.
func publishBurst(b *testing.B, natsURL, httpAddr string, pid, n, triggers int) (peakMiB float64, elapsed time.Duration, dropped float64) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	raw, err := os.ReadFile("../testdata/events/go-feature-flag_webhook_flag_changes.json")
	if err != nil {
		b.Fatal(err)
	}
	ev := cloudevents.NewEvent()
	ev.SetSource("bench")
	ev.SetType("flag.changed")
	if err := ev.SetData(cloudevents.ApplicationJSON, raw); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := range n {
		ev.SetID(strconv.Itoa(i))
		body, err := ev.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		if err := nc.Publish(fmt.Sprintf("bench.t%d", i%triggers), body); err != nil {
			b.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		peakMiB = max(peakMiB, rssMiB(b, pid))
		received := gauge(b, httpAddr, "batchwire_events_received_total")
		dropped = gauge(b, httpAddr, "batchwire_events_dropped_total")
		inFlight := gauge(b, httpAddr, "batchwire_trigger_in_flight")
		if received+dropped >= float64(n) && inFlight == 0 {
			return peakMiB, time.Since(start), dropped
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("burst of %d events not decided within 2 minutes", n)
	return 0, 0, 0
}

// The benchmark's helpers are exercised by a quick run of its smallest
// shape in `make test`, so they cannot rot unnoticed; nothing is timed.
func TestFootprintHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the batchwire binary")
	}
	res := testing.Benchmark(func(b *testing.B) {
		bin := buildBatchwire(b)
		for b.Loop() {
			footprint(b, bin, 1, 1)
		}
	})
	if res.N == 0 {
		t.Fatal("the footprint benchmark failed; run it with go test -bench Footprint -benchtime 1x to see why")
	}
	for _, metric := range []string{"ms-to-ready", "idle-rss-MiB", "idle-rss-file-MiB", "scraped-rss-MiB", "decided-events/s"} {
		if _, ok := res.Extra[metric]; !ok {
			t.Errorf("metric %s not reported", metric)
		}
	}
}
