package rules

import (
	"testing"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/require"
)

func TestSplitTemplate(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		wantFixed []string
		wantExprs []string
		wantErr   string
	}{
		{name: "no placeholder", text: "A = 1", wantFixed: []string{"A = 1"}},
		{name: "one", text: "A = {{ data.a }}", wantFixed: []string{"A = ", ""}, wantExprs: []string{"data.a"}},
		{name: "two", text: "{{a}}-{{ b }}.", wantFixed: []string{"", "-", "."}, wantExprs: []string{"a", "b"}},
		{name: "map literal", text: "{{ {'a': {'b': 1}}.a.b }}", wantFixed: []string{"", ""}, wantExprs: []string{"{'a': {'b': 1}}.a.b"}},
		{name: "braces in strings", text: `{{ "}}" + '{{' + """}}""" + r'\' }}`, wantFixed: []string{"", ""},
			wantExprs: []string{`"}}" + '{{' + """}}""" + r'\'`}},
		{name: "unclosed", text: "A = {{ data.a", wantErr: "placeholder at 1:5: unclosed {{"},
		{name: "unclosed string", text: "A = {{ 'x }}", wantErr: "unterminated string literal"},
		{name: "empty", text: "A = {{  }}", wantErr: "empty placeholder at 1:5"},
		{name: "stray close", text: "A = { data.a }}", wantErr: "unexpected }} at 1:14"},
		{name: "position on later line", text: "A = 1\n  AND B = {{ }}", wantErr: "empty placeholder at 2:11"},
		{name: "column counts runes", text: "é = {{}}", wantErr: "empty placeholder at 1:5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixed, spans, err := splitTemplate(tt.text)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantFixed, fixed)
			var exprs []string
			for _, span := range spans {
				exprs = append(exprs, span.expr)
			}
			require.Equal(t, tt.wantExprs, exprs)
		})
	}
}

func TestCompileQueryText(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		wantErr string
	}{
		{name: "plain", query: `WorkflowType = {{ data.t }} AND ExecutionStatus = 'Running'`},
		{name: "double quotes", query: `ExecutionStatus = "Running" AND WorkflowId = {{ data.id }}`},
		{name: "block comment", query: `/* why */ WorkflowId = {{ data.id }}`},
		{name: "quote with escaped quote", query: `A = 'it\'s' AND B = {{ data.b }}`},
		{name: "empty", query: "  ", wantErr: "empty query"},
		{name: "placeholder in quotes", query: `WorkflowId = '{{ data.id }}'`, wantErr: "placeholder at 1:15 is inside a quoted string"},
		{name: "placeholder in comment", query: `A = 1 /* {{ data.id }} */`, wantErr: "inside a quoted string or comment"},
		{name: "line comment --", query: `A = {{ data.a }} -- note`, wantErr: "line comment at 1:18"},
		{name: "line comment #", query: `A = 1 # note`, wantErr: "line comment at 1:7"},
		{name: "line comment //", query: `A = 1 // note`, wantErr: "line comment at 1:7"},
		{name: "unterminated quote", query: `A = 'x`, wantErr: "unterminated quoted string"},
		{name: "cel error", query: `A = {{ data.a + }}`, wantErr: "placeholder {{ data.a + }} at 1:5: ERROR"},
		{name: "undeclared", query: `A = {{ nope }}`, wantErr: "undeclared reference to 'nope'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newCompiler().query(tt.query)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestRenderQueryTypes(t *testing.T) {
	data := map[string]any{
		"s": "x' OR WorkflowType!='x", "i": int64(3), "f": 0.5, "b": true,
		"ids": []any{"a", "b'c"}, "m": map[string]any{}, "n": nil,
	}
	act := &activation{
		event: types.DefaultTypeAdapter.NativeToValue(map[string]any{"id": "e1"}),
		data:  types.DefaultTypeAdapter.NativeToValue(data),
		now:   types.Timestamp{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	tests := []struct {
		query, want, wantErr string
	}{
		{query: `WorkflowId = {{ data.s }}`, want: `WorkflowId = 'x\' OR WorkflowType!=\'x'`},
		{query: `Attempt = {{ data.i }}`, want: `Attempt = 3`},
		{query: `Ratio > {{ data.f }}`, want: `Ratio > 0.5`},
		{query: `Flag = {{ data.b }}`, want: `Flag = true`},
		{query: `StartTime > {{ now() - duration("24h") }}`, want: `StartTime > '2025-01-01T03:04:05Z'`},
		{query: `WorkflowId IN {{ data.ids }}`, want: `WorkflowId IN ('a', 'b\'c')`},
		{query: `BuildIds IN ({{ "versioned:" + data.s }})`, want: `BuildIds IN ('versioned:x\' OR WorkflowType!=\'x')`},
		{query: `WorkflowId IN {{ data.i }}`, want: `WorkflowId IN (3)`},
		{query: `WorkflowId = {{ data.ids }}`, wantErr: "a list can only stand right after IN"},
		{query: `WorkflowId IN ({{ data.ids }})`, wantErr: "a list can only stand right after IN"},
		{query: `A = {{ "'" + data.s }}`, wantErr: "starts or ends with '"},
		{query: `A = {{ data.s + "\\\\" }}`, wantErr: "SQL visibility stores would compare a different value"},
		{query: `A = {{ data.missing }}`, wantErr: "no such key: missing"},
		{query: `A = {{ data.m }}`, wantErr: "cannot be a query literal"},
		{query: `A = {{ data.n }}`, wantErr: "cannot be a query literal"},
		{query: `A = {{ duration("1h") }}`, wantErr: "cannot be a query literal"},
		{query: `A = {{ 1 / 0 }}`, wantErr: "division by zero"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			tmpl, err := newCompiler().query(tt.query)
			require.NoError(t, err)
			got, err := tmpl.render(act, scalarLiteral)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCompileInput(t *testing.T) {
	tests := []struct {
		name    string
		input   any
		want    string
		wantErr string
	}{
		{name: "nil is no payload", input: nil},
		{name: "static", input: map[string]any{"a": []any{1, "x", nil, 2.5, true}}, want: `{"a":[1,"x",null,2.5,true]}`},
		{name: "typed value", input: map[string]any{"v": " {{ data.v }} "}, want: `{"v":{"k":[1,2]}}`},
		{name: "interpolated", input: map[string]any{"v": "k={{ data.v.k }}!"}, want: `{"v":"k=[1,2]!"}`},
		{name: "list of placeholders", input: []any{"{{ data.v.k[0] }}", "{{ now() }}"}, want: `[1,"1970-01-01T00:00:00Z"]`},
		{name: "yaml map any keys", input: map[any]any{1: "one"}, want: `{"1":"one"}`},
		{name: "bytes value", input: map[string]any{"b": "{{ b'x' }}"}, wantErr: "signal.input.b: placeholder {{ b'x' }}: a value of type bytes has no JSON form"},
		{name: "missing key", input: map[string]any{"x": []any{"{{ data.nope }}"}}, wantErr: "signal.input.x[0]: placeholder {{ data.nope }} at 1:1: no such key: nope"},
		{name: "compile error path", input: map[string]any{"x": map[string]any{"y": "{{ ) }}"}}, wantErr: "signal.input.x.y: placeholder {{ ) }} at 1:1"},
		{name: "unsupported Go type", input: map[string]any{"x": struct{}{}}, wantErr: "signal.input.x: a value of Go type struct {}"},
	}
	act := &activation{
		data: types.DefaultTypeAdapter.NativeToValue(map[string]any{"v": map[string]any{"k": []any{int64(1), int64(2)}}}),
		now:  types.Timestamp{Time: time.Unix(0, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := newCompiler().input(tt.input)
			if err == nil {
				var raw []byte
				raw, err = in.render(act)
				if tt.wantErr == "" {
					require.NoError(t, err)
					require.Equal(t, tt.want, string(raw))
					return
				}
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
