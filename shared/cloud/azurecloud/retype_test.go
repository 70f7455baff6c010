package azurecloud_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The estate of the retype tests: one subscription, one resource group.
const (
	rtSub = "0a1b2c3d-0000-4000-8000-0000000000d1"
	rtRG  = "rg-shop-prod"
	rtLoc = "eastus"
)

var rtCreated = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

func rtID(typ, name string) string {
	return "/subscriptions/" + rtSub + "/resourceGroups/" + rtRG + "/providers/" + typ + "/" + name
}

func rtDisk(name string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: domain.Azure, Account: rtSub, Region: rtLoc, Kind: domain.KindDisk, ID: rtID("Microsoft.Compute/disks", name)}
}

func rtVM(name string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: domain.Azure, Account: rtSub, Region: rtLoc, Kind: domain.KindVM, ID: rtID("Microsoft.Compute/virtualMachines", name)}
}

// rtEnv is the estate served by the fake, with an Actuator over it.
type rtEnv struct {
	est  *azurefake.Estate
	srv  *azurefake.Server
	acts *azurefake.Actions
	a    *azurecloud.Actuator
}

// newRetypeEnv serves a running VM with its Premium_LRS OS disk, a
// deallocated VM with its Premium_LRS OS disk (Reserved), and an
// unattached Premium_LRS disk.
func newRetypeEnv(t *testing.T) *rtEnv {
	t.Helper()
	est := azurefake.NewEstate()
	est.AddSubscription(azurefake.NewSubscription(rtSub, "shop-prod"))
	est.Sizes[rtLoc] = azurefake.SyntheticSizes
	tags := map[string]string{"cloudtrim-optin": "true", "env": "prod"}
	for _, err := range []error{
		est.AddVM(&azurefake.VM{ID: rtVM("vm-web").ID, Location: rtLoc, Size: "Standard_D4s_v5", Tags: tags, PowerState: azurefake.PowerRunning,
			TimeCreated: rtCreated, OSDiskID: rtDisk("vm-web-os").ID}),
		est.AddVM(&azurefake.VM{ID: rtVM("vm-off").ID, Location: rtLoc, Size: "Standard_D4s_v5", Tags: tags, PowerState: azurefake.PowerDeallocated,
			TimeCreated: rtCreated, OSDiskID: rtDisk("vm-off-os").ID}),
		est.AddDisk(&azurefake.Disk{ID: rtDisk("vm-web-os").ID, Location: rtLoc, SKU: "Premium_LRS", Tier: "P10", SizeGiB: 128,
			State: azurefake.DiskAttached, ManagedBy: rtVM("vm-web").ID, Tags: tags, TimeCreated: rtCreated}),
		est.AddDisk(&azurefake.Disk{ID: rtDisk("vm-off-os").ID, Location: rtLoc, SKU: "Premium_LRS", Tier: "P10", SizeGiB: 128,
			State: azurefake.DiskReserved, ManagedBy: rtVM("vm-off").ID, Tags: tags, TimeCreated: rtCreated}),
		est.AddDisk(&azurefake.Disk{ID: rtDisk("disk-free").ID, Location: rtLoc, SKU: "Premium_LRS", Tier: "P15", SizeGiB: 256,
			State: azurefake.DiskUnattached, Tags: tags, TimeCreated: rtCreated}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	env := &rtEnv{est: est}
	env.srv = azurefake.New(est, azurefake.Options{Register: []func(*azurefake.Server){func(s *azurefake.Server) {
		env.acts = azurefake.ServeActions(s)
	}}})
	opts := env.srv.ClientOptions()
	opts.Retry.MaxRetries = -1
	a, err := azurecloud.NewActuator(azurecloud.ActuatorConfig{Credential: azurefake.Credential(), Subscriptions: []string{rtSub},
		ClientOptions: opts, PollFrequency: time.Millisecond, WaitTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env.a = a
	return env
}

// sku reads a disk's type in the estate.
func (e *rtEnv) sku(t *testing.T, ref domain.ResourceRef) string {
	t.Helper()
	e.est.Lock()
	defer e.est.Unlock()
	d := e.est.FindDisk(ref.ID)
	if d == nil {
		t.Fatalf("the estate has no disk %s", ref.ID)
	}
	return d.SKU
}

// updates counts the disk updates the fake answered, made or refused.
func (e *rtEnv) updates() int { return e.acts.Count("DisksClient.BeginUpdate") }

func TestRetypeChangesTheDiskType(t *testing.T) {
	e := newRetypeEnv(t)
	ctx := context.Background()
	for _, name := range []string{"disk-free", "vm-off-os"} {
		t.Run(name, func(t *testing.T) {
			ref := rtDisk(name)
			before, err := e.a.Get(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			n := e.updates()
			if err := e.a.Retype(ctx, ref, "StandardSSD_LRS", "p/"+name+"/retype"); err != nil {
				t.Fatal(err)
			}
			if got := e.updates() - n; got != 1 {
				t.Errorf("%d disk updates, want 1", got)
			}
			got, err := e.a.Get(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if got.SKU != "StandardSSD_LRS" || got.AttachedTo != before.AttachedTo || got.SizeGiB != before.SizeGiB {
				t.Errorf("Get after Retype: %s attached to %q, %d GiB; want StandardSSD_LRS attached to %q, %d GiB",
					got.SKU, got.AttachedTo, got.SizeGiB, before.AttachedTo, before.SizeGiB)
			}
			if sku := e.sku(t, ref); sku != "StandardSSD_LRS" {
				t.Errorf("estate SKU %s, want StandardSSD_LRS", sku)
			}

			// A redelivered action, or the type spelt in another case:
			// the disk has the type, no second update.
			n = e.updates()
			for _, sku := range []string{"StandardSSD_LRS", "standardssd_lrs"} {
				if err := e.a.Retype(ctx, ref, sku, "p/"+name+"/retype"); err != nil {
					t.Fatalf("Retype(%s) again: %v", sku, err)
				}
			}
			if got := e.updates() - n; got != 0 {
				t.Errorf("Retype to the type the disk has made %d updates, want none", got)
			}
		})
	}
}

func TestRetypeRefusesADiskOfARunningVM(t *testing.T) {
	e := newRetypeEnv(t)
	ctx := context.Background()
	ref := rtDisk("vm-web-os")
	err := e.a.Retype(ctx, ref, "StandardSSD_LRS", "p/a/retype")
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Retype(disk of a running VM) = %v, want conflict", err)
	}
	if !strings.Contains(err.Error(), ref.ID) || !strings.Contains(err.Error(), rtVM("vm-web").ID) || !strings.Contains(err.Error(), "deallocate") {
		t.Errorf("conflict %q does not name the disk and the VM to deallocate", err)
	}
	if n := e.updates(); n != 0 {
		t.Errorf("%d disk updates, want none: the state is read before the call", n)
	}
	if sku := e.sku(t, ref); sku != "Premium_LRS" {
		t.Errorf("estate SKU %s after a refused Retype, want Premium_LRS", sku)
	}

	// The fake refuses such an update by itself, as Azure does, should a
	// caller skip the check.
	disks, err := armcompute.NewDisksClient(rtSub, azurefake.Credential(), e.srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	_, err = disks.BeginUpdate(ctx, rtRG, "vm-web-os", armcompute.DiskUpdate{SKU: &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypesStandardSSDLRS)}}, nil)
	var resp *azcore.ResponseError
	if !errors.As(err, &resp) || resp.StatusCode != http.StatusConflict || resp.ErrorCode != "OperationNotAllowed" {
		t.Fatalf("BeginUpdate(type of a running VM's disk) = %v, want 409 OperationNotAllowed", err)
	}
	if sku := e.sku(t, ref); sku != "Premium_LRS" {
		t.Errorf("estate SKU %s after a refused update, want Premium_LRS", sku)
	}

	// Deallocated, the VM's disk takes the type and stays attached.
	if err := e.a.Stop(ctx, rtVM("vm-web"), "p/a/stop"); err != nil {
		t.Fatal(err)
	}
	if err := e.a.Retype(ctx, ref, "StandardSSD_LRS", "p/a/retype"); err != nil {
		t.Fatalf("Retype after deallocating the VM: %v", err)
	}
	if got, err := e.a.Get(ctx, ref); err != nil || got.SKU != "StandardSSD_LRS" || got.AttachedTo != rtVM("vm-web").ID {
		t.Errorf("Get after Retype = %s attached to %q, %v; want StandardSSD_LRS attached to vm-web", got.SKU, got.AttachedTo, err)
	}
}

func TestRetypeRefusesAnUnknownTypeBeforeAnyCall(t *testing.T) {
	e := newRetypeEnv(t)
	ctx := context.Background()
	ref := rtDisk("disk-free")
	for _, sku := range []string{"gp3", "Premium_SSD", ""} {
		calls := len(e.srv.Calls())
		err := e.a.Retype(ctx, ref, sku, "p/a/retype")
		if !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("Retype(%q) = %v, want invalid", sku, err)
		}
		if !strings.Contains(err.Error(), ref.ID) || !strings.Contains(err.Error(), `"`+sku+`"`) {
			t.Errorf("error %q does not name the disk and the type", err)
		}
		if n := len(e.srv.Calls()) - calls; n != 0 {
			t.Errorf("Retype(%q) made %d calls, want none", sku, n)
		}
	}
	if sku := e.sku(t, ref); sku != "Premium_LRS" {
		t.Errorf("estate SKU %s, want Premium_LRS", sku)
	}
	// Kinds and subscriptions are checked as by every call.
	if err := e.a.Retype(ctx, rtVM("vm-web"), "StandardSSD_LRS", "p/b/retype"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Retype(VM) = %v, want invalid", err)
	}
	foreign := domain.ResourceRef{Cloud: domain.Azure, Kind: domain.KindDisk,
		ID: "/subscriptions/0a1b2c3d-0000-4000-8000-0000000000ff/resourceGroups/" + rtRG + "/providers/Microsoft.Compute/disks/disk-free"}
	if err := e.a.Retype(ctx, foreign, "StandardSSD_LRS", "p/c/retype"); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Retype(disk of another subscription) = %v, want permission", err)
	}
}

func TestRetypeUnknownDiskIsNotFound(t *testing.T) {
	e := newRetypeEnv(t)
	err := e.a.Retype(context.Background(), rtDisk("disk-gone"), "StandardSSD_LRS", "p/a/retype")
	if !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Retype(unknown disk) = %v, want not found", err)
	}
	if n := e.updates(); n != 0 {
		t.Errorf("%d disk updates for an unknown disk, want none", n)
	}
}

// TestRetypeMapsARefusedUpdate checks that an update Azure refuses after
// the live read (the VM started in between) keeps Azure's kind, and
// that the disk keeps its type.
func TestRetypeMapsARefusedUpdate(t *testing.T) {
	e := newRetypeEnv(t)
	ref := rtDisk("vm-off-os")
	e.srv.Fail(azurefake.Fault{API: "DisksClient.BeginUpdate", Times: 1, Status: http.StatusConflict, Code: "OperationNotAllowed"})
	err := e.a.Retype(context.Background(), ref, "StandardSSD_LRS", "p/a/retype")
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), ref.ID) || !strings.Contains(err.Error(), "OperationNotAllowed") {
		t.Fatalf("Retype answered 409 OperationNotAllowed = %v, want a conflict naming the disk and the code", err)
	}
	if sku := e.sku(t, ref); sku != "Premium_LRS" {
		t.Errorf("estate SKU %s after a refused update, want Premium_LRS", sku)
	}
}
