package pipeline

import (
	"context"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// DayBudget is the blast-radius cap for hosts where an actuation run is
// not one process but many short invocations (a Lambda handling SQS
// batches): the policy's per-run cap applies to each UTC day of a plan,
// and what the plan's actions already spent that day, read from their
// states in the lake, is taken off. Every state that may have changed a
// resource counts (applying, applied, rolled back, failed), so the cap
// errs towards fewer changes. Concurrent invocations can each take the
// last unit between two reads; the actuator's reserved concurrency
// bounds that overshoot.
func (p *Pipeline) DayBudget(ctx context.Context, plan domain.Plan) (*actuate.Budget, error) {
	states, err := p.Lake.ActionStates(ctx, plan.ID)
	if err != nil {
		return nil, err
	}
	now := p.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	spent := 0
	for _, st := range states {
		if st.DryRun || st.At.Before(day) {
			continue
		}
		switch st.Status {
		case domain.StatusApplying, domain.StatusApplied, domain.StatusRolledBack, domain.StatusFailed:
			spent++
		}
	}
	limit := actuate.RunBudget(p.Policy.Caps, plan.Resources).Left()
	return actuate.NewBudget(limit - spent), nil
}
