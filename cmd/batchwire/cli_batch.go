package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/batch"
)

const unsupportedNote = `Connection settings come as in the temporal CLI: flags, then TEMPORAL_*
variables (and tctl's TEMPORAL_CLI_*), then the profile of the TOML client
config file (--profile, --config-file). A codec server is refused by signal,
which sends its input as plain JSON; --no-json-shorthand-payloads is refused.`

// newGroupCmd builds a command group carrying the global connection flags.
func newGroupCmd(use, short, long, example string, cf *connFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long + "\n\n" + unsupportedNote, Example: example,
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	useSpellings(cmd)
	cf.register(cmd.PersistentFlags())
	return cmd
}

// groupArgs makes a mistyped subcommand a usage error (exit 2) rather than
// cobra's help-and-exit-0 for groups.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
		msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// requireFlags reports missing mandatory flags as a usage error; cobra's own
// required-flag error would exit 1.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, name := range names {
		if f := cmd.Flags().Lookup(name); f == nil || strings.TrimSpace(f.Value.String()) == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("%s: required flag(s) missing or empty: %s", cmd.CommandPath(), strings.Join(missing, ", "))}
	}
	return nil
}

func newBatchCmd(g *globalFlags) *cobra.Command {
	cf := &connFlags{}
	cmd := newGroupCmd("batch", "List, describe and stop batch jobs",
		`Manage batch jobs themselves: the server batcher's jobs and those of
batchwire's client-side engine, shown alike. Jobs are started by the
"workflow" commands (signal, terminate, cancel, delete, reset-batch).`,
		`  batchwire batch list -n payments
  batchwire batch describe --job-id batchwire-cli-0d5c... -o json`, cf)
	cmd.AddCommand(newBatchListCmd(cf, g), newBatchDescribeCmd(cf, g), newBatchTerminateCmd(cf, g))
	return cmd
}

func newBatchListCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--limit N]",
		Short: "List batch jobs, newest first",
		Long: `List the namespace's batch jobs, newest first, with their progress. Server
jobs and client-engine jobs are listed together.`,
		Example: `  batchwire batch list --limit 100
  batchwire batch list -n payments -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageError{errors.New("--limit must not be negative")}
			}
			s, err := openSession(cmd, cf, g)
			if err != nil {
				return err
			}
			defer s.close()
			jobs, err := listJobs(s, limit)
			if err != nil {
				return err
			}
			return s.printJobs(jobs)
		},
	}
	useSpellings(cmd)
	cmd.Flags().IntVar(&limit, "limit", 20, "maximum number of jobs to show; 0 shows all")
	return cmd
}

// listJobs merges server and client-engine jobs. The server's list has no
// counts, so each listed job is described; --limit bounds those calls.
func listJobs(s *session, limit int) ([]batch.Progress, error) {
	jobs, err := s.client.ListJobs(s.ctx, s.namespace, limit)
	if err != nil {
		return nil, err
	}
	for i, job := range jobs {
		p, err := s.client.Describe(s.ctx, s.namespace, job.JobID)
		if err != nil {
			continue // gone or unreadable since listed: the listed state is still true
		}
		jobs[i] = p
	}
	clientList, err := s.engine.List(s.ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list client-engine jobs: %w", err)
	}
	jobs = append(jobs, clientList...)
	slices.SortStableFunc(jobs, func(a, b batch.Progress) int {
		return cmp.Or(b.StartTime.Compare(a.StartTime), strings.Compare(a.JobID, b.JobID))
	})
	if limit > 0 && len(jobs) > limit {
		jobs = jobs[:limit]
	}
	return jobs, nil
}

func newBatchDescribeCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	var jobID string
	cmd := &cobra.Command{
		Use:   "describe --job-id ID",
		Short: "Show a batch job's state and progress",
		Long: `Show a batch job's state, progress (completed, failed and total operations),
reason and query, for server and client-engine jobs alike. The server reports
counts of 0 once a job has failed or been stopped.`,
		Example: `  batchwire batch describe --job-id my-batch-reset-job-123 --namespace production`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "job-id"); err != nil {
				return err
			}
			s, err := openSession(cmd, cf, g)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := describeJob(s, jobID)
			if err != nil {
				return err
			}
			return s.printJob(p)
		},
	}
	useSpellings(cmd)
	cmd.Flags().StringVar(&jobID, "job-id", "", "batch job id (required)")
	return cmd
}

// describeJob asks the client engine first. The server's batch APIs act on
// any workflow whose id is the job id: asked about an engine job, describe
// reads nonsense and stop terminates the engine's workflow mid-page.
func describeJob(s *session, jobID string) (batch.Progress, error) {
	p, err := s.engine.Describe(s.ctx, jobID)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, batch.ErrNotFound) {
		return p, err
	}
	p, err = s.client.Describe(s.ctx, s.namespace, jobID)
	return p, notFound(s, jobID, err)
}

func notFound(s *session, jobID string, err error) error {
	if errors.Is(err, batch.ErrNotFound) {
		return fmt.Errorf("batch job %q not found in namespace %q: %w", jobID, s.namespace, err)
	}
	return err
}

func newBatchTerminateCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	var jobID, reason string
	cmd := &cobra.Command{
		Use:   "terminate --job-id ID --reason R",
		Short: "Stop a running batch job",
		Long: `Stop a running batch job. Operations it already applied stay applied: there
is no undo. The reason is recorded with the job.`,
		Example: `  batchwire batch terminate --job-id my-signal-campaign-456 \
    --reason "Incorrect query, stopping signal campaign"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "job-id", "reason"); err != nil {
				return err
			}
			s, err := openSession(cmd, cf, g)
			if err != nil {
				return err
			}
			defer s.close()
			return stopJob(s, jobID, reason)
		},
	}
	useSpellings(cmd)
	cmd.Flags().StringVar(&jobID, "job-id", "", "batch job id (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why the job is stopped, recorded with it (required)")
	return cmd
}

// stopJob stops an engine job through the engine, which lets the page in
// flight report its counts, and any other job through the server.
func stopJob(s *session, jobID, reason string) error {
	_, err := s.engine.Describe(s.ctx, jobID)
	switch {
	case err == nil:
		err = s.engine.Stop(s.ctx, jobID, reason)
	case errors.Is(err, batch.ErrNotFound):
		err = s.client.Stop(s.ctx, s.namespace, jobID, reason)
	}
	if err != nil {
		return notFound(s, jobID, err)
	}
	p, err := describeJob(s, jobID)
	if err != nil {
		return fmt.Errorf("stopped batch job %q, but describing it failed: %w", jobID, err)
	}
	if !s.json && p.Done() {
		fmt.Fprintf(s.out, "Stopped batch job %s. Operations it already applied stay applied.\n", jobID)
	} else if !s.json {
		fmt.Fprintf(s.out, "Stopping batch job %s: it ends once the operations in flight finish. "+
			"Operations it already applied stay applied.\n", jobID)
	}
	return s.printJob(p)
}
