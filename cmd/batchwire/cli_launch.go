package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/batchwire/batchwire/batch"
)

// Engines a launch may run on.
const (
	engineServer = "server"
	engineClient = "client"
	engineAuto   = "auto"
)

// launchFlags are the flags every batch-launching command shares.
type launchFlags struct {
	query, reason, jobID, engine string
	rps                          float64
	limit                        int
	yes, wait, dryRun            bool
	// slotWait is how long a server launch waits for the namespace's batch
	// slot when another job holds it.
	slotWait time.Duration
}

func (f *launchFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.query, "query", "q", "", "visibility query selecting the executions (required)")
	fs.StringVar(&f.reason, "reason", "", "why, recorded in each execution's history (required)")
	fs.StringVar(&f.jobID, "job-id", "", "batch job id (default: batchwire-cli-<uuid>)")
	fs.Float64Var(&f.rps, "rps", 0, "maximum operations per second; 0 keeps the server's default (the server batcher may run faster)")
	fs.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	fs.BoolVar(&f.wait, "wait", false, "follow the job with a progress bar until it ends; exit 1 if any operation failed")
	fs.BoolVar(&f.dryRun, "dry-run", false, "count and list the executions that would be affected; change nothing")
	fs.IntVar(&f.limit, "limit", 20, "with --dry-run, how many executions to list")
	fs.StringVar(&f.engine, "engine", engineAuto, "where the job runs: server (batcher), client (batchwire's engine), auto")
	fs.DurationVar(&f.slotWait, "wait-for-slot", 0,
		"when another batch job holds the namespace's only slot, wait this long for it instead of failing at once")
}

// check validates locally what every launch needs, before any RPC: the server
// answers an invalid batch request only with an opaque error.
func (f *launchFlags) check() error {
	if err := checkLaunchQuery(f.query); err != nil {
		return err
	}
	if strings.TrimSpace(f.reason) == "" {
		return usageError{errors.New("--reason is required: it is recorded in every affected execution's history")}
	}
	if !slices.Contains([]string{engineServer, engineClient, engineAuto}, f.engine) {
		return usageError{fmt.Errorf("--engine: want server, client or auto, got %q", f.engine)}
	}
	if f.rps < 0 || f.limit < 0 {
		return usageError{errors.New("--rps and --limit must not be negative")}
	}
	if f.jobID == "" {
		f.jobID = "batchwire-cli-" + uuid.NewString()
	}
	return nil
}

// launchPlan is a validated launch, short of the namespace.
type launchPlan struct {
	job batch.Job
	// verb describes the operation in messages: "signal", "reset (LastWorkflowTask)".
	verb string
	// client is set when the client engine runs the job.
	client *clientJob
	// needs lists what only the client engine can do, for messages.
	needs []string
}

// plan picks the engine: auto takes the server batcher whenever it can run
// the job, since its jobs survive anything on this machine.
func (f *launchFlags) plan(op batch.Operation, verb string, extra clientJob, needs []string) (launchPlan, error) {
	p := launchPlan{verb: verb, needs: needs, job: batch.Job{
		ID: f.jobID, Query: f.query, Reason: f.reason, Op: op, MaxOpsPerSecond: float32(f.rps),
	}}
	switch {
	case f.engine == engineServer && len(needs) > 0:
		return p, usageError{fmt.Errorf("--engine server cannot run %s: the server batcher lacks it; use --engine client or auto",
			strings.Join(needs, ", "))}
	case f.engine == engineClient || len(needs) > 0:
		extra.Job = p.job
		p.client = &extra
	}
	return p, nil
}

type signalFlags struct{ name, input, inputFile string }

func (sf *signalFlags) operation() (batch.Operation, error) {
	if strings.TrimSpace(sf.name) == "" {
		return nil, usageError{errors.New("--name is required: the signal to send")}
	}
	if sf.input != "" && sf.inputFile != "" {
		return nil, usageError{errors.New("--input and --input-file are exclusive")}
	}
	data := []byte(sf.input)
	if sf.inputFile != "" {
		raw, err := os.ReadFile(sf.inputFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--input-file: %w", err)}
		}
		data = raw
	}
	if len(data) == 0 {
		return batch.Signal{Name: sf.name}, nil
	}
	if !json.Valid(data) {
		return nil, usageError{errors.New("signal input is not valid JSON")}
	}
	return batch.Signal{Name: sf.name, Input: data}, nil
}

// launchDocs holds each simple operation's help.
var launchDocs = map[string]struct{ short, long, example string }{
	"signal": {"Signal every execution a query matches",
		"Send a signal, with optional JSON input, to every execution the query matches.",
		`  batchwire workflow signal --query "WorkflowType='OrderProcessingWorkflow' AND ExecutionStatus='Running'" \
    --name cancelOrder --input '{"reason": "Product recall"}' \
    --reason "Mass cancellation due to product recall" --wait`},
	"terminate": {"Terminate every execution a query matches",
		"Terminate every execution the query matches. There is no undo.",
		`  batchwire workflow terminate --query "WorkflowType='Obsolete' AND ExecutionStatus='Running'" \
    --reason "retire obsolete jobs" --dry-run`},
	"cancel": {"Request cancellation of every execution a query matches",
		"Request cancellation of every execution the query matches; workflows may clean up first.",
		`  batchwire workflow cancel --query "Tenant='acme' AND ExecutionStatus='Running'" --reason "tenant offboarded" --yes`},
	"delete": {"Delete every execution a query matches, with its history",
		"Delete every execution the query matches, history included. There is no undo.",
		`  batchwire workflow delete --query "WorkflowType='Scratch' AND ExecutionStatus='Completed'" --reason cleanup`},
}

func newLaunchCmd(op string, cf *connFlags, g *globalFlags) *cobra.Command {
	f, sf := &launchFlags{}, &signalFlags{}
	docs := launchDocs[op]
	use := op + " --query Q --reason R"
	if op == "signal" {
		use = "signal --query Q --name N [--input JSON | --input-file F] --reason R"
	}
	cmd := &cobra.Command{
		Use: use, Short: docs.short, Long: docs.long + "\n\n" + launchNote, Example: docs.example, Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			operation, err := simpleOperation(op, sf)
			if err != nil {
				return err
			}
			p, err := f.plan(operation, op, clientJob{}, nil)
			if err != nil {
				return err
			}
			return launch(cmd, cf, g, f, p)
		},
	}
	useSpellings(cmd)
	f.register(cmd.Flags())
	if op == "signal" {
		cmd.Flags().StringVar(&sf.name, "name", "", "signal name (required)")
		cmd.Flags().StringVarP(&sf.input, "input", "i", "", "signal input as JSON")
		cmd.Flags().StringVar(&sf.inputFile, "input-file", "", "read the signal input (JSON) from this file")
	}
	return cmd
}

const launchNote = `Before launching: the flags are checked, the query is counted on the server (a
query it rejects is never launched), and you are asked to confirm unless --yes.
Without a terminal on stdin, --yes is required.`

func simpleOperation(op string, sf *signalFlags) (batch.Operation, error) {
	switch op {
	case "signal":
		return sf.operation()
	case "terminate":
		return batch.Terminate{}, nil
	case "cancel":
		return batch.Cancel{}, nil
	case "delete":
		return batch.Delete{}, nil
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// launch runs a validated plan: refuse early when confirmation is impossible,
// connect, then count, confirm, start and maybe follow.
func launch(cmd *cobra.Command, cf *connFlags, g *globalFlags, f *launchFlags, p launchPlan) error {
	if !f.dryRun && !f.yes && !isTerminal(cmd.InOrStdin()) {
		return usageError{errors.New("stdin is not a terminal, so batchwire cannot ask for confirmation: " +
			"pass --yes to launch, or --dry-run to look first")}
	}
	s, err := openSession(cmd, cf, g)
	if err != nil {
		return err
	}
	defer s.close()
	return s.runLaunch(f, p)
}
