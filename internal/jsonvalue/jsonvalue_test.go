package jsonvalue

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(`{"id": 12345678901234567, "x": 1.5}`))
	require.NoError(t, err)
	m := v.(map[string]any)
	require.Equal(t, json.Number("12345678901234567"), m["id"])
	require.Equal(t, json.Number("1.5"), m["x"])

	_, err = Decode([]byte(`{} {}`))
	require.ErrorContains(t, err, "unexpected data after the JSON value")
	_, err = Decode([]byte(`{`))
	require.Error(t, err)
}
