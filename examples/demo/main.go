// Command demo runs batchwire's feature-flag broadcast end to end on this
// machine: a Temporal dev server, the example worker with a few workflows,
// the daemon on its embedded NATS, one flag-change event, the batch job's
// progress until it completes, and proof that the targeted workflows (and only
// those) received the new value. It stops everything it started.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	configPath   = "examples/flags/batchwire.yaml"
	eventPath    = "examples/flags/flipt_flag_updated.json"
	metricsURL   = "http://127.0.0.1:9464"
	natsURL      = "nats://127.0.0.1:4222"
	targetTenant = "default" // the Flipt event's payload.namespace_key
	otherTenant  = "other"
	targets      = 3
	others       = 2
	flagKey      = "maintenance-mode"
)

type demo struct {
	temporal string
	bin      string
	address  string
	prefix   string
	procs    []*proc
}

// proc is a long-lived child process; done closes when it exits.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func main() {
	d := &demo{}
	flag.StringVar(&d.temporal, "temporal", "temporal", "path to the temporal CLI")
	flag.StringVar(&d.bin, "bin", ".bin", "directory holding the batchwire and worker binaries")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err := d.run(ctx)
	cancel()
	d.stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "\ndemo FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("\ndemo OK: the flag change reached every targeted workflow and no other")
}

func (d *demo) run(ctx context.Context) error {
	if err := portsFree("127.0.0.1:4222", "127.0.0.1:9464"); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	d.address = fmt.Sprintf("127.0.0.1:%d", port)
	d.prefix = fmt.Sprintf("demo-%d", time.Now().Unix())
	steps := []struct {
		title string
		do    func(context.Context) error
	}{
		{"start the Temporal dev server on " + d.address, d.startTemporal},
		{"start the example worker and workflows", d.startWorkflows},
		{"start batchwire with " + configPath, d.startDaemon},
		{"send one flag-change event (Flipt audit webhook body)", d.sendEvent},
		{"follow the batch job", d.followJob},
		{"check every workflow's flags", d.verify},
		{"the job's metrics", d.printMetrics},
	}
	for i, step := range steps {
		fmt.Printf("\n== %d. %s\n", i+1, step.title)
		if err := step.do(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.title, err)
		}
	}
	return nil
}

func (d *demo) startTemporal(ctx context.Context) error {
	_, err := d.start("temporal", nil, d.temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strings.TrimPrefix(d.address, "127.0.0.1:"), "--log-level", "error",
		"--search-attribute", "Tenant=Keyword")
	if err != nil {
		return err
	}
	return waitFor(ctx, 60*time.Second, "Temporal to answer", func() error {
		return exec.CommandContext(ctx, d.temporal, "operator", "cluster", "health", "--address", d.address).Run()
	})
}

func (d *demo) startWorkflows(ctx context.Context) error {
	if _, err := d.start("worker", nil, d.binary("worker"), "run", "--address", d.address); err != nil {
		return err
	}
	for tenant, count := range map[string]int{targetTenant: targets, otherTenant: others} {
		out, err := d.output(ctx, d.binary("worker"), "start", "--address", d.address,
			"--count", fmt.Sprint(count), "--tenant", tenant, "--id-prefix", d.prefix)
		fmt.Print(out)
		if err != nil {
			return err
		}
	}
	query := fmt.Sprintf("WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running' AND WorkflowId STARTS_WITH '%s'", d.prefix)
	return waitFor(ctx, 30*time.Second, "the workflows to be visible", func() error {
		out, err := d.output(ctx, d.temporal, "workflow", "count", "--address", d.address, "--query", query)
		if err != nil {
			return err
		}
		if !strings.Contains(out, fmt.Sprintf("Total: %d", targets+others)) {
			return fmt.Errorf("visibility shows %q", strings.TrimSpace(out))
		}
		return nil
	})
}

func (d *demo) startDaemon(ctx context.Context) error {
	daemon, err := d.start("batchwire", []string{"TEMPORAL_ADDRESS=" + d.address},
		d.binary("batchwire"), "run", "--config", configPath)
	if err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, "batchwire to be ready", func() error {
		if daemon.exited() {
			return errors.New("batchwire exited")
		}
		return httpOK(metricsURL + "/-/ready")
	})
}

func (d *demo) sendEvent(ctx context.Context) error {
	out, err := d.output(ctx, d.binary("batchwire"), "send", "--server", natsURL, "--subject", "flags.changed",
		"--type", "flag.changed", "--source", "flipt/audit", "--data-file", eventPath)
	fmt.Print(out)
	return err
}

func (d *demo) binary(name string) string { return filepath.Join(d.bin, name) }

// start runs a long-lived process whose output is prefixed with its name.
func (d *demo) start(name string, env []string, path string, args ...string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// A process group, so stopping it also stops anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	go prefixLines(name, pr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	d.procs = append(d.procs, p)
	go func() { _ = cmd.Wait(); _ = pw.Close(); close(p.done) }()
	return p, nil
}

func (d *demo) output(ctx context.Context, path string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(path), args[0], err, out)
	}
	return string(out), nil
}

// stopAll stops processes in reverse order of start, politely first.
func (d *demo) stopAll() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

func prefixLines(name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fmt.Printf("  [%s] %s\n", name, sc.Text())
	}
}

func waitFor(ctx context.Context, limit time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s: %w", limit, what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func httpOK(url string) error {
	resp, err := http.Get(url) //nolint:gosec // fixed local URL
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func portsFree(addrs ...string) error {
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is in use (the example config listens there): %w", addr, err)
		}
		_ = ln.Close()
	}
	return nil
}
