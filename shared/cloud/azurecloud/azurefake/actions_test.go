package azurefake_test

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
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const (
	actionsSub = "0a1b2c3d-0000-4000-8000-0000000000c1"
	actionsRG  = "rg-shop-prod"
	actionsLoc = "eastus"
)

var actionsNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

var actionsTags = map[string]string{"cloudtrim-optin": "true", "env": "prod"}

func actionsID(typ, name string) string {
	return "/subscriptions/" + actionsSub + "/resourceGroups/" + actionsRG + "/providers/" + typ + "/" + name
}

func actionsRef(kind domain.Kind, typ, name string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: domain.Azure, Account: actionsSub, Region: actionsLoc, Kind: kind, ID: actionsID(typ, name)}
}

var (
	webVM    = actionsRef(domain.KindVM, "Microsoft.Compute/virtualMachines", "vm-web")
	webOS    = actionsRef(domain.KindDisk, "Microsoft.Compute/disks", "vm-web-os")
	orphan   = actionsRef(domain.KindDisk, "Microsoft.Compute/disks", "disk-orphan")
	oldSnap  = actionsRef(domain.KindSnapshot, "Microsoft.Compute/snapshots", "snap-old")
	freeIP   = actionsRef(domain.KindIP, "Microsoft.Network/publicIPAddresses", "ip-free")
	webIP    = actionsRef(domain.KindIP, "Microsoft.Network/publicIPAddresses", "ip-web")
	natIP    = actionsRef(domain.KindIP, "Microsoft.Network/publicIPAddresses", "ip-nat")
	unknownV = actionsRef(domain.KindVM, "Microsoft.Compute/virtualMachines", "vm-gone")
)

// actionsEstate is one subscription: a running VM with its OS disk and
// public IP, an orphan disk and its snapshot, a free address and one a
// NAT gateway holds.
func actionsEstate(t *testing.T) *azurefake.Estate {
	t.Helper()
	est := azurefake.NewEstate()
	est.AddSubscription(azurefake.NewSubscription(actionsSub, "shop-prod"))
	est.Sizes[actionsLoc] = azurefake.SyntheticSizes
	created := actionsNow.AddDate(0, -2, 0)
	vm := &azurefake.VM{ID: webVM.ID, Location: actionsLoc, Size: "Standard_D8s_v5", Tags: actionsTags, PowerState: azurefake.PowerRunning,
		TimeCreated: created, OSDiskID: webOS.ID}
	for _, err := range []error{
		est.AddVM(vm),
		est.AddDisk(&azurefake.Disk{ID: webOS.ID, Location: actionsLoc, SKU: "Premium_LRS", SizeGiB: 64, State: azurefake.DiskAttached,
			ManagedBy: webVM.ID, Tags: actionsTags, TimeCreated: created}),
		est.AddDisk(&azurefake.Disk{ID: orphan.ID, Location: actionsLoc, SKU: "StandardSSD_LRS", SizeGiB: 256, State: azurefake.DiskUnattached,
			Tags: actionsTags, TimeCreated: created}),
		est.AddSnapshot(&azurefake.Snapshot{ID: oldSnap.ID, Location: actionsLoc, SizeGiB: 256, SourceDiskID: orphan.ID, Incremental: true,
			Tags: actionsTags, TimeCreated: created}),
		est.AddPublicIP(&azurefake.PublicIP{ID: freeIP.ID, Location: actionsLoc, Address: "20.1.2.3", Tags: actionsTags}),
		est.AddPublicIP(&azurefake.PublicIP{ID: webIP.ID, Location: actionsLoc, Address: "20.1.2.4", Tags: actionsTags,
			IPConfigurationID: azurefake.IPConfigurationOf(vm)}),
		est.AddPublicIP(&azurefake.PublicIP{ID: natIP.ID, Location: actionsLoc, Address: "20.1.2.5", Tags: actionsTags,
			NATGatewayID: actionsID("Microsoft.Network/natGateways", "nat-out")}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return est
}

// serve returns a server of est with the actuator's handlers, and an
// Actuator of est's first subscription over it.
func serve(t *testing.T, est *azurefake.Estate, subs ...string) (*azurefake.Server, *azurefake.Actions, *azurecloud.Actuator) {
	t.Helper()
	var acts *azurefake.Actions
	srv := azurefake.New(est, azurefake.Options{PageSize: 3, Register: []func(*azurefake.Server){func(s *azurefake.Server) {
		acts = azurefake.ServeActions(s)
		acts.Now = func() time.Time { return actionsNow }
	}}})
	if len(subs) == 0 {
		subs = []string{actionsSub}
	}
	opts := srv.ClientOptions()
	opts.Retry.MaxRetries = -1
	a, err := azurecloud.NewActuator(azurecloud.ActuatorConfig{Credential: azurefake.Credential(), Subscriptions: subs,
		ClientOptions: opts, PollFrequency: time.Millisecond, WaitTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return srv, acts, a
}

// TestActionsGetAgreesWithTheInventory reads every resource of a
// synthetic estate and of the hand-made one through the collector's
// listing and through the Actuator's live Get: both must map them the
// same way, or the actuator would see drift where there is none.
func TestActionsGetAgreesWithTheInventory(t *testing.T) {
	synth := azurefake.Synthetic(azurefake.SyntheticConfig{Subscriptions: 1, VMsPerSubscription: 12, Now: actionsNow})
	var synthSub string
	for _, s := range synth.Subscriptions {
		synthSub = s.ID
	}
	for name, tc := range map[string]struct {
		est *azurefake.Estate
		sub string
	}{"hand-made": {actionsEstate(t), actionsSub}, "synthetic": {synth, synthSub}} {
		t.Run(name, func(t *testing.T) {
			srv, _, a := serve(t, tc.est, tc.sub)
			ctx := context.Background()
			p, err := azurecloud.New(ctx, azurecloud.Config{Credential: azurefake.Credential(), Subscriptions: []string{tc.sub},
				ClientOptions: srv.ClientOptions(), MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			scopes, err := p.Scopes(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var listed []domain.Resource
			for _, sc := range scopes {
				if err := p.Resources(ctx, sc, func(rs []domain.Resource) error { listed = append(listed, rs...); return nil }); err != nil {
					t.Fatalf("Resources(%v) = %v", sc, err)
				}
			}
			kinds := map[domain.Kind]int{}
			for _, want := range listed {
				kinds[want.Kind]++
				got, err := a.Get(ctx, want.Ref())
				if err != nil {
					t.Errorf("Get(%s) = %v", want.ID, err)
					continue
				}
				if want.Kind == domain.KindIP && want.State == domain.StateAssociated && strings.Contains(strings.ToLower(want.AttachedTo), "/providers/microsoft.compute/virtualmachines/") {
					// The listing resolves a network interface to its VM from
					// its listing of interfaces; one live read cannot.
					want.AttachedTo = got.AttachedTo
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Get(%s) differs from the inventory (-listed +live):\n%s", want.ID, diff)
				}
			}
			for _, k := range []domain.Kind{domain.KindVM, domain.KindDisk, domain.KindIP, domain.KindSnapshot} {
				if kinds[k] == 0 {
					t.Errorf("the inventory listed no %s: the comparison proves nothing about them", k)
				}
			}
		})
	}
}

func TestActionsServeTheActuator(t *testing.T) {
	est := actionsEstate(t)
	_, acts, a := serve(t, est)
	ctx := context.Background()
	state := func(r domain.ResourceRef) string {
		t.Helper()
		got, err := a.Get(ctx, r)
		if err != nil {
			t.Fatalf("Get(%s) = %v", r.ID, err)
		}
		return got.SKU + " " + got.State
	}

	// Stop deallocates, once; the OS disk becomes Reserved.
	for range 2 {
		if err := a.Stop(ctx, webVM, "p/a/stop"); err != nil {
			t.Fatal(err)
		}
	}
	if got := state(webVM); got != "Standard_D8s_v5 stopped" {
		t.Errorf("vm-web after Stop reads %s, want Standard_D8s_v5 stopped", got)
	}
	est.Lock()
	osState := est.FindDisk(webOS.ID).State
	est.Unlock()
	if osState != azurefake.DiskReserved {
		t.Errorf("the OS disk of a deallocated VM is %s, want Reserved", osState)
	}

	// Resize: refused for a size the location does not offer, then made.
	if err := a.Resize(ctx, webVM, "Standard_M416ms_v2", "p/a/resize"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Resize to a size eastus does not offer = %v, want conflict", err)
	}
	for range 2 {
		if err := a.Resize(ctx, webVM, "Standard_D4s_v5", "p/b/resize"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Start(ctx, webVM, "p/a/start"); err != nil {
		t.Fatal(err)
	}
	if got := state(webVM); got != "Standard_D4s_v5 running" {
		t.Errorf("vm-web after resize and start reads %s, want Standard_D4s_v5 running", got)
	}
	if got := state(webOS); got != "Premium_LRS in-use" {
		t.Errorf("the OS disk of a running VM reads %s, want in-use", got)
	}

	// Snapshot, once per token, then delete the disk.
	snap, err := a.Snapshot(ctx, orphan, map[string]string{"cloudtrim-action": "act-1"}, "p/c/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := a.Snapshot(ctx, orphan, map[string]string{"cloudtrim-action": "act-1"}, "p/c/snapshot"); err != nil || again != snap {
		t.Errorf("second Snapshot = %s, %v; want %s", again, err, snap)
	}
	est.Lock()
	sn := est.FindSnapshot(snap)
	est.Unlock()
	if sn == nil || !strings.EqualFold(sn.SourceDiskID, orphan.ID) || !sn.Incremental || !sn.TimeCreated.Equal(actionsNow) ||
		sn.Tags[azurecloud.TokenTag] != "p/c/snapshot" || sn.Tags["cloudtrim-action"] != "act-1" {
		t.Errorf("snapshot in the estate = %+v, want an incremental copy of disk-orphan tagged with the token and the action", sn)
	}
	for range 2 {
		if err := a.Delete(ctx, orphan, "p/c/delete"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Get(ctx, orphan); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get(deleted disk) = %v, want not found", err)
	}
	if err := a.Delete(ctx, webOS, "p/d/delete"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Delete(attached disk) = %v, want conflict", err)
	}
	if err := a.Delete(ctx, oldSnap, "p/e/delete"); err != nil {
		t.Errorf("Delete(snapshot) = %v", err)
	}

	// Release the free address; the associated ones are refused.
	if err := a.Release(ctx, freeIP, "p/f/release"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []domain.ResourceRef{webIP, natIP} {
		if err := a.Release(ctx, r, "p/g/release"); !errors.Is(err, domain.ErrConflict) {
			t.Errorf("Release(%s) = %v, want conflict", r.ID, err)
		}
	}

	// Tags merge into each kind.
	for _, r := range []domain.ResourceRef{webVM, webOS, actionsRef(domain.KindSnapshot, "Microsoft.Compute/snapshots", azurefake.NameOf(snap)), webIP} {
		before, err := a.Get(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Tag(ctx, r, map[string]string{"cloudtrim-schedule": "Mon-Fri 08:00-20:00 UTC"}, "p/h/tag"); err != nil {
			t.Fatalf("Tag(%s) = %v", r.ID, err)
		}
		after, err := a.Get(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		before.Tags["cloudtrim-schedule"] = "Mon-Fri 08:00-20:00 UTC"
		if diff := cmp.Diff(before.Tags, after.Tags); diff != "" {
			t.Errorf("tags of %s after Tag (-want +got):\n%s", r.ID, diff)
		}
	}

	want := map[string]int{
		"VirtualMachinesClient.BeginDeallocate": 1, "VirtualMachinesClient.BeginUpdate": 2, "VirtualMachinesClient.BeginStart": 1,
		"SnapshotsClient.BeginCreateOrUpdate": 1, "DisksClient.BeginDelete": 1, "SnapshotsClient.BeginDelete": 1,
		"PublicIPAddressesClient.BeginDelete": 1, "DisksClient.BeginUpdate": 1, "SnapshotsClient.BeginUpdate": 1,
		"PublicIPAddressesClient.UpdateTags": 1,
	}
	got := map[string]int{}
	for _, c := range acts.Changes() {
		if c.Status != http.StatusOK {
			t.Errorf("change %s of %s answered %d: the Actuator should have refused it before the call", c.API, c.ID, c.Status)
		}
		got[c.API]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes made (-want +got):\n%s", diff)
	}
}

// TestActionsRefuseWhatAzureRefuses calls the harness directly through
// the SDK, past the Actuator's own checks.
func TestActionsRefuseWhatAzureRefuses(t *testing.T) {
	est := actionsEstate(t)
	srv, acts, _ := serve(t, est)
	ctx := context.Background()
	disks, err := armcompute.NewDisksClient(actionsSub, azurefake.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := armcompute.NewVirtualMachinesClient(actionsSub, azurefake.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	code := func(err error) string {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return re.ErrorCode
		}
		return ""
	}
	if _, err := disks.BeginDelete(ctx, actionsRG, "vm-web-os", nil); code(err) != "OperationNotAllowed" {
		t.Errorf("delete of an attached disk = %v, want OperationNotAllowed", err)
	}
	if _, err := vms.BeginUpdate(ctx, actionsRG, "vm-web", armcompute.VirtualMachineUpdate{Properties: &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes("Standard_M416ms_v2"))}}}, nil); code(err) != "OperationNotAllowed" {
		t.Errorf("resize to a size the location does not offer = %v, want OperationNotAllowed", err)
	}
	pager := vms.NewListAvailableSizesPager(actionsRG, "vm-gone", nil)
	if _, err := pager.NextPage(ctx); code(err) != "ResourceNotFound" {
		t.Errorf("sizes of an unknown VM = %v, want ResourceNotFound", err)
	}
	// Deleting what is not there succeeds, after the operation's polls.
	poller, err := disks.BeginDelete(ctx, actionsRG, "disk-gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Errorf("delete of a missing disk = %v, want success", err)
	}
	if n := srv.CallCount("DisksClient.BeginDelete"); n != 2+acts.Steps {
		t.Errorf("%d delete requests, want %d (two deletes, %d poll of the accepted one)", n, 2+acts.Steps, acts.Steps)
	}
	refused := 0
	for _, c := range acts.Changes() {
		if c.Status != http.StatusOK {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d refused changes recorded, want 2: %+v", refused, acts.Changes())
	}
	est.Lock()
	defer est.Unlock()
	if est.FindDisk(webOS.ID) == nil || est.FindVM(webVM.ID).Size != "Standard_D8s_v5" {
		t.Error("a refused change changed the estate")
	}
}

func TestActionsFaultsAndDenials(t *testing.T) {
	est := actionsEstate(t)
	srv, acts, a := serve(t, est)
	ctx := context.Background()
	srv.Fail(azurefake.Fault{API: "VirtualMachinesClient.BeginDeallocate", Status: http.StatusConflict, Code: "AnotherOperationInProgress", Times: 1})
	if err := a.Stop(ctx, webVM, "p/a/stop"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Stop while another operation runs = %v, want conflict", err)
	}
	if n := acts.Count("VirtualMachinesClient.BeginDeallocate"); n != 0 {
		t.Errorf("the fault reached the handler %d times, want 0", n)
	}
	if err := a.Stop(ctx, webVM, "p/a/stop"); err != nil {
		t.Errorf("Stop once the fault is spent = %v", err)
	}
	srv.Deny(actionsSub, "")
	if _, err := a.Get(ctx, webVM); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Get in a denied subscription = %v, want permission", err)
	}
	if _, err := a.Get(ctx, unknownV); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Get of an unknown VM in a denied subscription = %v, want permission", err)
	}
	srv.Allow(actionsSub)
	if _, err := a.Get(ctx, unknownV); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get(unknown VM) = %v, want not found", err)
	}
}
