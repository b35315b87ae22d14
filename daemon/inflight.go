package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/triggers"
)

// errBusy is the cause of a delivery refused for want of a slot.
var errBusy = errors.New("max_in_flight events of the trigger in flight already")

// busyRetryAfter is what a sender refused for want of a slot is told to wait.
const busyRetryAfter = time.Second

// inFlight bounds, per trigger, the events whose decisions are under way:
// each takes a slot from handle until it is settled.
type inFlight struct {
	slots   map[string]chan struct{}
	gauge   *prometheus.GaugeVec
	dropped *prometheus.CounterVec
}

func newInFlight(cfgs []config.Trigger, m *metrics) *inFlight {
	f := &inFlight{slots: map[string]chan struct{}{}, gauge: m.triggerInFlight, dropped: m.eventsDropped}
	for _, t := range cfgs {
		limit := t.MaxInFlight
		if limit <= 0 {
			limit = config.DefaultMaxInFlight
		}
		f.slots[t.Name] = make(chan struct{}, limit)
		f.gauge.WithLabelValues(t.Name).Set(0)
	}
	return f
}

// acquire takes a slot for dl, or settles dl as its WhenBusy says and
// returns false. release gives the slot back; call it once.
func (f *inFlight) acquire(ctx context.Context, dl triggers.Delivery, log *slog.Logger) (release func(), ok bool) {
	slots, bounded := f.slots[dl.Trigger]
	if !bounded {
		return func() {}, true
	}
	gauge := f.gauge.WithLabelValues(dl.Trigger)
	release = func() { gauge.Dec(); <-slots }
	select {
	case slots <- struct{}{}:
		gauge.Inc()
		return release, true
	default:
	}
	if dl.WhenBusy == triggers.DropWhenBusy {
		f.refuse(dl, log, func() error { return dl.Ack() })
		return nil, false
	}
	var deadline <-chan time.Time
	if dl.WhenBusy == triggers.RefuseWhenBusy {
		timer := time.NewTimer(time.Until(dl.Deadline))
		defer timer.Stop()
		deadline = timer.C
	}
	stop := keepInProgress(dl, log)
	defer stop()
	select {
	case slots <- struct{}{}:
		gauge.Inc()
		return release, true
	case <-deadline:
		f.refuse(dl, log, func() error { return dl.Nak(busyRetryAfter, errBusy) })
	case <-ctx.Done():
		// Intake stopped while waiting: the event goes back to its source.
		if err := dl.Nak(redeliveryBackoff(dl.Attempt), fmt.Errorf("shutting down: %w", ctx.Err())); err != nil {
			log.Warn("settle delivery", "trigger", dl.Trigger, "err", err)
		}
	}
	return nil, false
}

// refuse counts and settles a delivery that found no slot.
func (f *inFlight) refuse(dl triggers.Delivery, log *slog.Logger, settle func() error) {
	f.dropped.WithLabelValues(dl.Trigger, triggers.DropInFlight).Inc()
	log.Warn("event refused: the trigger has max_in_flight events in flight", "trigger", dl.Trigger,
		"event_id", dl.Event.ID(), "when_busy", dl.WhenBusy)
	if err := settle(); err != nil {
		log.Warn("settle delivery", "trigger", dl.Trigger, "err", err)
	}
}
