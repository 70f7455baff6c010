package forecast

import (
	"encoding/csv"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// demoRows reads testdata/demo-spend-2026.csv (see testdata/README.md):
// 90 days of daily spend per account and service that cloudtrim's
// simulated estate (the demo) billed, not real data, as one cost row
// per line.
func demoRows(t testing.TB) []domain.CostRow {
	t.Helper()
	f, err := os.Open("testdata/demo-spend-2026.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read demo-spend-2026.csv: %v", err)
	}
	var rows []domain.CostRow
	for _, r := range recs[1:] {
		d, err := time.Parse(time.DateOnly, r[0])
		if err != nil {
			t.Fatal(err)
		}
		m, err := domain.ParseMoney(r[4], "USD")
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, costRow(d, domain.Cloud(r[1]), r[2], r[3], "", m.Float()))
	}
	return rows
}

// demoAsOf analyses the 90 days of demo-spend-2026.csv, which end on
// 2026-11-22.
var demoAsOf = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// TestDemoSpend is the regression test of the 95% ranges of the demo's
// forecasts. These series have a step in their last days, and their
// 95% range used to start at 0 and end at 5 to 17 times the forecast
// (e.g. Virtual Machines: 30 days 4,377 in 0..46,537 after a backtest
// MAPE of 1.4%).
//
// The bounds, for backtest MAPEs below 10% at 30 days (up to 11% at 90
// days, which averages days up to 8 weeks ahead): the MAPE measures the
// error of single days; a total's relative error is smaller, as the
// days' errors partly cancel, unless the level moves, and these series
// did move (+9% for the VM, +84 a day on about 200 for the new
// service). A 30-day range within half to one and a half times the
// forecast leaves five times a 10% MAPE on either side for such moves;
// a range beyond that would say that the next month is much less
// predictable than the backtest just showed. 90 days out the range may
// widen but neither reach twice the forecast nor fall below a quarter
// of it: none of these series has ever been near zero.
func TestDemoSpend(t *testing.T) {
	b := NewBuilder(Options{})
	for _, r := range demoRows(t) {
		b.Add(r)
	}
	res, err := b.Analyze(demoAsOf)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  Key
	}{
		{"azure Virtual Machines, a VM added 9 days before the end", Key{Level: LevelService, Cloud: domain.Azure, Account: "e67b849d-e9fc-4856-9c48-97aef145e2c7", Service: "Virtual Machines", Currency: "USD"}},
		{"aws, a new service and a NAT spike in the last 3 days", Key{Level: LevelCloud, Cloud: domain.AWS, Currency: "USD"}},
		{"aws account 113406678803, Amazon SageMaker from 3 days before the end", Key{Level: LevelAccount, Cloud: domain.AWS, Account: "113406678803", Currency: "USD"}},
	}
	bounds := map[int][2]float64{30: {0.5, 1.5}, 90: {0.25, 2}}
	maxMAPE := map[int]float64{30: 0.1, 90: 0.12}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range []int{30, 90} {
				f, ok := find(res, tt.key, h)
				if !ok {
					t.Fatalf("Analyze(demo) has no %d-day forecast of %v", h, tt.key)
				}
				checkIntervals(t, f)
				if f.MAPE == nil || *f.MAPE >= maxMAPE[h] {
					t.Fatalf("Analyze(demo) %d days: backtest MAPE %v; want below %.2f", h, mapeString(f.MAPE), maxMAPE[h])
				}
				mean, lo, hi := f.Total.Float(), f.TotalLower95.Float(), f.TotalUpper95.Float()
				if bd := bounds[h]; lo < bd[0]*mean || hi > bd[1]*mean {
					t.Errorf("Analyze(demo) %d-day total = %.0f, 95%% range %.0f..%.0f (%.2f..%.2f of it); want within %.2f..%.2f", h, mean, lo, hi, lo/mean, hi/mean, bd[0], bd[1])
				}
			}
		})
	}

	// The VM's new level is forecast, not the old one nor a trend.
	vm, _ := find(res, tests[0].key, 30)
	if got, want := vm.Total.Float(), 30*145.86; relErr(got, want) > 0.03 {
		t.Errorf("Analyze(demo) Virtual Machines 30-day total = %.0f; want %.0f (30 days at the last level) ±3%%", got, want)
	}

	// The NAT gateway's spike, 4 times a day's traffic two days before
	// the end, is not taken for a level: the forecast of its service
	// stays near the 4 weeks before the spike (it was half as much
	// again).
	vpc := Key{Level: LevelService, Cloud: domain.AWS, Account: "458594491730", Service: "Amazon Virtual Private Cloud", Currency: "USD"}
	f, ok := find(res, vpc, 30)
	if !ok {
		t.Fatalf("Analyze(demo) has no forecast of %v", vpc)
	}
	const before = 4 * 7 // days before the spike
	sum := 0.0
	for _, r := range demoRows(t) {
		if d := int(demoAsOf.Sub(r.ChargePeriodStart) / day); r.SubAccountID == vpc.Account && r.ServiceName == vpc.Service && d > 2 && d <= 2+before {
			sum += r.EffectiveCost.Float()
		}
	}
	if got, want := f.Total.Float(), 30*sum/before; got < 0.95*want || got > 1.15*want {
		t.Errorf("Analyze(demo) %s 30-day total = %.0f; want %.0f (30 days at the mean of the 4 weeks before the spike) -5%%..+15%%", vpc.Service, got, want)
	}

	// The anomalies are still found.
	var newService, natSpike bool
	for _, a := range res.Anomalies {
		switch {
		case a.Kind == KindNewService && a.Key.Service == "Amazon SageMaker":
			newService = true
		case a.Kind == KindSpike && a.Key == vpc && a.Day.Equal(demoAsOf.AddDate(0, 0, -2)):
			natSpike = true
		}
	}
	if !newService || !natSpike {
		t.Errorf("Analyze(demo) anomalies: SageMaker new service %v, NAT spike %v; want both:\n%+v", newService, natSpike, res.Anomalies)
	}
}

func mapeString(p *float64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64)
}
