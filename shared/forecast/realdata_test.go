package forecast

import (
	"encoding/csv"
	"math"
	"os"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// curRows reads testdata/cur-daily-2018.csv (see testdata/README.md),
// the daily spend per service of an AWS Well-Architected workshop
// account in November and December 2018, as one cost row per line.
func curRows(t testing.TB) []domain.CostRow {
	t.Helper()
	f, err := os.Open("testdata/cur-daily-2018.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read cur-daily-2018.csv: %v", err)
	}
	var rows []domain.CostRow
	for _, r := range recs[1:] {
		d, err := time.Parse(time.DateOnly, r[0])
		if err != nil {
			t.Fatal(err)
		}
		m, err := domain.ParseMoney(r[2], "USD")
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, domain.CostRow{
			ChargePeriodStart: d, ChargePeriodEnd: d.Add(day), BillingCurrency: "USD",
			EffectiveCost: m, BilledCost: m, XCloud: domain.AWS, SubAccountID: "workshop", ServiceName: r[1],
		})
	}
	return rows
}

func TestRealCUR(t *testing.T) {
	b := NewBuilder(Options{})
	for _, r := range curRows(t) {
		b.Add(r)
	}
	asOf := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := b.Analyze(asOf)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []int{30, 90} {
		f, ok := find(res, cloudKey(), h)
		if !ok {
			t.Fatalf("Analyze(CUR 2018) has no %d-day cloud forecast", h)
		}
		checkIntervals(t, f)
		// The workshop's Glue jobs stopped between 21 and 25 November
		// (from ~158 to ~14.5 USD a day): the model trains on the days
		// from 28 November, the last day a week-median test still sees
		// the step, and forecasts the December level, not November's.
		if f.HistoryDays != 34 || !f.Start.Equal(asOf) || f.Method != MethodHoltWinters {
			t.Errorf("Analyze(CUR 2018) %d days = %d days of history from %v by %s (%s); want 34 up to %v by %s", h, f.HistoryDays, f.Start, f.Method, f.Note, asOf, MethodHoltWinters)
		}
		if f.MAPE == nil || math.IsNaN(*f.MAPE) || *f.MAPE > 0.15 || f.BacktestOrigins != 2 {
			t.Errorf("Analyze(CUR 2018) %d days backtest = MAPE %v over %d origins; want finite, below 0.15, 2 origins", h, f.MAPE, f.BacktestOrigins)
		}
		for _, d := range f.Days {
			if d.Upper95 > 50 {
				t.Errorf("Analyze(CUR 2018) %v = %+v; want the upper 95%% bound far below November's 150 a day", d.Day, d)
				break
			}
		}
	}
	// December's 31 days cost 408.42 USD, falling to 11.86 a day at the
	// end of the month.
	f, _ := find(res, cloudKey(), 30)
	if got := f.Total.Float(); got < 300 || got > 400 || f.TotalLower95.Micros > f.Total.Micros || f.TotalUpper95.Micros < 400e6 {
		t.Errorf("Analyze(CUR 2018) 30-day total = %v [%v, %v]; want 300..400 with an upper bound above 400", f.Total, f.TotalLower95, f.TotalUpper95)
	}
	// AWSGlue cost the most over the two months (2,005 USD) but nothing in
	// December: the top service forecast is EC2's, and Glue has none.
	var services []string
	for _, f := range res.Forecasts {
		if f.Key.Level == LevelService && f.HorizonDays == 30 {
			services = append(services, f.Key.Service)
		}
	}
	if len(services) == 0 || services[0] != "AmazonEC2" {
		t.Errorf("Analyze(CUR 2018) service forecasts = %v; want AmazonEC2 first", services)
	}
	for _, s := range services {
		if s == "AWSGlue" {
			t.Errorf("Analyze(CUR 2018) service forecasts = %v; want no AWSGlue (no spend in the last 30 days)", services)
		}
	}
	// The last week of December has no rise of 10 USD: no anomalies.
	if len(res.Anomalies) != 0 {
		t.Errorf("Analyze(CUR 2018).Anomalies = %+v; want none", res.Anomalies)
	}
}
