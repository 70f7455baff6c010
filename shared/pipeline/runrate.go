package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// RunRate is the list-price monthly cost of what a snapshot shows
// billing: running VMs, disks, addresses and snapshots.
type RunRate struct {
	Cloud     domain.Cloud `json:"cloud"`
	RunID     string       `json:"run_id"`
	Resources int          `json:"resources"`
	Unpriced  int          `json:"unpriced"`
	Monthly   domain.Money `json:"monthly"`
}

// RunRates measures the run rate of the latest committed snapshot of
// every cloud, from the inventory as collected and the price catalog.
func (p *Pipeline) RunRates(ctx context.Context) ([]RunRate, error) {
	var out []RunRate
	for _, c := range domain.Clouds {
		s, err := p.Lake.LatestSnapshot(ctx, c)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("run rate %s: %w", c, err)
		}
		rr := RunRate{Cloud: c, RunID: s.Manifest().RunID, Monthly: domain.Money{Currency: "USD"}}
		err = s.Resources(ctx, func(r domain.Resource) error {
			rr.Resources++
			m, ok := p.MonthlyListCost(r)
			if !ok {
				rr.Unpriced++
				return nil
			}
			rr.Monthly = rr.Monthly.Plus(m)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("run rate %s: %w", c, err)
		}
		out = append(out, rr)
	}
	return out, nil
}

// MonthlyListCost returns what r costs a month at list price in its
// current state, and whether a price was found. A stopped VM costs
// nothing for compute.
func (p *Pipeline) MonthlyListCost(r domain.Resource) (domain.Money, bool) {
	if r.Kind == domain.KindVM && r.State != domain.StateRunning {
		return domain.Money{Currency: "USD"}, true
	}
	price, ok := p.Prices.Lookup(r.Cloud, r.Region, r.Kind, r.SKU)
	if !ok {
		return domain.Money{}, false
	}
	return price.MonthlyFor(r.SizeGiB)
}
