package triggers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// decodeCloudEvents reads a request in any of the HTTP binding's content
// modes: binary (ce-* headers, the body is data), structured
// (application/cloudevents+json) or batch (application/cloudevents-batch+json,
// a JSON array of structured events). Every event is validated before any is
// handled.
// A batch holds at most maxBatch events.
func decodeCloudEvents(maxBatch int) decodeRequest {
	return func(r *http.Request, body []byte) ([]*cloudevents.Event, error) {
		return decodeCloudEventsRequest(r, body, maxBatch)
	}
}

func decodeCloudEventsRequest(r *http.Request, body []byte, maxBatch int) ([]*cloudevents.Event, error) {
	message := cehttp.NewMessage(r.Header, io.NopCloser(bytes.NewReader(body)))
	var (
		events []*cloudevents.Event
		err    error
	)
	switch message.ReadEncoding() {
	case binding.EncodingBinary:
		if err := checkExtensionHeaders(r.Header); err != nil {
			return nil, err
		}
		events, err = decodeBinaryHTTP(r, message)
	case binding.EncodingStructured:
		events, err = decodeStructuredHTTP(r, message, body)
	case binding.EncodingBatch:
		events, err = decodeBatchHTTP(body, maxBatch)
	default:
		return nil, unknownEncoding(r.Header)
	}
	if err != nil {
		return nil, err
	}
	for i, ev := range events {
		if err := ev.Validate(); err != nil {
			return nil, &DecodeError{Reason: batchPrefix(len(events), i) + validationReason(ev, err), Err: err}
		}
	}
	return events, nil
}

func decodeBinaryHTTP(r *http.Request, message binding.Message) ([]*cloudevents.Event, error) {
	ev, err := binding.ToEvent(r.Context(), message)
	if err != nil {
		return nil, &DecodeError{Reason: "invalid binary-mode attributes", Err: err}
	}
	return []*cloudevents.Event{ev}, nil
}

// decodeStructuredHTTP checks the envelope first so that the common mistakes
// (not JSON, no or unknown specversion) get a precise reason instead of the
// SDK's generic parse error.
func decodeStructuredHTTP(r *http.Request, message binding.Message, body []byte) ([]*cloudevents.Event, error) {
	if err := checkEnvelope(body); err != nil {
		return nil, err
	}
	ev, err := binding.ToEvent(r.Context(), message)
	if err != nil {
		return nil, &DecodeError{Reason: "invalid structured event", Err: err}
	}
	return []*cloudevents.Event{ev}, nil
}

// decodeBatchHTTP decodes the array element by element, as the SDK's
// binding.ToEvents does in one go, so that an error names the bad element.
func decodeBatchHTTP(body []byte, maxBatch int) ([]*cloudevents.Event, error) {
	if !json.Valid(body) {
		return nil, &DecodeError{Reason: "batch body is not JSON"}
	}
	var elements []json.RawMessage
	if json.Unmarshal(body, &elements) != nil {
		return nil, &DecodeError{Reason: "batch body is not a JSON array"}
	}
	switch {
	case len(elements) == 0:
		return nil, &DecodeError{Reason: "empty batch"}
	case len(elements) > maxBatch:
		return nil, &DecodeError{Status: http.StatusRequestEntityTooLarge,
			Reason: fmt.Sprintf("%d events in one batch, more than http.max_batch_events (%d)", len(elements), maxBatch)}
	}
	events := make([]*cloudevents.Event, 0, len(elements))
	for i, raw := range elements {
		if err := checkEnvelope(raw); err != nil {
			err.Reason = batchPrefix(len(elements), i) + err.Reason
			return nil, err
		}
		ev := event.New()
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, &DecodeError{Reason: batchPrefix(len(elements), i) + "invalid structured event", Err: err}
		}
		events = append(events, &ev)
	}
	return events, nil
}

// checkEnvelope validates what every structured event needs before the SDK
// parses it.
func checkEnvelope(raw []byte) *DecodeError {
	if len(bytes.TrimSpace(raw)) == 0 {
		return &DecodeError{Reason: "empty body"}
	}
	if !json.Valid(raw) {
		return &DecodeError{Reason: "body is not JSON"}
	}
	var envelope map[string]json.RawMessage
	if json.Unmarshal(raw, &envelope) != nil {
		return &DecodeError{Reason: "event is not a JSON object"}
	}
	specVersionJSON, ok := envelope["specversion"]
	if !ok {
		return &DecodeError{Reason: "missing required attribute specversion"}
	}
	var specVersion string
	if err := json.Unmarshal(specVersionJSON, &specVersion); err != nil || !supportedSpecVersion(specVersion) {
		return &DecodeError{Reason: fmt.Sprintf("unsupported specversion %s", specVersionJSON)}
	}
	return nil
}

// unknownEncoding explains why a request is in none of the content modes.
func unknownEncoding(header http.Header) *DecodeError {
	if specVersion := header.Get("Ce-Specversion"); specVersion != "" {
		return &DecodeError{Reason: fmt.Sprintf("unsupported specversion %q in header", specVersion)}
	}
	return &DecodeError{Reason: fmt.Sprintf("not a CloudEvent: want ce-* headers (binary mode) or Content-Type "+
		"%s or %s, got Content-Type %q", event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON,
		header.Get("Content-Type"))}
}

// batchPrefix names the element of a batch an error is about; a single
// event needs no name.
func batchPrefix(count, index int) string {
	if count == 1 {
		return ""
	}
	return fmt.Sprintf("event %d of %d: ", index+1, count)
}
