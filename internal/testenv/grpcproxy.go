package testenv

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"testing"
	"time"
)

// GRPCProxy terminates TLS in front of a plaintext gRPC server (the Temporal
// dev server) and records the headers of each request, so a test can see what
// a client sends over a real TLS connection: its :authority, its
// authorization, its metadata.
type GRPCProxy struct {
	ln net.Listener

	mu      sync.Mutex
	headers []http.Header
	hosts   []string
}

// StartGRPCProxy serves cfg's TLS on 127.0.0.1 and forwards each request, by
// HTTP/2 without TLS, to target until the test ends.
func StartGRPCProxy(t testing.TB, target string, cfg *tls.Config) *GRPCProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("grpc proxy listen: %v", err)
	}
	p := &GRPCProxy{ln: ln}
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", target, target
		},
		Transport:     &http.Transport{Protocols: protocols},
		FlushInterval: -1,
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	srv := &http.Server{TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.headers = append(p.headers, r.Header.Clone())
		p.hosts = append(p.hosts, r.Host)
		p.mu.Unlock()
		forward.ServeHTTP(w, r)
	})}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("grpc proxy: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// Addr is the proxy's address.
func (p *GRPCProxy) Addr() string { return p.ln.Addr().String() }

// Seen returns the headers and the :authority of every request so far, and
// forgets them.
func (p *GRPCProxy) Seen() ([]http.Header, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	headers, hosts := p.headers, p.hosts
	p.headers, p.hosts = nil, nil
	return headers, hosts
}
