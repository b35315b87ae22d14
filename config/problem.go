package config

import (
	"fmt"
	"slices"
	"strings"
)

// Severity says whether a problem stops a configuration from loading.
type Severity int

// Severities: an error refuses the file, a warning only points at a rule
// that runs but may not do what was meant.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// String is "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one thing wrong with a configuration, where it stands and
// what it is about. run, reload, check and test all print Problem.String,
// so an operator reads the same words whichever refused the file.
type Problem struct {
	File string
	// Line is the line of the offending key when known, else of its rule or
	// trigger; 0 when the problem has no place in the file.
	Line int
	// Owner is `rule "name"` or `trigger "name"`, or empty for the top-level
	// sections.
	Owner string
	// Field is the path inside the owner, or inside the file when there is
	// no owner: "reset.type", "http.path", "temporal.tls", "when".
	Field    string
	Message  string
	Severity Severity
}

// String reads `batchwire.yaml:31: rule "x": reasn: unknown field`; empty
// parts are left out, and a line without a file reads `line 31: ...`.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Owner != "" {
		b.WriteString(p.Owner + ": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in one configuration.
type Problems []Problem

// Errors returns the problems of severity error.
func (ps Problems) Errors() Problems { return ps.of(SeverityError) }

// Warnings returns the problems of severity warning.
func (ps Problems) Warnings() Problems { return ps.of(SeverityWarning) }

func (ps Problems) of(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err is nil when no problem is an error, else an *Error listing the
// errors one per line.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &Error{Problems: errs}
}

// Sorted returns the problems in file order (those without a line first),
// keeping the order in which they were found within a line.
func (ps Problems) Sorted() Problems {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int { return a.Line - b.Line })
	return out
}

// InFile sets File on every problem that has none.
func (ps Problems) InFile(file string) Problems {
	out := slices.Clone(ps)
	for i := range out {
		if out[i].File == "" {
			out[i].File = file
		}
	}
	return out
}

// Owners returns the owners that have an error: rules and triggers that
// later stages should leave alone, as their faults would only repeat.
func (ps Problems) Owners() map[string]bool {
	owners := map[string]bool{}
	for _, p := range ps.Errors() {
		if p.Owner != "" {
			owners[p.Owner] = true
		}
	}
	return owners
}

// Error is the error of a configuration with error problems.
type Error struct {
	Problems Problems
}

// Error lists the problems one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// RuleOwner names a rule as an owner of problems.
func RuleOwner(name string) string {
	if name == "" {
		return "rule"
	}
	return fmt.Sprintf("rule %q", name)
}

// TriggerOwner names a trigger as an owner of problems.
func TriggerOwner(name string) string {
	if name == "" {
		return "trigger"
	}
	return fmt.Sprintf("trigger %q", name)
}

// Errorf is an error about field of the rule, at the field's line.
func (r *Rule) Errorf(field, format string, args ...any) Problem {
	return Problem{Line: lineOf(r.Lines, field, r.Line), Owner: RuleOwner(r.Name), Field: field,
		Message: fmt.Sprintf(format, args...)}
}

// Warnf is a warning about field of the rule, at the field's line.
func (r *Rule) Warnf(field, format string, args ...any) Problem {
	p := r.Errorf(field, format, args...)
	p.Severity = SeverityWarning
	return p
}

// Errorf is an error about field of the trigger, at the field's line.
func (t *Trigger) Errorf(field, format string, args ...any) Problem {
	return Problem{Line: lineOf(t.Lines, field, t.Line), Owner: TriggerOwner(t.Name), Field: field,
		Message: fmt.Sprintf(format, args...)}
}

// problemf is a problem about a top-level field, at its line.
func (c *Config) problemf(sev Severity, field, format string, args ...any) Problem {
	return Problem{Line: lineOf(c.lines, field, 0), Field: field, Message: fmt.Sprintf(format, args...), Severity: sev}
}

// KeyLines holds the line of each key of a rule or trigger by its path
// (reset.type, signal.input.tenant), sorted by path. A daemon keeps them
// for every rule it runs, and a sorted slice holds a rule's few keys in
// half the memory of a map.
type KeyLines []KeyLine

// KeyLine is the line of the key at Path.
type KeyLine struct {
	Path string
	Line int
}

// Line returns the line of the key at path, if the file has it.
func (l KeyLines) Line(path string) (int, bool) {
	i, found := slices.BinarySearchFunc(l, path, func(k KeyLine, path string) int { return strings.Compare(k.Path, path) })
	if !found {
		return 0, false
	}
	return l[i].Line, true
}

// lineOf finds the line of field, or of the nearest enclosing key that is
// in the file (reset.build_id may be missing where reset is not), else
// fallback.
func lineOf(lines KeyLines, field string, fallback int) int {
	for field != "" {
		if line, ok := lines.Line(field); ok {
			return line
		}
		cut := strings.LastIndexAny(field, ".[")
		if cut < 0 {
			break
		}
		field = field[:cut]
	}
	return fallback
}

// Line is the line of a top-level field (temporal.api_key_file), or of
// the nearest enclosing key in the file, or 0.
func (c *Config) Line(field string) int { return lineOf(c.lines, field, 0) }
