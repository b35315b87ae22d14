package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/batchwire/batchwire/batch"
	"github.com/batchwire/batchwire/config"
	"github.com/batchwire/batchwire/rules"
	"github.com/batchwire/batchwire/triggers"
)

// liveState is what a reload swaps atomically: the rules and the settings
// that may change at run time.
type liveState struct {
	cfg   *config.Config
	rules *rules.Set
	// ops holds each rule's compiled operation, by rule name.
	ops map[string]batch.Operation
	// adminToken is read again at each reload, so a token is rotated by
	// writing the file and reloading.
	adminToken []byte
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
	// Whether it was swapped in or refused, the file just loaded and
	// compiled is garbage now except for the new state.
	releaseMemory()
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
	if info := d.server.Load(); info != nil {
		if err := ServerProblems(*info, cfg, ops).InFile(d.opts.ConfigPath).Err(); err != nil {
			return err
		}
	}
	d.live.Store(&liveState{cfg: cfg, rules: set, ops: ops, adminToken: loaded.AdminToken})
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

// handleReload serves POST /-/reload, mounted only with http.admin.enabled.
// The answer holds the configuration's problems, so only a caller with the
// admin token gets past the check.
func (d *Daemon) handleReload(w http.ResponseWriter, r *http.Request) {
	token := d.live.Load().adminToken
	if len(token) == 0 || !triggers.BearerMatches(r.Header.Get("Authorization"), token) {
		d.metrics.httpAuthFailures.WithLabelValues(adminTrigger, triggers.AuthReasonBearerToken).Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="batchwire admin"`)
		http.Error(w, "unauthorized: POST /-/reload needs the admin bearer token (http.admin.token_file)", http.StatusUnauthorized)
		return
	}
	if err := d.Reload(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = w.Write([]byte("OK\n"))
}

// adminTrigger is the trigger label of the admin endpoints' auth failures;
// "/-/" cannot be a trigger's name in a file that also mounts triggers
// under paths, and reads as the admin prefix.
const adminTrigger = "/-/admin"

// Handler is the daemon's HTTP API as Run serves it (/metrics, /-/healthy,
// /-/ready, POST /-/reload when enabled, and the HTTP triggers), for
// embedding and tests.
func (d *Daemon) Handler() http.Handler { return d.routes() }
