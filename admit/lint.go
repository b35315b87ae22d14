package admit

import (
	"context"
	"fmt"

	"github.com/batchwire/batchwire/rules"
)

// lint refuses a rendered query that fails the scope lint: a value can still
// make a query that passed at load select everything, e.g. an empty
// STARTS_WITH prefix.
type lint struct{}

func (lint) Admit(_ context.Context, _ *Input, d *Decision) bool {
	if _, err := rules.LintQuery(d.Action.Query); err != nil {
		return d.stop(StageLint, Error, fmt.Sprintf("rendered query refused: %v", err), err)
	}
	return true
}
