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

// ChooseEngine is the one engine choice, for the daemon and the CLI alike.
// server and client are taken as asked (CheckEngine first); auto picks the
// client engine for what the server batcher lacks and for jobs of at most
// autoClientMax executions, which then need no namespace batch slot and so
// are not serialised behind each other, and the server batcher otherwise.
func ChooseEngine(requested string, op Operation, count, autoClientMax int64) (string, error) {
	if err := CheckEngine(requested, op); err != nil {
		return "", err
	}
	switch {
	case requested == EngineServer:
		return EngineServer, nil
	case requested == EngineClient, len(op.ClientOnly()) > 0, count <= autoClientMax:
		return EngineClient, nil
	}
	return EngineServer, nil
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
