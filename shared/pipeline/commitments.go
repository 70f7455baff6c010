package pipeline

import (
	"fmt"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// commitmentRates answers the optimizer's rate lookups from a
// commitment index: the size's own rate, else the median of its
// family's in the region, named as an estimate.
type commitmentRates struct{ x *pricing.CommitmentIndex }

func (r commitmentRates) CommitmentRate(cloud domain.Cloud, region, sku string, term int) (optimize.CommitmentRate, bool) {
	if c, ok := r.x.Best(cloud, region, sku, term); ok {
		return optimize.CommitmentRate{Discount: c.Discount, Payment: c.Payment, Source: c.Source}, true
	}
	fam := pricing.Family(cloud, sku)
	if fam == "" {
		return optimize.CommitmentRate{}, false
	}
	d, ok := r.x.FamilyDiscount(cloud, region, fam, term)
	if !ok {
		return optimize.CommitmentRate{}, false
	}
	return optimize.CommitmentRate{Discount: d, Source: fmt.Sprintf("embedded catalog: median of family %s in %s", fam, region)}, true
}

var embeddedRates = sync.OnceValues(func() (*pricing.CommitmentIndex, error) {
	cs, err := pricing.Commitments()
	if err != nil {
		return nil, err
	}
	return pricing.NewCommitmentIndex(cs), nil
})

// commitments returns the pipeline's commitment rates: its own index,
// or the embedded catalog's.
func (p *Pipeline) commitments() (optimize.CommitmentRates, error) {
	x := p.Commitments
	if x == nil {
		var err error
		if x, err = embeddedRates(); err != nil {
			return nil, fmt.Errorf("commitment rates: %w", err)
		}
	}
	return commitmentRates{x}, nil
}

// objectClasses returns the object storage class prices: the pipeline's,
// or the embedded ones.
func (p *Pipeline) objectClasses() *pricing.ObjectClasses {
	if p.ObjectClasses != nil {
		return p.ObjectClasses
	}
	return pricing.EmbeddedObjectClasses()
}
