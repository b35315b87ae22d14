package batch_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
)

func TestCheckServer(t *testing.T) {
	override := pinned("shop", "v1")
	buildReset := batch.Reset(batch.ResetOptions{Type: batch.ResetBuildID, BuildID: "b"})
	resetActivities := batch.ResetActivities(batch.ResetActivitiesOptions{ActivitySelector: byType("A")})
	tests := []struct {
		version string
		op      batch.Operation
		want    string
	}{
		{"1.29.1", resetActivities, ""},
		{"1.28.0", resetActivities, "reset_activities needs Temporal server 1.29.0 or later; the connected server runs 1.28.0"},
		{"1.26.2", override, ""},
		{"1.26.1", override, "update_options needs Temporal server 1.26.2 or later"},
		{"v1.27.0-rc.1", buildReset, ""},
		{"1.26.0", buildReset, "reset type BuildId needs Temporal server 1.27.0 or later"},
		{"1.17.9", batch.Signal("s", nil), "signal needs Temporal server 1.18.0 or later"},
		{"", override, ""}, // a server that does not say: it will refuse what it lacks itself
	}
	for _, tt := range tests {
		err := batch.ServerInfo{Version: tt.version}.CheckServer(tt.op)
		if tt.want == "" {
			require.NoError(t, err, tt.version)
			continue
		}
		require.ErrorIs(t, err, batch.ErrServerTooOld)
		require.ErrorContains(t, err, tt.want)
	}
	require.Equal(t, "1.29.0", resetActivities.MinServerVersion())
	require.Equal(t, "1.27.0", buildReset.MinServerVersion())
}

// The dev server says what it is; every kind runs on it.
func TestSystemInfoOfTheDevServer(t *testing.T) {
	info, err := dialBatch(t, "default").SystemInfo(context.Background())
	require.NoError(t, err)
	require.Regexp(t, `^1\.29\.`, info.Version)
	require.NotNil(t, info.Capabilities)
	for _, kind := range batch.Kinds {
		op := batch.Operation{Kind: kind}
		require.NoError(t, info.CheckServer(op), kind)
	}
}
