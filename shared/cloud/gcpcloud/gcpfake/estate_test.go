package gcpfake_test

import (
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
)

func TestResourceNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{(&gcpfake.Instance{Project: "p", Zone: "us-east1-b", Name: "vm"}).ID(), "projects/p/zones/us-east1-b/instances/vm"},
		{(&gcpfake.Disk{Project: "p", Zone: "us-east1-b", Name: "d"}).ID(), "projects/p/zones/us-east1-b/disks/d"},
		{(&gcpfake.Disk{Project: "p", Region: "us-east1", Name: "d"}).ID(), "projects/p/regions/us-east1/disks/d"},
		{(&gcpfake.Address{Project: "p", Region: "us-east1", Name: "a"}).ID(), "projects/p/regions/us-east1/addresses/a"},
		{(&gcpfake.Address{Project: "p", Name: "a"}).ID(), "projects/p/global/addresses/a"},
		{(&gcpfake.Snapshot{Project: "p", Name: "s"}).ID(), "projects/p/global/snapshots/s"},
		{gcpfake.ProjectOf("projects/shop-1/zones/z/instances/n"), "shop-1"},
		{gcpfake.ProjectOf("shop-1"), "shop-1"},
		{gcpfake.RegionOf("europe-west1-b"), "europe-west1"},
		{gcpfake.RegionOf("us-central1"), "us-central1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}

func TestLabelFingerprint(t *testing.T) {
	a := gcpfake.LabelFingerprint(map[string]string{"env": "prod", "team": "web"})
	if b := gcpfake.LabelFingerprint(map[string]string{"team": "web", "env": "prod"}); a != b {
		t.Errorf("fingerprints of one label set: %q, %q; want equal", a, b)
	}
	for _, other := range []map[string]string{nil, {"env": "prod"}, {"env": "dev", "team": "web"}, {"envteam": "prodweb"}} {
		if gcpfake.LabelFingerprint(other) == a {
			t.Errorf("LabelFingerprint(%v) = that of another label set", other)
		}
	}
}

func TestEstateAddAndFind(t *testing.T) {
	e := gcpfake.NewEstate()
	vm := &gcpfake.Instance{Project: "shop-1", Zone: "us-east1-b", Name: "vm"}
	if err := e.AddInstance(vm); err == nil {
		t.Error("AddInstance to a missing project succeeded")
	}
	e.AddProject(gcpfake.NewProject("shop-1"))
	if err := e.AddInstance(vm); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*gcpfake.Disk{{Project: "shop-1", Name: "neither"}, {Project: "shop-1", Zone: "us-east1-b", Region: "us-east1", Name: "both"}} {
		if err := e.AddDisk(d); err == nil {
			t.Errorf("AddDisk(%s) with zone %q and region %q succeeded; want refused", d.Name, d.Zone, d.Region)
		}
	}
	e.Lock()
	defer e.Unlock()
	if e.Instance(vm.ID()) != vm || e.Instance("projects/shop-2/zones/us-east1-b/instances/vm") != nil || e.Disk(vm.ID()) != nil {
		t.Error("lookups do not find what was added, or find what was not")
	}
	if p := e.Project("projects/shop-1/global/snapshots/s"); p == nil || p.ID != "shop-1" || p.Number <= 0 {
		t.Errorf("Project of a relative name = %+v; want shop-1 with a number", p)
	}
}
