package batch_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
)

func TestOptionsFromConfig(t *testing.T) {
	got := batch.OptionsFrom(config.Temporal{
		Address: "h:7233", Namespace: "ns", DialTimeout: config.Duration(3 * time.Second),
		TLS: config.TLS{CAFile: "ca", CertFile: "c", KeyFile: "k", ServerName: "s", InsecureSkipVerify: true, Disabled: true},
	}, "key")
	require.Equal(t, batch.Options{
		Address: "h:7233", Namespace: "ns", APIKey: "key", DialTimeout: 3 * time.Second,
		TLS: batch.TLSOptions{CAFile: "ca", CertFile: "c", KeyFile: "k", ServerName: "s", InsecureSkipVerify: true, Disabled: true},
	}, got)
}
