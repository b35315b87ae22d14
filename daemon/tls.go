package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/triggers"
)

// serverTLS is the TLS of the HTTP listener, or nil when it serves plain
// HTTP. With a client CA, a client certificate is asked for and, when one
// is sent, verified against it; whether one is required is each trigger's
// choice (http.auth.client_cert), so /metrics and the probes keep working
// for callers without one.
func serverTLS(cfg config.HTTPTLS) (*tls.Config, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, nil // config says so
	}
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load cert_file and key_file: %w", err)
	}
	out := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCAFile != "" {
		pool, err := certPool(cfg.ClientCAFile)
		if err != nil {
			return nil, &triggers.FieldError{Field: "http.tls.client_ca_file", Err: err}
		}
		out.ClientCAs = pool
		out.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return out, nil
}

func certPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path) //nolint:gosec // an operator's configured file
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
