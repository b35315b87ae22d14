package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/daemon"
)

type auditFlags struct {
	configPath, server, rule, eventID, jobID, output string
	since                                            time.Duration
}

func newAuditCmd() *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit [--event-id ID | --rule R --since 1h | --job-id J]",
		Short: "Show the recorded decisions",
		Long: `Show the decision records the daemon stored in its audit stream: for every event
and rule, whether it matched, which guard blocked it and why, the rendered query,
the preflight count and the job id; and for every job, how it ended. The stream
name and subject come from the configuration file (audit.stream, audit.subject).`,
		Example: `  batchwire audit --config examples/flags/batchwire.yaml --event-id 0b7c...
  batchwire audit --rule broadcast-flag-change --since 1h -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			return f.run(ctx, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.configPath, "config", "c", "batchwire.yaml", "configuration file (for audit.stream and nats.url)")
	fl.StringVar(&f.server, "server", "", "NATS server URL (default: nats.url, or the embedded server's nats.listen)")
	fl.StringVar(&f.rule, "rule", "", "only records of this rule")
	fl.StringVar(&f.eventID, "event-id", "", "only records of this event id")
	fl.StringVar(&f.jobID, "job-id", "", "only records of this job id")
	durationVar(fl, &f.since, "since", "only records newer than this (e.g. 1h); 0 means all")
	fl.StringVarP(&f.output, "output", "o", "text", "output: text or json")
	return cmd
}

func (f *auditFlags) run(ctx context.Context, out io.Writer) error {
	if f.output != "text" && f.output != "json" {
		return usageError{fmt.Errorf("--output: want text or json, got %q", f.output)}
	}
	// Only audit.* and nats.* are needed here: the file need not be one
	// the daemon could run (its secrets may live elsewhere).
	cfg, err := config.Load(f.configPath)
	if err != nil {
		return usageError{err}
	}
	if cfg.Audit.Disabled {
		return errors.New("audit.disabled is set in the configuration: no records are stored")
	}
	nc, err := nats.Connect(f.natsURL(cfg), nats.Name("batchwire-audit"), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	filter := daemon.AuditFilter{Rule: f.rule, EventID: f.eventID, JobID: f.jobID}
	if f.since > 0 {
		filter.Since = time.Now().Add(-f.since)
	}
	records, err := daemon.ReadAudit(ctx, nc, cfg.Audit, filter)
	if err != nil {
		return err
	}
	if f.output == "json" {
		enc := json.NewEncoder(out)
		for _, rec := range records {
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		return nil
	}
	printAudit(out, records)
	return nil
}

func (f *auditFlags) natsURL(cfg *config.Config) string {
	switch {
	case f.server != "":
		return f.server
	case cfg.NATS.URL != "":
		return cfg.NATS.URL
	}
	return "nats://" + cfg.NATS.Listen
}

func printAudit(out io.Writer, records []daemon.Record) {
	if len(records) == 0 {
		fmt.Fprintln(out, "no records")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tRULE\tEVENT\tRESULT\tGUARD\tCOUNT\tJOB\tREASON")
	for _, r := range records {
		count := "-"
		if r.Count != nil {
			count = fmt.Sprint(*r.Count)
		}
		result := r.Result
		if r.JobState != "" {
			result += " (" + r.JobState + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Format(time.RFC3339), r.Rule, r.EventID,
			result, dash(r.Guard), count, dash(r.JobID), r.Reason)
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
