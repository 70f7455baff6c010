package forecast

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// monday is the first day of most synthetic series.
var monday = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func usd(v float64) domain.Money { return domain.FromFloat(v, "USD") }

// costRow is a one-day row of spend v in USD.
func costRow(d time.Time, cloud domain.Cloud, account, service, resource string, v float64) domain.CostRow {
	return domain.CostRow{
		ChargePeriodStart: d,
		ChargePeriodEnd:   d.Add(day),
		ChargeCategory:    domain.ChargeUsage,
		BillingCurrency:   "USD",
		BilledCost:        usd(v),
		EffectiveCost:     usd(v),
		XCloud:            cloud,
		SubAccountID:      account,
		ServiceName:       service,
		ResourceID:        resource,
	}
}

// builderOf returns a Builder holding y as the daily spend of aws/a/s
// from start, and the asOf that analyses exactly those days.
func builderOf(opts Options, start time.Time, y []float64) (*Builder, time.Time) {
	b := NewBuilder(opts)
	for i, v := range y {
		b.Add(costRow(start.AddDate(0, 0, i), domain.AWS, "a", "s", "r", v))
	}
	return b, start.AddDate(0, 0, len(y))
}

// weekly is a weekday pattern for day t of a series starting on a Monday.
var weekly = [7]float64{80, 40, 20, 0, -20, -60, -60}

// trendSeries returns n days of level + slope t + scale×weekly[t%7] +
// N(0, noise) from a fixed seed, and the noise-free truth for n+extra days.
func trendSeries(seed uint64, n, extra int, level, slope, scale, noise float64) (y, truth []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for t := range n + extra {
		f := level + slope*float64(t) + scale*weekly[t%7]
		truth = append(truth, f)
		if t < n {
			y = append(y, f+noise*rng.NormFloat64())
		}
	}
	return y, truth
}

func cloudKey() Key { return Key{Level: LevelCloud, Cloud: domain.AWS, Currency: "USD"} }

// find returns the forecast of k over h days.
func find(r Result, k Key, h int) (Forecast, bool) {
	for _, f := range r.Forecasts {
		if f.Key == k && f.HorizonDays == h {
			return f, true
		}
	}
	return Forecast{}, false
}

func relErr(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }
