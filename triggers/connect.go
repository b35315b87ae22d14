package triggers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/batchwire/batchwire/config"
)

// Connect opens the daemon's NATS connection: to cfg.URL when set (with
// cfg.CredentialsFile, and cfg.TLS, if given), otherwise to the embedded
// server; auth (user and password, or an nkey) applies to both. It
// reconnects forever, because a daemon that gives up on NATS silently stops
// receiving events; disconnects and reconnects are logged instead.
func Connect(cfg config.NATS, auth NATSAuth, embedded *server.Server, logger *slog.Logger) (*nats.Conn, error) {
	target := cfg.URL
	if target == "" {
		if embedded == nil {
			return nil, errors.New("connect to nats: no url configured and no embedded server")
		}
		target = embedded.ClientURL()
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "nats")
	opts := []nats.Option{
		nats.Name("batchwire"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				// A nil error is our own close at shutdown, not an outage.
				logger.Debug("nats disconnected")
				return
			}
			logger.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { logger.Info("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			logAsyncError(logger, sub, err)
		}),
	}
	if cfg.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
	}
	authOpts, err := auth.options()
	if err != nil {
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	opts = append(opts, authOpts...)
	opts = append(opts, natsTLSOptions(cfg.TLS)...)
	nc, err := nats.Connect(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", redactURLs(target), err)
	}
	logger.Info("nats connected", "url", nc.ConnectedUrlRedacted())
	return nc, nil
}

func logAsyncError(logger *slog.Logger, sub *nats.Subscription, err error) {
	if sub == nil {
		logger.Warn("nats async error", "err", err)
		return
	}
	dropped, _ := sub.Dropped()
	logger.Warn("nats subscription error", "subject", sub.Subject, "dropped_total", dropped, "err", err)
}

// redactURLs removes user info (user:password, or a token in the user
// position) from a comma-separated NATS server list so it can be logged.
func redactURLs(list string) string {
	servers := strings.Split(list, ",")
	for i, s := range servers {
		servers[i] = redactURL(strings.TrimSpace(s))
	}
	return strings.Join(servers, ",")
}

func redactURL(s string) string {
	parseable := s
	if !strings.Contains(s, "://") {
		// Without a scheme, url.Parse would read "user:pass@host" as an opaque URL.
		parseable = "nats://" + s
	}
	u, err := url.Parse(parseable)
	if err != nil {
		return "<unparseable url>"
	}
	u.User = nil
	return u.String()
}
