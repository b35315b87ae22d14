package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/config"
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
decisions and exits. SIGHUP (or POST /-/reload) reloads the configuration:
the new one is validated whole and swapped in only if it is valid.

The Temporal API key is read from temporal.api_key_file or the TEMPORAL_API_KEY
environment variable; it is never logged.`,
		Example: `  batchwire run --config examples/flags/batchwire.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			apiKey, err := readAPIKey(cfg.Temporal.APIKeyFile)
			if err != nil {
				return err
			}
			d, err := daemon.New(daemon.Options{Config: cfg, Logger: logger, APIKey: apiKey, ConfigPath: configPath})
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

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

// readAPIKey takes the key from a file when one is configured, else from the
// environment, so it never sits in the configuration itself.
func readAPIKey(path string) (string, error) {
	if path == "" {
		return os.Getenv("TEMPORAL_API_KEY"), nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("temporal.api_key_file: %w", err)
	}
	return strings.TrimSpace(string(raw)), nil
}
