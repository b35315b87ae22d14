package rules

import (
	"fmt"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/stretchr/testify/require"
)

// TestLazyJSONBehavesAsCELMaps evaluates expressions over data decoded by
// decodeJSON (lazy objects, field maps) and over the reference (cel-go's
// own maps and lists from encoding/json): every result and every error
// must be the same.
func TestLazyJSONBehavesAsCELMaps(t *testing.T) {
	const payload = `{"s": "x", "n": 7, "big": 18446744073709551617, "f": 1.5, "b": true, "z": null,
		"o": {"a": 1, "b": [1, "two", {"c": 3}], "a": 2}, "e": {}, "l": [], "esc": "\u00e9\n",
		"many": {"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,
			"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":33}}`
	exprs := []string{
		`data.s`, `data.n`, `data.big`, `data.f`, `data.b`, `data.z`, `data.esc`,
		`data.o.a`, `data.o.b[2].c`, `data.o.b[1]`, `data.o.b[5]`, `data.missing`, `data.o.missing`,
		`has(data.o)`, `has(data.nope)`, `has(data.o.b)`, `"a" in data.o`, `"x" in data.o`, `1 in data.o`,
		`size(data)`, `size(data.o)`, `size(data.o.b)`, `size(data.e)`, `size(data.l)`, `size(data.many)`,
		`data.many.k3`, `data.many.k17`, `"k16" in data.many`, `"k99" in data.many`,
		`data.o == {"a": 2, "b": [1, "two", {"c": 3}]}`, `{"a": 2, "b": [1, "two", {"c": 3}]} == data.o`,
		`data.o == {"a": 1}`, `data.o == data.o`, `data.e == {}`, `data.l == []`, `data.o.b == [1, "two", {"c": 3}]`,
		`data.o.b + [4]`, `[0] + data.o.b`, `data.o[1]`, `data.o[1.0]`, `data.o.b[0.0]`,
		`data.many.filter(k, data.many[k] > 10).size()`, `data.many.all(k, k.startsWith("k"))`,
		`data.o.b.exists(x, x == "two")`, `data.o.b.map(x, type(x))`, `type(data.o) == map`, `type(data.o.b) == list`,
		`string(data.s)`, `dyn(data.o).a`,
		`data.many.map(k, k).size()`, `data.o.b.size() > 1 ? data.o.b[1] : "none"`,
	}
	env, err := celEnv()
	require.NoError(t, err)
	lazy, err := decodeJSON([]byte(payload))
	require.NoError(t, err)
	reference, err := referenceJSON([]byte(payload))
	require.NoError(t, err)
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			ast, iss := env.Compile(expr)
			require.NoError(t, iss.Err())
			prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
			require.NoError(t, err)
			eval := func(data ref.Val) string {
				out, _, err := prg.Eval(map[string]any{"data": data, "event": types.NullValue})
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("%T %s", out.Type(), fmt.Sprint(plainValue(out)))
			}
			require.Equal(t, eval(reference), eval(lazy))
		})
	}
}

// TestFieldMapHandsOnToCELsMap checks that cel-go's maps still have what
// fieldMap hands on to them.
func TestFieldMapHandsOnToCELsMap(t *testing.T) {
	m := newFieldMap([]field{{"a", types.Int(1)}, {"b", types.String("x")}, {"a", types.Int(2)}})
	n := m.nativeMap()
	require.NotNil(t, n.Foldable)
	require.NotNil(t, n.AggregateSizeVisitor)
	require.NotNil(t, n.stringer)
	require.Equal(t, types.Int(2), m.Size())
	require.Equal(t, types.Int(2), m.Get(types.String("a")))
	require.Equal(t, "no such key: c", m.Get(types.String("c")).(*types.Err).Error())
	require.Equal(t, types.True, m.Equal(types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{"a": 2, "b": "x"})))
}
