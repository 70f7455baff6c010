package gcpfake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func monitoringClient(t *testing.T, m *gcpfake.Monitoring) *monitoring.MetricClient {
	t.Helper()
	c, err := monitoring.NewMetricClient(context.Background(), m.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newMonitoring(t *testing.T) *gcpfake.Monitoring {
	t.Helper()
	m := gcpfake.NewMonitoring()
	t.Cleanup(m.Close)
	return m
}

// query is a request over [t0, t0+hours h] aligned by the hour.
func query(project, filter string, aligner monitoringpb.Aggregation_Aligner, hours int) *monitoringpb.ListTimeSeriesRequest {
	return &monitoringpb.ListTimeSeriesRequest{
		Name:   "projects/" + project,
		Filter: filter,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(t0),
			EndTime: timestamppb.New(t0.Add(time.Duration(hours) * time.Hour))},
		Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(time.Hour), PerSeriesAligner: aligner},
	}
}

// point is an aligned point: its end and value.
type point struct {
	End   time.Time
	Value float64
}

// series is what a test checks of an answered time series.
type series struct {
	Zone, ID, Name string
	Points         []point
}

func list(t *testing.T, c *monitoring.MetricClient, req *monitoringpb.ListTimeSeriesRequest) ([]series, error) {
	t.Helper()
	var out []series
	it := c.ListTimeSeries(context.Background(), req)
	for {
		ts, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		s := series{Zone: ts.GetResource().GetLabels()["zone"], ID: ts.GetResource().GetLabels()["instance_id"],
			Name: ts.GetMetric().GetLabels()["instance_name"]}
		for _, p := range ts.GetPoints() {
			v := p.GetValue().GetDoubleValue()
			if iv, ok := p.GetValue().GetValue().(*monitoringpb.TypedValue_Int64Value); ok {
				v = float64(iv.Int64Value)
			}
			s.Points = append(s.Points, point{p.GetInterval().GetEndTime().AsTime(), v})
		}
		out = append(out, s)
	}
}

// minutes returns one sample a minute for the hours, the value of
// minute i being f(i).
func minutes(hours int, f func(i int) float64) []gcpfake.MetricPoint {
	var out []gcpfake.MetricPoint
	for i := 0; i < hours*60; i++ {
		out = append(out, gcpfake.MetricPoint{End: t0.Add(time.Duration(i+1) * time.Minute), Value: f(i)})
	}
	return out
}

func cpuFilter(region string) string {
	return `metric.type = "` + gcpfake.MetricCPUUtilization + `" AND resource.type = "gce_instance" AND resource.labels.zone = starts_with("` + region + `-")`
}

func TestMonitoringAlignsRawSamples(t *testing.T) {
	m := newMonitoring(t)
	// Minute i of the first hour is i/100, of the second hour 0.5; the
	// third hour has no sample.
	m.Add("p1", "us-central1-a", "vm-1", 11, gcpfake.MetricCPUUtilization, nil, minutes(2, func(i int) float64 {
		if i < 60 {
			return float64(i) / 100
		}
		return 0.5
	})...)
	// One DELTA sample a minute of 60 bytes, two series (loadbalanced or
	// not) of the instance.
	for _, lb := range []string{"true", "false"} {
		m.Add("p1", "us-central1-a", "vm-1", 11, gcpfake.MetricNetworkReceived, map[string]string{"loadbalanced": lb},
			minutes(1, func(int) float64 { return 60 })...)
	}
	c := monitoringClient(t, m)
	for _, tc := range []struct {
		name    string
		filter  string
		aligner monitoringpb.Aggregation_Aligner
		want    []series
	}{
		{"mean", cpuFilter("us-central1"), monitoringpb.Aggregation_ALIGN_MEAN, []series{{"us-central1-a", "11", "vm-1",
			[]point{{t0.Add(2 * time.Hour), 0.5}, {t0.Add(time.Hour), 0.295}}}}},
		{"max", cpuFilter("us-central1"), monitoringpb.Aggregation_ALIGN_MAX, []series{{"us-central1-a", "11", "vm-1",
			[]point{{t0.Add(2 * time.Hour), 0.5}, {t0.Add(time.Hour), 0.59}}}}},
		{"rate", `metric.type = "` + gcpfake.MetricNetworkReceived + `" AND resource.type = "gce_instance" AND metric.labels.loadbalanced = "false"`,
			monitoringpb.Aggregation_ALIGN_RATE, []series{{"us-central1-a", "11", "vm-1", []point{{t0.Add(time.Hour), 1}}}}},
		{"another region", cpuFilter("europe-west1"), monitoringpb.Aggregation_ALIGN_MEAN, nil},
		{"another resource type", `metric.type = "` + gcpfake.MetricCPUUtilization + `" AND resource.type = "gce_disk"`,
			monitoringpb.Aggregation_ALIGN_MEAN, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := list(t, c, query("p1", tc.filter, tc.aligner, 3))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 })); diff != "" {
				t.Errorf("ListTimeSeries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMonitoringRefusesWhatItDoesNotUnderstand(t *testing.T) {
	m := newMonitoring(t)
	c := monitoringClient(t, m)
	cpu := `metric.type = "` + gcpfake.MetricCPUUtilization + `"`
	for _, tc := range []struct {
		name string
		req  func(*monitoringpb.ListTimeSeriesRequest)
	}{
		{"OR", func(r *monitoringpb.ListTimeSeriesRequest) { r.Filter = cpu + ` OR resource.type = "gce_instance"` }},
		{"lower-case and", func(r *monitoringpb.ListTimeSeriesRequest) { r.Filter = cpu + ` and resource.type = "gce_instance"` }},
		{"has_substring", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Filter = cpu + ` AND resource.labels.zone = has_substring("us")`
		}},
		{"unknown metric type", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Filter = `metric.type = "compute.googleapis.com/instance/cpu/usage_time"`
		}},
		{"no metric type", func(r *monitoringpb.ListTimeSeriesRequest) { r.Filter = `resource.type = "gce_instance"` }},
		{"starts_with on the type", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Filter = `metric.type = starts_with("compute.googleapis.com/")`
		}},
		{"unknown resource label", func(r *monitoringpb.ListTimeSeriesRequest) { r.Filter = cpu + ` AND resource.labels.region = "us"` }},
		{"rate of a gauge", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Aggregation.PerSeriesAligner = monitoringpb.Aggregation_ALIGN_RATE
		}},
		{"another aligner", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Aggregation.PerSeriesAligner = monitoringpb.Aggregation_ALIGN_PERCENTILE_99
		}},
		{"a reducer", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Aggregation.CrossSeriesReducer = monitoringpb.Aggregation_REDUCE_SUM
		}},
		{"no aggregation", func(r *monitoringpb.ListTimeSeriesRequest) { r.Aggregation = nil }},
		{"a short period", func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Aggregation.AlignmentPeriod = durationpb.New(time.Second)
		}},
		{"headers only", func(r *monitoringpb.ListTimeSeriesRequest) { r.View = monitoringpb.ListTimeSeriesRequest_HEADERS }},
		{"no interval", func(r *monitoringpb.ListTimeSeriesRequest) { r.Interval = nil }},
		{"a folder", func(r *monitoringpb.ListTimeSeriesRequest) { r.Name = "folders/12" }},
		{"a foreign page token", func(r *monitoringpb.ListTimeSeriesRequest) { r.PageToken = "abc" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := query("p1", cpu, monitoringpb.Aggregation_ALIGN_MEAN, 1)
			tc.req(req)
			_, err := list(t, c, req)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("ListTimeSeries(%s) = %v; want InvalidArgument", tc.name, err)
			}
		})
	}
}

func TestMonitoringPagesWholeSeries(t *testing.T) {
	m := newMonitoring(t)
	m.SetMaxPagePoints(5)
	for i, name := range []string{"a", "b", "c", "d", "e"} {
		m.Add("p1", "us-central1-b", name, uint64(100+i), gcpfake.MetricCPUUtilization, nil,
			minutes(3, func(int) float64 { return float64(i) / 10 })...)
	}
	c := monitoringClient(t, m)
	got, err := list(t, c, query("p1", cpuFilter("us-central1"), monitoringpb.Aggregation_ALIGN_MEAN, 3))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		if len(s.Points) != 3 {
			t.Errorf("series %s has %d points; want 3", s.Name, len(s.Points))
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, names); diff != "" {
		t.Errorf("series across pages (-want +got):\n%s", diff)
	}
	// 3 points a series, 5 a page: one series a page.
	if n := len(m.Requests()); n != 5 {
		t.Errorf("%d requests; want 5 pages", n)
	}
}

func TestMonitoringFaults(t *testing.T) {
	m := newMonitoring(t)
	m.Add("p1", "us-central1-a", "vm-1", 1, gcpfake.MetricCPUUtilization, nil, minutes(1, func(int) float64 { return 0.1 })...)
	m.Deny("secret")
	c := monitoringClient(t, m)
	req := query("p1", cpuFilter("us-central1"), monitoringpb.Aggregation_ALIGN_MEAN, 1)
	if _, err := list(t, c, query("secret", cpuFilter("us-central1"), monitoringpb.Aggregation_ALIGN_MEAN, 1)); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ListTimeSeries(denied project) = %v; want PermissionDenied", err)
	}
	m.Throttle(2)
	for i := 0; i < 2; i++ {
		if _, err := list(t, c, req); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("throttled call %d = %v; want ResourceExhausted", i, err)
		}
	}
	if got, err := list(t, c, req); err != nil || len(got) != 1 {
		t.Errorf("call after the throttling = %v, %v; want the series", got, err)
	}
}

func TestMonitoringReadsItsSourceOnDemand(t *testing.T) {
	m := newMonitoring(t)
	var asked []gcpfake.MetricQuery
	m.SetSource(func(_ context.Context, q gcpfake.MetricQuery, fn func(gcpfake.MetricSeries) error) error {
		asked = append(asked, q)
		for _, zone := range []string{"us-east1-b", "europe-west4-a"} {
			if !q.Zone(zone) {
				continue
			}
			err := fn(gcpfake.MetricSeries{Project: q.Project, Zone: zone, InstanceName: "vm", InstanceID: 5, Type: q.Type,
				Labels: map[string]string{"state": "used"}, Points: []gcpfake.MetricPoint{{End: t0.Add(time.Hour), Value: 42}}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	c := monitoringClient(t, m)
	filter := `metric.type = "` + gcpfake.MetricMemoryPercentUsed + `" AND resource.type = "gce_instance" AND resource.labels.zone = starts_with("us-east1-") AND metric.labels.state = "used"`
	got, err := list(t, c, query("p9", filter, monitoringpb.Aggregation_ALIGN_MEAN, 1))
	if err != nil {
		t.Fatal(err)
	}
	// The agent's series carry no instance_name.
	want := []series{{"us-east1-b", "5", "", []point{{t0.Add(time.Hour), 42}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListTimeSeries from the source (-want +got):\n%s", diff)
	}
	if len(asked) != 1 || asked[0].Project != "p9" || asked[0].Type != gcpfake.MetricMemoryPercentUsed || !asked[0].From.Equal(t0) {
		t.Errorf("source asked %+v; want one query of p9's memory from %v", asked, t0)
	}
	free := `metric.type = "` + gcpfake.MetricMemoryPercentUsed + `" AND resource.type = "gce_instance" AND metric.labels.state = "free"`
	if got, err := list(t, c, query("p9", free, monitoringpb.Aggregation_ALIGN_MEAN, 1)); err != nil || len(got) != 0 {
		t.Errorf("ListTimeSeries(state free) = %v, %v; want nothing", got, err)
	}
}
