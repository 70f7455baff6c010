package simcloud

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestBucketSeries checks the daily bucket series: whole UTC days up to
// the clock, the hot bytes of the last day matching the inventory's
// size, and no request series for a bucket without request metrics.
func TestBucketSeries(t *testing.T) {
	e := newEstate(t, Demo(testNow))
	ctx := context.Background()
	window := collect.Window{Start: testNow.Add(-14 * 24 * time.Hour), End: testNow}
	kinds := map[string]int{}
	for _, r := range e.Resources() {
		if r.Kind != domain.KindBucket {
			continue
		}
		kind, _ := e.BucketKind(r.ID)
		kinds[kind]++
		got := map[domain.Metric]domain.Series{}
		err := e.Cloud(r.Cloud).BucketSeries(ctx, collect.Scope{Account: r.Account, Region: r.Region}, []string{r.ID, "not-a-bucket"}, window,
			func(s domain.Series) error {
				if s.ResourceID != r.ID || s.Step != 24*time.Hour || s.Start.Hour() != 0 || !s.End().Equal(testNow.Truncate(24*time.Hour)) {
					t.Errorf("%s %s: start %v step %v end %v; want whole days up to %v", r.ID, s.Metric, s.Start, s.Step, s.End(), testNow.Truncate(24*time.Hour))
				}
				got[s.Metric] = s
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		want := 4
		if kind == "unmetered" {
			want = 2
			if _, ok := got[domain.MetricReadRequests]; ok {
				t.Errorf("unmetered bucket %s has request series", r.ID)
			}
		}
		if len(got) != want {
			t.Errorf("%s bucket %s: %d series; want %d", kind, r.ID, len(got), want)
		}
		bytes := got[domain.MetricStoredBytes].Values
		last := float64(bytes[len(bytes)-1]) / (1 << 30)
		if math.Abs(last-float64(r.SizeGiB)) > 0.03*float64(r.SizeGiB)+1 { // the last point is yesterday's
			t.Errorf("%s bucket %s: last day holds %.0f GiB; inventory says %d", kind, r.ID, last, r.SizeGiB)
		}
		first := float64(bytes[0]) / (1 << 30)
		switch kind {
		case "logs":
			if first >= last*0.95 {
				t.Errorf("logs bucket %s: %.0f GiB → %.0f GiB; want growth", r.ID, first, last)
			}
		case "churn":
			if first <= last*1.05 {
				t.Errorf("churn bucket %s: %.0f GiB → %.0f GiB; want shrinkage", r.ID, first, last)
			}
		}
	}
	for _, k := range []string{"cold", "logs", "hot", "small-objects", "churn", "unmetered"} {
		if kinds[k] == 0 {
			t.Errorf("demo has no %s bucket (%v)", k, kinds)
		}
	}
}

// TestSetTiering checks the simulated lifecycle rule: set, repeated with
// its token, refused on an owners' bucket or for an unknown class, and
// removed.
func TestSetTiering(t *testing.T) {
	e := newEstate(t, Config{Seed: 3, Resources: 20_000, Now: testNow})
	ctx := context.Background()
	var plain, custom *domain.Resource
	for _, r := range e.Resources() {
		if r.Kind == domain.KindBucket && r.Cloud == domain.GCP {
			switch {
			case r.Tiering == domain.TieringNone && plain == nil:
				plain = &r
			case r.Tiering == domain.TieringCustom && custom == nil:
				custom = &r
			}
		}
	}
	if plain == nil || custom == nil {
		t.Fatal("no plain and custom GCP buckets in the estate")
	}
	c := e.Cloud(domain.GCP)
	rule := domain.TierRule{Class: "NEARLINE", AfterDays: 30}
	for range 2 {
		if err := c.SetTiering(ctx, plain.Ref(), rule, "tok-1"); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := c.Get(ctx, plain.Ref()); r.Tiering != "NEARLINE@30d" {
		t.Errorf("tiering after SetTiering = %q; want NEARLINE@30d", r.Tiering)
	}
	if calls := e.Calls(); len(calls) != 2 || !calls[1].Repeat {
		t.Errorf("calls = %+v; want the second a repeat", calls)
	}
	if err := c.SetTiering(ctx, custom.Ref(), rule, "tok-2"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("SetTiering on an owners' bucket = %v; want ErrConflict", err)
	}
	if err := c.SetTiering(ctx, plain.Ref(), domain.TierRule{Class: "GLACIER_IR", AfterDays: 30}, "tok-3"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("SetTiering to an S3 class on GCP = %v; want ErrInvalid", err)
	}
	if err := c.SetTiering(ctx, plain.Ref(), domain.TierRule{}, "tok-4"); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Get(ctx, plain.Ref()); r.Tiering != domain.TieringNone {
		t.Errorf("tiering after removal = %q; want none", r.Tiering)
	}
}
