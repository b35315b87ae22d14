package admit

import (
	"context"

	"github.com/batchwire/batchwire/batch"
)

// engine picks where the job runs, with the one choice the CLI makes too;
// the daemon alone has the direct engine, for small repeat-safe jobs that
// engine auto sends to the client engine (batch.Direct).
type engine struct {
	limits    batch.AutoLimits
	directMax int64
}

func (e engine) Admit(_ context.Context, in *Input, d *Decision) bool {
	chosen, err := batch.ChooseEngine(in.Eval.Rule.Config.Engine, d.Job.Op, d.Count, e.limits)
	if err != nil {
		return d.stop(StageEngine, Error, "", err)
	}
	if chosen == batch.EngineClient && batch.Direct(in.Eval.Rule.Config.Engine, d.Job, d.Count, e.directMax) {
		chosen = batch.EngineDirect
	}
	d.Engine = chosen
	return true
}
