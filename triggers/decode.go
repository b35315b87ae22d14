package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	cenats "github.com/cloudevents/sdk-go/protocol/nats/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go"
)

// specVersionHeader marks a binary-mode message. NATS headers keep the case
// the publisher used, so it is matched case-insensitively.
const specVersionHeader = "ce-specversion"

// DecodeError says why a message is not a valid CloudEvent. Reason is meant
// for operators (audit records, logs); Err, when set, is the underlying cause.
type DecodeError struct {
	Trigger string
	Reason  string
	Err     error
	// Status, when set, is the HTTP status a request refused with this error
	// gets (413 for a bound, 415 for a media type); 400 otherwise.
	Status int
	// Panicked reports a decoding library that panicked on the input (a bug
	// of the library; the input is refused and the process goes on). Stack is
	// where it panicked, for the log.
	Panicked bool
	Stack    string
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Trigger != "" {
		fmt.Fprintf(&b, "trigger %q: ", e.Trigger)
	}
	b.WriteString("malformed event: ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(" (")
		b.WriteString(oneLine(e.Err))
		b.WriteString(")")
	}
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// DecodeNATS decodes a NATS message into a validated CloudEvent. A message
// with a ce-specversion header is binary mode (ce-* headers are attributes,
// Content-Type is datacontenttype, the body is data); any other message is
// structured mode, its body a JSON CloudEvent. Errors are *DecodeError.
func DecodeNATS(msg *nats.Msg) (ev *cloudevents.Event, err error) {
	defer recoverDecode(&ev, &err)
	if specVersion, ok := headerFold(msg.Header, specVersionHeader); ok {
		ev, err = decodeBinary(msg, specVersion)
	} else {
		ev, err = decodeStructured(msg)
	}
	if err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, &DecodeError{Reason: validationReason(ev, err), Err: err}
	}
	return ev, nil
}

// decodeBinary reuses the HTTP binding: its header rules (ce- prefix,
// extensions, Content-Type) are the ones NATS publishers follow, and an
// http.Header canonicalises keys so "ce-id" and "Ce-Id" read the same.
func decodeBinary(msg *nats.Msg, specVersion string) (*cloudevents.Event, error) {
	if !supportedSpecVersion(specVersion) {
		return nil, &DecodeError{Reason: fmt.Sprintf("unsupported specversion %q in header", specVersion)}
	}
	if err := checkExtensionHeaders(msg.Header); err != nil {
		return nil, err
	}
	return decodeBinaryUnchecked(msg)
}

// decodeBinaryUnchecked hands the message to the SDK as it is.
func decodeBinaryUnchecked(msg *nats.Msg) (*cloudevents.Event, error) {
	header := make(http.Header, len(msg.Header))
	for key, values := range msg.Header {
		for _, value := range values {
			header.Add(key, value)
		}
	}
	message := cehttp.NewMessage(header, io.NopCloser(bytes.NewReader(msg.Data)))
	ev, err := binding.ToEvent(context.Background(), message)
	if err != nil {
		return nil, &DecodeError{Reason: "invalid binary-mode attributes", Err: err}
	}
	return ev, nil
}

// ceHeaderPrefix starts every binary-mode attribute header.
const ceHeaderPrefix = "ce-"

// checkExtensionHeaders refuses a header named just "ce-", with no attribute
// name after the prefix, before the SDK reads it: sdk-go panics on it (see
// recoverDecode).
func checkExtensionHeaders[H ~map[string][]string](header H) *DecodeError {
	for key := range header {
		if strings.EqualFold(key, ceHeaderPrefix) {
			return &DecodeError{Reason: fmt.Sprintf("header %q names no attribute", key)}
		}
	}
	return nil
}

// recoverDecode turns a panic inside a decoding library into a refused
// input, so that nothing a sender can put in a message stops the process.
// Every decoder entry point (DecodeNATS, HTTPSource's decode) defers it.
//
// Known case, to report upstream (cloudevents/sdk-go v2.16.2):
//
//	protocol/http.(*Message).ReadBinary panics with "index out of range [3]
//	with length 3" on a header named exactly "Ce-": it strips the "Ce-"
//	prefix and reads k[len(prefix)] without checking that anything follows.
//	Reproduction:
//
//	    h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-": {"x"}}
//	    msg := cehttp.NewMessage(h, io.NopCloser(strings.NewReader("{}")))
//	    _, _ = binding.ToEvent(context.Background(), msg) // panics
//
//	The NATS binding reaches the same code when batchwire decodes a
//	binary-mode NATS message through the HTTP binding, and an HTTP request
//	reaches it directly. checkExtensionHeaders refuses such a header first;
//	this recover is for the panics nobody has found yet.
func recoverDecode(events any, err *error) {
	r := recover()
	if r == nil {
		return
	}
	switch out := events.(type) {
	case **cloudevents.Event:
		*out = nil
	case *[]*cloudevents.Event:
		*out = nil
	}
	*err = &DecodeError{Reason: "decoder panicked on this input", Err: fmt.Errorf("panic: %v", r),
		Panicked: true, Stack: string(debug.Stack())}
}

// decodeStructured checks the envelope first so that the common mistakes
// (not JSON, no or unknown specversion) get a precise reason instead of the
// SDK's generic parse error.
func decodeStructured(msg *nats.Msg) (*cloudevents.Event, error) {
	if len(bytes.TrimSpace(msg.Data)) == 0 {
		return nil, &DecodeError{Reason: "empty body and no ce-specversion header"}
	}
	if !json.Valid(msg.Data) {
		return nil, &DecodeError{Reason: "body is not JSON"}
	}
	var envelope map[string]json.RawMessage
	if json.Unmarshal(msg.Data, &envelope) != nil {
		return nil, &DecodeError{Reason: "body is not a JSON object"}
	}
	raw, ok := envelope["specversion"]
	if !ok {
		return nil, &DecodeError{Reason: "missing required attribute specversion"}
	}
	var specVersion string
	if err := json.Unmarshal(raw, &specVersion); err != nil || !supportedSpecVersion(specVersion) {
		return nil, &DecodeError{Reason: fmt.Sprintf("unsupported specversion %s", raw)}
	}
	ev, err := binding.ToEvent(context.Background(), cenats.NewMessage(msg))
	if err != nil {
		return nil, &DecodeError{Reason: "invalid structured event", Err: err}
	}
	return ev, nil
}

func supportedSpecVersion(v string) bool {
	return v == event.CloudEventsVersionV1 || v == event.CloudEventsVersionV03
}

// headerFold finds a header whatever case the publisher used.
func headerFold(h nats.Header, name string) (string, bool) {
	for key, values := range h {
		if strings.EqualFold(key, name) && len(values) > 0 {
			return values[0], true
		}
	}
	return "", false
}

// validationReason names missing required attributes plainly and lists
// other violations, in a stable order (ValidationError is a map).
func validationReason(ev *cloudevents.Event, err error) string {
	var verr event.ValidationError
	if !errors.As(err, &verr) {
		return "invalid event"
	}
	var missing, invalid []string
	for _, attr := range slices.Sorted(maps.Keys(verr)) {
		if attributeEmpty(ev, attr) {
			missing = append(missing, attr)
		} else {
			invalid = append(invalid, attr)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, plural("missing required attribute", len(missing))+" "+strings.Join(missing, ", "))
	}
	if len(invalid) > 0 {
		parts = append(parts, plural("invalid attribute", len(invalid))+" "+strings.Join(invalid, ", "))
	}
	return strings.Join(parts, "; ")
}

func plural(noun string, n int) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func attributeEmpty(ev *cloudevents.Event, attr string) bool {
	switch attr {
	case "id":
		return strings.TrimSpace(ev.ID()) == ""
	case "source":
		return strings.TrimSpace(ev.Source()) == ""
	case "type":
		return strings.TrimSpace(ev.Type()) == ""
	}
	return false
}

// oneLine renders an error on one line; ValidationError's own text is
// multi-line and in map order, which makes logs hard to read and compare.
func oneLine(err error) string {
	verr, ok := err.(event.ValidationError) //nolint:errorlint // only the SDK's own value is reformatted
	if !ok {
		return err.Error()
	}
	parts := make([]string, 0, len(verr))
	for _, attr := range slices.Sorted(maps.Keys(verr)) {
		parts = append(parts, attr+": "+verr[attr].Error())
	}
	return strings.Join(parts, "; ")
}
