package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The Azure collector table's estates: subscriptions of azureVMs VMs
// each, 14 days of series at azureStep.
var (
	azureSubscriptions = []int{10, 50}
	azureVMs           = 2000
	azureStep          = 6 * time.Hour
)

// azureRun is one measured collection (of either cloud).
type azureRun struct {
	subscriptions, vms  int
	resources, series   int
	costRows            int
	wall                time.Duration
	metricCalls         int64
	peakLive, peakInuse uint64 // above the estate's
	estateLive          uint64
}

// azureTable collects synthetic Azure estates of 10 and 50 subscriptions
// of 2,000 VMs through the azurecloud provider, served by azurefake (the
// SDK's fake servers; metrics by its fast encoder of the same answers),
// with the collector core writing to a sink that counts and keeps
// nothing, and prints resources a second, metrics queries per 1,000 VMs
// and the peak HeapInuse above the heap the estate holds: the provider's
// and collector's memory, which must not grow with the estate.
func azureTable(w io.Writer) error {
	// One estate, the largest, for every run: the fake's estate shares the
	// heap, and the garbage collector counts as live what is allocated
	// while it marks that heap, so only runs over one estate compare.
	fmt.Fprintf(os.Stderr, "generating a fake Azure estate of %d subscriptions × %d VMs…\n", slices.Max(azureSubscriptions), azureVMs)
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Seed: 42, Subscriptions: slices.Max(azureSubscriptions), VMsPerSubscription: azureVMs, Now: now})
	var all []string
	for _, s := range est.Subscriptions {
		all = append(all, s.ID)
	}
	slices.Sort(all)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Azure collector (azurecloud → azurefake)\tsubscriptions\tVMs\tresources\tseries\twall time\tresources/s\tmetric calls\tper 1,000 VMs\tpeak live heap\tpeak HeapInuse\testate\t")
	for _, subs := range azureSubscriptions {
		fmt.Fprintf(os.Stderr, "collecting %d subscriptions × %d VMs…\n", subs, azureVMs)
		r, err := azureCollectRun(context.Background(), est, all[:subs])
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "inventory + 14 d Azure Monitor (%g h step) + Cost Management\t%d\t%d\t%d\t%d\t%.1f s\t%.0f\t%d\t%.1f\t%d MiB\t%d MiB\t%d MiB\t\n",
			azureStep.Hours(), r.subscriptions, r.vms, r.resources, r.series, r.wall.Seconds(), float64(r.resources)/r.wall.Seconds(),
			r.metricCalls, float64(r.metricCalls)*1000/float64(r.vms), r.peakLive>>20, r.peakInuse>>20, r.estateLive>>20)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Both runs read one estate of the largest size, the smaller its first subscriptions. Peak live heap and peak HeapInuse: "+
		"the highest sampled during the run less the same before it (estate: the fake's live heap, in the same process); "+
		"HeapInuse adds uncollected garbage, which Go paces on the whole heap. "+
		"Metric calls: one query names up to 50 VMs of a region, all six metrics, 7 days.")
	return err
}

// azureCollectRun collects subs of est once and measures.
func azureCollectRun(ctx context.Context, est *azurefake.Estate, subs []string) (azureRun, error) {
	srv := azurefake.New(est, azurefake.Options{FastMetrics: true})
	p, err := azurecloud.New(ctx, azurecloud.Config{Credential: azurefake.Credential(), ClientOptions: srv.ClientOptions(), Subscriptions: subs})
	if err != nil {
		return azureRun{}, err
	}
	r, err := measureCollect(ctx, p, azureStep, p.MetricCalls)
	r.subscriptions, r.vms = len(subs), len(subs)*azureVMs
	runtime.KeepAlive(est)
	return r, err
}

// measureCollect runs one collection of p's estate at step into a sink
// that counts, and measures its wall time, the metric calls calls
// counts and the peak heap above the heap before it (the fake's estate,
// in the same process). A scope not read completely is an error.
func measureCollect(ctx context.Context, p collect.Provider, step time.Duration, calls func() int64) (azureRun, error) {
	sink := &countSink{}
	c := &collect.Collector{Provider: p, Now: func() time.Time { return now },
		NewSink: func(domain.Cloud, string, collect.Window) collect.Sink { return sink }}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseLive := liveHeap()
	stop := heapPeak()
	start := time.Now()
	res, err := c.Run(ctx, collect.Request{RunID: "bench", Days: 14, Step: step})
	wall := time.Since(start)
	inuse, live := stop()
	if err != nil {
		return azureRun{}, err
	}
	for _, s := range res.Scopes {
		if s.Status != collect.ScopeOK {
			return azureRun{}, fmt.Errorf("%s bench: scope %s/%s: %s %s", res.Cloud, s.Account, s.Region, s.Status, s.Error)
		}
	}
	r := azureRun{resources: res.Resources, series: res.Series, costRows: res.CostRows, wall: wall, metricCalls: calls(), estateLive: baseLive}
	if inuse > base.HeapInuse {
		r.peakInuse = inuse - base.HeapInuse
	}
	if live > baseLive {
		r.peakLive = live - baseLive
	}
	return r, nil
}

// countSink counts what a collector writes and keeps nothing.
type countSink struct{ resources, series, rows int }

func (s *countSink) WriteResources(_ context.Context, rs []domain.Resource) error {
	s.resources += len(rs)
	return nil
}

func (s *countSink) WriteSeries(_ context.Context, _ string, ss []domain.Series) error {
	s.series += len(ss)
	return nil
}

func (s *countSink) WriteCostRows(_ context.Context, rows []domain.CostRow) error {
	s.rows += len(rows)
	return nil
}

func (s *countSink) RecordScope(collect.ScopeStatus) {}

func (s *countSink) Commit(context.Context) (string, error) { return "counted", nil }

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
