package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/rules"
)

// launchResult is the machine-readable outcome of a launch (-o json).
type launchResult struct {
	JobID     string `json:"job_id"`
	Namespace string `json:"namespace"`
	Operation string `json:"operation"`
	Query     string `json:"query"`
	// Count is the preflight count; visibility lags, so it is approximate.
	Count    int64  `json:"count"`
	Engine   string `json:"engine"`
	DryRun   bool   `json:"dry_run"`
	Launched bool   `json:"launched"`
	// Executions are the listed targets of a dry run.
	Executions []batch.Execution `json:"executions,omitzero"`
	// Targets are the planned targets of a client-engine dry run, and
	// WouldChange how many of all selected would not be skipped.
	Targets     []clientTarget `json:"targets,omitzero"`
	WouldChange *int64         `json:"would_change,omitempty"`
	// Progress is the job's final state, with --wait.
	Progress *batch.Progress `json:"progress,omitempty"`
}

func (p launchPlan) engineName() string {
	if p.client != nil {
		return batch.EngineClient
	}
	return batch.EngineServer
}

func (s *session) runLaunch(f *launchFlags, p launchPlan) error {
	p.job.Namespace = s.namespace
	count, err := s.client.Count(s.ctx, s.namespace, p.job.Query)
	if err != nil {
		return fmt.Errorf("preflight count (nothing was launched): %w", queryError(err))
	}
	if err := p.chooseEngine(count, f.autoLimits()); err != nil {
		return err
	}
	s.warnUnscoped(p)
	res := launchResult{JobID: p.job.ID, Namespace: s.namespace, Operation: p.job.Op.Kind, Query: p.job.Query,
		Count: count, Engine: p.engineName(), DryRun: f.dryRun}
	if f.dryRun {
		return s.dryRun(p, res, f.limit)
	}
	if count == 0 {
		res.JobID = ""
		return s.report(res, "No workflow executions match the query; nothing was launched.")
	}
	if err := s.confirm(p, count, f.yes); err != nil {
		return err
	}
	served, stopWorker, err := s.serveEngine(p, f.wait)
	if err != nil {
		return err
	}
	defer stopWorker()
	if err := s.start(p, f.slotWait); err != nil {
		return err
	}
	res.Launched = true
	if f.wait || served {
		return s.waitAndReport(p, res, served)
	}
	return s.report(res, s.started(p, res)+fmt.Sprintf("\nFollow it with: batchwire batch describe --job-id %s --namespace %s",
		p.job.ID, s.namespace))
}

func (s *session) started(p launchPlan, res launchResult) string {
	return fmt.Sprintf("Started batch job %s on the %s engine: %s %d workflow executions in namespace %s.",
		p.job.ID, res.Engine, p.verb, res.Count, s.namespace)
}

// serveEngine makes sure a client job has a worker. With --wait, or when no
// worker (a batchwire daemon) polls the engine's task queue, this process runs
// one and must follow the job to its end: without a worker the job never
// moves. It reports whether it runs one.
func (s *session) serveEngine(p launchPlan, wait bool) (bool, func(), error) {
	noop := func() {}
	if p.client == nil {
		return false, noop, nil
	}
	if !wait {
		served, err := s.engine.Served(s.ctx)
		if err != nil {
			return false, noop, err
		}
		if served {
			return false, noop, nil
		}
		fmt.Fprintf(s.errOut, "No batchwire daemon serves the client engine in namespace %s: "+
			"this command runs the job and follows it to its end.\n", s.namespace)
	}
	stop, err := s.engine.Serve()
	if err != nil {
		return false, noop, err
	}
	return true, stop, nil
}

func (s *session) report(res launchResult, text string) error {
	if s.json {
		return s.printJSON(res)
	}
	_, err := fmt.Fprintln(s.out, text)
	return err
}

func (s *session) warnUnscoped(p launchPlan) {
	// Only resets: the server batcher signals, cancels and terminates running
	// executions alone, but resets closed ones too.
	if p.job.Op.Kind == batch.KindReset && !rules.FiltersStatus(p.job.Query) {
		fmt.Fprintf(s.errOut, "Warning: the query has no ExecutionStatus clause, so closed executions that match "+
			"are reset too (add ExecutionStatus = 'Running' to skip them).\n")
	}
}

func (s *session) dryRun(p launchPlan, res launchResult, limit int) error {
	if p.client != nil {
		return s.clientDryRun(p, res, limit)
	}
	if p.job.Op.Kind == batch.KindReset {
		// The engine's planner reads each history, so even a reset the server
		// batcher would run shows the event each execution would reset to.
		p.client = &clientJob{Job: p.job}
		return s.clientDryRun(p, res, limit)
	}
	var err error
	res.Executions, err = s.client.ListWorkflows(s.ctx, s.namespace, p.job.Query, limit)
	if err != nil {
		return fmt.Errorf("dry run: %w", queryError(err))
	}
	if res.Executions == nil {
		res.Executions = []batch.Execution{}
	}
	if s.json {
		return s.printJSON(res)
	}
	fmt.Fprintf(s.out, "Dry run: would %s %d workflow executions in namespace %s matching: %s\n",
		p.verb, res.Count, s.namespace, p.job.Query)
	if err := printExecutions(s.out, res.Executions); err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.out, "Listed %d of %d. Nothing was changed.\n", len(res.Executions), res.Count)
	return err
}

// clientDryRun has the engine plan every selected execution, which for a
// reset means reading its history: it tells which would be skipped and why.
func (s *session) clientDryRun(p launchPlan, res launchResult, limit int) error {
	targets, err := s.engine.DryRun(s.ctx, *p.client)
	if err != nil {
		return fmt.Errorf("dry run: %w", queryError(err))
	}
	var would int64
	for _, t := range targets {
		if !t.Skipped {
			would++
		}
	}
	selected := len(targets)
	if limit > 0 && len(targets) > limit {
		targets = targets[:limit]
	}
	res.Targets, res.WouldChange = append([]clientTarget{}, targets...), &would
	if s.json {
		return s.printJSON(res)
	}
	fmt.Fprintf(s.out, "Dry run on the client engine: would %s %d of %d selected workflow executions in namespace %s matching: %s\n",
		p.verb, would, selected, s.namespace, p.job.Query)
	if err := printTargets(s.out, res.Targets); err != nil {
		return err
	}
	_, err = fmt.Fprintf(s.out, "Listed %d of %d. Nothing was changed.\n", len(res.Targets), selected)
	return err
}

// confirm asks on stderr, so -o json output on stdout stays parseable.
func (s *session) confirm(p launchPlan, count int64, yes bool) error {
	if yes {
		return nil
	}
	fmt.Fprintf(s.errOut, "This will %s %d workflow executions in namespace %s matching: %s\nContinue? [y/N] ",
		p.verb, count, s.namespace, p.job.Query)
	answer, err := bufio.NewReader(s.in).ReadString('\n')
	if err != nil && answer == "" {
		return fmt.Errorf("read confirmation (nothing was launched): %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed: nothing was launched")
}

func (s *session) start(p launchPlan, slotWait time.Duration) error {
	var err error
	if p.client != nil {
		err = s.engine.Start(s.ctx, *p.client)
	} else {
		err = s.startServer(p, slotWait)
	}
	switch {
	case errors.Is(err, batch.ErrSlotBusy):
		return fmt.Errorf("namespace %q is already running a batch job, and the server runs one at a time; "+
			"see `batchwire batch list`, then retry, or give --wait-for-slot: %w", s.namespace, err)
	case errors.Is(err, batch.ErrAlreadyStarted):
		return usageError{fmt.Errorf("job id %q is already used in namespace %q; pick another --job-id: %w",
			p.job.ID, s.namespace, err)}
	}
	return err
}

// startServer launches on the server batcher, waiting up to slotWait for the
// namespace's slot: the server runs one batch job per namespace at a time.
func (s *session) startServer(p launchPlan, slotWait time.Duration) error {
	deadline := time.Now().Add(slotWait)
	told := false
	for {
		err := s.client.Start(s.ctx, p.job)
		if !errors.Is(err, batch.ErrSlotBusy) || time.Now().After(deadline) {
			return err
		}
		if !told {
			fmt.Fprintf(s.errOut, "Namespace %q is running another batch job; waiting up to %s for its slot.\n", s.namespace, slotWait)
			told = true
		}
		select {
		case <-s.ctx.Done():
			return fmt.Errorf("waiting for the batch slot: %w", s.ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func (s *session) waitAndReport(p launchPlan, res launchResult, served bool) error {
	if !s.json {
		fmt.Fprintln(s.out, s.started(p, res))
	}
	describe := func(ctx context.Context) (batch.Progress, error) {
		if p.client != nil {
			return s.engine.Describe(ctx, p.job.ID)
		}
		return s.client.Describe(ctx, s.namespace, p.job.ID)
	}
	final, err := s.follow(p.job.ID, res.Count, describe)
	if err != nil && served {
		return fmt.Errorf("%w; this command ran its worker, so it pauses until a batchwire daemon serves namespace %s", err, s.namespace)
	}
	if err != nil {
		return err
	}
	res.Progress = &final
	if err := s.report(res, fmt.Sprintf("Batch job %s %s: %d/%d completed, %d failed.",
		final.JobID, final.State, final.Completed, final.Total, final.Failed)); err != nil {
		return err
	}
	return finalError(final)
}

// finalError makes --wait exit 1 when the job failed or any operation did.
func finalError(final batch.Progress) error {
	if final.State != batch.StateCompleted {
		return fmt.Errorf("batch job %q ended %s, with %d failed operations", final.JobID, final.State, final.Failed)
	}
	if final.Failed > 0 {
		return fmt.Errorf("batch job %q completed with %d failed operations", final.JobID, final.Failed)
	}
	return nil
}
