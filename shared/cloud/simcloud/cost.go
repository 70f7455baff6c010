package simcloud

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// CostDays is the number of whole UTC days before the estate's clock for
// which CostRows has rows (fewer when Config.Days is smaller).
const CostDays = 7

// costPageSize is the largest page CostRows hands to its callback.
const costPageSize = 1000

const monthSeconds = domain.HoursPerMonth * 3600

// bills reports whether a resource of kind in state is charged.
func bills(kind domain.Kind, state string) bool {
	switch kind {
	case domain.KindVM:
		return state == domain.StateRunning
	case domain.KindIP:
		return state != domain.StateReleased
	}
	return state != domain.StateDeleted
}

// charge returns the list cost in micro-units of p for seconds of a
// resource of sizeGiB, rounded once, and the pricing quantity.
func charge(p domain.Price, sizeGiB, seconds int64) (int64, float64) {
	switch p.Unit {
	case domain.UnitGiBMonth:
		return divRound(p.Amount.Micros*sizeGiB*seconds, monthSeconds), float64(sizeGiB) * float64(seconds) / monthSeconds
	case domain.UnitMonth:
		return divRound(p.Amount.Micros*seconds, monthSeconds), float64(seconds) / monthSeconds
	}
	return divRound(p.Amount.Micros*seconds, 3600), float64(seconds) / 3600
}

// discounted returns micros less a discount in basis points, rounded once.
func discounted(micros, bp int64) int64 { return micros - divRound(micros*bp, 10_000) }

// divRound divides a non-negative a by b, rounding half up.
func divRound(a, b int64) int64 { return (a + b/2) / b }

var providerNames = map[domain.Cloud]string{domain.AWS: "AWS", domain.Azure: "Microsoft", domain.GCP: "Google Cloud"}

func service(c domain.Cloud, k domain.Kind) (name, category, resourceType string) {
	switch k {
	case domain.KindVM:
		category, resourceType = "Compute", "Virtual Machine"
	case domain.KindDisk:
		category, resourceType = "Storage", "Disk"
	case domain.KindSnapshot:
		category, resourceType = "Storage", "Snapshot"
	case domain.KindBucket:
		category, resourceType = "Storage", "Bucket"
		name = map[domain.Cloud]string{domain.AWS: "Amazon Simple Storage Service", domain.Azure: "Storage", domain.GCP: "Cloud Storage"}[c]
		return name, category, resourceType
	default:
		category, resourceType = "Networking", "IP Address"
	}
	switch c {
	case domain.AWS:
		name = "Amazon Elastic Compute Cloud"
	case domain.Azure:
		name = map[domain.Kind]string{domain.KindVM: "Virtual Machines", domain.KindDisk: "Storage",
			domain.KindSnapshot: "Storage", domain.KindIP: "Virtual Network"}[k]
	default:
		name = "Compute Engine"
	}
	return name, category, resourceType
}

// CostRows calls fn with pages of FOCUS rows of account: one row per
// billing resource, SKU and UTC day over the CostDays whole days before
// the estate's clock, for the days that overlap window. ListCost is the
// catalog's list price times the quantity; EffectiveCost, BilledCost and
// ContractedCost take off the account's negotiated discount. An account
// that is not in this cloud has no cost data: fn is not called.
func (c *Cloud) CostRows(ctx context.Context, account string, window collect.Window, fn func([]domain.CostRow) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := c.e
	e.mu.Lock()
	if err := e.takeFailure(OpCostRows); err != nil {
		e.mu.Unlock()
		return fmt.Errorf("cost rows of %s %s: %w", c.cloud, account, err)
	}
	ai := -1
	for i, a := range e.accounts {
		if a.cloud == c.cloud && a.id == account {
			ai = i
		}
	}
	today := e.now.UTC().Truncate(24 * time.Hour)
	nDays := min(CostDays, e.days)
	e.mu.Unlock()
	if ai < 0 {
		return nil
	}
	memo := newRowMemo()
	for d := nDays; d >= 1; d-- {
		day := today.AddDate(0, 0, -d)
		if !day.Before(window.End) || !day.Add(24*time.Hour).After(window.Start) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		e.mu.Lock()
		rows := e.dayRowsLocked(ai, day, memo)
		e.mu.Unlock()
		for len(rows) > 0 {
			n := min(costPageSize, len(rows))
			if err := fn(rows[:n:n]); err != nil {
				return err
			}
			rows = rows[n:]
		}
	}
	return nil
}

// dayRowsLocked builds the rows of one account for one day, resources in
// scope order then creation order.
func (e *Estate) dayRowsLocked(ai int, day time.Time, memo *rowMemo) []domain.CostRow {
	a := e.accounts[ai]
	end := day.Add(24 * time.Hour)
	monthStart := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for _, s := range e.scopes[a.cloud] {
		if s.Account == a.id {
			n += len(e.byScope[scopeKey{a.cloud, s.Account, s.Region}])
		}
	}
	rows := make([]domain.CostRow, 0, n)
	for _, s := range e.scopes[a.cloud] {
		if s.Account != a.id {
			continue
		}
		for _, i := range e.byScope[scopeKey{a.cloud, s.Account, s.Region}] {
			r := &e.res[i]
			secs := r.billedSeconds(day, end)
			if len(secs) == 0 {
				continue
			}
			tags, ok := memo.tags[r]
			if !ok {
				tags = r.tags()
				memo.tags[r] = tags
			}
			for _, b := range secs {
				p, ok := e.priceLocked(r.cloud, r.region, r.kind, b.sku)
				if !ok {
					continue
				}
				list, qty := charge(p, r.sizeGiB, b.seconds)
				eff := domain.USD(discounted(list, a.discountBP))
				svc, cat, typ := service(r.cloud, r.kind)
				names := memo.names(r, b.sku)
				rows = append(rows, domain.CostRow{
					BillingAccountID:    a.billing,
					SubAccountID:        a.id,
					SubAccountName:      a.name,
					ProviderName:        providerNames[r.cloud],
					PublisherName:       providerNames[r.cloud],
					InvoiceIssuerName:   providerNames[r.cloud],
					BillingPeriodStart:  monthStart,
					BillingPeriodEnd:    monthStart.AddDate(0, 1, 0),
					ChargePeriodStart:   day,
					ChargePeriodEnd:     end,
					ChargeCategory:      domain.ChargeUsage,
					ChargeDescription:   names.description,
					ChargeFrequency:     "Usage-Based",
					BillingCurrency:     "USD",
					BilledCost:          eff,
					EffectiveCost:       eff,
					ListCost:            domain.USD(list),
					ContractedCost:      eff,
					ListUnitPrice:       domain.USD(p.Amount.Micros),
					ContractedUnitPrice: domain.USD(discounted(p.Amount.Micros, a.discountBP)),
					PricingQuantity:     qty,
					PricingUnit:         p.Unit,
					ConsumedQuantity:    qty,
					ConsumedUnit:        p.Unit,
					PricingCategory:     "Standard",
					ResourceID:          r.id,
					ResourceName:        r.name,
					ResourceType:        typ,
					RegionID:            r.region,
					RegionName:          r.region,
					AvailabilityZone:    r.zone,
					ServiceName:         svc,
					ServiceCategory:     cat,
					SkuID:               b.sku,
					SkuPriceID:          names.priceID,
					Tags:                tags,
					XCloud:              r.cloud,
					XSourceFormat:       "simcloud",
				})
			}
		}
	}
	return rows
}

type skuSeconds struct {
	sku     string
	seconds int64
}

// billedSeconds returns, per SKU in first-billed order, how many seconds
// of [from, to) the resource was charged for.
func (r *resource) billedSeconds(from, to time.Time) []skuSeconds {
	var out []skuSeconds
	add := func(segFrom, segTo time.Time, state, sku string) {
		if !bills(r.kind, state) {
			return
		}
		lo, hi := maxTime(segFrom, from), minTime(segTo, to)
		if !hi.After(lo) {
			return
		}
		s := int64(hi.Sub(lo) / time.Second)
		if j := slices.IndexFunc(out, func(x skuSeconds) bool { return x.sku == sku }); j >= 0 {
			out[j].seconds += s
			return
		}
		out = append(out, skuSeconds{sku, s})
	}
	segFrom := r.created
	for _, s := range r.hist {
		add(segFrom, s.until, s.state, s.sku)
		segFrom = maxTime(segFrom, s.until)
	}
	add(segFrom, to, r.state, r.sku)
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// rowMemo keeps what one CostRows call computes again for every day: a
// resource's tags (the rows share one map; readers do not change it)
// and the per-SKU description strings.
type rowMemo struct {
	tags map[*resource]map[string]string
	skus map[skuName]skuStrings
}

type skuName struct {
	cloud  domain.Cloud
	region string
	kind   domain.Kind
	sku    string
}

type skuStrings struct{ description, priceID string }

func newRowMemo() *rowMemo {
	return &rowMemo{tags: map[*resource]map[string]string{}, skus: map[skuName]skuStrings{}}
}

func (m *rowMemo) names(r *resource, sku string) skuStrings {
	k := skuName{r.cloud, r.region, r.kind, sku}
	if s, ok := m.skus[k]; ok {
		return s
	}
	s := skuStrings{
		description: fmt.Sprintf("%s %s in %s", sku, r.kind, r.region),
		priceID:     fmt.Sprintf("%s/%s/%s/%s", r.cloud, r.region, r.kind, sku),
	}
	m.skus[k] = s
	return s
}
