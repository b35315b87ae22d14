package daemon

import (
	"context"
	"fmt"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
)

// readServerInfo reads the connected server's version and capabilities
// once, at start; Options.ServerInfo replaces the server's answer.
func (d *Daemon) readServerInfo(ctx context.Context, temporal *batch.Client) (batch.ServerInfo, error) {
	if d.opts.ServerInfo != nil {
		return *d.opts.ServerInfo, nil
	}
	info, err := temporal.SystemInfo(ctx)
	if err != nil {
		return batch.ServerInfo{}, fmt.Errorf("read what the Temporal server at %s runs: %w", d.cfg.Temporal.Address, err)
	}
	return info, nil
}

// ServerProblems lists, for each rule whose operation the server is too old
// to run, a problem at the rule's action naming the version it needs. The
// loader runs without a server, so run, reload and test call this once
// they are connected.
func ServerProblems(info batch.ServerInfo, cfg *config.Config, ops map[string]batch.Operation) config.Problems {
	var problems config.Problems
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		op, ok := ops[r.Name]
		if !ok {
			continue
		}
		if err := info.CheckServer(op); err != nil {
			problems = append(problems, r.Errorf(r.Operation(), "%v", err))
		}
	}
	return problems
}
