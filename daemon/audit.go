package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/batchwire/batchwire/admit"
	"github.com/batchwire/batchwire/config"
)

// Audit record results: what was decided for one rule and one event (the
// admission pipeline's results), or how a job ended.
const (
	ResultNotMatched = admit.NotMatched
	ResultError      = admit.Error
	ResultBlocked    = admit.Blocked
	ResultDelayed    = admit.Delayed
	ResultLaunched   = admit.Launched
	ResultDuplicate  = admit.Duplicate
	ResultDryRun     = admit.DryRun
	ResultNoTargets  = admit.NoTargets
	ResultJobEnded   = "job_ended"
)

// visibilityNote goes on every record with a count.
const visibilityNote = "counts come from visibility, which is eventually consistent: approximate, and may miss workflows started a moment before the event"

// Record is one audited decision. Every event yields one record per rule of
// its trigger that matched (or failed to evaluate); rules that did not match
// are counted in batchwire_rules_evaluations_total only, so events that match
// nothing cannot flood the stream. Every job yields one more record when it
// ends.
type Record struct {
	Time        time.Time `json:"time"`
	Trigger     string    `json:"trigger,omitempty"`
	EventID     string    `json:"event_id,omitempty"`
	EventSource string    `json:"event_source,omitempty"`
	EventType   string    `json:"event_type,omitempty"`
	Rule        string    `json:"rule"`
	Result      string    `json:"result"`
	Guard       string    `json:"guard,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	Operation   string    `json:"operation,omitempty"`
	Engine      string    `json:"engine,omitempty"`
	Query       string    `json:"query,omitempty"`
	Count       *int64    `json:"count,omitempty"`
	JobID       string    `json:"job_id,omitempty"`
	JobState    string    `json:"job_state,omitempty"`
	Completed   *int64    `json:"completed,omitempty"`
	Failed      *int64    `json:"failed,omitempty"`
	Note        string    `json:"note,omitempty"`
}

// auditor writes records to the log and, unless disabled, to a JetStream
// stream, so decisions can be queried after the fact.
type auditor struct {
	cfg    config.Audit
	js     jetstream.JetStream
	log    *slog.Logger
	failed func()
}

func newAuditor(ctx context.Context, cfg config.Audit, nc *nats.Conn, log *slog.Logger, failed func()) *auditor {
	a := &auditor{cfg: cfg, log: log, failed: failed}
	if cfg.Disabled || nc == nil {
		return a
	}
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.CreateOrUpdateStream(ctx, auditStreamConfig(cfg))
	}
	if err != nil {
		log.Warn("audit stream unavailable; audit records go to the log only", "stream", cfg.Stream, "err", err)
		return a
	}
	a.js = js
	return a
}

func auditStreamConfig(cfg config.Audit) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "batchwire decision audit",
		Subjects:    []string{cfg.Subject + ".>"},
		MaxAge:      cfg.Retention.Std(),
		MaxBytes:    cfg.MaxBytes,
		MaxMsgSize:  int32(min(cfg.MaxRecordBytes, math.MaxInt32)), //nolint:gosec // bounded just here
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
	}
}

// write records one decision. Publishing waits for the stream's ack so that a
// decision is durable before the event that caused it is acked; the error
// says it is not.
func (a *auditor) write(ctx context.Context, rec Record) error {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	if rec.Count != nil {
		rec.Note = visibilityNote
	}
	short := rec.cut(a.cfg.MaxRecordBytes / 16)
	attrs := []any{"rule", short.Rule, "result", short.Result, "trigger", short.Trigger, "event_id", short.EventID,
		"job_id", short.JobID, "namespace", short.Namespace, "query", short.Query}
	if short.Guard != "" || short.Reason != "" {
		attrs = append(attrs, "guard", short.Guard, "reason", short.Reason)
	}
	if rec.Count != nil {
		attrs = append(attrs, "count", *rec.Count)
	}
	a.log.Info("decision", attrs...)
	if a.js == nil {
		return nil
	}
	body, err := fitRecord(rec, a.cfg.MaxRecordBytes)
	if err == nil {
		pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, err = a.js.Publish(pubCtx, auditSubject(a.cfg.Subject, rec.Rule), body)
		cancel()
	}
	if err != nil {
		a.failed()
		a.log.Error("audit record not stored", "rule", short.Rule, "event_id", short.EventID, "err", err)
		return fmt.Errorf("audit record of rule %q not stored: %w", rec.Rule, err)
	}
	return nil
}

// auditSubject puts the rule name in the subject so readers can filter by
// rule; characters NATS gives meaning to are replaced.
func auditSubject(prefix, rule string) string {
	safe := strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, rule)
	return prefix + "." + safe
}

// AuditFilter selects records to read back.
type AuditFilter struct {
	Rule    string
	EventID string
	JobID   string
	Since   time.Time
}

// ReadAudit returns the stored records that match filter, oldest first.
func ReadAudit(ctx context.Context, nc *nats.Conn, cfg config.Audit, filter AuditFilter) ([]Record, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("audit stream %s: %w", cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit stream %s: %w", cfg.Stream, err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	consumer, err := stream.OrderedConsumer(ctx, orderedConfig(cfg, filter))
	if err != nil {
		return nil, fmt.Errorf("audit stream %s: %w", cfg.Stream, err)
	}
	return collect(ctx, consumer, filter, info.State.LastSeq)
}

func orderedConfig(cfg config.Audit, filter AuditFilter) jetstream.OrderedConsumerConfig {
	oc := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if filter.Rule != "" {
		oc.FilterSubjects = []string{auditSubject(cfg.Subject, filter.Rule)}
	}
	if !filter.Since.IsZero() {
		since := filter.Since
		oc.DeliverPolicy, oc.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	return oc
}

// collect reads until it has seen the stream's last sequence or runs dry.
func collect(ctx context.Context, consumer jetstream.Consumer, filter AuditFilter, lastSeq uint64) ([]Record, error) {
	var out []Record
	for {
		batch, err := consumer.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, fmt.Errorf("audit: read: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			var rec Record
			if json.Unmarshal(msg.Data(), &rec) == nil && filter.matches(rec) {
				out = append(out, rec)
			}
			if meta, err := msg.Metadata(); err == nil && meta.Sequence.Stream >= lastSeq {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("audit: read: %w", err)
		}
		if n == 0 || ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
}

// matches also checks the record's own time: the stream's start time only
// says when the record was stored.
func (f AuditFilter) matches(rec Record) bool {
	return (f.EventID == "" || rec.EventID == f.EventID) && (f.JobID == "" || rec.JobID == f.JobID) &&
		(f.Since.IsZero() || !rec.Time.Before(f.Since))
}
