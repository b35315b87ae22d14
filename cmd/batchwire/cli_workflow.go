package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/rules"
)

// workflowStatuses are the ExecutionStatus values --status accepts.
var workflowStatuses = []string{"Running", "Completed", "Failed", "Canceled", "Terminated", "ContinuedAsNew", "TimedOut"}

func newWorkflowCmd(g *globalFlags) *cobra.Command {
	cf := &connFlags{}
	cmd := newGroupCmd("workflow", "Find workflows and run batch operations on them",
		`Find workflow executions with a visibility query, and run a batch operation
(signal, terminate, cancel, delete, reset, update-options) on every execution a
query matches.

Before launching, batchwire validates the flags, counts the query on the server
(a query the server rejects is never launched), shows what it will do and asks
for confirmation. --dry-run shows the matching executions and changes nothing.
Visibility is eventually consistent: counts are approximate, and an execution
started a moment ago may be missed.`,
		`  batchwire workflow count --query "WorkflowType='OrderProcessingWorkflow'"
  batchwire workflow signal --query "Tenant='acme' AND ExecutionStatus='Running'" \
    --name flag_changed --input '{"flag":"checkout-v2","value":true}' --reason "flag change" --yes --wait`, cf)
	cmd.AddCommand(newWorkflowListCmd(cf, g), newWorkflowCountCmd(cf, g))
	for _, op := range []string{"signal", "terminate", "cancel", "delete"} {
		cmd.AddCommand(newLaunchCmd(op, cf, g))
	}
	cmd.AddCommand(newResetBatchCmd(cf, g), newWorkflowResetCmd(cf, g), newUpdateOptionsCmd(cf, g))
	return cmd
}

type listFlags struct {
	query, status string
	limit         int
	open          bool
}

func newWorkflowListCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	f := &listFlags{}
	cmd := &cobra.Command{
		Use:   "list [--query Q] [--status S | --open] [--limit N]",
		Short: "List workflow executions matching a visibility query",
		Long: `List workflow executions matching a visibility query. --status and --open add
an ExecutionStatus clause to the query; --open is --status Running.`,
		Example: `  batchwire workflow list --query "WorkflowType='DataProcessingWorkflow' AND StartTime > '2025-06-01T00:00:00Z'" --status Running
  batchwire workflow list --query "CustomID = 'XYZ789'" --status Completed -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			query, err := withStatus(f.query, f.status, f.open)
			if err != nil {
				return err
			}
			if f.limit < 0 {
				return usageError{errors.New("--limit must not be negative")}
			}
			s, err := openSession(cmd, cf, g)
			if err != nil {
				return err
			}
			defer s.close()
			executions, err := s.client.ListWorkflows(s.ctx, s.namespace, query, f.limit)
			if err != nil {
				return queryError(err)
			}
			return s.printExecutions(executions)
		},
	}
	useSpellings(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.query, "query", "q", "", "visibility query; empty lists every execution")
	fl.StringVar(&f.status, "status", "", "only executions in this status: "+strings.Join(workflowStatuses, ", "))
	fl.BoolVar(&f.open, "open", false, "only open (running) executions")
	fl.IntVar(&f.limit, "limit", 100, "maximum number of executions to list; 0 lists all")
	return cmd
}

func (s *session) printExecutions(executions []batch.Execution) error {
	if s.json {
		if executions == nil {
			executions = []batch.Execution{}
		}
		return s.printJSON(executions)
	}
	return printExecutions(s.out, executions)
}

func newWorkflowCountCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	var query string
	cmd := &cobra.Command{
		Use:   "count [--query Q]",
		Short: "Count workflow executions matching a visibility query",
		Long: `Count workflow executions matching a visibility query. The count is
approximate: visibility lags the executions it describes.`,
		Example: `  batchwire workflow count --query "WorkflowType='LoyaltyProgram' AND ExecutionStatus='Running'"`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(cmd, cf, g)
			if err != nil {
				return err
			}
			defer s.close()
			n, err := s.client.Count(s.ctx, s.namespace, query)
			if err != nil {
				return queryError(err)
			}
			if s.json {
				return s.printJSON(countResult{Namespace: s.namespace, Query: query, Count: n})
			}
			_, err = fmt.Fprintf(s.out, "Total: %d\n", n)
			return err
		},
	}
	useSpellings(cmd)
	cmd.Flags().StringVarP(&query, "query", "q", "", "visibility query; empty counts every execution")
	return cmd
}

type countResult struct {
	Namespace string `json:"namespace"`
	Query     string `json:"query"`
	Count     int64  `json:"count"`
}

// withStatus adds the ExecutionStatus clause of --status or --open. The user's
// query is parenthesised so its ORs stay inside, and the closing parenthesis
// goes on a new line so a trailing line comment cannot swallow the clause.
func withStatus(query, status string, open bool) (string, error) {
	if open {
		if status != "" && !strings.EqualFold(status, "Running") {
			return "", usageError{fmt.Errorf("--open means --status Running; it conflicts with --status %s", status)}
		}
		status = "Running"
	}
	if status == "" {
		return query, nil
	}
	canonical := ""
	for _, known := range workflowStatuses {
		if strings.EqualFold(known, status) {
			canonical = known
		}
	}
	if canonical == "" {
		return "", usageError{fmt.Errorf("--status %q: want one of %s", status, strings.Join(workflowStatuses, ", "))}
	}
	literal, err := rules.QuoteString(canonical)
	if err != nil {
		return "", fmt.Errorf("quote status: %w", err)
	}
	clause := "ExecutionStatus = " + literal
	if strings.TrimSpace(query) == "" {
		return clause, nil
	}
	return "(" + query + "\n) AND " + clause, nil
}
