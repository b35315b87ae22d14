// Package jsonvalue decodes one JSON value for CEL: numbers stay json.Number,
// which CEL reads as an int when the text is an integer, so ids and counts
// keep every digit and render as integers, not doubles.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Decode decodes exactly one JSON value; trailing data is an error.
func Decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return value, nil
}
