package rules

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/common/types/ref"
)

// template is text with {{ expr }} placeholders. fixed holds the text
// around the placeholders, so len(fixed) == len(places)+1 and the rendered
// output is fixed[0] + value(places[0]) + fixed[1] + ...
type template struct {
	fixed  []string
	places []placeholder
}

type placeholder struct {
	expr string // the expression as written, for error messages
	pos  string // "line:column" of its {{ in the template
	prg  program
	// format, when set, replaces the template's formatter for this
	// placeholder: a query placeholder's depends on where it stands.
	format formatter
}

// formatter turns one placeholder value into text.
type formatter func(ref.Val) (string, error)

// template parses text and compiles each placeholder. Every problem in the
// template is reported, not only the first.
func (c *compiler) template(text string) (*template, error) {
	fixed, spans, err := splitTemplate(text)
	if err != nil {
		return nil, err
	}
	tmpl := &template{fixed: fixed, places: make([]placeholder, len(spans))}
	var errs []error
	for i, span := range spans {
		prg, err := c.expr(span.expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("placeholder {{ %s }} at %s: %w", span.expr, span.pos, err))
			continue
		}
		tmpl.places[i] = placeholder{expr: span.expr, pos: span.pos, prg: prg}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return tmpl, nil
}

// render evaluates every placeholder and joins the pieces.
func (t *template) render(act *activation, format formatter) (string, error) {
	if len(t.places) == 0 {
		return t.fixed[0], nil
	}
	var b strings.Builder
	b.Grow(len(t.fixed[0]) * 2)
	b.WriteString(t.fixed[0])
	for i := range t.places {
		text, err := t.places[i].renderWith(act, format)
		if err != nil {
			return "", err
		}
		b.WriteString(text)
		b.WriteString(t.fixed[i+1])
	}
	return b.String(), nil
}

// eval runs the placeholder's expression for one event.
func (p *placeholder) eval(act *activation) (ref.Val, error) {
	out, err := evalProgram(p.prg, act)
	if err != nil {
		return nil, fmt.Errorf("placeholder {{ %s }} at %s: %w", p.expr, p.pos, err)
	}
	return out, nil
}

func (p *placeholder) renderWith(act *activation, format formatter) (string, error) {
	out, err := p.eval(act)
	if err != nil {
		return "", err
	}
	if err := checkRenderSize(out); err != nil {
		return "", fmt.Errorf("placeholder {{ %s }} at %s: %w", p.expr, p.pos, err)
	}
	if p.format != nil {
		format = p.format
	}
	text, err := format(out)
	if err != nil {
		return "", fmt.Errorf("placeholder {{ %s }} at %s: %w", p.expr, p.pos, err)
	}
	return text, nil
}

// single reports whether the template is exactly one placeholder, allowing
// whitespace around it; such a template yields the placeholder's typed value.
func (t *template) single() (*placeholder, bool) {
	if len(t.places) != 1 || strings.TrimSpace(t.fixed[0]) != "" || strings.TrimSpace(t.fixed[1]) != "" {
		return nil, false
	}
	return &t.places[0], true
}

// exprSpan is one placeholder as found in the template; start and end are
// the byte offsets of its {{ and just past its }}.
type exprSpan struct {
	expr       string
	pos        string
	start, end int
}

// splitTemplate cuts text into fixed pieces and placeholder expressions.
func splitTemplate(text string) ([]string, []exprSpan, error) {
	var fixed []string
	var spans []exprSpan
	rest, offset := text, 0
	for {
		open := strings.Index(rest, "{{")
		if stray := strings.Index(rest, "}}"); stray >= 0 && (open < 0 || stray < open) {
			return nil, nil, fmt.Errorf("unexpected }} at %s without an opening {{", position(text, offset+stray))
		}
		if open < 0 {
			return append(fixed, rest), spans, nil
		}
		start := offset + open
		length, err := placeholderLength(rest[open+2:])
		if err != nil {
			return nil, nil, fmt.Errorf("placeholder at %s: %w", position(text, start), err)
		}
		expr := strings.TrimSpace(rest[open+2 : open+2+length])
		if expr == "" {
			return nil, nil, fmt.Errorf("empty placeholder at %s", position(text, start))
		}
		fixed = append(fixed, rest[:open])
		consumed := open + 2 + length + 2
		spans = append(spans, exprSpan{expr: expr, pos: position(text, start), start: start, end: offset + consumed})
		rest, offset = rest[consumed:], offset+consumed
	}
}

// placeholderLength returns the length of the expression before its closing
// }}. It skips string literals and nested braces, so a map literal or a
// string holding "}}" does not end the placeholder early.
func placeholderLength(expr string) (int, error) {
	depth := 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\'' || c == '"':
			end, err := skipStringLiteral(expr, i)
			if err != nil {
				return 0, err
			}
			i = end
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '}' && strings.HasPrefix(expr[i:], "}}"):
			return i, nil
		}
	}
	return 0, errors.New("unclosed {{ (no matching }})")
}

// skipStringLiteral returns the index of the quote that closes the CEL string
// literal opening at start, handling raw (r"...") and triple-quoted forms.
func skipStringLiteral(expr string, start int) (int, error) {
	quote := expr[start : start+1]
	if strings.HasPrefix(expr[start:], strings.Repeat(quote, 3)) {
		quote = strings.Repeat(quote, 3)
	}
	raw := start > 0 && (expr[start-1] == 'r' || expr[start-1] == 'R')
	for i := start + len(quote); i < len(expr); i++ {
		if expr[i] == '\\' && !raw {
			i++
			continue
		}
		if strings.HasPrefix(expr[i:], quote) {
			return i + len(quote) - 1, nil
		}
	}
	return 0, errors.New("unterminated string literal inside {{ }}")
}

// position renders a byte offset as 1-based "line:column", columns in runes,
// because templates are often multi-line YAML block scalars.
func position(text string, offset int) string {
	before := text[:offset]
	line := strings.Count(before, "\n") + 1
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return fmt.Sprintf("%d:%d", line, utf8.RuneCountInString(before[lineStart:])+1)
}
