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

	"github.com/batchwire/batchwire/batch"
)

// connFlags are the temporal CLI's global connection flags, both generations
// (tctl's --tls_ca_path and temporal v1.5's --tls-ca-path), shared by the
// command groups that talk to Temporal. They live on the groups rather than
// the root because `run` reads its connection from the config file.
type connFlags struct {
	address, namespace, apiKey            string
	tlsCA, tlsCert, tlsKey, tlsServerName string
	tlsCAData, tlsCertData, tlsKeyData    string
	tlsDisableHostVerification            bool
	// tls is the temporal CLI's --tls: on by default with an API key or any
	// TLS option; --tls=false keeps the connection plaintext.
	tls                                 bool
	grpcMeta                            []string
	clientAuthority, identity           string
	commandTimeout                      time.Duration
	color, output                       string
	profile, configFile                 string
	disableConfigFile, disableConfigEnv bool
	env, envFile                        string
	codecEndpoint, codecAuth            string
	codecHeader                         []string

	// conn is where the command connects, once flags, environment and
	// profile are resolved (resolve); codec is the codec server in effect.
	conn     batch.Options
	codec    string
	resolved bool
}

// tctlEnv are the tctl-era environment variables. Each stands for its flag;
// when the temporal CLI's own variable for the same setting is set too, to a
// different value, batchwire refuses to guess which one is meant.
var tctlEnv = []struct{ name, flag, current string }{
	{"TEMPORAL_CLI_ADDRESS", "address", "TEMPORAL_ADDRESS"},
	{"TEMPORAL_CLI_NAMESPACE", "namespace", "TEMPORAL_NAMESPACE"},
	{"TEMPORAL_CLI_TLS_CA", "tls_ca_path", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"},
	{"TEMPORAL_CLI_TLS_CERT", "tls_cert_path", "TEMPORAL_TLS_CLIENT_CERT_PATH"},
	{"TEMPORAL_CLI_TLS_KEY", "tls_key_path", "TEMPORAL_TLS_CLIENT_KEY_PATH"},
	{"TEMPORAL_CLI_TLS_SERVER_NAME", "tls_server_name", "TEMPORAL_TLS_SERVER_NAME"},
	{"TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION", "tls_disable_host_verification", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"},
}

// unsupportedFlags are temporal CLI global flags batchwire accepts only to say
// why it cannot honour them, so a copied command line fails clearly instead of
// with "unknown flag".
var unsupportedFlags = []struct{ name, why string }{
	{"no-json-shorthand-payloads", "batchwire never prints payloads"},
}

// connUnderscored are the global flags whose reference spelling uses
// underscores; the hyphenated spelling is accepted too (see useSpellings).
var connUnderscored = []string{"tls_ca_path", "tls_cert_path", "tls_key_path", "tls_server_name",
	"tls_disable_host_verification"}

func (cf *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&cf.address, "address", "", "Temporal Service gRPC endpoint (default 127.0.0.1:7233; env TEMPORAL_ADDRESS, TEMPORAL_CLI_ADDRESS)")
	fs.StringVarP(&cf.namespace, "namespace", "n", "", "Temporal Service Namespace (default \"default\"; env TEMPORAL_NAMESPACE, TEMPORAL_CLI_NAMESPACE)")
	// No default shown: the key must never appear in help output.
	fs.StringVar(&cf.apiKey, "api-key", "", "API key for requests (env TEMPORAL_API_KEY; never printed)")
	fs.StringVar(&cf.tlsCA, "tls_ca_path", "", "path to a server CA certificate file (env TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_CLI_TLS_CA)")
	fs.StringVar(&cf.tlsCert, "tls_cert_path", "", "path to an X.509 certificate file for mutual TLS (env TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_CLI_TLS_CERT)")
	fs.StringVar(&cf.tlsKey, "tls_key_path", "", "path to a private key file for mutual TLS (env TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_CLI_TLS_KEY)")
	fs.StringVar(&cf.tlsCAData, "tls-ca-data", "", "server CA certificate PEM (env TEMPORAL_TLS_SERVER_CA_CERT_DATA)")
	fs.StringVar(&cf.tlsCertData, "tls-cert-data", "", "client certificate PEM (env TEMPORAL_TLS_CLIENT_CERT_DATA)")
	fs.StringVar(&cf.tlsKeyData, "tls-key-data", "", "client private key PEM (env TEMPORAL_TLS_CLIENT_KEY_DATA; never printed)")
	fs.StringVar(&cf.tlsServerName, "tls_server_name", "", "override the TLS server name used for host verification (env TEMPORAL_TLS_SERVER_NAME)")
	fs.BoolVar(&cf.tlsDisableHostVerification, "tls_disable_host_verification", false,
		"disable verification of the server certificate (env TEMPORAL_TLS_DISABLE_HOST_VERIFICATION, TEMPORAL_CLI_TLS_DISABLE_HOST_VERIFICATION)")
	fs.BoolVar(&cf.tls, "tls", false, "TLS towards the server (env TEMPORAL_TLS; default: on with an API key or any TLS option); --tls=false keeps plaintext even with an API key")
	fs.StringArrayVar(&cf.grpcMeta, "grpc-meta", nil, "gRPC metadata sent with every request, KEY=VALUE (repeatable; env TEMPORAL_GRPC_META_<KEY>)")
	fs.StringVar(&cf.clientAuthority, "client-authority", "", "the :authority pseudo-header (env TEMPORAL_CLIENT_AUTHORITY)")
	fs.StringVar(&cf.identity, "identity", "", "identity recorded with the batch jobs started (default batchwire-cli@HOST)")
	durationVar(fs, &cf.commandTimeout, "command-timeout", "timeout for the whole command, including --wait; 0s means none")
	fs.StringVar(&cf.color, "color", "auto", "output coloring: always, never, auto")
	fs.StringVarP(&cf.output, "output", "o", "text", "output format: text, json")
	fs.StringVar(&cf.profile, "profile", "", "profile of the TOML client config file (env TEMPORAL_PROFILE; default \"default\")")
	fs.StringVar(&cf.configFile, "config-file", "", "TOML client config file (env TEMPORAL_CONFIG_FILE; default <user config dir>/temporalio/temporal.toml)")
	fs.BoolVar(&cf.disableConfigFile, "disable-config-file", false, "read no TOML client config file")
	fs.BoolVar(&cf.disableConfigEnv, "disable-config-env", false, "read no TEMPORAL_* connection variables")
	fs.StringVar(&cf.env, "env", "", "temporal CLI environment of --env-file (env TEMPORAL_ENV; default \"default\")")
	fs.StringVar(&cf.envFile, "env-file", "", "temporal CLI environment file (default $HOME/.config/temporalio/temporal.yaml)")
	fs.StringVar(&cf.codecEndpoint, "codec-endpoint", "", "remote codec server (env TEMPORAL_CODEC_ENDPOINT); batchwire cannot encode signal input through one, so signal refuses it")
	fs.StringVar(&cf.codecAuth, "codec-auth", "", "Authorization header for the codec server (env TEMPORAL_CODEC_AUTH)")
	fs.StringArrayVar(&cf.codecHeader, "codec-header", nil, "HTTP header for the codec server, KEY=VALUE")
	for _, u := range unsupportedFlags {
		fs.String(u.name, "", "not supported by batchwire: "+u.why)
		_ = fs.MarkHidden(u.name)
	}
	// --no-json-shorthand-payloads is a bool in the temporal CLI; take it bare.
	fs.Lookup("no-json-shorthand-payloads").NoOptDefVal = "true"
}

// resolve settles where the command connects, as the temporal CLI does:
// flags, then environment variables, then the profile of the TOML client
// config file; tctl's TEMPORAL_CLI_* variables and the temporal CLI's
// environment file (--env) count as flags. Errors never quote values, so a
// secret cannot leak through them.
func (cf *connFlags) resolve(fs *pflag.FlagSet) error {
	if cf.resolved {
		return nil
	}
	for _, u := range unsupportedFlags {
		if fs.Changed(u.name) {
			return usageError{fmt.Errorf("--%s is not supported by batchwire: %s", u.name, u.why)}
		}
	}
	if err := cf.checkOutputFlags(); err != nil {
		return err
	}
	if err := cf.applyEnvFile(fs); err != nil {
		return err
	}
	if err := applyTctlEnv(fs); err != nil {
		return err
	}
	if fs.Changed("tls") && !cf.tls && (cf.tlsCA != "" || cf.tlsCert != "" || cf.tlsKey != "" || cf.tlsServerName != "" ||
		cf.tlsDisableHostVerification || cf.tlsCAData != "" || cf.tlsCertData != "" || cf.tlsKeyData != "") {
		return usageError{errors.New("--tls=false cannot go with the --tls_* flags")}
	}
	if _, err := cf.headers(); err != nil {
		return err
	}
	profile, err := cf.loadProfile()
	if err != nil {
		return err
	}
	if err := cf.overrideProfile(fs, &profile); err != nil {
		return err
	}
	if err := cf.connection(profile); err != nil {
		return err
	}
	cf.resolved = true
	return nil
}

func (cf *connFlags) checkOutputFlags() error {
	if !slices.Contains([]string{"text", "json"}, cf.output) {
		return usageError{fmt.Errorf("--output: want text or json, got %q", cf.output)}
	}
	if !slices.Contains([]string{"always", "never", "auto"}, cf.color) {
		return usageError{fmt.Errorf("--color: want always, never or auto, got %q", cf.color)}
	}
	if cf.commandTimeout < 0 {
		return usageError{errors.New("--command-timeout must not be negative")}
	}
	return nil
}

// applyTctlEnv sets each flag not given from its tctl-era variable.
func applyTctlEnv(fs *pflag.FlagSet) error {
	for _, b := range tctlEnv {
		value := os.Getenv(b.name)
		if value == "" || fs.Changed(b.flag) {
			continue
		}
		if current := os.Getenv(b.current); current != "" && current != value {
			return usageError{fmt.Errorf("environment variables %s and %s are both set, to different values: "+
				"unset the one you do not mean, or pass --%s", b.name, b.current, strings.ReplaceAll(b.flag, "_", "-"))}
		}
		if err := fs.Set(b.flag, value); err != nil {
			// The value stays out of the message: it may be a secret path.
			return usageError{fmt.Errorf("environment variable %s: not a valid value for --%s", b.name, b.flag)}
		}
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
