package forecast

import (
	"math/rand/v2"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
)

func TestAnomalies(t *testing.T) {
	// Six weeks from a Monday: days 0..41, the window is days 35..41
	// and day 36 is a Tuesday.
	const days, tuesday = 42, 36
	svcKey := func(account, service string) Key {
		return Key{Level: LevelService, Cloud: domain.AWS, Account: account, Service: service, Currency: "USD"}
	}
	// add calls f for every day and adds its rows.
	type spend func(d int) []domain.CostRow
	row := func(d int, account, service, resource string, v float64) domain.CostRow {
		return costRow(monday.AddDate(0, 0, d), domain.AWS, account, service, resource, v)
	}
	weekend := func(d int) bool { return d%7 >= 5 }
	rng := rand.New(rand.NewPCG(5, 5))
	tests := []struct {
		name  string
		days  int
		spend spend
		want  []Anomaly
	}{
		{
			name: "spike on a Tuesday",
			days: days,
			spend: func(d int) []domain.CostRow {
				batch, spiky := 50.0, 20.0
				if weekend(d) {
					batch = 0
				}
				if d == tuesday {
					spiky += 500
				}
				return []domain.CostRow{
					row(d, "a", "s", "i-web", 100), row(d, "a", "s", "i-batch", batch),
					row(d, "a", "s", "i-spiky", spiky), row(d, "a", "t", "db", 30),
				}
			},
			want: []Anomaly{
				{
					Kind: KindSpike, Key: cloudKey(), Day: monday.AddDate(0, 0, tuesday),
					Actual: usd(700), Expected: usd(200), Impact: usd(500), Score: 250,
					// a/s over days 23..35: 9 weekdays at 170, 4 weekend days at 120.
					Top: []Contributor{{Name: "a/s", Amount: usd(670), Delta: usd(670 - 2010.0/13)}},
				},
				{
					Kind: KindSpike, Key: svcKey("a", "s"), Day: monday.AddDate(0, 0, tuesday),
					Actual: usd(670), Expected: usd(170), Impact: usd(500), Score: 294.12,
					// Baseline days 28..35: i-batch ran on 6 of 8.
					Top: []Contributor{
						{Name: "i-spiky", Amount: usd(520), Delta: usd(500)},
						{Name: "i-batch", Amount: usd(50), Delta: usd(12.5)},
					},
				},
			},
		},
		{
			name: "low weekends and a big Monday are no anomaly",
			days: 70,
			spend: func(d int) []domain.CostRow {
				v := 100.0
				switch {
				case weekend(d):
					v = 20
				case d%7 == 0:
					v = 300
				}
				noise := func() float64 { return 1 + 0.04*(rng.Float64()-0.5) }
				return []domain.CostRow{
					row(d, "a", "s", "i-1", v*noise()), row(d, "a", "s", "i-2", v/2*noise()),
					row(d, "b", "s", "i-3", v*3*noise()),
				}
			},
		},
		{
			name: "a rise of 15% is below MinRelative",
			days: days,
			spend: func(d int) []domain.CostRow {
				v := 1000.0
				if weekend(d) {
					v = 800
				}
				if d == tuesday {
					v += 150
				}
				return []domain.CostRow{row(d, "a", "s", "i-1", v)}
			},
		},
		{
			name: "a rise of 25% is flagged",
			days: days,
			spend: func(d int) []domain.CostRow {
				v := 1000.0
				if weekend(d) {
					v = 800
				}
				if d == tuesday {
					v += 250
				}
				return []domain.CostRow{row(d, "a", "s", "i-1", v)}
			},
			want: []Anomaly{
				{
					Kind: KindSpike, Key: cloudKey(), Day: monday.AddDate(0, 0, tuesday),
					Actual: usd(1250), Expected: usd(1000), Impact: usd(250), Score: 25,
					Top: []Contributor{{Name: "a/s", Amount: usd(1250), Delta: usd(1250 - 12200.0/13)}},
				},
				{
					Kind: KindSpike, Key: svcKey("a", "s"), Day: monday.AddDate(0, 0, tuesday),
					Actual: usd(1250), Expected: usd(1000), Impact: usd(250), Score: 25,
					Top: []Contributor{{Name: "i-1", Amount: usd(1250), Delta: usd(1250 - 7600.0/8)}},
				},
			},
		},
		{
			name: "a rise of 80% but only 8 dollars is below MinImpact",
			days: days,
			spend: func(d int) []domain.CostRow {
				v := 10.0
				if d == tuesday {
					v += 8
				}
				return []domain.CostRow{row(d, "a", "s", "i-1", v)}
			},
		},
		{
			name: "a new service",
			days: days,
			spend: func(d int) []domain.CostRow {
				rows := []domain.CostRow{row(d, "a", "s", "i-1", 100)}
				if d >= 39 {
					sku := row(d, "a", "new", "", 5)
					sku.SkuID = "sku-x"
					rows = append(rows, row(d, "a", "new", "i-new", 5), sku)
				}
				return rows
			},
			want: []Anomaly{{
				Kind: KindNewService, Key: svcKey("a", "new"), Day: monday.AddDate(0, 0, 39),
				Actual: usd(30), Expected: domain.Money{Currency: "USD"}, Impact: usd(30),
				Top: []Contributor{
					{Name: "i-new", Amount: usd(15), Delta: usd(15)},
					{Name: "x_usage:sku:sku-x", Amount: usd(15), Delta: usd(15)},
				},
			}},
		},
		{
			name: "an account with 5 days of history has nothing new",
			days: 5,
			spend: func(d int) []domain.CostRow {
				return []domain.CostRow{row(d, "young", "s", "i-1", 100), row(d, "young", "t", "i-2", 50)}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(Options{})
			for d := range tt.days {
				for _, r := range tt.spend(d) {
					b.Add(r)
				}
			}
			res, err := b.Analyze(monday.AddDate(0, 0, tt.days))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == nil {
				want = []Anomaly{}
			}
			if diff := cmp.Diff(want, res.Anomalies); diff != "" {
				t.Errorf("Analyze(%s).Anomalies mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}
