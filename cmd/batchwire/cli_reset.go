package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/batch/engine"
)

// resetTypes are the --type values: the server's and the engine's, plus
// tctl's BadBinary, which only the client engine runs.
var resetTypes = append(append([]string{}, batch.ResetTypes...), engine.ResetBadBinary)

type resetFlags struct {
	resetType, buildID, inputFile, excludeFile, badBinaryChecksum string
	onlyNonDeterministic                                          bool
	reapplyExclude                                                []string
}

func newResetBatchCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	f, rf := &launchFlags{}, &resetFlags{}
	cmd := &cobra.Command{
		Use:   "reset-batch --query Q --reason R --type T",
		Short: "Reset every execution a query matches to a point in its history",
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
  batchwire workflow reset-batch --query "WorkflowType='LoyaltyProgram' AND ExecutionStatus='Running'" \
    --reason "Applying fix for loyalty calculation bug" --type LastWorkflowTask --dry-run
  # Then reset, and follow the job to the end
  batchwire workflow reset-batch --query "WorkflowType='LoyaltyProgram' AND ExecutionStatus='Running'" \
    --reason "Applying fix for loyalty calculation bug" --type LastWorkflowTask --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
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
		"with --type BadBinary: reset to the first workflow task completed by this binary checksum (client engine)")
	fl.StringSliceVar(&rf.reapplyExclude, "reapply-exclude", nil,
		"event kinds not to reapply after the reset point: signal, update, cancel_request, nexus")
}

// plan validates the reset and names everything only the client engine can do.
func (rf *resetFlags) plan(f *launchFlags) (launchPlan, error) {
	reset, err := rf.operation()
	if err != nil {
		return launchPlan{}, err
	}
	extra := clientJob{OnlyNonDeterministic: rf.onlyNonDeterministic, BadBinaryChecksum: rf.badBinaryChecksum}
	var needs []string
	if !reset.ServerSide() {
		needs = append(needs, "reset type "+reset.Type)
	}
	if rf.onlyNonDeterministic {
		needs = append(needs, "--only_non_deterministic")
	}
	if rf.inputFile != "" {
		needs = append(needs, "--input_file")
		if extra.IncludeIDs, err = readIDFile("input_file", rf.inputFile); err != nil {
			return launchPlan{}, err
		}
	}
	if rf.excludeFile != "" {
		needs = append(needs, "--exclude_file")
		if extra.ExcludeIDs, err = readIDFile("exclude_file", rf.excludeFile); err != nil {
			return launchPlan{}, err
		}
	}
	return f.plan(reset, fmt.Sprintf("reset (%s)", reset.Type), extra, needs)
}

func (rf *resetFlags) operation() (batch.Reset, error) {
	reset := batch.Reset{BuildID: rf.buildID, ExcludeReapply: rf.reapplyExclude}
	for _, known := range resetTypes {
		if strings.EqualFold(known, rf.resetType) {
			reset.Type = known
		}
	}
	switch {
	case rf.resetType == "":
		return reset, usageError{fmt.Errorf("--type is required: one of %s", strings.Join(resetTypes, ", "))}
	case reset.Type == "":
		return reset, usageError{fmt.Errorf("--type %q: want one of %s", rf.resetType, strings.Join(resetTypes, ", "))}
	case reset.Type == batch.ResetBuildID && rf.buildID == "":
		return reset, usageError{errors.New("--type BuildId needs --build-id")}
	case reset.Type != batch.ResetBuildID && rf.buildID != "":
		return reset, usageError{errors.New("--build-id only goes with --type BuildId")}
	case (reset.Type == engine.ResetBadBinary) != (rf.badBinaryChecksum != ""):
		return reset, usageError{errors.New("--type BadBinary and --reset_bad_binary_checksum go together")}
	}
	for _, kind := range rf.reapplyExclude {
		switch kind {
		case "signal", "update", "cancel_request", "nexus":
		default:
			return reset, usageError{fmt.Errorf("--reapply-exclude %q: want signal, update, cancel_request or nexus", kind)}
		}
	}
	return reset, nil
}
