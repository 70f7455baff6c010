package forecast

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestForecastTrendAndWeeklyPattern(t *testing.T) {
	tests := []struct {
		name                       string
		level, slope, scale, noise float64
		maxTotalErr, maxDayErr     float64
	}{
		{name: "rising with weekly pattern", level: 1000, slope: 2, scale: 1, noise: 10, maxTotalErr: 0.02, maxDayErr: 0.05},
		{name: "flat with strong weekly pattern", level: 300, slope: 0, scale: 2, noise: 5, maxTotalErr: 0.02, maxDayErr: 0.06},
		{name: "falling", level: 2000, slope: -3, scale: 1, noise: 20, maxTotalErr: 0.03, maxDayErr: 0.06},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 280
			y, truth := trendSeries(1, n, 90, tt.level, tt.slope, tt.scale, tt.noise)
			b, asOf := builderOf(Options{}, monday, y)
			res, err := b.Analyze(asOf)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := find(res, cloudKey(), 30)
			if !ok {
				t.Fatalf("Analyze(%s) has no 30-day cloud forecast; got %+v", tt.name, res.Skipped)
			}
			if f.Method != MethodHoltWinters || f.HistoryDays != n || !f.Start.Equal(asOf) {
				t.Errorf("Analyze(%s) = method %q, %d days, start %v; want %q, %d, %v", tt.name, f.Method, f.HistoryDays, f.Start, MethodHoltWinters, n, asOf)
			}
			want := 0.0
			for k := range 30 {
				want += truth[n+k]
				if e := relErr(f.Days[k].Mean, truth[n+k]); e > tt.maxDayErr {
					t.Errorf("Analyze(%s) day %d mean = %.1f; want %.1f (±%.0f%%)", tt.name, k+1, f.Days[k].Mean, truth[n+k], 100*tt.maxDayErr)
				}
			}
			if e := relErr(f.Total.Float(), want); e > tt.maxTotalErr {
				t.Errorf("Analyze(%s) 30-day total = %v; want %.0f (±%.0f%%)", tt.name, f.Total, want, 100*tt.maxTotalErr)
			}
			if f.MAPE == nil || *f.MAPE > 0.05 || f.BacktestOrigins != 8 {
				t.Errorf("Analyze(%s) backtest = MAPE %v over %d origins; want below 0.05 over 8", tt.name, f.MAPE, f.BacktestOrigins)
			}
			f90, _ := find(res, cloudKey(), 90)
			checkIntervals(t, f90)
			if f90.TotalLower95.Micros >= f90.Total.Micros || f90.TotalUpper95.Micros <= f90.Total.Micros {
				t.Errorf("Analyze(%s) 90-day total = %v [%v, %v]; want the total inside its interval", tt.name, f90.Total, f90.TotalLower95, f90.TotalUpper95)
			}
		})
	}
}

// checkIntervals checks that the intervals are ordered, never negative
// and strictly wider at the end of the horizon than at its start, and
// never narrower from one day to the next.
func checkIntervals(t *testing.T, f Forecast) {
	t.Helper()
	for k, d := range f.Days {
		if !(0 <= d.Lower95 && d.Lower95 <= d.Lower80 && d.Lower80 <= d.Mean && d.Mean <= d.Upper80 && d.Upper80 <= d.Upper95) {
			t.Fatalf("%v day %d = %+v; want 0 <= lower95 <= lower80 <= mean <= upper80 <= upper95", f.Key, k+1, d)
		}
		if k > 0 && d.Lower95 > 0 {
			prev := f.Days[k-1]
			if d.Upper95-d.Lower95 < prev.Upper95-prev.Lower95-1e-6 || d.Upper80-d.Lower80 < prev.Upper80-prev.Lower80-1e-6 {
				t.Errorf("%v day %d interval narrower than day %d: %+v after %+v", f.Key, k+1, k, d, prev)
			}
		}
	}
	first, last := f.Days[0], f.Days[len(f.Days)-1]
	if last.Upper95-last.Lower95 <= first.Upper95-first.Lower95 {
		t.Errorf("%v 95%% interval width %.2f on day %d; want wider than %.2f on day 1", f.Key, last.Upper95-last.Lower95, len(f.Days), first.Upper95-first.Lower95)
	}
}

func TestIntervalCoverage(t *testing.T) {
	// Five long noisy series; the last 90 days are held out.
	var in80, in95, total int
	for seed := range uint64(5) {
		const n, h = 320, 90
		y, _ := trendSeries(seed+10, n+h, 0, 500, 0.5, 0.5, 40)
		b, asOf := builderOf(Options{Horizons: []int{h}}, monday, y[:n])
		res, err := b.Analyze(asOf)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := find(res, cloudKey(), h)
		if !ok {
			t.Fatalf("Analyze(seed %d) has no forecast", seed)
		}
		checkIntervals(t, f)
		for k, d := range f.Days {
			v := y[n+k]
			total++
			if d.Lower80 <= v && v <= d.Upper80 {
				in80++
			}
			if d.Lower95 <= v && v <= d.Upper95 {
				in95++
			}
		}
	}
	c80, c95 := float64(in80)/float64(total), float64(in95)/float64(total)
	t.Logf("coverage of %d held-out days: 80%% interval %.3f, 95%% interval %.3f", total, c80, c95)
	if c95 < 0.9 || c80 < 0.7 {
		t.Errorf("Analyze(...) coverage = %.3f (80%%), %.3f (95%%); want >= 0.70 and >= 0.90", c80, c95)
	}
}

func TestBacktestMAPE(t *testing.T) {
	periodic := make([]float64, 70)
	step := make([]float64, 70)
	for i := range periodic {
		periodic[i] = []float64{10, 20, 30, 40, 50, 5, 5}[i%7]
		step[i] = 100
		if i >= 67 {
			step[i] = 150
		}
	}
	// The step: origins at days 63, 56, ..., 14 all train on a constant
	// 100 and so forecast 100. Forecast days: 30-day horizon
	// 7+14+21+28+4×30 = 190, of which the origins 63..42 (four) reach
	// the three days at 150, each 50/150 = 1/3 off: MAPE = 4/190.
	// 90-day horizon: 7+14+...+56 = 252 days, all eight origins reach
	// them: MAPE = 8/252.
	tests := []struct {
		name     string
		y        []float64
		horizon  int
		wantMAPE float64
		wantDays int
	}{
		{"exactly periodic, 30 days", periodic, 30, 0, 190},
		{"exactly periodic, 90 days", periodic, 90, 0, 252},
		{"constant then step, 30 days", step, 30, 4.0 / 190, 190},
		{"constant then step, 90 days", step, 90, 8.0 / 252, 252},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, asOf := builderOf(Options{}, monday, tt.y)
			res, err := b.Analyze(asOf)
			if err != nil {
				t.Fatal(err)
			}
			f, ok := find(res, cloudKey(), tt.horizon)
			if !ok || f.MAPE == nil {
				t.Fatalf("Analyze(%s) = no MAPE (%+v)", tt.name, f)
			}
			type bt struct {
				MAPE          float64
				Origins, Days int
			}
			got := bt{*f.MAPE, f.BacktestOrigins, f.BacktestDays}
			want := bt{tt.wantMAPE, 8, tt.wantDays}
			if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Analyze(%s) backtest mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestShortHistory(t *testing.T) {
	tests := []struct {
		days       int
		wantMethod string // "" when skipped
		wantMAPE   bool
	}{
		{days: 5},
		{days: 10, wantMethod: MethodFlatWeekday},
		{days: 17, wantMethod: MethodHoltWinters},
		{days: 21, wantMethod: MethodHoltWinters, wantMAPE: true},
	}
	for _, tt := range tests {
		t.Run(strings.Repeat("d", tt.days), func(t *testing.T) {
			y, _ := trendSeries(3, tt.days, 0, 100, 0, 0.5, 3)
			b, asOf := builderOf(Options{}, monday, y)
			res, err := b.Analyze(asOf)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMethod == "" {
				want := []Skipped{
					{Key: cloudKey(), HistoryDays: 5, Reason: "5 days of history; a forecast needs at least 7"},
					{Key: Key{Level: LevelAccount, Cloud: domain.AWS, Account: "a", Currency: "USD"}, HistoryDays: 5, Reason: "5 days of history; a forecast needs at least 7"},
					{Key: Key{Level: LevelService, Cloud: domain.AWS, Account: "a", Service: "s", Currency: "USD"}, HistoryDays: 5, Reason: "5 days of history; a forecast needs at least 7"},
				}
				if diff := cmp.Diff(want, res.Skipped); diff != "" || len(res.Forecasts) != 0 {
					t.Errorf("Analyze(5 days) = %d forecasts, skipped mismatch (-want +got):\n%s", len(res.Forecasts), diff)
				}
				return
			}
			f, ok := find(res, cloudKey(), 30)
			if !ok {
				t.Fatalf("Analyze(%d days) has no forecast; skipped %+v", tt.days, res.Skipped)
			}
			if f.Method != tt.wantMethod || (f.MAPE != nil) != tt.wantMAPE {
				t.Errorf("Analyze(%d days) = method %q, MAPE %v (%s); want %q, MAPE set %v", tt.days, f.Method, f.MAPE, f.Note, tt.wantMethod, tt.wantMAPE)
			}
			if tt.wantMethod == MethodFlatWeekday && relErr(f.Total.Float(), 3000) > 0.1 {
				t.Errorf("Analyze(%d days) total = %v; want about 3000", tt.days, f.Total)
			}
			checkIntervals(t, f)
		})
	}
}

func TestForecastNeverNegative(t *testing.T) {
	// Falling fast towards zero: the trend would cross zero.
	y := make([]float64, 60)
	for i := range y {
		y[i] = math.Max(0, 300-6*float64(i)) + 5*float64(i%7)
	}
	b, asOf := builderOf(Options{}, monday, y)
	res, err := b.Analyze(asOf)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := find(res, cloudKey(), 90)
	for _, d := range f.Days {
		if d.Mean < 0 || d.Lower95 < 0 {
			t.Fatalf("Analyze(falling) day %v = %+v; want never negative", d.Day, d)
		}
	}
	if f.TotalLower95.Micros < 0 {
		t.Errorf("Analyze(falling) total lower bound = %v; want >= 0", f.TotalLower95)
	}
}

func TestAnalyzeTopSeries(t *testing.T) {
	b := NewBuilder(Options{TopAccounts: 2, TopServices: 3})
	for i := range 30 {
		d := monday.AddDate(0, 0, i)
		for acct, f := range map[string]float64{"small": 1, "mid": 2, "big": 3} {
			for svc, g := range map[string]float64{"x": 1, "y": 2} {
				b.Add(costRow(d, domain.AWS, acct, svc, "r", f*g))
			}
		}
	}
	res, err := b.Analyze(monday.AddDate(0, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Forecasts {
		if f.HorizonDays == 30 {
			got = append(got, string(f.Key.Level)+":"+f.Key.Account+"/"+f.Key.Service)
		}
	}
	want := []string{"cloud:/", "account:big/", "account:mid/", "service:big/y", "service:mid/y", "service:big/x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Analyze(...) forecast keys mismatch (-want +got):\n%s", diff)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	b := NewBuilder(Options{Horizons: []int{30, 0}})
	if _, err := b.Analyze(monday); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Analyze(horizon 0) = %v; want an error wrapping %v", err, domain.ErrInvalid)
	}
	b = NewBuilder(Options{})
	if _, err := b.Analyze(time.Time{}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Analyze(zero time) = %v; want an error wrapping %v", err, domain.ErrInvalid)
	}
	res, err := b.Analyze(monday)
	if err != nil || len(res.Forecasts)+len(res.Anomalies)+len(res.Skipped)+len(res.Currencies) != 0 {
		t.Errorf("Analyze(empty) = %+v, %v; want an empty result", res, err)
	}
}

func TestResultJSON(t *testing.T) {
	y, _ := trendSeries(4, 17, 0, 100, 0, 1, 5) // no backtest: MAPE nil
	b, asOf := builderOf(Options{Horizons: []int{7}}, monday, y)
	res, err := b.Analyze(asOf)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("json.Marshal(Analyze(...)) = %v", err)
	}
	for _, want := range []string{`"mape":null`, `"horizon_days":7`, `"as_of":"2025-01-23T00:00:00Z"`, `"level":"cloud"`, `"total_upper95":{"micros":`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("json.Marshal(Analyze(...)) = %s; want it to contain %s", out, want)
		}
	}
}

func BenchmarkAnalyze(b *testing.B) {
	// 1,000 account×service series (40 accounts, 3 clouds) × 400 days.
	const series, days = 1000, 400
	bl := NewBuilder(Options{})
	for s := range series {
		y, _ := trendSeries(uint64(s), days, 0, 50+float64(s%17)*10, 0.05, 0.2, 3)
		acct := "acct-" + string(rune('A'+s%40))
		svc := "svc-" + string(rune('A'+s/40))
		for i, v := range y {
			bl.Add(costRow(monday.AddDate(0, 0, i), domain.Clouds[s%3], acct, svc, "r", math.Max(v, 0)))
		}
	}
	asOf := monday.AddDate(0, 0, days)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bl.Analyze(asOf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRegimeStart(t *testing.T) {
	const n, s = 90, 50
	gen := func(f func(i int) float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = f(i)
		}
		return y
	}
	noisy, _ := trendSeries(8, n, 0, 500, 0, 1, 25)
	tests := []struct {
		name   string
		y      []float64
		lo, hi int // want lo <= start <= hi
	}{
		{"step down with a weekly pattern", gen(func(i int) float64 {
			if i < s {
				return 100 + weekly[i%7]/4
			}
			return 40 + weekly[i%7]/10
		}), s, s + 3},
		{"step up from zero (a new workload)", gen(func(i int) float64 {
			if i < s {
				return 0
			}
			return 70
		}), s, s + 3},
		{"two one-day spikes are no shift", gen(func(i int) float64 {
			if i == s || i == s+20 {
				return 900
			}
			return 100 + weekly[i%7]/4
		}), 0, 0},
		{"a steady trend is no shift", gen(func(i int) float64 { return 100 + 2*float64(i) + weekly[i%7]/4 }), 0, 0},
		{"noise with a weekly pattern is no shift", noisy, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := regimeStart(tt.y); got < tt.lo || got > tt.hi {
				t.Errorf("regimeStart(%s) = %d; want %d..%d", tt.name, got, tt.lo, tt.hi)
			}
		})
	}
}
