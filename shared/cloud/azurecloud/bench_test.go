package azurecloud_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// benchVMs is the number of VMs of each subscription of the benchmark.
const benchVMs = 2000

// benchSubs are the estate sizes benchmarked, in subscriptions.
var benchSubs = []int{10, 50}

// benchStep is the step of the benchmark's 14 days of series: six hours
// keeps a run of 100,000 VMs to a minute on two cores; the metric calls
// are the same at one hour (the time chunks are the same).
const benchStep = 6 * time.Hour

// countingSink counts what the collector writes and keeps nothing, so
// the memory measured is the provider's and the collector's.
type countingSink struct {
	resources, series, rows int
	scopes                  []collect.ScopeStatus
}

func (s *countingSink) WriteResources(_ context.Context, rs []domain.Resource) error {
	s.resources += len(rs)
	return nil
}

func (s *countingSink) WriteSeries(_ context.Context, _ string, ss []domain.Series) error {
	s.series += len(ss)
	return nil
}

func (s *countingSink) WriteCostRows(_ context.Context, rows []domain.CostRow) error {
	s.rows += len(rows)
	return nil
}

func (s *countingSink) RecordScope(st collect.ScopeStatus) { s.scopes = append(s.scopes, st) }

func (s *countingSink) Commit(context.Context) (string, error) { return "counted", nil }

// heapPeak samples, every 20 ms until stopped, HeapInuse and the live
// heap (the heap marked live by the last garbage collection), and
// returns the highest of each. HeapInuse also holds the garbage not yet
// collected, whose allowance the collector paces on the whole live heap
// (GOGC): it grows with the fake's estate held in the same process. The
// live heap does not.
func heapPeak() (stop func() (inuse, live uint64)) {
	var (
		mu         sync.Mutex
		peakInuse  uint64
		peakLive   uint64
		done       = make(chan struct{})
		wg         sync.WaitGroup
		liveSample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	)
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		defer mu.Unlock()
		metrics.Read(liveSample)
		peakInuse = max(peakInuse, m.HeapInuse)
		if liveSample[0].Value.Kind() == metrics.KindUint64 {
			peakLive = max(peakLive, liveSample[0].Value.Uint64())
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		sample()
		return peakInuse, peakLive
	}
}

// liveHeap returns the heap marked live by the last garbage collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// benchEstate is the estate of the benchmark, built once: the largest of
// benchSubs subscriptions.
var benchEstate = sync.OnceValues(func() (*azurefake.Estate, []string) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Seed: 42, Subscriptions: slices.Max(benchSubs), VMsPerSubscription: benchVMs, Now: now})
	var subs []string
	for _, s := range est.Subscriptions {
		subs = append(subs, s.ID)
	}
	slices.Sort(subs)
	return est, subs
})

// BenchmarkCollect runs the collector over 10 and 50 subscriptions of
// 2,000 VMs each, served by azurefake (metrics by its fast encoder), 14
// days of series. It reports resources a second, metrics queries per
// 1,000 VMs, and the peaks of the live heap and of HeapInuse above those
// before the run. Both runs read the same 50-subscription estate, the
// first its first 10 subscriptions (Config.Subscriptions): the fake's
// estate shares the process's heap, and the garbage collector counts as
// live what is allocated while it marks that heap, so only runs over
// one estate compare. The live peak stays flat as subscriptions are
// added, since the collector reads one scope at a time and the provider
// keeps one page, one batch of 50 VMs and one chunk of cost rows.
func BenchmarkCollect(b *testing.B) {
	for _, subs := range benchSubs {
		b.Run(fmt.Sprintf("subscriptions=%d", subs), func(b *testing.B) {
			est, all := benchEstate()
			srv := azurefake.New(est, azurefake.Options{FastMetrics: true})
			var resources, vms int
			var calls int64
			var elapsed time.Duration
			var peakInuse, peakLive uint64
			for b.Loop() {
				p, err := azurecloud.New(context.Background(), azurecloud.Config{Credential: azurefake.Credential(),
					ClientOptions: srv.ClientOptions(), Subscriptions: all[:subs]})
				if err != nil {
					b.Fatal(err)
				}
				sink := &countingSink{}
				c := &collect.Collector{Provider: p, Now: func() time.Time { return now },
					NewSink: func(domain.Cloud, string, collect.Window) collect.Sink { return sink }}
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				baseLive := liveHeap()
				stop := heapPeak()
				start := time.Now()
				res, err := c.Run(context.Background(), collect.Request{RunID: "bench", Days: 14, Step: benchStep})
				elapsed += time.Since(start)
				inuse, live := stop()
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range res.Scopes {
					if s.Status != collect.ScopeOK {
						b.Fatalf("scope %s/%s: %s %s", s.Account, s.Region, s.Status, s.Error)
					}
				}
				if inuse > base.HeapInuse {
					peakInuse = max(peakInuse, inuse-base.HeapInuse)
				}
				if live > baseLive {
					peakLive = max(peakLive, live-baseLive)
				}
				resources += res.Resources
				vms += subs * benchVMs
				calls += p.MetricCalls()
			}
			b.ReportMetric(float64(resources)/elapsed.Seconds(), "resources/s")
			b.ReportMetric(float64(calls)*1000/float64(vms), "metric-calls/1000VMs")
			b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-MiB")
			b.ReportMetric(float64(peakInuse)/(1<<20), "peak-inuse-MiB")
		})
	}
}
