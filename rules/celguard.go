package rules

import (
	"context"
	"fmt"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types/ref"
)

// EvalTimeout bounds the evaluation of one rule for one event: its when
// expression and every placeholder of its query, reason and signal input
// together, from the first comprehension among them (only a comprehension
// can loop, and only comprehensions are checked). The cost limit charges a call only after it returns and checks
// comprehensions as they run; the deadline stops a comprehension that is
// cheap by cost but slow in time, checked every interruptCheckEvery
// iterations. A rule stopped by it is an evaluation error of that rule.
const EvalTimeout = 100 * time.Millisecond

const interruptCheckEvery = 100

// evalTimeout is EvalTimeout; tests shorten it.
var evalTimeout = EvalTimeout

// constantRegexes refuses a matches() call whose pattern is not a string
// literal. A pattern taken from the event would be compiled and run on
// every evaluation, and a crafted one (or a huge one) costs seconds before
// the cost limit sees it: the cost of a call is charged after it returns.
// cel.ValidateRegexLiterals checks only literals and skips the others.
type constantRegexes struct{}

func (constantRegexes) Name() string { return "batchwire.constant_regexes" }

func (constantRegexes) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	calls := ast.MatchDescendants(ast.NavigateAST(a), ast.FunctionMatcher(overloads.Matches))
	for _, call := range calls {
		c := call.AsCall()
		args := c.Args()
		pattern := len(args) - 1
		if pattern < 0 || (!c.IsMemberFunction() && len(args) < 2) {
			continue
		}
		if args[pattern].Kind() != ast.LiteralKind {
			iss.ReportErrorAtID(args[pattern].ID(),
				"the pattern of matches() must be a string literal: a pattern taken from the event could run for seconds")
		}
	}
}

// program is one compiled expression. folds says it has comprehensions:
// cel-go checks for interruption only inside them, so only such a program
// is run under a deadline context, which costs allocations on every
// evaluation; the others cannot be interrupted and run without one.
type program struct {
	prg   cel.Program
	folds bool
}

func hasComprehensions(checked *cel.Ast) bool {
	return len(ast.MatchDescendants(ast.NavigateAST(checked.NativeRep()), ast.KindMatcher(ast.ComprehensionKind))) > 0
}

// evalProgram runs p on the activation, within its rule's deadline.
func evalProgram(p program, act *activation) (ref.Val, error) {
	if !p.folds {
		out, _, err := p.prg.Eval(act)
		return out, err
	}
	if act.deadline.IsZero() {
		act.deadline = time.Now().Add(evalTimeout)
	}
	ctx, cancel := context.WithDeadline(context.Background(), act.deadline)
	defer cancel()
	out, _, err := p.prg.ContextEval(ctx, act)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("stopped at the evaluation deadline of %s: %w", evalTimeout, err)
	}
	return out, err
}
