package optimize

import (
	"math"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// maxDays bounds the daily peaks kept per VM; a longer window keeps its
// last maxDays days.
const maxDays = 62

const day = 24 * time.Hour

// vmUsage is what the optimizer keeps of a VM's utilization series:
// statistics at the policy's percentiles and the daily CPU peaks, never
// the series itself.
type vmUsage struct {
	cpu, mem        domain.Stats
	hasCPU, hasMem  bool
	cpuTotal        int // points in the CPU series, observed or not
	cpuAtRightsize  float64
	cpuAtIdle       float64
	memAtRightsize  float64
	start, end      time.Time // the CPU series' window
	peaks           []float32 // daily CPU peaks; -1 marks a day without data
	duplicateSeries bool
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
		u.start, u.end = s.Start, s.End()
		u.peaks = dailyPeaks(s, u.peaks[:0])
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
	}
	return scratch
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
