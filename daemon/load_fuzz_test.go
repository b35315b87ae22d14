package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
)

// FuzzLoad takes arbitrary YAML through the loader as Load does (decode,
// validate, compile rules and operations, lint, build HTTP sources): it
// must never panic, and what it accepts must be complete, each rule
// compiled with its operation. Seeds are the shipped examples and the
// corpus of invalid configurations.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../examples/*/*.yaml", "../testdata/configs/invalid/*.yaml"} {
		paths, err := filepath.Glob(pattern)
		require.NoError(f, err)
		require.NotEmpty(f, paths, pattern)
		for _, path := range paths {
			raw, err := os.ReadFile(path) //nolint:gosec // the repository's own files
			require.NoError(f, err)
			f.Add(raw)
		}
	}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, problems := config.Decode(raw)
		if cfg == nil {
			require.NotEmpty(t, problems.Errors(), "no configuration and no error")
			return
		}
		loaded, problems := build(cfg, "fuzz.yaml", log, problems)
		if loaded == nil {
			require.NotEmpty(t, problems.Errors(), "refused without an error")
			return
		}
		require.Empty(t, problems.Errors())
		require.Len(t, loaded.Rules.Rules(), len(cfg.Rules))
		require.Len(t, loaded.Ops, len(cfg.Rules))
		for _, trigger := range cfg.Triggers {
			require.Positive(t, trigger.MaxInFlight, trigger.Name)
			if trigger.HTTP != nil {
				require.Contains(t, loaded.HTTPSources, trigger.Name)
			}
		}
	})
}
