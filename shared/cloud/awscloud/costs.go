package awscloud

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ResourceCostDays is how far back Cost Explorer keeps resource-level
// cost (GetCostAndUsageWithResources).
const ResourceCostDays = 14

// ServiceEC2Compute is Cost Explorer's SERVICE for EC2 instance usage,
// the one service with resource-level cost.
const ServiceEC2Compute = "Amazon Elastic Compute Cloud - Compute"

// SourceCostExplorer is the x_SourceFormat of rows read from Cost Explorer.
const SourceCostExplorer = "aws-cost-explorer"

// The Cost Explorer metrics read: UnblendedCost is what is billed,
// AmortizedCost what the usage effectively costs with reservations and
// Savings Plans spread over it.
const (
	metricUnblended = "UnblendedCost"
	metricAmortized = "AmortizedCost"
	metricUsage     = "UsageQuantity"
)

// usageRecordTypes are the RECORD_TYPEs that make up usage: on-demand
// usage, usage covered by a reservation or a Savings Plan (its unblended
// cost zero or negated, its amortized cost the commitment's), and the
// negation of covered on-demand cost. Taxes, credits, refunds and
// commitment fees are left out: they are not usage.
var usageRecordTypes = []string{"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"}

// serviceCategories gives the FOCUS ServiceCategory of the Cost Explorer
// services whose category is unambiguous. "EC2 - Other" mixes storage,
// data transfer and NAT gateways, so it has none.
var serviceCategories = map[string]string{
	ServiceEC2Compute:                    "Compute",
	"AWS Lambda":                         "Compute",
	"Amazon Simple Storage Service":      "Storage",
	"Amazon Elastic File System":         "Storage",
	"Amazon Virtual Private Cloud":       "Networking",
	"Amazon CloudFront":                  "Networking",
	"Amazon Elastic Load Balancing":      "Networking",
	"Amazon Relational Database Service": "Databases",
	"Amazon DynamoDB":                    "Databases",
}

// CostRows implements collect.Costs with Cost Explorer: GetCostAndUsage,
// daily, for the days that overlap window, filtered to the linked
// account and to usage record types, grouped by SERVICE and REGION, with
// the metrics UnblendedCost (BilledCost), AmortizedCost (EffectiveCost)
// and UsageQuantity (ConsumedQuantity). Cost Explorer has no list price,
// so ListCost is zero; the rows' ServiceName is Cost Explorer's SERVICE
// ("Amazon Elastic Compute Cloud - Compute", "EC2 - Other", ...).
//
// With Config.CostByResource it first reads EC2 instance cost per
// instance (GetCostAndUsageWithResources grouped by RESOURCE_ID and
// REGION) for the days of the window within ResourceCostDays of its end,
// the only days Cost Explorer keeps it for, and hands on those rows with
// their ResourceId; the service rows of EC2 instance usage on those days
// are then replaced by what the instance rows leave unattributed, so no
// cost is counted twice. An account that has not enabled resource-level
// data (DataUnavailableException) or a window Cost Explorer refuses for
// it gets the service rows alone, with a warning logged.
//
// An account without cost data calls fn not at all and returns nil.
func (p *Provider) CostRows(ctx context.Context, account string, window collect.Window, fn func([]domain.CostRow) error) error {
	if account == "" {
		return fmt.Errorf("%w: awscloud: cost rows of an empty account", domain.ErrInvalid)
	}
	if !window.End.After(window.Start) {
		return nil
	}
	from := window.Start.UTC().Truncate(24 * time.Hour)
	to := window.End.UTC()
	if day := to.Truncate(24 * time.Hour); !day.Equal(to) {
		to = day.Add(24 * time.Hour)
	}
	if !to.After(from) {
		return nil
	}
	var res *resourceTotals
	if p.cfg.CostByResource {
		resFrom := from
		if f := to.AddDate(0, 0, -ResourceCostDays); f.After(resFrom) {
			resFrom = f
		}
		var err error
		res, err = p.resourceCosts(ctx, account, resFrom, to, fn)
		switch {
		case err == nil:
		case res.rows == 0 && (errors.Is(err, domain.ErrUnsupported) || errors.Is(err, domain.ErrInvalid)):
			p.logger.WarnContext(ctx, "resource-level cost not available; reading service-level cost only",
				"account_id", account, "error", err)
			res = nil
		default:
			return err
		}
	}
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(from.Format(time.DateOnly)), End: aws.String(to.Format(time.DateOnly))},
		Granularity: cetypes.GranularityDaily,
		Metrics:     []string{metricUnblended, metricAmortized, metricUsage},
		GroupBy: []cetypes.GroupDefinition{
			{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String(string(cetypes.DimensionService))},
			{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String(string(cetypes.DimensionRegion))},
		},
		Filter: &cetypes.Expression{And: []cetypes.Expression{
			ceDimension(cetypes.DimensionLinkedAccount, account),
			ceDimension(cetypes.DimensionRecordType, usageRecordTypes...),
		}},
	}
	op := "cost explorer GetCostAndUsage for " + account
	return paginateCE(ctx, op, func(token *string) (*string, error) {
		in.NextPageToken = token
		out, err := p.costExplorer().GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, mapErr(op, err)
		}
		var rows []domain.CostRow
		for _, r := range out.ResultsByTime {
			for _, g := range r.Groups {
				if len(g.Keys) != 2 {
					return nil, fmt.Errorf("%s: a group with keys %q, want SERVICE and REGION", op, g.Keys)
				}
				row, err := costRow(account, r.TimePeriod, g.Metrics)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", op, err)
				}
				row.ServiceName = g.Keys[0]
				row.ServiceCategory = serviceCategories[g.Keys[0]]
				row.RegionID = ceRegionID(g.Keys[1])
				if res != nil && g.Keys[0] == ServiceEC2Compute && !row.ChargePeriodStart.Before(res.from) {
					// Instance rows were handed on for this day: only what
					// they leave unattributed remains.
					var ok bool
					if row, ok = res.remainder(row, g.Keys[1]); !ok {
						continue
					}
				}
				rows = append(rows, row)
			}
		}
		if len(rows) > 0 {
			if err := fn(rows); err != nil {
				return nil, err
			}
		}
		return out.NextPageToken, nil
	})
}

// resourceTotals sums the instance rows of each day and region.
type resourceTotals struct {
	from time.Time
	sums map[dayRegion]*costSum
	rows int
}

type dayRegion struct {
	day    time.Time
	region string // Cost Explorer's REGION key
}

type costSum struct {
	billed, effective int64
	quantity          float64
	rows              int64
}

// remainder returns the part of a service row of EC2 instance usage that
// the instance rows of its day and region leave unattributed, and false
// when nothing is left beyond the rounding of the amounts summed (Cost
// Explorer's amounts are rounded to the micro-unit when read).
func (t *resourceTotals) remainder(row domain.CostRow, region string) (domain.CostRow, bool) {
	s, ok := t.sums[dayRegion{row.ChargePeriodStart, region}]
	if !ok {
		return row, true
	}
	row.BilledCost.Micros -= s.billed
	row.EffectiveCost.Micros -= s.effective
	row.ConsumedQuantity -= s.quantity
	tolerance := (s.rows + 2) / 2
	if absMicros(row.BilledCost.Micros) <= tolerance && absMicros(row.EffectiveCost.Micros) <= tolerance {
		return row, false
	}
	row.ChargeDescription = "usage not attributed to an instance by resource-level cost data"
	return row, true
}

func absMicros(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// resourceCosts hands on the per-instance cost rows of [from, to) and
// returns their sums. The totals are returned, with the rows counted so
// far, even on error.
func (p *Provider) resourceCosts(ctx context.Context, account string, from, to time.Time, fn func([]domain.CostRow) error) (*resourceTotals, error) {
	t := &resourceTotals{from: from, sums: map[dayRegion]*costSum{}}
	if !to.After(from) {
		return t, nil
	}
	in := &costexplorer.GetCostAndUsageWithResourcesInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(from.Format(time.DateOnly)), End: aws.String(to.Format(time.DateOnly))},
		Granularity: cetypes.GranularityDaily,
		Metrics:     []string{metricUnblended, metricAmortized, metricUsage},
		GroupBy: []cetypes.GroupDefinition{
			{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String(string(cetypes.DimensionResourceId))},
			{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String(string(cetypes.DimensionRegion))},
		},
		Filter: &cetypes.Expression{And: []cetypes.Expression{
			ceDimension(cetypes.DimensionLinkedAccount, account),
			ceDimension(cetypes.DimensionService, ServiceEC2Compute),
			ceDimension(cetypes.DimensionRecordType, usageRecordTypes...),
		}},
	}
	op := "cost explorer GetCostAndUsageWithResources for " + account
	err := paginateCE(ctx, op, func(token *string) (*string, error) {
		in.NextPageToken = token
		out, err := p.costExplorer().GetCostAndUsageWithResources(ctx, in)
		if err != nil {
			return nil, mapErr(op, err)
		}
		var rows []domain.CostRow
		for _, r := range out.ResultsByTime {
			for _, g := range r.Groups {
				if len(g.Keys) != 2 {
					return nil, fmt.Errorf("%s: a group with keys %q, want RESOURCE_ID and REGION", op, g.Keys)
				}
				row, err := costRow(account, r.TimePeriod, g.Metrics)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", op, err)
				}
				row.ServiceName = ServiceEC2Compute
				row.ServiceCategory = serviceCategories[ServiceEC2Compute]
				row.RegionID = ceRegionID(g.Keys[1])
				if id := g.Keys[0]; id != "" && id != "NoResourceId" {
					row.ResourceID = id
				}
				k := dayRegion{row.ChargePeriodStart, g.Keys[1]}
				s := t.sums[k]
				if s == nil {
					s = &costSum{}
					t.sums[k] = s
				}
				s.billed += row.BilledCost.Micros
				s.effective += row.EffectiveCost.Micros
				s.quantity += row.ConsumedQuantity
				s.rows++
				rows = append(rows, row)
			}
		}
		if len(rows) > 0 {
			t.rows += len(rows)
			if err := fn(rows); err != nil {
				return nil, err
			}
		}
		return out.NextPageToken, nil
	})
	return t, err
}

// paginateCE calls page with each NextPageToken until there is none. A
// token Cost Explorer repeats is an error, not an endless loop.
func paginateCE(ctx context.Context, op string, page func(token *string) (*string, error)) error {
	var token *string
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		next, err := page(token)
		if err != nil {
			return err
		}
		if aws.ToString(next) == "" {
			return nil
		}
		if seen[*next] {
			return fmt.Errorf("%s: Cost Explorer repeated the page token %q", op, *next)
		}
		seen[*next] = true
		token = next
	}
}

// ceDimension is a filter on one dimension's values.
func ceDimension(key cetypes.Dimension, values ...string) cetypes.Expression {
	return cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: key, Values: values}}
}

// ceRegionID turns Cost Explorer's REGION into a FOCUS RegionId: empty for
// charges without a region.
func ceRegionID(region string) string {
	switch region {
	case "global", "NoRegion", "":
		return ""
	}
	return region
}

// costRow makes the FOCUS row of one Cost Explorer group: its charge
// period, amounts and quantity.
func costRow(account string, period *cetypes.DateInterval, metrics map[string]cetypes.MetricValue) (domain.CostRow, error) {
	if period == nil {
		return domain.CostRow{}, errors.New("a result without a time period")
	}
	start, err := time.Parse(time.DateOnly, aws.ToString(period.Start))
	if err != nil {
		return domain.CostRow{}, fmt.Errorf("time period start %q: %w", aws.ToString(period.Start), err)
	}
	end, err := time.Parse(time.DateOnly, aws.ToString(period.End))
	if err != nil {
		return domain.CostRow{}, fmt.Errorf("time period end %q: %w", aws.ToString(period.End), err)
	}
	billed, err := ceMoney(metrics, metricUnblended)
	if err != nil {
		return domain.CostRow{}, err
	}
	effective, err := ceMoney(metrics, metricAmortized)
	if err != nil {
		return domain.CostRow{}, err
	}
	currency := billed.Currency
	if currency == "" {
		currency = effective.Currency
	}
	month := time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC)
	row := domain.CostRow{
		SubAccountID:       account,
		ProviderName:       "AWS",
		BillingPeriodStart: month,
		BillingPeriodEnd:   month.AddDate(0, 1, 0),
		ChargePeriodStart:  start,
		ChargePeriodEnd:    end,
		ChargeCategory:     domain.ChargeUsage,
		BillingCurrency:    currency,
		BilledCost:         billed,
		EffectiveCost:      effective,
		XCloud:             domain.AWS,
		XSourceFormat:      SourceCostExplorer,
	}
	if q, ok := metrics[metricUsage]; ok && aws.ToString(q.Unit) != "N/A" {
		v, err := strconv.ParseFloat(aws.ToString(q.Amount), 64)
		if err != nil {
			return domain.CostRow{}, fmt.Errorf("%s %q: %w", metricUsage, aws.ToString(q.Amount), err)
		}
		row.ConsumedQuantity = v
		row.ConsumedUnit = usageUnit(aws.ToString(q.Unit))
	}
	return row, nil
}

// ceMoney reads one cost metric: its Amount, a decimal string such as
// "1.2345678901", exactly to the micro-unit, in the currency its Unit
// names. A metric Cost Explorer left out is zero.
func ceMoney(metrics map[string]cetypes.MetricValue, name string) (domain.Money, error) {
	v, ok := metrics[name]
	if !ok || v.Amount == nil {
		return domain.Money{}, nil
	}
	m, err := domain.ParseMoney(aws.ToString(v.Amount), aws.ToString(v.Unit))
	if err != nil {
		return domain.Money{}, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// usageUnit turns Cost Explorer's usage unit into the catalog's.
func usageUnit(u string) string {
	switch u {
	case "Hrs":
		return domain.UnitHour
	case "GB-Mo":
		return domain.UnitGiBMonth
	}
	return u
}
