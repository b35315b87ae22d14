package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batchwire/batchwire/batch"
)

// describeSequence answers describes with the given progresses, repeating
// the last one.
func describeSequence(steps ...batch.Progress) func(context.Context) (batch.Progress, error) {
	i := 0
	return func(context.Context) (batch.Progress, error) {
		p := steps[min(i, len(steps)-1)]
		i++
		return p, nil
	}
}

func TestFollowKeepsCountsOfAFailedJob(t *testing.T) {
	var stderr bytes.Buffer
	s := &session{ctx: context.Background(), errOut: &stderr}
	final, err := s.follow("j", 3, describeSequence(batchProgress("running", 3, 1, 1), batchProgress("failed", 0, 0, 0)))
	require.NoError(t, err)
	require.Equal(t, batchProgress("failed", 3, 1, 1), final)
	require.Contains(t, stderr.String(), "batch job j: failed, 1/3 completed, 1 failed")
	require.ErrorContains(t, finalError(final), `batch job "j" ended failed, with 1 failed operations`)
}

func TestFinalError(t *testing.T) {
	require.NoError(t, finalError(batchProgress("completed", 2, 2, 0)))
	require.ErrorContains(t, finalError(batchProgress("completed", 2, 1, 1)), "completed with 1 failed operations")
	require.Error(t, finalError(batchProgress("failed", 2, 2, 0)))
}

func TestFollowStopsAtCommandTimeoutNotTheJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s := &session{ctx: ctx, errOut: &bytes.Buffer{}}
	_, err := s.follow("j", 3, describeSequence(batchProgress("running", 3, 1, 0)))
	require.ErrorContains(t, err, "--command-timeout reached")
	require.ErrorContains(t, err, "the job keeps running")
}

func TestFollowGivesUpAfterRepeatedDescribeErrors(t *testing.T) {
	s := &session{ctx: context.Background(), errOut: &bytes.Buffer{}}
	calls := 0
	_, err := s.follow("j", 1, func(context.Context) (batch.Progress, error) {
		calls++
		return batch.Progress{}, errors.New("unavailable")
	})
	require.ErrorContains(t, err, `follow batch job "j": unavailable`)
	require.Equal(t, followErrorBudget, calls)
}
