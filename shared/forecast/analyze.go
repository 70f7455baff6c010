package forecast

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Level is the aggregation level of a series.
type Level string

// The levels a Builder keeps.
const (
	LevelCloud   Level = "cloud"
	LevelAccount Level = "account"
	LevelService Level = "service"
)

func (l Level) rank() int {
	switch l {
	case LevelCloud:
		return 0
	case LevelAccount:
		return 1
	}
	return 2
}

// Key identifies a daily spend series: a cloud, an account of it (the
// FOCUS SubAccountId) or a service of an account, in one currency.
type Key struct {
	Level    Level        `json:"level"`
	Cloud    domain.Cloud `json:"cloud"`
	Account  string       `json:"account,omitempty"`
	Service  string       `json:"service,omitempty"`
	Currency string       `json:"currency"`
}

func compareKeys(a, b Key) int {
	return cmp.Or(
		strings.Compare(a.Currency, b.Currency),
		cmp.Compare(a.Level.rank(), b.Level.rank()),
		strings.Compare(string(a.Cloud), string(b.Cloud)),
		strings.Compare(a.Account, b.Account),
		strings.Compare(a.Service, b.Service),
	)
}

// Forecast methods.
const (
	// MethodHoltWinters is additive Holt-Winters with a damped trend and
	// a weekly season, used from 14 days of history.
	MethodHoltWinters = "holt_winters_additive_damped_weekly"
	// MethodFlatWeekday is the mean plus weekday effects, used for 7 to
	// 13 days of history.
	MethodFlatWeekday = "flat_mean_weekday"
)

// DayForecast is the forecast spend of one day with its 80% and 95%
// prediction intervals, in currency units (float, rounded to the
// micro-unit).
type DayForecast struct {
	Day     time.Time `json:"day"`
	Mean    float64   `json:"mean"`
	Lower80 float64   `json:"lower80"`
	Upper80 float64   `json:"upper80"`
	Lower95 float64   `json:"lower95"`
	Upper95 float64   `json:"upper95"`
}

// Forecast is the spend forecast of one series over one horizon.
// Forecasts of series that were never negative are never negative.
type Forecast struct {
	Key Key `json:"key"`
	// HorizonDays is the number of days forecast, starting at Start, the
	// day after the last day of history.
	HorizonDays int       `json:"horizon_days"`
	Start       time.Time `json:"start"`
	// HistoryDays is the number of days of history the model was fit on.
	HistoryDays int    `json:"history_days"`
	Method      string `json:"method"`
	// Params are the chosen smoothing parameters (Holt-Winters only).
	Params *Params `json:"params,omitempty"`
	// Note explains a fallback, such as a short history.
	Note string        `json:"note,omitempty"`
	Days []DayForecast `json:"days"`
	// Total is the sum of the daily means; TotalLower95 and
	// TotalUpper95 bound the sum (not the sum of the daily bounds,
	// which would be too wide), as wide as the model's variance of the
	// sum or the errors of the totals forecast in the backtest and over
	// the history, whichever is wider.
	Total        domain.Money `json:"total"`
	TotalLower95 domain.Money `json:"total_lower95"`
	TotalUpper95 domain.Money `json:"total_upper95"`
	// MAPE is the mean absolute percentage error of the rolling-origin
	// backtest as a fraction (0.05 is 5%), over the backtest days whose
	// actual spend is positive and above 1% of the series mean. It is
	// nil when there was no backtest origin or no such day.
	MAPE *float64 `json:"mape"`
	// BacktestOrigins is the number of backtest origins (at most 8, one
	// every 7 days, each with at least 14 days of training);
	// BacktestDays the number of forecast days the MAPE averages.
	BacktestOrigins int `json:"backtest_origins"`
	BacktestDays    int `json:"backtest_days"`
}

// Skipped is a series Analyze would have forecast but could not.
type Skipped struct {
	Key         Key    `json:"key"`
	HistoryDays int    `json:"history_days"`
	Reason      string `json:"reason"`
}

// Result is the outcome of Analyze. Every item names its currency in its
// Key; items are grouped by currency in the order of Currencies, as
// amounts in different currencies are never compared or added.
type Result struct {
	AsOf time.Time `json:"as_of"`
	// Currencies are the billing currencies seen, sorted.
	Currencies []string `json:"currencies"`
	// Forecasts are, per currency: every cloud, then the top accounts,
	// then the top account×service series, each over every horizon.
	Forecasts []Forecast `json:"forecasts"`
	// Anomalies are sorted by impact, largest first, within a currency.
	Anomalies []Anomaly `json:"anomalies"`
	Skipped   []Skipped `json:"skipped"`
}

// ForCurrency returns the part of r in currency cur.
func (r Result) ForCurrency(cur string) Result {
	out := Result{AsOf: r.AsOf, Currencies: []string{}, Forecasts: []Forecast{}, Anomalies: []Anomaly{}, Skipped: []Skipped{}}
	if slices.Contains(r.Currencies, cur) {
		out.Currencies = append(out.Currencies, cur)
	}
	for _, f := range r.Forecasts {
		if f.Key.Currency == cur {
			out.Forecasts = append(out.Forecasts, f)
		}
	}
	for _, a := range r.Anomalies {
		if a.Key.Currency == cur {
			out.Anomalies = append(out.Anomalies, a)
		}
	}
	for _, s := range r.Skipped {
		if s.Key.Currency == cur {
			out.Skipped = append(out.Skipped, s)
		}
	}
	return out
}

// maxHorizon bounds Options.Horizons.
const maxHorizon = 730

// rankDays is the number of most recent days whose spend ranks the
// accounts and services.
const rankDays = 30

// Analyze forecasts and searches for anomalies in the spend added so
// far. asOf is the time of the analysis: the last day analysed is the
// last whole UTC day before asOf (the day before asOf's day), or, for a
// cloud whose data ends earlier, its last day with data, so that a
// cloud whose export lags is not read as a drop to zero. Analyze does
// not change b. It returns an error wrapping domain.ErrInvalid when asOf
// is zero or a horizon is outside 1..730.
func (b *Builder) Analyze(asOf time.Time) (Result, error) {
	if asOf.IsZero() {
		return Result{}, fmt.Errorf("analyze cost series: %w: as-of time is zero", domain.ErrInvalid)
	}
	horizons := slices.Clone(b.opts.Horizons)
	for _, h := range horizons {
		if h < 1 || h > maxHorizon {
			return Result{}, fmt.Errorf("analyze cost series: %w: horizon %d days is outside 1..%d", domain.ErrInvalid, h, maxHorizon)
		}
	}
	slices.Sort(horizons)
	horizons = slices.Compact(horizons)

	a := &analyzer{b: b, o: b.opts, horizons: horizons, through: map[seriesKey]int{}}
	last := dayNumber(asOf) - 1
	curSet := map[string]bool{}
	for k, s := range b.clouds {
		t := min(last, s.lastDay())
		if len(s.vals) > 0 && t >= s.first {
			a.through[k] = t
			curSet[k.currency] = true
		}
	}
	res := Result{AsOf: asOf.UTC(), Currencies: []string{}, Forecasts: []Forecast{}, Anomalies: []Anomaly{}, Skipped: []Skipped{}}
	for c := range curSet {
		res.Currencies = append(res.Currencies, c)
	}
	slices.Sort(res.Currencies)
	for _, cur := range res.Currencies {
		a.currency(cur, &res)
	}
	return res, nil
}

type analyzer struct {
	b        *Builder
	o        Options
	horizons []int
	through  map[seriesKey]int // last day analysed per cloud and currency
	scratch  []float64
}

// daily is one series prepared for analysis.
type daily struct {
	key     Key
	first   int       // day of y[0]
	y       []float64 // currency units per day up to the cloud's last day
	recent  float64   // spend over the last rankDays days
	service *serviceSeries
	account *series
}

func (a *analyzer) prepare(k Key, s *series, through int) (daily, bool) {
	if len(s.vals) == 0 {
		return daily{}, false
	}
	first := max(s.first, through-a.o.HistoryDays+1)
	if first > through {
		return daily{}, false
	}
	d := daily{key: k, first: first, y: make([]float64, through-first+1)}
	for i := range d.y {
		d.y[i] = float64(s.at(first+i)) / domain.MicrosPerUnit
	}
	for _, v := range d.y[max(0, len(d.y)-rankDays):] {
		d.recent += v
	}
	return d, true
}

func (a *analyzer) currency(cur string, res *Result) {
	var clouds, accounts, services []daily
	for k, s := range a.b.clouds {
		if t, ok := a.through[k]; ok && k.currency == cur {
			if d, ok := a.prepare(Key{Level: LevelCloud, Cloud: k.cloud, Currency: cur}, s, t); ok {
				clouds = append(clouds, d)
			}
		}
	}
	for k, s := range a.b.accounts {
		if t, ok := a.through[seriesKey{cloud: k.cloud, currency: k.currency}]; ok && k.currency == cur {
			if d, ok := a.prepare(Key{Level: LevelAccount, Cloud: k.cloud, Account: k.account, Currency: cur}, s, t); ok {
				accounts = append(accounts, d)
			}
		}
	}
	for k, s := range a.b.services {
		if t, ok := a.through[seriesKey{cloud: k.cloud, currency: k.currency}]; ok && k.currency == cur {
			if d, ok := a.prepare(Key{Level: LevelService, Cloud: k.cloud, Account: k.account, Service: k.service, Currency: cur}, &s.series, t); ok {
				d.service, d.account = s, s.account
				services = append(services, d)
			}
		}
	}
	byKey := func(x, y daily) int { return compareKeys(x.key, y.key) }
	slices.SortFunc(clouds, byKey)
	slices.SortFunc(accounts, byKey)
	slices.SortFunc(services, byKey)

	for _, d := range clouds {
		a.forecast(d, res)
	}
	for _, d := range top(accounts, a.o.TopAccounts) {
		a.forecast(d, res)
	}
	for _, d := range top(services, a.o.TopServices) {
		a.forecast(d, res)
	}

	var found []Anomaly
	for _, d := range clouds {
		found = append(found, a.spikes(d, services)...)
	}
	for _, d := range services {
		if an, ok := a.newService(d); ok {
			found = append(found, an)
			continue
		}
		found = append(found, a.spikes(d, nil)...)
	}
	slices.SortFunc(found, func(x, y Anomaly) int {
		return cmp.Or(
			cmp.Compare(y.Impact.Micros, x.Impact.Micros),
			compareKeys(x.Key, y.Key),
			x.Day.Compare(y.Day),
			strings.Compare(string(x.Kind), string(y.Kind)),
		)
	})
	res.Anomalies = append(res.Anomalies, found...)
}

// top returns the n series with the largest positive recent spend,
// largest first; ds must be sorted by key so that ties are stable.
func top(ds []daily, n int) []daily {
	out := make([]daily, 0, len(ds))
	for _, d := range ds {
		if d.recent > 0 {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(x, y daily) int { return cmp.Compare(y.recent, x.recent) })
	return out[:min(n, len(out))]
}

func (a *analyzer) forecast(d daily, res *Result) {
	n := len(d.y)
	if n < minFlatHistory {
		res.Skipped = append(res.Skipped, Skipped{
			Key:         d.key,
			HistoryDays: n,
			Reason:      fmt.Sprintf("%d days of history; a forecast needs at least %d", n, minFlatHistory),
		})
		return
	}
	clip := !slices.ContainsFunc(d.y, func(v float64) bool { return v < 0 })
	// Train on the current regime only; see regimeStart.
	from := regimeStart(d.y)
	y := d.y[from:]
	n = len(y)
	mean := 0.0
	for _, v := range y {
		mean += v / float64(n)
	}
	var notes []string
	if from > 0 {
		notes = append(notes, fmt.Sprintf("level shift: trained on the %d days from %s", n, dayTime(d.first+from).Format(time.DateOnly)))
	}
	maxH := a.horizons[len(a.horizons)-1]
	var (
		m       model
		method  string
		params  *Params
		origins int
		pts     []btPoint
	)
	if n < minHistory {
		m = fitFlat(y)
		method = MethodFlatWeekday
		notes = append(notes, fmt.Sprintf("%d days of history, fewer than %d: flat mean plus weekday effects, no backtest", n, minHistory))
	} else {
		marks := outliers(y)
		m = fit(y, marks)
		method = MethodHoltWinters
		p := m.p
		params = &p
		origins, pts = backtest(y, marks, maxH, clip)
		if origins == 0 {
			notes = append(notes, fmt.Sprintf("%d days of history, fewer than %d: no backtest", n, minHistory+btEvery))
		}
	}
	note := strings.Join(notes, "; ")
	means, sds := m.predict(maxH)
	start := d.first + len(d.y)
	cur := d.key.Currency
	for _, h := range a.horizons {
		mape, btDays, m80, m95 := score(pts, h, mean, sds)
		f := Forecast{
			Key:             d.key,
			HorizonDays:     h,
			Start:           dayTime(start),
			HistoryDays:     n,
			Method:          method,
			Params:          params,
			Note:            note,
			Days:            make([]DayForecast, h),
			BacktestOrigins: origins,
		}
		if btDays > 0 {
			f.MAPE = &mape
			f.BacktestDays = btDays
		}
		total := 0.0
		for k := range h {
			mu, sd := means[k], sds[k]
			df := DayForecast{
				Day:     dayTime(start + k),
				Mean:    mu,
				Lower80: mu - m80*sd,
				Upper80: mu + m80*sd,
				Lower95: mu - m95*sd,
				Upper95: mu + m95*sd,
			}
			if clip {
				df.Mean, df.Lower80, df.Upper80 = max(df.Mean, 0), max(df.Lower80, 0), max(df.Upper80, 0)
				df.Lower95, df.Upper95 = max(df.Lower95, 0), max(df.Upper95, 0)
			}
			total += df.Mean
			df.Mean, df.Lower80, df.Upper80 = roundMicro(df.Mean), roundMicro(df.Lower80), roundMicro(df.Upper80)
			df.Lower95, df.Upper95 = roundMicro(df.Lower95), roundMicro(df.Upper95)
			f.Days[k] = df
		}
		tsd := max(totalScale(pts, h, &m), m.historyScale(h, clip)) * m.totalSD(h)
		lo, hi := total-tsd, total+tsd
		if clip {
			lo = max(lo, 0)
		}
		f.Total = domain.FromFloat(total, cur)
		f.TotalLower95 = domain.FromFloat(lo, cur)
		f.TotalUpper95 = domain.FromFloat(hi, cur)
		res.Forecasts = append(res.Forecasts, f)
	}
}

func roundMicro(v float64) float64 { return math.Round(v*domain.MicrosPerUnit) / domain.MicrosPerUnit }
