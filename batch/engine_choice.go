package batch

import (
	"strings"

	"github.com/batchwire/batchwire/config"
)

// Engines a job can run on.
const (
	EngineServer = "server"
	EngineClient = "client"
	EngineAuto   = "auto"
	// EngineDirect is chosen by the daemon's engine auto only, never asked
	// for: a small job of a repeat-safe operation applied by the daemon
	// itself, with its selection recorded before anything is applied (see
	// DirectEngine).
	EngineDirect = "direct"
)

// Defaults for the engine choice and the client engine, used by the daemon,
// the CLI and the engine alike; config defines them once.
const (
	// DefaultAutoClientMax is the largest preflight count that engine auto
	// sends to the client engine.
	DefaultAutoClientMax = config.DefaultAutoClientMax
	// DefaultServerRPS is the server batcher's rate, the server's
	// worker.batcherRPS default.
	DefaultServerRPS = config.DefaultServerRPS
	// DefaultClientConcurrency is how many executions a client job works on at once.
	DefaultClientConcurrency = config.DefaultClientConcurrency
	// DefaultClientRPS caps a client job's operations per second; 0 is no cap.
	DefaultClientRPS = config.DefaultClientRPS
	// DefaultDirectMax is the largest preflight count that the daemon's
	// engine auto applies directly.
	DefaultDirectMax = config.DefaultDirectMax
)

// CheckEngine refuses a requested engine that cannot run op: the server
// batcher lacks some resets and reset filters.
func CheckEngine(requested string, op Operation) error {
	switch requested {
	case EngineServer:
		if needs := op.ClientOnly(); len(needs) > 0 {
			return fieldErr("engine", "server cannot run %s (the server batcher lacks it); use client or auto",
				strings.Join(needs, ", "))
		}
	case EngineClient, EngineAuto, "":
	default:
		return fieldErr("engine", "want server, client or auto, got %q", requested)
	}
	return nil
}

// AutoLimits are what engine auto weighs for a job.
type AutoLimits struct {
	// ClientMax is the largest count auto gives the client engine.
	ClientMax int64
	// ClientRPS is the job's rate on the client engine; 0 is no cap (its
	// concurrency and the server bound it).
	ClientRPS float64
	// ServerRPS is the server batcher's rate: the server's worker.batcherRPS,
	// which it applies whatever rate the request asks for (since 1.29).
	ServerRPS float64
}

// AutoLimitsOf are the daemon's limits, from its launch settings.
func AutoLimitsOf(l config.Launch) AutoLimits {
	return AutoLimits{ClientMax: l.AutoClientMax, ClientRPS: l.ClientRPS, ServerRPS: l.ServerRPS}
}

// ChooseEngine is the one engine choice, for the daemon and the CLI alike.
// server and client are taken as asked (CheckEngine first); auto picks the
// client engine for what the server batcher lacks, the server batcher for
// more than limits.ClientMax executions, and otherwise whichever engine
// finishes first at its rate (serverFirst).
func ChooseEngine(requested string, op Operation, count int64, limits AutoLimits) (string, error) {
	if err := CheckEngine(requested, op); err != nil {
		return "", err
	}
	switch {
	case requested == EngineServer:
		return EngineServer, nil
	case requested == EngineClient, len(op.ClientOnly()) > 0:
		return EngineClient, nil
	case count > limits.ClientMax, serverFirst(count, limits):
		return EngineServer, nil
	}
	return EngineClient, nil
}

// serverFirst reports whether the server batcher, at its rate, is done no
// later than the client engine at the job's: both apply the same count, so
// that is whether the server's rate is at least the client's. An uncapped
// client engine runs as fast as the server answers it (about 1000 signals/s
// at concurrency 32 on a 2-core dev server, BENCHMARKS.md), far above a
// batcher's usual rate, so it is taken to finish first; set
// launch.client_rps to weigh it. On a tie the server batcher runs it, off
// the daemon.
func serverFirst(count int64, limits AutoLimits) bool {
	return count > 0 && limits.ClientRPS > 0 && limits.ServerRPS >= limits.ClientRPS
}

// Direct says whether a job that engine auto sends to the client engine may
// run on the direct engine instead: it is a direct candidate and its count is
// at most directMax.
func Direct(requested string, job Job, count, directMax int64) bool {
	return DirectCandidate(requested, job, directMax) && count <= directMax
}

// DirectCandidate says whether a job may run on the direct engine, its size
// aside: the daemon offers one (directMax > 0), engine auto is asked for,
// and the operation is repeat-safe, since a direct job that a crash
// interrupts runs again from its recorded selection. A rate on the job keeps
// it on the client engine, whose progress is seen while it is paced.
func DirectCandidate(requested string, job Job, directMax int64) bool {
	return (requested == EngineAuto || requested == "") && directMax > 0 &&
		job.Op.RepeatSafe() && job.MaxOpsPerSecond == 0
}
