package testenv

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// Logger logs to the test's output, shown only when a test fails or with -v,
// so logs never pollute a passing run. A benchmark's logs are dropped: per-job
// logs would drown its figures.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	if _, bench := t.(*testing.B); bench {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(newTestWriter(t), nil))
}

// CaptureLogger is Logger at the given level that also keeps what was
// logged, for tests that assert what was (or was not) logged.
func CaptureLogger(t testing.TB, level slog.Level) (*slog.Logger, func() string) {
	t.Helper()
	var kept lockedBuffer
	handler := slog.NewTextHandler(io.MultiWriter(newTestWriter(t), &kept), &slog.HandlerOptions{Level: level})
	return slog.New(handler), kept.String
}

// testWriter stops forwarding once its test is cleaned up: nats.go and the
// daemon log from goroutines (connection callbacks, shutdown), and a line
// logged after the test ended would race with the testing package.
type testWriter struct {
	mu  sync.Mutex
	out io.Writer
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{out: t.Output()}
	t.Cleanup(w.close)
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out == nil {
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out = nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
