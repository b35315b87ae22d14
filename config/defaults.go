package config

import (
	"os"
	"time"
)

func (c *Config) applyDefaults() {
	c.Temporal.applyDefaults()
	c.Launch.applyDefaults()
	c.Audit.applyDefaults()
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.Metrics.JobRetention == 0 {
		c.Metrics.JobRetention = Duration(10 * time.Minute)
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.NATS.URL == "" && c.NATS.Listen == "" {
		c.NATS.Listen = "127.0.0.1:4222"
	}
	for i := range c.Rules {
		if c.Rules[i].Namespace == "" {
			c.Rules[i].Namespace = c.Temporal.Namespace
		}
		if c.Rules[i].Engine == "" {
			c.Rules[i].Engine = "auto"
		}
	}
	for i := range c.Triggers {
		c.Triggers[i].applyDefaults()
	}
}

func (t *Temporal) applyDefaults() {
	t.Address = firstNonEmpty(t.Address, os.Getenv("TEMPORAL_ADDRESS"), DefaultTemporalAddress)
	t.Namespace = firstNonEmpty(t.Namespace, os.Getenv("TEMPORAL_NAMESPACE"), DefaultNamespace)
	if t.DialTimeout == 0 {
		t.DialTimeout = Duration(10 * time.Second)
	}
	if t.PollInterval == 0 {
		t.PollInterval = Duration(DefaultPollInterval)
	}
}

func (l *Launch) applyDefaults() {
	if l.Watchdog == 0 {
		l.Watchdog = Duration(5 * time.Minute)
	}
	if l.RetryBudget == 0 {
		l.RetryBudget = Duration(15 * time.Second)
	}
	if l.AutoClientMax == 0 {
		l.AutoClientMax = DefaultAutoClientMax
	}
	if l.DirectMax == 0 {
		l.DirectMax = DefaultDirectMax
	}
	if l.ServerRPS == 0 {
		l.ServerRPS = DefaultServerRPS
	}
	if l.ClientConcurrency == 0 {
		l.ClientConcurrency = DefaultClientConcurrency
	}
	if l.MinOpsForRatio == 0 {
		l.MinOpsForRatio = 10
	}
}

func (a *Audit) applyDefaults() {
	if a.Stream == "" {
		a.Stream = "BATCHWIRE_AUDIT"
	}
	if a.Subject == "" {
		a.Subject = "batchwire.audit"
	}
	if a.Retention == 0 {
		a.Retention = Duration(7 * 24 * time.Hour)
	}
	if a.MaxBytes == 0 {
		a.MaxBytes = 1 << 30
	}
	if a.MaxRecordBytes == 0 {
		a.MaxRecordBytes = 64 << 10
	}
}

func (t *Trigger) applyDefaults() {
	if t.MaxInFlight == 0 {
		t.MaxInFlight = DefaultMaxInFlight
	}
	if h := t.HTTP; h != nil {
		if h.MaxAlerts == 0 {
			h.MaxAlerts = DefaultMaxAlerts
		}
		if h.MaxBatchEvents == 0 {
			h.MaxBatchEvents = DefaultMaxBatchEvents
		}
		if h.Format == "" {
			h.Format = "cloudevents"
		}
		if h.MaxBodyBytes == 0 {
			h.MaxBodyBytes = 1 << 20
		}
		if h.Timeout == 0 {
			h.Timeout = Duration(30 * time.Second)
		}
		if sw := h.standardWebhooks(); sw != nil && sw.Tolerance == 0 {
			sw.Tolerance = Duration(DefaultWebhookTolerance)
		}
	}
	js := t.JetStream
	if js == nil {
		return
	}
	if js.Durable == "" {
		js.Durable = "batchwire-" + t.Name
	}
	if js.CreateStream == nil {
		yes := true
		js.CreateStream = &yes
	}
	if js.Deliver == "" {
		js.Deliver = "all"
	}
	if js.MaxAge == 0 {
		js.MaxAge = Duration(7 * 24 * time.Hour)
	}
	if js.MaxDeliver == 0 {
		js.MaxDeliver = 5
	}
	if js.AckWait == 0 {
		js.AckWait = Duration(30 * time.Second)
	}
	if js.DeadLetter == "" {
		js.DeadLetter = "batchwire.dead." + t.Name
	}
}

func (h *HTTPTrigger) standardWebhooks() *StandardWebhooks {
	if h.Webhook == nil {
		return nil
	}
	return h.Webhook.StandardWebhooks
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
