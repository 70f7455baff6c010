package lake_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// BenchmarkSnapshotWrite100k writes what a collector writes for 100,000
// resources: the resources, two hourly series of 14 days (CPU and
// memory) for each, in the batch sizes the collector uses, into mem://.
func BenchmarkSnapshotWrite100k(b *testing.B) {
	const (
		resources = 100_000
		accounts  = 20
		points    = 14 * 24
		page      = 1000 // resources per WriteResources, as a provider page
		batch     = 256  // series per WriteSeries, as the collector buffers
	)
	ctx := context.Background()
	end := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	start := end.Add(-points * time.Hour)
	rs := make([]domain.Resource, page)
	ss := make([]domain.Series, batch)
	for i := range ss {
		ss[i].Values = make([]float32, points)
	}
	rng := uint64(0x9e3779b97f4a7c15)
	next := func() float64 { // xorshift: cheap, deterministic
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return float64(rng>>11) / (1 << 53)
	}
	// A random walk rounded to 0.01, with a gap now and then: about what
	// monitoring APIs return.
	fill := func(vals []float32) {
		v := next() * 60
		for i := range vals {
			v += (next() - 0.5) * 8
			v = math.Max(0, math.Min(100, v))
			if next() < 0.01 {
				vals[i] = domain.Missing
				continue
			}
			vals[i] = float32(math.Round(v*100) / 100)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		l, err := lake.Open(ctx, "mem://")
		if err != nil {
			b.Fatal(err)
		}
		w := l.BeginSnapshot(domain.AWS, lake.NewRunID(end), lake.Window{Start: start, End: end}, end)
		series := 0
		for off := 0; off < resources; off += page {
			acct := fmt.Sprintf("1000000000%02d", (off/page)%accounts)
			for i := range rs {
				n := off + i
				rs[i] = domain.Resource{
					Cloud: domain.AWS, Account: acct, Region: "eu-west-1", Kind: domain.KindVM,
					ID: fmt.Sprintf("i-%017x", n), Name: fmt.Sprintf("web-%d", n), SKU: "m5.large", State: domain.StateRunning,
					Tags:      map[string]string{"team": "payments", "env": "prod", "cloudtrim-opt-in": "true"},
					CreatedAt: end.Add(-time.Duration(n) * time.Minute),
				}
			}
			if err := w.WriteResources(ctx, rs); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < page; i += batch / 2 {
				b.StopTimer()
				k := 0
				for j := i; j < min(i+batch/2, page); j++ {
					for _, m := range []domain.Metric{domain.MetricCPU, domain.MetricMemory} {
						ss[k].ResourceID, ss[k].Metric, ss[k].Start, ss[k].Step = rs[j].ID, m, start, time.Hour
						fill(ss[k].Values)
						k++
					}
				}
				b.StartTimer()
				if err := w.WriteSeries(ctx, acct, ss[:k]); err != nil {
					b.Fatal(err)
				}
				series += k
			}
		}
		m, err := w.Commit(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if m.Tables[lake.TableResources].Rows != resources || m.Tables[lake.TableUtilization].Rows != int64(series) {
			b.Fatalf("manifest counts %+v; want %d resources, %d series", m.Tables, resources, series)
		}
		var bytes int64
		for _, f := range m.Files {
			bytes += f.Bytes
		}
		b.ReportMetric(float64(bytes)/(1<<20), "MiB/op")
		_ = l.Close()
	}
	b.ReportMetric(float64(resources*b.N)/b.Elapsed().Seconds(), "resources/s")
}
