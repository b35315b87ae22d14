package config

// Trigger is a named event source. Exactly one source kind is set.
type Trigger struct {
	Name      string            `yaml:"name"`
	NATS      *NATSTrigger      `yaml:"nats"`
	JetStream *JetStreamTrigger `yaml:"jetstream"`
	HTTP      *HTTPTrigger      `yaml:"http"`
	// MaxInFlight bounds the trigger's events whose decisions are under way;
	// default 64. Past it, JetStream stops pulling, core NATS drops (counted)
	// and HTTP answers 503.
	MaxInFlight int `yaml:"max_in_flight"`

	// Line is where the trigger starts in the file, and Lines where each key
	// inside it stands (http.webhook.id), for problems.
	Line  int      `yaml:"-"`
	Lines KeyLines `yaml:"-"`
}

// NATSTrigger subscribes to a core NATS subject (at-most-once delivery).
type NATSTrigger struct {
	Subject string `yaml:"subject"`
	Queue   string `yaml:"queue"`
}

// JetStreamTrigger consumes a JetStream stream with a durable consumer
// (at-least-once): a message is acked only once its decision is final.
type JetStreamTrigger struct {
	Stream   string   `yaml:"stream"`
	Subjects []string `yaml:"subjects"`
	Durable  string   `yaml:"durable"`
	// CreateStream creates the stream with Subjects when it does not exist.
	CreateStream *bool `yaml:"create_stream"`
	// Deliver is where a new durable consumer starts: all (every message the
	// stream holds; redeliveries find their jobs and count as duplicates) or
	// new (only messages published from then on). An existing consumer keeps
	// its own.
	Deliver string `yaml:"deliver"`
	// MaxAge bounds how long a stream batchwire creates keeps messages;
	// an existing stream keeps its own settings.
	MaxAge Duration `yaml:"max_age"`
	// MaxDeliver bounds redeliveries; after the last one the message goes to DeadLetter.
	MaxDeliver int      `yaml:"max_deliver"`
	AckWait    Duration `yaml:"ack_wait"`
	// DeadLetter is the subject a message is published to, with the error,
	// after MaxDeliver failed attempts.
	DeadLetter string `yaml:"dead_letter"`
}

// HTTPTrigger receives events on a path of the daemon's HTTP server. It
// answers 202 once the decision is made, 400 for a malformed event and 503
// (with Retry-After) when it cannot take the event now.
type HTTPTrigger struct {
	Path string `yaml:"path"`
	// Format is cloudevents (binary, structured or batch mode), alertmanager
	// (a webhook body becomes one event per alert) or webhook (any JSON body,
	// mapped to a CloudEvent by Webhook).
	Format  string   `yaml:"format"`
	Webhook *Webhook `yaml:"webhook"`
	// MaxBodyBytes bounds a request body; default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Timeout bounds how long a request waits for its decision; default 30s.
	Timeout Duration `yaml:"timeout"`
	// Auth is what a request must present before its body is read.
	Auth HTTPAuth `yaml:"auth"`
	// MaxAlerts bounds the alerts of one Alertmanager request; default 1000.
	MaxAlerts int `yaml:"max_alerts"`
	// MaxBatchEvents bounds the events of one CloudEvents batch request;
	// default 100.
	MaxBatchEvents int `yaml:"max_batch_events"`
}

// HTTPAuth authenticates the callers of an HTTP trigger. Every option set
// must pass; a request that fails one is answered 401 and counted in
// batchwire_http_auth_failures_total.
type HTTPAuth struct {
	// BearerTokenFile holds the token a request must send as
	// "Authorization: Bearer <token>".
	BearerTokenFile string `yaml:"bearer_token_file"`
	// ClientCert requires a client certificate verified against
	// http.tls.client_ca_file.
	ClientCert bool `yaml:"client_cert"`
}

// Enabled reports whether any option is set.
func (a HTTPAuth) Enabled() bool { return a.BearerTokenFile != "" || a.ClientCert }

// Webhook maps a JSON body to a CloudEvent with CEL expressions over `body`
// (the decoded JSON) and `headers` (map of lower-case names to first values).
type Webhook struct {
	ID      string `yaml:"id"`
	Type    string `yaml:"type"`
	Source  string `yaml:"source"`
	Subject string `yaml:"subject"`
	// Signature checks an HMAC-SHA256 of the raw body, as GitHub's
	// X-Hub-Signature-256 does. It covers neither the headers nor the time,
	// so a signed body can be replayed; StandardWebhooks covers both.
	Signature *Signature `yaml:"signature"`
	// StandardWebhooks checks the signature of the Standard Webhooks scheme
	// (webhook-id, webhook-timestamp, webhook-signature). The signed
	// webhook-id is the event id, so ID must be empty.
	StandardWebhooks *StandardWebhooks `yaml:"standard_webhooks"`
}

// StandardWebhooks is a Standard Webhooks (https://www.standardwebhooks.com)
// signature check. The secret ("whsec_" and base64) comes from a file or an
// environment variable.
type StandardWebhooks struct {
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
	// Tolerance is how far webhook-timestamp may be from now, either way;
	// default 5m. A request outside it is refused, so a captured request
	// cannot be replayed later.
	Tolerance Duration `yaml:"tolerance"`
}

// Signature is an HMAC check on webhook bodies. The secret comes from a file
// or an environment variable, never from the configuration itself.
type Signature struct {
	Header     string `yaml:"header"`
	Prefix     string `yaml:"prefix"`
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
}
