package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// connFlags are the temporal CLI's global flags (reference section 5), shared
// by the batch and workflow command groups. They live on the groups rather
// than the root because `run` reads its connection from the config file.
type connFlags struct {
	address, namespace, apiKey            string
	tlsCA, tlsCert, tlsKey, tlsServerName string
	tlsDisableHostVerification            bool
	// tls is the temporal CLI's --tls: on by default with an API key or any
	// --tls_* flag; --tls=false keeps the connection plaintext.
	tls            bool
	tlsGiven       bool
	grpcMeta       []string
	commandTimeout time.Duration
	color, output  string
}

// envBinding lists the environment variables a flag falls back to, first
// match wins; a flag given on the command line beats all of them.
type envBinding struct {
	flag string
	envs []string
}

var connEnv = []envBinding{
	{"address", []string{"TEMPORAL_CLI_ADDRESS", "TEMPORAL_ADDRESS"}},
	{"namespace", []string{"TEMPORAL_CLI_NAMESPACE", "TEMPORAL_NAMESPACE"}},
	{"api-key", []string{"TEMPORAL_API_KEY"}},
	{"tls_ca_path", []string{"TEMPORAL_CLI_TLS_CA"}},
	{"tls_cert_path", []string{"TEMPORAL_CLI_TLS_CERT"}},
	{"tls_key_path", []string{"TEMPORAL_CLI_TLS_KEY"}},
	{"tls_disable_host_verification", []string{"TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION"}},
}

// unsupportedFlags are temporal CLI global flags batchwire accepts only to say
// why it cannot honour them, so a copied command line fails clearly instead of
// with "unknown flag".
var unsupportedFlags = []struct{ name, why string }{
	{"codec-endpoint", "batchwire calls no codec server: signal input is sent as plain JSON (json/plain) and payloads are never printed"},
	{"codec-auth", "batchwire calls no codec server (see --codec-endpoint)"},
	{"codec-header", "batchwire calls no codec server (see --codec-endpoint)"},
	{"env", "batchwire reads no temporal CLI environment profiles; use the flags or TEMPORAL_CLI_* variables"},
	{"env-file", "batchwire reads no temporal CLI environment files; use the flags or TEMPORAL_CLI_* variables"},
	{"no-json-shorthand-payloads", "batchwire never prints payloads"},
}

// connUnderscored are the global flags whose reference spelling uses
// underscores; the hyphenated spelling is accepted too (see useSpellings).
var connUnderscored = []string{"tls_ca_path", "tls_cert_path", "tls_key_path", "tls_server_name",
	"tls_disable_host_verification"}

func (cf *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&cf.address, "address", "127.0.0.1:7233", "Temporal Service gRPC endpoint (env TEMPORAL_CLI_ADDRESS, TEMPORAL_ADDRESS)")
	fs.StringVarP(&cf.namespace, "namespace", "n", "default", "Temporal Service Namespace (env TEMPORAL_CLI_NAMESPACE, TEMPORAL_NAMESPACE)")
	// No default shown: the key must never appear in help output.
	fs.StringVar(&cf.apiKey, "api-key", "", "API key for requests (env TEMPORAL_API_KEY; never printed)")
	fs.StringVar(&cf.tlsCA, "tls_ca_path", "", "path to a server CA certificate file (env TEMPORAL_CLI_TLS_CA)")
	fs.StringVar(&cf.tlsCert, "tls_cert_path", "", "path to an X.509 certificate file for mutual TLS (env TEMPORAL_CLI_TLS_CERT)")
	fs.StringVar(&cf.tlsKey, "tls_key_path", "", "path to a private key file for mutual TLS (env TEMPORAL_CLI_TLS_KEY)")
	fs.StringVar(&cf.tlsServerName, "tls_server_name", "", "override the TLS server name used for host verification")
	fs.BoolVar(&cf.tlsDisableHostVerification, "tls_disable_host_verification", false,
		"disable verification of the server certificate (env TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION)")
	fs.BoolVar(&cf.tls, "tls", false, "TLS towards the server (default: on with --api-key or any --tls_* flag); --tls=false keeps plaintext even with an API key")
	fs.StringArrayVar(&cf.grpcMeta, "grpc-meta", nil, "gRPC metadata sent with every request, KEY=VALUE (repeatable)")
	fs.DurationVar(&cf.commandTimeout, "command-timeout", 0, "timeout for the whole command, including --wait; 0s means none")
	fs.StringVar(&cf.color, "color", "auto", "output coloring: always, never, auto")
	fs.StringVarP(&cf.output, "output", "o", "text", "output format: text, json")
	for _, u := range unsupportedFlags {
		fs.String(u.name, "", "not supported by batchwire: "+u.why)
		_ = fs.MarkHidden(u.name)
	}
	// --no-json-shorthand-payloads is a bool in the temporal CLI; take it bare.
	fs.Lookup("no-json-shorthand-payloads").NoOptDefVal = "true"
}

// resolve applies environment fallbacks and checks what the flags alone can
// tell. Errors never quote flag values, so a secret cannot leak through them.
func (cf *connFlags) resolve(fs *pflag.FlagSet) error {
	for _, u := range unsupportedFlags {
		if fs.Changed(u.name) {
			return usageError{fmt.Errorf("--%s is not supported by batchwire: %s", u.name, u.why)}
		}
	}
	for _, b := range connEnv {
		if err := applyEnv(fs, b); err != nil {
			return err
		}
	}
	if !slices.Contains([]string{"text", "json"}, cf.output) {
		return usageError{fmt.Errorf("--output: want text or json, got %q", cf.output)}
	}
	if !slices.Contains([]string{"always", "never", "auto"}, cf.color) {
		return usageError{fmt.Errorf("--color: want always, never or auto, got %q", cf.color)}
	}
	if cf.commandTimeout < 0 {
		return usageError{errors.New("--command-timeout must not be negative")}
	}
	if strings.TrimSpace(cf.namespace) == "" {
		return usageError{errors.New("--namespace must not be empty")}
	}
	cf.tlsGiven = fs.Changed("tls")
	if cf.tlsGiven && !cf.tls && (cf.tlsCA != "" || cf.tlsCert != "" || cf.tlsKey != "" || cf.tlsServerName != "" || cf.tlsDisableHostVerification) {
		return usageError{errors.New("--tls=false cannot go with the --tls_* flags")}
	}
	_, err := cf.headers()
	return err
}

func applyEnv(fs *pflag.FlagSet, b envBinding) error {
	if fs.Changed(b.flag) {
		return nil
	}
	for _, name := range b.envs {
		value, ok := os.LookupEnv(name)
		if !ok || value == "" {
			continue
		}
		if err := fs.Set(b.flag, value); err != nil {
			// The value stays out of the message: this may be the API key.
			return usageError{fmt.Errorf("environment variable %s: not a valid value for --%s", name, b.flag)}
		}
		return nil
	}
	return nil
}

// headers parses --grpc-meta; a malformed entry is reported by position,
// since metadata often carries credentials.
func (cf *connFlags) headers() (map[string]string, error) {
	if len(cf.grpcMeta) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(cf.grpcMeta))
	for i, kv := range cf.grpcMeta {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(key) == "" {
			return nil, usageError{fmt.Errorf("--grpc-meta entry %d: want KEY=VALUE", i+1)}
		}
		out[strings.ToLower(strings.TrimSpace(key))] = value
	}
	return out, nil
}

// useSpellings makes the command accept both spellings of every flag,
// `--tls_ca_path` and `--tls-ca-path`, as the temporal CLI's users type both.
// Flags named with underscores keep that name in help, matching the reference.
func useSpellings(cmd *cobra.Command, underscored ...string) {
	canonical := map[string]string{}
	for _, name := range append(slices.Clone(connUnderscored), underscored...) {
		canonical[strings.ReplaceAll(name, "_", "-")] = name
	}
	normalize := func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		hyphenated := strings.ReplaceAll(name, "_", "-")
		if c, ok := canonical[hyphenated]; ok {
			return pflag.NormalizedName(c)
		}
		return pflag.NormalizedName(hyphenated)
	}
	cmd.Flags().SetNormalizeFunc(normalize)
	cmd.PersistentFlags().SetNormalizeFunc(normalize)
}
