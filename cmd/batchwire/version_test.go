package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// `version` and `--version` print the version and commit stamped at build
// time (-ldflags -X, as the Makefile and Dockerfile do) and the Go version.
func TestVersion(t *testing.T) {
	oldVersion, oldCommit := version, commit
	t.Cleanup(func() { version, commit = oldVersion, oldCommit })
	version, commit = "v1.2.3", "0123456789abcdef0123"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		res := runCLI(t, nil, args...)
		require.NoError(t, res.err)
		require.Equal(t, "batchwire v1.2.3 (commit 0123456789ab, "+runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH+")\n", res.stdout)
	}
}
