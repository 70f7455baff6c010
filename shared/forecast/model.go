package forecast

import "math"

// The model.
//
// Cloud spend is mostly a level that moves in steps (resources launched
// or stopped, commitments bought), a slow trend and a weekly pattern
// (workdays against weekends). Additive Holt-Winters with a damped trend
// and period 7 fits that shape:
//
//   - the level adapts to a step instead of reading it as a slope, which
//     a regression line over the history would do and then extrapolate;
//   - the weekly seasonals adapt as the pattern drifts;
//   - damping (phi < 1, always: the grid stops at 0.98) keeps a trend
//     learned from a few weeks from being extrapolated linearly 90 days
//     out. With phi = 1 the one-step fit often picked an undamped trend
//     right after a step, and the 90-day intervals, whose variance then
//     grows with the cube of the horizon, became useless;
//   - additive, not multiplicative, because spend series have zero days.
//
// Parameters are the ones with the smallest one-step-ahead SSE over a
// small grid (5 alphas × 4 betas × 3 gammas × 3 phis = 180). This is
// deterministic, needs no optimiser, and is cheap: one pass per
// combination, abandoned as soon as it is worse than the best so far. The state starts from a robust
// fit of a line plus weekday effects over the first four weeks, and the
// model sees only the days since the last level shift (see
// regimeStart).
//
// The one-step residual variance sigma² grows with the horizon by the
// state-space formula of the error-correction form (Hyndman et al.,
// Forecasting with Exponential Smoothing, class 1/2 models):
// var(h) = sigma² (1 + sum_{j<h} c_j²), c_j = alpha (1 + beta phi_j) +
// gamma [j mod 7 = 0], which never decreases with h. Because the
// formula trusts the model, the interval multipliers are calibrated on
// the backtest: the 80% and 95% quantiles of |error|/sd over the
// backtest days up to the horizon (when there are at least 20), never
// below the Gaussian 1.28 and 1.96.

// Params are the smoothing parameters of a Holt-Winters forecast in the
// error-correction form: level += alpha e, trend = phi trend + alpha beta e,
// season += gamma e, where e is the one-step error.
type Params struct {
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	Gamma float64 `json:"gamma"`
	Phi   float64 `json:"phi"`
}

var (
	gridAlpha = []float64{0.05, 0.1, 0.2, 0.4, 0.7}
	gridBeta  = []float64{0, 0.03, 0.1, 0.25}
	gridGamma = []float64{0.02, 0.1, 0.3}
	gridPhi   = []float64{0.8, 0.9, 0.98}
)

const (
	period = 7
	// minHistory is the shortest history forecast by Holt-Winters;
	// minFlatHistory the shortest forecast at all.
	minHistory     = 14
	minFlatHistory = 7
	// flatAlpha is the level drift assumed by the short-history model
	// when widening its intervals.
	flatAlpha = 0.2
	z80       = 1.2815515655446004
	z95       = 1.959963984540054
)

// model is a fitted state ready to forecast from the day after its n
// observations.
type model struct {
	p      Params
	level  float64
	trend  float64
	season [period]float64
	n      int
	sigma  float64
}

// initState estimates the starting state robustly from the first whole
// weeks (at most four) of y, len(y) >= 14, so that one odd day does not
// end up in a seasonal for ever: the trend is the median of the slopes
// between the weekly medians (Theil-Sen), the level the median of the
// weekly medians moved back to day 0 along it, and the effect of a
// weekday the median of its residuals from that line, centred to sum to
// zero. The median of a whole week does not depend on the weekly
// pattern, which is why weeks are the unit.
func initState(y []float64) (level, trend float64, season [period]float64) {
	weeks := min(4, len(y)/period)
	var wmed [4]float64
	var buf [period]float64
	for w := range weeks {
		copy(buf[:], y[w*period:(w+1)*period])
		wmed[w] = median(buf[:])
	}
	var slopes, levels []float64
	for i := range weeks {
		for j := i + 1; j < weeks; j++ {
			slopes = append(slopes, (wmed[j]-wmed[i])/float64(period*(j-i)))
		}
	}
	b := median(slopes)
	center := float64(period-1) / 2
	for w := range weeks {
		levels = append(levels, wmed[w]-b*(float64(w*period)+center))
	}
	a := median(levels)
	var res [4]float64
	mean := 0.0
	for d := range period {
		for w := range weeks {
			t := w*period + d
			res[w] = y[t] - (a + b*float64(t))
		}
		season[d] = median(res[:weeks])
		mean += season[d] / period
	}
	for d := range period {
		season[d] -= mean
	}
	a += mean
	// The state before day 0, so that day 0 is forecast as a + s_0.
	return a - b, b, season
}

// Level shifts.
//
// Spend often moves to a new level for good (a workload launched or shut
// down). History from before the move would make the model forecast a
// mix of the two levels and, through its errors, inflate the intervals
// and the backtest. So the model is trained on the current regime only:
// the days from the last level shift on. A shift at day t is a
// difference between the median of the 7 days from t and the median of
// the 7 days before it that is both an outlier among all such
// differences (more than shiftZ robust standard deviations from their
// median) and large (at least shiftRel of the larger of the two
// medians). Medians of whole weeks ignore the weekly pattern and a
// spike of one or two days; a trend shows as a constant difference and
// is not a shift. The last t that qualifies is the start: for a clean
// step at s the qualifying days run from about s-3 to s+3, so a few
// days of the new level are given up for certainty.
const (
	shiftZ   = 5
	shiftRel = 0.25
)

// regimeStart returns the index of y where the current regime starts,
// 0 when no level shift is found. At least 7 days always follow it.
func regimeStart(y []float64) int {
	n := len(y)
	if n < 2*period {
		return 0
	}
	diffs := make([]float64, 0, n-2*period+1)
	rel := make([]float64, 0, n-2*period+1)
	var buf [period]float64
	for t := period; t <= n-period; t++ {
		copy(buf[:], y[t-period:t])
		before := median(buf[:])
		copy(buf[:], y[t:t+period])
		after := median(buf[:])
		diffs = append(diffs, after-before)
		rel = append(rel, max(math.Abs(before), math.Abs(after)))
	}
	scratch := append([]float64(nil), diffs...)
	med := median(scratch)
	sigma := madSigma(scratch)
	for i := len(diffs) - 1; i >= 0; i-- {
		d := diffs[i]
		if d != 0 && math.Abs(d-med) > shiftZ*sigma && math.Abs(d) >= shiftRel*rel[i] {
			return i + period
		}
	}
	return 0
}

// run filters y with p from the given start state and returns the SSE of
// the one-step errors and the final state. It stops early, returning an
// SSE above bound, once the SSE exceeds bound.
func run(y []float64, p Params, level, trend float64, season [period]float64, bound float64) (sse, l, b float64, s [period]float64) {
	l, b, s = level, trend, season
	ab := p.Alpha * p.Beta
	j := 0
	for _, v := range y {
		pred := l + p.Phi*b + s[j]
		e := v - pred
		sse += e * e
		if sse > bound {
			return sse, l, b, s
		}
		l = pred - s[j] + p.Alpha*e
		b = p.Phi*b + ab*e
		s[j] += p.Gamma * e
		j++
		if j == period {
			j = 0
		}
	}
	return sse, l, b, s
}

// fit chooses the parameters with the smallest one-step SSE on y
// (len(y) >= minHistory) and returns the fitted model.
func fit(y []float64) model {
	l0, b0, s0 := initState(y)
	best := math.Inf(1)
	var bp Params
	for _, a := range gridAlpha {
		for _, be := range gridBeta {
			for _, g := range gridGamma {
				for _, ph := range gridPhi {
					p := Params{Alpha: a, Beta: be, Gamma: g, Phi: ph}
					sse, _, _, _ := run(y, p, l0, b0, s0, best)
					if sse < best {
						best, bp = sse, p
					}
				}
			}
		}
	}
	if math.IsInf(best, 1) {
		// Every combination overflowed: fall back to the first one.
		bp = Params{Alpha: gridAlpha[0], Beta: gridBeta[0], Gamma: gridGamma[0], Phi: gridPhi[0]}
	}
	sse, l, b, s := run(y, bp, l0, b0, s0, math.Inf(1))
	// Rotate so that season[0] belongs to the day after the last one.
	var rot [period]float64
	for k := range period {
		rot[k] = s[(len(y)+k)%period]
	}
	return model{p: bp, level: l, trend: b, season: rot, n: len(y), sigma: math.Sqrt(sse / float64(len(y)))}
}

// fitFlat is the model for 7 to 13 days of history: the mean plus the
// mean deviation of each weekday, with the sample standard deviation of
// the history (weekday effects not removed, to be conservative) as the
// one-step error and a level drift of flatAlpha widening the intervals.
func fitFlat(y []float64) model {
	n := float64(len(y))
	mean := 0.0
	for _, v := range y {
		mean += v / n
	}
	var sum [period]float64
	var cnt [period]int
	ss := 0.0
	for t, v := range y {
		sum[t%period] += v
		cnt[t%period]++
		ss += (v - mean) * (v - mean)
	}
	m := model{p: Params{Alpha: flatAlpha, Phi: 1}, level: mean, n: len(y), sigma: math.Sqrt(ss / (n - 1))}
	for k := range period {
		w := (len(y) + k) % period
		m.season[k] = sum[w]/float64(cnt[w]) - mean
	}
	return m
}

// predict returns the point forecasts and their standard deviations for
// the next h days.
func (m *model) predict(h int) (mean, sd []float64) {
	mean = make([]float64, h)
	sd = make([]float64, h)
	c := m.p.growth(h)
	phiK, phiPow := 0.0, 1.0
	v := 1.0
	for k := range h {
		phiPow *= m.p.Phi
		phiK += phiPow
		mean[k] = m.level + phiK*m.trend + m.season[k%period]
		if k > 0 {
			v += c[k] * c[k]
		}
		sd[k] = m.sigma * math.Sqrt(v)
	}
	return mean, sd
}

// totalSD returns the standard deviation of the sum of the next h days:
// the sum of errors is sum_i e_{n+i} (1 + C_{h-i}), C_j = c_1+...+c_j.
func (m *model) totalSD(h int) float64 {
	c := m.p.growth(h)
	v, cum := 0.0, 0.0
	for i := range h {
		if i > 0 {
			cum += c[i]
		}
		v += (1 + cum) * (1 + cum)
	}
	return m.sigma * math.Sqrt(v)
}

// growth returns c_j for j = 0..h-1 (c_0 unused): how much of a one-step
// error j days back is still in the forecast.
func (p Params) growth(h int) []float64 {
	c := make([]float64, h)
	phiJ, phiPow := 0.0, 1.0
	for j := 1; j < h; j++ {
		phiPow *= p.Phi
		phiJ += phiPow
		c[j] = p.Alpha * (1 + p.Beta*phiJ)
		if j%period == 0 {
			c[j] += p.Gamma
		}
	}
	return c
}

// btPoint is one day forecast in the backtest.
type btPoint struct {
	step   int // 1 = the day after the origin
	actual float64
	pred   float64 // clipped like the reported forecast
	sd     float64
}

const (
	btEvery   = 7
	btOrigins = 8
)

// backtest refits the model at origins every 7 days over the last up to
// 8 weeks of y (n-7, n-14, ..., each with at least minHistory days of
// training) and forecasts min(maxH, remaining) days from each.
func backtest(y []float64, maxH int, clip bool) (origins int, pts []btPoint) {
	n := len(y)
	for k := 1; k <= btOrigins; k++ {
		o := n - btEvery*k
		if o < minHistory {
			break
		}
		m := fit(y[:o])
		h := min(maxH, n-o)
		mean, sd := m.predict(h)
		for i := range h {
			p := mean[i]
			if clip {
				p = max(p, 0)
			}
			pts = append(pts, btPoint{step: i + 1, actual: y[o+i], pred: p, sd: sd[i]})
		}
		origins++
	}
	return origins, pts
}

// mapeThreshold is the share of the series mean below which a backtest
// day is left out of the MAPE: percentage errors on days with almost no
// spend are huge and say nothing about the spend that matters.
const mapeThreshold = 0.01

// score summarises the backtest points up to step h: the MAPE (mean
// absolute percentage error as a fraction) over the days whose actual is
// positive and above 1% of the series mean, the number of such days,
// and the interval multipliers.
func score(pts []btPoint, h int, seriesMean float64) (mape float64, days int, m80, m95 float64) {
	thr := mapeThreshold * math.Abs(seriesMean)
	var sum float64
	var cnt int
	var zs []float64
	for _, p := range pts {
		if p.step > h {
			continue
		}
		if p.actual > 0 && p.actual > thr {
			sum += math.Abs(p.actual-p.pred) / p.actual
			cnt++
		}
		if p.sd > 0 {
			zs = append(zs, math.Abs(p.actual-p.pred)/p.sd)
		}
	}
	m80, m95 = z80, z95
	const minZ = 20
	if len(zs) >= minZ {
		m80 = max(m80, quantile(zs, 0.8))
		m95 = max(m95, quantile(zs, 0.95), m80)
	}
	if cnt == 0 {
		return 0, 0, m80, m95
	}
	return sum / float64(cnt), cnt, m80, m95
}
