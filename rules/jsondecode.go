package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// maxJSONDepth bounds nesting as encoding/json does, so a deep payload is an
// error, not a stack overflow.
const maxJSONDepth = 10000

// decodeJSON decodes exactly one JSON value straight into CEL values, with
// the meaning jsonvalue.Decode and celValue give it (integers exact, the
// last of duplicate keys wins, invalid UTF-8 replaced), in one pass: every
// event with data pays it, so it avoids the intermediate Go maps. Strings
// with escapes or invalid UTF-8 are handed to encoding/json, whose answer is
// the reference (fuzzed against it in jsondecode_test.go).
func decodeJSON(raw []byte) (ref.Val, error) {
	d := jsonDecoder{data: raw}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

type jsonDecoder struct {
	data []byte
	pos  int
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *jsonDecoder) value(depth int) (ref.Val, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end")
	}
	if depth > maxJSONDepth {
		return nil, d.errorf("nested too deeply")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return types.String(s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return d.literal()
}

func (d *jsonDecoder) literal() (ref.Val, error) {
	for _, lit := range []struct {
		text string
		val  ref.Val
	}{{"true", types.True}, {"false", types.False}, {"null", types.NullValue}} {
		if len(d.data)-d.pos >= len(lit.text) && string(d.data[d.pos:d.pos+len(lit.text)]) == lit.text {
			d.pos += len(lit.text)
			return lit.val, nil
		}
	}
	return nil, d.errorf("unexpected character %q", d.data[d.pos])
}

func (d *jsonDecoder) object(depth int) (ref.Val, error) {
	d.pos++ // {
	m := map[ref.Val]ref.Val{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return types.NewRefValMap(types.DefaultTypeAdapter, m), nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("want an object key")
		}
		key, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("want ':'")
		}
		d.pos++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[types.String(key)] = v
		if done, err := d.next('}'); err != nil || done {
			return types.NewRefValMap(types.DefaultTypeAdapter, m), err
		}
	}
}

func (d *jsonDecoder) array(depth int) (ref.Val, error) {
	d.pos++ // [
	var list []ref.Val
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return types.NewRefValList(types.DefaultTypeAdapter, []ref.Val{}), nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		if done, err := d.next(']'); err != nil || done {
			return types.NewRefValList(types.DefaultTypeAdapter, list), err
		}
	}
}

// next reads the ',' between elements or the closing character.
func (d *jsonDecoder) next(closing byte) (bool, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return false, d.errorf("unexpected end")
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		return false, nil
	case closing:
		d.pos++
		return true, nil
	}
	return false, d.errorf("want ',' or %q", closing)
}

// str reads a string literal. The common case, no escape and valid UTF-8,
// is a slice of the input; the others go to encoding/json.
func (d *jsonDecoder) str() (string, error) {
	start := d.pos
	d.pos++ // opening quote
	plain := true
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; {
		case c == '"':
			d.pos++
			body := d.data[start+1 : d.pos-1]
			if plain && utf8.Valid(body) {
				return string(body), nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.pos], &s); err != nil {
				return "", d.errorf("%v", err)
			}
			return s, nil
		case c == '\\':
			plain = false
			d.pos += 2
			continue
		case c < 0x20:
			return "", d.errorf("control character in a string")
		}
		d.pos++
	}
	return "", d.errorf("unterminated string")
}

// number reads a number as the JSON grammar has it and keeps integers exact.
func (d *jsonDecoder) number() (ref.Val, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.pos < len(d.data) && d.data[d.pos] == '0':
		d.pos++
	case !d.digits():
		return nil, d.errorf("invalid number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if !d.digits() {
			return nil, d.errorf("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if !d.digits() {
			return nil, d.errorf("invalid number")
		}
	}
	return exactInteger(json.Number(d.data[start:d.pos])), nil
}

func (d *jsonDecoder) digits() bool {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}
