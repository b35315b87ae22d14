package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
)

func newCheckCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a configuration, lint every query and print the rules",
		Long: `Validate a configuration without running anything, as amtool check-config does:
strict YAML (an unknown key is an error naming the rule and the field), every
field, every CEL expression and template, and a lint of every query template,
parsed as the Temporal server parses it with each {{ }} placeholder replaced by
a sample string literal. Lint refuses a query that does not parse, is empty,
is a constant (true, 1=1), holds a comment, or is scoped by ExecutionStatus
alone; it warns about a signal or reset query without an ExecutionStatus filter
and a rule without guards.max_workflows.

Every error and warning is listed at once. The exit status is 1 when there is
any error; warnings alone exit 0. On success the rules are printed as a table.`,
		Example: `  batchwire check --config examples/flags/batchwire.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd.OutOrStdout(), configPath)
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "batchwire.yaml", "configuration file")
	return cmd
}

// checkReport is everything check found in one file.
type checkReport struct {
	cfg      *config.Config
	rules    []*rules.Rule
	errs     []string
	warnings []string
}

func runCheck(out io.Writer, path string) error {
	report := checkConfig(path)
	sortByLine(report.errs)
	sortByLine(report.warnings)
	fmt.Fprintf(out, "Checking %s\n", path)
	for _, msg := range report.errs {
		printItem(out, "  error: ", msg)
	}
	for _, msg := range report.warnings {
		printItem(out, "  warning: ", msg)
	}
	if len(report.errs) > 0 {
		fmt.Fprintf(out, "FAILED: %s, %s\n", plural(len(report.errs), "error"), plural(len(report.warnings), "warning"))
		// A plain error: main maps it to exit status 1.
		return fmt.Errorf("config %s: %s", path, plural(len(report.errs), "error"))
	}
	fmt.Fprintf(out, "SUCCESS: %s, %s, %s (sha256 %s)\n\n", plural(len(report.cfg.Triggers), "trigger"),
		plural(len(report.rules), "rule"), plural(len(report.warnings), "warning"), report.cfg.Hash[:12])
	printRuleTable(out, report.rules)
	return nil
}

// checkConfig runs every check it can. When the file does not load, the
// rules the loader did not already fault are still compiled and linted, so
// that one run lists every problem of the file.
func checkConfig(path string) checkReport {
	var report checkReport
	raw, err := os.ReadFile(path)
	if err != nil {
		report.errs = []string{fmt.Sprintf("read config: %v", err)}
		return report
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		report.errs = describeConfigErrors(raw, err)
		for i, rule := range lenientRules(raw) {
			if !faultedRule(report.errs, i, rule.Name) {
				report.checkRules([]config.Rule{rule})
			}
		}
		return report
	}
	report.cfg = cfg
	report.checkRules(cfg.Rules)
	if cfg.Launch.Paused {
		report.warnings = append(report.warnings, "launch.paused: set, so no rule launches anything until it is cleared")
	}
	return report
}

// checkRules compiles and lints cfgs, adding what it finds to the report.
func (r *checkReport) checkRules(cfgs []config.Rule) {
	set, err := rules.Compile(cfgs)
	if err != nil {
		r.errs = append(r.errs, flattenErrors(err)...)
		return
	}
	for _, rule := range set.Rules() {
		warnings, errs := rules.LintRule(rule)
		r.warnings = append(r.warnings, warnings...)
		for _, err := range errs {
			r.errs = append(r.errs, err.Error())
		}
		r.rules = append(r.rules, rule)
	}
}

// flattenErrors splits joined errors into one message each, keeping the
// context a wrapper added in front of a joined error on every line.
func flattenErrors(err error) []string {
	if err == nil {
		return nil
	}
	//nolint:errorlint // walks the wrapping structure itself, one level at a time
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, inner := range joined.Unwrap() {
			out = append(out, flattenErrors(inner)...)
		}
		return out
	}
	inner := errors.Unwrap(err)
	//nolint:errorlint // as above
	if _, ok := inner.(interface{ Unwrap() []error }); ok && strings.HasSuffix(err.Error(), inner.Error()) {
		prefix := strings.TrimSuffix(err.Error(), inner.Error())
		var out []string
		for _, msg := range flattenErrors(inner) {
			out = append(out, prefix+msg)
		}
		return out
	}
	return []string{err.Error()}
}

var messageLine = regexp.MustCompile(`\(line (\d+)\)`)

// sortByLine orders messages as their rules stand in the file, whichever
// stage found them; messages without a line come first, in their order.
func sortByLine(msgs []string) {
	line := func(msg string) int {
		if m := messageLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 0
	}
	slices.SortStableFunc(msgs, func(a, b string) int { return line(a) - line(b) })
}

var faultedIndex = regexp.MustCompile(`^rules\[(\d+)\]`)

// faultedRule reports whether a loader error is about rule i already, so that
// its compile errors would only repeat the same fault in other words.
func faultedRule(errs []string, i int, name string) bool {
	named := fmt.Sprintf("rule %q ", name)
	for _, msg := range errs {
		if m := faultedIndex.FindStringSubmatch(msg); m != nil && m[1] == strconv.Itoa(i) {
			return true
		}
		if strings.HasPrefix(msg, named) {
			return true
		}
	}
	return false
}

// lenientRules decodes the rules without the strict checks that failed, with
// their lines, for the compile and lint pass of a file that did not load.
func lenientRules(raw []byte) []config.Rule {
	var cfg config.Config
	if yaml.Unmarshal(raw, &cfg) != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(raw, &doc) == nil {
		if seq := mappingValue(documentRoot(&doc), "rules"); seq != nil {
			for i, item := range seq.Content {
				if i < len(cfg.Rules) {
					cfg.Rules[i].Line = item.Line
				}
			}
		}
	}
	return cfg.Rules
}

// printRuleTable prints one line per rule, placeholders shown as {{…}}.
func printRuleTable(out io.Writer, compiled []*rules.Rule) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTRIGGER\tWHEN\tNAMESPACE\tQUERY SHAPE\tACTION\tENGINE\tGUARDS")
	for _, r := range compiled {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Trigger,
			strings.Join(strings.Fields(r.Config.When), " "), r.Namespace, r.QueryShape(),
			actionSummary(r.Config), r.Config.Engine, guardSummary(r.Config.Guards))
	}
	_ = tw.Flush()
}

// actionSummary names the operation and its main argument: `signal
// flag_changed`, `reset LastWorkflowTask`, `terminate`.
func actionSummary(r config.Rule) string {
	switch {
	case r.Signal != nil:
		return "signal " + r.Signal.Name
	case r.Reset != nil:
		parts := []string{"reset", r.Reset.Type}
		if r.Reset.BuildID != "" {
			parts = append(parts, r.Reset.BuildID)
		}
		if r.Reset.OnlyNonDeterministic {
			parts = append(parts, "only_non_deterministic")
		}
		if r.Reset.BadBinaryChecksum != "" {
			parts = append(parts, "bad_binary_checksum="+r.Reset.BadBinaryChecksum)
		}
		if len(r.Reset.ExcludeReapply) > 0 {
			parts = append(parts, "exclude_reapply="+strings.Join(r.Reset.ExcludeReapply, ","))
		}
		return strings.Join(parts, " ")
	}
	return r.Operation()
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
