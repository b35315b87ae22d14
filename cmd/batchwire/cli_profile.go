package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.yaml.in/yaml/v3"

	"github.com/batchwire/batchwire/batch"
)

// Connection defaults, as the temporal CLI's.
const (
	defaultAddress   = "127.0.0.1:7233"
	defaultNamespace = "default"
	// dialTimeout bounds the first connection, or --command-timeout when
	// shorter, so a failure names the timeout the operator gave.
	dialTimeout = 10 * time.Second
)

// setEnv reads the environment as the temporal CLI's TEMPORAL_* variables are
// meant: an empty variable counts as unset, so `export TEMPORAL_TLS_CA=` in a
// shell profile neither turns TLS on nor clears a setting.
type setEnv struct{}

func (setEnv) LookupEnv(key string) (string, bool) {
	value := os.Getenv(key)
	return value, value != ""
}

func (setEnv) Environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if _, value, _ := strings.Cut(kv, "="); value != "" {
			out = append(out, kv)
		}
	}
	return out
}

// applyEnvFile honours the temporal CLI's environment file (--env-file,
// default $HOME/.config/temporalio/temporal.yaml): the values of the chosen
// environment (--env, TEMPORAL_ENV, or "default") stand for the flags they
// name, unless the flag is given.
func (cf *connFlags) applyEnvFile(fs *pflag.FlagSet) error {
	name := cf.env
	if name == "" {
		name = os.Getenv("TEMPORAL_ENV")
	}
	named := name != "" && name != "default"
	if name == "" {
		name = "default"
	}
	path := cf.envFile
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		path = filepath.Join(home, ".config", "temporalio", "temporal.yaml")
	}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && cf.envFile == "" && named:
		return usageError{fmt.Errorf("environment %q not found (--env or TEMPORAL_ENV): there is no %s", name, path)}
	case errors.Is(err, os.ErrNotExist) && cf.envFile == "":
		return nil
	case err != nil:
		return usageError{fmt.Errorf("temporal CLI environment file: %w", err)}
	}
	var file struct {
		Env map[string]map[string]string `yaml:"env"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return usageError{fmt.Errorf("temporal CLI environment file %s: %w", path, err)}
	}
	values, ok := file.Env[name]
	if !ok && named {
		return usageError{fmt.Errorf("environment %q not found in %s (--env or TEMPORAL_ENV)", name, path)}
	}
	for flag, value := range values {
		if f := fs.Lookup(flag); f == nil || fs.Changed(flag) {
			continue
		}
		if err := fs.Set(flag, value); err != nil {
			return usageError{fmt.Errorf("environment %q of %s: not a valid value for --%s", name, path, flag)}
		}
	}
	return nil
}

// loadProfile reads the TOML client config file's profile (--config-file or
// TEMPORAL_CONFIG_FILE; --profile or TEMPORAL_PROFILE) and the TEMPORAL_*
// variables over it, with the SDK's envconfig, as the temporal CLI does.
func (cf *connFlags) loadProfile() (envconfig.ClientConfigProfile, error) {
	if cf.disableConfigFile && cf.disableConfigEnv {
		return envconfig.ClientConfigProfile{}, nil
	}
	profile, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		ConfigFilePath: cf.configFile, ConfigFileProfile: cf.profile,
		DisableFile: cf.disableConfigFile, DisableEnv: cf.disableConfigEnv, EnvLookup: setEnv{},
	})
	if err != nil {
		return profile, usageError{fmt.Errorf("temporal client config (--config-file, --profile): %w", err)}
	}
	if !cf.disableConfigEnv {
		applyOlderTLSEnv(&profile)
	}
	return profile, nil
}

// applyOlderTLSEnv honours the TLS variables of temporal CLI releases before
// the client config file; the temporal CLI lets them override the profile.
func applyOlderTLSEnv(profile *envconfig.ClientConfigProfile) {
	set := func(name string, apply func(tls *envconfig.ClientConfigTLS, value string)) {
		if value := os.Getenv(name); value != "" {
			if profile.TLS == nil {
				profile.TLS = &envconfig.ClientConfigTLS{}
			}
			apply(profile.TLS, value)
		}
	}
	set("TEMPORAL_TLS_CERT", func(t *envconfig.ClientConfigTLS, v string) { t.ClientCertPath = v })
	set("TEMPORAL_TLS_CERT_DATA", func(t *envconfig.ClientConfigTLS, v string) { t.ClientCertData = []byte(v) })
	set("TEMPORAL_TLS_KEY", func(t *envconfig.ClientConfigTLS, v string) { t.ClientKeyPath = v })
	set("TEMPORAL_TLS_KEY_DATA", func(t *envconfig.ClientConfigTLS, v string) { t.ClientKeyData = []byte(v) })
	set("TEMPORAL_TLS_CA", func(t *envconfig.ClientConfigTLS, v string) { t.ServerCACertPath = v })
	set("TEMPORAL_TLS_CA_DATA", func(t *envconfig.ClientConfigTLS, v string) { t.ServerCACertData = []byte(v) })
}

// overrideProfile lays the flags given (and what stands for them) over the
// profile, as the temporal CLI's dialClient does.
func (cf *connFlags) overrideProfile(fs *pflag.FlagSet, p *envconfig.ClientConfigProfile) error {
	if fs.Changed("address") {
		p.Address = cf.address
	}
	if fs.Changed("namespace") {
		p.Namespace = cf.namespace
	}
	if cf.apiKey != "" {
		p.APIKey = cf.apiKey
	}
	if cf.clientAuthority != "" {
		p.Authority = cf.clientAuthority
	}
	headers, _ := cf.headers()
	for key, value := range headers {
		if p.GRPCMeta == nil {
			p.GRPCMeta = map[string]string{}
		}
		p.GRPCMeta[key] = value
	}
	cf.overrideTLS(p)
	if fs.Changed("tls") && !cf.tls {
		p.TLS = &envconfig.ClientConfigTLS{Disabled: true}
	}
	if cf.codecEndpoint != "" {
		p.Codec = &envconfig.ClientConfigCodec{Endpoint: cf.codecEndpoint}
	}
	if (cf.codecAuth != "" || len(cf.codecHeader) > 0) && (p.Codec == nil || p.Codec.Endpoint == "") {
		return usageError{errors.New("--codec-auth and --codec-header need a codec endpoint")}
	}
	return nil
}

func (cf *connFlags) overrideTLS(p *envconfig.ClientConfigProfile) {
	if !cf.tls && cf.tlsCA == "" && cf.tlsCert == "" && cf.tlsKey == "" && cf.tlsCAData == "" &&
		cf.tlsCertData == "" && cf.tlsKeyData == "" && cf.tlsServerName == "" && !cf.tlsDisableHostVerification {
		return
	}
	if p.TLS == nil || p.TLS.Disabled {
		p.TLS = &envconfig.ClientConfigTLS{}
	}
	t := p.TLS
	for _, o := range []struct {
		flag string
		dst  *string
	}{{cf.tlsCA, &t.ServerCACertPath}, {cf.tlsCert, &t.ClientCertPath}, {cf.tlsKey, &t.ClientKeyPath}, {cf.tlsServerName, &t.ServerName}} {
		if o.flag != "" {
			*o.dst = o.flag
		}
	}
	for _, o := range []struct {
		flag string
		dst  *[]byte
	}{{cf.tlsCAData, &t.ServerCACertData}, {cf.tlsCertData, &t.ClientCertData}, {cf.tlsKeyData, &t.ClientKeyData}} {
		if o.flag != "" {
			*o.dst = []byte(o.flag)
		}
	}
	if cf.tlsDisableHostVerification {
		t.DisableHostVerification = true
	}
}

// connection turns the resolved profile into batch.Options; address and
// namespace fall back to the temporal CLI's defaults.
func (cf *connFlags) connection(p envconfig.ClientConfigProfile) error {
	cf.address, cf.namespace = p.Address, p.Namespace
	if cf.address == "" {
		cf.address = defaultAddress
	}
	if strings.TrimSpace(cf.namespace) == "" {
		cf.namespace = defaultNamespace
	}
	identity := cf.identity
	if identity == "" {
		identity = cliIdentity()
	}
	cf.conn = batch.Options{Address: cf.address, Namespace: cf.namespace, APIKey: p.APIKey, Headers: p.GRPCMeta,
		Identity: identity, Authority: p.Authority, DialTimeout: min(cf.commandTimeout, dialTimeout)}
	if p.Codec != nil {
		cf.codec = p.Codec.Endpoint
	}
	if p.TLS == nil {
		return nil
	}
	if p.TLS.Disabled {
		cf.conn.TLS = batch.TLSOptions{Disabled: true}
		return nil
	}
	t := p.TLS
	cf.conn.TLS = batch.TLSOptions{Base: true, CAFile: t.ServerCACertPath, CertFile: t.ClientCertPath, KeyFile: t.ClientKeyPath,
		CAData: t.ServerCACertData, CertData: t.ClientCertData, KeyData: t.ClientKeyData,
		ServerName: t.ServerName, InsecureSkipVerify: t.DisableHostVerification}
	return nil
}
