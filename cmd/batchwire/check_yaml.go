package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/batchwire/batchwire/config"
)

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)

// describeConfigErrors lists the loader's errors one per line. The YAML
// decoder names an unknown key by line and Go type only ("line 31: field
// reasn not found in type config.Rule"); those lines are rewritten to name
// the rule or trigger, the field path inside it, and the closest known field.
func describeConfigErrors(raw []byte, err error) []string {
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		return flattenErrors(err)
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(raw, &doc)
	root := documentRoot(&doc)
	out := make([]string, 0, len(typeErr.Errors))
	for _, msg := range typeErr.Errors {
		out = append(out, describeYAMLError(root, msg))
	}
	return out
}

func describeYAMLError(root *yaml.Node, msg string) string {
	m := unknownField.FindStringSubmatch(msg)
	if m == nil || root == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	path := locateKey(root, line, m[2], nil)
	if path == nil {
		return msg
	}
	owner, field := splitOwner(root, path)
	text := fmt.Sprintf("%s%s: unknown field at line %d", owner, strings.Join(field, "."), line)
	if guess := closestField(m[3], m[2]); guess != "" {
		text += fmt.Sprintf("; did you mean %q?", guess)
	}
	return text
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

// splitOwner turns rules/[2]/guards/x into the prefix `rule "name" (line
// N): ` used by every rule error, and the field path guards.x.
func splitOwner(root *yaml.Node, path []string) (string, []string) {
	if len(path) < 3 || (path[0] != "rules" && path[0] != "triggers") {
		return "", path
	}
	index, err := strconv.Atoi(strings.Trim(path[1], "[]"))
	seq := mappingValue(root, path[0])
	if err != nil || seq == nil || index >= len(seq.Content) {
		return "", path
	}
	item := seq.Content[index]
	name := ""
	if node := mappingValue(item, "name"); node != nil {
		name = node.Value
	}
	kind := strings.TrimSuffix(path[0], "s")
	return fmt.Sprintf("%s %q (line %d): ", kind, name, item.Line), path[2:]
}

func documentRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return nil
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
	walk(reflect.TypeOf(config.Config{}))
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
