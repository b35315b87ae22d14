package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHealthcheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready {
			http.Error(w, "not ready: trigger flags", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	run := func(args ...string) error {
		root := newRootCmd()
		root.SetArgs(append([]string{"healthcheck"}, args...))
		root.SetOut(new(bytes.Buffer))
		root.SetErr(new(bytes.Buffer))
		return root.Execute()
	}
	require.NoError(t, run("--url", srv.URL+"/-/ready"))
	ready = false
	err := run("--url", srv.URL+"/-/ready")
	require.ErrorContains(t, err, "503 Service Unavailable")
	require.False(t, errors.As(err, new(usageError)), "not ready exits 1")
	addr := srv.Listener.Addr().String()
	srv.Close()
	require.ErrorContains(t, run("--url", "http://"+addr+"/-/ready"), "connection refused")
	require.True(t, errors.As(run("--url", "://bad"), new(usageError)), "a bad URL exits 2")
}
