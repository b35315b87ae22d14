package batch

import "github.com/batchwire/batchwire/config"

// OptionsFrom maps the configuration's temporal section to dial options, so
// the daemon and `batchwire test` reach Temporal the same way. The API key is
// passed in: the caller reads it from the file or environment it names.
func OptionsFrom(t config.Temporal, apiKey string) Options {
	return Options{
		Address:   t.Address,
		Namespace: t.Namespace,
		APIKey:    apiKey,
		TLS: TLSOptions{
			CAFile: t.TLS.CAFile, CertFile: t.TLS.CertFile, KeyFile: t.TLS.KeyFile,
			ServerName: t.TLS.ServerName, InsecureSkipVerify: t.TLS.InsecureSkipVerify, Disabled: t.TLS.Disabled,
		},
		DialTimeout: t.DialTimeout.Std(),
	}
}
