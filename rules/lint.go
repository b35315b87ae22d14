package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/temporalio/sqlparser"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/batchwire/batchwire/config"
)

// wherePrefix is how the Temporal server turns a visibility query into a
// statement its parser accepts (common/persistence/visibility/store/query,
// convertWhereString): the query becomes the WHERE clause of a dummy SELECT.
const wherePrefix = "select * from table1 where "

// statusAttribute is the system search attribute holding the execution status.
const statusAttribute = "ExecutionStatus"

// datetimeAttributes are the system attributes whose values the server parses
// as RFC 3339 timestamps (or Unix nanoseconds); `StartTime > '24h'` fails there.
var datetimeAttributes = map[string]bool{"StartTime": true, "CloseTime": true, "ExecutionTime": true}

// supportedOperators are the comparison operators the server's converter
// accepts for some search attribute type (keyword ones are the widest set).
var supportedOperators = map[string]bool{
	sqlparser.EqualStr: true, sqlparser.NotEqualStr: true,
	sqlparser.LessThanStr: true, sqlparser.GreaterThanStr: true,
	sqlparser.LessEqualStr: true, sqlparser.GreaterEqualStr: true,
	sqlparser.InStr: true, sqlparser.NotInStr: true,
	sqlparser.StartsWithStr: true, sqlparser.NotStartsWithStr: true,
}

// LintQuery checks a rendered visibility query before it goes anywhere near
// a batch job. It parses the query the way the Temporal server does and
// returns an error when the query does not parse, is empty, holds a comment
// outside a string literal, has a constant condition (`true`, `1=1`), uses
// syntax the server rejects, or has no scope: when every comparison, or every
// comparison of some OR branch, is on ExecutionStatus, the query selects
// every such workflow of the namespace. Warnings are for queries that run
// but may not do what was meant.
func LintQuery(query string) (warnings []string, err error) {
	c := &queryChecker{}
	_, err = c.check(query)
	return c.warnings, err
}

// queryChecker walks one parsed query. sample marks the literals that stand
// in for template placeholders: their value is unknown until an event
// arrives, so value checks skip them.
type queryChecker struct {
	sample   func(*sqlparser.SQLVal) bool
	warnings []string
}

// check lints query and returns its WHERE condition.
func (c *queryChecker) check(query string) (sqlparser.Expr, error) {
	where, err := parseWhere(query)
	if err != nil {
		return nil, err
	}
	if err := c.condition(where); err != nil {
		return nil, err
	}
	if err := checkScope(where); err != nil {
		return nil, err
	}
	return where, nil
}

// parseWhere parses query as the server does and returns its condition.
func parseWhere(query string) (sqlparser.Expr, error) {
	trimmed := strings.TrimSpace(query)
	lower := strings.ToLower(trimmed)
	if trimmed == "" || strings.HasPrefix(lower, "order by") || strings.HasPrefix(lower, "group by") {
		return nil, errors.New("empty query: without a condition it selects every workflow in the namespace")
	}
	if err := RejectComments(trimmed); err != nil {
		return nil, err
	}
	stmt, err := sqlparser.Parse(wherePrefix + trimmed)
	if err != nil {
		return nil, fmt.Errorf("does not parse as a visibility query: %s", parsePosition(err))
	}
	sel, ok := stmt.(*sqlparser.Select)
	switch {
	case !ok || sel.Where == nil || sel.Where.Expr == nil:
		return nil, errors.New("does not parse as a visibility query: only a condition is allowed")
	case sel.Limit != nil:
		return nil, errors.New("LIMIT is not supported in a visibility query")
	case sel.Having != nil || sel.Lock != "":
		return nil, errors.New("does not parse as a visibility query: only a condition is allowed")
	case len(sel.OrderBy) > 0 || len(sel.GroupBy) > 0:
		return nil, errors.New("ORDER BY and GROUP BY have no place in a batch query: it takes a condition only")
	}
	return sel.Where.Expr, nil
}

// RejectComments uses the server's own tokenizer, so that what counts as a
// comment (`--`, `#`, `//`, `/* */`, and on server 1.29 the executable
// `/*! */`) and what counts as a string literal is exactly what the server
// sees. The server drops comments, and its batcher turns a signal,
// terminate or cancel query into `(<query>) AND (ExecutionStatus = ...)`: a
// line comment or a `;` that counts fine then breaks the job's query, and
// the job retries forever holding the namespace's batch slot.
func RejectComments(query string) error {
	tokens := sqlparser.NewStringTokenizer(query)
	for {
		typ, value := tokens.Scan()
		switch typ {
		case 0, sqlparser.LEX_ERROR:
			return nil // the end, or a lexical error that Parse reports with its position
		case sqlparser.COMMENT:
			return fmt.Errorf("comment %q outside a string literal: not allowed in a query "+
				"(the server drops it, and the batcher appends a clause after the query that a line comment would swallow)",
				shorten(strings.TrimSpace(string(value)), 40))
		case ';':
			return errors.New("';' outside a string literal: not allowed in a query " +
				"(the batcher appends a clause after the query, which would then not parse)")
		}
	}
}

var parserPosition = regexp.MustCompile(`at position (\d+)( near '(.*)')?`)

// parsePosition rewrites the parser's offset, counted in the wrapped
// statement just past the token it choked on, into the 1-based column of
// that token in the query as written.
func parsePosition(err error) string {
	return parserPosition.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := parserPosition.FindStringSubmatch(m)
		n, convErr := strconv.Atoi(sub[1])
		column := n - len(wherePrefix) - len(sub[3])
		if convErr != nil || column < 1 {
			return m
		}
		return fmt.Sprintf("at column %d%s", column, sub[2])
	})
}

// condition accepts exactly the expression shapes the server's converter
// does (convertWhereExpr), naming the offending part otherwise.
func (c *queryChecker) condition(expr sqlparser.Expr) error {
	switch e := expr.(type) {
	case *sqlparser.ParenExpr:
		return c.condition(e.Expr)
	case *sqlparser.NotExpr:
		return c.condition(e.Expr)
	case *sqlparser.AndExpr:
		return errors.Join(c.condition(e.Left), c.condition(e.Right))
	case *sqlparser.OrExpr:
		return errors.Join(c.condition(e.Left), c.condition(e.Right))
	case *sqlparser.ComparisonExpr:
		return c.comparison(e)
	case *sqlparser.RangeCond:
		col, err := columnName(e, e.Left)
		if err != nil {
			return err
		}
		return errors.Join(c.value(col, e.From), c.value(col, e.To))
	case *sqlparser.IsExpr:
		_, err := columnName(e, e.Expr)
		if err == nil && e.Operator != sqlparser.IsNullStr && e.Operator != sqlparser.IsNotNullStr {
			err = fmt.Errorf("%q: IS can only be IS NULL or IS NOT NULL", sqlparser.String(e))
		}
		return err
	case *sqlparser.ColName:
		return fmt.Errorf("%q is not a condition: compare it with a value", sqlparser.String(e))
	case sqlparser.BoolVal, *sqlparser.SQLVal, *sqlparser.NullVal:
		return fmt.Errorf("constant condition %q: it selects every workflow or none; compare a search attribute with a value",
			sqlparser.String(e))
	}
	return fmt.Errorf("%q is not supported in a visibility query (use comparisons joined by AND, OR, NOT)",
		sqlparser.String(expr))
}

func (c *queryChecker) comparison(e *sqlparser.ComparisonExpr) error {
	col, err := columnName(e, e.Left)
	if err != nil {
		return err
	}
	if !supportedOperators[e.Operator] {
		return fmt.Errorf("%q: operator %s is not supported by Temporal visibility "+
			"(use =, !=, <, <=, >, >=, IN, NOT IN, STARTS_WITH, NOT STARTS_WITH, BETWEEN, IS NULL)",
			sqlparser.String(e), strings.ToUpper(e.Operator))
	}
	if v, ok := e.Right.(*sqlparser.SQLVal); ok && e.Operator == sqlparser.StartsWithStr && len(v.Val) == 0 {
		return fmt.Errorf("%q: STARTS_WITH an empty string selects every workflow", sqlparser.String(e))
	}
	return c.value(col, e.Right)
}

// columnName returns the search attribute on the left of a comparison. A
// literal there makes the comparison a constant (`1=1`, `'a'='a'`).
func columnName(whole, left sqlparser.Expr) (string, error) {
	switch col := left.(type) {
	case *sqlparser.ColName:
		// The server strips backticks the same way before resolving the name.
		return strings.ReplaceAll(sqlparser.String(col), "`", ""), nil
	case *sqlparser.SQLVal, sqlparser.BoolVal, *sqlparser.NullVal, sqlparser.ValTuple:
		return "", fmt.Errorf("constant comparison %q: it is true for every workflow or none; "+
			"the left side must be a search attribute", sqlparser.String(whole))
	default:
		return "", fmt.Errorf("%q: the left side must be a search attribute", sqlparser.String(whole))
	}
}

// value checks the right side of a comparison, as parseValueExpr does.
func (c *queryChecker) value(col string, expr sqlparser.Expr) error {
	switch e := expr.(type) {
	case *sqlparser.SQLVal:
		return c.literal(col, e)
	case sqlparser.BoolVal:
		return nil
	case sqlparser.ValTuple:
		var errs []error
		for _, item := range e {
			errs = append(errs, c.value(col, item))
		}
		return errors.Join(errs...)
	case *sqlparser.UnaryExpr:
		if v, ok := e.Expr.(*sqlparser.SQLVal); ok && v.Type != sqlparser.StrVal &&
			(e.Operator == sqlparser.UMinusStr || e.Operator == sqlparser.UPlusStr) {
			return c.literal(col, v)
		}
	case *sqlparser.ColName:
		return fmt.Errorf("%s compared with %s: the right side must be a value (did you forget to quote %q?)",
			col, sqlparser.String(e), sqlparser.String(e))
	case *sqlparser.NullVal:
		return fmt.Errorf("%s compared with NULL: use %s IS NULL", col, col)
	}
	return fmt.Errorf("%s compared with %q: not a literal value", col, sqlparser.String(expr))
}

// literal checks one value against what the server does with it for the
// system attributes whose values it parses.
func (c *queryChecker) literal(col string, v *sqlparser.SQLVal) error {
	if c.sample != nil && c.sample(v) {
		return nil
	}
	switch v.Type {
	case sqlparser.StrVal, sqlparser.IntVal, sqlparser.FloatVal:
	default:
		return fmt.Errorf("%s compared with %s: only string, number and boolean literals are supported", col, sqlparser.String(v))
	}
	text := string(v.Val)
	switch {
	case col == statusAttribute:
		return checkStatusValue(v)
	case datetimeAttributes[col] && v.Type == sqlparser.StrVal:
		if _, err := time.Parse(time.RFC3339Nano, text); err != nil {
			return fmt.Errorf("%s compared with %q: not an RFC 3339 timestamp (write '2025-06-01T00:00:00Z'; "+
				"relative values like '24h' are not visibility syntax)", col, text)
		}
	case v.Type == sqlparser.StrVal:
		if _, err := queryString(text); err != nil {
			c.warnings = append(c.warnings, fmt.Sprintf("%s compared with %s: the server compares another value: %v",
				col, shorten(sqlparser.String(v), 40), unquotable(err)))
		}
	}
	return nil
}

// unquotable says why queryString refuses a value, without the part of its
// message that is about templates.
func unquotable(err error) string {
	msg, _, _ := strings.Cut(err.Error(), " cannot be a query literal")
	return msg
}

func checkStatusValue(v *sqlparser.SQLVal) error {
	text := string(v.Val)
	if v.Type == sqlparser.IntVal {
		n, err := strconv.ParseInt(text, 10, 32)
		if _, known := enumspb.WorkflowExecutionStatus_name[int32(n)]; err == nil && known {
			return nil
		}
	} else if _, err := enumspb.WorkflowExecutionStatusFromString(text); err == nil && v.Type == sqlparser.StrVal {
		return nil
	}
	return fmt.Errorf("%s compared with %s: not an execution status (Running, Completed, Failed, Canceled, "+
		"Terminated, ContinuedAsNew, TimedOut)", statusAttribute, sqlparser.String(v))
}

// shorten keeps messages about a 10 KB value readable; it cuts at a rune
// boundary so the message stays valid UTF-8.
func shorten(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "…"
}

// checkScope rejects a condition that a workflow can satisfy through its
// ExecutionStatus alone: such a query selects every workflow of the
// namespace in that status, which no event should be able to trigger.
func checkScope(where sqlparser.Expr) error {
	branch := unscopedBranch(where)
	if branch == nil {
		return nil
	}
	if branch == unparen(where) {
		return fmt.Errorf("%w: every comparison is on ExecutionStatus, so the query selects every workflow "+
			"of the namespace in that status; add a scope such as WorkflowType = '...'", ErrUnscoped)
	}
	return fmt.Errorf("%w: the OR branch %q compares only ExecutionStatus, so the query selects every workflow "+
		"of the namespace in that status; move the scope outside the OR or repeat it in every branch", ErrUnscoped, sqlparser.String(branch))
}

// ErrUnscoped is the one lint failure an operator may knowingly override at
// the CLI (--allow-unscoped): the query is valid but selects every workflow
// of the namespace in some status. Rules never override it.
var ErrUnscoped = errors.New("no scope")

// unscopedBranch returns the part of expr through which a workflow can match
// on ExecutionStatus alone, or nil when every way to match needs another
// search attribute. NOT keeps a branch unscoped: NOT (ExecutionStatus = 1)
// is as broad as its operand.
func unscopedBranch(expr sqlparser.Expr) sqlparser.Expr {
	switch e := expr.(type) {
	case *sqlparser.ParenExpr:
		return unscopedBranch(e.Expr)
	case *sqlparser.NotExpr:
		if unscopedBranch(e.Expr) != nil {
			return e
		}
		return nil
	case *sqlparser.AndExpr:
		if unscopedBranch(e.Left) != nil && unscopedBranch(e.Right) != nil {
			return e
		}
		return nil
	case *sqlparser.OrExpr:
		if left := unscopedBranch(e.Left); left != nil {
			return left
		}
		return unscopedBranch(e.Right)
	}
	if leafColumn(expr) == statusAttribute {
		return expr
	}
	return nil
}

// FiltersStatus reports whether every workflow query selects has to pass a
// comparison on ExecutionStatus, read on the server's parser, so a status
// inside a string literal or an OR branch without one does not count. It is
// false for a query that does not parse.
func FiltersStatus(query string) bool {
	where, err := parseWhere(query)
	return err == nil && filtersStatus(where)
}

// filtersStatus reports whether every workflow the condition selects had to
// pass a comparison on ExecutionStatus.
func filtersStatus(expr sqlparser.Expr) bool {
	switch e := expr.(type) {
	case *sqlparser.ParenExpr:
		return filtersStatus(e.Expr)
	case *sqlparser.NotExpr:
		return filtersStatus(e.Expr)
	case *sqlparser.AndExpr:
		return filtersStatus(e.Left) || filtersStatus(e.Right)
	case *sqlparser.OrExpr:
		return filtersStatus(e.Left) && filtersStatus(e.Right)
	}
	return leafColumn(expr) == statusAttribute
}

// leafColumn returns the search attribute a comparison is on, "" otherwise.
func leafColumn(expr sqlparser.Expr) string {
	var left sqlparser.Expr
	switch e := expr.(type) {
	case *sqlparser.ComparisonExpr:
		left = e.Left
	case *sqlparser.RangeCond:
		left = e.Left
	case *sqlparser.IsExpr:
		left = e.Expr
	}
	col, err := columnName(expr, left)
	if err != nil {
		return ""
	}
	return col
}

func unparen(expr sqlparser.Expr) sqlparser.Expr {
	for {
		paren, ok := expr.(*sqlparser.ParenExpr)
		if !ok {
			return expr
		}
		expr = paren.Expr
	}
}

// placeholderSample stands in for every placeholder when a template is
// linted at check time. It is a string literal (in a one-element tuple after
// IN) because that is what most placeholders render to and it parses
// wherever a value may stand; value checks skip it because the real value is
// only known per event. It cannot occur in a template's fixed text, where
// "{{" always opens a placeholder.
const placeholderSample = "{{…}}"

func isPlaceholderSample(v *sqlparser.SQLVal) bool {
	return v.Type == sqlparser.StrVal && string(v.Val) == placeholderSample
}

// sampleQuery renders the template with every placeholder replaced by the
// sample literal.
func sampleQuery(t *template) string {
	var b strings.Builder
	b.WriteString(t.fixed[0])
	for i := range t.places {
		if followsIn(t.fixed[i]) {
			b.WriteString("('" + placeholderSample + "')")
		} else {
			b.WriteString("'" + placeholderSample + "'")
		}
		b.WriteString(t.fixed[i+1])
	}
	return b.String()
}

// followsIn reports whether text ends with the IN keyword, after which a
// placeholder must render a list: `FlagKey IN {{ data.keys }}`.
func followsIn(text string) bool {
	words := strings.Fields(text)
	return len(words) > 0 && strings.EqualFold(words[len(words)-1], "in")
}

// QueryShape returns the query template with each placeholder shown as
// {{…}} and runs of whitespace collapsed, for one-line tables.
func (r *Rule) QueryShape() string {
	if r.query == nil {
		return ""
	}
	return strings.Join(strings.Fields(strings.Join(r.query.fixed, placeholderSample)), " ")
}

// LintRule lints a compiled rule's query template (with placeholders replaced
// by a sample literal, see placeholderSample) and its guards. Errors mean the
// rule must not run; warnings point at rules that run but may touch more
// than intended. Each problem names the rule, the field and its line.
func LintRule(r *Rule) config.Problems {
	cfg := &r.Config
	if r.query == nil {
		return config.Problems{cfg.Errorf("query", "not compiled")}
	}
	c := &queryChecker{sample: isPlaceholderSample}
	where, err := c.check(sampleQuery(r.query))
	problems := fieldProblems(cfg, "query", err)
	for _, w := range c.warnings {
		problems = append(problems, cfg.Warnf("query", "%s", w))
	}
	if where != nil && !filtersStatus(where) {
		switch r.Operation {
		case "reset":
			problems = append(problems, cfg.Warnf("query", "no ExecutionStatus filter: a batch reset also resets the closed "+
				"workflows that match; add AND ExecutionStatus = 'Running' (or filter on ExecutionStatus explicitly to mean it)"))
		case "signal":
			// The server batcher adds the Running filter to signal jobs itself;
			// the count preflight and the client engine do not.
			problems = append(problems, cfg.Warnf("query", "no ExecutionStatus filter: closed workflows match too, so "+
				"max_workflows counts them and the client engine signals them (each fails); add AND ExecutionStatus = 'Running'"))
		case "update_options", "pause_activities", "unpause_activities", "reset_activities", "update_activity_options":
			problems = append(problems, cfg.Warnf("query", "no ExecutionStatus filter: closed workflows match too, so "+
				"max_workflows counts them and the operation fails on each; add AND ExecutionStatus = 'Running'"))
		}
	}
	if cfg.Guards.MaxWorkflows == 0 {
		problems = append(problems, cfg.Warnf("guards.max_workflows", "not set, so one event may touch every workflow "+
			"the query selects; set the most a match may touch"))
	}
	return problems
}
