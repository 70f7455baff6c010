package lake

import (
	"context"
	"fmt"
	"sort"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ActionDecisions returns the decisions recorded for one action of a
// plan, ordered by time and then ID; none is an empty result. It reads
// only that action's decisions, where Decisions reads the whole plan's.
// The errors are those of Decisions.
func (l *Lake) ActionDecisions(ctx context.Context, planID, actionID string) ([]domain.Decision, error) {
	if err := checkIDs(planID, actionID); err != nil {
		return nil, fmt.Errorf("decisions of %s/%s: %w", planID, actionID, err)
	}
	keys, err := l.st.List(ctx, "decisions/"+planID+"/"+actionID+"/", "")
	if err != nil {
		return nil, fmt.Errorf("decisions of %s/%s: %w", planID, actionID, err)
	}
	keys = withSuffix(keys, ".json")
	bodies, err := l.getMany(ctx, keys, true)
	if err != nil {
		return nil, fmt.Errorf("decisions of %s/%s: %w", planID, actionID, err)
	}
	out := make([]domain.Decision, 0, len(keys))
	for i, b := range bodies {
		if b == nil {
			continue
		}
		var d domain.Decision
		if err := decodeJSON(keys[i], b, &d); err != nil {
			return nil, fmt.Errorf("decisions of %s/%s: %w", planID, actionID, err)
		}
		if d.Version != domain.DecisionVersion {
			return nil, fmt.Errorf("decisions of %s/%s: %w: %s has schema version %q (want %q)", planID, actionID, domain.ErrUnsupported, keys[i], d.Version, domain.DecisionVersion)
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
