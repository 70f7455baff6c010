package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// PricesVersion is the schema of a stored price list.
const PricesVersion = "cloudtrim.prices/v1"

// pricesDoc is a cloud's live price list as stored in the lake.
type pricesDoc struct {
	Version string         `json:"version"`
	Cloud   domain.Cloud   `json:"cloud"`
	At      time.Time      `json:"at"`
	Prices  []domain.Price `json:"prices"`
}

// PricesKey is the lake key of cloud's live price list.
func PricesKey(cloud domain.Cloud) string { return "prices/" + string(cloud) + ".json" }

// StorePrices keeps a cloud's live on-demand prices (read from its price
// API) in the lake, replacing the previous list in one write.
func (p *Pipeline) StorePrices(ctx context.Context, cloud domain.Cloud, prices []domain.Price) error {
	for i, pr := range prices {
		if pr.Cloud != cloud {
			return fmt.Errorf("store prices: %w: price %d is of cloud %q, not %q", domain.ErrInvalid, i, pr.Cloud, cloud)
		}
	}
	b, err := json.Marshal(pricesDoc{Version: PricesVersion, Cloud: cloud, At: p.now().UTC(), Prices: prices})
	if err != nil {
		return err
	}
	if err := p.Lake.Put(ctx, PricesKey(cloud), b, false); err != nil {
		return fmt.Errorf("store prices of %s: %w", cloud, err)
	}
	return nil
}

// LoadPrices lays the live price lists stored in the lake over base (the
// embedded catalog): a stored list replaces base's prices of the regions
// it covers. Without stored lists it returns base.
func (p *Pipeline) LoadPrices(ctx context.Context, base *pricing.Catalog) (*pricing.Catalog, error) {
	out := base
	for _, c := range domain.Clouds {
		b, err := p.Lake.Get(ctx, PricesKey(c))
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load prices of %s: %w", c, err)
		}
		var doc pricesDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("load prices %s: %w: %v", PricesKey(c), domain.ErrInvalid, err)
		}
		if doc.Version != PricesVersion || doc.Cloud != c {
			return nil, fmt.Errorf("load prices %s: %w: version %q of cloud %q (want %q of %q)", PricesKey(c), domain.ErrUnsupported, doc.Version, doc.Cloud, PricesVersion, c)
		}
		out = out.Merge(doc.Prices)
	}
	return out, nil
}
