package triggers

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// connect opens a client connection to srv, closed when the test ends.
func connect(t *testing.T, srv *server.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// header is one header line of a fixture, its name in the fixture's case.
type header struct{ name, value string }

// httpFixture is an HTTP request from the shared test data, split into its
// header lines (in order, case preserved) and its body.
type httpFixture struct {
	headers []header
	body    []byte
}

// cloudEventsDir is where the repository keeps the CloudEvents payloads.
func cloudEventsDir(t testing.TB) string {
	t.Helper()
	const dir = "../testdata/cloudevents"
	info, err := os.Stat(dir)
	require.NoError(t, err, "CloudEvents test data not found")
	require.True(t, info.IsDir())
	return dir
}

// readHTTPFixture parses a raw request file by hand rather than with
// http.ReadRequest, which would canonicalise header case and trim the body to
// Content-Length; tests need both exactly as written.
func readHTTPFixture(t testing.TB, name string) httpFixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(cloudEventsDir(t), name))
	require.NoError(t, err)
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, found := bytes.Cut(raw, []byte("\n\n"))
	require.True(t, found, "%s: no blank line between headers and body", name)
	lines := strings.Split(string(head), "\n")[1:] // drop the request line
	fixture := httpFixture{body: body}
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		require.True(t, ok, "header line %q", line)
		fixture.headers = append(fixture.headers, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	return fixture
}

// natsMsg turns a fixture into a NATS message as a publisher would send it:
// ce-* and Content-Type become NATS headers, HTTP-only headers are left out.
func (f httpFixture) natsMsg(subject string) *nats.Msg {
	msg := nats.NewMsg(subject)
	for _, h := range f.headers {
		lower := strings.ToLower(h.name)
		if strings.HasPrefix(lower, "ce-") || lower == "content-type" {
			msg.Header[h.name] = append(msg.Header[h.name], h.value)
		}
	}
	msg.Data = f.body
	return msg
}

// roundTrip publishes msg through the server and returns it as received, so
// decoding is tested on what actually crosses the wire.
func roundTrip(t *testing.T, nc *nats.Conn, msg *nats.Msg) *nats.Msg {
	t.Helper()
	sub, err := nc.SubscribeSync(msg.Subject)
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, nc.PublishMsg(msg))
	received, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	return received
}
