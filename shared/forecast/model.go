package forecast

import (
	"math"
	"slices"
)

// The model.
//
// Cloud spend is mostly a level that moves in steps (resources launched
// or stopped, commitments bought), a slow trend and a weekly pattern
// (workdays against weekends), with the odd one-day spike. Additive
// Holt-Winters with a damped trend and period 7 fits that shape:
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
// small grid (5 alphas × 4 betas × 3 gammas × 3 phis, less the
// combinations whose gain exceeds maxGain: 159 of 180). This is
// deterministic, needs no optimiser, and is cheap: one pass per
// combination, abandoned as soon as it is worse than the best so far.
// The state starts from a robust fit of a line plus weekday effects
// over the first four weeks, and the model sees only the days since the
// last level shift (see regimeStart), with its spikes cleaned (see
// Outliers).
//
// Gain. c_j below, the share of a one-step error still in the forecast
// j days later, tends to the gain alpha (1 + beta phi / (1 - phi)). A
// gain above 1 moves the forecasts of the coming months by more than a
// one-day surprise: with alpha 0.7, beta 0.25 and phi 0.98 it is 9.3,
// and a week of new VMs (30 to 50 a day) was extrapolated to 115 a day
// over 90 days. The grid keeps the gain at most 1.5, half again the
// surprise, which is what a real trend needs (a steady fall of 3 a day
// under noise of 20 is best fit with a gain of 1.3).
//
// Intervals. sigma is the root mean square one-step error over the
// cleaned history; it grows with the horizon by the state-space formula
// of the error-correction form (Hyndman et al., Forecasting with
// Exponential Smoothing, class 1/2 models): var(h) = sigma² (1 +
// sum_{j<h} c_j²) + spikeVar, c_j = alpha (1 + beta phi_j) + gamma [j
// mod 7 = 0], which never decreases with h; spikeVar is the variance of
// the cleaned spikes, which add to one day and are not carried on. A
// robust (MAD) sigma was tried and rejected: it leaves out the variance
// of level shifts, and in simulations of series with steps the 95%
// interval of 30-day totals then held the actual total 79% of the time
// instead of 90%.
//
// Because the formula trusts the model, the intervals are calibrated on
// the errors the forecasts actually made, always as multiples of the
// reported model's own sd:
//
//   - a day's: the 80% and 95% quantiles of |error| / sd(step) over the
//     backtest days up to the horizon (when there are at least minZ),
//     sd(step) the reported model's sd as many days ahead, never below
//     the Gaussian 1.28 and 1.96 (score);
//   - the total's: totalSD(h) times the largest of 1.96, the 95%
//     quantile over the backtest origins of |sum of the errors of the
//     first k days| / totalSD(k) (totalScale), and the same over the
//     overlapping windows of the whole history (historyScale).
//
// The multipliers used to be the quantiles of |error| / the sd of the
// model refit at each backtest origin, applied to the sd of the
// reported model. After a step at the end of a quiet series (a new VM:
// 133.4 a day to the cent for 80 days, then 146) the origins, fit on
// the quiet days, had an sd of cents, the step was hundreds of those
// sds off, and that multiplier (309) was applied to the reported
// model's sd, whose sigma held the step: a 30-day total of 4,377 with
// a 95% range of 0 to 46,537 after a backtest MAPE of 1.4%. With the
// same sd on both sides of the ratio the model's scale cancels out: the
// interval is as wide as the errors seen, and grows with the horizon as
// the model says.

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
	// grid holds the combinations of the lists above, in their order,
	// whose gain is at most maxGain.
	grid = admissible()
)

// maxGain bounds Params.gain (see The model).
const maxGain = 1.5

// gain returns alpha (1 + beta phi / (1 - phi)), the share of a one-step
// error that the level and the damped trend carry into the forecast of
// a day far ahead: the limit of c_j without its seasonal term.
func (p Params) gain() float64 { return p.Alpha * (1 + p.Beta*p.Phi/(1-p.Phi)) }

func admissible() []Params {
	var out []Params
	for _, a := range gridAlpha {
		for _, be := range gridBeta {
			for _, g := range gridGamma {
				for _, ph := range gridPhi {
					if p := (Params{Alpha: a, Beta: be, Gamma: g, Phi: ph}); p.gain() <= maxGain {
						out = append(out, p)
					}
				}
			}
		}
	}
	return out
}

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
	// spikeMean and spikeVar are the mean and the variance, over all
	// days, of what the spikes cleaned from the history added to their
	// day (0 on the other days): spikes are expected to recur at the
	// same rate, but a spike adds to one day and is not carried on.
	spikeMean, spikeVar float64
	// hist is the history the model was fit on (nil for fitFlat), train
	// the same with its spikes cleaned, and l0, b0, s0 the state it was
	// filtered from; historyScale uses them.
	hist, train []float64
	l0, b0      float64
	s0          [period]float64
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
// SSE above bound, once the SSE exceeds bound. When errs is not nil
// (len(errs) >= len(y)) it receives the one-step errors.
func run(y []float64, p Params, level, trend float64, season [period]float64, bound float64, errs []float64) (sse, l, b float64, s [period]float64) {
	l, b, s = level, trend, season
	ab := p.Alpha * p.Beta
	j := 0
	for t, v := range y {
		pred := l + p.Phi*b + s[j]
		e := v - pred
		if errs != nil {
			errs[t] = e
		}
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

// fit chooses the admissible parameters with the smallest one-step SSE
// on y (len(y) >= minHistory) and returns the fitted model. marks are
// the outlier marks of y (see outliers), or nil for none: the model is
// trained on y with its spikes cleaned, and the parameters are chosen
// without a run of outliers at its end (see Outliers).
func fit(y, marks []float64) model {
	yc, trailing := clean(y, marks)
	sel := len(yc) - trailing
	if sel < minHistory {
		sel = len(yc)
	}
	l0, b0, s0 := initState(yc)
	best := math.Inf(1)
	bp := grid[0] // kept when every combination overflows
	for _, p := range grid {
		sse, _, _, _ := run(yc[:sel], p, l0, b0, s0, best, nil)
		if sse < best {
			best, bp = sse, p
		}
	}
	sse, l, b, s := run(yc, bp, l0, b0, s0, math.Inf(1), nil)
	var spikes, spikes2 float64
	for t, v := range y {
		spikes += v - yc[t]
		spikes2 += (v - yc[t]) * (v - yc[t])
	}
	n := float64(len(yc))
	m := model{
		p: bp, level: l, trend: b, n: len(yc), sigma: math.Sqrt(sse / n),
		spikeMean: spikes / n,
		hist:      y, train: yc, l0: l0, b0: b0, s0: s0,
	}
	m.spikeVar = max(0, spikes2/n-m.spikeMean*m.spikeMean)
	// Rotate so that season[0] belongs to the day after the last one.
	for k := range period {
		m.season[k] = s[(len(yc)+k)%period]
	}
	return m
}

// Outliers.
//
// A one-day spike (a batch job, a burst of NAT traffic, a one-off fee)
// is not a new level, but the filter cannot tell: it moves the level by
// alpha times the spike and the trend by alpha beta times it, which the
// damped trend then carries for weeks (the demo's NAT spike, 4 times a
// day's traffic two days before the end, raised the 30-day forecast of
// its service by half), and a large spike also picks the parameters,
// whose SSE it dominates. So the model is trained without spikes. A day
// is an outlier when it is as far from its expected value as the
// anomaly detector's defaults ask of a spike, in either direction: at
// least outlierZ robust standard deviations and outlierRel of the
// expected value, both from expectedAt, which looks back only; the
// first minBaseline days never are. A run of at most maxSpikeRun
// outliers followed by an ordinary day is a spike, replaced by its
// expected values for training; spikes come back into the forecast as
// their mean and variance per day (spikeMean, spikeVar), at the rate
// they had. A longer run is a new level, or its start, and is kept. So
// is a run of at most maxSpikeRun outliers at the very end, which may be
// a spike or the first days of a new level, as only the next days will
// tell: the filter follows it, so that a new level is not ignored, but
// the parameters are chosen on the days before it, so that one
// unexplained day cannot pick a fast-moving model that extrapolates it
// (a 4-times spike on the last day of a quiet series made the 30-day
// forecast five times too large).
const (
	outlierZ    = 3.5
	outlierRel  = 0.2
	maxSpikeRun = 2
)

// outliers returns for each day of y its expected value when it is an
// outlier and NaN otherwise. The mark of day i depends on y[:i+1] only,
// so the marks of a prefix of y are the prefix of its marks.
func outliers(y []float64) []float64 {
	marks := make([]float64, len(y))
	var scratch []float64
	for i := range y {
		marks[i] = math.NaN()
		if i < minBaseline {
			continue
		}
		var exp, sigma float64
		exp, sigma, scratch = expectedAt(y, i, scratch)
		if d := math.Abs(y[i] - exp); d >= outlierZ*sigmaFloor(sigma, exp) && d >= outlierRel*math.Abs(exp) {
			marks[i] = exp
		}
	}
	return marks
}

// clean returns y with every spike (see Outliers) replaced by its
// expected values, a copy when anything changed, and the length of the
// run of at most maxSpikeRun outliers that ends y (0 when there is
// none). marks may be nil.
func clean(y, marks []float64) (_ []float64, trailing int) {
	copied := false
	for i := 0; i < len(marks); {
		if math.IsNaN(marks[i]) {
			i++
			continue
		}
		j := i
		for j < len(marks) && !math.IsNaN(marks[j]) {
			j++
		}
		switch {
		case j-i > maxSpikeRun:
		case j == len(marks):
			trailing = j - i
		default:
			if !copied {
				y, copied = slices.Clone(y), true
			}
			copy(y[i:j], marks[i:j])
		}
		i = j
	}
	return y, trailing
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
		mean[k] = m.level + phiK*m.trend + m.season[k%period] + m.spikeMean
		if k > 0 {
			v += c[k] * c[k]
		}
		sd[k] = math.Sqrt(m.sigma*m.sigma*v + m.spikeVar)
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
	return math.Sqrt(m.sigma*m.sigma*v + float64(h)*m.spikeVar)
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

// historyScale returns a multiplier of m.totalSD(h) read from the
// model's own history: the filter is run again over it and, from every
// day t from minHistory on, forecasts the total of the next k days, k =
// min(h, the most that leaves minZ such windows); the result is the 95%
// quantile of |actual - forecast| / m.totalSD(k), or 0 when the windows
// would be shorter than a week. Unlike the backtest it sees the whole
// regime, not its last 8 weeks, so that a level shift or spikes in the
// past widen the interval of the total too. The windows overlap and the
// parameters were fit on them, which is why it only ever widens the
// interval.
func (m *model) historyScale(h int, clip bool) float64 {
	n := len(m.train)
	k := min(h, n-minHistory-minZ+1)
	if m.hist == nil || k < period {
		return 0
	}
	sd := m.totalSD(k)
	if sd <= 0 {
		return 0
	}
	cum := make([]float64, n+1)
	for t, v := range m.hist {
		cum[t+1] = cum[t] + v
	}
	phiK := make([]float64, k)
	acc, pow := 0.0, 1.0
	for i := range phiK {
		pow *= m.p.Phi
		acc += pow
		phiK[i] = acc
	}
	p := m.p
	l, b, s := m.l0, m.b0, m.s0
	zs := make([]float64, 0, n-minHistory-k+1)
	j := 0 // the weekday of day t in s
	for t, v := range m.train {
		if t >= minHistory && t+k <= n {
			f := 0.0
			for i, pk := range phiK {
				d := l + pk*b + s[(j+i)%period] + m.spikeMean
				if clip {
					d = max(d, 0)
				}
				f += d
			}
			zs = append(zs, math.Abs(cum[t+k]-cum[t]-f)/sd)
		}
		// One step of run.
		pred := l + p.Phi*b + s[j]
		e := v - pred
		l = pred - s[j] + p.Alpha*e
		b = p.Phi*b + p.Alpha*p.Beta*e
		s[j] += p.Gamma * e
		j = (j + 1) % period
	}
	if len(zs) < minZ {
		return 0
	}
	return quantile(zs, 0.95)
}

// btPoint is one day forecast in the backtest.
type btPoint struct {
	origin int // 0 = the latest origin
	step   int // 1 = the day after the origin
	actual float64
	pred   float64 // clipped like the reported forecast
}

const (
	btEvery   = 7
	btOrigins = 8
)

// backtest refits the model at origins every 7 days over the last up to
// 8 weeks of y (n-7, n-14, ..., each with at least minHistory days of
// training) and forecasts min(maxH, remaining) days from each. marks
// are the outlier marks of y (or nil); each origin sees only its own.
func backtest(y, marks []float64, maxH int, clip bool) (origins int, pts []btPoint) {
	n := len(y)
	for k := 1; k <= btOrigins; k++ {
		o := n - btEvery*k
		if o < minHistory {
			break
		}
		var mk []float64
		if marks != nil {
			mk = marks[:o]
		}
		m := fit(y[:o], mk)
		h := min(maxH, n-o)
		mean, _ := m.predict(h)
		for i := range h {
			p := mean[i]
			if clip {
				p = max(p, 0)
			}
			pts = append(pts, btPoint{origin: k - 1, step: i + 1, actual: y[o+i], pred: p})
		}
		origins++
	}
	return origins, pts
}

// mapeThreshold is the share of the series mean below which a backtest
// day is left out of the MAPE: percentage errors on days with almost no
// spend are huge and say nothing about the spend that matters.
const mapeThreshold = 0.01

// minZ is the number of errors (backtest days, windows of the history)
// from which their quantiles widen an interval.
const minZ = 20

// score summarises the backtest points up to step h: the MAPE (mean
// absolute percentage error as a fraction) over the days whose actual is
// positive and above 1% of the series mean, the number of such days,
// and the multipliers of the daily intervals: the 80% and 95%
// quantiles of |error| / sd[step-1] (when there are at least minZ such
// days), never below the Gaussian z. sd are the standard deviations of
// the reported model's forecasts (not of the model refit at the
// origin, see The model), so that an origin fit on a quiet stretch,
// with an sd of almost nothing, cannot blow the multiplier up.
func score(pts []btPoint, h int, seriesMean float64, sd []float64) (mape float64, days int, m80, m95 float64) {
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
		if p.step <= len(sd) && sd[p.step-1] > 0 {
			zs = append(zs, math.Abs(p.actual-p.pred)/sd[p.step-1])
		}
	}
	m80, m95 = z80, z95
	if len(zs) >= minZ {
		m80 = max(m80, quantile(zs, 0.8))
		m95 = max(m95, quantile(zs, 0.95), m80)
	}
	if cnt == 0 {
		return 0, 0, m80, m95
	}
	return sum / float64(cnt), cnt, m80, m95
}

// totalScale returns the multiplier of m.totalSD(h), m the reported
// model, that gives the 95% interval of the h-day total according to
// the backtest: the 95% quantile over the origins of |sum of the errors
// of the first k days| / m.totalSD(k), k = min(h, the days forecast
// from the origin), never below the Gaussian z. A shorter sum stands
// for the whole horizon through the model's growth of the variance.
func totalScale(pts []btPoint, h int, m *model) float64 {
	var sum [btOrigins]float64
	var cnt [btOrigins]int
	for _, p := range pts {
		if p.step <= h {
			sum[p.origin] += p.actual - p.pred
			cnt[p.origin]++
		}
	}
	var zs []float64
	for o := range btOrigins {
		if cnt[o] == 0 {
			continue
		}
		if s := m.totalSD(cnt[o]); s > 0 {
			zs = append(zs, math.Abs(sum[o])/s)
		}
	}
	if len(zs) == 0 {
		return z95
	}
	return max(z95, quantile(zs, 0.95))
}
