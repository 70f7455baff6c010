package simcloud

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var sinkEstate *Estate

// BenchmarkNew100k builds an estate of 100,000 resources and reports the
// heap it holds.
func BenchmarkNew100k(b *testing.B) {
	prices := testPrices()
	for b.Loop() {
		var err error
		sinkEstate, err = New(Config{Seed: 1, Resources: 100_000, Now: testNow}, prices)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	sinkEstate = nil
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(before.HeapAlloc-after.HeapAlloc)/(1<<20), "MiB-held")
}

// BenchmarkSeries100k reads the CPU and memory series of every VM of a
// 100,000-resource estate (45,000 VMs) over 14 days, scope by scope.
func BenchmarkSeries100k(b *testing.B) {
	e, err := New(Config{Seed: 1, Resources: 100_000, Now: testNow}, testPrices())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	type job struct {
		c     domain.Cloud
		scope collect.Scope
		ids   []string
	}
	var jobs []job
	for _, c := range domain.Clouds {
		scopes, _ := e.Cloud(c).Scopes(ctx)
		for _, s := range scopes {
			j := job{c: c, scope: s}
			e.Cloud(c).Resources(ctx, s, func(rs []domain.Resource) error {
				for _, r := range rs {
					if r.Kind == domain.KindVM {
						j.ids = append(j.ids, r.ID)
					}
				}
				return nil
			})
			jobs = append(jobs, j)
		}
	}
	w := collect.Window{Start: testNow.Add(-14 * 24 * time.Hour), End: testNow}
	n := 0
	for b.Loop() {
		for _, j := range jobs {
			err := e.Cloud(j.c).Series(ctx, j.scope, j.ids, w, time.Hour, func(domain.Series) error {
				n++
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "series/s")
	b.ReportMetric(float64(n)/float64(b.N), "series/op")
}
