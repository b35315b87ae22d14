package main

import (
	"github.com/spf13/cobra"

	"github.com/batchwire/batchwire/batch"
)

func newUpdateOptionsCmd(cf *connFlags, g *globalFlags) *cobra.Command {
	f, override := &launchFlags{}, &batch.VersioningOverride{}
	cmd := &cobra.Command{
		Use:   "update-options --query Q --versioning-override-behavior B --reason R",
		Short: "Set or remove the Worker Versioning override of every execution a query matches",
		Long: `Set the Worker Versioning override of every execution the query matches: pinned
to one deployment version (--versioning-override-deployment-name and
--versioning-override-build-id), auto_upgrade, or unspecified to remove the
override. The execution's history is not changed: its next workflow tasks go
to the version the override names.

` + launchNote,
		Example: `  batchwire workflow update-options --query "Deployment='checkout' AND ExecutionStatus='Running'" \
    --versioning-override-behavior pinned --versioning-override-deployment-name checkout \
    --versioning-override-build-id v1 --reason "roll back to v1" --yes --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			v := *override
			p, err := f.plan(batch.UpdateOptions(batch.WorkflowOptions{VersioningOverride: &v}), batch.KindUpdateOptions, clientJob{})
			if err != nil {
				return err
			}
			return launch(cmd, cf, g, f, p)
		},
	}
	useSpellings(cmd)
	f.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&override.Behavior, "versioning-override-behavior", "", "pinned, auto_upgrade or unspecified (required)")
	fl.StringVar(&override.DeploymentName, "versioning-override-deployment-name", "", "with pinned: the deployment of the version")
	fl.StringVar(&override.BuildID, "versioning-override-build-id", "", "with pinned: the build id of the version")
	return cmd
}
