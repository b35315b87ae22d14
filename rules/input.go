package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/batchwire/batchwire/config"
)

// signalInput is a compiled signal input. When the input holds no
// placeholder its JSON is encoded once at compile time.
type signalInput struct {
	root   inputNode
	static []byte
}

// inputNode is one node of the input tree, rendered to a JSON-shaped value.
type inputNode interface {
	render(act *activation) (any, error)
	hasPlaceholders() bool
}

type (
	constNode struct{ value any }
	valueNode struct {
		path  string
		place *placeholder
	}
	textNode struct {
		path string
		tmpl *template
	}
	listNode   struct{ items []inputNode }
	objectNode struct {
		keys   []string
		values []inputNode
	}
)

// input compiles the JSON-shaped input of a signal; nil means no payload
// at all.
func (c *compiler) input(value any) (*signalInput, error) {
	if value == nil {
		return nil, nil
	}
	root, err := c.node(value, "signal.input")
	if err != nil {
		return nil, err
	}
	in := &signalInput{root: root}
	if !root.hasPlaceholders() {
		if in.static, err = in.encode(nil); err != nil {
			return nil, &config.FieldError{Field: "signal.input", Err: err}
		}
	}
	return in, nil
}

// render returns the input as JSON for one event.
func (in *signalInput) render(act *activation) ([]byte, error) {
	if in == nil {
		return nil, nil
	}
	if in.static != nil {
		// A copy, so that no caller can change the payload of later events.
		return bytes.Clone(in.static), nil
	}
	return in.encode(act)
}

func (in *signalInput) encode(act *activation) ([]byte, error) {
	value, err := in.root.render(act)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return raw, nil
}

func (c *compiler) node(value any, path string) (inputNode, error) {
	switch v := value.(type) {
	case string:
		return c.stringNode(v, path)
	case map[string]any:
		return c.object(v, path)
	case map[any]any:
		object := make(map[string]any, len(v))
		for key, elem := range v {
			object[fmt.Sprint(key)] = elem
		}
		return c.object(object, path)
	case []any:
		return c.list(v, path)
	case time.Time:
		// YAML timestamps: the same RFC 3339 form a CEL timestamp renders to.
		return constNode{value: formatTime(v)}, nil
	case nil, bool, int, int64, uint64, int32, uint32, json.Number:
		return constNode{value: v}, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, &config.FieldError{Field: path, Err: fmt.Errorf("number %v has no JSON form", v)}
		}
		return constNode{value: v}, nil
	}
	return nil, &config.FieldError{Field: path, Err: fmt.Errorf("a value of Go type %T is not JSON-shaped", value)}
}

func (c *compiler) stringNode(text string, path string) (inputNode, error) {
	if !strings.Contains(text, "{{") && !strings.Contains(text, "}}") {
		return constNode{value: text}, nil
	}
	tmpl, err := c.template(text)
	if err != nil {
		return nil, &config.FieldError{Field: path, Err: err}
	}
	if place, ok := tmpl.single(); ok {
		return valueNode{path: path, place: place}, nil
	}
	return textNode{path: path, tmpl: tmpl}, nil
}

func (c *compiler) object(object map[string]any, path string) (inputNode, error) {
	node := objectNode{keys: make([]string, 0, len(object))}
	for key := range object {
		node.keys = append(node.keys, key)
	}
	// Sorted keys make compile errors come out in a stable order.
	sort.Strings(node.keys)
	var errs []error
	for _, key := range node.keys {
		elem, err := c.node(object[key], path+"."+key)
		errs = append(errs, err)
		node.values = append(node.values, elem)
	}
	return node, errors.Join(errs...)
}

func (c *compiler) list(list []any, path string) (inputNode, error) {
	node := listNode{items: make([]inputNode, 0, len(list))}
	var errs []error
	for i, elem := range list {
		item, err := c.node(elem, fmt.Sprintf("%s[%d]", path, i))
		errs = append(errs, err)
		node.items = append(node.items, item)
	}
	return node, errors.Join(errs...)
}

func (n constNode) render(*activation) (any, error) { return n.value, nil }
func (n constNode) hasPlaceholders() bool           { return false }

func (n valueNode) render(act *activation) (any, error) {
	out, err := n.place.eval(act)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.path, err)
	}
	if err := checkRenderSize(out); err != nil {
		return nil, fmt.Errorf("%s: placeholder {{ %s }}: %w", n.path, n.place.expr, err)
	}
	value, err := jsonValue(out)
	if err != nil {
		return nil, fmt.Errorf("%s: placeholder {{ %s }}: %w", n.path, n.place.expr, err)
	}
	return value, nil
}

func (n valueNode) hasPlaceholders() bool { return true }

func (n textNode) render(act *activation) (any, error) {
	text, err := n.tmpl.render(act, plainText)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.path, err)
	}
	return text, nil
}

func (n textNode) hasPlaceholders() bool { return true }

func (n listNode) render(act *activation) (any, error) {
	out := make([]any, len(n.items))
	for i, item := range n.items {
		value, err := item.render(act)
		if err != nil {
			return nil, err
		}
		out[i] = value
	}
	return out, nil
}

func (n listNode) hasPlaceholders() bool {
	for _, item := range n.items {
		if item.hasPlaceholders() {
			return true
		}
	}
	return false
}

func (n objectNode) render(act *activation) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i, key := range n.keys {
		value, err := n.values[i].render(act)
		if err != nil {
			return nil, err
		}
		out[key] = value
	}
	return out, nil
}

func (n objectNode) hasPlaceholders() bool {
	for _, value := range n.values {
		if value.hasPlaceholders() {
			return true
		}
	}
	return false
}

// copyInput deep-copies a JSON-shaped value so that a compiled Set does not
// share mutable maps or slices with the configuration it came from.
func copyInput(value any) any {
	switch v := value.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, elem := range v {
			out[key] = copyInput(elem)
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(v))
		for key, elem := range v {
			out[key] = copyInput(elem)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, elem := range v {
			out[i] = copyInput(elem)
		}
		return out
	}
	return value
}
