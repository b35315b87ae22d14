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
	s := jsonScanner{text: raw, tape: make([]jsonNode, 0, len(raw)/16+4)}
	if err := s.value(0); err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.pos != len(s.text) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	doc := &jsonDoc{text: raw, tape: s.tape}
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

type jsonScanner struct {
	text []byte
	pos  int
	tape []jsonNode
}

// skipSpace is where the scan of indented JSON spends most of its time,
// hence the eight bytes at a time.
func (s *jsonScanner) skipSpace() {
	i := s.pos
	if i < len(s.text) && s.text[i] > ' ' {
		return
	}
	for ; i+8 <= len(s.text); i += 8 {
		if other := notSpace(binary.LittleEndian.Uint64(s.text[i:])); other != 0 {
			s.pos = i + bits.TrailingZeros64(other)/8
			return
		}
	}
	for i < len(s.text) && (s.text[i] == ' ' || s.text[i] == '\n' || s.text[i] == '\t' || s.text[i] == '\r') {
		i++
	}
	s.pos = i
}

const (
	eachByte = 0x0101010101010101
	highBits = 0x8080808080808080
	lowBits  = 0x7f7f7f7f7f7f7f7f
)

// notSpace sets the high bit of each of eight bytes that is not JSON
// whitespace, exactly: no carry crosses from one byte to the next.
func notSpace(word uint64) uint64 {
	return nonZero(word^(' '*eachByte)) & nonZero(word^('\n'*eachByte)) &
		nonZero(word^('\t'*eachByte)) & nonZero(word^('\r'*eachByte))
}

// nonZero sets the high bit of each non-zero byte of word.
func nonZero(word uint64) uint64 { return ((word & lowBits) + lowBits | word) & highBits }

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", s.pos, fmt.Sprintf(format, args...))
}

// push records a scalar.
func (s *jsonScanner) push(kind nodeKind, start, end int) {
	s.tape = append(s.tape, jsonNode{kind: kind, start: offset(start), end: offset(end), next: offset(len(s.tape) + 1)})
}

// offset is an offset in the text or an index of the tape as the tape
// holds it.
func offset(i int) uint32 {
	return uint32(i) //nolint:gosec // decodeJSON refuses a text over maxJSONBytes; the tape has fewer nodes than the text bytes
}

func (s *jsonScanner) value(depth int) error {
	s.skipSpace()
	if s.pos >= len(s.text) {
		return s.errorf("unexpected end")
	}
	if depth > maxJSONDepth {
		return s.errorf("nested too deeply")
	}
	switch c := s.text[s.pos]; {
	case c == '{':
		return s.container(nodeObject, depth)
	case c == '[':
		return s.container(nodeArray, depth)
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.literal()
}

func (s *jsonScanner) literal() error {
	for _, lit := range []struct {
		text string
		kind nodeKind
	}{{"true", nodeTrue}, {"false", nodeFalse}, {"null", nodeNull}} {
		if bytes.HasPrefix(s.text[s.pos:], []byte(lit.text)) {
			s.push(lit.kind, s.pos, s.pos+len(lit.text))
			s.pos += len(lit.text)
			return nil
		}
	}
	return s.errorf("unexpected character %q", s.text[s.pos])
}

// container reads an object or an array and its members.
func (s *jsonScanner) container(kind nodeKind, depth int) error {
	at := len(s.tape)
	s.tape = append(s.tape, jsonNode{kind: kind})
	closing := byte(']')
	if kind == nodeObject {
		closing = '}'
	}
	s.pos++
	s.skipSpace()
	if s.pos < len(s.text) && s.text[s.pos] == closing {
		s.pos++
		s.tape[at].next = offset(len(s.tape))
		return nil
	}
	for {
		if kind == nodeObject {
			if err := s.key(); err != nil {
				return err
			}
		}
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.tape[at].end++
		if done, err := s.next(closing); err != nil || done {
			s.tape[at].next = offset(len(s.tape))
			return err
		}
	}
}

// key reads an object's key and the ':' after it.
func (s *jsonScanner) key() error {
	s.skipSpace()
	if s.pos >= len(s.text) || s.text[s.pos] != '"' {
		return s.errorf("want an object key")
	}
	if err := s.str(); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos >= len(s.text) || s.text[s.pos] != ':' {
		return s.errorf("want ':'")
	}
	s.pos++
	return nil
}

// next reads the ',' between elements or the closing character.
func (s *jsonScanner) next(closing byte) (bool, error) {
	s.skipSpace()
	if s.pos >= len(s.text) {
		return false, s.errorf("unexpected end")
	}
	switch s.text[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case closing:
		s.pos++
		return true, nil
	}
	return false, s.errorf("want ',' or %q", closing)
}

// str checks a string literal as encoding/json would and records it.
func (s *jsonScanner) str() error {
	start := s.pos + 1
	kind, ascii := nodeString, true
	for i := start; i < len(s.text); i++ {
		i = plainRun(s.text, i)
		if i >= len(s.text) {
			break
		}
		switch c := s.text[i]; {
		case c == '"':
			if kind == nodeString && !ascii && !utf8.Valid(s.text[start:i]) {
				kind = nodeEscapedString
			}
			s.push(kind, start, i)
			s.pos = i + 1
			return nil
		case c == '\\':
			n := escapeLen(s.text[i:])
			if n == 0 {
				s.pos = i
				return s.errorf("invalid escape in a string")
			}
			kind = nodeEscapedString
			i += n - 1
		case c < 0x20:
			s.pos = i
			return s.errorf("control character in a string")
		default:
			ascii = false
		}
	}
	s.pos = len(s.text)
	return s.errorf("unterminated string")
}

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

// number checks a number as the JSON grammar has it.
func (s *jsonScanner) number() error {
	start := s.pos
	if s.text[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.text) && s.text[s.pos] == '0':
		s.pos++
	case !s.digits():
		return s.errorf("invalid number")
	}
	if s.pos < len(s.text) && s.text[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return s.errorf("invalid number")
		}
	}
	if s.pos < len(s.text) && (s.text[s.pos] == 'e' || s.text[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.text) && (s.text[s.pos] == '+' || s.text[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return s.errorf("invalid number")
		}
	}
	s.push(nodeNumber, start, s.pos)
	return nil
}

func (s *jsonScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.text) && s.text[s.pos] >= '0' && s.text[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}
