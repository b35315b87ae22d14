package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
)

func newCheckCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "check --config FILE",
		Short: "Validate a configuration and print its rules",
		Long: `Validate a configuration without running anything: strict YAML (unknown keys
are errors with their line), every field, every CEL expression and template.
Every error is listed at once; the exit status is 1 when there is any.`,
		Example: `  batchwire check --config examples/flags/batchwire.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configPath)
			if err != nil {
				return err
			}
			set, err := rules.Compile(cfg.Rules)
			if err != nil {
				return fmt.Errorf("config %s: %w", configPath, err)
			}
			printRuleTable(cmd.OutOrStdout(), cfg, set)
			return nil
		},
	}
	cmd.Flags().StringVarP(&configPath, "config", "c", "batchwire.yaml", "configuration file")
	return cmd
}

func printRuleTable(out io.Writer, cfg *config.Config, set *rules.Set) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tTRIGGER\tNAMESPACE\tACTION\tWHEN\tQUERY")
	for _, r := range set.Rules() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Trigger, r.Namespace, r.Operation,
			r.Config.When, r.Config.Query)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "config OK: %d triggers, %d rules (sha256 %s)\n", len(cfg.Triggers), len(set.Rules()), cfg.Hash[:12])
}
