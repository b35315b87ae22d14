package daemon

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
	"github.com/batchwire/batchwire/triggers"
)

// Loaded is everything the daemon runs from one configuration file.
type Loaded struct {
	Config *config.Config
	Rules  *rules.Set
	// HTTPSources are the HTTP triggers by name, built here: webhook CEL
	// mappings compile and signature secrets are read.
	HTTPSources map[string]*triggers.HTTPSource
	// Ops holds each rule's compiled operation, by rule name: the one
	// operation the admission pipeline, the server batcher and the client
	// engine take as is.
	Ops map[string]batch.Operation
	// APIKey is read from temporal.api_key_file, or from TEMPORAL_API_KEY
	// when no file is set; it is never logged.
	APIKey string
	// NATSAuth holds the NATS user, password and nkey seed, read from their
	// files; the embedded server takes the same as its one user.
	NATSAuth triggers.NATSAuth
	// AdminToken is the bearer token of the admin endpoints, read from
	// http.admin.token_file when they are enabled.
	AdminToken []byte
	// HTTPTLS is the HTTP listener's TLS, loaded from http.tls, or nil.
	HTTPTLS *tls.Config
}

// Load reads, decodes and builds the configuration file at path. It is the
// one door for a configuration: run, reload, check and test all come
// through it, so they cannot disagree about what is valid. The problems
// are sorted by line; Loaded is nil when any is an error.
func Load(path string, log *slog.Logger) (*Loaded, config.Problems) {
	defer packHeap()()
	cfg, problems := config.Read(path)
	if cfg == nil {
		return nil, problems
	}
	return build(cfg, path, log, problems)
}

// Build checks a decoded configuration as Load does a file: validation,
// rule compilation, query lint, HTTP sources and secrets. file names the
// configuration in problems; it may be empty.
func Build(cfg *config.Config, file string, log *slog.Logger) (*Loaded, config.Problems) {
	if cfg == nil {
		return nil, config.Problems{{File: file, Message: "a configuration is required"}}
	}
	defer packHeap()()
	return build(cfg, file, log, cfg.Validate())
}

// build runs every check once and finds every problem even when others
// exist: a rule or trigger with an error so far is left out of the later
// stages, whose messages would only repeat its fault in other words, and
// everything else is still compiled, linted and built.
func build(cfg *config.Config, file string, log *slog.Logger, problems config.Problems) (*Loaded, config.Problems) {
	if log == nil {
		log = slog.Default()
	}
	faulted := problems.Owners()
	var healthy []config.Rule
	for _, r := range cfg.Rules {
		if !faulted[config.RuleOwner(r.Name)] {
			healthy = append(healthy, r)
		}
	}
	set, compileProblems := rules.CompileAll(healthy)
	problems = append(problems, compileProblems...)
	for _, r := range set.Rules() {
		problems = append(problems, rules.LintRule(r)...)
	}
	ops, opProblems := compileOperations(healthy)
	problems = append(problems, opProblems...)
	sources, sourceProblems := buildHTTPSources(cfg.Triggers, faulted, log)
	problems = append(problems, sourceProblems...)
	apiKey, keyProblem := readAPIKey(cfg)
	if keyProblem != nil {
		problems = append(problems, *keyProblem)
	}
	read, secretProblems := readSecrets(cfg, apiKey)
	problems = append(problems, secretProblems...)
	problems = problems.InFile(file).Sorted()
	if len(problems.Errors()) > 0 {
		return nil, problems
	}
	return &Loaded{Config: cfg, Rules: set, Ops: ops, HTTPSources: sources, APIKey: apiKey,
		NATSAuth: read.nats, AdminToken: read.adminToken, HTTPTLS: read.httpTLS}, problems
}

// compileOperations compiles each rule's action into its operation
// (batch.RuleOperation: one validation per kind, the engine checked against
// it), each error a problem about the option it names.
func compileOperations(cfgs []config.Rule) (map[string]batch.Operation, config.Problems) {
	ops := map[string]batch.Operation{}
	var problems config.Problems
	for i := range cfgs {
		r := &cfgs[i]
		op, err := batch.RuleOperation(r)
		if err != nil {
			problems = append(problems, operationProblems(r, err)...)
			continue
		}
		ops[r.Name] = op
	}
	return ops, problems
}

func operationProblems(r *config.Rule, err error) config.Problems {
	return config.SplitErrors(err, "", func(field, message string) config.Problem { return r.Errorf(field, "%s", message) })
}

// buildHTTPSources builds each HTTP trigger without errors so far, then
// mounts their paths on a scratch router: config already refuses what
// http.ServeMux would refuse, and this makes sure no path can make it panic
// when the daemon starts.
func buildHTTPSources(all []config.Trigger, faulted map[string]bool, log *slog.Logger) (map[string]*triggers.HTTPSource, config.Problems) {
	out := map[string]*triggers.HTTPSource{}
	var problems config.Problems
	mux := http.NewServeMux()
	for i := range all {
		t := &all[i]
		if t.HTTP == nil || faulted[config.TriggerOwner(t.Name)] {
			continue
		}
		src, err := triggers.NewHTTPSource(*t, log)
		if err != nil {
			problems = append(problems, triggerProblems(t, "http", err)...)
			continue
		}
		if err := mount(mux, src); err != nil {
			problems = append(problems, t.Errorf("http.path", "%v", err))
			continue
		}
		out[t.Name] = src
	}
	return out, problems
}

// mount registers src on mux, turning the router's panic into an error.
func mount(mux *http.ServeMux, src *triggers.HTTPSource) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the HTTP router refuses it: %v", r)
		}
	}()
	mux.Handle(src.Path(), src)
	return nil
}

// triggerProblems splits a trigger error into problems, each about the
// field a *config.FieldError names (http.webhook.id), else field.
func triggerProblems(t *config.Trigger, field string, err error) config.Problems {
	return config.SplitErrors(err, field, func(field, message string) config.Problem { return t.Errorf(field, "%s", message) })
}

// readAPIKey takes the key from a file when one is configured, else from the
// environment, so it never sits in the configuration itself. An unreadable
// or empty file is a problem: the daemon would otherwise fail only at its
// first call to Temporal.
func readAPIKey(cfg *config.Config) (string, *config.Problem) {
	path := cfg.Temporal.APIKeyFile
	if path == "" {
		return os.Getenv("TEMPORAL_API_KEY"), nil
	}
	problem := func(format string, args ...any) *config.Problem {
		return &config.Problem{Line: cfg.Line("temporal.api_key_file"), Field: "temporal.api_key_file",
			Message: fmt.Sprintf(format, args...)}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", problem("%v", err)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return "", problem("%s is empty", path)
	}
	return key, nil
}
