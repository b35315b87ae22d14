package rules

import (
	"math"
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/stretchr/testify/require"
)

func TestQuoteString(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{in: ``, want: `''`},
		{in: `Running`, want: `'Running'`},
		{in: `it's`, want: `'it\'s'`},
		{in: `\`, want: `'\\'`},
		{in: `\'`, want: `'\\\''`},
		{in: `\' OR ExecutionStatus != 0 --`, want: `'\\\' OR ExecutionStatus != 0 --'`},
		{in: `' OR '1'='1`, want: `'\' OR \'1\'=\'1'`},
		{in: `) OR (`, want: `') OR ('`},
		{in: `"double"`, want: `'"double"'`},
		{in: "‘’“”", want: "'‘’“”'"},
		{in: "a\nb\rc\td\x00e", want: `'a\nb\rc\td\0e'`},
		{in: `-- /* */ # //`, want: `'-- /* */ # //'`},
		{in: "bell\x07", wantErr: "control character 0x07"},
		{in: "esc\x1b[0m", wantErr: "control character 0x1b"},
		{in: "del\x7f", wantErr: "control character 0x7f"},
		{in: "bad\xffutf8", wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := QuoteString(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestQuoteStringRoundTrip reads every quoted hostile value back with an
// independent tokenizer: it must be one string literal, equal to the input,
// with nothing after it.
func TestQuoteStringRoundTrip(t *testing.T) {
	for _, in := range hostileStrings() {
		name := in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			quoted, err := QuoteString(in)
			require.NoError(t, err)
			tokens, err := tokenizeQuery(quoted)
			require.NoError(t, err)
			require.Equal(t, []token{{str: true, value: in}}, tokens)
		})
	}
}

func TestQueryLiteral(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name    string
		value   ref.Val
		want    string
		wantErr string
	}{
		{name: "string", value: types.String("o'k"), want: `'o\'k'`},
		{name: "int", value: types.Int(-42), want: `-42`},
		{name: "uint", value: types.Uint(42), want: `42`},
		{name: "double", value: types.Double(2.5), want: `2.5`},
		{name: "large double", value: types.Double(1e21), want: `1000000000000000000000`},
		{name: "NaN", value: types.Double(math.NaN()), wantErr: "NaN"},
		{name: "Inf", value: types.Double(math.Inf(1)), wantErr: "+Inf"},
		{name: "bool", value: types.True, want: `true`},
		{name: "timestamp in UTC", value: types.Timestamp{Time: ts}, want: `'2024-05-06T05:08:09.123Z'`},
		{name: "list for IN", value: list("a", int64(2), true), want: `('a', 2, true)`},
		{name: "list quotes each element", value: list(`x') OR ('1`), want: `('x\') OR (\'1')`},
		{name: "empty list", value: list(), wantErr: "empty list"},
		{name: "nested list", value: list([]any{"a"}), wantErr: "list element 0"},
		{name: "duration", value: types.Duration{Duration: time.Hour}, wantErr: "google.protobuf.Duration"},
		{name: "null", value: types.NullValue, wantErr: "null_type"},
		{name: "map", value: types.DefaultTypeAdapter.NativeToValue(map[string]any{"a": 1}), wantErr: "map"},
		{name: "bytes", value: types.Bytes("x"), wantErr: "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			format := scalarLiteral
			if _, isList := tt.value.(traits.Lister); isList {
				format = inLiteral
			}
			got, err := format(tt.value)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		name  string
		value ref.Val
		want  string
	}{
		{name: "string verbatim", value: types.String(`it's "x"`), want: `it's "x"`},
		{name: "int", value: types.Int(7), want: `7`},
		{name: "double", value: types.Double(0.25), want: `0.25`},
		{name: "bool", value: types.False, want: `false`},
		{name: "timestamp", value: types.Timestamp{Time: time.Unix(0, 0)}, want: `1970-01-01T00:00:00Z`},
		{name: "duration", value: types.Duration{Duration: 90 * time.Second}, want: `1m30s`},
		{name: "list as JSON", value: list("a", int64(1)), want: `["a",1]`},
		{name: "map as JSON", value: types.DefaultTypeAdapter.NativeToValue(map[string]any{"k": []any{true}}), want: `{"k":[true]}`},
		{name: "null", value: types.NullValue, want: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plainText(tt.value)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestJSONValue(t *testing.T) {
	got, err := jsonValue(types.DefaultTypeAdapter.NativeToValue(map[string]any{
		"n": int64(1), "f": 1.5, "s": "x", "b": true, "z": nil,
		"t": time.Unix(1, 0), "d": 1500 * time.Millisecond, "l": []any{"a"},
	}))
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"n": int64(1), "f": 1.5, "s": "x", "b": true, "z": nil,
		"t": "1970-01-01T00:00:01Z", "d": "1.5s", "l": []any{"a"},
	}, got)

	_, err = jsonValue(types.Bytes("x"))
	require.ErrorContains(t, err, "no JSON form")
	_, err = jsonValue(types.DefaultTypeAdapter.NativeToValue(map[int64]any{1: "x"}))
	require.ErrorContains(t, err, "keys must be strings")
	_, err = jsonValue(list(math.NaN()))
	require.ErrorContains(t, err, "[0]: number NaN")
}

func list(elems ...any) ref.Val {
	return types.DefaultTypeAdapter.NativeToValue(elems)
}
