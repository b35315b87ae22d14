package main

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCheckGolden pins what an operator reads from `batchwire check`: the
// rule table of a shipped example, every error of a broken file at once,
// typo'd keys named by rule and field, and warnings that still exit 0.
func TestCheckGolden(t *testing.T) {
	tests := []struct {
		name, config string
		wantErr      string
	}{
		{name: "check_flags_example", config: "../../examples/flags/batchwire.yaml"},
		{name: "check_warnings", config: "testdata/check/warnings.yaml"},
		{name: "check_errors", config: "testdata/check/errors.yaml", wantErr: "config testdata/check/errors.yaml: 9 errors"},
		{name: "check_typos", config: "testdata/check/typo.yaml", wantErr: "config testdata/check/typo.yaml: 3 errors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, nil, "check", "--config", tt.config)
			checkGolden(t, filepath.Join("golden", tt.name), res.stdout)
			if tt.wantErr == "" {
				require.NoError(t, res.err)
				return
			}
			require.EqualError(t, res.err, tt.wantErr)
			// A plain error: main exits 1 for it, 2 only for a usageError.
			require.False(t, errors.As(res.err, new(usageError)))
		})
	}
}

func TestCheckMissingFile(t *testing.T) {
	res := runCLI(t, nil, "check", "--config", filepath.Join(t.TempDir(), "none.yaml"))
	require.ErrorContains(t, res.err, "1 error")
	require.Contains(t, res.stdout, "none.yaml: read config: open ")
}

func TestShortDuration(t *testing.T) {
	for in, want := range map[string]string{"10m": "10m", "1h": "1h", "90s": "1m30s", "1h30m": "1h30m", "500ms": "500ms"} {
		d, err := time.ParseDuration(in)
		require.NoError(t, err)
		require.Equal(t, want, shortDuration(d), in)
	}
}
