package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/batchwire/batchwire/config"
)

// Set is a compiled, immutable set of rules, safe for concurrent use.
type Set struct {
	rules     []*Rule
	byTrigger map[string]*triggerIndex
}

// Rule is one compiled rule.
type Rule struct {
	Name      string
	Trigger   string
	Namespace string
	// Operation names the action ("signal"), for metrics and tables.
	Operation string
	// Config is a copy of the rule as configured.
	Config config.Rule

	when program
	// types are the event types `when` requires (index.go); nil means any.
	types  []string
	query  *template
	reason *template
	input  *signalInput
}

// Evaluation is one rule's answer to one event. Err holds an error of
// the when expression or, with Matched set, of rendering the action.
type Evaluation struct {
	Rule    *Rule
	Matched bool
	Action  *Action
	Err     error
}

// Action is a rendered batch operation, ready for the guards and launcher.
type Action struct {
	Rule, Trigger, Namespace string
	// Operation is the rule's action: signal, terminate, cancel, delete, reset.
	Operation string
	// Query is the rendered visibility query.
	Query string
	// Selection is the cooldown guard's key, set for rules with a cooldown:
	// the query rendered with now() fixed, in canonical form (CanonicalQuery).
	Selection string
	Reason    string
	// Signal is set for signal rules.
	Signal *Signal
	// JobID is derived from the rule and the event so that a redelivered
	// event maps to the batch job it already started.
	JobID                           string
	EventID, EventSource, EventType string
}

// Signal is the signal a signal rule sends.
type Signal struct {
	Name string
	// Input is the JSON payload, nil when the rule has no input.
	Input []byte
}

// Compile compiles rules in order. When any rule does not compile, the
// error is a *config.Error listing every problem at once, each naming the
// rule, the field at fault and its line.
func Compile(rules []config.Rule) (*Set, error) {
	set, problems := CompileAll(rules)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return set, nil
}

// CompileAll compiles every rule it can: the set holds the rules that
// compiled, in order, and the problems say why the others did not.
func CompileAll(rules []config.Rule) (*Set, config.Problems) {
	set := &Set{byTrigger: map[string]*triggerIndex{}}
	seen := map[string]bool{}
	var problems config.Problems
	c := newCompiler()
	for i := range rules {
		cfg := &rules[i]
		rule, ruleProblems := c.rule(cfg)
		if seen[cfg.Name] {
			// Job ids are derived from the name, so two rules with one name
			// would collide on every event.
			ruleProblems = append(ruleProblems, cfg.Errorf("name", "duplicate rule name"))
		}
		seen[cfg.Name] = true
		problems = append(problems, ruleProblems...)
		if len(ruleProblems) == 0 {
			set.rules = append(set.rules, rule)
			ix := set.byTrigger[rule.Trigger]
			if ix == nil {
				ix = &triggerIndex{byType: map[string][]int{}}
				set.byTrigger[rule.Trigger] = ix
			}
			ix.add(rule, rule.types)
		}
	}
	return set, problems
}

func (c *compiler) rule(cfg *config.Rule) (*Rule, config.Problems) {
	rule := &Rule{
		Name:      cfg.Name,
		Trigger:   cfg.Trigger,
		Namespace: cfg.Namespace,
		Operation: cfg.Operation(),
		Config:    copyRule(cfg),
	}
	var problems config.Problems
	var err error
	rule.when, rule.types, err = c.when(cfg.When)
	problems = append(problems, fieldProblems(cfg, "when", err)...)
	rule.query, err = c.query(cfg.Query)
	problems = append(problems, fieldProblems(cfg, "query", err)...)
	rule.reason, err = c.template(cfg.Reason)
	problems = append(problems, fieldProblems(cfg, "reason", err)...)
	if cfg.Signal != nil {
		// Input errors are *fieldError naming their path (signal.input.<key>).
		rule.input, err = c.input(cfg.Signal.Input)
		problems = append(problems, fieldProblems(cfg, "signal.input", err)...)
	}
	return rule, problems
}

// fieldProblems splits joined errors into one problem each, about field or
// the place a *config.FieldError names (signal.input.tenant).
func fieldProblems(cfg *config.Rule, field string, err error) config.Problems {
	return config.SplitErrors(err, field, func(field, message string) config.Problem {
		return cfg.Errorf(field, "%s", message)
	})
}

// when rejects an expression whose type is known not to be bool; a dyn
// result is checked again at evaluation. A `when` that requires event types
// is planned without its type test (withoutTypeTest): the rule must then be
// evaluated only for events of those types, as Evaluate does.
func (c *compiler) when(expr string) (program, []string, error) {
	if strings.TrimSpace(expr) == "" {
		return program{}, nil, errors.New(`empty expression (use "true" to match every event)`)
	}
	checked, err := c.check(expr)
	if err != nil {
		return program{}, nil, err
	}
	if out := checked.OutputType(); !out.IsAssignableType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return program{}, nil, fmt.Errorf("must be a bool expression, is %s", out)
	}
	rest, types, err := withoutTypeTest(checked)
	if err != nil {
		return program{}, nil, fmt.Errorf("without its type test: %w", err)
	}
	if types == nil {
		prg, err := c.expr(expr)
		return prg, nil, err
	}
	prg, err := planExpr(rest)
	if err != nil {
		return program{}, nil, err
	}
	return prg, types, nil
}

func copyRule(cfg *config.Rule) config.Rule {
	copied := *cfg
	if cfg.Signal != nil {
		signal := *cfg.Signal
		signal.Input = copyInput(signal.Input)
		copied.Signal = &signal
	}
	if cfg.Reset != nil {
		reset := *cfg.Reset
		reset.ExcludeReapply = append([]string(nil), reset.ExcludeReapply...)
		copied.Reset = &reset
	}
	if cfg.Guards.Rate != nil {
		rate := *cfg.Guards.Rate
		copied.Guards.Rate = &rate
	}
	return copied
}

// Rules returns the rules in configuration order.
func (s *Set) Rules() []*Rule {
	return append([]*Rule(nil), s.rules...)
}

// Evaluate matches the rules of trigger against ev at time now and renders
// the action of each match, in configuration order. Only the rules that can
// match the event's type are evaluated (index.go); the others could only
// answer false. It is pure: the same inputs give the same results.
func (s *Set) Evaluate(trigger string, ev *cloudevents.Event, now time.Time) []Evaluation {
	return s.AppendEvaluate(nil, trigger, ev, now)
}

// AppendEvaluate is Evaluate appending the evaluations to dst, so that a
// caller deciding many events can reuse one buffer: with many rules, the
// evaluations are most of what deciding an event allocates.
func (s *Set) AppendEvaluate(dst []Evaluation, trigger string, ev *cloudevents.Event, now time.Time) []Evaluation {
	ix := s.byTrigger[trigger]
	if ix == nil {
		return dst
	}
	if ev == nil {
		for _, rule := range ix.rules {
			dst = append(dst, Evaluation{Rule: rule, Err: fmt.Errorf("rule %q: no event", rule.Name)})
		}
		return dst
	}
	candidates := ix.candidates(ev.Type())
	if len(candidates) == 0 {
		return dst
	}
	dst = slices.Grow(dst, len(candidates))
	act := newActivation(ev, now)
	for _, pos := range candidates {
		dst = append(dst, ix.rules[pos].evaluate(act, trigger, ev))
	}
	return dst
}

func (r *Rule) evaluate(act *activation, trigger string, ev *cloudevents.Event) Evaluation {
	// The rule's deadline starts with its first comprehension (evalProgram):
	// nothing else can loop, and reading the clock for every rule costs more
	// than evaluating most of them.
	act.deadline = time.Time{}
	matched, err := r.match(act)
	if err != nil {
		return Evaluation{Rule: r, Err: fmt.Errorf("rule %q: evaluate when: %w", r.Name, err)}
	}
	if !matched {
		return Evaluation{Rule: r}
	}
	action, err := r.render(act, trigger, ev)
	if err != nil {
		return Evaluation{Rule: r, Matched: true, Err: fmt.Errorf("rule %q: %w", r.Name, err)}
	}
	return Evaluation{Rule: r, Matched: true, Action: action}
}

func (r *Rule) match(act *activation) (bool, error) { return matches(r.when, act) }

// matches evaluates a when program to the bool it must give.
func matches(when program, act *activation) (bool, error) {
	out, err := evalProgram(when, act)
	if err != nil {
		return false, err
	}
	matched, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("result is %s, not bool", typeName(out))
	}
	return bool(matched), nil
}

func (r *Rule) render(act *activation, trigger string, ev *cloudevents.Event) (*Action, error) {
	query, err := r.query.render(act, scalarLiteral)
	if err != nil {
		return nil, fmt.Errorf("render query: %w", err)
	}
	reason, err := r.reason.render(act, plainText)
	if err != nil {
		return nil, fmt.Errorf("render reason: %w", err)
	}
	action := &Action{
		Rule: r.Name, Trigger: trigger, Namespace: r.Namespace, Operation: r.Operation,
		Query: query, Reason: reason,
		JobID:   JobID(r.Name, ev.Source(), ev.ID()),
		EventID: ev.ID(), EventSource: ev.Source(), EventType: ev.Type(),
	}
	if r.Config.Guards.Cooldown > 0 {
		action.Selection = r.selection(act, query)
	}
	if r.Config.Signal != nil {
		input, err := r.input.render(act)
		if err != nil {
			return nil, fmt.Errorf("render %w", err)
		}
		action.Signal = &Signal{Name: r.Config.Signal.Name, Input: input}
	}
	return action, nil
}

// maxJobIDName bounds the readable part of a job id; the hash keeps it unique.
const maxJobIDName = 40

// JobID returns the batch job id for a rule and an event. It is stable, so a
// redelivered event finds the job it already started, and the hash keeps ids
// of different rules or events apart even when sanitised names collide. NUL
// separates the fields because CloudEvents attributes cannot contain it.
func JobID(rule, source, id string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + source + "\x00" + id))
	name := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(rule))
	if len(name) > maxJobIDName {
		name = name[:maxJobIDName]
	}
	return "batchwire-" + name + "-" + hex.EncodeToString(sum[:])[:20]
}
