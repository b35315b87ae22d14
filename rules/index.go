package rules

import (
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	celtypes "cel.dev/cel-go/common/types"
	exprpb "google.golang.org/genproto/googleapis/api/expr/v1alpha1"
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

// typeTest finds the first term of expr's top-level conjunction that tests
// the event's type (`event.type == "T"` or `event.type in ["T", ...]`) and
// returns it, the `&&` it is an operand of (nil when the test is all of
// expr) and the types it allows.
func typeTest(expr ast.Expr) (test, and ast.Expr, types []string) {
	if expr.Kind() != ast.CallKind {
		return nil, nil, nil
	}
	call := expr.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case operators.LogicalAnd:
		for _, arg := range args {
			if test, and, types := typeTest(arg); types != nil {
				if and == nil {
					and = expr
				}
				return test, and, types
			}
		}
	case operators.Equals:
		for _, pair := range [][2]ast.Expr{{args[0], args[1]}, {args[1], args[0]}} {
			if s, ok := stringLiteral(pair[1]); ok && isEventType(pair[0]) {
				return expr, nil, []string{s}
			}
		}
	case operators.In:
		if isEventType(args[0]) && args[1].Kind() == ast.ListKind {
			if types := stringList(args[1].AsList().Elements()); types != nil {
				return expr, nil, types
			}
		}
	}
	return nil, nil, nil
}

// withoutTypeTest returns a checked `when` without the type test typeTest
// finds: the index evaluates a rule only for an event of a type the test
// allows, where the test is true and `true && rest` is rest (CEL's && gives
// rest's value or error), so the rule need not test it again for every
// event. The test was most of a typed rule's own cost when every rule of a
// trigger shared the event's type. The expression is cut, not checked
// again: every node left keeps its id, type and reference. It also returns
// the types the test allows; with no type test (nil types) it returns
// checked as it is.
func withoutTypeTest(checked *cel.Ast) (*cel.Ast, []string, error) {
	test, and, types := typeTest(checked.NativeRep().Expr())
	if types == nil {
		return checked, nil, nil
	}
	pb, err := cel.AstToCheckedExpr(checked)
	if err != nil {
		return nil, nil, err
	}
	if and == nil {
		pb.Expr = &exprpb.Expr{Id: test.ID(), ExprKind: &exprpb.Expr_ConstExpr{
			ConstExpr: &exprpb.Constant{ConstantKind: &exprpb.Constant_BoolValue{BoolValue: true}}}}
	} else {
		andPB := findInConjunction(pb.GetExpr(), and.ID())
		args := andPB.GetCallExpr().GetArgs()
		if len(args) != 2 {
			return checked, types, nil
		}
		rest := args[0]
		if rest.GetId() == test.ID() {
			rest = args[1]
		}
		pb.Expr = replaceInConjunction(pb.GetExpr(), and.ID(), rest)
	}
	rest, err := cel.CheckedExprToAstWithSource(pb, checked.Source())
	return rest, types, err
}

// findInConjunction finds the node id in the top-level conjunction e.
func findInConjunction(e *exprpb.Expr, id int64) *exprpb.Expr {
	if e.GetId() == id {
		return e
	}
	if call := e.GetCallExpr(); call != nil && call.GetFunction() == operators.LogicalAnd {
		for _, arg := range call.GetArgs() {
			if found := findInConjunction(arg, id); found != nil {
				return found
			}
		}
	}
	return nil
}

// replaceInConjunction puts with in the place of the node id of the
// top-level conjunction e.
func replaceInConjunction(e *exprpb.Expr, id int64, with *exprpb.Expr) *exprpb.Expr {
	if e.GetId() == id {
		return with
	}
	if call := e.GetCallExpr(); call != nil && call.GetFunction() == operators.LogicalAnd {
		for i, arg := range call.GetArgs() {
			call.Args[i] = replaceInConjunction(arg, id, with)
		}
	}
	return e
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
	s, ok := e.AsLiteral().(celtypes.String)
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
