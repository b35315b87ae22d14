package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Defaults applied when a field is left empty.
const (
	DefaultTemporalAddress = "127.0.0.1:7233"
	DefaultNamespace       = "default"
	DefaultListen          = "127.0.0.1:9464"
	DefaultDataDir         = "batchwire-data"
	DefaultPollInterval    = 500 * time.Millisecond
	// DefaultWebhookTolerance is how far a Standard Webhooks timestamp may
	// be from now, the scheme's own recommendation.
	DefaultWebhookTolerance = 5 * time.Minute
	// DefaultAutoClientMax, DefaultServerRPS, DefaultClientConcurrency and
	// DefaultClientRPS are the launch defaults the daemon, the CLI and the
	// client engine share (batch re-exports them).
	//
	// DefaultAutoClientMax bounds what engine auto gives the client engine,
	// which otherwise takes every job it finishes first. It was 100 while the
	// client engine ran at 50/s; uncapped it outruns the server batcher at any
	// size, and it checkpoints page by page, so the bound is only there to keep
	// the very largest jobs off the daemon: a million executions is about 17
	// minutes at the 1000/s BENCHMARKS.md measures on a 2-core dev server.
	DefaultAutoClientMax = 1_000_000
	// DefaultServerRPS is the server batcher's rate, the default of the
	// server's worker.batcherRPS; since 1.29 the server ignores a request's rate.
	DefaultServerRPS = 50
	// DefaultDirectMax is launch.direct_max's default.
	DefaultDirectMax = 100
	// MaxDirectMax bounds launch.direct_max: a direct job's record holds its
	// whole selection, and its decision holds the event until it has ended.
	MaxDirectMax             = 1000
	DefaultClientConcurrency = 8
	// DefaultClientRPS 0 puts no rate cap on a client job: its concurrency
	// bounds it, so a fan-out runs at the speed of the server (measured in
	// BENCHMARKS.md, where a cap of 50/s made the engine the bottleneck).
	DefaultClientRPS = 0
	// Bounds on what one trigger takes at a time: events in flight, alerts
	// per Alertmanager request, events per CloudEvents batch.
	DefaultMaxInFlight    = 64
	DefaultMaxAlerts      = 1000
	DefaultMaxBatchEvents = 100
)

// Config is the whole daemon configuration. A Config returned by Load or
// Parse has had its defaults applied and has passed validation.
type Config struct {
	Temporal Temporal  `yaml:"temporal"`
	NATS     NATS      `yaml:"nats"`
	HTTP     HTTP      `yaml:"http"`
	Metrics  Metrics   `yaml:"metrics"`
	Launch   Launch    `yaml:"launch"`
	Audit    Audit     `yaml:"audit"`
	DataDir  string    `yaml:"data_dir"`
	Triggers []Trigger `yaml:"triggers"`
	Rules    []Rule    `yaml:"rules"`

	// Hash is the SHA-256 of the raw configuration bytes, exported as a metric
	// so operators can tell which file is live.
	Hash string `yaml:"-"`

	// lines holds the line of each top-level key path
	// (temporal.tls.cert_file), for problems.
	lines KeyLines
}

// Temporal says how to reach the Temporal frontend.
type Temporal struct {
	Address   string `yaml:"address"`
	Namespace string `yaml:"namespace"`
	TLS       TLS    `yaml:"tls"`
	// APIKeyFile names a file holding the API key; the key itself never
	// appears in the configuration.
	APIKeyFile string `yaml:"api_key_file"`
	// DialTimeout bounds the first connection so an unreachable server is a
	// clear error at start rather than a hang.
	DialTimeout Duration `yaml:"dial_timeout"`
	// PollInterval is how often a running batch job is described.
	PollInterval Duration `yaml:"poll_interval"`
}

// TLS configures transport security towards Temporal.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify disables server certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Disabled keeps the connection plaintext even with an API key, with
	// which the SDK otherwise turns TLS on.
	Disabled bool `yaml:"disabled"`
}

// Enabled reports whether any TLS setting was given.
func (t TLS) Enabled() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// NATS says which NATS server to use. An empty URL starts an embedded
// nats-server with JetStream, listening on 127.0.0.1.
type NATS struct {
	URL string `yaml:"url"`
	// Listen is the embedded server's address (host:port); port 0 picks a free one.
	Listen string `yaml:"listen"`
	// CredentialsFile is a NATS .creds file for an external server.
	CredentialsFile string `yaml:"credentials_file"`
	// NKeySeedFile holds an nkey seed (SU...) the connection signs the
	// server's nonce with. With the embedded server, its public key is the
	// one user the server accepts.
	NKeySeedFile string `yaml:"nkey_seed_file"`
	// User and PasswordFile authenticate with a user and password. With the
	// embedded server, they are the one user the server accepts.
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	// TLS secures the connection to an external server.
	TLS NATSTLS `yaml:"tls"`
}

// NATSTLS is the TLS of the connection to an external NATS server.
type NATSTLS struct {
	// CAFile verifies the server's certificate; empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate, for servers that
	// verify clients (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether any TLS setting was given.
func (t NATSTLS) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// Authenticated reports whether the connection presents any credentials.
func (n NATS) Authenticated() bool {
	return n.CredentialsFile != "" || n.NKeySeedFile != "" || n.User != ""
}

// HTTP configures the daemon's own HTTP server (/metrics, /-/healthy,
// /-/ready, the admin endpoints and the HTTP triggers).
type HTTP struct {
	Listen string `yaml:"listen"`
	// TLS makes the listener serve HTTPS, and with ClientCAFile verify the
	// client certificates that callers present.
	TLS HTTPTLS `yaml:"tls"`
	// Admin guards POST /-/reload.
	Admin Admin `yaml:"admin"`
}

// HTTPTLS is the TLS of the daemon's HTTP listener.
type HTTPTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile verifies client certificates. A certificate is asked
	// for but not required by the listener; a trigger with
	// auth.client_cert refuses a request without a verified one.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the listener serves TLS.
func (t HTTPTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.ClientCAFile != "" }

// Admin configures the admin endpoints (POST /-/reload). They are not
// served unless Enabled, and then only to a caller with the bearer token
// in TokenFile.
type Admin struct {
	Enabled   bool   `yaml:"enabled"`
	TokenFile string `yaml:"token_file"`
}

// Launch holds settings for every launch, whatever the rule.
type Launch struct {
	// Paused stops every launch without stopping intake: events are still
	// decoded, matched and audited, and matches are recorded as blocked by the
	// "paused" guard. Reloadable.
	Paused bool `yaml:"paused"`
	// Watchdog stops a job of ours whose progress has not moved for this long,
	// so one wedged job cannot hold a namespace's batch slot for good. 0 disables.
	Watchdog Duration `yaml:"watchdog"`
	// AutoClientMax is the largest preflight count for which engine "auto"
	// may pick the client-side engine; larger jobs go to the server batcher.
	AutoClientMax int64 `yaml:"auto_client_max"`
	// ServerRPS is the server batcher's rate, what the server's dynamic
	// config worker.batcherRPS says (default 50): engine "auto" weighs it
	// against ClientRPS to pick the engine that finishes first.
	ServerRPS float64 `yaml:"server_rps"`
	// DirectMax is the largest preflight count for which engine "auto" lets
	// the daemon apply a signal, cancel or terminate itself (the direct
	// engine: no job workflow; the selection is recorded in the JetStream
	// key-value bucket BATCHWIRE_DIRECT first). 0 is the default; -1 turns
	// the direct engine off.
	DirectMax int64 `yaml:"direct_max"`
	// ClientConcurrency and ClientRPS bound the client-side engine per job;
	// ClientRPS 0 (the default) is no rate cap.
	ClientConcurrency int     `yaml:"client_concurrency"`
	ClientRPS         float64 `yaml:"client_rps"`
	// MaxFailureRatio is the circuit breaker: a running job whose failed share
	// of finished operations passes it (after MinOpsForRatio operations) is
	// stopped. 0 disables it.
	MaxFailureRatio float64 `yaml:"max_failure_ratio"`
	MinOpsForRatio  int64   `yaml:"min_ops_for_ratio"`
	// RetryBudget bounds how long a launch retries while Temporal is
	// unavailable before its event goes back to the source with a backoff.
	RetryBudget Duration `yaml:"retry_budget"`
}

// Audit configures the decision audit trail: every decision is one record,
// logged and published to a JetStream stream.
type Audit struct {
	// Disabled keeps records out of JetStream; they are still logged.
	Disabled bool `yaml:"disabled"`
	// Stream is the JetStream stream that keeps the records.
	Stream string `yaml:"stream"`
	// Subject prefix; records go to <subject>.<rule>.
	Subject string `yaml:"subject"`
	// Retention is how long records are kept.
	Retention Duration `yaml:"retention"`
	// MaxBytes bounds the stream's size; the oldest records go first.
	// Default 1 GiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxRecordBytes bounds one record (the stream's max message size).
	// Long fields (query, reason, event attributes) are cut, with the
	// SHA-256 of the full value, so that a record always fits. Default 64 KiB,
	// at least MinAuditRecordBytes.
	MaxRecordBytes int `yaml:"max_record_bytes"`
}

// MinAuditRecordBytes is the smallest audit.max_record_bytes: room for every
// field of a record cut to its share.
const MinAuditRecordBytes = 4 << 10

// Metrics tunes the exported series.
type Metrics struct {
	// JobRetention keeps a finished job's per-job series this long so its
	// final counts can be scraped, then removes them.
	JobRetention Duration `yaml:"job_retention"`
}

// Rule matches events of one trigger and describes the batch operation to run.
type Rule struct {
	Name      string `yaml:"name"`
	Trigger   string `yaml:"trigger"`
	When      string `yaml:"when"`
	Namespace string `yaml:"namespace"`
	Query     string `yaml:"query"`
	Reason    string `yaml:"reason"`

	Signal    *SignalAction `yaml:"signal"`
	Terminate *EmptyAction  `yaml:"terminate"`
	Cancel    *EmptyAction  `yaml:"cancel"`
	Delete    *EmptyAction  `yaml:"delete"`
	Reset     *ResetAction  `yaml:"reset"`

	UpdateOptions         *UpdateOptionsAction         `yaml:"update_options"`
	PauseActivities       *PauseActivitiesAction       `yaml:"pause_activities"`
	UnpauseActivities     *UnpauseActivitiesAction     `yaml:"unpause_activities"`
	ResetActivities       *ResetActivitiesAction       `yaml:"reset_activities"`
	UpdateActivityOptions *UpdateActivityOptionsAction `yaml:"update_activity_options"`

	// Engine chooses the launch path: server (StartBatchOperation), client
	// (batchwire's own engine) or auto (client for operations the server
	// lacks and for small target sets, server otherwise).
	Engine string `yaml:"engine"`

	Guards Guards `yaml:"guards"`

	// Line is where the rule starts in the file, and Lines where each key
	// inside it stands (reset.type), for problems.
	Line  int      `yaml:"-"`
	Lines KeyLines `yaml:"-"`
}

// SignalAction sends a signal to every workflow the query selects.
type SignalAction struct {
	Name string `yaml:"name"`
	// Input is a JSON-shaped value whose strings may hold {{ }} placeholders.
	// A string that is exactly one placeholder takes the placeholder's typed
	// value (number, bool, map, list), otherwise the text is interpolated.
	Input any `yaml:"input"`
}

// EmptyAction is an action without arguments: `terminate: {}`.
type EmptyAction struct{}

// ResetAction resets each selected workflow to a point in its history.
type ResetAction struct {
	// Type is FirstWorkflowTask, LastWorkflowTask, BuildId (server side), or
	// LastContinuedAsNew, WorkflowExecutionSignaled (client engine).
	Type    string `yaml:"type"`
	BuildID string `yaml:"build_id"`
	// OnlyNonDeterministic resets only executions whose last workflow task
	// failed with a non-determinism error (client engine).
	OnlyNonDeterministic bool `yaml:"only_non_deterministic"`
	// BadBinaryChecksum resets to before the first workflow task completed by
	// this binary (client engine).
	BadBinaryChecksum string `yaml:"bad_binary_checksum"`
	// ExcludeReapply lists events not reapplied after the reset point:
	// signal, update, cancel_request, nexus.
	ExcludeReapply []string `yaml:"exclude_reapply"`
	// CurrentRunOnly keeps a BuildId reset within the current run.
	CurrentRunOnly bool `yaml:"current_run_only"`
	// PostReset lists operations applied to the new run before its first
	// workflow task: a signal, or update_options.
	PostReset []PostResetAction `yaml:"post_reset"`
}

// PostResetAction is one operation applied after a reset: exactly one of
// a signal (fixed JSON input) or workflow options.
type PostResetAction struct {
	Signal        *SignalAction        `yaml:"signal"`
	UpdateOptions *UpdateOptionsAction `yaml:"update_options"`
}

// Guards limit what a rule may do.
type Guards struct {
	// MaxWorkflows refuses a launch whose query counts more executions.
	MaxWorkflows int64 `yaml:"max_workflows"`
	// DryRun renders and counts but never launches (shadow mode).
	DryRun bool `yaml:"dry_run"`
	// Cooldown launches the same rule with the same rendered query at most
	// once per window; later matches are recorded as blocked.
	Cooldown Duration `yaml:"cooldown"`
	// Rate bounds the rule's launches; a match over the rate is delayed and
	// retried, never dropped.
	Rate *Rate `yaml:"rate"`
}

// Rate is a number of launches per interval.
type Rate struct {
	Launches int      `yaml:"launches"`
	Per      Duration `yaml:"per"`
}

// Operation names the rule's action, for metrics and tables.
func (r *Rule) Operation() string {
	ops := r.operations()
	if len(ops) != 1 {
		return ""
	}
	return ops[0]
}

func (r *Rule) operations() []string {
	var ops []string
	for name, set := range map[string]bool{
		"signal": r.Signal != nil, "terminate": r.Terminate != nil, "cancel": r.Cancel != nil,
		"delete": r.Delete != nil, "reset": r.Reset != nil, "update_options": r.UpdateOptions != nil,
		"pause_activities": r.PauseActivities != nil, "unpause_activities": r.UnpauseActivities != nil,
		"reset_activities": r.ResetActivities != nil, "update_activity_options": r.UpdateActivityOptions != nil,
	} {
		if set {
			ops = append(ops, name)
		}
	}
	sort.Strings(ops)
	return ops
}

// Load reads and validates the configuration file at path. The error, when
// there is one, is a *Error listing every error problem.
func Load(path string) (*Config, error) {
	cfg, problems := Read(path)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse decodes, completes and validates raw YAML, as Load does a file.
func Parse(raw []byte) (*Config, error) {
	cfg, problems := Decode(raw)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Read reads the file at path and decodes it (see Decode); every problem
// names the file.
func Read(path string) (*Config, Problems) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Message: fmt.Sprintf("read config: %v", err)}}
	}
	cfg, problems := Decode(raw)
	return cfg, problems.InFile(path)
}

// Decode decodes raw YAML strictly, applies defaults and validates, and
// returns every problem it finds at once: an unknown key does not stop the
// decoding of the rest. The Config is as much as could be decoded, so that
// later stages can check the rules and triggers without errors; it is nil
// only when the YAML does not parse at all. A Config is valid only when
// the problems hold no error.
func Decode(raw []byte) (*Config, Problems) {
	root, problem := parseTree(raw)
	if root == nil {
		return nil, Problems{problem}
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var cfg Config
	var problems Problems
	if err := dec.Decode(&cfg); err != nil {
		problems = describeDecodeError(root, err)
	}
	recordLines(root, &cfg)
	cfg.applyDefaults()
	sum := sha256.Sum256(raw)
	cfg.Hash = hex.EncodeToString(sum[:])
	problems = append(problems, withoutSuggested(cfg.Validate(), problems)...)
	return &cfg, problems.Sorted()
}

// withoutSuggested drops "required" problems about a field that an unknown
// key's did-you-mean already names (reasn: did you mean "reason"?), which
// would only say the same thing twice.
func withoutSuggested(validation, unknown Problems) Problems {
	suggested := map[string]bool{}
	for _, p := range unknown {
		if _, guess, ok := strings.Cut(p.Message, "did you mean "); ok {
			field := strings.Trim(guess, `"?`)
			if parent, _, nested := cutLast(p.Field, "."); nested {
				field = parent + "." + field
			}
			suggested[p.Owner+"\x00"+field] = true
		}
	}
	var out Problems
	for _, p := range validation {
		if !suggested[p.Owner+"\x00"+p.Field] || !strings.HasPrefix(p.Message, "required") {
			out = append(out, p)
		}
	}
	return out
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// Duration is a time.Duration written as Prometheus writes durations ("30s",
// "5m", "7d", "1w", "1d12h") or as Go does ("1.5s", "250us").
type Duration time.Duration

// UnmarshalYAML parses a duration. Its errors are *yaml.TypeError, which the
// decoder collects and goes on, so one bad duration does not hide the other
// problems of the file.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return err
	}
	parsed, err := ParseDuration(s)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", node.Line, err)}}
	}
	*d = Duration(parsed)
	return nil
}

// ParseDuration reads a non-negative duration: Prometheus units first
// (model.ParseDuration: ms, s, m, h, d, w, y), then Go's (fractions, us, ns),
// so a config written for either reads the same. The CLI's duration flags
// use it too.
func ParseDuration(s string) (time.Duration, error) {
	text := strings.TrimSpace(s)
	if strings.HasPrefix(text, "-") {
		if _, err := ParseDuration(text[1:]); err == nil {
			return 0, fmt.Errorf("duration %q must not be negative", s)
		}
	}
	if parsed, err := model.ParseDuration(text); err == nil {
		return time.Duration(parsed), nil
	}
	parsed, err := time.ParseDuration(text)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want a number and a unit: 30s, 5m, 1h, 7d, 1w)", s)
	}
	return parsed, nil
}

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
