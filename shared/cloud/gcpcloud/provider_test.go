package gcpcloud

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// computeNow is the clock of the hand-built Compute Engine estates.
var computeNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Projects of the hand-built estate.
const (
	projA = "shop-prod-1234"
	projB = "data-dev-5678"
	projC = "empty-sandbox-9"
)

// startCompute serves est to the SDK's REST clients.
func startCompute(t *testing.T, est *gcpfake.Estate, opts gcpfake.Options) *gcpfake.Server {
	t.Helper()
	srv := gcpfake.NewServer(est, opts)
	t.Cleanup(srv.Close)
	return srv
}

// computeProvider returns a provider talking to srv that retries and
// polls every millisecond.
func computeProvider(t *testing.T, srv *gcpfake.Server, cfg Config) *Provider {
	t.Helper()
	cfg.ComputeOptions = srv.ClientOptions()
	cfg.ProjectsOptions = srv.ClientOptions()
	cfg.StorageOptions = srv.StorageClientOptions()
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Millisecond
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// smallCompute is two projects with instances in two regions, disks
// (attached, unattached, regional), addresses (in use, reserved,
// global) and snapshots (regional storage, multi-region storage), and
// an empty third project.
func smallCompute(t *testing.T) *gcpfake.Estate {
	t.Helper()
	est := gcpfake.NewEstate()
	for _, z := range []string{"us-central1-a", "europe-west1-b"} {
		est.MachineTypes[z] = gcpfake.SyntheticMachineTypes
	}
	for _, p := range []string{projA, projB, projC} {
		est.AddProject(gcpfake.NewProject(p))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	created := computeNow.AddDate(0, -2, 0)
	for _, p := range []string{projA, projB} {
		for i, z := range []string{"us-central1-a", "europe-west1-b", "us-central1-a"} {
			vm := &gcpfake.Instance{Project: p, Zone: z, Name: "vm-" + string(rune('a'+i)), MachineType: "n2-standard-4",
				Status: gcpfake.StatusRunning, Labels: map[string]string{"env": "prod", "cloudtrim-optin": "true"}, Created: created}
			must(est.AddInstance(vm))
			must(est.AddDisk(&gcpfake.Disk{Project: p, Zone: z, Name: vm.Name, Type: "pd-balanced", SizeGiB: 50, Users: []string{vm.ID()},
				Created: created}))
		}
	}
	vm := "projects/" + projA + "/zones/us-central1-a/instances/vm-a"
	must(est.AddDisk(&gcpfake.Disk{Project: projA, Zone: "us-central1-a", Name: "orphan", Type: "pd-standard", SizeGiB: 200,
		Labels: map[string]string{"team": "data"}, Created: created}))
	must(est.AddDisk(&gcpfake.Disk{Project: projA, Region: "us-central1", Name: "shared", Type: "pd-ssd", SizeGiB: 100, Created: created}))
	must(est.AddAddress(&gcpfake.Address{Project: projA, Region: "us-central1", Name: "web-ip", Address: "34.1.2.3", Users: []string{vm},
		Created: created}))
	must(est.AddAddress(&gcpfake.Address{Project: projA, Region: "europe-west1", Name: "spare-ip", Address: "34.1.2.4", Created: created}))
	must(est.AddAddress(&gcpfake.Address{Project: projA, Name: "lb-ip", Address: "34.1.2.5", Created: created}))
	must(est.AddAddress(&gcpfake.Address{Project: projA, Region: "us-central1", Name: "internal-ip", Address: "10.0.0.5",
		AddressType: gcpfake.Internal, Created: created}))
	must(est.AddSnapshot(&gcpfake.Snapshot{Project: projA, Name: "orphan-snap", SourceDisk: "projects/" + projA + "/zones/us-central1-a/disks/orphan",
		DiskSizeGiB: 200, StorageBytes: 10 << 30, StorageLocations: []string{"europe-west1"}, Created: created}))
	must(est.AddSnapshot(&gcpfake.Snapshot{Project: projA, Name: "vm-b-snap", SourceDisk: "projects/" + projA + "/zones/europe-west1-b/disks/vm-b",
		DiskSizeGiB: 50, StorageBytes: 5 << 30, StorageLocations: []string{"eu"}, Created: created}))
	return est
}

// readAll reads every scope of p into one list, failing on errors.
func readAll(t *testing.T, p *Provider) []domain.Resource {
	t.Helper()
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.Resource
	for _, sc := range scopes {
		if err := p.Resources(ctx, sc, func(rs []domain.Resource) error { out = append(out, rs...); return nil }); err != nil {
			t.Fatalf("Resources(%v): %v", sc, err)
		}
	}
	return out
}

func TestNewRefusesAnEmptyProject(t *testing.T) {
	_, err := New(context.Background(), Config{Projects: []string{"shop-prod-1234", ""}})
	if !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("New with an empty project = %v; want ErrInvalid", err)
	}
}

func TestProjectsSearchesTheActiveOnes(t *testing.T) {
	est := smallCompute(t)
	est.Lock()
	est.Projects[projC].State = gcpfake.ProjectDeleteRequested
	est.Unlock()
	srv := startCompute(t, est, gcpfake.Options{})
	p := computeProvider(t, srv, Config{PageSize: 1})
	got, err := p.Projects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{projB, projA}; !slices.Equal(got, want) {
		t.Fatalf("Projects() = %v; want %v (the one being deleted left out)", got, want)
	}
	if n := srv.Calls("cloudresourcemanager.projects.search"); n != 2 {
		t.Errorf("%d projects.search calls; want 2 (pages of one)", n)
	}

	configured := computeProvider(t, srv, Config{Projects: []string{projB, projA, projB}})
	got, err = configured.Projects(context.Background())
	if want := []string{projB, projA}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("configured Projects() = %v, %v; want %v", got, err, want)
	}
	if n := srv.Calls("cloudresourcemanager.projects.search"); n != 2 {
		t.Errorf("configured projects searched again (%d calls); want no call", n)
	}
}

func TestProjectsSearchDenied(t *testing.T) {
	srv := startCompute(t, smallCompute(t), gcpfake.Options{})
	srv.Inject(gcpfake.Fault{Path: "/v3/projects:search", Status: 403, Reason: "forbidden", Message: "The caller does not have permission"})
	p := computeProvider(t, srv, Config{})
	if _, err := p.Scopes(context.Background()); !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("Scopes when projects.search is denied = %v; want ErrPermission", err)
	}
}

// TestFromSimRoundTrip serves the Google Cloud part of the simulated
// demo estate through gcpfake.FromSim and reads it back through the
// provider: every simulated resource comes back with its ID, kind, SKU,
// state, size, attachment, labels, region and creation time, and the
// scopes are the simulated estate's.
func TestFromSimRoundTrip(t *testing.T) {
	ctx := context.Background()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simcloud.New(simcloud.Demo(computeNow), prices)
	if err != nil {
		t.Fatal(err)
	}
	est, err := gcpfake.FromSim(ctx, sim, prices)
	if err != nil {
		t.Fatal(err)
	}
	srv := startCompute(t, est, gcpfake.Options{})
	p := computeProvider(t, srv, Config{PageSize: 4})

	var want []domain.Resource
	for _, r := range sim.Resources() {
		if r.Cloud == domain.GCP {
			r.Incomplete = "" // labels are inline: the fake serves none for them
			want = append(want, r)
		}
	}
	if len(want) < 10 {
		t.Fatalf("the demo estate has %d Google Cloud resources; want a few kinds of each", len(want))
	}
	got := readAll(t, p)
	byID := cmpopts.SortSlices(func(a, b domain.Resource) bool { return a.ID < b.ID })
	if diff := cmp.Diff(want, got, byID, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("resources read back (-simulated +read):\n%s", diff)
	}

	simScopes, err := sim.Cloud(domain.GCP).Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotScopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inUse := map[collect.Scope]bool{}
	for _, r := range want {
		inUse[collect.Scope{Account: r.Account, Region: r.Region}] = true
	}
	for _, sc := range simScopes {
		if inUse[sc] && !slices.Contains(gotScopes, sc) {
			t.Errorf("scope %v of the simulated estate holds resources but Scopes() = %v", sc, gotScopes)
		}
	}
}
