package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/batchwire/batchwire/batch"
)

// launchFlags are the flags every batch-launching command shares.
type launchFlags struct {
	query, reason, jobID, engine string
	rps, serverRPS               float64
	limit                        int
	autoClientMax                int64
	yes, wait, dryRun            bool
	allowUnscoped                bool
	// slotWait is how long a server launch waits for the namespace's batch
	// slot when another job holds it.
	slotWait time.Duration
}

func (f *launchFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.query, "query", "q", "", "visibility query selecting the executions (required)")
	fs.StringVar(&f.reason, "reason", "", "why, recorded in each execution's history (required)")
	fs.StringVar(&f.jobID, "job-id", "", "batch job id (default: batchwire-cli-<uuid>)")
	fs.Float64Var(&f.rps, "rps", 0, "maximum operations per second: the client engine's cap, which --engine auto weighs; "+
		"0 is no cap there and keeps the server batcher's own rate (the server ignores a request's rate since 1.29)")
	fs.BoolVarP(&f.yes, "yes", "y", false, "do not ask for confirmation")
	fs.BoolVar(&f.wait, "wait", false, "follow the job with a progress bar until it ends; exit 1 if any operation failed")
	fs.BoolVar(&f.dryRun, "dry-run", false, "count and list the executions that would be affected; change nothing")
	fs.IntVar(&f.limit, "limit", 20, "with --dry-run, how many executions to list")
	fs.StringVar(&f.engine, "engine", batch.EngineAuto,
		"where the job runs: server (batcher), client (batchwire's engine), or auto: the client engine for what the "+
			"server lacks, the server batcher over --auto-client-max executions, else whichever finishes first at its "+
			"rate (--rps, --server-rps), as the daemon")
	fs.Int64Var(&f.autoClientMax, "auto-client-max", batch.DefaultAutoClientMax,
		"with --engine auto, the largest count that may run on the client engine (the daemon's launch.auto_client_max)")
	fs.Float64Var(&f.serverRPS, "server-rps", batch.DefaultServerRPS,
		"with --engine auto, the server batcher's rate: the server's worker.batcherRPS (the daemon's launch.server_rps)")
	fs.BoolVar(&f.allowUnscoped, "allow-unscoped", false,
		"launch even when the query has no scope (only ExecutionStatus comparisons, so every such workflow of the namespace)")
	durationVar(fs, &f.slotWait, "wait-for-slot",
		"when another batch job holds the namespace's only slot, wait this long for it instead of failing at once")
}

// check validates locally what every launch needs, before any RPC: the server
// answers an invalid batch request only with an opaque error.
func (f *launchFlags) check(cmd *cobra.Command) error {
	warnings, err := checkLaunchQuery(f.query, f.allowUnscoped)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "batchwire: warning: --query:", w)
	}
	if strings.TrimSpace(f.reason) == "" {
		return usageError{errors.New("--reason is required: it is recorded in every affected execution's history")}
	}
	if f.rps < 0 || f.serverRPS < 0 || f.limit < 0 || f.autoClientMax < 0 {
		return usageError{errors.New("--rps, --server-rps, --limit and --auto-client-max must not be negative")}
	}
	if f.jobID == "" {
		f.jobID = "batchwire-cli-" + uuid.NewString()
	}
	return nil
}

// launchPlan is a validated launch, short of the namespace and the engine,
// which batch.ChooseEngine picks once the query is counted.
type launchPlan struct {
	job batch.Job
	// verb describes the operation in messages: "signal", "reset (LastWorkflowTask)".
	verb string
	// engine is the engine asked for: --engine, or client when only the
	// client engine can narrow the job to or away from listed ids.
	engine string
	// ids holds --input_file and --exclude_file, for the client engine.
	ids clientJob
	// client is set once the client engine is chosen to run the job.
	client *clientJob
}

// plan validates the operation (batch.Operation.Validate, as for a rule) and
// the engine asked for, before any RPC.
func (f *launchFlags) plan(op batch.Operation, verb string, ids clientJob) (launchPlan, error) {
	p := launchPlan{verb: verb, engine: f.engine, ids: ids, job: batch.Job{
		ID: f.jobID, Query: f.query, Reason: f.reason, Op: op, MaxOpsPerSecond: float32(f.rps),
	}}
	if err := op.Validate(); err != nil {
		return p, usageError{flagErrors(err)}
	}
	if len(ids.IncludeIDs) > 0 || len(ids.ExcludeIDs) > 0 {
		if f.engine == batch.EngineServer {
			return p, usageError{errors.New("--engine server cannot run --input_file or --exclude_file: " +
				"the server batcher lacks them; use --engine client or auto")}
		}
		p.engine = batch.EngineClient
	}
	if err := batch.CheckEngine(p.engine, op); err != nil {
		return p, usageError{flagErrors(err)}
	}
	return p, nil
}

// autoLimits are what engine auto weighs: the client engine runs a CLI job
// at --rps (engine.SpecFrom), 0 being no cap.
func (f *launchFlags) autoLimits() batch.AutoLimits {
	return batch.AutoLimits{ClientMax: f.autoClientMax, ClientRPS: f.rps, ServerRPS: f.serverRPS}
}

// chooseEngine is the daemon's choice (batch.ChooseEngine) for count executions.
func (p *launchPlan) chooseEngine(count int64, limits batch.AutoLimits) error {
	engine, err := batch.ChooseEngine(p.engine, p.job.Op, count, limits)
	if err != nil {
		return usageError{flagErrors(err)}
	}
	if engine == batch.EngineClient {
		job := p.ids
		job.Job = p.job
		p.client = &job
	}
	return nil
}

// optionFlags names, for each operation option, the flag that sets it.
var optionFlags = map[string]string{
	"engine": "--engine", "signal.name": "--name", "signal.input": "--input",
	"reset.type": "--type", "reset.build_id": "--build-id", "reset.bad_binary_checksum": "--reset_bad_binary_checksum",
	"reset.only_non_deterministic": "--only_non_deterministic", "reset.exclude_reapply": "--reapply-exclude",
	"reset.current_run_only":                             "--current-run-only",
	"update_options.versioning_override":                 "--versioning-override-behavior",
	"update_options.versioning_override.behavior":        "--versioning-override-behavior",
	"update_options.versioning_override.deployment_name": "--versioning-override-deployment-name",
	"update_options.versioning_override.build_id":        "--versioning-override-build-id",
}

func init() {
	for option, flag := range activityOptionFlags() {
		optionFlags[option] = flag
	}
}

// flagErrors rewrites the options batch.FieldError names, in its field and
// its text, as the flags that set them.
func flagErrors(err error) error {
	var msgs []string
	for _, e := range unjoin(err) {
		msg := e.Error()
		var fe *batch.FieldError
		if errors.As(e, &fe) {
			option, _, _ := strings.Cut(fe.Field, "[")
			if flag := optionFlags[option]; flag != "" {
				msg = flag + ": " + fe.Err.Error()
			}
		}
		for option, flag := range optionFlags {
			if strings.Contains(option, ".") {
				msg = strings.ReplaceAll(msg, option, flag)
			}
		}
		msgs = append(msgs, msg)
	}
	return errors.New(strings.Join(msgs, "; "))
}

func unjoin(err error) []error {
	//nolint:errorlint // walks the joined errors themselves
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return joined.Unwrap()
	}
	return []error{err}
}

type signalFlags struct{ name, input, inputFile string }

func (sf *signalFlags) operation() (batch.Operation, error) {
	if sf.input != "" && sf.inputFile != "" {
		return batch.Operation{}, usageError{errors.New("--input and --input-file are exclusive")}
	}
	data := []byte(sf.input)
	if sf.inputFile != "" {
		raw, err := os.ReadFile(sf.inputFile)
		if err != nil {
			return batch.Operation{}, usageError{fmt.Errorf("--input-file: %w", err)}
		}
		data = raw
	}
	if len(data) == 0 {
		data = nil
	}
	return batch.Signal(sf.name, data), nil
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
			if err := f.check(cmd); err != nil {
				return err
			}
			operation, err := simpleOperation(op, sf)
			if err != nil {
				return err
			}
			p, err := f.plan(operation, op, clientJob{})
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
		return batch.Terminate(), nil
	case "cancel":
		return batch.Cancel(), nil
	case "delete":
		return batch.Delete(), nil
	}
	return batch.Operation{}, fmt.Errorf("unknown operation %q", op)
}

// launch runs a validated plan: refuse early when confirmation is impossible,
// connect, then count, confirm, start and maybe follow.
func launch(cmd *cobra.Command, cf *connFlags, g *globalFlags, f *launchFlags, p launchPlan) error {
	if !f.dryRun && !f.yes && !isTerminal(cmd.InOrStdin()) {
		return usageError{errors.New("stdin is not a terminal, so batchwire cannot ask for confirmation: " +
			"pass --yes to launch, or --dry-run to look first")}
	}
	if err := cf.resolve(cmd.Flags()); err != nil {
		return err
	}
	if cf.codec != "" && p.job.Op.Signal != nil {
		return usageError{errors.New("a codec server is configured (--codec-endpoint, TEMPORAL_CODEC_ENDPOINT or the " +
			"profile's codec), and batchwire cannot encode signal input through one: its input would reach workers " +
			"as plain JSON; unset the codec for this command (--disable-config-env, or another --profile) if plain JSON is right")}
	}
	s, err := openSession(cmd, cf, g)
	if err != nil {
		return err
	}
	defer s.close()
	return s.runLaunch(f, p)
}
