package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/worker"

	"github.com/batchwire/batchwire/examples/worker/flags"
	"github.com/batchwire/batchwire/examples/worker/remedy"
)

// runOrders runs one version of the deploy example's Worker Deployment.
func runOrders(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("worker orders", flag.ContinueOnError)
	var conn connection
	conn.addFlags(fs)
	deployment := fs.String("deployment-name", "myapp", "Worker Deployment name")
	build := fs.String("build-id", "", "this version's build id (required), e.g. the image digest's first 12 hex digits")
	broken := fs.Bool("broken", false, "play a bad release: Fulfil fails on this version")
	if err := parse(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if *build == "" {
		fmt.Fprintln(fs.Output(), "--build-id is required")
		return errUsage
	}
	options := remedy.VersionedOptions(flags.Options(), *deployment, *build)
	return serve(ctx, conn, remedy.OrderTaskQueue, options, func(w worker.Worker) {
		remedy.RegisterOrders(w, remedy.Fulfiller{BuildID: *build, Broken: *broken})
	}, logger.With("deployment", *deployment, "build_id", *build))
}

// runOutage runs the outage example's worker against a downstream URL.
func runOutage(ctx context.Context, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("worker outage", flag.ContinueOnError)
	var conn connection
	conn.addFlags(fs)
	url := fs.String("downstream-url", "", "the downstream CallDownstream GETs (required); any answer but 2xx fails the call")
	if err := parse(fs, args); err != nil {
		return ignoreHelp(err)
	}
	if *url == "" {
		fmt.Fprintln(fs.Output(), "--downstream-url is required")
		return errUsage
	}
	return serve(ctx, conn, remedy.OutageTaskQueue, flags.Options(), func(w worker.Worker) {
		remedy.RegisterOutage(w, remedy.Downstream{URL: *url})
	}, logger)
}

// serve runs a worker on taskQueue until SIGINT or SIGTERM.
func serve(ctx context.Context, conn connection, taskQueue string, options worker.Options,
	register func(worker.Worker), logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl, err := conn.dial(ctx, logger)
	if err != nil {
		return err
	}
	defer cl.Close()
	w := worker.New(cl, taskQueue, options)
	register(w)
	logger.Info("worker starting", "address", conn.address, "namespace", conn.namespace, "task_queue", taskQueue)
	if err := w.Run(interruptOn(ctx)); err != nil {
		return fmt.Errorf("run worker: %w", err)
	}
	logger.Info("worker stopped")
	return nil
}
