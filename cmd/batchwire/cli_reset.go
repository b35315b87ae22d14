package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/batchwire/batchwire/batch"
)

// resetTypes are the --type values: the server's and the engine's, with
// tctl's BadBinary, which only the client engine runs.
var resetTypes = batch.ResetTypes

type resetFlags struct {
	resetType, buildID, inputFile, excludeFile, badBinaryChecksum string
	onlyNonDeterministic, currentRunOnly                          bool
	reapplyExclude                                                []string
	// reapplyType is temporal v1.5's deprecated --reapply-type: All, Signal
	// or None.
	reapplyType string
}

// singleResetFlags are temporal v1.5's `workflow reset` flags for one
// execution, which batchwire does not run: accepted only to say so.
var singleResetFlags = []string{"workflow-id", "run-id", "event-id"}

func newResetBatchCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	return newResetCmd(cf, g, "reset-batch", "Reset every execution a query matches to a point in its history")
}

// newWorkflowResetCmd is temporal CLI v1.5's spelling of a batch reset,
// `temporal workflow reset --query`: reset-batch under that name, refusing
// the single-execution flags.
func newWorkflowResetCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	cmd := newResetCmd(cf, g, "reset", "Reset every execution a query matches (temporal v1.5's name for reset-batch)")
	fl := cmd.Flags()
	fl.StringP("workflow-id", "w", "", "not supported: batchwire runs batch resets only, selected by --query")
	fl.StringP("run-id", "r", "", "not supported: batchwire runs batch resets only, selected by --query")
	fl.IntP("event-id", "e", 0, "not supported: batchwire runs batch resets only, selected by --query")
	for _, name := range singleResetFlags {
		_ = fl.MarkHidden(name)
	}
	return cmd
}

func newResetCmd(cf *connFlags, g *globalFlags, name, short string) *cobra.Command {
	f, rf := &launchFlags{}, &resetFlags{}
	cmd := &cobra.Command{
		Use:   name + " --query Q --reason R --type T",
		Short: short,
		Long: `Reset every execution the query matches to a point in its history. The server
batcher runs FirstWorkflowTask, LastWorkflowTask and BuildId resets; the other
types (LastContinuedAsNew, WorkflowExecutionSignaled, BadBinary with
--reset_bad_binary_checksum), --only_non_deterministic, --input_file and
--exclude_file need batchwire's client-side engine (--engine auto picks it).
A client-engine job runs on a batchwire daemon's worker; when none serves the
namespace, or with --wait, this command runs the worker until the job ends.
A reset also resets closed executions that match: scope the query to
ExecutionStatus = 'Running' unless you mean them.

` + launchNote,
		Example: `  # Dry run first
  batchwire workflow ` + name + ` --query "WorkflowType='LoyaltyProgram' AND ExecutionStatus='Running'" \
    --reason "Applying fix for loyalty calculation bug" --type LastWorkflowTask --dry-run
  # Then reset, and follow the job to the end
  batchwire workflow ` + name + ` --query "WorkflowType='LoyaltyProgram' AND ExecutionStatus='Running'" \
    --reason "Applying fix for loyalty calculation bug" --type LastWorkflowTask --reapply-exclude Signal --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, single := range singleResetFlags {
				if fl := cmd.Flags().Lookup(single); fl != nil && fl.Changed {
					return usageError{fmt.Errorf("--%s: batchwire runs batch resets only, selected by --query; "+
						"reset a single execution with the temporal CLI", single)}
				}
			}
			if err := f.check(cmd); err != nil {
				return err
			}
			p, err := rf.plan(f)
			if err != nil {
				return err
			}
			return launch(cmd, cf, g, f, p)
		},
	}
	useSpellings(cmd, "input_file", "exclude_file", "only_non_deterministic", "reset_bad_binary_checksum")
	f.register(cmd.Flags())
	rf.register(cmd.Flags())
	return cmd
}

func (rf *resetFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&rf.resetType, "type", "", "reset point (required): "+strings.Join(resetTypes, ", "))
	fl.StringVar(&rf.buildID, "build-id", "", "with --type BuildId: reset to before the first workflow task of this build")
	fl.StringVar(&rf.inputFile, "input_file", "", "file of workflow ids to reset, one per line (client engine)")
	fl.StringVar(&rf.excludeFile, "exclude_file", "", "file of workflow ids not to reset, one per line (client engine)")
	fl.BoolVar(&rf.onlyNonDeterministic, "only_non_deterministic", false,
		"reset only executions whose last workflow task failed on non-determinism (client engine)")
	fl.StringVar(&rf.badBinaryChecksum, "reset_bad_binary_checksum", "",
		"with --type BadBinary: reset to the first workflow task completed by this binary checksum; with another "+
			"type: reset only executions that binary touched (client engine)")
	fl.BoolVar(&rf.currentRunOnly, "current-run-only", false, "with --type BuildId: keep the reset within the current run")
	fl.StringSliceVar(&rf.reapplyExclude, "reapply-exclude", nil,
		"event kinds not to reapply after the reset point: signal, update, cancel_request, nexus, or all (any case)")
	fl.StringVar(&rf.reapplyType, "reapply-type", "All",
		"temporal CLI's older form of --reapply-exclude: reapply All, only Signal, or None")
}

// reapplyExcludes merges --reapply-exclude (any case; "all" is every kind)
// and the older --reapply-type into the kinds not to reapply.
func (rf *resetFlags) reapplyExcludes() ([]string, error) {
	var out []string
	for _, kind := range rf.reapplyExclude {
		if strings.EqualFold(kind, "all") {
			out = append(out, batch.ReapplyExcludeKinds...)
			continue
		}
		out = append(out, strings.ToLower(kind))
	}
	switch {
	case strings.EqualFold(rf.reapplyType, "all") || rf.reapplyType == "":
		return out, nil
	case len(rf.reapplyExclude) > 0:
		return nil, usageError{errors.New("--reapply-type cannot go with --reapply-exclude; use --reapply-exclude")}
	case strings.EqualFold(rf.reapplyType, "none"):
		return batch.ReapplyExcludeKinds, nil
	case strings.EqualFold(rf.reapplyType, "signal"):
		for _, kind := range batch.ReapplyExcludeKinds {
			if kind != "signal" {
				out = append(out, kind)
			}
		}
		return out, nil
	}
	return nil, usageError{fmt.Errorf("--reapply-type: want All, Signal or None, got %q", rf.reapplyType)}
}

// plan builds the reset and reads the id files; plan validates both.
func (rf *resetFlags) plan(f *launchFlags) (launchPlan, error) {
	exclude, err := rf.reapplyExcludes()
	if err != nil {
		return launchPlan{}, err
	}
	op := rf.operation(exclude)
	var ids clientJob
	if rf.inputFile != "" {
		if ids.IncludeIDs, err = readIDFile("input_file", rf.inputFile); err != nil {
			return launchPlan{}, err
		}
	}
	if rf.excludeFile != "" {
		if ids.ExcludeIDs, err = readIDFile("exclude_file", rf.excludeFile); err != nil {
			return launchPlan{}, err
		}
	}
	return f.plan(op, fmt.Sprintf("reset (%s)", op.Reset.Type), ids)
}

// operation takes --type in any case, as tctl did; batch.Operation.Validate
// checks the rest.
func (rf *resetFlags) operation(exclude []string) batch.Operation {
	opts := batch.ResetOptions{Type: rf.resetType, BuildID: rf.buildID, BadBinaryChecksum: rf.badBinaryChecksum,
		OnlyNonDeterministic: rf.onlyNonDeterministic, ExcludeReapply: exclude, CurrentRunOnly: rf.currentRunOnly}
	for _, known := range resetTypes {
		if strings.EqualFold(known, rf.resetType) {
			opts.Type = known
		}
	}
	return batch.Reset(opts)
}
