package triggers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/internal/testenv"
)

const (
	structuredFixture = "conformance_structured_request.http"
	binaryFixture     = "conformance_binary_request.http"
)

// requireConformanceEvent checks the event both conformance fixtures carry.
func requireConformanceEvent(t *testing.T, ev *cloudevents.Event) {
	t.Helper()
	require.Equal(t, "1.0", ev.SpecVersion())
	require.Equal(t, "1234-1234-1234", ev.ID())
	require.Equal(t, "/mycontext/subcontext", ev.Source())
	require.Equal(t, "com.example.someevent", ev.Type())
	require.Equal(t, "application/json", ev.DataContentType())
	require.True(t, ev.Time().Equal(time.Date(2018, 4, 5, 3, 56, 24, 0, time.UTC)), "time %s", ev.Time())
	require.JSONEq(t, `{"message":"Hello World!"}`, string(ev.Data()))
}

// editStructured rewrites the structured fixture's JSON body, so malformed
// cases differ from the real payload in exactly one way.
func editStructured(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	var body map[string]any
	require.NoError(t, json.Unmarshal(readHTTPFixture(t, structuredFixture).body, &body))
	edit(body)
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	return raw
}

// binaryMsg builds a binary-mode message from the fixture, renaming header
// keys with rename and then applying edit.
func binaryMsg(t *testing.T, rename func(string) string, edit func(nats.Header)) *nats.Msg {
	t.Helper()
	msg := readHTTPFixture(t, binaryFixture).natsMsg("unused")
	header := nats.Header{}
	for key, values := range msg.Header {
		header[rename(key)] = values
	}
	if edit != nil {
		edit(header)
	}
	msg.Header = header
	return msg
}

func keepCase(key string) string { return key }

func TestDecodeNATS(t *testing.T) {
	nc := connect(t, testenv.RunNATS(t))
	structured := readHTTPFixture(t, structuredFixture)

	tests := []struct {
		name       string
		msg        func(t *testing.T) *nats.Msg
		wantReason string // empty: the message must decode
		check      func(t *testing.T, ev *cloudevents.Event)
	}{
		{
			name:  "structured conformance request",
			msg:   func(t *testing.T) *nats.Msg { return &nats.Msg{Data: structured.body} },
			check: requireConformanceEvent,
		},
		{
			name:  "binary conformance request, lower-case headers",
			msg:   func(t *testing.T) *nats.Msg { return binaryMsg(t, keepCase, nil) },
			check: requireConformanceEvent,
		},
		{
			name:  "binary, canonical header case (Ce-Id)",
			msg:   func(t *testing.T) *nats.Msg { return binaryMsg(t, canonicalKey, nil) },
			check: requireConformanceEvent,
		},
		{
			name:  "binary, upper-case headers (CE-ID)",
			msg:   func(t *testing.T) *nats.Msg { return binaryMsg(t, strings.ToUpper, nil) },
			check: requireConformanceEvent,
		},
		{
			name: "binary, extension header ce-tenant",
			msg: func(t *testing.T) *nats.Msg {
				return binaryMsg(t, keepCase, func(h nats.Header) { h["ce-tenant"] = []string{"acme"} })
			},
			check: func(t *testing.T, ev *cloudevents.Event) {
				requireConformanceEvent(t, ev)
				require.Equal(t, "acme", ev.Extensions()["tenant"])
			},
		},
		{
			name:       "body is not JSON",
			msg:        func(t *testing.T) *nats.Msg { return &nats.Msg{Data: []byte("deploy rolled back")} },
			wantReason: "body is not JSON",
		},
		{
			name:       "body is a JSON array",
			msg:        func(t *testing.T) *nats.Msg { return &nats.Msg{Data: []byte(`[1, 2]`)} },
			wantReason: "body is not a JSON object",
		},
		{
			name:       "empty body without headers",
			msg:        func(t *testing.T) *nats.Msg { return &nats.Msg{} },
			wantReason: "empty body",
		},
		{
			name: "structured, missing id",
			msg: func(t *testing.T) *nats.Msg {
				return &nats.Msg{Data: editStructured(t, func(m map[string]any) { delete(m, "id") })}
			},
			wantReason: "missing required attribute id",
		},
		{
			name: "structured, missing source and type",
			msg: func(t *testing.T) *nats.Msg {
				return &nats.Msg{Data: editStructured(t, func(m map[string]any) { delete(m, "source"); delete(m, "type") })}
			},
			wantReason: "missing required attributes source, type",
		},
		{
			name: "structured, missing specversion",
			msg: func(t *testing.T) *nats.Msg {
				return &nats.Msg{Data: editStructured(t, func(m map[string]any) { delete(m, "specversion") })}
			},
			wantReason: "missing required attribute specversion",
		},
		{
			name: "structured, unsupported specversion",
			msg: func(t *testing.T) *nats.Msg {
				return &nats.Msg{Data: editStructured(t, func(m map[string]any) { m["specversion"] = "0.1" })}
			},
			wantReason: `unsupported specversion "0.1"`,
		},
		{
			name: "binary, unsupported specversion",
			msg: func(t *testing.T) *nats.Msg {
				return binaryMsg(t, keepCase, func(h nats.Header) { h["ce-specversion"] = []string{"2.0"} })
			},
			wantReason: `unsupported specversion "2.0"`,
		},
		{
			name: "binary, missing ce-id",
			msg: func(t *testing.T) *nats.Msg {
				return binaryMsg(t, keepCase, func(h nats.Header) { delete(h, "ce-id") })
			},
			wantReason: "missing required attribute id",
		},
		{
			name: "binary, malformed ce-time",
			msg: func(t *testing.T) *nats.Msg {
				return binaryMsg(t, keepCase, func(h nats.Header) { h["ce-time"] = []string{"yesterday"} })
			},
			wantReason: "invalid binary-mode attributes",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg(t)
			msg.Subject = "decode." + string(rune('a'+i))
			received := roundTrip(t, nc, msg)

			ev, err := DecodeNATS(received)
			if tc.wantReason == "" {
				require.NoError(t, err)
				tc.check(t, ev)
				return
			}
			require.Nil(t, ev)
			t.Log(err)
			var decodeErr *DecodeError
			require.True(t, errors.As(err, &decodeErr), "want *DecodeError, got %T: %v", err, err)
			require.Contains(t, decodeErr.Reason, tc.wantReason)
			require.Contains(t, err.Error(), tc.wantReason)
			require.NotContains(t, err.Error(), "\n", "errors must stay on one line in logs")
		})
	}
}

func canonicalKey(key string) string {
	parts := strings.Split(key, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		}
	}
	return strings.Join(parts, "-")
}

func TestDecodeErrorFormat(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name string
		err  *DecodeError
		want string
	}{
		{"with trigger and cause", &DecodeError{Trigger: "deploys", Reason: "body is not JSON", Err: cause},
			`trigger "deploys": malformed event: body is not JSON (boom)`},
		{"reason only", &DecodeError{Reason: "empty body"}, "malformed event: empty body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.err.Error())
			require.Equal(t, tc.err.Err, errors.Unwrap(tc.err))
		})
	}
}
