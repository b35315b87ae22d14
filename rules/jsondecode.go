package rules

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"cel.dev/cel-go/common/types/ref"
)

const (
	// maxJSONDepth bounds nesting as encoding/json does, so a deep payload is
	// an error, not a stack overflow.
	maxJSONDepth = 10000
	// maxJSONBytes keeps every offset of the tape within 32 bits.
	maxJSONBytes = 1<<32 - 1
)

// decodeJSON decodes exactly one JSON value into CEL values, with the
// meaning jsonvalue.Decode and celValue give it (integers exact, the last of
// duplicate keys wins, invalid UTF-8 replaced as encoding/json does; fuzzed
// against it in jsondecode_test.go). Every event with data pays for it, so
// it does the least it can up front: one pass checks the whole text, so that
// invalid JSON anywhere is an error as before, and records where each value
// lies (the tape). Objects and arrays become CEL maps and lists when a rule
// first reads them (jsonlazy.go): only the strings and numbers read are
// copied out of raw, which the caller must not change while the values are
// in use (an event's data does not change while its rules run).
func decodeJSON(raw []byte) (ref.Val, error) {
	if int64(len(raw)) > maxJSONBytes {
		return nil, errors.New("JSON data over 4 GiB")
	}
	tape, err := scanJSON(raw, make([]jsonNode, 0, len(raw)/16+4))
	if err != nil {
		return nil, err
	}
	doc := &jsonDoc{text: raw, tape: tape}
	return doc.root(), nil
}

type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeFalse
	nodeTrue
	nodeNumber
	// nodeString is a string without escapes in valid UTF-8: its text as is.
	nodeString
	// nodeEscapedString has escapes or invalid UTF-8: unquote decodes it.
	nodeEscapedString
	nodeObject
	nodeArray
)

// jsonNode is one value of the tape, in document order. An object's key and
// value nodes alternate after it; an array's elements follow it.
type jsonNode struct {
	kind nodeKind
	// start and end delimit a scalar's text, a string's without its quotes;
	// an object's or array's end is its number of members or elements.
	start, end uint32
	// next is the index of the node after this one and all inside it.
	next uint32
}

// scanJSON checks that text is exactly one JSON value and appends its
// nodes to tape. It is one loop over the text with an explicit stack of the
// open containers, not a function per value: most values of an event are
// short, and calls and their checks were most of the scan's cost.
func scanJSON(text []byte, tape []jsonNode) ([]jsonNode, error) {
	var stackSpace [32]uint32
	// open holds the tape index of each container not yet closed.
	open := stackSpace[:0]
	i := 0
value:
	i = skipSpace(text, i)
	if i >= len(text) {
		return nil, jsonError(i, "unexpected end")
	}
	if len(open) > maxJSONDepth {
		return nil, jsonError(i, "nested too deeply")
	}
	switch c := text[i]; {
	case c == '{' || c == '[':
		kind, closing := nodeArray, byte(']')
		if c == '{' {
			kind, closing = nodeObject, '}'
		}
		open = append(open, offset(len(tape)))
		tape = append(tape, jsonNode{kind: kind})
		if i = skipSpace(text, i+1); i < len(text) && text[i] == closing {
			i++
			goto closed
		}
		if kind == nodeObject {
			goto key
		}
		goto value
	case c == '"':
		end, kind, err := scanString(text, i)
		if err != nil {
			return nil, err
		}
		tape = append(tape, jsonNode{kind: kind, start: offset(i + 1), end: offset(end), next: offset(len(tape) + 1)})
		i = end + 1
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(text, i)
		if err != nil {
			return nil, err
		}
		tape = append(tape, jsonNode{kind: nodeNumber, start: offset(i), end: offset(end), next: offset(len(tape) + 1)})
		i = end
	default:
		kind, n := literalAt(text[i:])
		if n == 0 {
			return nil, jsonError(i, fmt.Sprintf("unexpected character %q", c))
		}
		tape = append(tape, jsonNode{kind: kind, start: offset(i), end: offset(i + n), next: offset(len(tape) + 1)})
		i += n
	}
	// A value has ended: it is the next member of the innermost container.
member:
	if len(open) == 0 {
		if i = skipSpace(text, i); i != len(text) {
			return nil, errors.New("unexpected data after the JSON value")
		}
		return tape, nil
	}
	{
		container := &tape[open[len(open)-1]]
		container.end++
		closing := byte(']')
		if container.kind == nodeObject {
			closing = '}'
		}
		if i = skipSpace(text, i); i >= len(text) {
			return nil, jsonError(i, "unexpected end")
		}
		switch text[i] {
		case ',':
			i++
			if container.kind == nodeObject {
				goto key
			}
			goto value
		case closing:
			i++
			goto closed
		}
		return nil, jsonError(i, fmt.Sprintf("want ',' or %q", closing))
	}
	// The innermost container has ended: it is a value of its own.
closed:
	tape[open[len(open)-1]].next = offset(len(tape))
	open = open[:len(open)-1]
	goto member
	// An object's key and the ':' after it.
key:
	if i = skipSpace(text, i); i >= len(text) || text[i] != '"' {
		return nil, jsonError(i, "want an object key")
	}
	{
		end, kind, err := scanString(text, i)
		if err != nil {
			return nil, err
		}
		tape = append(tape, jsonNode{kind: kind, start: offset(i + 1), end: offset(end), next: offset(len(tape) + 1)})
		if i = skipSpace(text, end+1); i >= len(text) || text[i] != ':' {
			return nil, jsonError(i, "want ':'")
		}
		// The one space most writers put after a colon, without a call.
		if i++; i < len(text) && text[i] == ' ' {
			i++
		}
	}
	goto value
}

func jsonError(at int, what string) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", at, what)
}

// skipSpace returns the index of the first byte from i on that is not JSON
// whitespace. It is inlined for the common case, no whitespace at all.
func skipSpace(text []byte, i int) int {
	if i < len(text) && text[i] > ' ' {
		return i
	}
	return skipSpaceRun(text, i)
}

// skipSpaceRun is where the scan of indented JSON spends most of its time,
// hence eight bytes at a time: the spaces of a line's indentation are one
// or two words, whose first byte other than a space one xor finds.
func skipSpaceRun(text []byte, i int) int {
	if i < len(text) && text[i] == '\n' {
		i++
	}
	for i+8 <= len(text) {
		other := binary.LittleEndian.Uint64(text[i:]) ^ (' ' * eachByte)
		if other == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(other) / 8
		if c := text[i]; c != '\n' && c != '\t' && c != '\r' {
			return i
		}
		i++
	}
	for i < len(text) && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r') {
		i++
	}
	return i
}

// offset is an offset in the text or an index of the tape as the tape
// holds it.
func offset(i int) uint32 {
	return uint32(i) //nolint:gosec // decodeJSON refuses a text over maxJSONBytes; the tape has fewer nodes than the text bytes
}

// literalAt returns the kind and length of the literal text starts with,
// or a length of 0.
func literalAt(text []byte) (nodeKind, int) {
	switch {
	case bytes.HasPrefix(text, []byte("true")):
		return nodeTrue, 4
	case bytes.HasPrefix(text, []byte("false")):
		return nodeFalse, 5
	case bytes.HasPrefix(text, []byte("null")):
		return nodeNull, 4
	}
	return 0, 0
}

// scanString checks the string literal at text[at] (its opening quote) as
// encoding/json would, and returns the index of its closing quote and its
// kind.
func scanString(text []byte, at int) (int, nodeKind, error) {
	start := at + 1
	kind, ascii := nodeString, true
	for i := start; i < len(text); i++ {
		i = plainRun(text, i)
		if i >= len(text) {
			break
		}
		switch c := text[i]; {
		case c == '"':
			if kind == nodeString && !ascii && !utf8.Valid(text[start:i]) {
				kind = nodeEscapedString
			}
			return i, kind, nil
		case c == '\\':
			n := escapeLen(text[i:])
			if n == 0 {
				return 0, 0, jsonError(i, "invalid escape in a string")
			}
			kind = nodeEscapedString
			i += n - 1
		case c < 0x20:
			return 0, 0, jsonError(i, "control character in a string")
		default:
			ascii = false
		}
	}
	return 0, 0, jsonError(len(text), "unterminated string")
}

const (
	eachByte = 0x0101010101010101
	highBits = 0x8080808080808080
)

// plainRun returns the index of the first byte from i on that a string's
// scan must look at: a quote, a backslash, a control character or a byte of
// multi-byte UTF-8. It takes eight bytes at a time while it can.
func plainRun(text []byte, i int) int {
	for ; i+8 <= len(text); i += 8 {
		word := binary.LittleEndian.Uint64(text[i:])
		// The high bit of each byte that is a quote, a backslash, below
		// 0x20 or 0x80 and above. A byte above one flagged may be flagged
		// wrongly (a borrow), so only the lowest flag counts.
		flags := (hasZeroByte(word^('"'*eachByte)) | hasZeroByte(word^('\\'*eachByte)) |
			(word - 0x20*eachByte) | word) & highBits
		if flags != 0 {
			return i + bits.TrailingZeros64(flags)/8
		}
	}
	for i < len(text) && !stringSpecial[text[i]] {
		i++
	}
	return i
}

func hasZeroByte(word uint64) uint64 { return (word - eachByte) &^ word }

// stringSpecial marks the bytes plainRun stops at, for the tail of a text.
var stringSpecial = func() (special [256]bool) {
	for c := range special {
		special[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return special
}()

// escapeLen is the length of the escape sequence esc starts with, or 0 if
// JSON has no such escape.
func escapeLen(esc []byte) int {
	if len(esc) < 2 {
		return 0
	}
	switch esc[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(esc) >= 6 && hex4(esc[2:6]) >= 0 {
			return 6
		}
	}
	return 0
}

// hex4 reads four hex digits, or returns -1.
func hex4(digits []byte) rune {
	var r rune
	for i := range 4 {
		c := digits[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// unquote decodes the body of a string literal that str has checked into
// out, as encoding/json does: a \u escape of a lone surrogate and each
// byte of invalid UTF-8 become U+FFFD.
func unquote(out *strings.Builder, body []byte) {
	for i := 0; i < len(body); {
		switch c := body[i]; {
		case c == '\\' && body[i+1] == 'u':
			r := hex4(body[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if len(body) >= i+6 && body[i] == '\\' && body[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(body[i+2:i+6])); pair != unicode.ReplacementChar {
						r = pair
						i += 6
					}
				}
				if utf16.IsSurrogate(r) {
					r = unicode.ReplacementChar
				}
			}
			out.WriteRune(r)
		case c == '\\':
			out.WriteByte(unescaped[body[i+1]])
			i += 2
		case c < utf8.RuneSelf:
			out.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			out.WriteRune(r)
			i += size
		}
	}
}

// scanNumber checks the number at text[at] as the JSON grammar has it and
// returns the index after it.
func scanNumber(text []byte, at int) (int, error) {
	i := at
	if text[i] == '-' {
		i++
	}
	switch {
	case i < len(text) && text[i] == '0':
		i++
	case !isDigit(text, i):
		return 0, jsonError(i, "invalid number")
	default:
		i = digits(text, i)
	}
	if i < len(text) && text[i] == '.' {
		if i++; !isDigit(text, i) {
			return 0, jsonError(i, "invalid number")
		}
		i = digits(text, i)
	}
	if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
		i++
		if i < len(text) && (text[i] == '+' || text[i] == '-') {
			i++
		}
		if !isDigit(text, i) {
			return 0, jsonError(i, "invalid number")
		}
		i = digits(text, i)
	}
	return i, nil
}

func isDigit(text []byte, i int) bool { return i < len(text) && text[i] >= '0' && text[i] <= '9' }

// digits returns the index after the digits from i on.
func digits(text []byte, i int) int {
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	return i
}
