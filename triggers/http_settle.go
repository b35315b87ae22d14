package triggers

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// httpSettlementKind is how the daemon settled one event of a request.
type httpSettlementKind int

const (
	settledAck httpSettlementKind = iota
	settledNak
)

// httpSettlement is one event's settlement, sent back to the waiting request.
type httpSettlement struct {
	kind  httpSettlementKind
	delay time.Duration
	cause error
}

// httpOutcome tallies the settlements of one request's events.
type httpOutcome struct {
	events  int
	acked   int
	naked   int
	pending int // not handed to the handler, or not settled in time
	// retryAfter is the largest Nak delay.
	retryAfter time.Duration
	causes     []string
}

// deliverAll hands the events to the handler in order, during this request's
// turn, then waits for their settlements until ctx is done.
func (s *HTTPSource) deliverAll(ctx context.Context, events []*cloudevents.Event) httpOutcome {
	// Buffered for every event: each settles at most once, so a daemon that
	// settles after the request gave up never blocks.
	results := make(chan httpSettlement, len(events))
	handed := s.handAll(ctx, events, results)
	outcome := httpOutcome{events: len(events), pending: len(events) - handed}
	for range handed {
		select {
		case r := <-results:
			outcome.add(r)
		case <-ctx.Done():
			outcome.pending += handed - outcome.settled()
			return outcome
		}
	}
	return outcome
}

// handAll calls the handler for each event and returns how many it was given;
// it stops early when the request's time is up or Run has stopped. Each
// handler call gets Run's context, not the request's, so a decision goes on
// to its end even when the sender has given up waiting for it.
func (s *HTTPSource) handAll(ctx context.Context, events []*cloudevents.Event, results chan<- httpSettlement) int {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	defer func() { <-s.turn }()
	run := s.run.Load()
	for i, ev := range events {
		if run == nil || run.ctx.Err() != nil || ctx.Err() != nil {
			return i
		}
		deadline, _ := ctx.Deadline()
		run.handle(run.ctx, s.delivery(ev, results, deadline))
	}
	return len(events)
}

// delivery reports the settlement of ev on results. InProgress is left nil:
// the sender's wait is bounded by the timeout (given as AckWait), and nothing
// can extend it.
func (s *HTTPSource) delivery(ev *cloudevents.Event, results chan<- httpSettlement, deadline time.Time) Delivery {
	report := func(r httpSettlement) func() error {
		return func() error { results <- r; return nil }
	}
	ack, nak := settleOnce(
		report(httpSettlement{kind: settledAck}),
		func(delay time.Duration, cause error) error {
			return report(httpSettlement{kind: settledNak, delay: delay, cause: cause})()
		},
	)
	return Delivery{
		Trigger: s.trigger.Name,
		Event:   ev,
		Attempt: 1,
		Ack:     ack,
		Nak:     nak,
		AckWait: s.cfg.Timeout.Std(),
		// A busy daemon keeps the sender waiting, as long as the request's
		// timeout allows, then answers 503.
		WhenBusy: RefuseWhenBusy,
		Deadline: deadline,
	}
}

func (o *httpOutcome) add(r httpSettlement) {
	switch r.kind {
	case settledAck:
		o.acked++
	case settledNak:
		o.naked++
		o.retryAfter = max(o.retryAfter, r.delay)
		if r.cause != nil {
			o.causes = append(o.causes, r.cause.Error())
		}
	}
}

func (o *httpOutcome) settled() int { return o.acked + o.naked }

// httpReply is the JSON body of every answer.
type httpReply struct {
	// Accepted counts events acked.
	Accepted int `json:"accepted"`
	// Retry counts events nak'ed, Pending those with no decision in time.
	Retry   int    `json:"retry,omitempty"`
	Pending int    `json:"pending,omitempty"`
	Error   string `json:"error,omitempty"`
}

// respond answers 202 only when every event has a final decision; anything
// else asks the sender to re-send the whole request.
func (s *HTTPSource) respond(w http.ResponseWriter, o httpOutcome) {
	reply := httpReply{Accepted: o.acked, Retry: o.naked, Pending: o.pending}
	if o.naked == 0 && o.pending == 0 {
		writeReply(w, http.StatusAccepted, reply)
		return
	}
	retryAfter := max(o.retryAfter, time.Second)
	reply.Error = fmt.Sprintf("%d of %d events not decided yet (%d to retry, %d without a decision in time): "+
		"re-send the request after %s", o.naked+o.pending, o.events, o.naked, o.pending, retryAfterSeconds(retryAfter)+"s")
	s.logger.Warn("request not accepted, sender asked to retry", "events", o.events, "accepted", reply.Accepted,
		"retry", o.naked, "pending", o.pending, "retry_after", retryAfter, "causes", o.causes)
	writeUnavailable(w, retryAfter, reply)
}

// writeUnavailable answers 503 with Retry-After in whole seconds, rounded up
// and at least 1, as the header allows no fractions.
func writeUnavailable(w http.ResponseWriter, retryAfter time.Duration, reply httpReply) {
	w.Header().Set("Retry-After", retryAfterSeconds(retryAfter))
	writeReply(w, http.StatusServiceUnavailable, reply)
}

func retryAfterSeconds(d time.Duration) string {
	seconds := max(int64(math.Ceil(d.Seconds())), 1)
	return strconv.FormatInt(seconds, 10)
}

func writeReply(w http.ResponseWriter, status int, reply httpReply) {
	body, err := json.Marshal(reply)
	if err != nil {
		// httpReply holds only ints and strings; Marshal cannot fail.
		body = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
