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

// Reload reads the configuration file again, builds the new state and swaps
// it in only if all of it is valid. A bad file keeps the running state and
// the error says why. Settings that cannot change at run time (connections,
// listeners, triggers, audit, metrics, launch options other than paused)
// make the reload fail with the field named.
func (d *Daemon) Reload() error {
	d.reload.Lock()
	defer d.reload.Unlock()
	err := d.reloadLocked()
	if err != nil {
		d.metrics.reloadSuccessful.Set(0)
		d.log.Error("configuration reload failed; the running configuration stays", "err", err)
		return err
	}
	return nil
}

func (d *Daemon) reloadLocked() error {
	if d.opts.ConfigPath == "" {
		return errors.New("reload: the daemon was started without a configuration file")
	}
	cfg, err := config.Load(d.opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	set, ops, err := compileAndLint(cfg)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if err := fixedFieldsUnchanged(d.cfg, cfg); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	d.live.Store(&liveState{cfg: cfg, rules: set, ops: ops})
	d.metrics.configLoaded(cfg.Hash)
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
		t.Line = 0
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
