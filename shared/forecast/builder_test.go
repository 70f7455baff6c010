package forecast

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
)

func micros(cur string, start time.Time, ms ...int64) []DayAmount {
	out := make([]DayAmount, len(ms))
	for i, m := range ms {
		out[i] = DayAmount{Day: start.AddDate(0, 0, i), Amount: domain.Money{Micros: m, Currency: cur}}
	}
	return out
}

func TestAddSpreadsMultiDayRows(t *testing.T) {
	jan := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	monthly := make([]int64, 31)
	for i := range monthly {
		monthly[i] = 1_000_000
	}
	tests := []struct {
		name string
		row  domain.CostRow
		want []DayAmount
	}{
		{
			name: "monthly fee over January",
			row: domain.CostRow{ChargePeriodStart: jan, ChargePeriodEnd: jan.AddDate(0, 1, 0),
				BillingCurrency: "USD", EffectiveCost: usd(31)},
			want: micros("USD", jan, monthly...),
		},
		{
			name: "48 hours from 10:00 touch three days; remainder to the first",
			row: domain.CostRow{ChargePeriodStart: jan.Add(10 * time.Hour), ChargePeriodEnd: jan.Add(58 * time.Hour),
				BillingCurrency: "USD", EffectiveCost: domain.USD(10)},
			want: micros("USD", jan, 4, 3, 3),
		},
		{
			name: "negative credit spread",
			row: domain.CostRow{ChargePeriodStart: jan, ChargePeriodEnd: jan.Add(72 * time.Hour),
				BillingCurrency: "USD", EffectiveCost: domain.USD(-10)},
			want: micros("USD", jan, -4, -3, -3),
		},
		{
			name: "exactly one day stays on one day",
			row: domain.CostRow{ChargePeriodStart: jan, ChargePeriodEnd: jan.Add(day),
				BillingCurrency: "USD", EffectiveCost: domain.USD(7)},
			want: micros("USD", jan, 7),
		},
		{
			name: "hourly row in the evening, non-UTC zone",
			row: domain.CostRow{ChargePeriodStart: time.Date(2025, 1, 1, 23, 0, 0, 0, time.FixedZone("x", 3600)),
				ChargePeriodEnd: time.Date(2025, 1, 2, 0, 0, 0, 0, time.FixedZone("x", 3600)),
				BillingCurrency: "USD", EffectiveCost: domain.USD(7)},
			want: micros("USD", jan, 7),
		},
		{
			name: "billed cost when effective cost is zero",
			row:  domain.CostRow{ChargePeriodStart: jan, BillingCurrency: "USD", BilledCost: domain.USD(5)},
			want: micros("USD", jan, 5),
		},
		{
			name: "a year-long row is capped at 31 days",
			row: domain.CostRow{ChargePeriodStart: jan, ChargePeriodEnd: jan.AddDate(1, 0, 0),
				BillingCurrency: "USD", EffectiveCost: usd(31)},
			want: micros("USD", jan, monthly...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(Options{})
			tt.row.XCloud = domain.AWS
			b.Add(tt.row)
			for _, k := range []Key{
				{Level: LevelCloud, Cloud: domain.AWS, Currency: "USD"},
				{Level: LevelAccount, Cloud: domain.AWS, Currency: "USD"},
				{Level: LevelService, Cloud: domain.AWS, Currency: "USD"},
			} {
				if diff := cmp.Diff(tt.want, b.Daily(k)); diff != "" {
					t.Errorf("Daily(%v) after Add(%s) mismatch (-want +got):\n%s", k, tt.name, diff)
				}
			}
		})
	}
}

func TestAddOutOfOrderAndHistoryBound(t *testing.T) {
	b := NewBuilder(Options{HistoryDays: 10})
	k := Key{Level: LevelService, Cloud: domain.AWS, Account: "a", Service: "s", Currency: "USD"}
	// Reverse order, a gap, then a day far past the bound and one too old.
	for _, d := range []int{5, 4, 3, 1} {
		b.Add(costRow(monday.AddDate(0, 0, d), domain.AWS, "a", "s", "r", float64(d)))
	}
	if diff := cmp.Diff(micros("USD", monday.AddDate(0, 0, 1), 1e6, 0, 3e6, 4e6, 5e6), b.Daily(k)); diff != "" {
		t.Errorf("Daily after reverse adds mismatch (-want +got):\n%s", diff)
	}
	b.Add(costRow(monday.AddDate(0, 0, 12), domain.AWS, "a", "s", "r", 12))
	b.Add(costRow(monday.AddDate(0, 0, 2), domain.AWS, "a", "s", "r", 2)) // older than 10 days before day 12
	want := micros("USD", monday.AddDate(0, 0, 3), 3e6, 4e6, 5e6, 0, 0, 0, 0, 0, 0, 12e6)
	if diff := cmp.Diff(want, b.Daily(k)); diff != "" {
		t.Errorf("Daily after bound mismatch (-want +got):\n%s", diff)
	}
	if got, want := b.Stats(), (BuilderStats{Rows: 6, Dropped: 1, Clouds: 1, Accounts: 1, Services: 1}); got != want {
		t.Errorf("Stats() = %+v; want %+v", got, want)
	}
}

func TestCurrenciesKeptApart(t *testing.T) {
	b := NewBuilder(Options{})
	for i := range 28 {
		d := monday.AddDate(0, 0, i)
		b.Add(costRow(d, domain.Azure, "sub", "vm", "r1", 100))
		eur := costRow(d, domain.Azure, "sub", "vm", "r1", 0)
		eur.BillingCurrency, eur.EffectiveCost = "EUR", domain.FromFloat(50, "EUR")
		b.Add(eur)
	}
	for cur, v := range map[string]int64{"USD": 100e6, "EUR": 50e6} {
		got := b.Daily(Key{Level: LevelCloud, Cloud: domain.Azure, Currency: cur})
		if len(got) != 28 || got[0].Amount != (domain.Money{Micros: v, Currency: cur}) {
			t.Errorf("Daily(azure %s) = %d days starting %v; want 28 days of %d micros", cur, len(got), got[0].Amount, v)
		}
	}
	res, err := b.Analyze(monday.AddDate(0, 0, 28))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"EUR", "USD"}, res.Currencies); diff != "" {
		t.Errorf("Analyze(...).Currencies mismatch (-want +got):\n%s", diff)
	}
	for _, cur := range res.Currencies {
		k := Key{Level: LevelCloud, Cloud: domain.Azure, Currency: cur}
		f, ok := find(res, k, 30)
		if !ok {
			t.Fatalf("Analyze(...) has no forecast for %v", k)
		}
		want := map[string]float64{"USD": 3000, "EUR": 1500}[cur]
		if f.Total.Currency != cur || relErr(f.Total.Float(), want) > 0.001 {
			t.Errorf("Analyze(...) total of %v = %v; want %s %.0f", k, f.Total, cur, want)
		}
		part := res.ForCurrency(cur)
		for _, f := range part.Forecasts {
			if f.Key.Currency != cur {
				t.Errorf("ForCurrency(%s) holds %v", cur, f.Key)
			}
		}
		if len(part.Forecasts) != len(res.Forecasts)/2 {
			t.Errorf("ForCurrency(%s) has %d forecasts; want %d", cur, len(part.Forecasts), len(res.Forecasts)/2)
		}
	}
}

func TestContributorsBounded(t *testing.T) {
	const maxC = 5
	b := NewBuilder(Options{MaxContributors: maxC})
	rng := rand.New(rand.NewPCG(7, 7))
	var total int64
	for _, i := range rng.Perm(200) {
		v := int64(i+1) * 1e6
		total += v
		r := costRow(monday, domain.GCP, "p", "compute", "vm-"+strconv.Itoa(i+1), 0)
		r.EffectiveCost = domain.Money{Micros: v, Currency: "USD"}
		b.Add(r)
		// Rows without a resource ID are named by SKU or description.
		r.ResourceID, r.SkuID, r.EffectiveCost = "", "sku-1", domain.Money{}
		b.Add(r)
	}
	s := b.services[seriesKey{domain.GCP, "p", "compute", "USD"}]
	slot := s.contribAt(dayNumber(monday))
	if n := len(slot.amounts); n > 2*maxC {
		t.Errorf("contributor map holds %d entries; want at most %d", n, 2*maxC)
	}
	got := slot.folded(maxC)
	want := map[string]int64{
		"vm-200": 200e6, "vm-199": 199e6, "vm-198": 198e6, "vm-197": 197e6, "vm-196": 196e6,
		otherName: total - (200+199+198+197+196)*1e6,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("folded(%d) mismatch (-want +got):\n%s", maxC, diff)
	}
	if got := (contribKey{1, "sku-1"}).String(); got != "x_usage:sku:sku-1" {
		t.Errorf("contribKey{sku}.String() = %q; want %q", got, "x_usage:sku:sku-1")
	}
}

func BenchmarkAdd(b *testing.B) {
	// 1,000 account×service series, 20 resources each, 30 days.
	rows := make([]domain.CostRow, 0, 1<<16)
	for i := range cap(rows) {
		svc := i % 1000
		rows = append(rows, costRow(monday.AddDate(0, 0, (i/1000)%30), domain.Clouds[svc%3],
			"acct-"+strconv.Itoa(svc%40), "svc-"+strconv.Itoa(svc), "res-"+strconv.Itoa(i%20), 1.25))
	}
	bl := NewBuilder(Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bl.Add(rows[i%len(rows)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
