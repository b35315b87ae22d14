package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const validConfig = `
temporal:
  address: 127.0.0.1:7233
triggers:
  - name: flags
    nats: {subject: flags.changed}
rules:
  - name: broadcast
    trigger: flags
    when: event.type == "flag.changed"
    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'
    signal: {name: flag_changed, input: {flag: "{{ data.key }}"}}
    reason: flag changed
`

func TestParseValid(t *testing.T) {
	cfg, err := Parse([]byte(validConfig))
	require.NoError(t, err)
	require.Equal(t, "default", cfg.Temporal.Namespace)
	require.Equal(t, "default", cfg.Rules[0].Namespace, "rule namespace defaults to temporal.namespace")
	require.Equal(t, DefaultListen, cfg.HTTP.Listen)
	require.Equal(t, DefaultDataDir, cfg.DataDir)
	require.Equal(t, 10*time.Second, cfg.Temporal.DialTimeout.Std())
	require.Equal(t, "signal", cfg.Rules[0].Operation())
	require.Equal(t, 8, cfg.Rules[0].Line)
	require.Equal(t, 5, cfg.Triggers[0].Line)
	require.Len(t, cfg.Hash, 64)
	require.Equal(t, map[string]any{"flag": "{{ data.key }}"}, cfg.Rules[0].Signal.Input)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown top-level key", func(s string) string { return s + "bogus: 1\n" },
			[]string{"line 14: bogus: unknown field"}},
		{"typo in rule field", func(s string) string { return strings.Replace(s, "    reason:", "    reasn:", 1) },
			[]string{`line 13: rule "broadcast": reasn: unknown field; did you mean "reason"?`}},
		{"unknown trigger", func(s string) string { return strings.Replace(s, "trigger: flags", "trigger: flagz", 1) },
			[]string{`line 9: rule "broadcast": trigger: unknown trigger "flagz"`}},
		{"missing query and reason", func(s string) string {
			s = strings.Replace(s, "    query: WorkflowType = 'FlagWorkflow' AND ExecutionStatus = 'Running'\n", "", 1)
			return strings.Replace(s, "    reason: flag changed\n", "", 1)
		}, []string{"query: required", "reason: required"}},
		{"bad duration", func(s string) string {
			return strings.Replace(s, "127.0.0.1:7233", "127.0.0.1:7233\n  dial_timeout: soon", 1)
		},
			[]string{`invalid duration "soon"`}},
		{"duplicate rule", func(s string) string {
			i := strings.Index(s, "  - name: broadcast")
			return s + s[i:]
		}, []string{`duplicate rule name "broadcast"`}},
		{"trigger without source", func(s string) string { return strings.Replace(s, "    nats: {subject: flags.changed}\n", "", 1) },
			[]string{`trigger "flags": one source is required`}},
		{"two actions", func(s string) string { return strings.Replace(s, "    reason:", "    terminate: {}\n    reason:", 1) },
			[]string{"one action per rule, got signal and terminate"}},
		{"no action", func(s string) string {
			return strings.Replace(s, "    signal: {name: flag_changed, input: {flag: \"{{ data.key }}\"}}\n", "", 1)
		}, []string{"an action is required"}},
		{"bad rate", func(s string) string {
			return strings.Replace(s, "    reason:", "    guards: {rate: {launches: 0, per: 1m}}\n    reason:", 1)
		}, []string{"guards.rate: launches and per must both be positive"}},
		{"jetstream without subjects", func(s string) string {
			return strings.Replace(s, "nats: {subject: flags.changed}", "jetstream: {stream: FLAGS}", 1)
		}, []string{"jetstream.subjects: required to create the stream"}},
		{"cert without key", func(s string) string {
			return strings.Replace(s, "127.0.0.1:7233", "127.0.0.1:7233\n  tls: {cert_file: c.pem}", 1)
		},
			[]string{"cert_file and key_file must be set together"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.edit(validConfig)))
			require.Error(t, err)
			for _, want := range tt.want {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestJetStreamDefaults(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(validConfig, "nats: {subject: flags.changed}",
		"jetstream: {stream: FLAGS, subjects: [flags.>]}", 1)))
	require.NoError(t, err)
	js := cfg.Triggers[0].JetStream
	require.Equal(t, "batchwire-flags", js.Durable)
	require.Equal(t, 5, js.MaxDeliver)
	require.Equal(t, 7*24*time.Hour, js.MaxAge.Std())
	require.Equal(t, "batchwire.dead.flags", js.DeadLetter)
	require.True(t, *js.CreateStream)
	require.Equal(t, "auto", cfg.Rules[0].Engine)
}

func TestParseEmpty(t *testing.T) {
	_, err := Parse(nil)
	require.ErrorContains(t, err, "empty configuration")
}

func TestTemporalAddressFromEnv(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "10.0.0.1:7233")
	cfg, err := Parse([]byte(strings.Replace(validConfig, "  address: 127.0.0.1:7233\n", "", 1)))
	require.NoError(t, err)
	require.Equal(t, "10.0.0.1:7233", cfg.Temporal.Address)

	cfg, err = Parse([]byte(validConfig))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7233", cfg.Temporal.Address, "the file wins over the environment")
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load("../examples/flags/batchwire.yaml")
	require.NoError(t, err)
	require.Len(t, cfg.Rules, 1)
	_, err = Load("does-not-exist.yaml")
	require.EqualError(t, err, "does-not-exist.yaml: read config: open does-not-exist.yaml: no such file or directory")
}

func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../examples/*/*.yaml", "../testdata/configs/invalid/*.yaml"} {
		paths, err := filepath.Glob(pattern)
		require.NoError(f, err)
		for _, path := range paths {
			raw, err := os.ReadFile(path) //nolint:gosec // the repository's own files
			require.NoError(f, err)
			f.Add(raw)
		}
	}
	f.Add([]byte(validConfig))
	f.Add([]byte("rules: [{name: x}]"))
	f.Add([]byte("temporal: {dial_timeout: -1s}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := Parse(raw)
		if err != nil {
			return
		}
		// A config that parses is a valid one.
		require.Empty(t, cfg.Validate().Errors())
		require.NotEmpty(t, cfg.Temporal.Address)
	})
}

// TestDecodeUnknownKeys covers typos at every depth: top level, a trigger,
// and a rule's nested block, each named by owner and field with the nearest
// known key; decoding goes on after each, and after a bad duration, so one
// pass lists them all. A "required" problem about the field a typo was
// meant to be (nats.subject) is left out: the typo's problem says it.
func TestDecodeUnknownKeys(t *testing.T) {
	_, problems := Decode([]byte(`temporal: {adress: "x:1", dial_timeout: 7x}
triggers:
  - name: flags
    nats: {subjct: flags.changed}
rules:
  - name: r
    trigger: flags
    when: "true"
    query: WorkflowType = 'x' AND ExecutionStatus = 'Running'
    reset: {type: LastWorkflowTask, exclude_replay: [signal]}
    reasn: x
    guards: {max_workflows: 1, rate: {launches: 1, pr: 1m}}
    completely_unknown: 1
`))
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	require.Equal(t, []string{
		`line 1: temporal.adress: unknown field; did you mean "address"?`,
		`line 1: temporal.dial_timeout: invalid duration "7x" (want a number and a unit: 30s, 5m, 1h, 7d, 1w)`,
		`line 4: trigger "flags": nats.subjct: unknown field; did you mean "subject"?`,
		`line 10: rule "r": reset.exclude_replay: unknown field; did you mean "exclude_reapply"?`,
		`line 11: rule "r": reasn: unknown field; did you mean "reason"?`,
		`line 12: rule "r": guards.rate.pr: unknown field; did you mean "per"?`,
		`line 12: rule "r": guards.rate: launches and per must both be positive`,
		`line 13: rule "r": completely_unknown: unknown field`,
	}, got)
}

func TestHTTPPaths(t *testing.T) {
	trigger := func(name, path string) string {
		return "  - {name: " + name + ", http: {path: '" + path + "'}}\n"
	}
	tests := []struct {
		name, triggers, want string
	}{
		{"duplicate", trigger("a", "/hooks/a") + trigger("b", "/hooks/a"),
			`line 3: trigger "b": http.path: "/hooks/a" is already the path of trigger "a"; one trigger per path`},
		{"wildcard", trigger("a", "/hooks/{id}"), `line 2: trigger "a": http.path: want a literal path: { and } would make it a pattern`},
		{"space", trigger("a", "/hooks/a b"), `http.path: want letters, digits and - . _ ~ / only`},
		{"method", trigger("a", "POST /hooks"), `http.path: want an absolute path`},
		{"host", trigger("a", "example.com/hooks"), `http.path: want an absolute path`},
		{"own paths", trigger("a", "/-/hooks"), `http.path: want a path outside /-/ and /metrics`},
		{"metrics", trigger("a", "/metrics"), `http.path: want a path outside /-/ and /metrics`},
		{"subtree", trigger("a", "/hooks/"), `http.path: want a path without a trailing slash`},
		{"unclean", trigger("a", "/hooks/../a"), `http.path: want a clean path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("triggers:\n" + tt.triggers))
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := Parse([]byte("triggers:\n" + trigger("a", "/hooks/a") + trigger("b", "/hooks/b")))
	require.NoError(t, err)
}

// Durations are written as Prometheus writes them (7d, 1w, 1h30m) or as Go
// does (1.5s, 250ms); a negative one is still refused.
func TestDurationUnits(t *testing.T) {
	tests := []struct {
		text string
		want time.Duration
		err  string
	}{
		{"7d", 7 * 24 * time.Hour, ""},
		{"1w", 7 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"90s", 90 * time.Second, ""},
		{"1.5s", 1500 * time.Millisecond, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"-1d", 0, `duration "-1d" must not be negative`},
		{"-5s", 0, `duration "-5s" must not be negative`},
		{"7x", 0, `invalid duration "7x"`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			cfg, err := Parse([]byte(strings.Replace(validConfig, "127.0.0.1:7233", "127.0.0.1:7233\n  dial_timeout: "+tt.text, 1)))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.Temporal.DialTimeout.Std())
		})
	}
}
