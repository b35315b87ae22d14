package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/daemon"
)

func newCheckCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a configuration, lint every query and print the rules",
		Long: `Validate a configuration without running anything, as amtool check-config does.
check loads the file exactly as run and reload do, so a file check accepts is
one they accept: strict YAML (an unknown key is an error naming the rule and
the field), every field, every CEL expression and template, the HTTP trigger
paths, webhook mappings and signing secrets, bearer and admin token files, the
NATS password and nkey seed, the HTTP and NATS certificate files, the Temporal
API key file, and a lint of every query template, parsed as the Temporal server parses it with
each {{ }} placeholder replaced by a sample string literal. Lint refuses a
query that does not parse, is empty, is a constant (true, 1=1), holds a
comment, or is scoped by ExecutionStatus alone; it warns about a signal or
reset query without an ExecutionStatus filter and a rule without
guards.max_workflows, and about what leaves a door open: an HTTP trigger without
authentication on an address beyond loopback, a secret file its group or
everyone may read, an API key sent in plaintext, and insecure_skip_verify.

Every error and warning is listed at once, as FILE:LINE: rule "name": field:
message. The exit status is 1 when there is any error; warnings alone exit 0.
On success the rules are printed as a table.`,
		Example: `  batchwire check --config examples/flags/batchwire.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.OutOrStdout(), configPath)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "batchwire.yaml", "configuration file")
	return cmd
}

func runCheck(out io.Writer, path string) error {
	loaded, problems := daemon.Load(path, slog.New(slog.DiscardHandler))
	fmt.Fprintf(out, "Checking %s\n", path)
	printProblems(out, problems)
	errs, warnings := len(problems.Errors()), len(problems.Warnings())
	if loaded == nil {
		fmt.Fprintf(out, "FAILED: %s, %s\n", plural(errs, "error"), plural(warnings, "warning"))
		// A plain error: main maps it to exit status 1.
		return fmt.Errorf("config %s: %s", path, plural(errs, "error"))
	}
	compiled := loaded.Rules.Rules()
	fmt.Fprintf(out, "SUCCESS: %s, %s, %s (sha256 %s)\n\n", plural(len(loaded.Config.Triggers), "trigger"),
		plural(len(compiled), "rule"), plural(warnings, "warning"), loaded.Config.Hash[:12])
	printRuleTable(out, loaded)
	return nil
}

// printProblems prints errors, then warnings, each in file order: the text
// run prints when it refuses a file and reload returns.
func printProblems(out io.Writer, problems config.Problems) {
	for _, p := range problems.Errors() {
		printItem(out, "  error: ", p.String())
	}
	for _, p := range problems.Warnings() {
		printItem(out, "  warning: ", p.String())
	}
}

// printRuleTable prints one line per rule, placeholders shown as {{…}}, and
// each rule's compiled operation as the engines take it.
func printRuleTable(out io.Writer, loaded *daemon.Loaded) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTRIGGER\tWHEN\tNAMESPACE\tQUERY SHAPE\tACTION\tENGINE\tGUARDS")
	for _, r := range loaded.Rules.Rules() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Trigger,
			strings.Join(strings.Fields(r.Config.When), " "), r.Namespace, r.QueryShape(),
			loaded.Ops[r.Name], r.Config.Engine, guardSummary(r.Config.Guards))
	}
	_ = tw.Flush()
}

// guardSummary reads like `max=1000 cooldown=10m rate=5/1m dry_run`.
func guardSummary(g config.Guards) string { return guardsOf(g, false).text() }

// shortDuration drops the zero units Duration.String keeps: 10m, not 10m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// printItem prints a possibly multi-line message (CEL errors point at the
// column on a second line) with its continuation lines indented under it.
func printItem(out io.Writer, label, msg string) {
	indent := strings.Repeat(" ", len(label))
	fmt.Fprintln(out, label+strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", "\n"+indent))
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
