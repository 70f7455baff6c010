package gcpcloud

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestScopesArePerProjectAndRegion(t *testing.T) {
	srv := startCompute(t, smallCompute(t), gcpfake.Options{})
	p := computeProvider(t, srv, Config{Projects: []string{projA, projB, projC}})
	got, err := p.Scopes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []collect.Scope{
		{Account: projB, Region: "europe-west1"}, {Account: projB, Region: "us-central1"},
		{Account: projC},
		{Account: projA, Region: "europe-west1"}, {Account: projA, Region: "global"}, {Account: projA, Region: "us-central1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Scopes() (-want +got):\n%s", diff)
	}
	// The empty project's scope reads as empty, not as an error, and
	// without another listing.
	before := srv.Calls("compute.instances.aggregatedList")
	n := 0
	if err := p.Resources(context.Background(), collect.Scope{Account: projC}, func(rs []domain.Resource) error { n += len(rs); return nil }); err != nil || n != 0 {
		t.Fatalf("Resources(empty project) = %d resources, %v; want none and no error", n, err)
	}
	if after := srv.Calls("compute.instances.aggregatedList"); after != before {
		t.Errorf("the empty project was listed again (%d calls, %d before)", after, before)
	}
}

// TestResourcesOfARegion checks the conversions of every kind, in the
// order Resources hands them on: instances, disks, addresses,
// snapshots. The internal address is left out.
func TestResourcesOfARegion(t *testing.T) {
	srv := startCompute(t, smallCompute(t), gcpfake.Options{})
	p := computeProvider(t, srv, Config{Projects: []string{projA}})
	created := computeNow.AddDate(0, -2, 0)
	ctx := context.Background()
	read := func(region string) []domain.Resource {
		var out []domain.Resource
		if err := p.Resources(ctx, collect.Scope{Account: projA, Region: region}, func(rs []domain.Resource) error {
			out = append(out, rs...)
			return nil
		}); err != nil {
			t.Fatalf("Resources(%s): %v", region, err)
		}
		return out
	}
	base := domain.Resource{Cloud: domain.GCP, Account: projA, CreatedAt: created, Tags: map[string]string{}}
	res := func(r domain.Resource) domain.Resource {
		out := base
		out.Region, out.Kind, out.ID, out.Name, out.SKU, out.State = r.Region, r.Kind, r.ID, r.Name, r.SKU, r.State
		out.SizeGiB, out.AttachedTo = r.SizeGiB, r.AttachedTo
		if r.Tags != nil {
			out.Tags = r.Tags
		}
		return out
	}
	optin := map[string]string{"env": "prod", "cloudtrim-optin": "true"}
	pre := "projects/" + projA
	want := []domain.Resource{
		res(domain.Resource{Region: "us-central1", Kind: domain.KindVM, ID: pre + "/zones/us-central1-a/instances/vm-a", Name: "vm-a", SKU: "n2-standard-4", State: domain.StateRunning, Tags: optin}),
		res(domain.Resource{Region: "us-central1", Kind: domain.KindVM, ID: pre + "/zones/us-central1-a/instances/vm-c", Name: "vm-c", SKU: "n2-standard-4", State: domain.StateRunning, Tags: optin}),
		res(domain.Resource{Region: "us-central1", Kind: domain.KindDisk, ID: pre + "/regions/us-central1/disks/shared", Name: "shared", SKU: "pd-ssd", State: domain.StateAvailable, SizeGiB: 100}),
		res(domain.Resource{Region: "us-central1", Kind: domain.KindDisk, ID: pre + "/zones/us-central1-a/disks/orphan", Name: "orphan", SKU: "pd-standard", State: domain.StateAvailable, SizeGiB: 200, Tags: map[string]string{"team": "data"}}),
		res(domain.Resource{Region: "us-central1", Kind: domain.KindDisk, ID: pre + "/zones/us-central1-a/disks/vm-a", Name: "vm-a", SKU: "pd-balanced", State: domain.StateInUse, SizeGiB: 50, AttachedTo: pre + "/zones/us-central1-a/instances/vm-a"}),
		res(domain.Resource{Region: "us-central1", Kind: domain.KindDisk, ID: pre + "/zones/us-central1-a/disks/vm-c", Name: "vm-c", SKU: "pd-balanced", State: domain.StateInUse, SizeGiB: 50, AttachedTo: pre + "/zones/us-central1-a/instances/vm-c"}),
		res(domain.Resource{Region: "us-central1", Kind: domain.KindIP, ID: pre + "/regions/us-central1/addresses/web-ip", Name: "web-ip", SKU: IPSKU, State: domain.StateAssociated, AttachedTo: pre + "/zones/us-central1-a/instances/vm-a"}),
	}
	if diff := cmp.Diff(want, read("us-central1")); diff != "" {
		t.Errorf("Resources(us-central1) (-want +got):\n%s", diff)
	}
	want = []domain.Resource{
		res(domain.Resource{Region: "europe-west1", Kind: domain.KindVM, ID: pre + "/zones/europe-west1-b/instances/vm-b", Name: "vm-b", SKU: "n2-standard-4", State: domain.StateRunning, Tags: optin}),
		res(domain.Resource{Region: "europe-west1", Kind: domain.KindDisk, ID: pre + "/zones/europe-west1-b/disks/vm-b", Name: "vm-b", SKU: "pd-balanced", State: domain.StateInUse, SizeGiB: 50, AttachedTo: pre + "/zones/europe-west1-b/instances/vm-b"}),
		res(domain.Resource{Region: "europe-west1", Kind: domain.KindIP, ID: pre + "/regions/europe-west1/addresses/spare-ip", Name: "spare-ip", SKU: IPUnusedSKU, State: domain.StateAvailable}),
		// Stored in europe-west1: filed there.
		res(domain.Resource{Region: "europe-west1", Kind: domain.KindSnapshot, ID: pre + "/global/snapshots/orphan-snap", Name: "orphan-snap", SKU: SnapshotSKU, State: domain.StateAvailable, SizeGiB: 200, AttachedTo: pre + "/zones/us-central1-a/disks/orphan"}),
		// Stored in the "eu" multi-region: filed in its disk's region.
		res(domain.Resource{Region: "europe-west1", Kind: domain.KindSnapshot, ID: pre + "/global/snapshots/vm-b-snap", Name: "vm-b-snap", SKU: SnapshotSKU, State: domain.StateAvailable, SizeGiB: 50, AttachedTo: pre + "/zones/europe-west1-b/disks/vm-b"}),
	}
	if diff := cmp.Diff(want, read("europe-west1")); diff != "" {
		t.Errorf("Resources(europe-west1) (-want +got):\n%s", diff)
	}
	want = []domain.Resource{
		res(domain.Resource{Region: "global", Kind: domain.KindIP, ID: pre + "/global/addresses/lb-ip", Name: "lb-ip", SKU: IPUnusedSKU, State: domain.StateAvailable}),
	}
	if diff := cmp.Diff(want, read("global")); diff != "" {
		t.Errorf("Resources(global) (-want +got):\n%s", diff)
	}
	if n := len(read("asia-east1")); n != 0 {
		t.Errorf("Resources(a region without resources) = %d resources; want none", n)
	}
	// The three regions and the empty one came from one listing pass.
	if n := srv.Calls("compute.snapshots.list"); n != 1 {
		t.Errorf("%d snapshot listings for the regions of one project; want 1", n)
	}
}

// TestResourcesPagesAndHoldsOneProject lists a synthetic estate with a
// page size far smaller than a project: every page of every listing is
// followed, fn gets pages of at most PageSize, every resource comes
// once, the listing and the instance IDs held are one project's.
func TestResourcesPagesAndHoldsOneProject(t *testing.T) {
	est := gcpfake.Synthetic(gcpfake.SyntheticConfig{Seed: 7, Projects: 3, InstancesPerProject: 40, Now: computeNow})
	srv := startCompute(t, est, gcpfake.Options{})
	const pageSize = 7
	p := computeProvider(t, srv, Config{PageSize: pageSize})
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	kinds := map[domain.Kind]int{}
	for _, sc := range scopes {
		err := p.Resources(ctx, sc, func(rs []domain.Resource) error {
			if len(rs) == 0 || len(rs) > pageSize {
				t.Errorf("Resources(%v) handed on a page of %d; want 1..%d", sc, len(rs), pageSize)
			}
			for _, r := range rs {
				if seen[r.ID] {
					t.Errorf("resource %s handed on twice", r.ID)
				}
				seen[r.ID] = true
				kinds[r.Kind]++
				if r.Account != sc.Account || r.Region != sc.Region {
					t.Errorf("resource %s of %s/%s in scope %v", r.ID, r.Account, r.Region, sc)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Resources(%v): %v", sc, err)
		}
		p.mu.Lock()
		held, ids := p.listing.project, len(p.vmIDs)
		p.mu.Unlock()
		if held != sc.Account || ids != 1 {
			t.Errorf("after Resources(%v) the provider holds project %q and the IDs of %d projects; want only %s", sc, held, ids, sc.Account)
		}
	}
	// Per project of 40 instances: 40 boot + 10 data + 4 orphan disks,
	// 8 + 2 addresses, 4 snapshots.
	want := map[domain.Kind]int{domain.KindVM: 120, domain.KindDisk: 162, domain.KindIP: 30, domain.KindSnapshot: 12}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("resources read by kind (-want +got):\n%s", diff)
	}
	// Each project is listed twice (Scopes, then Resources), the last
	// project once only; 40 instances are 6 pages of 7.
	if n := srv.Calls("compute.instances.aggregatedList"); n != 6*5 {
		t.Errorf("%d instance list pages; want 30 (5 listings of 6 pages)", n)
	}
	// The IDs Cloud Monitoring names instances by map to their names.
	last := scopes[len(scopes)-1].Account
	ids := p.instanceIDs(last)
	id := "projects/" + last + "/zones/us-central1-b/instances/vm-00000"
	if got := ids[strconv.FormatUint(gcpfake.NumericID(id), 10)]; got != id || len(ids) != 40 {
		t.Errorf("instanceIDs(%s) maps %d instances, vm-00000 to %q; want 40 and %s", last, len(ids), got, id)
	}
}

func TestForbiddenProjectIsAFailedScope(t *testing.T) {
	srv := startCompute(t, smallCompute(t), gcpfake.Options{})
	srv.Deny(projB)
	p := computeProvider(t, srv, Config{Projects: []string{projA, projB}})
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatalf("Scopes with one forbidden project: %v; want the other listed", err)
	}
	want := []collect.Scope{{Account: projB},
		{Account: projA, Region: "europe-west1"}, {Account: projA, Region: "global"}, {Account: projA, Region: "us-central1"}}
	if diff := cmp.Diff(want, scopes); diff != "" {
		t.Fatalf("Scopes() (-want +got):\n%s", diff)
	}
	for _, sc := range scopes {
		n := 0
		err := p.Resources(ctx, sc, func(rs []domain.Resource) error { n += len(rs); return nil })
		if sc.Account != projB {
			if err != nil || n == 0 {
				t.Errorf("Resources(%v) = %d resources, %v; want the readable project read", sc, n, err)
			}
			continue
		}
		var gerr *Error
		if !errors.Is(err, domain.ErrPermission) || !errors.As(err, &gerr) || gerr.Reason != "forbidden" || gerr.Status != http.StatusForbidden || n != 0 {
			t.Errorf("Resources(%v) = %d resources, %v; want none and a 403 forbidden *Error wrapping ErrPermission", sc, n, err)
		}
	}
	// A Resources of the failed scope without Scopes lists again.
	fresh := computeProvider(t, srv, Config{Projects: []string{projB}})
	if err := fresh.Resources(ctx, collect.Scope{Account: projB}, func([]domain.Resource) error { return nil }); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Resources(denied project) before Scopes = %v; want ErrPermission", err)
	}
}

func TestThrottlingIsRetriedThenGivenUp(t *testing.T) {
	ctx := context.Background()
	scope := collect.Scope{Account: projA, Region: "us-central1"}
	count := func(p *Provider) (int, error) {
		n := 0
		err := p.Resources(ctx, scope, func(rs []domain.Resource) error { n += len(rs); return nil })
		return n, err
	}

	t.Run("storm then success", func(t *testing.T) {
		srv := startCompute(t, smallCompute(t), gcpfake.Options{})
		srv.Throttle("/aggregated/disks", 3)
		p := computeProvider(t, srv, Config{Projects: []string{projA}, MaxRetries: 4})
		n, err := count(p)
		if err != nil || n != 7 {
			t.Fatalf("Resources after 3 throttled answers = %d, %v; want the 7 resources of the scope", n, err)
		}
		if got := srv.Calls("compute.disks.aggregatedList"); got != 4 {
			t.Errorf("%d disk listing calls; want 4 (3 throttled, 1 served)", got)
		}
	})

	t.Run("persistent", func(t *testing.T) {
		srv := startCompute(t, smallCompute(t), gcpfake.Options{})
		srv.Throttle("/aggregated/addresses", 0)
		p := computeProvider(t, srv, Config{Projects: []string{projA}, MaxRetries: 2})
		n, err := count(p)
		var gerr *Error
		if !errors.Is(err, domain.ErrThrottled) || !errors.As(err, &gerr) || gerr.Status != http.StatusTooManyRequests || gerr.Reason != "rateLimitExceeded" {
			t.Fatalf("Resources under persistent throttling = %v; want a 429 rateLimitExceeded wrapping ErrThrottled", err)
		}
		if n != 6 {
			t.Errorf("%d resources handed on before the throttled listing; want the 6 instances and disks (a partial scope)", n)
		}
		if got := srv.Calls("compute.addresses.aggregatedList"); got != 3 {
			t.Errorf("%d address listing attempts; want 3 (MaxRetries 2)", got)
		}
	})

	t.Run("no retries", func(t *testing.T) {
		srv := startCompute(t, smallCompute(t), gcpfake.Options{})
		srv.Throttle("/aggregated/instances", 1)
		p := computeProvider(t, srv, Config{Projects: []string{projA}, MaxRetries: -1})
		if _, err := count(p); !errors.Is(err, domain.ErrThrottled) {
			t.Fatalf("Resources throttled once without retries = %v; want ErrThrottled", err)
		}
		if got := srv.Calls("compute.instances.aggregatedList"); got != 1 {
			t.Errorf("%d attempts; want 1", got)
		}
	})
}

func TestMalformedAndRepeatedPagesAreErrors(t *testing.T) {
	ctx := context.Background()
	scope := collect.Scope{Account: projA, Region: "us-central1"}
	for _, tc := range []struct {
		name  string
		fault gcpfake.Fault
		want  string
	}{
		{"not JSON", gcpfake.Fault{Path: "/global/snapshots", Body: "<html>oops</html>"}, "list the snapshots"},
		{"a token served again", gcpfake.Fault{Path: "/aggregated/instances",
			Body: `{"items":{"zones/us-central1-a":{"instances":[{"name":"vm-x","zone":"zones/us-central1-a","status":"RUNNING"}]}},"nextPageToken":"again"}`},
			"repeated the page token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startCompute(t, smallCompute(t), gcpfake.Options{})
			srv.Inject(tc.fault)
			p := computeProvider(t, srv, Config{Projects: []string{projA}})
			err := p.Resources(ctx, scope, func([]domain.Resource) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Resources with %s = %v; want an error naming %q", tc.name, err, tc.want)
			}
			for _, kind := range []error{domain.ErrThrottled, domain.ErrPermission, domain.ErrNotFound} {
				if errors.Is(err, kind) {
					t.Errorf("Resources with %s = %v; want no kind of %v", tc.name, err, kind)
				}
			}
		})
	}
}

func TestCallbackErrorStopsTheListing(t *testing.T) {
	srv := startCompute(t, smallCompute(t), gcpfake.Options{})
	p := computeProvider(t, srv, Config{Projects: []string{projA}, PageSize: 2})
	stop := errors.New("sink full")
	pages := 0
	err := p.Resources(context.Background(), collect.Scope{Account: projA, Region: "us-central1"}, func([]domain.Resource) error {
		pages++
		return stop
	})
	if err != stop || pages != 1 {
		t.Fatalf("Resources with a failing callback = %v after %d pages; want its error as is after 1", err, pages)
	}
	if err := p.Resources(context.Background(), collect.Scope{Region: "us-central1"}, nil); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Resources(scope without project) = %v; want ErrInvalid", err)
	}
}

func TestInstanceStates(t *testing.T) {
	for status, want := range map[string]string{
		"RUNNING": domain.StateRunning, "TERMINATED": domain.StateStopped, "STOPPED": domain.StateStopped,
		"PROVISIONING": StateStarting, "STAGING": StateStarting, "STOPPING": StateStopping, "PENDING_STOP": StateStopping,
		"SUSPENDING": StateSuspending, "SUSPENDED": StateSuspended, "REPAIRING": "repairing", "": domain.StateUnknown,
	} {
		if got := instanceState(status); got != want {
			t.Errorf("instanceState(%q) = %q; want %q", status, got, want)
		}
	}
}

func TestSnapshotRegion(t *testing.T) {
	disk := "https://www.googleapis.com/compute/v1/projects/p/zones/asia-east1-a/disks/d"
	for _, tc := range []struct {
		name string
		s    *computepb.Snapshot
		want string
	}{
		{"one region", &computepb.Snapshot{StorageLocations: []string{"us-east1"}, SourceDisk: proto.String(disk)}, "us-east1"},
		{"multi-region: the disk's region", &computepb.Snapshot{StorageLocations: []string{"us"}, SourceDisk: proto.String(disk)}, "asia-east1"},
		{"regional disk", &computepb.Snapshot{SourceDisk: proto.String("projects/p/regions/europe-west4/disks/d")}, "europe-west4"},
		{"multi-region, disk unknown", &computepb.Snapshot{StorageLocations: []string{"eu"}}, "eu"},
		{"nothing known", &computepb.Snapshot{}, "global"},
	} {
		if got := snapshotRegion(tc.s); got != tc.want {
			t.Errorf("snapshotRegion(%s) = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestConversionsSkipWhatIsGoingAway(t *testing.T) {
	if _, ok := diskResource("p", &computepb.Disk{Name: proto.String("d"), Zone: proto.String("zones/us-central1-a"), Status: proto.String("DELETING")}); ok {
		t.Error("diskResource(DELETING) kept the disk")
	}
	if _, ok := snapshotResource("p", &computepb.Snapshot{Name: proto.String("s"), Status: proto.String("DELETING")}); ok {
		t.Error("snapshotResource(DELETING) kept the snapshot")
	}
	if _, ok := instanceResource("p", &computepb.Instance{Name: proto.String("vm")}); ok {
		t.Error("instanceResource(no zone) kept the instance")
	}
	r, ok := diskResource("p", &computepb.Disk{Name: proto.String("d"), Zone: proto.String("zones/us-central1-a"), Status: proto.String("CREATING")})
	if want := (domain.Resource{Cloud: domain.GCP, Account: "p", Region: "us-central1", Kind: domain.KindDisk, ID: "projects/p/zones/us-central1-a/disks/d",
		Name: "d", State: "creating", Tags: map[string]string{}}); !ok || !cmp.Equal(want, r, cmpopts.EquateEmpty()) {
		t.Errorf("diskResource(CREATING) = %+v, %v; want %+v", r, ok, want)
	}
}
