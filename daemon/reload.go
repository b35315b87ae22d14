package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
)

// liveState is what a reload swaps atomically: the rules and the settings
// that may change at run time.
type liveState struct {
	cfg   *config.Config
	rules *rules.Set
	// ops holds each rule's compiled operation, by rule name.
	ops map[string]batch.Operation
}

// Reload reads the configuration file again through Load, the loader run
// and check use, and swaps the new state in only if it has no error. A bad
// file keeps the running state; the error lists its problems, one per line,
// in the words check prints. Settings that cannot change at run time (connections,
// listeners, triggers, audit, metrics, launch options other than paused)
// make the reload fail with the field named.
func (d *Daemon) Reload() error {
	d.reload.Lock()
	defer d.reload.Unlock()
	err := d.reloadLocked()
	if err != nil {
		d.metrics.reloadSuccessful.Set(0)
		var problems *config.Error
		if !errors.As(err, &problems) {
			d.log.Error("configuration reload failed; the running configuration stays", "err", err)
			return err
		}
		for _, p := range problems.Problems {
			d.log.Error("configuration reload failed; the running configuration stays", "problem", p.String())
		}
		return err
	}
	return nil
}

func (d *Daemon) reloadLocked() error {
	if d.opts.ConfigPath == "" {
		return errors.New("reload: the daemon was started without a configuration file")
	}
	loaded, problems := Load(d.opts.ConfigPath, d.log)
	if err := problems.Err(); err != nil {
		return err
	}
	for _, p := range problems.Warnings() {
		d.log.Warn("configuration warning", "problem", p.String())
	}
	cfg, set, ops := loaded.Config, loaded.Rules, loaded.Ops
	if err := fixedFieldsUnchanged(d.cfg, cfg); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	d.live.Store(&liveState{cfg: cfg, rules: set, ops: ops})
	d.metrics.configLoaded(cfg.Hash)
	d.metrics.configured(cfg, ops)
	d.log.Info("configuration reloaded", "rules", len(set.Rules()), "paused", cfg.Launch.Paused, "sha256", cfg.Hash[:12])
	return nil
}

// fixedFieldsUnchanged refuses a reload that changes what only a restart can.
func fixedFieldsUnchanged(running, next *config.Config) error {
	launchA, launchB := running.Launch, next.Launch
	launchA.Paused, launchB.Paused = false, false
	fields := []struct {
		name string
		a, b any
	}{
		{"temporal", running.Temporal, next.Temporal},
		{"nats", running.NATS, next.NATS},
		{"http", running.HTTP, next.HTTP},
		{"data_dir", running.DataDir, next.DataDir},
		{"metrics", running.Metrics, next.Metrics},
		{"audit", running.Audit, next.Audit},
		{"launch (all but paused)", launchA, launchB},
		{"triggers", triggersWithoutLines(running.Triggers), triggersWithoutLines(next.Triggers)},
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.a, f.b) {
			return fmt.Errorf("%s cannot change at run time; restart batchwire to apply it", f.name)
		}
	}
	return nil
}

func triggersWithoutLines(in []config.Trigger) []config.Trigger {
	out := make([]config.Trigger, len(in))
	for i, t := range in {
		t.Line, t.Lines = 0, nil
		out[i] = t
	}
	return out
}

func (d *Daemon) handleReload(w http.ResponseWriter, _ *http.Request) {
	if err := d.Reload(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = w.Write([]byte("OK\n"))
}

// Handler is the daemon's HTTP API as Run serves it (/metrics, /-/healthy,
// /-/ready, POST /-/reload and the HTTP triggers), for embedding and tests.
func (d *Daemon) Handler() http.Handler { return d.routes() }
