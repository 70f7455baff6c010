package azurecloud_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// listScope reads every resource of a scope.
func listScope(t *testing.T, p *azurecloud.Provider, scope collect.Scope) ([]domain.Resource, error) {
	t.Helper()
	var out []domain.Resource
	err := p.Resources(context.Background(), scope, func(rs []domain.Resource) error {
		out = append(out, rs...)
		return nil
	})
	return out, err
}

// TestResourcesMapsEveryKind lists one region of an estate holding each
// kind of resource in each state that matters and compares what the
// provider makes of each with what it must make.
func TestResourcesMapsEveryKind(t *testing.T) {
	created := now.AddDate(0, -3, 0)
	tags := map[string]string{"env": "prod", "cloudtrim-optin": "true"}
	vmRun := vmID(subA, "vm-run")
	// ARM spells the resource group of references in its own case.
	vmRunRef := strings.Replace(vmRun, "rg-app", "RG-APP", 1)
	vmDealloc := vmID(subA, "vm-dealloc")
	disk := func(name string) string { return armID(subA, "rg-app", "Microsoft.Compute/disks", name) }
	ip := func(name string) string { return armID(subA, "rg-net", "Microsoft.Network/publicIPAddresses", name) }
	snap := func(name string) string { return armID(subA, "rg-app", "Microsoft.Compute/snapshots", name) }
	nat := armID(subA, "rg-net", "Microsoft.Network/natGateways", "nat1")
	lb := armID(subA, "rg-net", "Microsoft.Network/loadBalancers", "lb1")
	base := func(kind domain.Kind, id string) domain.Resource {
		return domain.Resource{Cloud: domain.Azure, Account: subA, Region: "eastus", Kind: kind, ID: id,
			Name: id[strings.LastIndexByte(id, '/')+1:], Tags: map[string]string{}}
	}
	with := func(r domain.Resource, f func(*domain.Resource)) domain.Resource { f(&r); return r }

	type row struct {
		name string
		add  func(*azurefake.Estate) error
		want *domain.Resource // nil: not listed
	}
	vm := func(name, power string, f func(*azurefake.VM)) func(*azurefake.Estate) error {
		return func(e *azurefake.Estate) error {
			v := &azurefake.VM{ID: vmID(subA, name), Location: "eastus", Size: "Standard_D4s_v5", Zones: []string{"2"},
				PowerState: power, TimeCreated: created, Tags: tags}
			if f != nil {
				f(v)
			}
			return e.AddVM(v)
		}
	}
	vmWant := func(name, state string) *domain.Resource {
		r := with(base(domain.KindVM, vmID(subA, name)), func(r *domain.Resource) {
			r.SKU, r.State, r.CreatedAt, r.Tags = "Standard_D4s_v5", state, created, tags
		})
		return &r
	}
	rows := []row{
		{"running VM", vm("vm-run", azurefake.PowerRunning, nil), vmWant("vm-run", domain.StateRunning)},
		{"VM stopped but still allocated: still billing", vm("vm-stopped", azurefake.PowerStopped, nil), vmWant("vm-stopped", azurecloud.StateStoppedAllocated)},
		{"deallocated VM", vm("vm-dealloc", azurefake.PowerDeallocated, nil), vmWant("vm-dealloc", domain.StateStopped)},
		{"starting VM", vm("vm-starting", azurefake.PowerStarting, nil), vmWant("vm-starting", azurecloud.StateStarting)},
		{"VM without a power state", vm("vm-unknown", "", nil), func() *domain.Resource {
			r := vmWant("vm-unknown", domain.StateUnknown)
			r.Incomplete = "power state not reported by the instance view"
			return r
		}()},
		{"VM being deleted", vm("vm-deleting", azurefake.PowerRunning, func(v *azurefake.VM) { v.ProvisioningState = "Deleting" }), nil},
		{"VM of another region", vm("vm-west", azurefake.PowerRunning, func(v *azurefake.VM) { v.Location = "westeurope" }), nil},
		{"attached OS disk", func(e *azurefake.Estate) error {
			return e.AddDisk(&azurefake.Disk{ID: disk("os"), Location: "eastus", SKU: "Premium_LRS", Tier: "P10", SizeGiB: 128,
				IOPS: 500, MBps: 100, State: azurefake.DiskAttached, ManagedBy: vmRunRef, TimeCreated: created, Tags: tags})
		}, func() *domain.Resource {
			r := with(base(domain.KindDisk, disk("os")), func(r *domain.Resource) {
				r.SKU, r.State, r.SizeGiB, r.AttachedTo, r.CreatedAt, r.Tags = "Premium_LRS", domain.StateInUse, 128, vmRunRef, created, tags
			})
			return &r
		}()},
		{"unattached disk", func(e *azurefake.Estate) error {
			return e.AddDisk(&azurefake.Disk{ID: disk("orphan"), Location: "eastus", SKU: "StandardSSD_LRS", SizeGiB: 64,
				State: azurefake.DiskUnattached, TimeCreated: created})
		}, func() *domain.Resource {
			r := with(base(domain.KindDisk, disk("orphan")), func(r *domain.Resource) {
				r.SKU, r.State, r.SizeGiB, r.CreatedAt = "StandardSSD_LRS", domain.StateAvailable, 64, created
			})
			return &r
		}()},
		{"disk of a deallocated VM", func(e *azurefake.Estate) error {
			return e.AddDisk(&azurefake.Disk{ID: disk("reserved"), Location: "eastus", SKU: "Standard_LRS", SizeGiB: 32,
				State: azurefake.DiskReserved, ManagedBy: vmDealloc, TimeCreated: created})
		}, func() *domain.Resource {
			r := with(base(domain.KindDisk, disk("reserved")), func(r *domain.Resource) {
				r.SKU, r.State, r.SizeGiB, r.AttachedTo, r.CreatedAt = "Standard_LRS", domain.StateInUse, 32, vmDealloc, created
			})
			return &r
		}()},
		{"disk being exported", func(e *azurefake.Estate) error {
			return e.AddDisk(&azurefake.Disk{ID: disk("export"), Location: "eastus", SKU: "Standard_LRS", SizeGiB: 32,
				State: azurefake.DiskActiveSAS, TimeCreated: created})
		}, func() *domain.Resource {
			r := with(base(domain.KindDisk, disk("export")), func(r *domain.Resource) {
				r.SKU, r.State, r.SizeGiB, r.CreatedAt = "Standard_LRS", "activesas", 32, created
			})
			return &r
		}()},
		{"address of a VM's network interface", func(e *azurefake.Estate) error {
			e.Lock()
			cfg := azurefake.IPConfigurationOf(e.FindVM(vmRun))
			e.Unlock()
			return e.AddPublicIP(&azurefake.PublicIP{ID: ip("ip-vm"), Location: "eastus", SKU: "Standard", IPConfigurationID: cfg, Tags: tags})
		}, func() *domain.Resource {
			r := with(base(domain.KindIP, ip("ip-vm")), func(r *domain.Resource) {
				r.SKU, r.State, r.AttachedTo, r.Tags = azurecloud.IPSKU, domain.StateAssociated, vmRun, tags
			})
			return &r
		}()},
		{"unassociated address", func(e *azurefake.Estate) error {
			return e.AddPublicIP(&azurefake.PublicIP{ID: ip("ip-free"), Location: "eastus"})
		}, func() *domain.Resource {
			r := with(base(domain.KindIP, ip("ip-free")), func(r *domain.Resource) { r.SKU, r.State = azurecloud.IPSKU, domain.StateAvailable })
			return &r
		}()},
		{"address of a NAT gateway", func(e *azurefake.Estate) error {
			return e.AddPublicIP(&azurefake.PublicIP{ID: ip("ip-nat"), Location: "eastus", NATGatewayID: nat})
		}, func() *domain.Resource {
			r := with(base(domain.KindIP, ip("ip-nat")), func(r *domain.Resource) {
				r.SKU, r.State, r.AttachedTo = azurecloud.IPSKU, domain.StateAssociated, nat
			})
			return &r
		}()},
		{"address of a load balancer", func(e *azurefake.Estate) error {
			return e.AddPublicIP(&azurefake.PublicIP{ID: ip("ip-lb"), Location: "eastus", IPConfigurationID: lb + "/frontendIPConfigurations/fe1"})
		}, func() *domain.Resource {
			r := with(base(domain.KindIP, ip("ip-lb")), func(r *domain.Resource) {
				r.SKU, r.State, r.AttachedTo = azurecloud.IPSKU, domain.StateAssociated, lb
			})
			return &r
		}()},
		{"basic unassociated address", func(e *azurefake.Estate) error {
			return e.AddPublicIP(&azurefake.PublicIP{ID: ip("ip-basic"), Location: "eastus", SKU: "Basic", Allocation: "Dynamic"})
		}, func() *domain.Resource {
			r := with(base(domain.KindIP, ip("ip-basic")), func(r *domain.Resource) { r.SKU, r.State = azurecloud.IPBasicSKU, domain.StateAvailable })
			return &r
		}()},
		{"incremental snapshot", func(e *azurefake.Estate) error {
			return e.AddSnapshot(&azurefake.Snapshot{ID: snap("snap"), Location: "eastus", SizeGiB: 128, SourceDiskID: disk("os"),
				Incremental: true, TimeCreated: created.Add(time.Hour), Tags: tags})
		}, func() *domain.Resource {
			r := with(base(domain.KindSnapshot, snap("snap")), func(r *domain.Resource) {
				r.SKU, r.State, r.SizeGiB, r.AttachedTo, r.CreatedAt, r.Tags = azurecloud.SnapshotSKU, domain.StateAvailable, 128, disk("os"), created.Add(time.Hour), tags
			})
			return &r
		}()},
		{"snapshot being made", func(e *azurefake.Estate) error {
			return e.AddSnapshot(&azurefake.Snapshot{ID: snap("snap-new"), Location: "eastus", SizeGiB: 64, ProvisioningState: "Creating", TimeCreated: created})
		}, func() *domain.Resource {
			r := with(base(domain.KindSnapshot, snap("snap-new")), func(r *domain.Resource) {
				r.SKU, r.State, r.SizeGiB, r.CreatedAt = azurecloud.SnapshotSKU, "creating", 64, created
			})
			return &r
		}()},
	}
	est := azurefake.NewEstate()
	est.AddSubscription(azurefake.NewSubscription(subA, "prod"))
	var want []domain.Resource
	for _, r := range rows {
		if err := r.add(est); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if r.want != nil {
			want = append(want, *r.want)
		}
	}
	srv := newServer(t, est, azurefake.Options{PageSize: 3})
	p := newProvider(t, srv, azurecloud.Config{PageSize: 4})
	got, err := listScope(t, p, collect.Scope{Account: subA, Region: "eastus"})
	if err != nil {
		t.Fatal(err)
	}
	byID := func(a, b domain.Resource) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(want, byID)
	slices.SortFunc(got, byID)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resources(eastus) (-want +got):\n%s", diff)
	}
	for _, r := range rows {
		if r.want == nil {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			i := slices.IndexFunc(got, func(g domain.Resource) bool { return g.ID == r.want.ID })
			if i < 0 {
				t.Fatalf("%s not listed", r.want.ID)
			}
			if diff := cmp.Diff(*r.want, got[i]); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResourcesPagesThroughEveryListing(t *testing.T) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Seed: 3, Subscriptions: 1, VMsPerSubscription: 40, Regions: []string{"eastus"}, Now: now})
	sub := ""
	est.Lock()
	want := map[domain.Kind]int{}
	for _, s := range est.Subscriptions {
		sub = s.ID
		want[domain.KindVM], want[domain.KindDisk], want[domain.KindIP], want[domain.KindSnapshot] = len(s.VMs), len(s.Disks), len(s.PublicIPs), len(s.Snapshots)
	}
	est.Unlock()
	const armPage, page = 7, 9
	srv := newServer(t, est, azurefake.Options{PageSize: armPage})
	p := newProvider(t, srv, azurecloud.Config{PageSize: page})
	var sizes []int
	got := map[domain.Kind]int{}
	var order []string
	err := p.Resources(context.Background(), collect.Scope{Account: sub, Region: "eastus"}, func(rs []domain.Resource) error {
		sizes = append(sizes, len(rs))
		for _, r := range rs {
			got[r.Kind]++
			order = append(order, r.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("resources by kind (-want +got):\n%s", diff)
	}
	for i, n := range sizes {
		if n > page || (i < len(sizes)-1 && n != page) {
			t.Fatalf("pages of %v; want full pages of %d and a last one of at most %d", sizes, page, page)
		}
	}
	// Every listing was followed to its last page; the VMs are listed
	// twice, for their power states and for their models.
	vmPages := (want[domain.KindVM] + armPage - 1) / armPage
	if got := srv.CallCount("VirtualMachinesClient.NewListAllPager"); got != 2*vmPages {
		t.Errorf("VirtualMachinesClient.NewListAllPager: %d pages asked; want %d (twice %d)", got, 2*vmPages, vmPages)
	}
	for api, n := range map[string]int{
		"DisksClient.NewListPager":                want[domain.KindDisk],
		"PublicIPAddressesClient.NewListAllPager": want[domain.KindIP],
		"SnapshotsClient.NewListPager":            want[domain.KindSnapshot],
		"InterfacesClient.NewListAllPager":        want[domain.KindVM],
	} {
		if got, pages := srv.CallCount(api), (n+armPage-1)/armPage; got != pages {
			t.Errorf("%s: %d pages asked; want %d for %d items", api, got, pages, n)
		}
	}
	// The order is stable.
	var again []string
	if err := p.Resources(context.Background(), collect.Scope{Account: sub, Region: "eastus"}, func(rs []domain.Resource) error {
		for _, r := range rs {
			again = append(again, r.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, again) {
		t.Error("two listings of the same scope differ in order")
	}
}

func TestResourcesStopsOnTheCallbackError(t *testing.T) {
	srv := newServer(t, smallEstate(), azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{PageSize: 1})
	stop := errors.New("sink full")
	calls := 0
	err := p.Resources(context.Background(), collect.Scope{Account: subA, Region: "eastus"}, func([]domain.Resource) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Fatalf("Resources with a failing callback = %v after %d calls; want the callback's error as it is after 1", err, calls)
	}
}

// TestAbandonedListingIsNotResumed fails a listing on its second page
// for good, then lists again: the new listing starts from the first page
// rather than from what the abandoned one left.
func TestAbandonedListingIsNotResumed(t *testing.T) {
	srv := newServer(t, smallEstate(), azurefake.Options{PageSize: 1})
	p := newProvider(t, srv, azurecloud.Config{MaxRetries: 1})
	srv.Fail(azurefake.Fault{API: "VirtualMachinesClient.NewListAllPager", NextPagesOnly: true, Status: http.StatusServiceUnavailable})
	scope := collect.Scope{Account: subA, Region: "eastus"}
	if _, err := listScope(t, p, scope); err == nil {
		t.Fatal("Resources with the second page failing = nil; want an error")
	}
	srv.ClearFaults()
	got, err := listScope(t, p, scope)
	if err != nil {
		t.Fatal(err)
	}
	vms := 0
	for _, r := range got {
		if r.Kind == domain.KindVM {
			vms++
		}
	}
	if vms != 2 {
		t.Fatalf("%d VMs listed after an abandoned listing; want 2", vms)
	}
}
