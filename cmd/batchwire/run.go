package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/daemon"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the daemon",
		Long: `Run the daemon: connect to Temporal and NATS (or start an embedded NATS server
when nats.url is empty), subscribe every trigger, and launch the batch jobs
that matching rules render. SIGINT or SIGTERM stops intake, finishes in-flight
decisions and exits. SIGHUP (or POST /-/reload, served only with
http.admin.enabled and its bearer token) reloads the configuration:
the new one is validated whole and swapped in only if it is valid.

The configuration is loaded as check loads it; a file with errors is refused
before anything is started, with the same problems check prints, on stderr,
and exit status 2. The Temporal API key is read from temporal.api_key_file or
the TEMPORAL_API_KEY environment variable; it is never logged.`,
		Example: `  batchwire run --config examples/flags/batchwire.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			loaded, err := loadConfig(cmd.ErrOrStderr(), configPath, logger)
			if err != nil {
				return err
			}
			d, err := daemon.New(daemon.Options{Loaded: loaded, Logger: logger, ConfigPath: configPath})
			if err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go reloadOnHangup(ctx, d)
			return d.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "batchwire.yaml", "configuration file")
	return cmd
}

// reloadOnHangup reloads the configuration on every SIGHUP; a bad file is
// logged by Reload and the running configuration stays.
func reloadOnHangup(ctx context.Context, d *daemon.Daemon) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = d.Reload()
		}
	}
}

// loadConfig loads the configuration as check does. A file with errors is
// refused with every problem printed to stderr in check's words, and exits 2;
// warnings of a file that loads are logged.
func loadConfig(stderr io.Writer, path string, logger *slog.Logger) (*daemon.Loaded, error) {
	loaded, problems := daemon.Load(path, logger)
	if loaded == nil {
		printProblems(stderr, problems)
		return nil, usageError{fmt.Errorf("config %s: %s", path, plural(len(problems.Errors()), "error"))}
	}
	for _, p := range problems.Warnings() {
		logger.Warn("configuration warning", "problem", p.String())
	}
	return loaded, nil
}
