package azurefake

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3"
)

// costDimensions are the grouping dimensions the fake query serves, and
// how to read each from an entry.
var costDimensions = map[string]func(*CostEntry) string{
	"ResourceId":       func(c *CostEntry) string { return strings.ToLower(c.ResourceID) },
	"ResourceType":     func(c *CostEntry) string { return strings.ToLower(c.ResourceType) },
	"ResourceLocation": func(c *CostEntry) string { return strings.ToLower(c.ResourceLocation) },
	"ConsumedService":  func(c *CostEntry) string { return c.ConsumedService },
	"MeterCategory":    func(c *CostEntry) string { return c.MeterCategory },
	"MeterSubcategory": func(c *CostEntry) string { return c.MeterSubcategory },
	"Meter":            func(c *CostEntry) string { return c.Meter },
	"MeterId":          func(c *CostEntry) string { return c.MeterID },
	"ChargeType":       func(c *CostEntry) string { return c.ChargeType },
	"PricingModel":     func(c *CostEntry) string { return c.PricingModel },
	"BenefitId":        func(c *CostEntry) string { return c.BenefitID },
	"BenefitName":      func(c *CostEntry) string { return c.BenefitName },
	"Frequency":        func(c *CostEntry) string { return c.Frequency },
	"ServiceName":      func(c *CostEntry) string { return c.MeterCategory },
}

// costRow is one aggregated row of a query answer.
type costRow struct {
	day      int // yyyymmdd
	groups   []string
	currency string
	cost     float64
	quantity float64
}

// costQuery answers the Cost Management query API at subscription
// scope: ActualCost or AmortizedCost, a custom time period, daily or no
// granularity, grouped by the dimensions asked for, summing Cost (or
// PreTaxCost) and UsageQuantity. Resource IDs, types and locations come
// lower-cased, as the API gives them. Pages of Options.CostPageSize rows
// follow each other through nextLink ($skiptoken).
//
// An entry belongs to the ActualCost dataset unless it is an unused
// commitment, and to the AmortizedCost dataset unless it is a commitment
// purchase; usage covered by a commitment costs zero in the first and
// its share of the commitment in the second.
func (s *Server) costQuery(ctx context.Context, scope string, q armcostmanagement.QueryDefinition, _ *armcostmanagement.QueryClientUsageOptions) (resp azfake.Responder[armcostmanagement.QueryClientUsageResponse], errResp azfake.ErrorResponder) {
	info := RequestFrom(ctx)
	bad := func() (azfake.Responder[armcostmanagement.QueryClientUsageResponse], azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
		return resp, errResp
	}
	if q.Type == nil || q.Dataset == nil || q.TimePeriod == nil || q.TimePeriod.From == nil || q.TimePeriod.To == nil {
		return bad()
	}
	amortized := false
	switch *q.Type {
	case armcostmanagement.ExportTypeActualCost, armcostmanagement.ExportTypeUsage:
	case armcostmanagement.ExportTypeAmortizedCost:
		amortized = true
	default:
		return bad()
	}
	daily := q.Dataset.Granularity != nil && *q.Dataset.Granularity == armcostmanagement.GranularityTypeDaily
	var groups []string
	for _, g := range q.Dataset.Grouping {
		if g == nil || g.Name == nil || costDimensions[*g.Name] == nil {
			return bad()
		}
		groups = append(groups, *g.Name)
	}
	type agg struct{ column, source string }
	var aggs []agg
	for _, alias := range sortedKeys(q.Dataset.Aggregation) {
		a := q.Dataset.Aggregation[alias]
		if a == nil || a.Name == nil {
			return bad()
		}
		switch *a.Name {
		case "Cost", "PreTaxCost", "UsageQuantity":
		default:
			return bad()
		}
		aggs = append(aggs, agg{*a.Name, *a.Name})
	}
	from := q.TimePeriod.From.UTC().Truncate(24 * time.Hour)
	to_ := q.TimePeriod.To.UTC().Truncate(24 * time.Hour)

	// Aggregate.
	index := map[string]int{}
	var rows []costRow
	s.Estate.Lock()
	if sub := s.Estate.Sub(info.Subscription); sub != nil {
		for i := range sub.Costs {
			c := &sub.Costs[i]
			day := c.Date.UTC().Truncate(24 * time.Hour)
			if day.Before(from) || day.After(to_) {
				continue
			}
			unused := c.ChargeType == "UnusedReservation" || c.ChargeType == "UnusedSavingsPlan"
			commitPurchase := c.ChargeType == "Purchase" && c.BenefitID != ""
			if (amortized && commitPurchase) || (!amortized && unused) {
				continue
			}
			r := costRow{currency: c.Currency}
			if daily {
				r.day = day.Year()*10000 + int(day.Month())*100 + day.Day()
			}
			for _, g := range groups {
				r.groups = append(r.groups, costDimensions[g](c))
			}
			k := strconv.Itoa(r.day) + "\x00" + strings.Join(r.groups, "\x00") + "\x00" + r.currency
			j, ok := index[k]
			if !ok {
				j = len(rows)
				index[k] = j
				rows = append(rows, r)
			}
			if amortized {
				rows[j].cost += c.AmortizedCost
			} else {
				rows[j].cost += c.ActualCost
			}
			rows[j].quantity += c.Quantity
		}
	}
	s.Estate.Unlock()
	slices.SortFunc(rows, func(a, b costRow) int {
		if a.day != b.day {
			return a.day - b.day
		}
		return slices.Compare(a.groups, b.groups)
	})

	// Page.
	skip := 0
	if info.URL != nil {
		if v := info.URL.Query().Get("$skiptoken"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > len(rows) {
				return bad()
			}
			skip = n
		}
	}
	end := min(skip+s.opts.CostPageSize, len(rows))
	props := &armcostmanagement.QueryProperties{Rows: [][]any{}}
	for _, a := range aggs {
		props.Columns = append(props.Columns, &armcostmanagement.QueryColumn{Name: to.Ptr(a.column), Type: to.Ptr("Number")})
	}
	if daily {
		props.Columns = append(props.Columns, &armcostmanagement.QueryColumn{Name: to.Ptr("UsageDate"), Type: to.Ptr("Number")})
	}
	for _, g := range groups {
		props.Columns = append(props.Columns, &armcostmanagement.QueryColumn{Name: to.Ptr(g), Type: to.Ptr("String")})
	}
	props.Columns = append(props.Columns, &armcostmanagement.QueryColumn{Name: to.Ptr("Currency"), Type: to.Ptr("String")})
	for _, r := range rows[skip:end] {
		row := make([]any, 0, len(props.Columns))
		for _, a := range aggs {
			if a.source == "UsageQuantity" {
				row = append(row, r.quantity)
			} else {
				row = append(row, r.cost)
			}
		}
		if daily {
			row = append(row, float64(r.day))
		}
		for _, g := range r.groups {
			row = append(row, g)
		}
		row = append(row, r.currency)
		props.Rows = append(props.Rows, row)
	}
	if end < len(rows) && info.URL != nil {
		next := *info.URL
		qv := next.Query()
		qv.Set("$skiptoken", strconv.Itoa(end))
		qv.Del(listingParam)
		next.RawQuery = qv.Encode()
		props.NextLink = to.Ptr(next.String())
	}
	name := strings.TrimPrefix(scope, "/")
	resp.SetResponse(http.StatusOK, armcostmanagement.QueryClientUsageResponse{QueryResult: armcostmanagement.QueryResult{
		ID: to.Ptr("/" + name + "/providers/Microsoft.CostManagement/query/fake"), Name: to.Ptr("fake"),
		Type: to.Ptr("Microsoft.CostManagement/query"), Properties: props,
	}}, nil)
	return resp, errResp
}
