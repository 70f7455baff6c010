package simcloud

import (
	"context"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func costRows(t testing.TB, e *Estate, c domain.Cloud, w collect.Window) []domain.CostRow {
	t.Helper()
	var rows []domain.CostRow
	for _, a := range e.Accounts(c) {
		err := e.Cloud(c).CostRows(context.Background(), a, w, func(page []domain.CostRow) error {
			if len(page) == 0 || len(page) > costPageSize {
				t.Errorf("page of %d rows", len(page))
			}
			rows = append(rows, page...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func TestCostRowsReconcile(t *testing.T) {
	for name, prices := range priceSources(t) {
		t.Run(name, func(t *testing.T) {
			e, err := New(Config{Seed: 21, Resources: 1500, Now: testNow}, prices)
			if err != nil {
				t.Fatal(err)
			}
			reconcile(t, e, prices)
		})
	}
}

func reconcile(t *testing.T, e *Estate, prices Prices) {
	w := collect.Window{Start: testNow.Add(-14 * 24 * time.Hour), End: testNow}
	today := testNow.Truncate(24 * time.Hour)
	byID := map[string]domain.Resource{}
	for _, r := range e.Resources() {
		byID[r.ID] = r
	}
	discounted := map[string]bool{}
	days := map[time.Time]bool{}
	for _, c := range domain.Clouds {
		rows := costRows(t, e, c, w)
		if len(rows) == 0 {
			t.Fatalf("no cost rows for %s", c)
		}
		for _, row := range rows {
			r, ok := byID[row.ResourceID]
			if !ok {
				t.Fatalf("row for unknown resource %s", row.ResourceID)
			}
			days[row.ChargePeriodStart] = true
			if row.ChargePeriodEnd.Sub(row.ChargePeriodStart) != 24*time.Hour || !row.ChargePeriodStart.Equal(row.ChargePeriodStart.Truncate(24*time.Hour)) {
				t.Fatalf("row charge period %v..%v is not a UTC day", row.ChargePeriodStart, row.ChargePeriodEnd)
			}
			if row.ChargePeriodStart.Before(today.AddDate(0, 0, -7)) || !row.ChargePeriodEnd.After(row.ChargePeriodStart) || row.ChargePeriodEnd.After(today) {
				t.Fatalf("row charge period %v is outside the last 7 whole days", row.ChargePeriodStart)
			}
			if row.XCloud != c || row.SubAccountID != r.Account || row.RegionID != r.Region || row.BillingCurrency != "USD" ||
				row.ChargeCategory != domain.ChargeUsage || row.ProviderName != providerNames[c] || row.ServiceCategory == "" {
				t.Fatalf("row %+v does not match its resource %+v", row, r)
			}
			if r.Kind == domain.KindVM && r.State != domain.StateRunning && row.ChargePeriodStart.After(testNow.AddDate(0, 0, -2)) {
				t.Errorf("stopped VM %s billed on %v", r.ID, row.ChargePeriodStart)
			}
			p, ok := prices.Lookup(c, r.Region, r.Kind, row.SkuID)
			if !ok {
				t.Fatalf("row SKU %s not in the catalog", row.SkuID)
			}
			if row.ListUnitPrice != p.Amount {
				t.Errorf("ListUnitPrice %v; want %v", row.ListUnitPrice, p.Amount)
			}
			// Recompute the list cost from the quantity.
			secs := int64(0)
			var want int64
			switch p.Unit {
			case domain.UnitHour:
				secs = int64(row.PricingQuantity*3600 + 0.5)
				want = (p.Amount.Micros*secs + 1800) / 3600
			case domain.UnitGiBMonth:
				secs = int64(row.PricingQuantity/float64(r.SizeGiB)*monthSeconds + 0.5)
				want = (p.Amount.Micros*r.SizeGiB*secs + monthSeconds/2) / monthSeconds
			}
			if secs <= 0 || secs > 86400 {
				t.Fatalf("row quantity %v %s is more than a day", row.PricingQuantity, row.PricingUnit)
			}
			if row.ListCost.Micros != want || row.ListCost.Currency != "USD" {
				t.Errorf("%s ListCost %v; want %d micros (%v × %v %s)", r.ID, row.ListCost, want, p.Amount, row.PricingQuantity, row.PricingUnit)
			}
			if r.Kind == domain.KindVM && secs == 86400 && row.ListCost.Micros != p.Amount.Micros*24 {
				t.Errorf("a full day of %s costs %v; want 24 × %v", row.SkuID, row.ListCost, p.Amount)
			}
			bp := int64(e.Discount(r.Account)*10_000 + 0.5)
			eff := row.ListCost.Micros - (row.ListCost.Micros*bp+5_000)/10_000
			if row.EffectiveCost != domain.USD(eff) || row.BilledCost != row.EffectiveCost || row.ContractedCost != row.EffectiveCost {
				t.Errorf("effective %v billed %v contracted %v; want %d micros (list %v less %d bp)",
					row.EffectiveCost, row.BilledCost, row.ContractedCost, eff, row.ListCost, bp)
			}
			if row.EffectiveCost.Micros < row.ListCost.Micros {
				discounted[r.Account] = true
			}
		}
	}
	if len(days) != CostDays {
		t.Errorf("rows cover %d days; want %d", len(days), CostDays)
	}
	want := map[int64]bool{}
	for _, c := range domain.Clouds {
		for _, a := range e.Accounts(c) {
			if d := e.Discount(a); d > 0 {
				want[int64(d*100+0.5)] = true
				if !discounted[a] {
					t.Errorf("account %s has a %.0f%% discount but no discounted row", a, d*100)
				}
			}
		}
	}
	if !want[12] || !want[5] {
		t.Errorf("discounts %v; want an AWS account at 12 %% and an Azure subscription at 5 %%", want)
	}
}

func TestCostRowsFollowChanges(t *testing.T) {
	e := newEstate(t, Config{Seed: 22, Resources: 200, Now: testNow})
	ctx := context.Background()
	var vm domain.Resource
	for _, r := range e.Resources() {
		if a, _ := e.Archetype(r.ID); a == ArchetypeIdle && r.Cloud == domain.AWS {
			vm = r
			break
		}
	}
	before := e.MonthlyRunRate(domain.AWS)
	if err := e.Cloud(domain.AWS).Stop(ctx, vm.Ref(), "stop-1"); err != nil {
		t.Fatal(err)
	}
	p, _ := testPrices().Lookup(domain.AWS, vm.Region, domain.KindVM, vm.SKU)
	after := e.MonthlyRunRate(domain.AWS)
	if got, want := before.Micros-after.Micros, p.Monthly().Micros; got != want {
		t.Errorf("stopping %s (%s) lowered the run rate by %d micros; want %d", vm.ID, vm.SKU, got, want)
	}
	// Two days later, the day after the stop has no compute row for it,
	// and the day of the stop bills only the hours before it.
	e.Advance(48 * time.Hour)
	stopDay := testNow.Truncate(24 * time.Hour)
	rows := costRows(t, e, domain.AWS, collect.Window{Start: stopDay, End: stopDay.Add(48 * time.Hour)})
	var stopDayHours float64
	for _, row := range rows {
		if row.ResourceID != vm.ID {
			continue
		}
		if row.ChargePeriodStart.After(stopDay) {
			t.Errorf("stopped VM billed on %v", row.ChargePeriodStart)
		}
		stopDayHours += row.PricingQuantity
	}
	if want := testNow.Sub(stopDay).Hours(); stopDayHours != want {
		t.Errorf("the day of the stop bills %v hours; want %v", stopDayHours, want)
	}
}
