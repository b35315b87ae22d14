package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/batchwire/batchwire/batch"
)

// formatTime prints UTC to the second: stable width for tables, and what an
// operator compares with server logs.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func (s *session) printJobs(jobs []batch.Progress) error {
	if s.json {
		if jobs == nil {
			jobs = []batch.Progress{}
		}
		return s.printJSON(jobs)
	}
	if len(jobs) == 0 {
		_, err := fmt.Fprintf(s.out, "No batch jobs in namespace %s.\n", s.namespace)
		return err
	}
	tw := newTable(s.out)
	fmt.Fprintln(tw, "JOB ID\tOPERATION\tSTATE\tCOMPLETED\tFAILED\tTOTAL\tSTART TIME\tCLOSE TIME")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", j.JobID, j.Operation, s.paintState(j.State),
			j.Completed, j.Failed, j.Total, formatTime(j.StartTime), formatTime(j.CloseTime))
	}
	return tw.Flush()
}

func (s *session) printJob(p batch.Progress) error {
	if s.json {
		return s.printJSON(p)
	}
	tw := newTable(s.out)
	fmt.Fprintf(tw, "Job ID:\t%s\n", p.JobID)
	fmt.Fprintf(tw, "Namespace:\t%s\n", p.Namespace)
	fmt.Fprintf(tw, "Operation:\t%s\n", p.Operation)
	fmt.Fprintf(tw, "State:\t%s\n", s.paintState(p.State))
	fmt.Fprintf(tw, "Progress:\t%d/%d completed, %d failed\n", p.Completed, p.Total, p.Failed)
	fmt.Fprintf(tw, "Reason:\t%s\n", orDash(p.Reason))
	// Server 1.29 does not return the query of a batch job; say so with "-".
	fmt.Fprintf(tw, "Query:\t%s\n", orDash(p.Query))
	fmt.Fprintf(tw, "Start time:\t%s\n", formatTime(p.StartTime))
	fmt.Fprintf(tw, "Close time:\t%s\n", formatTime(p.CloseTime))
	return tw.Flush()
}

func printExecutions(w io.Writer, executions []batch.Execution) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "WORKFLOW ID\tRUN ID\tTYPE\tSTATUS\tSTART TIME")
	for _, e := range executions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.WorkflowID, e.RunID, e.Type, e.Status, formatTime(e.StartTime))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printTargets(w io.Writer, targets []clientTarget) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "WORKFLOW ID\tRUN ID\tPLAN")
	for _, t := range targets {
		plan := "apply"
		switch {
		case t.Skipped:
			plan = "skip: " + t.Reason
		case t.EventID > 0:
			plan = fmt.Sprintf("reset run %s to event %d", orDash(t.ResetRunID), t.EventID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.WorkflowID, t.RunID, plan)
	}
	return tw.Flush()
}
