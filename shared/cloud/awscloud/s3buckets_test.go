package awscloud_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// newBucketFake serves an estate that holds buckets: the price catalog
// the demo builds it with prices their hot class.
func newBucketFake(t *testing.T) (*simcloud.Estate, *awsfake.Server) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Config{Seed: 5, Resources: 6000, Now: demoNow}, pricing.WithObjectStorage(prices))
	if err != nil {
		t.Fatal(err)
	}
	srv := awsfake.New(est.Cloud(domain.AWS), awsfake.Options{Prices: prices})
	t.Cleanup(srv.Close)
	return est, srv
}

// TestBucketInventory checks that the provider lists each account's S3
// buckets, paged, with their tags, creation time and lifecycle
// transitions, as the estate holds them.
func TestBucketInventory(t *testing.T) {
	est, srv := newBucketFake(t)
	ctx := context.Background()
	total := 0
	for _, account := range est.Accounts(domain.AWS) {
		p := newProvider(t, srv, account) // pages of 5
		var want, got []domain.Resource
		for _, r := range est.Resources() {
			if r.Cloud == domain.AWS && r.Account == account && r.Kind == domain.KindBucket {
				r.SizeGiB = 0 // S3 inventory has no size; it comes with the metrics
				want = append(want, r)
			}
		}
		err := p.Resources(ctx, collect.Scope{Account: account, Region: "us-east-1"}, func(page []domain.Resource) error {
			for _, r := range page {
				if r.Kind == domain.KindBucket {
					got = append(got, r)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		byID := func(rs []domain.Resource) map[string]domain.Resource {
			m := map[string]domain.Resource{}
			for _, r := range rs {
				m[r.ID] = r
			}
			return m
		}
		if diff := cmp.Diff(byID(want), byID(got)); diff != "" {
			t.Errorf("buckets of %s (-estate +provider):\n%s", account, diff)
		}
		total += len(got)
	}
	if total < 6 || srv.CallCount("s3", "ListBuckets") < 3 {
		t.Errorf("%d buckets in %d ListBuckets calls; want several pages", total, srv.CallCount("s3", "ListBuckets"))
	}
}

// TestSetTiering checks cloudtrim's lifecycle rule on S3: it is set and
// read back, a replay writes nothing, a foreign rule of the bucket
// survives setting and removing it, an owners' bucket and an unknown
// class are refused, and a missing bucket is not found.
func TestSetTiering(t *testing.T) {
	est, srv := newBucketFake(t)
	ctx := context.Background()
	var plain, custom domain.Resource
	for _, r := range est.Resources() {
		if r.Cloud != domain.AWS || r.Kind != domain.KindBucket {
			continue
		}
		switch {
		case r.Tiering == domain.TieringNone && plain.ID == "":
			plain = r
		case r.Tiering == domain.TieringCustom && custom.ID == "":
			custom = r
		}
	}
	if plain.ID == "" || custom.ID == "" {
		t.Fatal("the estate has no plain and no owners' S3 bucket")
	}
	p := newProvider(t, srv, plain.Account)
	// A foreign expiration rule, as an owner would have set it.
	if err := srv.PutForeignLifecycleRule(plain.ID, "expire-tmp", 7); err != nil {
		t.Fatal(err)
	}
	rule := domain.TierRule{Class: "STANDARD_IA", AfterDays: 30}
	if err := p.SetTiering(ctx, plain.Ref(), rule, "tok-1"); err != nil {
		t.Fatal(err)
	}
	puts := srv.CallCount("s3", "PutBucketLifecycleConfiguration")
	if err := p.SetTiering(ctx, plain.Ref(), rule, "tok-1"); err != nil || srv.CallCount("s3", "PutBucketLifecycleConfiguration") != puts {
		t.Errorf("replayed SetTiering = %v after %d puts, now %d; want no second write", err, puts, srv.CallCount("s3", "PutBucketLifecycleConfiguration"))
	}
	got, err := p.Get(ctx, plain.Ref())
	if err != nil || got.Tiering != "STANDARD_IA@30d" {
		t.Fatalf("Get after SetTiering = %q, %v; want STANDARD_IA@30d", got.Tiering, err)
	}
	if live, _ := est.Cloud(domain.AWS).Get(ctx, plain.Ref()); live.Tiering != "STANDARD_IA@30d" {
		t.Errorf("the estate's bucket has tiering %q; want STANDARD_IA@30d", live.Tiering)
	}
	if !srv.HasForeignLifecycleRule(plain.ID, "expire-tmp") {
		t.Error("the bucket's own expiration rule was lost by setting cloudtrim's")
	}
	if err := p.SetTiering(ctx, plain.Ref(), domain.TierRule{}, "tok-2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Get(ctx, plain.Ref()); got.Tiering != domain.TieringNone || !srv.HasForeignLifecycleRule(plain.ID, "expire-tmp") {
		t.Errorf("after removal: tiering %q, expiration rule kept %v; want none and kept", got.Tiering, srv.HasForeignLifecycleRule(plain.ID, "expire-tmp"))
	}

	pc := newProvider(t, srv, custom.Account)
	if err := pc.SetTiering(ctx, custom.Ref(), rule, "tok-3"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("SetTiering on an owners' bucket = %v; want ErrConflict", err)
	}
	if err := p.SetTiering(ctx, plain.Ref(), domain.TierRule{Class: "NEARLINE", AfterDays: 30}, "tok-4"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("SetTiering to a Cloud Storage class = %v; want ErrInvalid", err)
	}
	gone := plain.Ref()
	gone.ID = "no-such-bucket-here"
	if _, err := p.Get(ctx, gone); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get of a missing bucket = %v; want ErrNotFound", err)
	}
}

// TestBucketSeries checks the S3 metrics read from CloudWatch against
// the estate's own daily series: the same days and values, and no read
// series for a bucket without request metrics.
func TestBucketSeries(t *testing.T) {
	est, srv := newBucketFake(t)
	ctx := context.Background()
	window := collect.Window{Start: demoNow.Add(-14 * 24 * time.Hour), End: demoNow}
	checked, unmetered := 0, 0
	for _, account := range est.Accounts(domain.AWS) {
		scope := collect.Scope{Account: account, Region: "us-east-1"}
		var ids []string
		for _, r := range est.Resources() {
			if r.Cloud == domain.AWS && r.Account == account && r.Kind == domain.KindBucket {
				ids = append(ids, r.ID)
			}
		}
		want := map[string]domain.Series{}
		if err := est.Cloud(domain.AWS).BucketSeries(ctx, scope, ids, window, func(s domain.Series) error {
			want[s.ResourceID+"/"+string(s.Metric)] = s
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got := map[string]domain.Series{}
		if err := newProvider(t, srv, account).BucketSeries(ctx, scope, ids, window, func(s domain.Series) error {
			got[s.ResourceID+"/"+string(s.Metric)] = s
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("account %s: %d series; want %d", account, len(got), len(want))
		}
		for k, w := range want {
			g, ok := got[k]
			if !ok || !g.Start.Equal(w.Start) || g.Step != w.Step || len(g.Values) != len(w.Values) {
				t.Errorf("%s: got %v %v %d points; want %v %v %d", k, g.Start, g.Step, len(g.Values), w.Start, w.Step, len(w.Values))
				continue
			}
			for i := range w.Values {
				if a, b := float64(g.Values[i]), float64(w.Values[i]); domain.IsMissing(w.Values[i]) != domain.IsMissing(g.Values[i]) || math.Abs(a-b) > 1e-5*math.Abs(b) {
					t.Errorf("%s day %d = %v; want %v", k, i, a, b)
					break
				}
			}
			checked++
		}
		for _, id := range ids {
			if kind, _ := est.BucketKind(id); kind == "unmetered" {
				unmetered++
				if _, ok := got[id+"/"+string(domain.MetricReadRequests)]; ok {
					t.Errorf("unmetered bucket %s has a read series", id)
				}
			}
		}
	}
	if checked < 20 || unmetered == 0 {
		t.Errorf("checked %d series and %d unmetered buckets; want more", checked, unmetered)
	}
}

// TestBucketListingFailureKeepsTheScope checks that a bucket listing S3
// refuses costs the scope its buckets only, not its VMs.
func TestBucketListingFailureKeepsTheScope(t *testing.T) {
	est, srv := newBucketFake(t)
	account := est.Accounts(domain.AWS)[0]
	srv.Fail("s3", "ListBuckets", "", 1, "AccessDenied", 403)
	var vms, buckets int
	err := newProvider(t, srv, account).Resources(context.Background(), collect.Scope{Account: account, Region: "us-east-1"}, func(page []domain.Resource) error {
		for _, r := range page {
			switch r.Kind {
			case domain.KindVM:
				vms++
			case domain.KindBucket:
				buckets++
			}
		}
		return nil
	})
	if err != nil || vms == 0 || buckets != 0 {
		t.Errorf("Resources with ListBuckets denied = %v, %d VMs, %d buckets; want no error, the VMs, no buckets", err, vms, buckets)
	}
}
