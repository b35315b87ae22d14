package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/batchwire/batchwire/batch"
)

// followInterval paces DescribeBatchOperation while following a job; a small
// server job finishes in well under a second, so faster polling buys nothing.
const followInterval = 500 * time.Millisecond

// followErrorBudget is how many describe failures in a row are tolerated, so a
// frontend hiccup does not abandon a job that keeps running.
const followErrorBudget = 5

// progressView shows a followed job's progress.
type progressView interface {
	update(p batch.Progress)
	finish(p batch.Progress)
}

// follow describes the job until it ends. Ctrl-C or --command-timeout stop
// the following, never the job.
func (s *session) follow(jobID string, expected int64, describe func(context.Context) (batch.Progress, error)) (batch.Progress, error) {
	ctx, stop := signal.NotifyContext(s.ctx, os.Interrupt)
	defer stop()
	view := s.newView(jobID, expected)
	tick := time.NewTicker(followInterval)
	defer tick.Stop()
	var last batch.Progress
	failures := 0
	for {
		p, err := describe(ctx)
		switch {
		case err == nil:
			failures = 0
			p = keepCounts(p, last)
			view.update(p)
			last = p
			if p.Done() {
				view.finish(p)
				return p, nil
			}
		case ctx.Err() == nil:
			if failures++; failures >= followErrorBudget {
				return last, fmt.Errorf("follow batch job %q: %w", jobID, err)
			}
		}
		select {
		case <-ctx.Done():
			view.finish(last)
			return last, stoppedFollowing(jobID, s.ctx.Err())
		case <-tick.C:
		}
	}
}

func stoppedFollowing(jobID string, cause error) error {
	why := "interrupted"
	if errors.Is(cause, context.DeadlineExceeded) {
		why = "--command-timeout reached"
	}
	return fmt.Errorf("stopped following batch job %q (%s); the job keeps running: "+
		"batchwire batch describe --job-id %s, or stop it with batchwire batch terminate --job-id %s --reason R",
		jobID, why, jobID, jobID)
}

// keepCounts carries the last counts over a final describe that reports
// zeros: the server does so for a failed or stopped job.
func keepCounts(p, last batch.Progress) batch.Progress {
	if p.Done() && p.Total == 0 && p.Completed == 0 && p.Failed == 0 {
		p.Total, p.Completed, p.Failed = last.Total, last.Completed, last.Failed
	}
	return p
}

// newView draws a live bar on a terminal and otherwise a line per change,
// which reads well in CI logs.
func (s *session) newView(jobID string, expected int64) progressView {
	if isTerminal(s.errOut) {
		return newBarView(s.errOut, jobID, expected, s.color)
	}
	return &lineView{w: s.errOut, jobID: jobID, started: time.Now()}
}

type barView struct {
	bar   *progressbar.ProgressBar
	jobID string
	w     io.Writer
}

func newBarView(w io.Writer, jobID string, expected int64, color bool) *barView {
	bar := progressbar.NewOptions64(max(expected, 1),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(jobID),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("ops"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionEnableColorCodes(color),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &barView{bar: bar, jobID: jobID, w: w}
}

func (v *barView) update(p batch.Progress) {
	if p.Total > 0 && p.Total != v.bar.GetMax64() {
		v.bar.ChangeMax64(p.Total)
	}
	if p.Failed > 0 {
		v.bar.Describe(fmt.Sprintf("%s (%d failed)", v.jobID, p.Failed))
	}
	_ = v.bar.Set64(p.Completed + p.Failed)
}

func (v *barView) finish(batch.Progress) {
	_ = v.bar.Exit()
	fmt.Fprintln(v.w)
}

type lineView struct {
	w       io.Writer
	jobID   string
	started time.Time
	last    batch.Progress
	printed bool
}

func (v *lineView) update(p batch.Progress) {
	if v.printed && p.State == v.last.State && p.Total == v.last.Total &&
		p.Completed == v.last.Completed && p.Failed == v.last.Failed {
		return
	}
	v.printed, v.last = true, p
	done := p.Completed + p.Failed
	rate := float64(done) / max(time.Since(v.started).Seconds(), 0.001)
	eta := "-"
	if rate > 0 && p.Total >= done {
		eta = time.Duration(float64(p.Total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(v.w, "batch job %s: %s, %d/%d completed, %d failed, %.1f ops/s, ETA %s\n",
		v.jobID, p.State, p.Completed, p.Total, p.Failed, rate, eta)
}

func (v *lineView) finish(batch.Progress) {}
