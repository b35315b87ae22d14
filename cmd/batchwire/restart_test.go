package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch/engine"
	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/batchwire/batchwire/rules"
)

// runMainEnv makes the test binary run `batchwire run --config <value>`, so a
// test can kill a real daemon process.
const runMainEnv = "BATCHWIRE_TEST_RUN_MAIN"

// Killing the daemon (SIGKILL) while a client-side reset job runs: a new
// daemon's engine worker resumes the job from its checkpoint, and every
// target is reset exactly once.
func TestClientJobResumesAfterDaemonKilled(t *testing.T) {
	const ns, targets = "cli-restart", 6
	c := cliStartWorker(t, ns)
	ids := make([]string, targets)
	for i := range ids {
		ids[i] = fmt.Sprintf("restart-%d", i)
	}
	cliStartWorkflows(t, c, ns, "restart", ids...)
	natsSrv := testenv.RunNATS(t)
	cfgPath := writeRestartConfig(t, natsSrv.ClientURL(), ns)

	first := startDaemonProcess(t, cfgPath)
	publishReset(t, natsSrv.ClientURL())
	jobID := rules.JobID("reset-slowly", "restart-test", "reset-1")
	require.Eventually(t, func() bool {
		p, err := engine.Describe(context.Background(), c, jobID)
		return err == nil && p.Completed >= 1
	}, 60*time.Second, 100*time.Millisecond, "the job did not start resetting")
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	p, err := engine.Describe(context.Background(), c, jobID)
	require.NoError(t, err)
	require.Less(t, p.Completed, int64(targets), "the daemon was killed mid-job")

	startDaemonProcess(t, cfgPath)
	require.Eventually(t, func() bool {
		p, err := engine.Describe(context.Background(), c, jobID)
		return err == nil && p.Done()
	}, 120*time.Second, 200*time.Millisecond, "the job did not resume")
	p, err = engine.Describe(context.Background(), c, jobID)
	require.NoError(t, err)
	require.EqualValues(t, targets, p.Completed)
	for _, id := range ids {
		require.Equal(t, 2, len(testenv.Runs(t, c, ns, id)), "%s: the original run and exactly one reset", id)
	}
}

func writeRestartConfig(t *testing.T, natsURL, ns string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "batchwire.yaml")
	raw := fmt.Sprintf(`
temporal: {address: %q, namespace: %q, poll_interval: 100ms}
nats: {url: %q}
http: {listen: 127.0.0.1:0}
data_dir: %q
launch: {client_rps: 1, client_concurrency: 1}
triggers: [{name: ops, jetstream: {stream: OPS, subjects: [ops]}}]
rules:
  - name: reset-slowly
    trigger: ops
    when: event.type == "reset"
    query: Tenant = 'restart' AND ExecutionStatus = 'Running'
    reset: {type: LastWorkflowTask}
    reason: "restart test {{ event.id }}"
    engine: client
    guards: {max_workflows: 10}
`, cliHostPort, ns, natsURL, filepath.Join(dir, "data"))
	require.NoError(t, os.WriteFile(path, []byte(raw), 0o600))
	return path
}

// startDaemonProcess runs `batchwire run` in a child process until the test
// ends, and waits until its engine worker could be polling.
func startDaemonProcess(t *testing.T, cfgPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"="+cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// publishReset stores the event in the trigger's stream, where the daemon
// finds it whenever it starts consuming.
func publishReset(t *testing.T, url string) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "OPS", Subjects: []string{"ops"}})
	require.NoError(t, err)
	ev := cloudevents.NewEvent()
	ev.SetID("reset-1")
	ev.SetSource("restart-test")
	ev.SetType("reset")
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	_, err = js.Publish(ctx, "ops", body)
	require.NoError(t, err)
}
