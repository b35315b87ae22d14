package daemon

import (
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/triggers"
)

// A panic while handling one event (a bug; no input is known to cause one, so
// it is raised by hand here) is recovered: counted, and the event is handed
// back to its source through a fake delivery that records the Nak.
func TestHandlerPanicIsRecoveredAndNaked(t *testing.T) {
	cfg, err := config.Parse([]byte("triggers: [{name: t, nats: {subject: s}}]\n"))
	require.NoError(t, err)
	d, reg := newTestDaemon(t, cfg)
	ev := cloudevents.NewEvent()
	ev.SetID("boom")
	var nakDelay time.Duration
	var nakCause error
	fake := triggers.Delivery{Trigger: "t", Event: &ev, Attempt: 2,
		Nak: func(delay time.Duration, cause error) error { nakDelay, nakCause = delay, cause; return nil }}

	require.NotPanics(t, func() {
		defer d.survive(fake)
		panic("bug")
	})
	require.Equal(t, 2*time.Second, nakDelay)
	require.ErrorContains(t, nakCause, "panic: bug")
	require.Equal(t, 1.0, metricValue(t, reg, "batchwire_events_panics_total", map[string]string{"trigger": "t"}))
}
