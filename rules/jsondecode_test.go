package rules

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/jsonvalue"
)

// referenceJSON is the meaning decodeJSON must keep: encoding/json (through
// jsonvalue) and then celValue.
func referenceJSON(raw []byte) (ref.Val, error) {
	decoded, err := jsonvalue.Decode(raw)
	if err != nil {
		return nil, err
	}
	return celValue(decoded), nil
}

// plainValue turns a CEL value into comparable Go values.
func plainValue(v ref.Val) any {
	switch val := v.(type) {
	case traits.Mapper:
		out := map[string]any{}
		for it := val.Iterator(); it.HasNext() == types.True; {
			key := it.Next()
			out[fmt.Sprint(key.Value())] = plainValue(val.Get(key))
		}
		return out
	case traits.Lister:
		out := []any{}
		for it := val.Iterator(); it.HasNext() == types.True; {
			out = append(out, plainValue(it.Next()))
		}
		return out
	case *types.Err:
		return "error: " + val.Error()
	}
	return fmt.Sprintf("%T %v", v, v.Value())
}

func requireSameJSON(t *testing.T, raw []byte) {
	t.Helper()
	want, wantErr := referenceJSON(raw)
	got, gotErr := decodeJSON(raw)
	if wantErr != nil || gotErr != nil {
		require.Equal(t, wantErr != nil, gotErr != nil, "%q: reference error %v, decodeJSON error %v", raw, wantErr, gotErr)
		return
	}
	require.Equal(t, plainValue(want), plainValue(got), "%q", raw)
}

func jsonSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`{}`), []byte(`[]`), []byte(`null`), []byte(` true `), []byte(`-0.5e-3`), []byte(`18446744073709551617`),
		[]byte(`9223372036854775808`), []byte(`{"a":1,"a":2}`), []byte(`"\u00e9\ud83d\ude00\n"`), []byte("\"\xff\""),
		[]byte(`[1,2,]`), []byte(`{"a" 1}`), []byte(`01`), []byte(`1.`), []byte(`"tab	in"`), []byte(`[1] [2]`),
		[]byte(`{"k":[{"x":[true,false,null,1.5,"s"]}]}`), []byte(`1e400`), []byte(`"\x"`),
	}
	for _, dir := range []string{"../testdata/events", "../testdata/alertmanager"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			seeds = append(seeds, raw)
		}
	}
	return seeds
}

func TestDecodeJSONKeepsTheReferenceMeaning(t *testing.T) {
	for _, raw := range jsonSeeds(t) {
		requireSameJSON(t, raw)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, raw := range jsonSeeds(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) { requireSameJSON(t, raw) })
}

// TestScanShortcutsAgreeWithByteLoops puts each byte value at each place of
// a run of plain text, and of spaces, and checks that the eight-at-a-time
// loops stop where a loop over single bytes would.
func TestScanShortcutsAgreeWithByteLoops(t *testing.T) {
	for c := range 256 {
		for at := range 20 {
			for _, filler := range []byte{'a', ' '} {
				text := bytes.Repeat([]byte{filler}, 20)
				text[at] = byte(c)
				wantPlain := 0
				for wantPlain < len(text) && !stringSpecial[text[wantPlain]] {
					wantPlain++
				}
				require.Equal(t, wantPlain, plainRun(text, 0), "byte %#x at %d in %q", c, at, text)
				gotSpace := skipSpace(text, 0)
				wantSpace := 0
				for wantSpace < len(text) && strings.IndexByte(" \t\n\r", text[wantSpace]) >= 0 {
					wantSpace++
				}
				require.Equal(t, wantSpace, gotSpace, "byte %#x at %d in %q", c, at, text)
			}
		}
	}
}
