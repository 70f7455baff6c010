package simcloud

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// vmSeries reads every VM's series over the estate's history window.
func vmSeries(t testing.TB, e *Estate) (map[string]domain.Resource, map[string]map[domain.Metric]domain.Series) {
	t.Helper()
	ctx := context.Background()
	vms := map[string]domain.Resource{}
	out := map[string]map[domain.Metric]domain.Series{}
	end := e.Now()
	w := collect.Window{Start: end.Add(-time.Duration(e.days) * 24 * time.Hour), End: end}
	for _, c := range domain.Clouds {
		scopes, _ := e.Cloud(c).Scopes(ctx)
		for _, s := range scopes {
			var ids []string
			e.Cloud(c).Resources(ctx, s, func(rs []domain.Resource) error {
				for _, r := range rs {
					if r.Kind == domain.KindVM {
						ids = append(ids, r.ID)
						vms[r.ID] = r
					}
				}
				return nil
			})
			err := e.Cloud(c).Series(ctx, s, ids, w, time.Hour, func(ser domain.Series) error {
				if out[ser.ResourceID] == nil {
					out[ser.ResourceID] = map[domain.Metric]domain.Series{}
				}
				out[ser.ResourceID][ser.Metric] = ser
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return vms, out
}

func TestSeriesShapeGapsAndCreation(t *testing.T) {
	e := newEstate(t, Config{Seed: 11, Resources: 2000, Now: testNow})
	vms, series := vmSeries(t, e)
	end := testNow.Truncate(time.Hour)
	var withMem, withGaps, withOutage, memArch, memArchWithMem int
	for id, r := range vms {
		m := series[id]
		cpu, ok := m[domain.MetricCPU]
		if !ok {
			t.Errorf("VM %s has no CPU series", id)
			continue
		}
		if err := cpu.Validate(); err != nil {
			t.Errorf("series of %s: %v", id, err)
		}
		if len(cpu.Values) != 14*24 || !cpu.End().Equal(end) || cpu.Step != time.Hour {
			t.Errorf("CPU series of %s: %d points ending %v at step %v; want 336 ending %v hourly", id, len(cpu.Values), cpu.End(), cpu.Step, end)
		}
		if mem, ok := m[domain.MetricMemory]; ok {
			withMem++
			if len(mem.Values) != len(cpu.Values) {
				t.Errorf("memory series of %s has %d points; want %d", id, len(mem.Values), len(cpu.Values))
			}
		}
		if a, _ := e.Archetype(id); a == ArchetypeMemory {
			memArch++
			if _, ok := m[domain.MetricMemory]; ok {
				memArchWithMem++
			}
		}
		gaps, run, longest := 0, 0, 0
		for i, v := range cpu.Values {
			start := cpu.Start.Add(time.Duration(i) * cpu.Step)
			if domain.IsMissing(v) {
				if !start.Before(r.CreatedAt) {
					gaps++
					run++
					longest = max(longest, run)
				}
				continue
			}
			run = 0
			if start.Before(r.CreatedAt) {
				t.Fatalf("VM %s created %v has a point at %v", id, r.CreatedAt, start)
			}
			if v <= 0 || v > 100 {
				t.Fatalf("VM %s: CPU %v at %v; want (0, 100] (gaps are NaN, never zero)", id, v, start)
			}
		}
		if gaps > 0 {
			withGaps++
		}
		if longest >= 4 && r.State == domain.StateRunning {
			withOutage++
		}
	}
	n := len(vms)
	if f := float64(withMem) / float64(n); f < 0.5 || f > 0.75 {
		t.Errorf("%.2f of VMs report memory; want about 0.6", f)
	}
	if memArchWithMem != memArch {
		t.Errorf("%d of %d memory-bound VMs report memory; want all", memArchWithMem, memArch)
	}
	if f := float64(withGaps) / float64(n); f < 0.5 {
		t.Errorf("%.2f of VMs have gaps; want most", f)
	}
	if withOutage == 0 {
		t.Errorf("no running VM has a multi-hour outage")
	}
}

func TestArchetypeBands(t *testing.T) {
	e := newEstate(t, Config{Seed: 12, Resources: 3000, Now: testNow})
	vms, series := vmSeries(t, e)
	var scratch []float64
	checked := map[string]int{}
	for id, r := range vms {
		a, _ := e.Archetype(id)
		var cpu, mem domain.Stats
		cpu, scratch = domain.Summarize(series[id][domain.MetricCPU], scratch)
		if ms, ok := series[id][domain.MetricMemory]; ok {
			mem, scratch = domain.Summarize(ms, scratch)
		}
		switch a {
		case ArchetypeNew:
			if cpu.Hours >= 30 {
				t.Errorf("new VM %s has %v hours of data; want < 30", id, cpu.Hours)
			}
			checked[a]++
			continue
		case ArchetypeStopped:
			last := series[id][domain.MetricCPU].Values
			for _, v := range last[len(last)-48:] {
				if !domain.IsMissing(v) {
					t.Errorf("VM %s stopped days ago has CPU %v in the last two days", id, v)
					break
				}
			}
			checked[a]++
			continue
		}
		if cpu.Hours < 7*24 {
			continue // too little history for a stable percentile
		}
		band := map[string][2]float64{ArchetypeBusy: {40, 80}, ArchetypeOversized: {10, 25}, ArchetypeIdle: {0, 3},
			ArchetypeNonProd: {30, 70}, ArchetypeMemory: {5, 25}}[a]
		if cpu.P95 < band[0] || cpu.P95 > band[1] {
			t.Errorf("%s VM %s: CPU p95 %.2f; want %v..%v", a, id, cpu.P95, band[0], band[1])
		}
		if a == ArchetypeMemory && (mem.P95 < 85 || mem.P95 > 95) {
			t.Errorf("memory-bound VM %s: memory p95 %.2f; want 85..95", id, mem.P95)
		}
		if a == ArchetypeNonProd {
			// Nights and weekends are near idle: the median is low.
			if cpu.P50 > 5 {
				t.Errorf("non-production VM %s: CPU p50 %.2f; want near idle off hours", id, cpu.P50)
			}
		}
		checked[a]++
		_ = r
	}
	for _, a := range archetypeNames {
		if checked[a] == 0 {
			t.Errorf("no %s VM checked", a)
		}
	}
	t.Logf("checked %v", checked)
}

func TestSeriesWindowsAndSteps(t *testing.T) {
	e := newEstate(t, Config{Seed: 2, Resources: 100, Now: testNow})
	ctx := context.Background()
	var vm domain.Resource
	for _, r := range e.Resources() {
		if a, _ := e.Archetype(r.ID); a == ArchetypeBusy && testNow.Sub(r.CreatedAt) > 30*24*time.Hour {
			vm = r
			break
		}
	}
	p := e.Cloud(vm.Cloud)
	scope := collect.Scope{Account: vm.Account, Region: vm.Region}
	get := func(w collect.Window, step time.Duration) domain.Series {
		t.Helper()
		var got domain.Series
		err := p.Series(ctx, scope, []string{vm.ID}, w, step, func(s domain.Series) error {
			if s.Metric == domain.MetricCPU {
				got = s
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Series(%v, %v) = %v", w, step, err)
		}
		return got
	}
	full := get(collect.Window{Start: testNow.Add(-14 * 24 * time.Hour), End: testNow}, time.Hour)
	// A sub-window sees exactly the same points.
	sub := get(collect.Window{Start: testNow.Add(-48 * time.Hour), End: testNow.Add(-24 * time.Hour)}, time.Hour)
	off := int(sub.Start.Sub(full.Start) / time.Hour)
	for i, v := range sub.Values {
		if w := full.Values[off+i]; v != w && !(domain.IsMissing(v) && domain.IsMissing(w)) {
			t.Fatalf("point %v: %v in a sub-window, %v in the full window", sub.Start.Add(time.Duration(i)*time.Hour), v, w)
		}
	}
	// A window in the future is cut at the estate's clock.
	future := get(collect.Window{Start: testNow.Add(-2 * time.Hour), End: testNow.Add(48 * time.Hour)}, time.Hour)
	if !future.End().Equal(testNow.Truncate(time.Hour)) {
		t.Errorf("series over a future window ends %v; want %v", future.End(), testNow.Truncate(time.Hour))
	}
	// Six-hour steps average the hours.
	six := get(collect.Window{Start: testNow.Add(-14 * 24 * time.Hour), End: testNow}, 6*time.Hour)
	if six.Step != 6*time.Hour || len(six.Values) == 0 {
		t.Errorf("6h series: step %v, %d points", six.Step, len(six.Values))
	}
	if err := p.Series(ctx, scope, []string{vm.ID}, collect.Window{Start: testNow.Add(-time.Hour), End: testNow}, 5*time.Minute,
		func(domain.Series) error { return nil }); !errors.Is(err, domain.ErrUnsupported) {
		t.Errorf("Series at 5m = %v; want ErrUnsupported", err)
	}
	// Moving the clock extends the series; the past does not change.
	e.Advance(24 * time.Hour)
	later := get(collect.Window{Start: testNow.Add(-14 * 24 * time.Hour), End: testNow.Add(24 * time.Hour)}, time.Hour)
	if len(later.Values) != len(full.Values)+24 {
		t.Errorf("after Advance(24h): %d points; want %d", len(later.Values), len(full.Values)+24)
	}
	for i := 24; i < len(full.Values); i++ { // the first day left the retained history
		if v, w := later.Values[i], full.Values[i]; v != w && !(domain.IsMissing(v) && domain.IsMissing(w)) {
			t.Fatalf("point %d changed after Advance: %v, was %v", i, v, w)
		}
	}
}

func TestNthLargest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		n := 1 + rng.IntN(400)
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(50)) // many ties
		}
		sorted := append([]float64(nil), a...)
		sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
		k := rng.IntN(n)
		if got := nthLargest(a, k); got != sorted[k] {
			t.Fatalf("nthLargest(k=%d of %d) = %v; want %v", k, n, got, sorted[k])
		}
	}
}
