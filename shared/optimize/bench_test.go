package optimize

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// synthSnapshot is a generated estate: it keeps the resources and makes
// series and cost rows on the fly, reusing one buffer, as a streaming
// lake reader would.
type synthSnapshot struct {
	resources []domain.Resource
	vms       int
	points    int
	diurnal   []float32
}

func newSynth(vms, disks, ips, snapshots int) *synthSnapshot {
	s := &synthSnapshot{vms: vms, points: 336}
	skus := []string{"m5.large", "m5.xlarge", "m5.2xlarge", "c5.xlarge", "c5.2xlarge", "r5.large", "r5.xlarge"}
	accounts := []string{"111111111111", "222222222222", "333333333333"}
	tagsets := []map[string]string{
		{"cloudtrim-optin": "true", "team": "web"},
		{"team": "data"},
		{"cloudtrim-optin": "true", "env": "dev", "team": "web"},
		{"cloudtrim-optin": "true", "team": "api", "tz": "Europe/Paris", "env": "staging"},
		{"do-not-touch": "true"},
	}
	res := func(kind domain.Kind, i int) domain.Resource {
		return domain.Resource{Cloud: domain.AWS, Account: accounts[i%len(accounts)], Region: region, Kind: kind,
			ID: fmt.Sprintf("%s-%08d", kind, i), Name: fmt.Sprintf("%s-%d", kind, i), Tags: tagsets[i%len(tagsets)],
			CreatedAt: now.Add(-time.Duration(i%400) * 24 * time.Hour)}
	}
	for i := range vms {
		r := res(domain.KindVM, i)
		r.SKU, r.State = skus[i%len(skus)], domain.StateRunning
		if i%500 == 0 {
			r.Incomplete = "tags: throttled"
		}
		s.resources = append(s.resources, r)
	}
	for i := range disks {
		r := res(domain.KindDisk, i)
		r.SKU, r.SizeGiB, r.State = "gp3", int64(10+i%500), domain.StateInUse
		r.AttachedTo = fmt.Sprintf("vm-%08d", i%vms)
		if i%3 == 0 {
			r.State, r.AttachedTo = domain.StateAvailable, ""
		}
		s.resources = append(s.resources, r)
	}
	for i := range ips {
		r := res(domain.KindIP, i)
		r.SKU, r.State = "public-ipv4", domain.StateAssociated
		r.AttachedTo = fmt.Sprintf("vm-%08d", i%vms)
		if i%3 == 0 {
			r.State, r.AttachedTo = domain.StateAvailable, ""
		}
		s.resources = append(s.resources, r)
	}
	for i := range snapshots {
		r := res(domain.KindSnapshot, i)
		r.SKU, r.SizeGiB, r.State, r.AttachedTo = "standard", int64(10+i%200), domain.StateAvailable, fmt.Sprintf("disk-%08d", i)
		s.resources = append(s.resources, r)
	}
	s.diurnal = make([]float32, 24)
	for h := range s.diurnal {
		s.diurnal[h] = float32((1 - math.Cos(2*math.Pi*float64(h)/24)) / 2)
	}
	return s
}

func (s *synthSnapshot) Ref() domain.SnapshotRef { return ref() }

func (s *synthSnapshot) Resources(ctx context.Context, fn func(domain.Resource) error) error {
	for _, r := range s.resources {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *synthSnapshot) Series(ctx context.Context, fn func(domain.Series) error) error {
	buf := make([]float32, s.points)
	start := windowEnd.Add(-time.Duration(s.points) * time.Hour)
	seed := uint32(1)
	for i := range s.vms {
		id := s.resources[i].ID
		peak := float32(i%40) * 2.5 // 0..97.5 %
		for _, metric := range []domain.Metric{domain.MetricCPU, domain.MetricMemory} {
			for k := range buf {
				seed = seed*1664525 + 1013904223
				switch {
				case seed%97 == 0:
					buf[k] = domain.Missing
				case metric == domain.MetricCPU:
					buf[k] = peak * (0.2 + 0.8*s.diurnal[k%24]) * (0.9 + float32(seed%100)/1000)
				default:
					buf[k] = 20 + float32(i%60) + float32(seed%50)/10
				}
			}
			if err := fn(domain.Series{ResourceID: id, Metric: metric, Start: start, Step: time.Hour, Values: buf}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *synthSnapshot) CostRows(ctx context.Context, fn func(domain.CostRow) error) error {
	row := domain.CostRow{ChargeCategory: domain.ChargeUsage, BillingCurrency: "USD", XCloud: domain.AWS}
	for i, r := range s.resources {
		if r.Kind != domain.KindVM && r.Kind != domain.KindDisk {
			continue
		}
		daily := domain.USD(int64(500_000 + i%5000*1000))
		for d := range 14 {
			row.ResourceID = r.ID
			row.ChargePeriodStart = windowEnd.Add(-time.Duration(14-d) * 24 * time.Hour)
			row.ChargePeriodEnd = row.ChargePeriodStart.Add(24 * time.Hour)
			row.EffectiveCost, row.ListCost, row.BilledCost = daily, daily.MulFloat(1.25), daily
			if err := fn(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkOptimize100k plans a 100,000-resource estate: 45,000 VMs with
// hourly CPU and memory over 14 days, 30,000 disks, 15,000 addresses,
// 10,000 snapshots and 1,050,000 daily cost rows.
func BenchmarkOptimize100k(b *testing.B) {
	snap := newSynth(45_000, 30_000, 15_000, 10_000)
	req := Request{PlanID: "bench", Now: now, Policy: domain.DefaultPolicy(), Snapshots: []Snapshot{snap}, Prices: catalog}
	peak := startHeapSampler()
	b.ReportAllocs()
	b.ResetTimer()
	var plan domain.Plan
	for b.Loop() {
		var err error
		plan, err = Optimize(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := b.Elapsed()
	b.StopTimer()
	maxHeap := peak()
	b.ReportMetric(float64(len(snap.resources)*b.N)/elapsed.Seconds(), "resources/s")
	b.ReportMetric(float64(maxHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(len(plan.Actions)), "actions")
	b.ReportMetric(float64(len(plan.Skipped)), "skipped")
}

// startHeapSampler samples the live heap every few milliseconds until the
// returned function is called, which reports the largest sample.
func startHeapSampler() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		mu   sync.Mutex
		max  uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			max = maxU(max, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		runtime.KeepAlive(sample)
		return max
	}
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
