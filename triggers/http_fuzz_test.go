package triggers

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// Every decoder is fuzzed through the entry point a sender reaches
// (DecodeNATS, HTTPSource.Decode), seeded with the real payloads in
// testdata. Each input must be refused with a *DecodeError that is not a
// recovered panic, or become only valid events: a panic the decoders
// recover from is still a failure here, so that it is found and reported.

// requireDecoded checks what a decoder made of one input.
func requireDecoded(t *testing.T, events []*event.Event, err error) {
	t.Helper()
	if err != nil {
		var decodeErr *DecodeError
		require.True(t, errors.As(err, &decodeErr), "error %v is not a *DecodeError", err)
		require.False(t, decodeErr.Panicked, "a decoder panicked: %v\n%s", decodeErr.Err, decodeErr.Stack)
		return
	}
	require.NotEmpty(t, events)
	for _, ev := range events {
		require.NoError(t, ev.Validate())
	}
}

// seedFiles adds every file of a testdata directory, as it is.
func seedFiles(f *testing.F, sub string, add func(body []byte)) {
	paths, err := filepath.Glob(filepath.Join(fixtureDir(f, sub), "*.json"))
	require.NoError(f, err)
	require.NotEmpty(f, paths)
	for _, path := range paths {
		body, err := os.ReadFile(path) //nolint:gosec // the tests' own data files
		require.NoError(f, err)
		add(body)
	}
}

// binarySeeds are the header blocks of the binary-mode fixture and of the
// message that made the SDK panic, one "name: value" per line.
func binarySeeds(f *testing.F) (headers []string, body []byte) {
	fixture := readRequestFixture(f, "cloudevents", "conformance_binary_request.http")
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(fixture.header)) {
		for _, value := range fixture.header[name] {
			lines = append(lines, name+": "+value)
		}
	}
	block := strings.Join(lines, "\n")
	return []string{block, block + "\nce-: boom", block + "\nce-Ext: x"}, fixture.body
}

// parseHeaderBlock reads "name: value" lines; a line without a colon is a
// name with an empty value.
func parseHeaderBlock(block string) map[string][]string {
	header := map[string][]string{}
	for line := range strings.SplitSeq(block, "\n") {
		name, value, _ := strings.Cut(line, ":")
		if name = strings.TrimSpace(name); name != "" {
			header[name] = append(header[name], strings.TrimSpace(value))
		}
	}
	return header
}

func FuzzDecodeNATSStructured(f *testing.F) {
	seedFiles(f, "cloudevents", func(body []byte) { f.Add(body) })
	f.Add(readHTTPFixture(f, structuredFixture).body)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeNATS(&nats.Msg{Subject: "s", Data: body})
		if err == nil {
			requireDecoded(t, []*event.Event{ev}, nil)
			return
		}
		requireDecoded(t, nil, err)
	})
}

func FuzzDecodeNATSBinary(f *testing.F) {
	headers, body := binarySeeds(f)
	for _, h := range headers {
		f.Add(h, body)
	}
	f.Fuzz(func(t *testing.T, headerBlock string, body []byte) {
		msg := &nats.Msg{Subject: "s", Header: nats.Header(parseHeaderBlock(headerBlock)), Data: body}
		msg.Header["ce-specversion"] = []string{"1.0"} // always binary mode
		ev, err := DecodeNATS(msg)
		if err == nil {
			requireDecoded(t, []*event.Event{ev}, nil)
			return
		}
		requireDecoded(t, nil, err)
	})
}

// fuzzHTTP builds the trigger's source and decodes each input through it.
func fuzzHTTP(f *testing.F, trigger config.Trigger) func(t *testing.T, header http.Header, body []byte) {
	src, err := NewHTTPSource(trigger, testenv.Logger(f))
	require.NoError(f, err)
	return func(t *testing.T, header http.Header, body []byte) {
		events, err := src.Decode(context.Background(), header, body)
		requireDecoded(t, events, err)
	}
}

func contentType(value string) http.Header { return http.Header{"Content-Type": []string{value}} }

func FuzzHTTPCloudEventsStructured(f *testing.F) {
	seedFiles(f, "cloudevents", func(body []byte) { f.Add(body) })
	f.Add(readHTTPFixture(f, structuredFixture).body)
	decode := fuzzHTTP(f, httpTrigger("ce", "cloudevents", nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		decode(t, contentType(event.ApplicationCloudEventsJSON), body)
	})
}

func FuzzHTTPCloudEventsBinary(f *testing.F) {
	headers, body := binarySeeds(f)
	for _, h := range headers {
		f.Add(h, body)
	}
	decode := fuzzHTTP(f, httpTrigger("ce", "cloudevents", nil))
	f.Fuzz(func(t *testing.T, headerBlock string, body []byte) {
		header := http.Header{}
		for name, values := range parseHeaderBlock(headerBlock) {
			for _, value := range values {
				header.Add(name, value)
			}
		}
		header.Set("Ce-Specversion", "1.0")
		decode(t, header, body)
	})
}

func FuzzHTTPCloudEventsBatch(f *testing.F) {
	seedFiles(f, "cloudevents", func(body []byte) { f.Add(body) })
	decode := fuzzHTTP(f, httpTrigger("ce", "cloudevents", func(h *config.HTTPTrigger) { h.MaxBatchEvents = 10 }))
	f.Fuzz(func(t *testing.T, body []byte) {
		decode(t, contentType(event.ApplicationCloudEventsBatchJSON), body)
	})
}

func FuzzAlertmanager(f *testing.F) {
	seedFiles(f, "alertmanager", func(body []byte) { f.Add(body) })
	src, err := NewHTTPSource(httpTrigger("alerts", "alertmanager", func(h *config.HTTPTrigger) { h.MaxAlerts = 100 }), testenv.Logger(f))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := src.Decode(context.Background(), contentType("application/json"), body)
		requireDecoded(t, events, err)
		// Each event carries its alert and the group, never the others, and
		// all of them together stay within the body's bound.
		total := 0
		for _, ev := range events {
			total += len(ev.Data())
		}
		require.LessOrEqual(t, total, 2*len(body)+len(events)*(groupBytesPerAlert+64))
	})
}

func FuzzWebhook(f *testing.F) {
	seedFiles(f, "events", func(body []byte) { f.Add(body, "") })
	f.Add(readFixture(f, "events", "flipt_docs_audit_webhook_flag_updated.body.json"), "X-Delivery: 1")
	decode := fuzzHTTP(f, httpTrigger("flipt", "webhook", func(h *config.HTTPTrigger) { h.Webhook = &fliptMapping }))
	f.Fuzz(func(t *testing.T, body []byte, headerBlock string) {
		header := http.Header(parseHeaderBlock(headerBlock))
		header.Set("Content-Type", "application/json")
		decode(t, header, bytes.Clone(body))
	})
}
