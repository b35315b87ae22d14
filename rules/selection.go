package rules

import (
	"regexp"
	"sort"
	"time"

	"cel.dev/cel-go/common/types"
	"github.com/temporalio/sqlparser"
)

// selectionNow stands in for now() when a query is rendered as a cooldown
// key: a window is about which workflows an event selects, and a query that
// says "started in the last hour" selects the same ones, for this purpose,
// whenever it is rendered.
var selectionNow = types.Timestamp{Time: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}

// callsNow finds now() in a placeholder. It may match inside a string
// literal too, which only costs one more rendering.
var callsNow = regexp.MustCompile(`\bnow\s*\(`)

// usesNow reports whether any placeholder of the template calls now().
func (t *template) usesNow() bool {
	for i := range t.places {
		if callsNow.MatchString(t.places[i].expr) {
			return true
		}
	}
	return false
}

// selection returns the key that the cooldown guard compares: the query
// rendered with now() fixed (see selectionNow), in canonical form. Event data
// that changes only the spelling of the query (the order of an IN list,
// spacing, quoting) or the time it was rendered yields the same key; data that
// changes what is selected yields another.
func (r *Rule) selection(act *activation, query string) string {
	if r.query.usesNow() {
		evaluated := act.now
		act.now = selectionNow
		fixed, err := r.query.render(act, scalarLiteral)
		act.now = evaluated
		if err == nil {
			query = fixed
		}
	}
	canonical, err := CanonicalQuery(query)
	if err != nil {
		// The lint stage refuses a query that does not parse.
		return query
	}
	return canonical
}

// CanonicalQuery returns a visibility query as the server's parser reads it,
// printed back: one spacing, one quoting of literals, and the values of each
// IN list sorted with duplicates removed.
func CanonicalQuery(query string) (string, error) {
	where, err := parseWhere(query)
	if err != nil {
		return "", err
	}
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		cmp, ok := node.(*sqlparser.ComparisonExpr)
		if !ok || (cmp.Operator != sqlparser.InStr && cmp.Operator != sqlparser.NotInStr) {
			return true, nil
		}
		if tuple, ok := cmp.Right.(sqlparser.ValTuple); ok {
			cmp.Right = sortedValues(tuple)
		}
		return true, nil
	}, where)
	return sqlparser.String(where), nil
}

func sortedValues(tuple sqlparser.ValTuple) sqlparser.ValTuple {
	byText := make(map[string]sqlparser.Expr, len(tuple))
	texts := make([]string, 0, len(tuple))
	for _, value := range tuple {
		text := sqlparser.String(value)
		if _, seen := byText[text]; !seen {
			byText[text] = value
			texts = append(texts, text)
		}
	}
	sort.Strings(texts)
	out := make(sqlparser.ValTuple, len(texts))
	for i, text := range texts {
		out[i] = byText[text]
	}
	return out
}
