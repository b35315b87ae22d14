package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/batchwire/batchwire/batch"
)

// Backoff between first-connection attempts: a dependency started after
// batchwire (compose, a pod whose Temporal is still migrating) is waited for,
// not a reason to exit.
const (
	connectBackoffMin = 100 * time.Millisecond
	connectBackoffMax = 5 * time.Second
)

// errPermanent marks a first-connection failure that waiting cannot fix: a
// bad option or credential, a server too old for a rule.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

// untilConnected calls connect until it succeeds, fails permanently, or ctx
// ends (then it returns ctx's error). Meanwhile /-/ready answers 503 with the
// reason, and each failure is logged (the first at warn, then every tenth).
func (d *Daemon) untilConnected(ctx context.Context, what string, connect func(context.Context) error) error {
	defer d.waiting.Store("")
	d.waiting.Store("waiting for " + what + ": connecting")
	delay := connectBackoffMin
	for attempt := 1; ; attempt++ {
		err := connect(ctx)
		if err == nil {
			if attempt > 1 {
				d.log.Info("connected after waiting", "to", what, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var permanent errPermanent
		if errors.As(err, &permanent) {
			return permanent.err
		}
		d.waiting.Store(fmt.Sprintf("waiting for %s: %v", what, err))
		if attempt == 1 || attempt%10 == 0 {
			d.log.Warn("cannot connect yet; retrying", "to", what, "attempt", attempt, "retry_in", delay, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, connectBackoffMax)
	}
}

// dialTemporal connects to Temporal and checks the server can run every
// rule, waiting for a server that is not there yet.
func (d *Daemon) dialTemporal(ctx context.Context) (*batch.Client, error) {
	var temporal *batch.Client
	err := d.untilConnected(ctx, "Temporal at "+d.cfg.Temporal.Address, func(ctx context.Context) error {
		c, err := batch.Dial(ctx, d.temporalOptions(), d.log)
		if err != nil {
			return temporalDialError(err)
		}
		if err := d.checkServer(ctx, c); err != nil {
			c.Close()
			return err
		}
		temporal = c
		return nil
	})
	return temporal, err
}

// temporalDialError tells a bad option or credential, which waiting cannot
// fix, from a server that is not reachable yet.
func temporalDialError(err error) error {
	var denied *serviceerror.PermissionDenied
	if errors.Is(err, batch.ErrOptions) || errors.As(err, &denied) || status.Code(err) == codes.Unauthenticated {
		return errPermanent{err}
	}
	return err
}

// connectNATSWaiting connects to NATS, waiting for a server that is not
// there yet; anything but "no server answers" is permanent.
func (d *Daemon) connectNATSWaiting(ctx context.Context) (*nats.Conn, func(), error) {
	var nc *nats.Conn
	var stop func()
	where := "the embedded NATS server"
	if d.cfg.NATS.URL != "" {
		where = "NATS"
	}
	err := d.untilConnected(ctx, where, func(context.Context) error {
		conn, stopConn, err := d.connectNATS()
		if err != nil {
			if errors.Is(err, nats.ErrNoServers) && d.cfg.NATS.URL != "" {
				return err
			}
			return errPermanent{err}
		}
		nc, stop = conn, stopConn
		return nil
	})
	return nc, stop, err
}
