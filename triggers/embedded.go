package triggers

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedReadyTimeout bounds how long StartEmbedded waits for the listener.
const embeddedReadyTimeout = 10 * time.Second

// StartEmbedded starts an in-process nats-server with JetStream, storing
// streams in storeDir and listening on listen ("127.0.0.1:4222"; port 0 or
// -1 picks a free port). With auth set, the server accepts that user (or
// nkey) only; without, any client, which config allows on loopback only.
// The caller owns the server and must Shutdown it.
func StartEmbedded(listen, storeDir string, auth NATSAuth, logger *slog.Logger) (*server.Server, error) {
	host, port, err := parseListen(listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	if storeDir == "" {
		// nats-server would fall back to a temp dir, losing streams on reboot.
		return nil, errors.New("embedded nats-server: JetStream store dir required")
	}
	if logger == nil {
		logger = slog.Default()
	}
	opts := &server.Options{
		ServerName: "batchwire",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		// The daemon owns signal handling (SIGTERM, SIGHUP).
		NoSigs: true,
	}
	if err := auth.serverUsers(opts); err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server on %s: %w", listen, err)
	}
	srvLog := &serverLogger{logger: logger.With("component", "nats-server")}
	srv.SetLogger(srvLog, false, false)
	srv.Start()
	if err := waitReady(srv, srvLog); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown() // release the port and store dir before a retry
		return nil, fmt.Errorf("embedded nats-server on %s: %w", listen, err)
	}
	logger.Info("embedded nats-server ready", "url", srv.ClientURL(), "store_dir", storeDir)
	return srv, nil
}

// waitReady polls in short steps because the server reports a failed listen
// (port in use) only through its logger; ReadyForConnections alone would sit
// out its whole timeout before saying anything.
func waitReady(srv *server.Server, srvLog *serverLogger) error {
	deadline := time.Now().Add(embeddedReadyTimeout)
	for time.Now().Before(deadline) {
		if err := srvLog.fatal(); err != nil {
			return err
		}
		if srv.ReadyForConnections(100 * time.Millisecond) {
			return nil
		}
	}
	if err := srvLog.fatal(); err != nil {
		return err
	}
	return fmt.Errorf("not ready for connections after %s", embeddedReadyTimeout)
}

// parseListen maps "host:port" to nats-server options, where port -1 (not 0,
// which means 4222) asks for a random port.
func parseListen(listen string) (string, int, error) {
	if listen == "" {
		return "", 0, errors.New("listen address required (host:port)")
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: invalid port %q", listen, portText)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// serverLogger routes nats-server logs to slog. Its notices (a startup
// banner among them) go to Debug; Fatalf must not exit the process as the
// server's default logger would, so it records the error for StartEmbedded.
type serverLogger struct {
	logger *slog.Logger

	mu       sync.Mutex
	fatalErr error
}

func (l *serverLogger) Noticef(format string, v ...any) { l.logger.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.logger.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.logger.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.logger.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.logger.Debug(fmt.Sprintf(format, v...)) }

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.logger.Error(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatalErr == nil {
		l.fatalErr = errors.New(msg)
	}
}

func (l *serverLogger) fatal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalErr
}
