package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/batchwire/batchwire/batch"
)

// session is one CLI command's connection and output settings.
type session struct {
	ctx       context.Context
	cancel    context.CancelFunc
	client    *batch.Client
	engine    clientJobs
	namespace string
	json      bool
	color     bool
	out       io.Writer
	errOut    io.Writer
	in        io.Reader
}

// cliIdentity names the CLI in the records of the batch jobs it starts, so an
// operator can tell a hand-run job from one the daemon launched.
func cliIdentity() string {
	host, _ := os.Hostname()
	return "batchwire-cli@" + host
}

// openSession resolves the global flags and connects to Temporal.
func openSession(cmd *cobra.Command, cf *connFlags, g *globalFlags) (*session, error) {
	if err := cf.resolve(cmd.Flags()); err != nil {
		return nil, err
	}
	logger, err := g.logger()
	if err != nil {
		return nil, err
	}
	s := &session{namespace: cf.namespace, json: cf.output == "json", out: cmd.OutOrStdout(),
		errOut: cmd.ErrOrStderr(), in: cmd.InOrStdin()}
	s.color = wantColor(cf.color, s.out)
	s.ctx, s.cancel = commandContext(cmd.Context(), cf.commandTimeout)
	s.client, err = batch.Dial(s.ctx, cf.conn, logger)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.engine = clientEngine(s.client, cf.namespace)
	return s, nil
}

// commandContext bounds the whole command by --command-timeout (0: none).
func commandContext(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	if timeout > 0 {
		return context.WithTimeout(parent, timeout)
	}
	return context.WithCancel(parent)
}

func (s *session) close() {
	s.client.Close()
	s.cancel()
}

// printJSON writes v as indented JSON, the stable machine-readable shape.
func (s *session) printJSON(v any) error {
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON output: %w", err)
	}
	return nil
}

// wantColor decides --color auto the usual way: a terminal, and no NO_COLOR.
func wantColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// terminal lets a test stand in for a terminal on stdin or stderr.
type terminal interface{ IsTerminal() bool }

func isTerminal(v any) bool {
	switch t := v.(type) {
	case terminal:
		return t.IsTerminal()
	case *os.File:
		return term.IsTerminal(int(t.Fd())) //nolint:gosec // a file descriptor fits in an int
	}
	return false
}

// stateColors marks job states in text output when color is on.
var stateColors = map[string]string{
	batch.StateCompleted: "\x1b[32m", batch.StateRunning: "\x1b[36m",
	batch.StateFailed: "\x1b[31m", batch.StateStopped: "\x1b[33m",
}

func (s *session) paintState(state string) string {
	code, ok := stateColors[state]
	if !s.color || !ok {
		return state
	}
	return code + state + "\x1b[0m"
}
