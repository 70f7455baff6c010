package gcpcloud

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	raw "google.golang.org/api/storage/v1"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// bucketEstate is a simulated estate that holds buckets (the catalog
// prices their hot class), served by the fake with the provider owning
// every project of it, listing in pages of 4.
func bucketEstate(t *testing.T) (*simcloud.Estate, *gcpfake.Server, *Provider) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simcloud.New(simcloud.Config{Seed: 5, Resources: 6000, Now: computeNow}, pricing.WithObjectStorage(prices))
	if err != nil {
		t.Fatal(err)
	}
	est, err := gcpfake.FromSim(context.Background(), sim, prices)
	if err != nil {
		t.Fatal(err)
	}
	srv := startCompute(t, est, gcpfake.Options{})
	return sim, srv, computeProvider(t, srv, Config{Projects: sim.Accounts(domain.GCP), PageSize: 4})
}

// simBuckets returns the simulated estate's Google Cloud buckets.
func simBuckets(sim *simcloud.Estate) []domain.Resource {
	var out []domain.Resource
	for _, r := range sim.Resources() {
		if r.Cloud == domain.GCP && r.Kind == domain.KindBucket {
			out = append(out, r)
		}
	}
	return out
}

// TestBucketInventory checks that every project's buckets are listed,
// paged, in their region's scope, with their class, labels, creation
// time and tiering (an owners' rule reads custom) as the estate holds
// them.
func TestBucketInventory(t *testing.T) {
	sim, srv, p := bucketEstate(t)
	var want []domain.Resource
	custom := 0
	for _, r := range simBuckets(sim) {
		r.SizeGiB = 0 // the bucket listing has no size; it comes with the metrics
		want = append(want, r)
		if r.Tiering == domain.TieringCustom {
			custom++
		}
	}
	if len(want) < 10 || custom == 0 {
		t.Fatalf("the estate has %d buckets, %d of them its owners'; want several of each", len(want), custom)
	}
	var got []domain.Resource
	for _, r := range readAll(t, p) {
		if r.Kind == domain.KindBucket {
			got = append(got, r)
		}
	}
	byID := cmpopts.SortSlices(func(a, b domain.Resource) bool { return a.ID < b.ID })
	if diff := cmp.Diff(want, got, byID, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("buckets (-estate +provider):\n%s", diff)
	}
	if n := srv.Calls("storage.buckets.list"); n <= len(sim.Accounts(domain.GCP)) {
		t.Errorf("%d bucket listings for %d projects; want several pages", n, len(sim.Accounts(domain.GCP)))
	}
}

// TestBucketListingFailureKeepsTheProject checks that a project whose
// buckets cannot be listed still reads: its other resources come back,
// without buckets and without an error.
func TestBucketListingFailureKeepsTheProject(t *testing.T) {
	sim, srv, p := bucketEstate(t)
	srv.Inject(gcpfake.Fault{Path: "/storage/v1/b", Status: http.StatusForbidden, Reason: "forbidden",
		Message: "caller does not have storage.buckets.list access"})
	all := readAll(t, p)
	vms := 0
	for _, r := range all {
		switch r.Kind {
		case domain.KindBucket:
			t.Fatalf("bucket %s listed through a denied listing", r.ID)
		case domain.KindVM:
			vms++
		}
	}
	want := 0
	for _, r := range sim.Resources() {
		if r.Cloud == domain.GCP && r.Kind == domain.KindVM {
			want++
		}
	}
	if vms != want || want == 0 {
		t.Errorf("%d VMs read with the bucket listing denied; want the estate's %d", vms, want)
	}
}

// TestBucketSeries checks the daily series read from Cloud Monitoring
// against the estate's: hot-class bytes and objects, and ReadObject
// requests and bytes per second, without the other classes' and
// methods' series the fake serves beside them. Cloud Storage counts
// every request, so a bucket the estate gives no request metrics reads
// zero reads.
func TestBucketSeries(t *testing.T) {
	sim, _, _ := bucketEstate(t)
	m := startMonitoring(t)
	m.SetSource(gcpfake.SimMetricSource(sim))
	p := metricsProvider(t, m, Config{})
	ctx := context.Background()
	w := collect.Window{Start: computeNow.Add(-10*24*time.Hour + time.Hour), End: computeNow}
	scopes := map[collect.Scope][]string{}
	for _, r := range simBuckets(sim) {
		sc := collect.Scope{Account: r.Account, Region: r.Region}
		scopes[sc] = append(scopes[sc], r.ID)
	}
	checked, zeroReads := 0, 0
	for sc, ids := range scopes {
		var want, got []domain.Series
		err := sim.Cloud(domain.GCP).BucketSeries(ctx, sc, ids, w, func(s domain.Series) error { want = append(want, s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		// A bucket without request series reads no reads from its first day.
		has := map[string]map[domain.Metric]bool{}
		for _, s := range want {
			if has[s.ResourceID] == nil {
				has[s.ResourceID] = map[domain.Metric]bool{}
			}
			has[s.ResourceID][s.Metric] = true
		}
		var full []domain.Series
		for _, s := range want {
			full = append(full, s)
			if s.Metric == domain.MetricObjects && !has[s.ResourceID][domain.MetricReadRequests] {
				zeroReads++
				for _, m := range []domain.Metric{domain.MetricReadRequests, domain.MetricReadBytes} {
					z := s
					z.Metric, z.Values = m, make([]float32, len(s.Values))
					full = append(full, z)
				}
			}
		}
		err = p.BucketSeries(ctx, sc, ids, w, func(s domain.Series) error { got = append(got, s); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(full, got, cmpopts.EquateApprox(1e-6, 0)); diff != "" {
			t.Errorf("BucketSeries(%v) (-estate +provider):\n%s", sc, diff)
		}
		checked += len(got)
	}
	t.Logf("%d series compared, %d buckets without request metrics in the estate", checked, zeroReads)
	if checked < 40 || zeroReads == 0 {
		t.Errorf("%d series compared, %d buckets without request metrics; want many, and some", checked, zeroReads)
	}
}

// TestSetTieringGCS checks cloudtrim's lifecycle rule on Cloud Storage:
// set and read back (with its label), replayed without a second patch,
// replayed onto the simulated estate, and removed, with an owners'
// deletion rule surviving both; refused on an owners' bucket (a
// transition rule, or Autoclass), for an unknown class, a bucket of
// another project, a project not owned, and a change made in between.
func TestSetTieringGCS(t *testing.T) {
	sim, srv, p := bucketEstate(t)
	ctx := context.Background()
	var plain, custom domain.Resource
	for _, r := range simBuckets(sim) {
		switch {
		case r.Tiering == domain.TieringNone && plain.ID == "":
			plain = r
		case r.Tiering == domain.TieringCustom && custom.ID == "":
			custom = r
		}
	}
	if plain.ID == "" || custom.ID == "" {
		t.Fatal("the estate has no plain and no owners' bucket")
	}
	days := int64(7)
	srv.Estate.Lock()
	srv.Estate.Buckets[plain.ID].Lifecycle = []*raw.BucketLifecycleRule{{Action: &raw.BucketLifecycleRuleAction{Type: "Delete"},
		Condition: &raw.BucketLifecycleRuleCondition{Age: &days, MatchesPrefix: []string{"tmp/"}}}}
	srv.Estate.Unlock()

	rule := domain.TierRule{Class: "COLDLINE", AfterDays: 30}
	if err := p.SetTiering(ctx, plain.Ref(), rule, "tok-1"); err != nil {
		t.Fatal(err)
	}
	patches := srv.Calls("storage.buckets.patch")
	if err := p.SetTiering(ctx, plain.Ref(), rule, "tok-1"); err != nil || srv.Calls("storage.buckets.patch") != patches || patches != 1 {
		t.Errorf("replayed SetTiering = %v after %d patches, now %d; want one patch", err, patches, srv.Calls("storage.buckets.patch"))
	}
	got, err := p.Get(ctx, plain.Ref())
	if err != nil || got.Tiering != "COLDLINE@30d" || got.Tags[TierLabel] != "coldline-30d" {
		t.Fatalf("Get after SetTiering = %q, labels %v, %v; want COLDLINE@30d labelled coldline-30d", got.Tiering, got.Tags, err)
	}
	srv.Estate.Lock()
	rules := srv.Estate.Buckets[plain.ID].Lifecycle
	srv.Estate.Unlock()
	if len(rules) != 2 || rules[0].Action.Type != "Delete" || rules[1].Action.StorageClass != "COLDLINE" ||
		*rules[1].Condition.Age != 30 || !slices.Equal(rules[1].Condition.MatchesStorageClass, []string{"STANDARD"}) {
		t.Errorf("lifecycle after SetTiering: %v; want the owners' Delete rule, then STANDARD → COLDLINE after 30 days", rules)
	}
	if err := gcpfake.ApplyToSim(ctx, sim, srv.Mutations()); err != nil {
		t.Fatal(err)
	}
	if live, _ := sim.Cloud(domain.GCP).Get(ctx, plain.Ref()); live.Tiering != "COLDLINE@30d" {
		t.Errorf("the estate's bucket has tiering %q after the replay; want COLDLINE@30d", live.Tiering)
	}

	if err := p.SetTiering(ctx, plain.Ref(), domain.TierRule{}, "tok-2"); err != nil {
		t.Fatal(err)
	}
	got, err = p.Get(ctx, plain.Ref())
	srv.Estate.Lock()
	rules = srv.Estate.Buckets[plain.ID].Lifecycle
	srv.Estate.Unlock()
	if _, labelled := got.Tags[TierLabel]; err != nil || got.Tiering != domain.TieringNone || labelled || len(rules) != 1 || rules[0].Action.Type != "Delete" {
		t.Errorf("after removal: tiering %q, labels %v, rules %v, %v; want none, no label, the owners' rule", got.Tiering, got.Tags, rules, err)
	}
	patches = srv.Calls("storage.buckets.patch")
	if err := p.SetTiering(ctx, plain.Ref(), domain.TierRule{}, "tok-2"); err != nil || srv.Calls("storage.buckets.patch") != patches {
		t.Errorf("replayed removal = %v with %d more patches; want none", err, srv.Calls("storage.buckets.patch")-patches)
	}

	// An owners' rule of cloudtrim's very shape, without the label, is
	// the owners'.
	twin := plain
	srv.Estate.Lock()
	srv.Estate.Buckets[twin.ID].Lifecycle = []*raw.BucketLifecycleRule{gcpfake.TierRule("NEARLINE", 30)}
	srv.Estate.Unlock()
	if got, _ := p.Get(ctx, twin.Ref()); got.Tiering != domain.TieringCustom {
		t.Errorf("an unlabelled rule of cloudtrim's shape reads %q; want custom", got.Tiering)
	}

	for _, tc := range []struct {
		name string
		ref  domain.ResourceRef
		rule domain.TierRule
		want error
	}{
		{"owners' bucket", custom.Ref(), rule, domain.ErrConflict},
		{"owners' twin rule", twin.Ref(), rule, domain.ErrConflict},
		{"unknown class", plain.Ref(), domain.TierRule{Class: "GLACIER_IR", AfterDays: 30}, domain.ErrInvalid},
		{"no days", plain.Ref(), domain.TierRule{Class: "NEARLINE"}, domain.ErrInvalid},
		{"missing bucket", domain.ResourceRef{Cloud: domain.GCP, Account: plain.Account, Region: plain.Region, Kind: domain.KindBucket, ID: "no-such-bucket-1"}, rule, domain.ErrNotFound},
		{"project not owned", domain.ResourceRef{Cloud: domain.GCP, Account: "someone-else-1", Region: plain.Region, Kind: domain.KindBucket, ID: plain.ID}, rule, domain.ErrPermission},
		{"not a bucket name", domain.ResourceRef{Cloud: domain.GCP, Account: plain.Account, Kind: domain.KindBucket, ID: "projects/x/zones/y/instances/z"}, rule, domain.ErrInvalid},
	} {
		if err := p.SetTiering(ctx, tc.ref, tc.rule, "tok-3"); !errors.Is(err, tc.want) {
			t.Errorf("%s: SetTiering = %v; want %v", tc.name, err, tc.want)
		}
	}
	// A bucket of another project, named under this one.
	for _, r := range simBuckets(sim) {
		if r.Account != plain.Account {
			ref := r.Ref()
			ref.Account = plain.Account
			if err := p.SetTiering(ctx, ref, rule, "tok-4"); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("SetTiering of %s named under project %s = %v; want ErrNotFound", r.ID, plain.Account, err)
			}
			break
		}
	}
	// Autoclass is the owners' too.
	srv.Estate.Lock()
	srv.Estate.Buckets[plain.ID].Lifecycle, srv.Estate.Buckets[plain.ID].Autoclass = nil, true
	srv.Estate.Unlock()
	if err := p.SetTiering(ctx, plain.Ref(), rule, "tok-5"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("SetTiering on an Autoclass bucket = %v; want ErrConflict", err)
	}
	// A change between the read and the patch fails the precondition.
	srv.Estate.Lock()
	srv.Estate.Buckets[plain.ID].Autoclass = false
	srv.Estate.Unlock()
	srv.Inject(gcpfake.Fault{Path: "/storage/v1/b/" + plain.ID, Verb: http.MethodPatch, Status: http.StatusPreconditionFailed,
		Reason: "conditionNotMet", Message: "At least one of the pre-conditions you specified did not hold."})
	if err := p.SetTiering(ctx, plain.Ref(), rule, "tok-6"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("SetTiering whose patch fails its precondition = %v; want ErrConflict", err)
	}
}
