package rules

import (
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// triggerIndex holds the rules of one trigger, in configuration order, with
// the event types each requires. A rule whose `when` is a conjunction with
// `event.type == "T"` (or `event.type in ["T", ...]`) can only match events
// of those types: for any other type the conjunction is false whatever its
// other terms give (CEL's && is false when any term is, even beside an
// error), so skipping it changes no result.
type triggerIndex struct {
	rules []*Rule
	// byType lists, per event type, the positions of the rules that need it
	// and of the rules that need no type, merged in configuration order.
	byType map[string][]int
	// anyType are the positions of the rules that need no type.
	anyType []int
}

func (ix *triggerIndex) add(r *Rule, types []string) {
	pos := len(ix.rules)
	ix.rules = append(ix.rules, r)
	if len(types) == 0 {
		ix.anyType = append(ix.anyType, pos)
		for t := range ix.byType {
			ix.byType[t] = append(ix.byType[t], pos)
		}
		return
	}
	for _, t := range types {
		list, ok := ix.byType[t]
		if !ok {
			list = slices.Clone(ix.anyType)
		}
		ix.byType[t] = append(list, pos)
	}
}

// candidates returns the rules that can match an event of type eventType.
func (ix *triggerIndex) candidates(eventType string) []int {
	if list, ok := ix.byType[eventType]; ok {
		return list
	}
	return ix.anyType
}

// requiredTypes reads the event types a `when` expression requires from its
// top-level conjunction; nil means any type.
func requiredTypes(expr ast.Expr) []string {
	if expr.Kind() != ast.CallKind {
		return nil
	}
	call := expr.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case operators.LogicalAnd:
		if left := requiredTypes(args[0]); left != nil {
			return left
		}
		return requiredTypes(args[1])
	case operators.Equals:
		for _, pair := range [][2]ast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
			if s, ok := stringLiteral(pair[1]); ok && isEventType(pair[0]) {
				return []string{s}
			}
		}
	case operators.In:
		if isEventType(args[0]) && args[1].Kind() == ast.ListKind {
			return stringList(args[1].AsList().Elements())
		}
	}
	return nil
}

func isEventType(e ast.Expr) bool {
	if e.Kind() != ast.SelectKind {
		return false
	}
	sel := e.AsSelect()
	op := sel.Operand()
	return !sel.IsTestOnly() && sel.FieldName() == "type" && op.Kind() == ast.IdentKind && op.AsIdent() == "event"
}

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// stringList returns the list's strings, or nil when any element is not a
// string literal (the rule then needs no particular type).
func stringList(elems []ast.Expr) []string {
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := stringLiteral(e)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
