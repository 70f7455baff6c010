package azurecloud_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
)

// The real EA exports of testdata/finops-toolkit (see SOURCE.md there).
const (
	eaAmortized = "testdata/finops-toolkit/EA_AmortizedCost_Small.csv"
	eaActual    = "testdata/finops-toolkit/EA_ActualCost_Small.csv"
)

// readExport reads an EA export's records as maps of column to value.
func readExport(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range header {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// costEntry turns an export record into what Cost Management aggregates:
// the ActualCost dataset charges commitment-covered usage nothing, the
// AmortizedCost one charges a commitment purchase nothing.
func costEntry(t *testing.T, r map[string]string) azurefake.CostEntry {
	t.Helper()
	day, err := time.Parse("01/02/2006", r["Date"])
	if err != nil {
		t.Fatal(err)
	}
	num := func(col string) float64 {
		v, err := strconv.ParseFloat(r[col], 64)
		if err != nil {
			t.Fatalf("%s %q: %v", col, r[col], err)
		}
		return v
	}
	e := azurefake.CostEntry{Date: day, ResourceID: r["ResourceId"], ResourceLocation: r["ResourceLocation"],
		ConsumedService: r["ConsumedService"], MeterCategory: r["MeterCategory"], MeterSubcategory: r["MeterSubCategory"],
		Meter: r["MeterName"], MeterID: r["MeterId"], ChargeType: r["ChargeType"], PricingModel: r["PricingModel"],
		BenefitID: r["benefitId"], BenefitName: r["benefitName"], Frequency: r["Frequency"], Currency: r["BillingCurrency"],
		Quantity: num("Quantity")}
	cost := num("Cost")
	committed := e.PricingModel == "Reservation" || e.PricingModel == "SavingsPlan"
	switch {
	case e.ChargeType == "Purchase":
		e.ActualCost = cost
	case committed:
		e.AmortizedCost = cost
	default:
		e.ActualCost, e.AmortizedCost = cost, cost
	}
	return e
}

// exportEstate serves the charges of the real EA exports: the amortized
// export's charges and the actual export's purchases.
func exportEstate(t *testing.T) (*azurefake.Estate, []string) {
	t.Helper()
	est := azurefake.NewEstate()
	var subs []string
	add := func(r map[string]string) {
		sub := r["SubscriptionId"]
		est.Lock()
		s := est.Sub(sub)
		if s == nil {
			s = azurefake.NewSubscription(sub, r["SubscriptionName"])
			est.Subscriptions[azurefake.Key(sub)] = s
			subs = append(subs, sub)
		}
		s.Costs = append(s.Costs, costEntry(t, r))
		est.Unlock()
	}
	for _, r := range readExport(t, eaAmortized) {
		add(r)
	}
	for _, r := range readExport(t, eaActual) {
		if r["ChargeType"] == "Purchase" {
			add(r)
		}
	}
	slices.Sort(subs)
	return est, subs
}

// exportRows reads an export with the FOCUS export reader.
func exportRows(t *testing.T, path string) []domain.CostRow {
	t.Helper()
	var out []domain.CostRow
	_, err := focus.Read(context.Background(), focus.FileInput(path), focus.Options{}, func(rows []domain.CostRow) error {
		out = append(out, rows...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// comparable keeps the columns the query API and the exports both
// carry. The API has no billing account (the subscription stands in),
// product description, unit of measure, price sheet, term, resource
// name nor tags, and it lower-cases resource IDs.
func comparable(r domain.CostRow) domain.CostRow {
	r.BillingAccountID, r.BillingAccountName, r.SubAccountName = "", "", ""
	r.ChargeDescription, r.PricingUnit, r.ConsumedUnit, r.SkuPriceID = "", "", "", ""
	r.ListCost, r.ContractedCost, r.ListUnitPrice, r.ContractedUnitPrice = domain.Money{}, domain.Money{}, domain.Money{}, domain.Money{}
	r.ResourceName, r.Tags, r.XSourceFormat = "", nil, ""
	r.ResourceID = domain.ResourceKey(domain.Azure, r.ResourceID)
	return r
}

// mergeCharges sums export rows that are one charge to the query API:
// the export lists apart what differs only in columns the API does not
// group by (the SQL Managed Instance's vCores of two databases of one
// pool), the API sums them.
func mergeCharges(rows []domain.CostRow) []domain.CostRow {
	var order []string
	by := map[string]*domain.CostRow{}
	for _, r := range rows {
		k := r
		k.BilledCost, k.EffectiveCost, k.PricingQuantity, k.ConsumedQuantity = domain.Money{}, domain.Money{}, 0, 0
		key := fmt.Sprintf("%+v", k)
		s := by[key]
		if s == nil {
			r := r
			by[key] = &r
			order = append(order, key)
			continue
		}
		s.BilledCost.Micros += r.BilledCost.Micros
		s.EffectiveCost.Micros += r.EffectiveCost.Micros
		s.PricingQuantity += r.PricingQuantity
		s.ConsumedQuantity += r.ConsumedQuantity
	}
	out := make([]domain.CostRow, 0, len(order))
	for _, k := range order {
		out = append(out, *by[k])
	}
	return out
}

func chargeOrder(a, b domain.CostRow) int {
	return strings.Compare(a.ChargePeriodStart.Format(time.DateOnly)+a.ResourceID+a.SkuID+a.XChargeType,
		b.ChargePeriodStart.Format(time.DateOnly)+b.ResourceID+b.SkuID+b.XChargeType)
}

// TestCostRowsMatchTheExportReader serves the charges of real EA exports
// through the fake query API and checks that the provider's FOCUS rows
// are the export reader's rows of the same charges, column by column.
func TestCostRowsMatchTheExportReader(t *testing.T) {
	est, subs := exportEstate(t)
	srv := newServer(t, est, azurefake.Options{CostPageSize: 3})
	p := newProvider(t, srv, azurecloud.Config{CostChunkDays: 5})
	window := collect.Window{Start: time.Date(2023, 9, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC)}
	var got []domain.CostRow
	for _, sub := range subs {
		err := p.CostRows(context.Background(), sub, window, func(rows []domain.CostRow) error {
			for _, r := range rows {
				if r.XSourceFormat != azurecloud.SourceCostManagement || r.XCloud != domain.Azure {
					t.Errorf("row of %s from %q of cloud %q; want %q, azure", r.ResourceID, r.XSourceFormat, r.XCloud, azurecloud.SourceCostManagement)
				}
				got = append(got, comparable(r))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("CostRows(%s): %v", sub, err)
		}
	}
	var want []domain.CostRow
	for _, r := range exportRows(t, eaAmortized) {
		want = append(want, comparable(r))
	}
	for _, r := range exportRows(t, eaActual) {
		if r.XChargeType == "Purchase" {
			want = append(want, comparable(r))
		}
	}
	want = mergeCharges(want)
	slices.SortFunc(got, chargeOrder)
	slices.SortFunc(want, chargeOrder)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("query API rows against the export reader's (-export +api):\n%s", diff)
	}
	// The paging and the chunks: every chunk of five days asked as
	// ActualCost and as AmortizedCost, pages of three rows followed.
	if n := srv.CallCount("QueryClient.Usage"); n <= 2*len(subs)*6 {
		t.Errorf("%d query calls for %d subscriptions over six chunks; want more than one page a query", n, len(subs))
	}
}

func TestCostRowsCoverTheWindowOnly(t *testing.T) {
	est := azurefake.NewEstate()
	s := azurefake.NewSubscription(subA, "prod")
	s2 := azurefake.NewSubscription(subB, "empty")
	for d := range 10 {
		s.Costs = append(s.Costs, azurefake.CostEntry{Date: time.Date(2026, 11, 10+d, 0, 0, 0, 0, time.UTC),
			ResourceID: vmID(subA, "vm1"), ResourceLocation: "eastus", ConsumedService: "Microsoft.Compute",
			MeterCategory: "Virtual Machines", Meter: "D2s v5", MeterID: "00000000-0000-4000-8000-000000000001",
			ChargeType: "Usage", PricingModel: "OnDemand", Frequency: "UsageBased", Currency: "USD",
			ActualCost: 2.304, AmortizedCost: 2.304, Quantity: 24})
	}
	est.AddSubscription(s)
	est.AddSubscription(s2)
	srv := newServer(t, est, azurefake.Options{CostPageSize: 2})
	p := newProvider(t, srv, azurecloud.Config{})
	// From the middle of the 12th to the 15th: the 12th, 13th and 14th.
	window := collect.Window{Start: time.Date(2026, 11, 12, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)}
	var days []string
	err := p.CostRows(context.Background(), subA, window, func(rows []domain.CostRow) error {
		for _, r := range rows {
			days = append(days, r.ChargePeriodStart.Format(time.DateOnly))
			if r.BilledCost != domain.USD(2_304_000) || r.EffectiveCost != domain.USD(2_304_000) || r.ConsumedQuantity != 24 {
				t.Errorf("row of %s: billed %v, effective %v, quantity %v; want 2.304 USD, 2.304 USD, 24", r.ChargePeriodStart, r.BilledCost, r.EffectiveCost, r.ConsumedQuantity)
			}
			if r.ServiceName != "Virtual Machines" || r.ServiceCategory != "Compute" || r.RegionID != "eastus" {
				t.Errorf("row of %s: service %q/%q region %q; want Virtual Machines/Compute in eastus", r.ChargePeriodStart, r.ServiceName, r.ServiceCategory, r.RegionID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"2026-11-12", "2026-11-13", "2026-11-14"}; !slices.Equal(days, want) {
		t.Errorf("days read %v; want %v", days, want)
	}
	called := false
	if err := p.CostRows(context.Background(), subB, window, func([]domain.CostRow) error { called = true; return nil }); err != nil || called {
		t.Errorf("CostRows of a subscription without cost data: called %v, %v; want no call and no error", called, err)
	}
	if err := p.CostRows(context.Background(), "", window, func([]domain.CostRow) error { return nil }); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("CostRows of no subscription = %v; want ErrInvalid", err)
	}
}

// TestCostRowsHonourCostManagementThrottling answers 429 with the
// x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after header the
// query API sends instead of Retry-After.
func TestCostRowsHonourCostManagementThrottling(t *testing.T) {
	est, subs := exportEstate(t)
	window := collect.Window{Start: time.Date(2023, 9, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC)}
	const header = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"
	count := func(p *azurecloud.Provider) (int, error) {
		n := 0
		err := p.CostRows(context.Background(), subs[0], window, func(rows []domain.CostRow) error { n += len(rows); return nil })
		return n, err
	}

	t.Run("waited", func(t *testing.T) {
		srv := newServer(t, est, azurefake.Options{})
		want, err := count(newProvider(t, srv, azurecloud.Config{}))
		if err != nil {
			t.Fatal(err)
		}
		srv.Fail(azurefake.Fault{API: "QueryClient.Usage", Status: http.StatusTooManyRequests, Code: "429", Times: 1,
			RetryAfter: time.Second, RetryAfterHeader: header})
		got, err := count(newProvider(t, srv, azurecloud.Config{}))
		if err != nil || got != want {
			t.Fatalf("CostRows after one throttled query = %d rows, %v; want %d rows", got, err, want)
		}
	})

	t.Run("beyond the bound", func(t *testing.T) {
		srv := newServer(t, est, azurefake.Options{})
		srv.Fail(azurefake.Fault{API: "QueryClient.Usage", Status: http.StatusTooManyRequests, Code: "429",
			RetryAfter: 40 * time.Second, RetryAfterHeader: header})
		_, err := count(newProvider(t, srv, azurecloud.Config{MaxRetryDelay: time.Second}))
		var azErr *azurecloud.Error
		if !errors.Is(err, domain.ErrThrottled) || !errors.As(err, &azErr) || azErr.RetryAfter != 40*time.Second {
			t.Fatalf("CostRows asked to wait 40 s = %v; want ErrThrottled with RetryAfter 40s", err)
		}
		if n := srv.CallCount("QueryClient.Usage"); n != 1 {
			t.Errorf("%d query attempts; want 1", n)
		}
	})
}
