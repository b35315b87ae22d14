package triggers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/internal/testenv"
)

// fixtureDir finds a directory of the shared test data, whether it sits in
// the repository or beside it in the workspace.
func fixtureDir(t testing.TB, sub string) string {
	t.Helper()
	for _, dir := range []string{filepath.Join("..", "testdata", sub), filepath.Join("..", "..", "shared", "testdata", sub)} {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return dir
		}
	}
	require.FailNow(t, "test data not found", "testdata/%s", sub)
	return ""
}

// readFixture returns a file of the shared test data as it is.
func readFixture(t testing.TB, sub, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir(t, sub), name)) //nolint:gosec // the tests' own data files
	require.NoError(t, err)
	return raw
}

// requestFixture is a raw HTTP request from the test data, parsed the way a
// server parses it: request line, headers, and the body cut to Content-Length.
type requestFixture struct {
	method string
	path   string
	header http.Header
	body   []byte
}

func readRequestFixture(t testing.TB, sub, name string) requestFixture {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(readFixture(t, sub, name))))
	require.NoError(t, err, "parse %s", name)
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err, "read body of %s", name)
	return requestFixture{method: req.Method, path: req.URL.Path, header: req.Header, body: body}
}

// send replays the fixture against a real server, to the fixture's own path.
// Host and Content-Length come from the client, as they would on the wire.
func (f requestFixture) send(t *testing.T, serverURL string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(f.method, serverURL+f.path, bytes.NewReader(f.body))
	require.NoError(t, err)
	for name, values := range f.header {
		if name == "Host" || name == "Content-Length" {
			continue
		}
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// recorder is the daemon's side of a test: a Handler that keeps what it was
// given and settles each delivery from a goroutine, after the handler has
// returned, as the daemon does. It also notices overlapping handler calls.
type recorder struct {
	mu         sync.Mutex
	deliveries []Delivery
	invalid    []error
	authFailed []string // reasons
	// settle decides each delivery; nil acks it.
	settle func(d Delivery)
	// busy is how long each handler call takes.
	busy       time.Duration
	inside     atomic.Int32
	overlapped atomic.Bool
}

func (r *recorder) handle(_ context.Context, d Delivery) {
	if r.inside.Add(1) > 1 {
		r.overlapped.Store(true)
	}
	defer r.inside.Add(-1)
	time.Sleep(r.busy)
	r.mu.Lock()
	r.deliveries = append(r.deliveries, d)
	settle := r.settle
	r.mu.Unlock()
	if settle == nil {
		settle = func(d Delivery) { _ = d.Ack() }
	}
	go settle(d)
}

func (r *recorder) reportInvalid(_ string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invalid = append(r.invalid, err)
}

func (r *recorder) reportAuthFailure(_, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authFailed = append(r.authFailed, reason)
}

func (r *recorder) authFailures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.authFailed...)
}

func (r *recorder) handled() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.deliveries...)
}

func (r *recorder) invalids() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.invalid...)
}

// eventIDs lists the ids of the handled events, in handling order.
func (r *recorder) eventIDs() []string {
	var ids []string
	for _, d := range r.handled() {
		ids = append(ids, d.Event.ID())
	}
	return ids
}

// httpTrigger is a trigger with test-sized defaults.
func httpTrigger(name, format string, edit func(*config.HTTPTrigger)) config.Trigger {
	h := &config.HTTPTrigger{Path: "/hooks/" + name, Format: format, Timeout: config.Duration(5 * time.Second)}
	if edit != nil {
		edit(h)
	}
	return config.Trigger{Name: name, HTTP: h}
}

// startSource builds the source and runs it until the test ends.
func startSource(t *testing.T, trigger config.Trigger, rec *recorder) *HTTPSource {
	t.Helper()
	return startSourceLogged(t, trigger, rec, testenv.Logger(t))
}

func startSourceLogged(t *testing.T, trigger config.Trigger, rec *recorder, logger *slog.Logger) *HTTPSource {
	t.Helper()
	src, err := NewHTTPSource(trigger, logger)
	require.NoError(t, err)
	src.OnAuthFailure(rec.reportAuthFailure)
	stop := runHTTPSource(t, src, rec)
	t.Cleanup(stop)
	return src
}

// runHTTPSource runs src and returns a function that stops it and waits for Run.
func runHTTPSource(t *testing.T, src *HTTPSource, rec *recorder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.handle, rec.reportInvalid) }()
	receiveWithin(t, src.Started(), "the HTTP source to start")
	// Started stays closed after a first Run; a second one is live once set.
	require.Eventually(t, func() bool { return src.run.Load() != nil }, 5*time.Second, time.Millisecond)
	return func() {
		cancel()
		require.NoError(t, <-done)
	}
}

// serve mounts the source on a mux at its path, as the daemon does.
func serve(t *testing.T, src *HTTPSource) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(src.Path(), src)
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server
}

// post calls ServeHTTP directly with a POST of body.
func post(src *HTTPSource, contentType string, body []byte, edit func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, src.Path(), bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(req)
	}
	rr := httptest.NewRecorder()
	src.ServeHTTP(rr, req)
	return rr
}

// decodeReply reads an answer's JSON body.
func decodeReply(t *testing.T, body io.Reader) httpReply {
	t.Helper()
	var reply httpReply
	require.NoError(t, json.NewDecoder(body).Decode(&reply))
	return reply
}

// editJSON rewrites a JSON fixture, so a case differs from the real payload
// in exactly the way it means to.
func editJSON(t *testing.T, raw []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&body))
	edit(body)
	out, err := json.Marshal(body)
	require.NoError(t, err)
	return out
}

// requireRejected checks a request refused as a whole: the status, an error
// body containing want, one call of invalid and no event handled.
func requireRejected(t *testing.T, rr *httptest.ResponseRecorder, rec *recorder, status int, want string) {
	t.Helper()
	require.Equal(t, status, rr.Code, rr.Body.String())
	require.Equal(t, "application/json", rr.Header().Get("Content-Type"))
	reply := decodeReply(t, rr.Body)
	require.Contains(t, reply.Error, want)
	require.Zero(t, reply.Accepted)
	require.Empty(t, rec.handled(), "no event of a refused request may be handled")
	invalid := rec.invalids()
	require.Len(t, invalid, 1, "invalid is called once per refused request")
	var decodeErr *DecodeError
	require.ErrorAs(t, invalid[0], &decodeErr)
	require.NotEmpty(t, decodeErr.Trigger)
	require.True(t, strings.Contains(invalid[0].Error(), want), "invalid got %q, want it to contain %q", invalid[0], want)
}

// requireUnauthorized checks a request refused for its credentials: 401, an
// error body containing want, one auth failure with reason, and neither an
// event handled nor a call of invalid.
func requireUnauthorized(t *testing.T, rr *httptest.ResponseRecorder, rec *recorder, reason, want string) {
	t.Helper()
	require.Equal(t, http.StatusUnauthorized, rr.Code, rr.Body.String())
	require.Equal(t, "application/json", rr.Header().Get("Content-Type"))
	reply := decodeReply(t, rr.Body)
	require.Contains(t, reply.Error, want)
	require.Empty(t, rec.handled(), "no event of a refused request may be handled")
	require.Empty(t, rec.invalids(), "a refused credential is no invalid event")
	require.Equal(t, []string{reason}, rec.authFailures())
}
