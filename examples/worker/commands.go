package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/batchwire/batchwire/examples/worker/flags"
)

// queryTimeout bounds one query: with no worker polling, the server would hold it
// until its own deadline.
const queryTimeout = 10 * time.Second

// executions names the workflows start creates and query reads, so both agree.
type executions struct {
	conn     connection
	count    int
	tenant   string
	idPrefix string
}

func (e *executions) addFlags(fs *flag.FlagSet) {
	e.conn.addFlags(fs)
	fs.IntVar(&e.count, "count", 0, "number of executions (required)")
	fs.StringVar(&e.tenant, "tenant", "", "tenant, also set as search attribute Tenant (required)")
	fs.StringVar(&e.idPrefix, "id-prefix", "flags", "workflow ids are <id-prefix>-<tenant>-<i>, i from 1 to count")
}

func (e *executions) validate(fs *flag.FlagSet) error {
	if e.count <= 0 || e.tenant == "" {
		fmt.Fprintln(fs.Output(), "--count (> 0) and --tenant are required")
		fs.Usage()
		return errUsage
	}
	return nil
}

func (e *executions) workflowID(i int) string {
	return fmt.Sprintf("%s-%s-%d", e.idPrefix, e.tenant, i)
}

func startWorkflows(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("worker start", flag.ContinueOnError)
	var target executions
	target.addFlags(fs)
	if err := parse(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if err := target.validate(fs); err != nil {
		return err
	}
	cl, err := target.conn.dial(ctx, logger)
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := 1; i <= target.count; i++ {
		run, err := cl.ExecuteWorkflow(ctx, target.startOptions(i), flags.WorkflowName, flags.Params{Tenant: target.tenant})
		if err != nil {
			return fmt.Errorf("start %s: %w", target.workflowID(i), explainStartError(err))
		}
		fmt.Printf("%s %s\n", run.GetID(), run.GetRunID())
	}
	return nil
}

func (e *executions) startOptions(i int) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        e.workflowID(i),
		TaskQueue: flags.TaskQueue,
		// Starting twice is then harmless: the running execution is returned.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// batchwire rules select targets by tenant: `Tenant = 'acme'`.
		TypedSearchAttributes: temporal.NewSearchAttributes(flags.TenantAttribute.ValueSet(e.tenant)),
	}
}

// explainStartError adds the likely cause to the server's terse rejection of an
// unregistered search attribute.
func explainStartError(err error) error {
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		return fmt.Errorf("%w (is search attribute Tenant registered as Keyword? dev server: --search-attribute Tenant=Keyword)", err)
	}
	return err
}

func queryWorkflows(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("worker query", flag.ContinueOnError)
	var target executions
	target.addFlags(fs)
	flagName := fs.String("flag", "", "flag to print (required)")
	if err := parse(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if err := target.validate(fs); err != nil {
		return err
	}
	if *flagName == "" {
		fmt.Fprintln(fs.Output(), "--flag is required")
		return errUsage
	}
	cl, err := target.conn.dial(ctx, logger)
	if err != nil {
		return err
	}
	defer cl.Close()
	failed := 0
	for i := 1; i <= target.count; i++ {
		workflowID := target.workflowID(i)
		state, err := queryState(ctx, cl, workflowID)
		if err != nil {
			logger.Error("query failed", "workflow_id", workflowID, "error", err)
			failed++
			continue
		}
		fmt.Printf("%s %s=%s applied=%d\n", workflowID, *flagName, formatFlag(state.Flags, *flagName), state.Applied)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d queries failed", failed, target.count)
	}
	return nil
}

func queryState(ctx context.Context, cl client.Client, workflowID string) (flags.State, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var state flags.State
	value, err := cl.QueryWorkflow(ctx, workflowID, "", flags.QueryName)
	if err != nil {
		return state, err
	}
	if err := value.Get(&state); err != nil {
		return state, fmt.Errorf("decode query result: %w", err)
	}
	return state, nil
}

// formatFlag prints values as JSON so "true" (a string) and true (a bool) differ.
func formatFlag(values map[string]any, name string) string {
	value, ok := values[name]
	if !ok {
		return "<unset>"
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		return fmt.Sprintf("%v", value)
	}
	return string(encoded)
}
