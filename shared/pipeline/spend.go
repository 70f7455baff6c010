package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
)

// SpendArtifact is the name of the plan artifact holding the spend
// forecasts and anomalies.
const SpendArtifact = "spend.json"

// Spend forecasts daily spend and finds cost anomalies from the bill:
// per cloud, the ingested billing exports (every month ingested), or,
// for a cloud without any, the cost rows of its latest snapshot. It
// returns nil when there is no cost data at all.
func (p *Pipeline) Spend(ctx context.Context) (*forecast.Result, error) {
	b := forecast.NewBuilder(p.SpendOptions)
	rows := 0
	add := func(r domain.CostRow) error {
		rows++
		b.Add(r)
		return nil
	}
	for _, c := range domain.Clouds {
		billing, err := p.Lake.CurrentBilling(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("spend: %s billing: %w", c, err)
		}
		if len(billing) > 0 {
			for _, s := range billing {
				if err := s.CostRows(ctx, add); err != nil {
					return nil, fmt.Errorf("spend: %w", err)
				}
			}
			continue
		}
		s, err := p.Lake.LatestSnapshot(ctx, c)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spend: latest %s snapshot: %w", c, err)
		}
		if err := s.CostRows(ctx, add); err != nil {
			return nil, fmt.Errorf("spend: %w", err)
		}
	}
	if rows == 0 {
		return nil, nil
	}
	res, err := b.Analyze(p.now())
	if err != nil {
		return nil, fmt.Errorf("spend: %w", err)
	}
	return &res, nil
}

// spendOf reads a plan's spend artifact; nil when the plan has none.
func (p *Pipeline) spendOf(ctx context.Context, planID string) (*forecast.Result, error) {
	b, err := p.Lake.GetArtifact(ctx, planID, SpendArtifact)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spend of %s: %w", planID, err)
	}
	var res forecast.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("spend of %s: %w: %s is not valid: %v", planID, domain.ErrInvalid, SpendArtifact, err)
	}
	return &res, nil
}
