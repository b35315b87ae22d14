package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/batchwire/batchwire/internal/testenv"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// updateGolden rewrites testdata/*.golden from the current output.
var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden files")

// cliNamespaces are created at dev server start. A test that launches batch
// jobs takes its own: the server runs one batch job per namespace at a time,
// and `batch list` output must not see other tests' jobs.
var cliNamespaces = []string{"cli-golden", "cli-signal", "cli-confirm", "cli-terminate", "cli-reject",
	"cli-env", "cli-reset", "cli-restart", "cli-activity", "cli-tls"}

// cliHostPort is the dev server every test in this package shares.
var cliHostPort string

// TestMain starts one Temporal dev server for the package's tests.
func TestMain(m *testing.M) {
	if cfgPath := os.Getenv(runMainEnv); cfgPath != "" {
		// This process is a daemon the restart test starts and kills.
		os.Args = []string{"batchwire", "run", "--config", cfgPath, "--log-level", "warn"}
		main()
	}
	flag.Parse()
	os.Exit(testenv.RunWithTemporal(m, &cliHostPort, cliNamespaces...))
}

// Names of the tiny workload the tests target.
const (
	cliTaskQueue    = "batchwire-cli-test"
	cliWorkflowName = "CLITestWorkflow"
)

// cliTestWorkflow runs until it is signalled "stop", so batch operations
// always find it running.
func cliTestWorkflow(ctx workflow.Context) error {
	workflow.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	return nil
}

// cliStartWorker runs the test worker on the namespace and returns a client
// of it.
func cliStartWorker(t *testing.T, namespace string) client.Client {
	t.Helper()
	c := testenv.Dial(t, cliHostPort, namespace)
	w := worker.New(c, cliTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(cliTestWorkflow, workflow.RegisterOptions{Name: cliWorkflowName})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return c
}

// cliStartWorkflows starts one workflow per id, tagged with the tenant, and
// waits until visibility counts them all.
func cliStartWorkflows(t *testing.T, c client.Client, namespace, tenant string, ids ...string) {
	t.Helper()
	testenv.StartWorkflows(t, c, cliTaskQueue, cliWorkflowName, tenant, ids)
	testenv.WaitCount(t, c, namespace, fmt.Sprintf("Tenant = '%s' AND ExecutionStatus = 'Running'", tenant), int64(len(ids)))
}

// cliSignalsIn returns the signals in a workflow's history: name and JSON input.
func cliSignalsIn(t *testing.T, c client.Client, workflowID string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, attrs := range testenv.Signals(t, c, workflowID) {
		input := ""
		for _, p := range attrs.GetInput().GetPayloads() {
			input += string(p.GetData())
		}
		got[attrs.GetSignalName()] = input
	}
	return got
}

// cliFakeTTY stands in for a terminal on stdin, so a test can answer the prompt.
type cliFakeTTY struct{ io.Reader }

func (cliFakeTTY) IsTerminal() bool { return true }

type cliResult struct {
	stdout, stderr string
	err            error
}

// all is everything the command said, for leak checks.
func (r cliResult) all() string {
	msg := ""
	if r.err != nil {
		msg = r.err.Error()
	}
	return r.stdout + r.stderr + msg
}

// runCLI executes the real root command in-process.
func runCLI(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	return runCLIWithStderr(t, stdin, &bytes.Buffer{}, args...)
}

// cliTTYBuffer is a stderr that claims to be a terminal, for the progress bar.
type cliTTYBuffer struct{ bytes.Buffer }

func (*cliTTYBuffer) IsTerminal() bool { return true }

func runCLIWithStderr(t *testing.T, stdin io.Reader, stderr interface {
	io.Writer
	String() string
}, args ...string) cliResult {
	t.Helper()
	root := newRootCmd()
	var stdout bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&stdout)
	root.SetErr(stderr)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	root.SetIn(stdin)
	err := root.Execute()
	t.Logf("batchwire %s\nstdout:\n%s\nstderr:\n%s\nerr: %v", strings.Join(args, " "), stdout.String(), stderr.String(), err)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// onServer prefixes args with the dev server's address and a namespace.
func onServer(namespace string, args ...string) []string {
	return append(args, "--address", cliHostPort, "--namespace", namespace)
}
