package simcloud

import (
	_ "embed" // the traces
	"math"
	"sync"
	"time"
	_ "time/tzdata" // working hours need the region's time zone wherever the binary runs

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var loadZones = sync.OnceValue(func() []*time.Location {
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		loc, err := time.LoadLocation(z.name)
		if err != nil {
			loc = time.UTC
		}
		locs[i] = loc
	}
	return locs
})

// vmView is what computing one VM's series needs, copied under the lock.
type vmView struct {
	id       string
	p        *vmParams // immutable after New
	created  int64     // first absolute hour with data
	hist     []span
	state    string
	sku      string
	factors  []skuFactor // CPU and memory scale after a resize
	nowHour  int64       // first absolute hour with no data yet
	histFrom int64       // first absolute hour retained
}

type skuFactor struct {
	sku      string
	cpu, mem float32
}

// splitmix64 is the hash behind every per-hour random choice, so that a
// point's value depends only on the VM and the hour, whatever the window.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func unit(seed uint64, h int64, salt uint64) float64 {
	return float64(splitmix64(seed^uint64(h)*0x2545f4914f6cdd1d^salt)>>11) / (1 << 53)
}

// working reports whether absolute hour h is in working hours (Mon-Fri
// 08:00-19:00) at the given UTC offset in seconds.
func working(h int64, offset int) bool {
	local := h*3600 + int64(offset)
	day := floorDiv(local, 86400)
	wd := (day + 4) % 7 // 1970-01-01 was a Thursday; Sunday is 0
	if wd < 0 {
		wd += 7
	}
	hour := (local - day*86400) / 3600
	return wd >= 1 && wd <= 5 && hour >= 8 && hour < 19
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// offsets returns a function giving the UTC offset of hour h in loc,
// computed once when the range [from, to) has no transition.
func offsets(loc *time.Location, from, to int64) func(int64) int {
	_, a := time.Unix(from*3600, 0).In(loc).Zone()
	_, b := time.Unix(to*3600, 0).In(loc).Zone()
	if a == b {
		return func(int64) int { return a }
	}
	return func(h int64) int {
		_, o := time.Unix(h*3600, 0).In(loc).Zone()
		return o
	}
}

// raw is the unscaled CPU of a VM at absolute hour h and whether it is in
// its busy hours; NaN when the trace has no sample.
func (p *vmParams) raw(tr *hourlyTrace, h int64, off func(int64) int) (u float64, busy bool) {
	n := int64(len(tr.cpu))
	v := tr.cpu[((h+int64(p.offset))%n+n)%n]
	if domain.IsMissing(v) {
		return math.NaN(), false
	}
	noise := 0.9 + 0.2*unit(p.seed, h, 1)
	if p.arch == archNonProd && !working(h, off(h)) {
		return float64(p.idleLevel) * noise, false
	}
	return (float64(v) + 0.05) * noise, true
}

func (p *vmParams) rawMem(tr *hourlyTrace, h int64) float64 {
	n := int64(len(tr.mem))
	v := tr.mem[((h+int64(p.memOffset))%n+n)%n]
	if domain.IsMissing(v) {
		return math.NaN()
	}
	return (float64(v) + 0.5) * (0.97 + 0.06*unit(p.seed, h, 2))
}

// observed reports whether the VM's monitoring recorded hour h, leaving
// out random gaps and the VM's outage.
func (p *vmParams) observed(h int64) bool {
	if h >= p.outageStart && h < p.outageStart+int64(p.outageLen) {
		return false
	}
	return unit(p.seed, h, 3) >= float64(p.gapRate)
}

// scales returns the factors that put the p95 of the VM's CPU (and
// memory) over its reference window on its targets. The reference window
// (the VM's observed hours of the history window at the estate's
// creation) is fixed when the estate is made, so later calls, mutations
// and clock changes never rescale the past.
func (p *vmParams) scales(ts *traceSet, refHour int64, scratch []float64) (cpu, mem float64, _ []float64) {
	tr := &ts.all[p.trace]
	loc := loadZones()[p.tz]
	off := offsets(loc, p.refStart, refHour)
	scratch = scratch[:0]
	n := 0
	for h := p.refStart; h < refHour; h++ {
		if !p.observed(h) {
			continue
		}
		u, busy := p.raw(tr, h, off)
		if math.IsNaN(u) {
			continue
		}
		n++
		if busy {
			scratch = append(scratch, u)
		}
	}
	cpu = 1
	if n > 0 && len(scratch) > 0 {
		// Nearest-rank p95 over all n points is the (n-rank+1)-th largest;
		// busy points dominate the top of a non-production VM's series.
		rank := int(math.Ceil(0.95 * float64(n)))
		k := min(n-rank, len(scratch)-1)
		v := nthLargest(scratch, k)
		if v > 0 {
			cpu = float64(p.cpuTarget) / v
		}
	}
	mem = 1
	if p.memTrace >= 0 {
		mt := &ts.all[p.memTrace]
		scratch = scratch[:0]
		for h := p.refStart; h < refHour; h++ {
			if !p.observed(h) {
				continue
			}
			if u := p.rawMem(mt, h); !math.IsNaN(u) {
				scratch = append(scratch, u)
			}
		}
		if len(scratch) > 0 {
			rank := int(math.Ceil(0.95 * float64(len(scratch))))
			if v := nthLargest(scratch, len(scratch)-rank); v > 0 {
				mem = float64(p.memTarget) / v
			}
		}
	}
	return cpu, mem, scratch
}

// nthLargest returns the k-th largest (0-based) value of a, reordering a.
func nthLargest(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// median of three as the pivot
		if a[mid] > a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] > a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[mid] > a[hi] {
			a[mid], a[hi] = a[hi], a[mid]
		}
		pivot := a[hi]
		i, j := lo, hi
		for i <= j {
			for a[i] > pivot {
				i++
			}
			for a[j] < pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// running reports the state and SKU of the VM at absolute hour h.
func (v *vmView) at(h int64) (running bool, sku string) {
	t := time.Unix(h*3600, 0)
	for _, s := range v.hist {
		if t.Before(s.until) {
			return s.state == domain.StateRunning, s.sku
		}
	}
	return v.state == domain.StateRunning, v.sku
}

func (v *vmView) factor(sku string) (cpu, mem float32) {
	for _, f := range v.factors {
		if f.sku == sku {
			return f.cpu, f.mem
		}
	}
	return 1, 1
}

// diskSeries derives the disk read and write throughput of a VM with
// attached disks (bytes/s) from
// its CPU series: disk work follows compute work. Each VM has its own
// throughput at full CPU, from 2 to 200 MB/s with most below 60, and its
// own share of reads; both come from its seed, so they never change.
func (v *vmView) diskSeries(cpu domain.Series) (read, write domain.Series) {
	u := unit(v.p.seed, 0, 7)
	peak := 2e6 + 198e6*u*u*u // bytes/s at 100 % CPU
	readShare := 0.3 + 0.5*unit(v.p.seed, 0, 8)
	read = domain.Series{ResourceID: v.id, Metric: domain.MetricDiskRead, Start: cpu.Start, Step: cpu.Step, Values: make([]float32, len(cpu.Values))}
	write = domain.Series{ResourceID: v.id, Metric: domain.MetricDiskWrite, Start: cpu.Start, Step: cpu.Step, Values: make([]float32, len(cpu.Values))}
	for i, c := range cpu.Values {
		if domain.IsMissing(c) {
			read.Values[i], write.Values[i] = domain.Missing, domain.Missing
			continue
		}
		bps := float64(c) / 100 * peak
		read.Values[i] = float32(bps * readShare)
		write.Values[i] = float32(bps * (1 - readShare))
	}
	return read, write
}

// series computes the VM's CPU series and, when it runs a memory agent,
// its memory series: hourly points from start, n steps of step hours.
func (v *vmView) series(ts *traceSet, refHour int64, start int64, n int, stepHours int, scratch []float64) (domain.Series, *domain.Series, []float64) {
	p := v.p
	cpuScale, memScale, scratch := p.scales(ts, refHour, scratch)
	tr := &ts.all[p.trace]
	var mt *hourlyTrace
	if p.memTrace >= 0 {
		mt = &ts.all[p.memTrace]
	}
	off := offsets(loadZones()[p.tz], start, start+int64(n*stepHours))
	step := time.Duration(stepHours) * time.Hour
	cpu := domain.Series{ResourceID: v.id, Metric: domain.MetricCPU, Start: time.Unix(start*3600, 0).UTC(), Step: step,
		Values: make([]float32, n)}
	var mem *domain.Series
	if mt != nil {
		mem = &domain.Series{ResourceID: v.id, Metric: domain.MetricMemory, Start: cpu.Start, Step: step, Values: make([]float32, n)}
	}
	for i := range n {
		var cs, ms float64
		var cn, mn int
		for j := range stepHours {
			h := start + int64(i*stepHours+j)
			if h < v.created || h < v.histFrom || h >= v.nowHour {
				continue
			}
			if !p.observed(h) {
				continue
			}
			run, sku := v.at(h)
			if !run {
				continue
			}
			fc, fm := float32(1), float32(1)
			if len(v.factors) > 0 {
				fc, fm = v.factor(sku)
			}
			if u, busy := p.raw(tr, h, off); !math.IsNaN(u) {
				if busy {
					u *= cpuScale
				}
				cs += min(100, u*float64(fc))
				cn++
			}
			if mt != nil {
				if u := p.rawMem(mt, h); !math.IsNaN(u) {
					ms += min(100, u*memScale*float64(fm))
					mn++
				}
			}
		}
		cpu.Values[i] = domain.Missing
		if cn > 0 {
			cpu.Values[i] = float32(cs / float64(cn))
		}
		if mem != nil {
			mem.Values[i] = domain.Missing
			if mn > 0 {
				mem.Values[i] = float32(ms / float64(mn))
			}
		}
	}
	return cpu, mem, scratch
}
