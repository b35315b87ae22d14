package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the release, set at build time by the Makefile and the
// Dockerfile: -ldflags "-X main.version=v1.2.3". Without it, the module
// version Go recorded (a tagged `go install`) or "devel" is shown.
// commit is likewise set (-X main.commit=...) where Go's own VCS stamp is
// missing, as in a Docker build without .git.
var (
	version = ""
	commit  = ""
)

// buildInfo is what the binary knows of its own build.
type buildInfo struct {
	Version, Commit, GoVersion, Platform string
	// Modified is true when the build's tree had uncommitted changes.
	Modified bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// String reads like `batchwire v1.2.3 (commit 0a1b2c3d4e5f, go1.26.8, linux/amd64)`.
func (b buildInfo) String() string {
	commit := b.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if b.Modified {
		commit += "+modified"
	}
	return fmt.Sprintf("batchwire %s (commit %s, %s, %s)", b.Version, commit, b.GoVersion, b.Platform)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the build's version, commit and Go version",
		Example: "  batchwire version\n  batchwire --version",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), readBuildInfo())
			return err
		},
	}
}
