package gcpfake_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

var demoNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// demo returns the simulated demo estate and its Compute Engine fake.
func demo(t *testing.T) (*simcloud.Estate, *gcpfake.Estate) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simcloud.New(simcloud.Demo(demoNow), prices)
	if err != nil {
		t.Fatal(err)
	}
	est, err := gcpfake.FromSim(context.Background(), sim, prices)
	if err != nil {
		t.Fatal(err)
	}
	return sim, est
}

func TestFromSim(t *testing.T) {
	sim, est := demo(t)
	want := map[domain.Kind]int{}
	for _, r := range sim.Resources() {
		if r.Cloud == domain.GCP {
			want[r.Kind]++
		}
	}
	got := map[domain.Kind]int{}
	est.Lock()
	defer est.Unlock()
	if len(est.Projects) != len(sim.Accounts(domain.GCP)) {
		t.Errorf("%d projects; want the %d simulated", len(est.Projects), len(sim.Accounts(domain.GCP)))
	}
	for _, p := range est.Projects {
		got[domain.KindVM] += len(p.Instances)
		got[domain.KindDisk] += len(p.Disks)
		got[domain.KindIP] += len(p.Addresses)
		got[domain.KindSnapshot] += len(p.Snapshots)
		for _, i := range p.Instances {
			if _, ok := findType(est.MachineTypes[i.Zone], i.MachineType); !ok {
				t.Errorf("instance %s has machine type %s, which its zone does not list", i.ID(), i.MachineType)
			}
		}
		for _, d := range p.Disks {
			for _, u := range d.Users {
				if est.Instance(u) == nil {
					t.Errorf("disk %s is used by %s, which does not exist", d.ID(), u)
				}
			}
		}
		for _, s := range p.Snapshots {
			if len(s.StorageLocations) != 1 || !strings.Contains(s.StorageLocations[0], "-") {
				t.Errorf("snapshot %s is stored in %v; want its simulated region", s.ID(), s.StorageLocations)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources by kind (-simulated +fake):\n%s", diff)
	}
	if _, err := gcpfake.FromSim(context.Background(), &simcloud.Estate{}, nil); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("FromSim of an estate without Google Cloud = %v; want ErrInvalid", err)
	}
}

func findType(ts []gcpfake.MachineType, name string) (gcpfake.MachineType, bool) {
	for _, m := range ts {
		if m.Name == name {
			return m, true
		}
	}
	return gcpfake.MachineType{}, false
}

// TestApplyToSim stops a running instance, snapshots and deletes an
// orphan disk and deletes the new snapshot through the SDK, replays the
// log onto the simulated estate and measures the saving; a second
// replay changes nothing.
func TestApplyToSim(t *testing.T) {
	sim, est := demo(t)
	ctx := context.Background()
	var vm, orphan domain.Resource
	for _, r := range sim.Resources() {
		switch {
		case r.Cloud != domain.GCP:
		case r.Kind == domain.KindVM && r.State == domain.StateRunning && vm.ID == "":
			vm = r
		case r.Kind == domain.KindDisk && r.State == domain.StateAvailable && orphan.ID == "":
			orphan = r
		}
	}
	if vm.ID == "" || orphan.ID == "" {
		t.Fatal("the demo estate has no running Google Cloud instance or orphan disk")
	}
	srv := gcpfake.NewServer(est, gcpfake.Options{OperationPolls: -1})
	defer srv.Close()
	instances, err := compute.NewInstancesRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	disks, err := compute.NewDisksRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := compute.NewSnapshotsRESTClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	part := func(id string, i int) string { return strings.Split(id, "/")[i] }
	if _, err := instances.Stop(ctx, &computepb.StopInstanceRequest{Project: vm.Account, Zone: part(vm.ID, 3), Instance: vm.Name,
		RequestId: proto.String("11111111-2222-4333-8444-555555555555")}); err != nil {
		t.Fatal(err)
	}
	if _, err := disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: orphan.Account, Zone: part(orphan.ID, 3), Disk: orphan.Name,
		SnapshotResource: &computepb.Snapshot{Name: proto.String("before-delete"), Labels: map[string]string{"cloudtrim-action": "act-1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: orphan.Account, Zone: part(orphan.ID, 3), Disk: orphan.Name}); err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Delete(ctx, &computepb.DeleteSnapshotRequest{Project: orphan.Account, Snapshot: "before-delete"}); err != nil {
		t.Fatal(err)
	}

	before := sim.MonthlyRunRate(domain.GCP)
	muts := srv.Mutations()
	if err := gcpfake.ApplyToSim(ctx, sim, muts); err != nil {
		t.Fatal(err)
	}
	after := sim.MonthlyRunRate(domain.GCP)
	if after.Micros >= before.Micros {
		t.Fatalf("run rate %v after the replay, %v before; want it lower", after, before)
	}
	if r, err := sim.Cloud(domain.GCP).Get(ctx, vm.Ref()); err != nil || r.State != domain.StateStopped {
		t.Errorf("simulated instance after the replay = %+v, %v; want stopped", r, err)
	}
	if _, err := sim.Cloud(domain.GCP).Get(ctx, orphan.Ref()); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("simulated orphan disk after the replay = %v; want deleted", err)
	}
	t.Logf("Google Cloud run rate %v → %v after %d mutations", before, after, len(muts))

	calls := len(sim.Calls())
	if err := gcpfake.ApplyToSim(ctx, sim, muts); err != nil {
		t.Fatalf("second replay: %v", err)
	}
	repeats := 0
	for _, c := range sim.Calls()[calls:] {
		if c.Repeat {
			repeats++
		}
	}
	if repeats != len(muts) || sim.MonthlyRunRate(domain.GCP) != after {
		t.Errorf("second replay: %d of %d calls repeats, run rate %v; want all repeats and %v", repeats, len(muts), sim.MonthlyRunRate(domain.GCP), after)
	}

	bad := []gcpfake.Mutation{{Method: "compute.instances.stop", Resource: "projects/nope-123456/zones/us-central1-a/instances/x", Region: "us-central1"}}
	if err := gcpfake.ApplyToSim(ctx, sim, bad); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("replay of a mutation of an unknown instance = %v; want ErrNotFound", err)
	}
}

func TestSynthetic(t *testing.T) {
	cfg := gcpfake.SyntheticConfig{Seed: 3, Projects: 3, InstancesPerProject: 100, Now: demoNow}
	e := gcpfake.Synthetic(cfg)
	again := gcpfake.Synthetic(cfg)
	if !cmp.Equal(e.Projects, again.Projects) {
		t.Error("Synthetic is not deterministic in its configuration")
	}
	if len(e.Projects) != 3 {
		t.Fatalf("%d projects; want 3", len(e.Projects))
	}
	idPattern := regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	for id, p := range e.Projects {
		counts := [4]int{len(p.Instances), len(p.Disks), len(p.Addresses), len(p.Snapshots)}
		if want := [4]int{100, 100 + 25 + 10, 20 + 5, 10}; counts != want || !idPattern.MatchString(id) {
			t.Errorf("project %s holds %v instances, disks, addresses, snapshots; want %v and a valid project ID", id, counts, want)
		}
		stopped := 0
		for _, i := range p.Instances {
			if i.Status != gcpfake.StatusRunning {
				stopped++
			}
			if _, ok := findType(e.MachineTypes[i.Zone], i.MachineType); !ok {
				t.Errorf("instance %s: machine type %s not in zone %s", i.ID(), i.MachineType, i.Zone)
			}
		}
		if stopped != 5+2 {
			t.Errorf("project %s has %d instances not running; want 5 TERMINATED and 2 SUSPENDED", id, stopped)
		}
		for _, d := range p.Disks {
			for _, u := range d.Users {
				if p.Instances[u] == nil {
					t.Errorf("disk %s used by a missing instance %s", d.ID(), u)
				}
			}
		}
	}
}
