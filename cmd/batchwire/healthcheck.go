package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the probe for images without a shell or an HTTP
// client (distroless): Docker and compose healthchecks run the binary itself.
func newHealthcheckCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 if a running batchwire answers 200 on /-/ready",
		Long: `healthcheck asks a running daemon's readiness endpoint and exits 0 when it
answers 200 OK, 1 otherwise (not ready yet, not listening, or no answer within
--timeout). It is what the compose stack's healthcheck runs, since the image
has no shell and no HTTP client; use --url .../-/healthy for liveness.`,
		Example: `  batchwire healthcheck --url http://127.0.0.1:9464/-/ready`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return probe(cmd.Context(), url, timeout)
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:9464/-/ready", "URL to ask")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

func probe(ctx context.Context, url string, timeout time.Duration) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usageError{fmt.Errorf("--url: %w", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("healthcheck: " + url + " answered " + resp.Status)
	}
	return nil
}
