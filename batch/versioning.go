package batch

import (
	"fmt"
	"slices"
	"strings"

	deploymentpb "go.temporal.io/api/deployment/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
)

// Versioning override behaviors, in the temporal CLI's spelling
// (--versioning-override-behavior).
const (
	// BehaviorPinned pins each execution to one worker deployment version.
	BehaviorPinned = "pinned"
	// BehaviorAutoUpgrade moves each execution to the deployment's current
	// version on its next workflow task.
	BehaviorAutoUpgrade = "auto_upgrade"
	// BehaviorUnspecified removes the override: the execution goes back to
	// the behavior its workflow was registered with.
	BehaviorUnspecified = "unspecified"
)

// Behaviors lists every override behavior.
var Behaviors = []string{BehaviorPinned, BehaviorAutoUpgrade, BehaviorUnspecified}

// WorkflowOptions are an update_options operation's: the workflow execution
// options it sets on each execution. The versioning override is the one
// option; it is required.
type WorkflowOptions struct {
	VersioningOverride *VersioningOverride `json:"versioning_override,omitempty"`
}

// VersioningOverride is a Worker Versioning override.
type VersioningOverride struct {
	Behavior string `json:"behavior"`
	// DeploymentName and BuildID name the version to pin to (pinned only).
	DeploymentName string `json:"deployment_name,omitempty"`
	BuildID        string `json:"build_id,omitempty"`
}

// UpdateOptions returns an update_options operation.
func UpdateOptions(opts WorkflowOptions) Operation {
	return Operation{Kind: KindUpdateOptions, UpdateOptions: &opts}
}

func (w *WorkflowOptions) validate() []error {
	return w.validateAt(KindUpdateOptions)
}

// validateAt validates under prefix: update_options, or
// reset.post_reset.update_options.
func (w *WorkflowOptions) validateAt(prefix string) []error {
	if w == nil || w.VersioningOverride == nil {
		return []error{fieldErr(prefix+".versioning_override", "required (behavior: %s)", strings.Join(Behaviors, ", "))}
	}
	v := w.VersioningOverride
	field := prefix + ".versioning_override"
	var errs []error
	switch {
	case v.Behavior == "":
		errs = append(errs, fieldErr(field+".behavior", "required: one of %s", strings.Join(Behaviors, ", ")))
	case !slices.Contains(Behaviors, v.Behavior):
		errs = append(errs, fieldErr(field+".behavior", "want one of %s, got %q", strings.Join(Behaviors, ", "), v.Behavior))
	case v.Behavior == BehaviorPinned:
		if v.DeploymentName == "" {
			errs = append(errs, fieldErr(field+".deployment_name", "required with behavior pinned"))
		}
		if v.BuildID == "" {
			errs = append(errs, fieldErr(field+".build_id", "required with behavior pinned"))
		}
	default:
		if v.DeploymentName != "" || v.BuildID != "" {
			errs = append(errs, fieldErr(field+".behavior", "deployment_name and build_id go with behavior pinned only, got %s",
				v.Behavior))
		}
	}
	return errs
}

func (w *WorkflowOptions) String() string {
	v := w.VersioningOverride
	if v == nil {
		return ""
	}
	if v.Behavior == BehaviorPinned {
		return fmt.Sprintf("versioning_override=pinned:%s/%s", v.DeploymentName, v.BuildID)
	}
	return "versioning_override=" + v.Behavior
}

// Proto maps the options to the API's, with the update mask; Validate has
// checked them. An unspecified behavior clears the override (a masked nil).
func (w *WorkflowOptions) Proto() (*workflowpb.WorkflowExecutionOptions, []string) {
	opts := &workflowpb.WorkflowExecutionOptions{}
	v := w.VersioningOverride
	switch v.Behavior {
	case BehaviorPinned:
		version := &deploymentpb.WorkerDeploymentVersion{DeploymentName: v.DeploymentName, BuildId: v.BuildID}
		// The deprecated fields too, as temporal CLI v1.5 sends them, for
		// servers (1.26, 1.27) that read only those.
		opts.VersioningOverride = &workflowpb.VersioningOverride{
			Override: &workflowpb.VersioningOverride_Pinned{Pinned: &workflowpb.VersioningOverride_PinnedOverride{
				Behavior: workflowpb.VersioningOverride_PINNED_OVERRIDE_BEHAVIOR_PINNED, Version: version}},
			Behavior:      enumspb.VERSIONING_BEHAVIOR_PINNED,                                         //nolint:staticcheck // for 1.26 and 1.27
			PinnedVersion: v.DeploymentName + "." + v.BuildID,                                         //nolint:staticcheck // for 1.26 and 1.27
			Deployment:    &deploymentpb.Deployment{SeriesName: v.DeploymentName, BuildId: v.BuildID}, //nolint:staticcheck // for 1.26 and 1.27
		}
	case BehaviorAutoUpgrade:
		opts.VersioningOverride = &workflowpb.VersioningOverride{
			Override: &workflowpb.VersioningOverride_AutoUpgrade{AutoUpgrade: true},
			Behavior: enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE, //nolint:staticcheck // for 1.26 and 1.27
		}
	}
	return opts, []string{"versioning_override"}
}
