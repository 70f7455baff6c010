package optimize

import (
	"math"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize/offhours"
)

// maxDays bounds the daily peaks kept per VM; a longer window keeps its
// last maxDays days.
const maxDays = 62

const day = 24 * time.Hour

// vmUsage is what the optimizer keeps of a VM's utilization series:
// statistics at the policy's percentiles and the daily CPU peaks, never
// the series itself.
type vmUsage struct {
	cpu, mem       domain.Stats
	hasCPU, hasMem bool
	cpuTotal       int // points in the CPU series, observed or not
	cpuAtRightsize float64
	cpuAtIdle      float64
	memAtRightsize float64
	run            runHours // the hours the CPU series shows it running
	// window is the weekly running window the CPU series shows, for VMs
	// that may get a schedule; windowWhy says why there is none.
	window    *offhours.Window
	windowWhy string
	// cpuPrior and memPrior are the rightsizing percentiles on the
	// windows earlier runs saw: the series cut off one, two, ...
	// run intervals before its end (index 0 is one interval earlier).
	cpuPrior, memPrior []priorStat
	start, end         time.Time // the CPU series' window
	peaks              []float32 // daily CPU peaks; -1 marks a day without data
	duplicateSeries    bool

	// Disk throughput in bytes/s at p99: read and write are separate
	// series, and their p99s add up to an upper bound of the total.
	disk                      domain.Stats // Hours: the shorter of the two series
	hasDisk                   bool
	diskReadP99, diskWriteP99 float64
	diskAtP99                 float64
}

// priorStat is a percentile over the part of a series an earlier run saw.
type priorStat struct {
	hours float64 // observed hours in that part
	at    float64 // the percentile; NaN without data
}

// priorStats returns the percentile q over the series cut off k run
// intervals before its end, for k = 1 .. runs-1. buf is reused.
func priorStats(s domain.Series, runs int, interval time.Duration, q float64, dst []priorStat, buf []float64) ([]priorStat, []float64) {
	dst = dst[:0]
	if s.Step <= 0 {
		return dst, buf
	}
	for k := 1; k < runs; k++ {
		n := len(s.Values) - int(time.Duration(k)*interval/s.Step)
		buf = buf[:0]
		for _, v := range s.Values[:max(n, 0)] {
			if !domain.IsMissing(v) {
				buf = append(buf, float64(v))
			}
		}
		slices.Sort(buf)
		dst = append(dst, priorStat{hours: float64(len(buf)) * s.Step.Hours(), at: domain.Percentile(buf, q)})
	}
	return dst, buf
}

// add folds s into u. A second series of the same metric replaces the
// first only when it has more observed points: percentiles cannot be
// merged, and a resource has one series per metric in a snapshot.
func (u *vmUsage) add(s domain.Series, pol *domain.Policy, scratch []float64) []float64 {
	var st domain.Stats
	st, scratch = domain.Summarize(s, scratch)
	switch s.Metric {
	case domain.MetricCPU:
		if u.hasCPU {
			u.duplicateSeries = true
			if st.Points <= u.cpu.Points {
				return scratch
			}
		}
		u.hasCPU = true
		u.cpu = st
		u.cpuTotal = len(s.Values)
		u.cpuAtRightsize = domain.Percentile(scratch, pol.Rightsize.CPUPercentile)
		u.cpuAtIdle = domain.Percentile(scratch, pol.Idle.CPUPercentile)
		u.cpuPrior, scratch = priorStats(s, pol.Rightsize.StableRuns, runInterval(pol), pol.Rightsize.CPUPercentile, u.cpuPrior, scratch)
		u.start, u.end = s.Start, s.End()
		u.run.set(s)
		u.peaks = dailyPeaks(s, u.peaks[:0])
	case domain.MetricDiskRead, domain.MetricDiskWrite:
		p99 := domain.Percentile(scratch, 99)
		if st.Points == 0 || math.IsNaN(p99) {
			return scratch
		}
		if s.Metric == domain.MetricDiskRead {
			u.diskReadP99 = p99
		} else {
			u.diskWriteP99 = p99
		}
		if !u.hasDisk || st.Hours < u.disk.Hours {
			u.disk = st
		}
		u.hasDisk = true
		u.diskAtP99 = u.diskReadP99 + u.diskWriteP99
	case domain.MetricMemory:
		if u.hasMem {
			u.duplicateSeries = true
			if st.Points <= u.mem.Points {
				return scratch
			}
		}
		u.hasMem = true
		u.mem = st
		u.memAtRightsize = domain.Percentile(scratch, pol.Rightsize.MemoryPercentile)
		u.memPrior, scratch = priorStats(s, pol.Rightsize.StableRuns, runInterval(pol), pol.Rightsize.MemoryPercentile, u.memPrior, scratch)
	}
	return scratch
}

// runInterval returns the policy's time between two optimizer runs.
func runInterval(pol *domain.Policy) time.Duration {
	return time.Duration(pol.Rightsize.RunIntervalHours * float64(time.Hour))
}

// cpuHours returns the observed CPU hours.
func (u *vmUsage) cpuHours() float64 {
	if u == nil || !u.hasCPU {
		return 0
	}
	return u.cpu.Hours
}

// memoryMeasured reports whether u has a memory metric to size by: at
// least minHours of it, and not 0 % throughout, which is a broken agent
// rather than an empty VM.
func (u *vmUsage) memoryMeasured(minHours float64) bool {
	return u != nil && u.hasMem && u.mem.Hours >= minHours && u.mem.Max > 0 && !math.IsNaN(u.memAtRightsize)
}

// measuredDisk reports whether u has at least minHours of disk
// throughput data.
func (u *vmUsage) measuredDisk(minHours float64) bool {
	return u != nil && u.hasDisk && u.disk.Hours >= minHours
}

// coverage grades the CPU data from 0 to 1: the observed share of the
// window, scaled down when the window is shorter than a week (a week
// shows the weekly cycle).
func (u *vmUsage) coverage() float64 {
	if u == nil || !u.hasCPU || u.cpuTotal == 0 {
		return 0
	}
	observed := float64(u.cpu.Points) / float64(u.cpuTotal)
	return observed * math.Min(1, u.cpu.Hours/(7*24))
}

// dailyPeaks returns the highest value of each UTC day of s in dst,
// -1 for days without an observed point.
func dailyPeaks(s domain.Series, dst []float32) []float32 {
	if len(s.Values) == 0 {
		return dst[:0]
	}
	day0 := s.Start.UTC().Truncate(day)
	n := int((s.End().Sub(day0) + day - 1) / day)
	skip := 0
	if n > maxDays {
		skip = n - maxDays
		n = maxDays
	}
	dst = dst[:0]
	for range n {
		dst = append(dst, -1)
	}
	offset := s.Start.Sub(day0)
	for i, v := range s.Values {
		if domain.IsMissing(v) {
			continue
		}
		d := int((offset+time.Duration(i)*s.Step)/day) - skip
		if d >= 0 && d < n && v > dst[d] {
			dst[d] = v
		}
	}
	return dst
}

// round2 rounds v to two decimals for evidence meant for people.
func round2(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	return math.Round(v*100) / 100
}

// evidenceStats returns st rounded for the plan.
func evidenceStats(st domain.Stats) *domain.Stats {
	return &domain.Stats{
		Points: st.Points,
		Hours:  round2(st.Hours),
		Mean:   round2(st.Mean),
		Max:    round2(st.Max),
		P50:    round2(st.P50),
		P95:    round2(st.P95),
		P99:    round2(st.P99),
	}
}

// evidencePeaks returns the daily peaks for the plan.
func evidencePeaks(peaks []float32) []float64 {
	if len(peaks) == 0 {
		return nil
	}
	out := make([]float64, len(peaks))
	for i, v := range peaks {
		out[i] = round2(float64(v))
	}
	return out
}
