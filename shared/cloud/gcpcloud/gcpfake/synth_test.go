package gcpfake

import (
	"context"
	"testing"
	"time"
)

func TestSyntheticMetricSource(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	e := Synthetic(SyntheticConfig{Seed: 1, Projects: 2, InstancesPerProject: 6, Now: now})
	var project string
	for id := range e.Projects {
		project = id
		break
	}
	src := SyntheticMetricSource(e, 6*time.Hour)
	q := MetricQuery{Project: project, Type: MetricCPUUtilization, From: now.Add(-24 * time.Hour), To: now,
		Zone: func(z string) bool { return z == "us-central1-b" }}
	var series []MetricSeries
	if err := src(context.Background(), q, func(s MetricSeries) error { series = append(series, s); return nil }); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, i := range e.Projects[project].Instances {
		if i.Zone == "us-central1-b" {
			want++
		}
	}
	if want == 0 || len(series) != want {
		t.Fatalf("%d series, want one per instance of the zone (%d)", len(series), want)
	}
	for i, s := range series {
		if s.Zone != "us-central1-b" || s.Project != project || s.InstanceID != NumericID("projects/"+project+"/zones/"+s.Zone+"/instances/"+s.InstanceName) {
			t.Errorf("series %+v is not its instance's", s)
		}
		if len(s.Points) != 4 || !s.Points[0].End.Equal(now.Add(-18*time.Hour)) || !s.Points[3].End.Equal(now) {
			t.Fatalf("series %d has points %v; want four, every 6 h, ending at %s", i, s.Points, now)
		}
		for _, p := range s.Points {
			if p.Value < 0 || p.Value >= 1 {
				t.Errorf("utilization %v is not a fraction", p.Value)
			}
		}
		if i > 0 && series[i-1].InstanceName >= s.InstanceName && series[i-1].Zone == s.Zone {
			t.Errorf("series out of order: %s after %s", s.InstanceName, series[i-1].InstanceName)
		}
	}
	// Memory is not synthesized: the estate has no agent.
	q.Type = MetricMemoryPercentUsed
	n := 0
	_ = src(context.Background(), q, func(MetricSeries) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d memory series; want none", n)
	}
}
