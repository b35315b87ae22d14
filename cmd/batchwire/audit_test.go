package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/daemon"
	"github.com/batchwire/batchwire/internal/testenv"
)

// `batchwire audit` reads back the records a daemon stored, filtered by rule,
// event id and age, as a table or JSON lines.
func TestAuditCommandFilters(t *testing.T) {
	srv := testenv.RunNATS(t)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "BATCHWIRE_AUDIT", Subjects: []string{"batchwire.audit.>"}})
	require.NoError(t, err)
	count := int64(3)
	records := []daemon.Record{
		{Time: time.Now().Add(-2 * time.Hour), Rule: "old", EventID: "e0", Result: daemon.ResultLaunched},
		{Time: time.Now(), Rule: "flags", EventID: "e1", Result: daemon.ResultLaunched, JobID: "job-1", Count: &count},
		{Time: time.Now(), Rule: "flags", EventID: "e2", Result: daemon.ResultBlocked, Guard: "cooldown", Reason: "same query"},
		{Time: time.Now(), Rule: "other", EventID: "e1", Result: daemon.ResultNotMatched, Reason: "when is false"},
	}
	for _, rec := range records {
		body, err := json.Marshal(rec)
		require.NoError(t, err)
		_, err = js.Publish(ctx, "batchwire.audit."+rec.Rule, body)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "batchwire.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf("nats: {url: %q}\n", srv.ClientURL())), 0o600))

	byEvent := runCLI(t, nil, "audit", "--config", cfgPath, "--event-id", "e1", "-o", "json")
	require.NoError(t, byEvent.err)
	lines := strings.Split(strings.TrimSpace(byEvent.stdout), "\n")
	require.Len(t, lines, 2)
	var first daemon.Record
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.Equal(t, "job-1", first.JobID)
	require.EqualValues(t, 3, *first.Count)

	byRule := runCLI(t, nil, "audit", "--config", cfgPath, "--rule", "flags")
	require.NoError(t, byRule.err)
	require.Contains(t, byRule.stdout, "RESULT")
	require.Contains(t, byRule.stdout, "cooldown")
	require.NotContains(t, byRule.stdout, "when is false")

	recent := runCLI(t, nil, "audit", "--config", cfgPath, "--since", "1h", "-o", "json")
	require.NoError(t, recent.err)
	require.Len(t, strings.Split(strings.TrimSpace(recent.stdout), "\n"), 3, "the 2h-old record is left out")

	none := runCLI(t, nil, "audit", "--config", cfgPath, "--event-id", "nope")
	require.NoError(t, none.err)
	require.Contains(t, none.stdout, "no records")
}
