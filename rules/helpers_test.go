package rules

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"
)

// flagChangesPath is a real go-feature-flag webhook payload shared by all
// packages of the project.
const flagChangesPath = "../testdata/events/go-feature-flag_webhook_flag_changes.json"

// token is one lexical token of a visibility query, as the tests read it:
// either raw text outside literals or a decoded string literal.
type token struct {
	str   bool
	value string
}

// tokenizeQuery is an independent SQL-style reader of query text, written
// to check the quoting from the other side: backslash escapes (\\, \', \",
// \n, \r, \t, \0) and doubled quotes inside '...' and "..." literals.
// Adjacent text is merged so that token lists compare structurally.
func tokenizeQuery(query string) ([]token, error) {
	var tokens []token
	var text strings.Builder
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c != '\'' && c != '"' {
			text.WriteByte(c)
			continue
		}
		if text.Len() > 0 {
			tokens = append(tokens, token{value: text.String()})
			text.Reset()
		}
		value, end, err := readLiteral(query, i)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, token{str: true, value: value})
		i = end
	}
	if text.Len() > 0 {
		tokens = append(tokens, token{value: text.String()})
	}
	return tokens, nil
}

var testEscapes = map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'n': '\n', 'r': '\r', 't': '\t', '0': 0}

// readLiteral decodes the literal opening at start and returns the index of
// its closing quote.
func readLiteral(query string, start int) (string, int, error) {
	quote := query[start]
	var value strings.Builder
	for i := start + 1; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\\':
			if i+1 >= len(query) {
				return "", 0, fmt.Errorf("dangling backslash at %d", i)
			}
			unescaped, ok := testEscapes[query[i+1]]
			if !ok {
				return "", 0, fmt.Errorf("unknown escape \\%c at %d", query[i+1], i)
			}
			value.WriteByte(unescaped)
			i++
		case c == quote && i+1 < len(query) && query[i+1] == quote:
			value.WriteByte(quote)
			i++
		case c == quote:
			return value.String(), i, nil
		default:
			value.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated literal at %d", start)
}

func newEvent(t testing.TB, id, source, eventType string, data []byte) *cloudevents.Event {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource(source)
	ev.SetType(eventType)
	if data != nil {
		require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, data))
	}
	return &ev
}

func flagChangesEvent(t testing.TB) *cloudevents.Event {
	t.Helper()
	raw, err := os.ReadFile(flagChangesPath)
	require.NoError(t, err)
	return newEvent(t, "evt-1", "https://flags.example.com/go-feature-flag", "flag.changed", raw)
}

// hostileStrings are values an event sender might use to break out of a
// query literal.
func hostileStrings() []string {
	return []string{
		``, `plain`, `it's`, `''`, `'`, `\`, `\\`, `\'`, `\\'`, `"`, `"it's"`,
		`' OR '1'='1`, `x' OR WorkflowType!='x`, `) OR (`, `') OR ('1'='1`,
		`\' OR ExecutionStatus != 0 --`, `\'' OR 1=1 --`,
		"‘smart’ “quotes”", "line\nbreak", "cr\rlf", "tab\there", "nul\x00byte",
		`--`, `x -- comment`, `/* */`, `/* x`, `*/`, `#`, `# hash`, `//`, "`backtick`",
		strings.Repeat(`a'\`, 10<<10/3),
	}
}

func jsonMarshal(value any) ([]byte, error) { return json.Marshal(value) }
