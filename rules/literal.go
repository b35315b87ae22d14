package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// QuoteString returns s as a single-quoted Temporal visibility string literal.
//
// The server treats backslash as an escape character inside literals, so
// doubling quotes alone is injectable: `\' OR ...` would close the literal.
// Backslash is therefore escaped before the quote. Control characters other
// than \n, \r, \t and NUL have no escape the server documents, and invalid
// UTF-8 could be read differently by the server's parser, so both are errors.
//
// Note that SQL visibility stores never match values containing `"`, `\`,
// tab or newline by equality (a server limitation); such values are quoted
// safely but may select nothing.
func QuoteString(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("string is not valid UTF-8")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\'':
			b.WriteString(`\'`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == 0:
			b.WriteString(`\0`)
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("string holds control character %#02x at byte %d", c, i)
		default:
			// Multi-byte UTF-8 sequences never contain bytes below 0x80, so
			// copying byte by byte keeps them intact.
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// queryString quotes an event's string for a query, refusing the values that
// the server, given a correctly quoted literal, still compares as another
// value (both measured on the dev server, see injection_server_test.go):
//   - it strips every leading and trailing ' from a string literal
//     (sqlquery.ParseValue uses strings.Trim), so `'victim-a'` would select
//     the tenant victim-a, on every visibility store;
//   - SQL stores re-escape \, ", tab, CR and newline MySQL-style, which SQLite
//     and PostgreSQL read verbatim, so `a\b` would select `a\\b`; NUL cuts
//     SQLite's statement short and the query fails.
func queryString(s string) (string, error) {
	if strings.HasPrefix(s, "'") || strings.HasSuffix(s, "'") {
		return "", errors.New("a string that starts or ends with ' cannot be a query literal: " +
			"the server strips those quotes and would compare a different value")
	}
	if i := strings.IndexAny(s, "\\\"\t\r\n\x00"); i >= 0 {
		return "", fmt.Errorf("a string holding %q (byte %d) cannot be a query literal: "+
			"SQL visibility stores would compare a different value", s[i:i+1], i)
	}
	return QuoteString(s)
}

// inLiteral renders the value of a placeholder right after IN: a list as
// `(a, b)`, a scalar as a list of one.
func inLiteral(v ref.Val) (string, error) {
	if list, ok := v.(traits.Lister); ok {
		return listLiteral(list)
	}
	text, err := scalarLiteral(v)
	if err != nil {
		return "", err
	}
	return "(" + text + ")", nil
}

// scalarLiteral renders a value anywhere but right after IN. A list is
// refused: its tuple would compare as one value (`A = ('x', 'y')`), or,
// inside `IN (...)`, nest a tuple the server does not take.
func scalarLiteral(v ref.Val) (string, error) {
	switch val := v.(type) {
	case traits.Lister:
		return "", errors.New("a list can only stand right after IN (write `A IN {{ list }}`, without parentheses)")
	case types.String:
		return queryString(string(val))
	case types.Int:
		return strconv.FormatInt(int64(val), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(val), 10), nil
	case types.Double:
		return doubleLiteral(float64(val))
	case types.Bool:
		return strconv.FormatBool(bool(val)), nil
	case types.Timestamp:
		return QuoteString(formatTime(val.Time))
	case *types.Err:
		return "", errors.New(val.String())
	}
	return "", fmt.Errorf("a value of type %s cannot be a query literal", typeName(v))
}

func doubleLiteral(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("number %v cannot be a query literal", f)
	}
	// 'f' avoids exponents, which not every visibility parser accepts.
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// listLiteral renders a list as `(a, b)` for IN; nested lists are rejected
// because no visibility operator takes them.
func listLiteral(list traits.Lister) (string, error) {
	size, ok := list.Size().(types.Int)
	if !ok || size == 0 {
		return "", errors.New("an empty list cannot be a query literal (IN () selects nothing and does not parse)")
	}
	var b strings.Builder
	b.WriteByte('(')
	for i := types.Int(0); i < size; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		elem, err := scalarLiteral(list.Get(i))
		if err != nil {
			return "", fmt.Errorf("list element %d: %w", i, err)
		}
		b.WriteString(elem)
	}
	b.WriteByte(')')
	return b.String(), nil
}

// plainText renders a CEL value for the human-readable reason.
func plainText(v ref.Val) (string, error) {
	switch val := v.(type) {
	case types.String:
		return string(val), nil
	case types.Int, types.Uint, types.Bool:
		return fmt.Sprint(val.Value()), nil
	case types.Double:
		return strconv.FormatFloat(float64(val), 'g', -1, 64), nil
	case types.Timestamp:
		return formatTime(val.Time), nil
	case types.Duration:
		return val.String(), nil
	}
	native, err := jsonValue(v)
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(native)
	if err != nil {
		return "", fmt.Errorf("encode JSON: %w", err)
	}
	return string(raw), nil
}

// jsonValue converts a CEL value to the Go values encoding/json encodes.
func jsonValue(v ref.Val) (any, error) {
	switch val := v.(type) {
	case types.Null:
		return nil, nil
	case types.String:
		return string(val), nil
	case types.Bool:
		return bool(val), nil
	case types.Int:
		return int64(val), nil
	case types.Uint:
		return uint64(val), nil
	case types.Double:
		return jsonDouble(float64(val))
	case types.Timestamp:
		return formatTime(val.Time), nil
	case types.Duration:
		// The protobuf JSON form of a duration: seconds with an "s" suffix.
		return strconv.FormatFloat(val.Seconds(), 'f', -1, 64) + "s", nil
	case traits.Mapper:
		return jsonObject(val)
	case traits.Lister:
		return jsonArray(val)
	case *types.Err:
		return nil, errors.New(val.String())
	}
	return nil, fmt.Errorf("a value of type %s has no JSON form", typeName(v))
}

func jsonDouble(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %v has no JSON form", f)
	}
	return f, nil
}

func jsonArray(list traits.Lister) (any, error) {
	size, _ := list.Size().(types.Int)
	out := make([]any, 0, int(size))
	for i := types.Int(0); i < size; i++ {
		elem, err := jsonValue(list.Get(i))
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, elem)
	}
	return out, nil
}

func jsonObject(m traits.Mapper) (any, error) {
	out := map[string]any{}
	for it := m.Iterator(); it.HasNext() == types.True; {
		key := it.Next()
		name, ok := key.(types.String)
		if !ok {
			return nil, fmt.Errorf("map key of type %s has no JSON form (keys must be strings)", typeName(key))
		}
		elem, err := jsonValue(m.Get(key))
		if err != nil {
			return nil, fmt.Errorf(".%s: %w", name, err)
		}
		out[string(name)] = elem
	}
	return out, nil
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func typeName(v ref.Val) string {
	if v == nil {
		return "nil"
	}
	return v.Type().TypeName()
}
