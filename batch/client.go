package batch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Options says how to reach Temporal.
type Options struct {
	Address   string
	Namespace string
	TLS       TLSOptions
	// APIKey is sent as a bearer token; it is never logged.
	APIKey string
	// Headers are extra gRPC metadata sent with every request (--grpc-meta).
	Headers map[string]string
	// OnRPCError, when set, hears about every failed Temporal RPC: the
	// method name and the gRPC code, for metrics.
	OnRPCError func(method, code string)
	// Identity names this client in Temporal's records.
	Identity    string
	DialTimeout time.Duration
	// Authority, when set, is the :authority pseudo-header and virtual host
	// the connection presents (temporal CLI --client-authority).
	Authority string
}

// TLSOptions configures TLS and mTLS towards the frontend. With none set, the
// connection is plaintext, unless an API key is given: the SDK then turns TLS
// on, which Disabled overrides (an API key over plaintext, for a local or
// mesh-encrypted frontend).
type TLSOptions struct {
	Disabled bool
	// Base asks for TLS with the system's roots and no other option.
	Base               bool
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
	// CAData, CertData and KeyData are PEM given inline instead of a file
	// (temporal CLI --tls-ca-data, --tls-cert-data, --tls-key-data).
	CAData, CertData, KeyData []byte
}

func (t TLSOptions) enabled() bool {
	return t.Base || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify ||
		len(t.CAData) > 0 || len(t.CertData) > 0 || len(t.KeyData) > 0
}

// ErrOptions marks a Dial that failed on its options (an unreadable TLS
// file), which no retry can fix.
var ErrOptions = errors.New("temporal connection options")

// Client wraps the SDK client and the raw workflow service used for batch RPCs.
type Client struct {
	sdk      client.Client
	svc      workflowservice.WorkflowServiceClient
	identity string
}

// Dial connects to Temporal and checks the connection before returning, so an
// unreachable server is an error within DialTimeout instead of a hang.
func Dial(ctx context.Context, opts Options, logger *slog.Logger) (*Client, error) {
	tlsCfg, err := opts.TLS.config()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	identity := opts.Identity
	if identity == "" {
		host, _ := os.Hostname()
		identity = fmt.Sprintf("batchwire@%s", host)
	}
	copts := client.Options{
		HostPort:          opts.Address,
		Namespace:         opts.Namespace,
		Identity:          identity,
		Logger:            tlog.NewStructuredLogger(quietLogger(logger)),
		ConnectionOptions: client.ConnectionOptions{TLS: tlsCfg, TLSDisabled: opts.TLS.Disabled, Authority: opts.Authority},
	}
	if opts.APIKey != "" {
		copts.Credentials = client.NewAPIKeyStaticCredentials(opts.APIKey)
	}
	if len(opts.Headers) > 0 {
		copts.HeadersProvider = staticHeaders(opts.Headers)
	}
	if opts.Authority != "" {
		// The SDK applies Authority only to plaintext connections; over TLS
		// gRPC then also verifies the server's certificate against it.
		copts.ConnectionOptions.DialOptions = append(copts.ConnectionOptions.DialOptions, grpc.WithAuthority(opts.Authority))
	}
	if opts.OnRPCError != nil {
		copts.ConnectionOptions.DialOptions = append(copts.ConnectionOptions.DialOptions,
			grpc.WithChainUnaryInterceptor(rpcErrors(opts.OnRPCError)))
	}
	timeout := opts.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sdk, err := client.DialContext(dialCtx, copts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %q) within %s: %w",
			opts.Address, opts.Namespace, timeout, err)
	}
	return &Client{sdk: sdk, svc: sdk.WorkflowService(), identity: identity}, nil
}

// SDK returns the underlying SDK client, for workers and single-workflow calls.
func (c *Client) SDK() client.Client { return c.sdk }

// Close releases the connection.
func (c *Client) Close() { c.sdk.Close() }

func (t TLSOptions) config() (*tls.Config, error) {
	if t.Disabled {
		if t.enabled() {
			return nil, errors.New("tls: disabled, yet TLS files or options are given")
		}
		return nil, nil
	}
	if !t.enabled() {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // operator's explicit choice
	if err := t.loadRoots(cfg); err != nil {
		return nil, err
	}
	if err := t.loadCertificate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (t TLSOptions) loadRoots(cfg *tls.Config) error {
	if t.CAFile != "" && len(t.CAData) > 0 {
		return errors.New("tls: a CA file and CA data are exclusive")
	}
	pem, source := t.CAData, "CA data"
	if t.CAFile != "" {
		var err error
		if pem, err = os.ReadFile(t.CAFile); err != nil {
			return fmt.Errorf("tls: read CA file: %w", err)
		}
		source = "CA file " + t.CAFile
	}
	if len(pem) == 0 {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("tls: %s holds no PEM certificate", source)
	}
	cfg.RootCAs = pool
	return nil
}

func (t TLSOptions) loadCertificate(cfg *tls.Config) error {
	files, data := t.CertFile != "" || t.KeyFile != "", len(t.CertData) > 0 || len(t.KeyData) > 0
	var cert tls.Certificate
	var err error
	switch {
	case files && data:
		return errors.New("tls: client certificate files and data are exclusive")
	case files:
		if t.CertFile == "" || t.KeyFile == "" {
			return errors.New("tls: cert and key files must be given together")
		}
		cert, err = tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	case data:
		if len(t.CertData) == 0 || len(t.KeyData) == 0 {
			return errors.New("tls: cert and key data must be given together")
		}
		cert, err = tls.X509KeyPair(t.CertData, t.KeyData)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("tls: load client certificate: %w", err)
	}
	cfg.Certificates = []tls.Certificate{cert}
	return nil
}

// rpcErrors reports each failed call's method and code.
func rpcErrors(report func(method, code string)) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err != nil {
			report(path.Base(method), status.Code(err).String())
		}
		return err
	}
}

type staticHeaders map[string]string

func (h staticHeaders) GetHeaders(context.Context) (map[string]string, error) { return h, nil }

// quietLogger keeps the SDK's own info chatter out of batchwire's logs.
func quietLogger(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		logger = slog.Default()
	}
	return slog.New(levelFloor{logger.Handler(), slog.LevelWarn}).With("component", "temporal-sdk")
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= l.min && l.Handler.Enabled(ctx, lvl)
}

func (l levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{l.Handler.WithAttrs(attrs), l.min}
}

func (l levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{l.Handler.WithGroup(name), l.min}
}
