// Command worker runs the feature-flag example workload that batchwire broadcasts to:
//
//	worker run   [--address A] [--namespace N]
//	worker start --count N --tenant T [--id-prefix P]
//	worker query --count N --tenant T --flag F [--id-prefix P]
//	worker orders --build-id B [--deployment-name D] [--broken]
//	worker outage --downstream-url URL
//
// Address and namespace default to $TEMPORAL_ADDRESS and $TEMPORAL_NAMESPACE. The
// namespace needs the keyword search attribute Tenant (dev server:
// `temporal server start-dev --search-attribute Tenant=Keyword`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/examples/worker/flags"
)

const usage = `usage: worker <command> [flags]

commands:
  run     run the worker until SIGINT or SIGTERM
  start   start --count FlagWorkflow executions for --tenant
  query   print one flag of each execution started by start
  orders  run one Worker Deployment version of the deploy example (OrderWorkflow)
  outage  run the downstream outage example's worker (OutageWorkflow)

Run "worker <command> -h" for the flags of a command.
`

// errUsage marks errors the flag package already reported, which exit with status 2.
var errUsage = errors.New("usage error")

// errHelp ends a command successfully after -h printed its flags.
var errHelp = errors.New("help shown")

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err := dispatch(context.Background(), os.Args[1:], logger)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		logger.Error("worker failed", "error", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, logger *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "run":
		return runWorker(ctx, args[1:], logger)
	case "start":
		return startWorkflows(ctx, args[1:], logger)
	case "query":
		return queryWorkflows(ctx, args[1:], logger)
	case "orders":
		return runOrders(ctx, args[1:], logger)
	case "outage":
		return runOutage(ctx, args[1:], logger)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}

// connection holds the flags every command shares.
type connection struct {
	address   string
	namespace string
}

func (c *connection) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.address, "address", envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		"Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&c.namespace, "namespace", envOr("TEMPORAL_NAMESPACE", "default"),
		"Temporal namespace (env TEMPORAL_NAMESPACE)")
}

func (c *connection) dial(ctx context.Context, logger *slog.Logger) (client.Client, error) {
	cl, err := client.DialContext(ctx, client.Options{
		HostPort:  c.address,
		Namespace: c.namespace,
		Logger:    tlog.NewStructuredLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w", c.address, c.namespace, err)
	}
	return cl, nil
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

// parse reports flag errors itself (ContinueOnError prints them), so callers only map
// them to errUsage; -h is not an error.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}

func runWorker(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("worker run", flag.ContinueOnError)
	var conn connection
	conn.addFlags(fs)
	if err := parse(fs, args); err != nil {
		return ignoreHelp(err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := conn.dial(ctx, logger)
	if err != nil {
		return err
	}
	defer cl.Close()

	// Process-wide and read when the first worker starts, hence before worker.New.
	worker.SetStickyWorkflowCacheSize(flags.StickyWorkflowCacheSize)
	w := worker.New(cl, flags.TaskQueue, flags.Options())
	flags.Register(w)
	logger.Info("worker starting", "address", conn.address, "namespace", conn.namespace, "task_queue", flags.TaskQueue)
	// Run returns after a signal once running activities had WorkerStopTimeout to
	// finish, or early with the error that made the worker give up (such as a
	// namespace that does not exist).
	if err := w.Run(interruptOn(ctx)); err != nil {
		return fmt.Errorf("run worker: %w", err)
	}
	logger.Info("worker stopped")
	return nil
}

func interruptOn(ctx context.Context) <-chan any {
	interrupt := make(chan any)
	go func() {
		<-ctx.Done()
		close(interrupt)
	}()
	return interrupt
}

func ignoreHelp(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}
