package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	syntaxError  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	decodeError  = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	// quotedValue finds the value a decoder message quotes: `abc` (yaml.v3
	// cuts long ones to 7 characters and "...") or "abc" (Duration).
	quotedValue = regexp.MustCompile("`([^`]*?)(?:\\.\\.\\.)?`|\"([^\"]*)\"")
)

// parseTree parses raw into a node tree, or says why it cannot.
func parseTree(raw []byte) (*yaml.Node, Problem) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		if m := syntaxError.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, Problem{Line: line, Message: "YAML: " + m[2]}
		}
		return nil, Problem{Message: err.Error()}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Problem{Message: "empty configuration"}
	}
	return doc.Content[0], Problem{}
}

// describeDecodeError turns the decoder's messages into problems. The
// decoder names an unknown key by line and Go type only ("line 31: field
// reasn not found in type config.Rule"); each problem names the rule or
// trigger, the field path inside it, and the closest known field.
func describeDecodeError(root *yaml.Node, err error) Problems {
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		return Problems{{Message: err.Error()}}
	}
	out := make(Problems, 0, len(typeErr.Errors))
	for _, msg := range typeErr.Errors {
		out = append(out, describeYAMLError(root, msg))
	}
	return out
}

func describeYAMLError(root *yaml.Node, msg string) Problem {
	m := decodeError.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Message: msg}
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	problem := Problem{Line: line, Message: text}
	if u := unknownField.FindStringSubmatch(text); u != nil {
		problem.Message = "unknown field"
		if guess := closestField(u[2], u[1]); guess != "" {
			problem.Message += fmt.Sprintf("; did you mean %q?", guess)
		}
		if path := locateKey(root, line, u[1], nil); path != nil {
			problem.Owner, problem.Field = splitOwner(root, path)
		}
		return problem
	}
	if path := locateValue(root, line, valueMatcher(text), nil); path != nil {
		problem.Owner, problem.Field = splitOwner(root, path)
	}
	return problem
}

// valueMatcher matches the node a message is about: the scalar it quotes,
// or any node when it quotes none.
func valueMatcher(text string) func(*yaml.Node) bool {
	m := quotedValue.FindStringSubmatch(text)
	if m == nil {
		return func(*yaml.Node) bool { return true }
	}
	quoted := m[1] + m[2]
	return func(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, quoted) }
}

// locateKey returns the path of keys (and [i] indexes) to the mapping key
// named name on line, or nil.
func locateKey(node *yaml.Node, line int, name string, path []string) []string {
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, value := node.Content[i], node.Content[i+1]
			if key.Line == line && key.Value == name {
				return append(path, name)
			}
			if found := locateKey(value, line, name, append(path, key.Value)); found != nil {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, item := range node.Content {
			if found := locateKey(item, line, name, append(path, fmt.Sprintf("[%d]", i))); found != nil {
				return found
			}
		}
	}
	return nil
}

// locateValue returns the path to the deepest value on line that match
// accepts, or nil.
func locateValue(node *yaml.Node, line int, match func(*yaml.Node) bool, path []string) []string {
	var children []*yaml.Node
	var names []string
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			children = append(children, node.Content[i+1])
			names = append(names, node.Content[i].Value)
		}
	case yaml.SequenceNode:
		for i, item := range node.Content {
			children = append(children, item)
			names = append(names, fmt.Sprintf("[%d]", i))
		}
	}
	for i, child := range children {
		childPath := append(append([]string(nil), path...), names[i])
		if found := locateValue(child, line, match, childPath); found != nil {
			return found
		}
		if child.Line == line && match(child) {
			return childPath
		}
	}
	return nil
}

// splitOwner turns rules/[2]/guards/x into the owner `rule "name"` and the
// field guards.x; a path outside rules and triggers has no owner.
func splitOwner(root *yaml.Node, path []string) (owner, field string) {
	if len(path) < 2 || (path[0] != "rules" && path[0] != "triggers") {
		return "", joinPath(path)
	}
	index, err := strconv.Atoi(strings.Trim(path[1], "[]"))
	seq := mappingValue(root, path[0])
	if err != nil || seq == nil || index >= len(seq.Content) {
		return "", joinPath(path)
	}
	name := ""
	if node := mappingValue(seq.Content[index], "name"); node != nil {
		name = node.Value
	}
	if path[0] == "rules" {
		return RuleOwner(name), joinPath(path[2:])
	}
	return TriggerOwner(name), joinPath(path[2:])
}

// joinPath writes keys with dots and indexes without: reset.exclude_reapply[0].
func joinPath(path []string) string {
	var b strings.Builder
	for _, part := range path {
		if b.Len() > 0 && !strings.HasPrefix(part, "[") {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

func mappingValue(node *yaml.Node, key string) *yaml.Node {
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return nil
}

// recordLines stores where each trigger and rule starts and where each key
// stands, for problems. yaml.v3 does not apply KnownFields inside custom
// unmarshalers, so lines are read from the node tree instead.
func recordLines(root *yaml.Node, cfg *Config) {
	cfg.lines = nil
	if root.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		cfg.lines = append(cfg.lines, KeyLine{Path: key.Value, Line: key.Line})
		switch {
		case key.Value == "rules" && value.Kind == yaml.SequenceNode:
			for j, item := range value.Content {
				if j < len(cfg.Rules) {
					cfg.Rules[j].Line, cfg.Rules[j].Lines = item.Line, sortLines(keyLines(item, "", nil))
				}
			}
		case key.Value == "triggers" && value.Kind == yaml.SequenceNode:
			for j, item := range value.Content {
				if j < len(cfg.Triggers) {
					cfg.Triggers[j].Line, cfg.Triggers[j].Lines = item.Line, sortLines(keyLines(item, "", nil))
				}
			}
		default:
			cfg.lines = keyLines(value, key.Value, cfg.lines)
		}
	}
	cfg.lines = sortLines(cfg.lines)
}

// keyLines appends the line of every key and list item under node.
func keyLines(node *yaml.Node, prefix string, lines KeyLines) KeyLines {
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			path := joinPath([]string{prefix, node.Content[i].Value})
			if prefix == "" {
				path = node.Content[i].Value
			}
			lines = append(lines, KeyLine{Path: path, Line: node.Content[i].Line})
			lines = keyLines(node.Content[i+1], path, lines)
		}
	case yaml.SequenceNode:
		for i, item := range node.Content {
			path := fmt.Sprintf("%s[%d]", prefix, i)
			lines = append(lines, KeyLine{Path: path, Line: item.Line})
			lines = keyLines(item, path, lines)
		}
	}
	return lines
}

// sortLines sorts lines by path for KeyLines.Line, keeping the last line
// of a path written twice, and copies them to a slice of their length: a
// daemon keeps the lines of every rule it runs.
func sortLines(lines KeyLines) KeyLines {
	slices.Reverse(lines)
	slices.SortStableFunc(lines, func(a, b KeyLine) int { return strings.Compare(a.Path, b.Path) })
	return slices.Clone(slices.CompactFunc(lines, func(a, b KeyLine) bool { return a.Path == b.Path }))
}

// knownFields maps each configuration struct, by the name the YAML decoder
// prints ("config.Rule"), to its YAML keys. It is read from the types so
// that a new field is suggested without anyone listing it here.
var knownFields = func() map[string][]string {
	fields := map[string][]string{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || fields[t.String()] != nil {
			return
		}
		fields[t.String()] = []string{}
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag != "" && tag != "-" {
				fields[t.String()] = append(fields[t.String()], tag)
			}
			walk(t.Field(i).Type)
		}
	}
	walk(reflect.TypeOf(Config{}))
	return fields
}()

// closestField suggests the known field of typeName nearest to name, when
// it is near enough to be a typo: two edits, or one in four for long names.
func closestField(typeName, name string) string {
	best, bestDistance := "", max(2, len(name)/4)+1
	for _, field := range knownFields[typeName] {
		if d := editDistance(name, field); d < bestDistance {
			best, bestDistance = field, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
