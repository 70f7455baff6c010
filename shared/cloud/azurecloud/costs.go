package azurecloud

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
)

var _ collect.Costs = (*Provider)(nil)

// SourceCostManagement is the x_SourceFormat of rows read from the Cost
// Management query API.
const SourceCostManagement = "azure-cost-management"

// costRowsPerPage is the most rows CostRows hands to its callback at once.
const costRowsPerPage = 1000

// costGrouping are the dimensions the cost queries group by, and the
// column of an EA cost export each becomes: the rows are mapped to FOCUS
// by the export reader of package focus, so a charge read from the API
// and the same charge read from an export get the same ServiceName,
// ServiceCategory, RegionId, ChargeCategory, PricingCategory and
// commitment columns. The API's reference says a query takes two
// groupings; the service takes more (the portal's cost analysis groups
// by more), and fewer would lose the resource or the meter.
var costGrouping = []struct{ dimension, column string }{
	{"ResourceId", "ResourceId"},
	{"ResourceLocation", "ResourceLocation"},
	{"ConsumedService", "ConsumedService"},
	{"MeterCategory", "MeterCategory"},
	{"MeterSubcategory", "MeterSubCategory"},
	{"Meter", "MeterName"},
	{"MeterId", "MeterId"},
	{"ChargeType", "ChargeType"},
	{"PricingModel", "PricingModel"},
	{"BenefitId", "BenefitId"},
	{"BenefitName", "BenefitName"},
	{"Frequency", "Frequency"},
}

// Positions in costAgg.groups of the dimensions the alignment checks.
const (
	gResourceID = 0
	gMeter      = 5
	gMeterID    = 6
	gChargeType = 7
)

// CostRows implements collect.Costs with the Cost Management query API
// (Query - Usage) at the subscription's scope: daily rows grouped by
// resource, location, consumed service, meter (category, subcategory,
// name, ID), charge type, pricing model, benefit and frequency, summing
// Cost and UsageQuantity, for the days that overlap window. Each chunk of
// Config.CostChunkDays days is asked twice, as ActualCost (BilledCost)
// and as AmortizedCost (EffectiveCost); the two are merged by their
// grouping, so usage a reservation covers bills zero and costs its share,
// an unused reservation only costs and a reservation purchase only
// bills. Pages follow each other by nextLink; a 429 is retried as long
// as its Retry-After (or Cost Management's x-ms-ratelimit-*-retry-after)
// is within Config.MaxRetryDelay.
//
// The query API has no list price nor unit of measure: ListCost,
// ContractedCost and the units are empty. ResourceId is the API's
// lower-cased ID; compare it by domain.ResourceKey. An account without
// cost data calls fn not at all and returns nil. Errors come from
// mapErr; fn's error is returned as it is.
func (p *Provider) CostRows(ctx context.Context, account string, window collect.Window, fn func([]domain.CostRow) error) error {
	if account == "" || strings.Contains(account, "/") {
		return fmt.Errorf("%w: azurecloud: cost rows of subscription %q", domain.ErrInvalid, account)
	}
	const day = 24 * time.Hour
	from := window.Start.UTC().Truncate(day)
	end := window.End.UTC()
	if d := end.Truncate(day); !d.Equal(end) {
		end = d.Add(day)
	}
	if !end.After(from) {
		return nil
	}
	q, err := p.queryClient()
	if err != nil {
		return err
	}
	for lo := from; lo.Before(end); lo = lo.AddDate(0, 0, p.cfg.CostChunkDays) {
		hi := lo.AddDate(0, 0, p.cfg.CostChunkDays)
		if hi.After(end) {
			hi = end
		}
		rows := map[string]*costAgg{}
		for _, typ := range []armcostmanagement.ExportType{armcostmanagement.ExportTypeActualCost, armcostmanagement.ExportTypeAmortizedCost} {
			if err := p.queryCosts(ctx, q, account, typ, lo, hi, rows); err != nil {
				return err
			}
		}
		aggs := make([]*costAgg, 0, len(rows))
		for _, a := range rows {
			aggs = append(aggs, a)
		}
		slices.SortFunc(aggs, func(a, b *costAgg) int {
			if c := a.day.Compare(b.day); c != 0 {
				return c
			}
			if c := slices.Compare(a.groups, b.groups); c != 0 {
				return c
			}
			return strings.Compare(a.currency, b.currency)
		})
		for len(aggs) > 0 {
			n := min(costRowsPerPage, len(aggs))
			out, err := p.costRowsOf(ctx, account, aggs[:n])
			if err != nil {
				return err
			}
			if len(out) > 0 {
				if err := fn(out); err != nil {
					return err
				}
			}
			aggs = aggs[n:]
		}
	}
	return nil
}

// costAgg is one charge of one day: its grouping values and what each
// dataset says of it.
type costAgg struct {
	day      time.Time
	groups   []string // in costGrouping's order
	currency string
	// cost and quantity are the values of the row as read, before the
	// datasets are merged.
	cost, quantity float64

	actual, amortized             float64
	actualQty, amortizedQty       float64
	hasActual, hasAmortize, hasQt bool
}

// consumed returns the quantity of the charge: the ActualCost dataset's,
// or the AmortizedCost one's for a charge only it has.
func (a *costAgg) consumed() float64 {
	if a.hasActual {
		return a.actualQty
	}
	return a.amortizedQty
}

// queryCosts reads every page of one query of the days [from, to) into
// rows.
func (p *Provider) queryCosts(ctx context.Context, q *armcostmanagement.QueryClient, account string, typ armcostmanagement.ExportType, from, to_ time.Time, rows map[string]*costAgg) error {
	grouping := make([]*armcostmanagement.QueryGrouping, len(costGrouping))
	for i, g := range costGrouping {
		grouping[i] = &armcostmanagement.QueryGrouping{Name: to.Ptr(g.dimension), Type: to.Ptr(armcostmanagement.QueryColumnTypeDimension)}
	}
	def := armcostmanagement.QueryDefinition{
		Type:      to.Ptr(typ),
		Timeframe: to.Ptr(armcostmanagement.TimeframeTypeCustom),
		// The period's end is inclusive: the last second of the last day.
		TimePeriod: &armcostmanagement.QueryTimePeriod{From: to.Ptr(from), To: to.Ptr(to_.Add(-time.Second))},
		Dataset: &armcostmanagement.QueryDataset{
			Granularity: to.Ptr(armcostmanagement.GranularityTypeDaily),
			Aggregation: map[string]*armcostmanagement.QueryAggregation{
				"Cost":          {Name: to.Ptr("Cost"), Function: to.Ptr(armcostmanagement.FunctionTypeSum)},
				"UsageQuantity": {Name: to.Ptr("UsageQuantity"), Function: to.Ptr(armcostmanagement.FunctionTypeSum)},
			},
			Grouping: grouping,
		},
	}
	op := fmt.Sprintf("cost management query %s of subscription %s for %s..%s", typ, account,
		from.Format(time.DateOnly), to_.AddDate(0, 0, -1).Format(time.DateOnly))
	amortized := typ == armcostmanagement.ExportTypeAmortizedCost
	scope := "subscriptions/" + account
	link := ""
	seen := map[string]bool{}
	for {
		callCtx := ctx
		if link != "" {
			callCtx = context.WithValue(ctx, nextLinkKey{}, link)
		}
		resp, err := q.Usage(callCtx, scope, def, nil)
		if err != nil {
			return mapErr(op, err)
		}
		props := resp.Properties
		if props == nil {
			return nil
		}
		cols, err := costColumns(props.Columns)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		for i, r := range props.Rows {
			a, err := cols.read(r)
			if err != nil {
				return fmt.Errorf("%s: row %d: %w", op, i, err)
			}
			if a.day.Before(from) || !a.day.Before(to_) {
				continue
			}
			k := a.day.Format(time.DateOnly) + "\x00" + strings.Join(a.groups, "\x00") + "\x00" + a.currency
			have := rows[k]
			if have == nil {
				have = a
				rows[k] = a
			}
			if amortized {
				have.amortized += a.cost
				have.amortizedQty += a.quantity
				have.hasAmortize = true
			} else {
				have.actual += a.cost
				have.actualQty += a.quantity
				have.hasActual = true
			}
			have.hasQt = have.hasQt || cols.quantity >= 0
		}
		next := str(props.NextLink)
		if next == "" {
			return nil
		}
		if seen[next] {
			return fmt.Errorf("%s: the API repeated the nextLink %q", op, next)
		}
		seen[next] = true
		link = next
	}
}

// costCols are the positions of a query answer's columns.
type costCols struct {
	cost, quantity, date, currency int
	groups                         []int
}

func costColumns(cols []*armcostmanagement.QueryColumn) (costCols, error) {
	c := costCols{cost: -1, quantity: -1, date: -1, currency: -1, groups: make([]int, len(costGrouping))}
	for i := range c.groups {
		c.groups[i] = -1
	}
	for i, col := range cols {
		if col == nil {
			continue
		}
		name := str(col.Name)
		switch {
		case strings.EqualFold(name, "Cost"), strings.EqualFold(name, "PreTaxCost"):
			c.cost = i
		case strings.EqualFold(name, "UsageQuantity"):
			c.quantity = i
		case strings.EqualFold(name, "UsageDate"):
			c.date = i
		case strings.EqualFold(name, "Currency"):
			c.currency = i
		default:
			for j, g := range costGrouping {
				if strings.EqualFold(name, g.dimension) {
					c.groups[j] = i
				}
			}
		}
	}
	switch {
	case c.cost < 0:
		return c, fmt.Errorf("%w: the answer has no Cost column", domain.ErrInvalid)
	case c.date < 0:
		return c, fmt.Errorf("%w: the answer has no UsageDate column (a daily query)", domain.ErrInvalid)
	case c.currency < 0:
		return c, fmt.Errorf("%w: the answer has no Currency column", domain.ErrInvalid)
	}
	return c, nil
}

// read parses one row of an answer.
func (c costCols) read(r []any) (*costAgg, error) {
	get := func(i int) any {
		if i < 0 || i >= len(r) {
			return nil
		}
		return r[i]
	}
	cost, err := number(get(c.cost))
	if err != nil {
		return nil, fmt.Errorf("column Cost: %w", err)
	}
	a := &costAgg{cost: cost}
	if c.quantity >= 0 {
		if a.quantity, err = number(get(c.quantity)); err != nil {
			return nil, fmt.Errorf("column UsageQuantity: %w", err)
		}
	}
	if a.day, err = usageDate(get(c.date)); err != nil {
		return nil, err
	}
	a.currency, _ = get(c.currency).(string)
	a.groups = make([]string, len(c.groups))
	for j, i := range c.groups {
		switch v := get(i).(type) {
		case string:
			a.groups[j] = v
		case nil:
		default:
			a.groups[j] = fmt.Sprint(v)
		}
	}
	return a, nil
}

// number reads a JSON number (or a numeric string).
func number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case nil:
		return 0, nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q is not a number", domain.ErrInvalid, x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%w: %v (%T) is not a number", domain.ErrInvalid, v, v)
}

// usageDate reads the UsageDate of a daily answer: a number such as
// 20261109, or a timestamp string.
func usageDate(v any) (time.Time, error) {
	switch x := v.(type) {
	case float64:
		n := int(x)
		t := time.Date(n/10000, time.Month(n/100%100), n%100, 0, 0, 0, 0, time.UTC)
		if t.Year() != n/10000 || int(t.Month()) != n/100%100 || t.Day() != n%100 {
			return time.Time{}, fmt.Errorf("%w: UsageDate %v is not a yyyymmdd date", domain.ErrInvalid, x)
		}
		return t, nil
	case string:
		for _, layout := range []string{"20060102", time.DateOnly, "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.Parse(layout, x); err == nil {
				return t.UTC().Truncate(24 * time.Hour), nil
			}
		}
		return time.Time{}, fmt.Errorf("%w: UsageDate %q is not a date", domain.ErrInvalid, x)
	}
	return time.Time{}, fmt.Errorf("%w: UsageDate %v (%T) is not a date", domain.ErrInvalid, v, v)
}

// costHeader is the header of the EA cost export written for the FOCUS
// reader.
var costHeader = func() []string {
	h := []string{"Date", "SubscriptionId"}
	for _, g := range costGrouping {
		h = append(h, g.column)
	}
	return append(h, "CostInBillingCurrency", "BillingCurrencyCode", "Quantity")
}()

// costRowsOf maps merged charges to FOCUS rows through the EA export
// reader, then sets BilledCost to the ActualCost and EffectiveCost to
// the AmortizedCost (zero where the dataset has no such charge). A
// charge the reader rejects is left out and logged.
func (p *Provider) costRowsOf(ctx context.Context, account string, aggs []*costAgg) ([]domain.CostRow, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(costHeader)
	rec := make([]string, len(costHeader))
	for _, a := range aggs {
		rec = rec[:0]
		rec = append(rec, a.day.Format(time.DateOnly), account)
		rec = append(rec, a.groups...)
		cost := a.actual
		if !a.hasActual {
			cost = a.amortized
		}
		qty := ""
		if a.hasQt {
			qty = decimal(a.consumed())
		}
		rec = append(rec, decimal(cost), a.currency, qty)
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("azurecloud: cost rows of %s: %w", account, err)
	}
	name := "cost management query of subscription " + account
	var rows []domain.CostRow
	sum, err := focus.Read(ctx, focus.Input{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}}, focus.Options{BatchSize: costRowsPerPage}, func(batch []domain.CostRow) error {
		rows = append(rows, batch...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("azurecloud: map %s: %w", name, err)
	}
	if sum.Rejected > 0 {
		p.logger.WarnContext(ctx, "cost rows rejected by the FOCUS rules", "account_id", account,
			"rejected", sum.Rejected, "problems", fmt.Sprint(sum.Examples))
	}
	// The reader keeps the order of its input and leaves out what it
	// rejects: walk both.
	j := 0
	for i := range rows {
		r := &rows[i]
		for j < len(aggs) && !sameCharge(r, aggs[j]) {
			j++
		}
		if j == len(aggs) {
			return nil, fmt.Errorf("azurecloud: map %s: row %d (%s %s) matches no charge read", name, i, r.ResourceID, r.ChargePeriodStart.Format(time.DateOnly))
		}
		a := aggs[j]
		j++
		r.BilledCost, r.EffectiveCost = domain.Money{Currency: r.BillingCurrency}, domain.Money{Currency: r.BillingCurrency}
		if a.hasActual {
			if r.BilledCost, err = domain.ParseMoney(decimal(a.actual), a.currency); err != nil {
				return nil, fmt.Errorf("azurecloud: %s: actual cost %v: %w", name, a.actual, err)
			}
		}
		if a.hasAmortize {
			if r.EffectiveCost, err = domain.ParseMoney(decimal(a.amortized), a.currency); err != nil {
				return nil, fmt.Errorf("azurecloud: %s: amortized cost %v: %w", name, a.amortized, err)
			}
		}
		r.XSourceFormat = SourceCostManagement
	}
	return rows, nil
}

// sameCharge reports whether a row the reader made is the charge a.
func sameCharge(r *domain.CostRow, a *costAgg) bool {
	return r.ChargePeriodStart.Equal(a.day) && r.ResourceID == a.groups[gResourceID] && r.XUsageType == a.groups[gMeter] &&
		r.XChargeType == a.groups[gChargeType] && r.BillingCurrency == a.currency &&
		(a.groups[gMeterID] == "" || r.SkuID == a.groups[gMeterID])
}

// decimal writes a float exactly as its shortest decimal form.
func decimal(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
