package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A record always fits its bound, however long the event made its fields,
// and a cut field keeps its full length and hash.
func TestFitRecordCutsLongFields(t *testing.T) {
	long := strings.Repeat("é<", 300_000)
	sum := sha256.Sum256([]byte(long))
	escapes := strings.Repeat("\x01", 100_000)
	for _, rec := range []Record{
		{Rule: "r", Result: ResultLaunched, Query: long, Reason: long, EventID: long, EventSource: long, EventType: long},
		{Rule: "r", Result: ResultError, Reason: escapes, Query: escapes, EventID: escapes, EventSource: escapes, EventType: escapes, Trigger: escapes},
	} {
		body, err := fitRecord(rec, 64<<10)
		require.NoError(t, err)
		require.LessOrEqual(t, len(body), 64<<10)
		var back Record
		require.NoError(t, json.Unmarshal(body, &back))
		require.Equal(t, ResultLaunched == rec.Result, strings.Contains(back.Query, "sha256:"+hex.EncodeToString(sum[:])), back.Query[len(back.Query)-120:])
		require.Contains(t, back.Reason, "[cut: ")
	}
	short := Record{Rule: "r", Result: ResultLaunched, Query: "A = 1", Reason: "why"}
	body, err := fitRecord(short, 4<<10)
	require.NoError(t, err)
	var back Record
	require.NoError(t, json.Unmarshal(body, &back))
	require.Equal(t, short, back, "a record that fits is unchanged")
}
