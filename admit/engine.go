package admit

import (
	"context"

	"github.com/batchwire/batchwire/batch"
)

// engine picks where the job runs, with the one choice the CLI makes too.
type engine struct{ limits batch.AutoLimits }

func (e engine) Admit(_ context.Context, in *Input, d *Decision) bool {
	chosen, err := batch.ChooseEngine(in.Eval.Rule.Config.Engine, d.Job.Op, d.Count, e.limits)
	if err != nil {
		return d.stop(StageEngine, Error, "", err)
	}
	d.Engine = chosen
	return true
}
