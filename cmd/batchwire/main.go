// Command batchwire runs the batchwire daemon and its operator tools.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitBadUsage = 2
)

// usageError marks errors caused by bad flags or input, which exit 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func main() {
	err := newRootCmd().Execute()
	if err != nil {
		fmt.Fprintln(os.Stderr, "batchwire:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the one exit-code policy: 0 ok, 2 bad usage or configuration
// (a usageError: every argument, flag and config check wraps its errors in
// one), 1 any other failure.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		return exitBadUsage
	}
	return exitFailure
}

type globalFlags struct {
	logLevel  string
	logFormat string
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "batchwire",
		Short: "Turn events into safe, audited Temporal batch operations",
		Long: `batchwire subscribes to NATS subjects, matches each CloudEvent against rules,
and launches the Temporal batch operation a matching rule renders, following
it to the end and exporting its progress as Prometheus metrics.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().String(),
		// Without Args, cobra reports a mistyped subcommand as a plain error.
		Args: groupArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error, never")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text, json")
	root.AddCommand(newRunCmd(g), newCheckCmd(), newSendCmd(), newAuditCmd(), newBatchCmd(g), newWorkflowCmd(g), newActivityCmd(g), newTestCmd(),
		newHealthcheckCmd(), newVersionCmd())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return root
}

func (g *globalFlags) logger() (*slog.Logger, error) {
	if strings.EqualFold(g.logLevel, "never") {
		return slog.New(slog.DiscardHandler), nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: want debug, info, warn, error or never: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(g.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format: want text or json, got %q", g.logFormat)}
}
