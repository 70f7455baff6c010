package gcpcloud

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// metricsNow is the clock of the metric tests' data.
var metricsNow = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

// metricsProvider returns a provider reading Cloud Monitoring from m,
// retrying every millisecond, that has listed no inventory.
func metricsProvider(t *testing.T, m *gcpfake.Monitoring, cfg Config) *Provider {
	t.Helper()
	cfg.Options = append(cfg.Options, option.WithoutAuthentication())
	cfg.MonitoringOptions = m.ClientOptions()
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Millisecond
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func startMonitoring(t *testing.T) *gcpfake.Monitoring {
	t.Helper()
	m := gcpfake.NewMonitoring()
	t.Cleanup(m.Close)
	return m
}

// collectSeries calls Series and returns what it handed on.
func collectSeries(p *Provider, scope collect.Scope, ids []string, w collect.Window, step time.Duration) ([]domain.Series, error) {
	var out []domain.Series
	err := p.Series(context.Background(), scope, ids, w, step, func(s domain.Series) error {
		out = append(out, s)
		return nil
	})
	return out, err
}

// seriesEqual compares series point by point, a gap equal to a gap.
var seriesEqual = cmp.Comparer(func(a, b float32) bool { return a == b || (domain.IsMissing(a) && domain.IsMissing(b)) })

// simScope is the scope of the estate with the most VMs, and their IDs.
func simScope(t *testing.T, est *simcloud.Estate) (collect.Scope, []string) {
	t.Helper()
	byScope := map[collect.Scope][]string{}
	for _, r := range est.Resources() {
		if r.Cloud == domain.GCP && r.Kind == domain.KindVM {
			s := collect.Scope{Account: r.Account, Region: r.Region}
			byScope[s] = append(byScope[s], r.ID)
		}
	}
	var best collect.Scope
	for s, ids := range byScope {
		if len(ids) > len(byScope[best]) || (len(ids) == len(byScope[best]) && s.Account+s.Region < best.Account+best.Region) {
			best = s
		}
	}
	if len(byScope[best]) < 3 {
		t.Fatalf("the simulated estate has no scope with 3 VMs: %v", byScope)
	}
	return best, byScope[best]
}

func simulatedEstate(t *testing.T) *simcloud.Estate {
	t.Helper()
	cat, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Config{Seed: 11, Resources: 400, Now: metricsNow, Days: 14}, cat)
	if err != nil {
		t.Fatal(err)
	}
	return est
}

// TestSeriesReadsTheSimulatedEstate proves the round trip: the series
// read from Cloud Monitoring equal the simulated estate's at every
// point (CPU for every VM, memory only for those with an agent), with
// one call per metric for the whole scope, and the same across pages.
func TestSeriesReadsTheSimulatedEstate(t *testing.T) {
	est := simulatedEstate(t)
	scope, ids := simScope(t, est)
	w := collect.Window{Start: metricsNow.Add(-72 * time.Hour), End: metricsNow}
	var want []domain.Series
	err := est.Cloud(domain.GCP).Series(context.Background(), scope, ids, w, time.Hour, func(s domain.Series) error {
		// The fake serves the estate's CPU and memory; its disk series
		// are not served as Cloud Monitoring deltas.
		if s.Metric == domain.MetricCPU || s.Metric == domain.MetricMemory {
			want = append(want, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The provider's grid runs to the window's end; the estate's to its
	// clock's hour, the same here.
	withMemory := 0
	for _, s := range want {
		if s.Metric == domain.MetricMemory {
			withMemory++
		}
	}
	if withMemory == 0 || withMemory == len(ids) {
		t.Fatalf("%d of %d VMs have memory; want some with and some without an agent", withMemory, len(ids))
	}
	for _, maxPoints := range []int{0, 100} {
		t.Run("page of "+strconv.Itoa(maxPoints)+" points", func(t *testing.T) {
			m := startMonitoring(t)
			m.SetSource(gcpfake.SimMetricSource(est))
			if maxPoints > 0 {
				m.SetMaxPagePoints(maxPoints)
			}
			p := metricsProvider(t, m, Config{})
			got, err := collectSeries(p, scope, ids, w, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, seriesEqual); diff != "" {
				t.Errorf("Series(%v) (-want +got):\n%s", scope, diff)
			}
			reqs := m.Requests()
			var filters []string
			for _, r := range reqs {
				if r.GetPageToken() == "" {
					filters = append(filters, r.GetFilter())
				}
			}
			var wantFilters []string
			for _, gm := range gceMetrics {
				wantFilters = append(wantFilters, MetricFilter(gm.metricType, scope.Region, gm.labels))
			}
			if diff := cmp.Diff(wantFilters, filters); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
			if p.MetricCalls() != int64(len(reqs)) || (maxPoints == 0 && len(reqs) != len(gceMetrics)) || (maxPoints > 0 && len(reqs) <= len(gceMetrics)) {
				t.Errorf("%d calls counted, %d made; want one per page, %d metrics", p.MetricCalls(), len(reqs), len(gceMetrics))
			}
		})
	}
}

func TestSeriesConvertsAndMarksGaps(t *testing.T) {
	m := startMonitoring(t)
	const zone = "us-east1-b"
	start := metricsNow.Truncate(time.Hour).Add(-3 * time.Hour)
	at := func(h int, v float64) gcpfake.MetricPoint {
		return gcpfake.MetricPoint{End: start.Add(time.Duration(h) * time.Hour), Value: v}
	}
	// vm-a: CPU in hours 0 and 2, memory (agent) in hour 1, received
	// bytes over two series, sent bytes, disk reads on two disks.
	m.Add("p1", zone, "vm-a", 1, gcpfake.MetricCPUUtilization, nil, at(1, 0.25), at(3, 0.5))
	m.Add("p1", zone, "", 1, gcpfake.MetricMemoryPercentUsed, map[string]string{"state": "used"}, at(2, 61))
	m.Add("p1", zone, "", 1, gcpfake.MetricMemoryPercentUsed, map[string]string{"state": "free"}, at(2, 39))
	m.Add("p1", zone, "vm-a", 1, gcpfake.MetricNetworkReceived, map[string]string{"loadbalanced": "false"}, at(1, 3600), at(2, 7200))
	m.Add("p1", zone, "vm-a", 1, gcpfake.MetricNetworkReceived, map[string]string{"loadbalanced": "true"}, at(1, 3600))
	m.Add("p1", zone, "vm-a", 1, gcpfake.MetricNetworkSent, map[string]string{"loadbalanced": "false"}, at(3, 360))
	m.Add("p1", zone, "vm-a", 1, gcpfake.MetricDiskRead, map[string]string{"device_name": "boot"}, at(1, 36000))
	m.Add("p1", zone, "vm-a", 1, gcpfake.MetricDiskRead, map[string]string{"device_name": "data"}, at(1, 3600))
	// vm-b: no data at all. vm-c: another region. vm-d: not asked for.
	m.Add("p1", "europe-west1-b", "vm-c", 3, gcpfake.MetricCPUUtilization, nil, at(1, 0.9))
	m.Add("p1", zone, "vm-d", 4, gcpfake.MetricCPUUtilization, nil, at(1, 0.9))
	p := metricsProvider(t, m, Config{})
	vmA, vmB := "projects/p1/zones/"+zone+"/instances/vm-a", "projects/p1/zones/"+zone+"/instances/vm-b"
	got, err := collectSeries(p, collect.Scope{Account: "p1", Region: "us-east1"}, []string{vmA, vmB, vmA, ""},
		collect.Window{Start: start.Add(10 * time.Minute), End: start.Add(3*time.Hour + 59*time.Minute)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nan := domain.Missing
	series := func(id string, metric domain.Metric, vals ...float32) domain.Series {
		return domain.Series{ResourceID: id, Metric: metric, Start: start, Step: time.Hour, Values: vals}
	}
	want := []domain.Series{
		series(vmA, domain.MetricCPU, 25, nan, 50),
		series(vmA, domain.MetricMemory, nan, 61, nan),
		series(vmA, domain.MetricNetIn, 2, 2, nan),
		series(vmA, domain.MetricNetOut, nan, nan, 0.1),
		series(vmA, domain.MetricDiskRead, 11, nan, nan),
		series(vmB, domain.MetricCPU, nan, nan, nan),
	}
	if diff := cmp.Diff(want, got, seriesEqual); diff != "" {
		t.Errorf("Series (-want +got):\n%s", diff)
	}
}

// TestSeriesMatchesByInstanceID proves the inventory's numeric IDs
// decide, not the names: a series whose instance_id the inventory gave
// another VM goes to that VM (or nowhere when it was not asked for).
func TestSeriesMatchesByInstanceID(t *testing.T) {
	m := startMonitoring(t)
	const zone = "us-central1-a"
	start := metricsNow.Truncate(time.Hour).Add(-time.Hour)
	vm := func(name string) string { return "projects/p1/zones/" + zone + "/instances/" + name }
	end := gcpfake.MetricPoint{End: start.Add(time.Hour), Value: 0.5}
	// Instance 7 is now named renamed-a; the inventory knows it as vm-a.
	m.Add("p1", zone, "renamed-a", 7, gcpfake.MetricCPUUtilization, nil, end)
	m.Add("p1", zone, "", 7, gcpfake.MetricMemoryPercentUsed, map[string]string{"state": "used"}, gcpfake.MetricPoint{End: end.End, Value: 30})
	// Instance 8 carries vm-b's name but is vm-x to the inventory.
	m.Add("p1", zone, "vm-b", 8, gcpfake.MetricCPUUtilization, nil, gcpfake.MetricPoint{End: end.End, Value: 0.9})
	p := metricsProvider(t, m, Config{})
	p.vmIDs = map[string]map[string]string{"p1": {"7": vm("vm-a"), "8": vm("vm-x")}}
	got, err := collectSeries(p, collect.Scope{Account: "p1", Region: "us-central1"}, []string{vm("vm-a"), vm("vm-b")},
		collect.Window{Start: start, End: start.Add(time.Hour)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Series{
		{ResourceID: vm("vm-a"), Metric: domain.MetricCPU, Start: start, Step: time.Hour, Values: []float32{50}},
		{ResourceID: vm("vm-a"), Metric: domain.MetricMemory, Start: start, Step: time.Hour, Values: []float32{30}},
		{ResourceID: vm("vm-b"), Metric: domain.MetricCPU, Start: start, Step: time.Hour, Values: []float32{domain.Missing}},
	}
	if diff := cmp.Diff(want, got, seriesEqual); diff != "" {
		t.Errorf("Series with the inventory's IDs (-want +got):\n%s", diff)
	}
}

func TestSeriesErrors(t *testing.T) {
	m := startMonitoring(t)
	m.Deny("secret")
	vm := "projects/p1/zones/us-central1-a/instances/vm-1"
	m.Add("p1", "us-central1-a", "vm-1", 1, gcpfake.MetricCPUUtilization, nil,
		gcpfake.MetricPoint{End: metricsNow.Truncate(time.Hour), Value: 0.1})
	w := collect.Window{Start: metricsNow.Add(-2 * time.Hour), End: metricsNow}
	p := metricsProvider(t, m, Config{MaxRetries: 2})
	scope := collect.Scope{Account: "p1", Region: "us-central1"}
	stop := errors.New("stop")
	for _, tc := range []struct {
		name     string
		scope    collect.Scope
		step     time.Duration
		throttle int
		fn       func(domain.Series) error
		want     error
	}{
		{"denied project", collect.Scope{Account: "secret", Region: "us-central1"}, time.Hour, 0, nil, domain.ErrPermission},
		{"throttled past the retries", scope, time.Hour, 3, nil, domain.ErrThrottled},
		{"throttled within the retries", scope, time.Hour, 2, nil, nil},
		{"a step under a minute", scope, 30 * time.Second, 0, nil, domain.ErrInvalid},
		{"a step of a fraction of a second", scope, time.Minute + time.Millisecond, 0, nil, domain.ErrInvalid},
		{"no region", collect.Scope{Account: "p1"}, time.Hour, 0, nil, domain.ErrInvalid},
		{"a region that is no name", collect.Scope{Account: "p1", Region: `us" OR metric.type = "x`}, time.Hour, 0, nil, domain.ErrInvalid},
		{"no project", collect.Scope{Region: "us-central1"}, time.Hour, 0, nil, domain.ErrInvalid},
		{"fn fails", scope, time.Hour, 0, func(domain.Series) error { return stop }, stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.Throttle(tc.throttle)
			fn := tc.fn
			if fn == nil {
				fn = func(domain.Series) error { return nil }
			}
			err := p.Series(context.Background(), tc.scope, []string{vm}, w, tc.step, fn)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Series(%s) = %v; want %v", tc.name, err, tc.want)
			}
		})
	}
	m.Throttle(0)
	// Nothing to read: no call.
	before := len(m.Requests())
	if got, err := collectSeries(p, scope, nil, w, time.Hour); err != nil || len(got) != 0 {
		t.Errorf("Series(no VMs) = %v, %v; want nothing", got, err)
	}
	if got, err := collectSeries(p, scope, []string{vm}, collect.Window{Start: w.End, End: w.Start}, time.Hour); err != nil || len(got) != 0 {
		t.Errorf("Series(empty window) = %v, %v; want nothing", got, err)
	}
	if n := len(m.Requests()); n != before {
		t.Errorf("%d calls for nothing to read; want none", n-before)
	}
}

func TestOnePageStopsAtThePageEnd(t *testing.T) {
	m := startMonitoring(t)
	m.SetMaxPagePoints(1)
	for i := range 3 {
		m.Add("p1", "us-central1-a", "vm-"+strconv.Itoa(i), uint64(i), gcpfake.MetricCPUUtilization, nil,
			gcpfake.MetricPoint{End: metricsNow, Value: 0.1})
	}
	p := metricsProvider(t, m, Config{})
	c, err := p.metricClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req := &monitoringpb.ListTimeSeriesRequest{Name: "projects/p1", Filter: MetricFilter(gceMetrics[0].metricType, "us-central1", ""),
		Interval:    &monitoringpb.TimeInterval{StartTime: timestamppb.New(metricsNow.Add(-time.Hour)), EndTime: timestamppb.New(metricsNow)},
		Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Hour), PerSeriesAligner: monitoringpb.Aggregation_ALIGN_MEAN}}
	var names []string
	next, err := onePage(c.ListTimeSeries(context.Background(), req), func(ts *monitoringpb.TimeSeries) {
		names = append(names, ts.GetMetric().GetLabels()["instance_name"])
	})
	if err != nil || next == "" || !slices.Equal(names, []string{"vm-0"}) || len(m.Requests()) != 1 {
		t.Errorf("onePage = %q, %v after %v and %d calls; want one series, one call and a next page", next, err, names, len(m.Requests()))
	}
}
