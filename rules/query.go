package rules

import (
	"errors"
	"fmt"
	"strings"
)

// lexState is where a scan of the query's fixed text stands.
type lexState int

const (
	lexPlain lexState = iota
	lexSingle
	lexDouble
	lexBacktick
	lexBlockComment
)

// query compiles a query template after checking that its fixed text
// leaves every placeholder where a literal may stand: a placeholder inside a
// quoted string would be quoted twice, and one inside a comment would vanish.
func (c *compiler) query(text string) (*template, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("empty query")
	}
	if err := lintQueryText(text); err != nil {
		return nil, err
	}
	tmpl, err := c.template(text)
	if err != nil {
		return nil, err
	}
	for i := range tmpl.places {
		tmpl.places[i].format = scalarLiteral
		if followsIn(tmpl.fixed[i]) {
			tmpl.places[i].format = inLiteral
		}
	}
	return tmpl, nil
}

// lintQueryText scans the fixed text around the placeholders.
func lintQueryText(text string) error {
	_, spans, err := splitTemplate(text)
	if err != nil {
		return err
	}
	state, from := lexPlain, 0
	for _, span := range spans {
		if state, err = scanQueryText(text, from, span.start, state); err != nil {
			return err
		}
		if state != lexPlain {
			return fmt.Errorf("placeholder at %s is inside a quoted string or comment of the query; "+
				"write it bare, its value is quoted for you", span.pos)
		}
		from = span.end
	}
	if state, err = scanQueryText(text, from, len(text), state); err != nil {
		return err
	}
	if state != lexPlain {
		return errors.New("unterminated quoted string or comment at the end of the query")
	}
	return nil
}

// scanQueryText advances state over text[from:to]. Line comments are
// rejected: the server batcher appends its own clause to the query, and a
// trailing comment would swallow it and wedge the namespace.
func scanQueryText(text string, from, to int, state lexState) (lexState, error) {
	for i := from; i < to; i++ {
		c := text[i]
		switch state {
		case lexPlain:
			if isLineComment(text[i:to]) {
				return state, fmt.Errorf("line comment at %s: not allowed in a query, the batcher appends clauses after it",
					position(text, i))
			}
			state, i = enterToken(text[i:to], i)
		case lexSingle, lexDouble, lexBacktick:
			if c == '\\' {
				i++
			} else if c == closingQuote(state) {
				state = lexPlain
			}
		case lexBlockComment:
			if strings.HasPrefix(text[i:to], "*/") {
				state, i = lexPlain, i+1
			}
		}
	}
	return state, nil
}

func isLineComment(rest string) bool {
	return strings.HasPrefix(rest, "--") || strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "//")
}

// enterToken returns the state after the character at rest[0] (index i in
// the text) and the index of the last character it consumed.
func enterToken(rest string, i int) (lexState, int) {
	switch rest[0] {
	case '\'':
		return lexSingle, i
	case '"':
		return lexDouble, i
	case '`':
		return lexBacktick, i
	}
	if strings.HasPrefix(rest, "/*") {
		return lexBlockComment, i + 1
	}
	return lexPlain, i
}

func closingQuote(state lexState) byte {
	switch state {
	case lexSingle:
		return '\''
	case lexDouble:
		return '"'
	}
	return '`'
}
