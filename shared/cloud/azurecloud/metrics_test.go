package azurecloud_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// regionVMs is an estate of n running VMs of one subscription in eastus.
func regionVMs(n int) (*azurefake.Estate, string, []string) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Seed: 7, Subscriptions: 1, VMsPerSubscription: n, Regions: []string{"eastus"}, Now: now})
	est.Lock()
	defer est.Unlock()
	var sub string
	var ids []string
	for _, s := range est.Subscriptions {
		sub = s.ID
		for _, vm := range s.VMs {
			vm.PowerState = azurefake.PowerRunning
			ids = append(ids, vm.ID)
		}
	}
	return est, sub, ids
}

func TestSeriesBatchesManyVMsPerQuery(t *testing.T) {
	const vms = 60
	const step = 6 * time.Hour
	window := collect.Window{Start: now.Add(-4 * 24 * time.Hour), End: now}
	steps := int(window.End.Sub(window.Start) / step)
	for _, tc := range []struct {
		name      string
		resources int
		span      time.Duration
		want      int
	}{
		// ⌈60/50⌉ batches × ⌈96 h / 168 h⌉ chunks.
		{"defaults", 0, 0, 2 * 1},
		{"ten VMs a query", 10, 0, 6 * 1},
		{"one day a query", 50, 24 * time.Hour, 2 * 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			est, sub, ids := regionVMs(vms)
			srv := newServer(t, est, azurefake.Options{})
			p := newProvider(t, srv, azurecloud.Config{MetricResources: tc.resources, MetricSpan: tc.span})
			cpu := map[string]int{}
			err := p.Series(context.Background(), collect.Scope{Account: sub, Region: "eastus"}, ids, window, step, func(s domain.Series) error {
				if s.Metric == domain.MetricCPU {
					cpu[s.ResourceID] = s.Present()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.MetricCalls(); got != int64(tc.want) {
				t.Errorf("MetricCalls() = %d for %d VMs; want %d", got, vms, tc.want)
			}
			if got := p.MetricQueries(vms, steps, step); got != tc.want {
				t.Errorf("MetricQueries(%d, %d, 6h) = %d; want %d", vms, steps, got, tc.want)
			}
			if got := srv.CallCount("MetricsClient.ListAtSubscriptionScopePost"); got != tc.want {
				t.Errorf("the fake answered %d metrics queries; want %d", got, tc.want)
			}
			for _, id := range ids {
				if cpu[id] != steps {
					t.Fatalf("VM %s has %d CPU points; want %d: a batch lost series", id, cpu[id], steps)
				}
			}
		})
	}
}

// TestSeriesConvertsAndMarksGaps serves known values: a VM that reports
// every metric with gaps, one without memory nor disk traffic, one that
// reports nothing.
func TestSeriesConvertsAndMarksGaps(t *testing.T) {
	est := azurefake.NewEstate()
	est.AddSubscription(azurefake.NewSubscription(subA, "prod"))
	est.Sizes["eastus"] = azurefake.SyntheticSizes // Standard_D4s_v5: 16 GiB
	full, partial, silent := vmID(subA, "full"), vmID(subA, "partial"), vmID(subA, "silent")
	for _, id := range []string{full, partial, silent} {
		if err := est.AddVM(&azurefake.VM{ID: id, Location: "eastus", Size: "Standard_D4s_v5", PowerState: azurefake.PowerRunning}); err != nil {
			t.Fatal(err)
		}
	}
	const memBytes = 16384 << 20
	// value is what the fake serves: a distinct number per VM, metric and
	// hour, NaN every fifth hour.
	metricIndex := map[string]float64{azurefake.MetricCPU: 1, azurefake.MetricAvailableMem: 2, azurefake.MetricNetIn: 3,
		azurefake.MetricNetOut: 4, azurefake.MetricDiskRead: 5, azurefake.MetricDiskWrite: 6}
	value := func(id, metric string, t time.Time) float64 {
		h := t.Unix() / 3600
		if h%5 == 0 {
			return math.NaN()
		}
		switch metric {
		case azurefake.MetricCPU:
			return float64(h%100) + 0.5
		case azurefake.MetricAvailableMem:
			return memBytes * float64(h%10+1) / 20
		}
		return metricIndex[metric] * float64(h%7+1) * 3600e3 // bytes per hour
	}
	est.Metrics = func(id, metric string, start time.Time, interval time.Duration, n int) []float64 {
		switch {
		case azurefake.Key(id) == azurefake.Key(silent):
			return nil
		case azurefake.Key(id) == azurefake.Key(partial) && (metric == azurefake.MetricAvailableMem || metric == azurefake.MetricDiskRead || metric == azurefake.MetricDiskWrite):
			return nil
		}
		out := make([]float64, n)
		for i := range out {
			out[i] = value(id, metric, start.Add(time.Duration(i)*interval))
		}
		return out
	}
	srv := newServer(t, est, azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{MetricSpan: 24 * time.Hour})
	// A window that starts off the hour: the grid starts at the hour.
	window := collect.Window{Start: now.Add(-50*time.Hour + 17*time.Minute), End: now}
	start := window.Start.Truncate(time.Hour)
	n := int(window.End.Sub(start) / time.Hour)

	expect := func(id string, metric domain.Metric, azure string) []float32 {
		out := make([]float32, n)
		for i := range out {
			v := value(id, azure, start.Add(time.Duration(i)*time.Hour))
			switch {
			case math.IsNaN(v):
				out[i] = domain.Missing
			case metric == domain.MetricMemory:
				out[i] = float32(100 * (1 - v/memBytes))
			case metric == domain.MetricCPU:
				out[i] = float32(v)
			default:
				out[i] = float32(v / 3600)
			}
		}
		return out
	}
	missing := make([]float32, n)
	for i := range missing {
		missing[i] = domain.Missing
	}
	all := []struct {
		m     domain.Metric
		azure string
	}{{domain.MetricCPU, azurefake.MetricCPU}, {domain.MetricMemory, azurefake.MetricAvailableMem},
		{domain.MetricNetIn, azurefake.MetricNetIn}, {domain.MetricNetOut, azurefake.MetricNetOut},
		{domain.MetricDiskRead, azurefake.MetricDiskRead}, {domain.MetricDiskWrite, azurefake.MetricDiskWrite}}
	var want []domain.Series
	for _, m := range all {
		want = append(want, domain.Series{ResourceID: full, Metric: m.m, Start: start, Step: time.Hour, Values: expect(full, m.m, m.azure)})
	}
	for _, m := range all {
		if m.m != domain.MetricMemory && m.m != domain.MetricDiskRead && m.m != domain.MetricDiskWrite {
			want = append(want, domain.Series{ResourceID: partial, Metric: m.m, Start: start, Step: time.Hour, Values: expect(partial, m.m, m.azure)})
		}
	}
	want = append(want, domain.Series{ResourceID: silent, Metric: domain.MetricCPU, Start: start, Step: time.Hour, Values: missing})

	var got []domain.Series
	err := p.Series(context.Background(), collect.Scope{Account: subA, Region: "eastus"}, []string{full, partial, silent, full}, window, time.Hour,
		func(s domain.Series) error { got = append(got, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// NaN never equals NaN: compare missing points as such.
	nanEqual := cmp.Comparer(func(a, b float32) bool { return a == b || (domain.IsMissing(a) && domain.IsMissing(b)) })
	if diff := cmp.Diff(want, got, nanEqual); diff != "" {
		t.Fatalf("Series (-want +got):\n%s", diff)
	}
	// The memory sizes came from one VM listing and one SKU listing:
	// Resources had not listed the scope.
	if a, b := srv.CallCount("VirtualMachinesClient.NewListAllPager"), srv.CallCount("ResourceSKUsClient.NewListPager"); a != 1 || b != 1 {
		t.Errorf("%d VM listings and %d SKU listings for the sizes; want 1 and 1", a, b)
	}
}

func TestSeriesAfterResourcesReusesTheListing(t *testing.T) {
	est, sub, ids := regionVMs(8)
	srv := newServer(t, est, azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{})
	scope := collect.Scope{Account: sub, Region: "eastus"}
	if _, err := listScope(t, p, scope); err != nil {
		t.Fatal(err)
	}
	before := srv.CallCount("VirtualMachinesClient.NewListAllPager")
	memory := 0
	err := p.Series(context.Background(), scope, ids, collect.Window{Start: now.Add(-24 * time.Hour), End: now}, time.Hour, func(s domain.Series) error {
		if s.Metric == domain.MetricMemory {
			memory++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := srv.CallCount("VirtualMachinesClient.NewListAllPager"); after != before {
		t.Errorf("Series listed the VMs again (%d listings, %d before); want the sizes of the scope's listing", after, before)
	}
	if memory == 0 {
		t.Error("no memory series; want the VMs that report available memory")
	}
}

func TestSeriesRefusesWhatAzureMonitorDoesNotServe(t *testing.T) {
	est, sub, ids := regionVMs(2)
	srv := newServer(t, est, azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{})
	window := collect.Window{Start: now.Add(-24 * time.Hour), End: now}
	err := p.Series(context.Background(), collect.Scope{Account: sub, Region: "eastus"}, ids, window, 2*time.Hour, func(domain.Series) error { return nil })
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Series at a 2 h step = %v; want ErrInvalid (Azure Monitor serves 1 h and 6 h)", err)
	}
	err = p.Series(context.Background(), collect.Scope{Account: sub}, ids, window, time.Hour, func(domain.Series) error { return nil })
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Series of a scope without region = %v; want ErrInvalid", err)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("refused queries made %d calls; want none", n)
	}
}

func TestSeriesThrottledForGood(t *testing.T) {
	est, sub, ids := regionVMs(3)
	srv := newServer(t, est, azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{MaxRetries: 2})
	srv.Fail(azurefake.Fault{API: "MetricsClient.", Status: http.StatusTooManyRequests, RetryAfter: time.Millisecond, RetryAfterHeader: "retry-after-ms"})
	err := p.Series(context.Background(), collect.Scope{Account: sub, Region: "eastus"}, ids, collect.Window{Start: now.Add(-24 * time.Hour), End: now}, time.Hour,
		func(domain.Series) error { return nil })
	if !errors.Is(err, domain.ErrThrottled) {
		t.Fatalf("Series under persistent throttling = %v; want ErrThrottled", err)
	}
	if n := srv.CallCount("MetricsClient.ListAtSubscriptionScopePost"); n != 3 {
		t.Errorf("%d attempts; want 3 (MaxRetries 2)", n)
	}
}
