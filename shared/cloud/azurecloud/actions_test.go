package azurecloud_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ actuate.Resources = (*azurecloud.Actuator)(nil)

func actWithTags(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range actOptIn {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func TestActuatorGetMapsEachKind(t *testing.T) {
	e := newActEstate(t)
	e.setPowerOf("vm-batch", "deallocating", 100, "deallocated")
	a := e.actuator()
	ctx := context.Background()
	// An address held by a network interface is attached to the interface
	// (the collector resolves it to the VM from its listing of interfaces).
	nic := "/subscriptions/" + actSub + "/resourceGroups/" + actRG + "/providers/Microsoft.Network/networkInterfaces/nic-web"
	nat := "/subscriptions/" + actSub + "/resourceGroups/" + actRG + "/providers/Microsoft.Network/natGateways/nat-out"
	res := func(kind domain.Kind, id, name, sku, state string) domain.Resource {
		return domain.Resource{Cloud: domain.Azure, Account: actSub, Region: actRegion, Kind: kind, ID: id, Name: name,
			SKU: sku, State: state, Tags: actOptIn, CreatedAt: actCreated}
	}
	withDisk := func(r domain.Resource, gib int64, attached string) domain.Resource {
		r.SizeGiB, r.AttachedTo = gib, attached
		return r
	}
	ip := func(name, state, attached string) domain.Resource {
		r := res(domain.KindIP, actIPID(name), name, "public-ipv4", state)
		r.CreatedAt, r.AttachedTo = time.Time{}, attached
		return r
	}
	for _, want := range []domain.Resource{
		res(domain.KindVM, actVMID("vm-web"), "vm-web", "Standard_D4s_v3", domain.StateRunning),
		res(domain.KindVM, actVMID("vm-halted"), "vm-halted", "Standard_D2s_v3", azurecloud.StateStoppedAllocated),
		res(domain.KindVM, actVMID("vm-off"), "vm-off", "Standard_D4s_v3", domain.StateStopped),
		res(domain.KindVM, actVMID("vm-batch"), "vm-batch", "Standard_D8s_v3", "deallocating"),
		withDisk(res(domain.KindDisk, actDiskID("disk-free"), "disk-free", "Premium_LRS", domain.StateAvailable), 128, ""),
		withDisk(res(domain.KindDisk, actDiskID("disk-os-web"), "disk-os-web", "Premium_LRS", domain.StateInUse), 64, actVMID("vm-web")),
		withDisk(res(domain.KindSnapshot, actSnapID("snap-old"), "snap-old", "snapshot", domain.StateAvailable), 128, actDiskID("disk-free")),
		ip("ip-free", domain.StateAvailable, ""),
		ip("ip-nic", domain.StateAssociated, nic),
		ip("ip-nat", domain.StateAssociated, nat),
	} {
		t.Run(want.Name, func(t *testing.T) {
			// The kind is optional in a reference: the ID names it.
			r := want.Ref()
			r.Kind = ""
			got, err := a.Get(ctx, r)
			if err != nil {
				t.Fatalf("Get(%s) = %v", want.ID, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Get(%s) (-want +got):\n%s", want.ID, diff)
			}
		})
	}

	// IDs are read without regard to case.
	got, err := a.Get(ctx, actRef(domain.KindVM, strings.ToUpper(actVMID("vm-web"))))
	if err != nil || got.State != domain.StateRunning {
		t.Errorf("Get(upper-case ID) = %s, %v; want running", got.State, err)
	}

	// A VM being deleted is gone; one whose instance view reports no power
	// state is read, but incompletely, so the actuator leaves it alone.
	e.mu.Lock()
	e.vms[actKey(actVMID("vm-batch"))].Properties.ProvisioningState = to.Ptr("Deleting")
	e.vms[actKey(actVMID("vm-halted"))].Properties.InstanceView.Statuses = actPowerStatuses("x")[:1]
	e.mu.Unlock()
	if _, err := a.Get(ctx, actRef(domain.KindVM, actVMID("vm-batch"))); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get(VM being deleted) = %v, want not found", err)
	}
	if got, err := a.Get(ctx, actRef(domain.KindVM, actVMID("vm-halted"))); err != nil || got.Incomplete == "" || got.State != domain.StateUnknown {
		t.Errorf("Get(VM without a power state) = %s %q, %v; want unknown and incomplete", got.State, got.Incomplete, err)
	}

	// An answer without the instance view makes the Actuator read it.
	e.omitInstanceView = true
	views := e.count("VirtualMachinesClient.InstanceView")
	if got, err := a.Get(ctx, actRef(domain.KindVM, actVMID("vm-off"))); err != nil || got.State != domain.StateStopped {
		t.Errorf("Get(vm-off) without an instance view in the answer = %s, %v; want stopped", got.State, err)
	}
	if n := e.count("VirtualMachinesClient.InstanceView") - views; n != 1 {
		t.Errorf("%d InstanceView calls, want 1", n)
	}
}

func TestActuatorGetUnknownIsNotFound(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	for _, r := range []domain.ResourceRef{
		actRef(domain.KindVM, actVMID("vm-gone")), actRef(domain.KindDisk, actDiskID("disk-gone")),
		actRef(domain.KindSnapshot, actSnapID("snap-gone")), actRef(domain.KindIP, actIPID("ip-gone")),
	} {
		_, err := a.Get(context.Background(), r)
		if !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Get(%s) = %v, want not found", r.ID, err)
		}
		var aerr *azurecloud.Error
		if !errors.As(err, &aerr) || aerr.Status != 404 || aerr.Code != "ResourceNotFound" {
			t.Errorf("Get(%s) = %#v, want the Azure error (404 ResourceNotFound) reachable", r.ID, err)
		}
	}
}

// TestActuatorRefusesBeforeAnyCall checks references the Actuator
// refuses without sending a request: another subscription (permission),
// malformed IDs, kinds that disagree and calls that do not apply
// (invalid).
func TestActuatorRefusesBeforeAnyCall(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	foreign := func(kind domain.Kind, typ, name string) domain.ResourceRef {
		return domain.ResourceRef{Cloud: domain.Azure, Account: actForeignSub, Region: actRegion, Kind: kind,
			ID: "/subscriptions/" + actForeignSub + "/resourceGroups/" + actRG + "/providers/" + typ + "/" + name}
	}
	calls := map[string]func(domain.ResourceRef) error{
		"Get":      func(r domain.ResourceRef) error { _, err := a.Get(ctx, r); return err },
		"Stop":     func(r domain.ResourceRef) error { return a.Stop(ctx, r, "p/a/stop") },
		"Start":    func(r domain.ResourceRef) error { return a.Start(ctx, r, "p/a/start") },
		"Resize":   func(r domain.ResourceRef) error { return a.Resize(ctx, r, "Standard_D2s_v3", "p/a/resize") },
		"Snapshot": func(r domain.ResourceRef) error { _, err := a.Snapshot(ctx, r, nil, "p/a/snapshot"); return err },
		"Delete":   func(r domain.ResourceRef) error { return a.Delete(ctx, r, "p/a/delete") },
		"Release":  func(r domain.ResourceRef) error { return a.Release(ctx, r, "p/a/release") },
		"Tag":      func(r domain.ResourceRef) error { return a.Tag(ctx, r, map[string]string{"k": "v"}, "p/a/tag") },
	}
	targets := map[string]domain.ResourceRef{
		"Get": foreign(domain.KindVM, "Microsoft.Compute/virtualMachines", "vm-web"), "Stop": foreign(domain.KindVM, "Microsoft.Compute/virtualMachines", "vm-web"),
		"Start": foreign(domain.KindVM, "Microsoft.Compute/virtualMachines", "vm-web"), "Resize": foreign(domain.KindVM, "Microsoft.Compute/virtualMachines", "vm-web"),
		"Snapshot": foreign(domain.KindDisk, "Microsoft.Compute/disks", "disk-free"), "Delete": foreign(domain.KindDisk, "Microsoft.Compute/disks", "disk-free"),
		"Release": foreign(domain.KindIP, "Microsoft.Network/publicIPAddresses", "ip-free"), "Tag": foreign(domain.KindIP, "Microsoft.Network/publicIPAddresses", "ip-free"),
	}
	for name, call := range calls {
		t.Run("foreign subscription/"+name, func(t *testing.T) {
			err := call(targets[name])
			if !errors.Is(err, domain.ErrPermission) || !strings.Contains(err.Error(), actForeignSub) {
				t.Errorf("%s(another subscription) = %v, want permission naming %s", name, err, actForeignSub)
			}
		})
	}
	invalid := []struct {
		name string
		ref  domain.ResourceRef
	}{
		{"not an ID", actRef(domain.KindVM, "vm-web")},
		{"no resource group", actRef(domain.KindVM, "/subscriptions/"+actSub+"/providers/Microsoft.Compute/virtualMachines/vm-web")},
		{"a resource group", actRef("", "/subscriptions/"+actSub+"/resourceGroups/"+actRG)},
		{"a child resource", actRef(domain.KindVM, actVMID("vm-web")+"/extensions/agent")},
		{"another type", actRef("", actARMID("Microsoft.Storage/storageAccounts", "shopdata"))},
		{"kind disagrees", actRef(domain.KindDisk, actVMID("vm-web"))},
		{"account disagrees", domain.ResourceRef{Cloud: domain.Azure, Account: actForeignSub, Kind: domain.KindVM, ID: actVMID("vm-web")}},
		{"another cloud", domain.ResourceRef{Cloud: domain.AWS, Account: actSub, Kind: domain.KindVM, ID: actVMID("vm-web")}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			for name, call := range calls {
				if err := call(tc.ref); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.ref.ID) {
					t.Errorf("%s(%s) = %v, want invalid naming the ID", name, tc.ref.ID, err)
				}
			}
		})
	}
	// Calls that do not apply to the kind.
	for name, err := range map[string]error{
		"Stop(disk)":    a.Stop(ctx, actRef(domain.KindDisk, actDiskID("disk-free")), "t"),
		"Resize(ip)":    a.Resize(ctx, actRef(domain.KindIP, actIPID("ip-free")), "Standard_D2s_v3", "t"),
		"Delete(vm)":    a.Delete(ctx, actRef(domain.KindVM, actVMID("vm-web")), "t"),
		"Release(disk)": a.Release(ctx, actRef(domain.KindDisk, actDiskID("disk-free")), "t"),
		"Snapshot(snap)": func() error {
			_, err := a.Snapshot(ctx, actRef(domain.KindSnapshot, actSnapID("snap-old")), nil, "t")
			return err
		}(),
		"Resize(no sku)": a.Resize(ctx, actRef(domain.KindVM, actVMID("vm-off")), "", "t"),
		"Tag(no tags)":   a.Tag(ctx, actRef(domain.KindVM, actVMID("vm-web")), nil, "t"),
		"Snapshot(no token)": func() error {
			_, err := a.Snapshot(ctx, actRef(domain.KindDisk, actDiskID("disk-free")), nil, "")
			return err
		}(),
	} {
		if !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s = %v, want invalid", name, err)
		}
	}
	if n := e.requestCount(); n != 0 {
		t.Errorf("%d requests sent for refused calls, want none: %v", n, e.requests)
	}
}

func TestNewActuatorValidates(t *testing.T) {
	cred := &azfake.TokenCredential{}
	for name, cfg := range map[string]azurecloud.ActuatorConfig{
		"no credential":       {Subscriptions: []string{actSub}},
		"no subscription":     {Credential: cred},
		"malformed":           {Credential: cred, Subscriptions: []string{"/subscriptions/" + actSub}},
		"negative poll":       {Credential: cred, Subscriptions: []string{actSub}, PollFrequency: -time.Second},
		"negative wait limit": {Credential: cred, Subscriptions: []string{actSub}, WaitTimeout: -time.Second},
	} {
		if _, err := azurecloud.NewActuator(cfg); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("NewActuator(%s) = %v, want invalid", name, err)
		}
	}
	a, err := azurecloud.NewActuator(azurecloud.ActuatorConfig{Credential: cred, Subscriptions: []string{actSub}})
	if err != nil || a.Cloud() != domain.Azure {
		t.Errorf("NewActuator(defaults) = %v, %v; want an Azure actuator", a, err)
	}
}

func TestActuatorStopDeallocates(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()

	for _, name := range []string{"vm-web", "vm-halted"} { // running; stopped but allocated (still billing)
		t.Run(name, func(t *testing.T) {
			before := e.count("VirtualMachinesClient.BeginDeallocate")
			r := actRef(domain.KindVM, actVMID(name))
			if err := a.Stop(ctx, r, "plan/"+name+"/stop"); err != nil {
				t.Fatal(err)
			}
			if _, power, _ := e.vm(name); power != "deallocated" {
				t.Errorf("%s is %s after Stop, want deallocated", name, power)
			}
			if got, err := a.Get(ctx, r); err != nil || got.State != domain.StateStopped {
				t.Errorf("Get after Stop = %s, %v; want stopped", got.State, err)
			}
			// The same token again: the VM reads deallocated, no second call.
			if err := a.Stop(ctx, r, "plan/"+name+"/stop"); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			if n := e.count("VirtualMachinesClient.BeginDeallocate") - before; n != 1 {
				t.Errorf("%d deallocate calls for two Stops, want 1", n)
			}
		})
	}
	if n := e.count("VirtualMachinesClient.BeginPowerOff"); n != 0 {
		t.Errorf("%d power-off calls, want none: Stop must deallocate", n)
	}

	// A VM already deallocating is waited for, not deallocated again.
	e.setPowerOf("vm-batch", "deallocating", 3, "deallocated")
	before := e.mutations()
	if err := a.Stop(ctx, actRef(domain.KindVM, actVMID("vm-batch")), "plan/batch/stop"); err != nil {
		t.Fatal(err)
	}
	if n := e.mutations() - before; n != 0 {
		t.Errorf("Stop of a deallocating VM made %d mutating calls, want none", n)
	}
	if _, power, _ := e.vm("vm-batch"); power != "deallocated" {
		t.Errorf("vm-batch is %s, want deallocated", power)
	}
}

func TestActuatorStart(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	r := actRef(domain.KindVM, actVMID("vm-off"))
	for range 2 {
		if err := a.Start(ctx, r, "plan/off/start"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("VirtualMachinesClient.BeginStart"); n != 1 {
		t.Errorf("%d start calls for two Starts, want 1", n)
	}
	if _, power, _ := e.vm("vm-off"); power != "running" {
		t.Errorf("vm-off is %s after Start, want running", power)
	}
	// A VM stopping is waited for, then started.
	e.setPowerOf("vm-web", "stopping", 2, "stopped")
	if err := a.Start(ctx, actRef(domain.KindVM, actVMID("vm-web")), "plan/web/start"); err != nil {
		t.Fatal(err)
	}
	if _, power, _ := e.vm("vm-web"); power != "running" {
		t.Errorf("vm-web is %s after Start, want running", power)
	}
	if n := e.count("VirtualMachinesClient.BeginStart"); n != 2 {
		t.Errorf("%d start calls, want 2", n)
	}
}

func TestActuatorResize(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	web := actRef(domain.KindVM, actVMID("vm-web"))

	if err := a.Resize(ctx, web, "Standard_D2s_v3", "p/a/resize"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Resize(running) = %v, want conflict", err)
	}
	if err := a.Stop(ctx, web, "p/a/stop"); err != nil {
		t.Fatal(err)
	}
	err := a.Resize(ctx, web, "Standard_M128s", "p/b/resize")
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "Standard_M128s") {
		t.Errorf("Resize to a size not available = %v, want conflict naming the size", err)
	}
	if n := e.count("VirtualMachinesClient.BeginUpdate"); n != 0 {
		t.Errorf("%d update calls before a valid resize, want none", n)
	}
	if n := e.count("VirtualMachinesClient.NewListAvailableSizesPager"); n != 1 {
		t.Errorf("%d available-size listings, want 1 (the running VM is refused before)", n)
	}

	// The size is matched without case and sent as Azure spells it.
	for range 2 {
		if err := a.Resize(ctx, web, "standard_e4s_v3", "p/a/resize"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("VirtualMachinesClient.BeginUpdate"); n != 1 {
		t.Errorf("%d update calls for two Resizes, want 1", n)
	}
	upd, _ := e.body("VirtualMachinesClient.BeginUpdate", 0).(armcompute.VirtualMachineUpdate)
	if upd.Properties == nil || upd.Properties.HardwareProfile == nil || *upd.Properties.HardwareProfile.VMSize != "Standard_E4s_v3" || upd.Tags != nil {
		t.Errorf("update body = %+v, want only HardwareProfile.VMSize Standard_E4s_v3", upd)
	}
	if etags := e.bodies["VirtualMachinesClient.BeginUpdate/IfMatch"]; len(etags) != 1 {
		t.Errorf("update sent If-Match %v, want the ETag read", etags)
	}
	if size, power, _ := e.vm("vm-web"); size != "Standard_E4s_v3" || power != "deallocated" {
		t.Errorf("vm-web is %s %s, want Standard_E4s_v3 deallocated", size, power)
	}
	// A stopped but allocated VM may be resized too.
	if err := a.Resize(ctx, actRef(domain.KindVM, actVMID("vm-halted")), "Standard_D4s_v3", "p/c/resize"); err != nil {
		t.Errorf("Resize(stopped, allocated) = %v", err)
	}
}

func TestActuatorResizeRestoresSizeAfterFailedUpdate(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	off := actRef(domain.KindVM, actVMID("vm-off"))

	// The update is accepted, applies the size, then fails.
	e.fail("VirtualMachinesClient.BeginUpdate", actFault{status: 200, code: "AllocationFailed", applied: true})
	err := a.Resize(ctx, off, "Standard_D8s_v3", "p/a/resize")
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "AllocationFailed") || !strings.Contains(err.Error(), "restored") {
		t.Errorf("Resize with a failing update = %v, want conflict (AllocationFailed) saying the size was restored", err)
	}
	if size, _, _ := e.vm("vm-off"); size != "Standard_D4s_v3" {
		t.Errorf("vm-off reads %s after the failed resize, want Standard_D4s_v3 restored", size)
	}
	if n := e.count("VirtualMachinesClient.BeginUpdate"); n != 2 {
		t.Errorf("%d update calls, want 2 (the resize and the restore)", n)
	}
	restore, _ := e.body("VirtualMachinesClient.BeginUpdate", 1).(armcompute.VirtualMachineUpdate)
	if restore.Properties == nil || *restore.Properties.HardwareProfile.VMSize != "Standard_D4s_v3" {
		t.Errorf("second update = %+v, want the previous size", restore)
	}

	// Refused up front: nothing applied, nothing to restore.
	e.fail("VirtualMachinesClient.BeginUpdate", actFault{status: 409, code: "OperationNotAllowed"})
	if err := a.Resize(ctx, off, "Standard_D8s_v3", "p/b/resize"); !errors.Is(err, domain.ErrConflict) || strings.Contains(err.Error(), "restored") {
		t.Errorf("Resize refused by Azure = %v, want conflict without a restore", err)
	}
	if n := e.count("VirtualMachinesClient.BeginUpdate"); n != 3 {
		t.Errorf("%d update calls, want 3 (one more, no restore)", n)
	}
}

func TestActuatorSnapshot(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	disk := actRef(domain.KindDisk, actDiskID("disk-free"))
	tags := map[string]string{"cloudtrim-plan": "plan-1", "cloudtrim-action": "act-1"}
	token := "plan-1/act-1/snapshot"

	first, err := a.Snapshot(ctx, disk, tags, token)
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.Snapshot(ctx, disk, tags, token)
	if err != nil || again != first {
		t.Errorf("second Snapshot with the same token = %s, %v; want %s", again, err, first)
	}
	if n := e.count("SnapshotsClient.BeginCreateOrUpdate"); n != 1 {
		t.Errorf("%d snapshot creates for one token, want 1", n)
	}
	s, ok := e.snapshot(first)
	if !ok {
		t.Fatalf("the estate has no snapshot %s", first)
	}
	if !strings.EqualFold(*s.Properties.CreationData.SourceResourceID, actDiskID("disk-free")) || !*s.Properties.Incremental ||
		*s.Properties.CreationData.CreateOption != armcompute.DiskCreateOptionCopy || *s.Location != actRegion {
		t.Errorf("snapshot %s: source %s, incremental %v, option %s, location %s; want an incremental copy of disk-free in %s",
			first, *s.Properties.CreationData.SourceResourceID, *s.Properties.Incremental, *s.Properties.CreationData.CreateOption, *s.Location, actRegion)
	}
	wantTags := map[string]string{"cloudtrim-plan": "plan-1", "cloudtrim-action": "act-1", azurecloud.TokenTag: token}
	if diff := cmp.Diff(wantTags, e.tagsOf(first)); diff != "" {
		t.Errorf("snapshot tags (-want +got):\n%s", diff)
	}
	got, err := a.Get(ctx, actRef(domain.KindSnapshot, first))
	if err != nil || got.State != domain.StateAvailable || got.AttachedTo != actDiskID("disk-free") || got.SizeGiB != 128 {
		t.Errorf("Get(new snapshot) = %+v, %v; want available, of disk-free, 128 GiB", got, err)
	}

	// Another token takes another snapshot, with a name of its own.
	other, err := a.Snapshot(ctx, disk, tags, "plan-2/act-1/snapshot")
	if err != nil || other == first {
		t.Errorf("Snapshot with a new token = %s, %v; want a new snapshot", other, err)
	}
	// A token longer than a tag value is hashed into the tag.
	long := strings.Repeat("x", 300)
	l1, err := a.Snapshot(ctx, disk, nil, long)
	if err != nil {
		t.Fatal(err)
	}
	if l2, err := a.Snapshot(ctx, disk, nil, long); err != nil || l2 != l1 {
		t.Errorf("Snapshot with a 300-character token twice: %s then %s, %v; want the same", l1, l2, err)
	}
	if v := e.tagsOf(l1)[azurecloud.TokenTag]; len(v) > 256 || !strings.HasPrefix(v, "sha256:") {
		t.Errorf("token tag of a long token = %q, want its sha256", v)
	}
	if n := e.count("SnapshotsClient.BeginCreateOrUpdate"); n != 3 {
		t.Errorf("%d snapshot creates for three tokens, want 3", n)
	}

	for name, call := range map[string]struct {
		err  func() error
		want error
	}{
		"reserved tag": {func() error {
			_, err := a.Snapshot(ctx, disk, map[string]string{"CloudTrim-OptIn": "true"}, "p/x/snapshot")
			return err
		}, domain.ErrPermission},
		"unknown disk": {func() error {
			_, err := a.Snapshot(ctx, actRef(domain.KindDisk, actDiskID("disk-gone")), nil, "p/y/snapshot")
			return err
		}, domain.ErrNotFound},
	} {
		if err := call.err(); !errors.Is(err, call.want) {
			t.Errorf("Snapshot(%s) = %v, want %v", name, err, call.want)
		}
	}

	// A snapshot of that name that is not this token's is a conflict.
	e.mu.Lock()
	e.snaps[actKey(first)].Tags[azurecloud.TokenTag] = to.Ptr("someone-else")
	e.mu.Unlock()
	if _, err := a.Snapshot(ctx, disk, tags, token); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Snapshot whose name is taken by another token's snapshot = %v, want conflict", err)
	}
}

// TestActuatorSnapshotRetryFindsTheFirst: the first call gives up while
// Azure is still making the snapshot; the retry with the same token
// waits for that snapshot instead of taking a second one.
func TestActuatorSnapshotRetryFindsTheFirst(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	disk := actRef(domain.KindDisk, actDiskID("disk-free"))
	e.fail("SnapshotsClient.BeginCreateOrUpdate", actFault{steps: 5000, settle: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := a.Snapshot(ctx, disk, nil, "plan-1/act-1/snapshot"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Snapshot past the deadline = %v, want the context's deadline", err)
	}
	id, err := a.Snapshot(context.Background(), disk, nil, "plan-1/act-1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count("SnapshotsClient.BeginCreateOrUpdate"); n != 1 {
		t.Errorf("%d snapshot creates, want 1: the retry must find the first", n)
	}
	if s, ok := e.snapshot(id); !ok || *s.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("retry returned %s before the snapshot succeeded", id)
	}
}

func TestActuatorDelete(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	for _, tc := range []struct {
		name, api string
		ref       domain.ResourceRef
	}{
		{"disk", "DisksClient.BeginDelete", actRef(domain.KindDisk, actDiskID("disk-free"))},
		{"snapshot", "SnapshotsClient.BeginDelete", actRef(domain.KindSnapshot, actSnapID("snap-old"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 {
				if err := a.Delete(ctx, tc.ref, "p/"+tc.name+"/delete"); err != nil {
					t.Fatal(err)
				}
			}
			if e.exists(tc.ref.ID) {
				t.Errorf("%s still exists after Delete", tc.ref.ID)
			}
			if n := e.count(tc.api); n != 1 {
				t.Errorf("%d delete calls for two Deletes, want 1", n)
			}
			if _, err := a.Get(ctx, tc.ref); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("Get after Delete = %v, want not found", err)
			}
		})
	}
	// An attached disk is refused on a live re-read, without a call.
	err := a.Delete(ctx, actRef(domain.KindDisk, actDiskID("disk-os-web")), "p/c/delete")
	if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), actVMID("vm-web")) {
		t.Errorf("Delete(attached disk) = %v, want conflict naming the VM", err)
	}
	if n := e.count("DisksClient.BeginDelete"); n != 1 || !e.exists(actDiskID("disk-os-web")) {
		t.Errorf("attached disk: %d delete calls in all and exists=%v; want no new call and the disk kept", n, e.exists(actDiskID("disk-os-web")))
	}
	// Gone already: success without a call.
	if err := a.Delete(ctx, actRef(domain.KindDisk, actDiskID("disk-gone")), "p/d/delete"); err != nil {
		t.Errorf("Delete(unknown disk) = %v, want success", err)
	}
}

func TestActuatorRelease(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	free := actRef(domain.KindIP, actIPID("ip-free"))
	for range 2 {
		if err := a.Release(ctx, free, "p/a/release"); err != nil {
			t.Fatal(err)
		}
	}
	if e.exists(free.ID) || e.count("PublicIPAddressesClient.BeginDelete") != 1 {
		t.Errorf("after two Releases: exists=%v, %d delete calls; want gone after one call", e.exists(free.ID), e.count("PublicIPAddressesClient.BeginDelete"))
	}
	for _, name := range []string{"ip-nic", "ip-nat"} {
		err := a.Release(ctx, actRef(domain.KindIP, actIPID(name)), "p/b/release")
		if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), "associated") {
			t.Errorf("Release(%s) = %v, want conflict: associated", name, err)
		}
		if !e.exists(actIPID(name)) {
			t.Errorf("%s was released", name)
		}
	}
	if n := e.count("PublicIPAddressesClient.BeginDelete"); n != 1 {
		t.Errorf("%d delete calls, want 1: associated addresses are refused before the call", n)
	}
}

func TestActuatorTag(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator()
	ctx := context.Background()
	add := map[string]string{actuate.ScheduleTag: "Mon-Fri 08:00-20:00 UTC", "ENV": "staging"}
	for _, tc := range []struct {
		ref domain.ResourceRef
		api string
	}{
		{actRef(domain.KindVM, actVMID("vm-web")), "VirtualMachinesClient.BeginUpdate"},
		{actRef(domain.KindDisk, actDiskID("disk-free")), "DisksClient.BeginUpdate"},
		{actRef(domain.KindSnapshot, actSnapID("snap-old")), "SnapshotsClient.BeginUpdate"},
		{actRef(domain.KindIP, actIPID("ip-free")), "PublicIPAddressesClient.UpdateTags"},
	} {
		t.Run(string(tc.ref.Kind), func(t *testing.T) {
			for range 2 {
				if err := a.Tag(ctx, tc.ref, add, "p/a/tag"); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.count(tc.api); n != 1 {
				t.Errorf("%d %s calls for two Tags, want 1", n, tc.api)
			}
			// Merged: the existing tags stay; "ENV" updates "env" in place.
			want := actWithTags(map[string]string{actuate.ScheduleTag: "Mon-Fri 08:00-20:00 UTC", "env": "staging"})
			if diff := cmp.Diff(want, e.tagsOf(tc.ref.ID)); diff != "" {
				t.Errorf("tags after Tag (-want +got):\n%s", diff)
			}
			got, err := a.Get(ctx, tc.ref)
			if err != nil || got.Tags[actuate.ScheduleTag] == "" {
				t.Errorf("Get after Tag = %v, %v; want the schedule tag", got.Tags, err)
			}
		})
	}
	if etags := e.bodies["VirtualMachinesClient.BeginUpdate/IfMatch"]; len(etags) != 1 {
		t.Errorf("VM tag update sent If-Match %v, want the ETag read", etags)
	}
	before := e.mutations()
	if err := a.Tag(ctx, actRef(domain.KindVM, actVMID("vm-web")), map[string]string{"cloudtrim-optin": "true"}, "p/b/tag"); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Tag(opt-in tag) = %v, want permission", err)
	}
	if n := e.mutations() - before; n != 0 {
		t.Errorf("a refused tag made %d mutating calls", n)
	}
}

// TestActuatorMapsAzureErrors checks reads and changes answer the
// domain's kinds for Azure's statuses and codes, with the Azure error
// reachable.
func TestActuatorMapsAzureErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		{404, "ResourceNotFound", domain.ErrNotFound},
		{409, "Conflict", domain.ErrConflict},
		{409, "OperationNotAllowed", domain.ErrConflict},
		{429, "TooManyRequests", domain.ErrThrottled},
		{429, "SomethingNew", domain.ErrThrottled},
		{403, "AuthorizationFailed", domain.ErrPermission},
		{403, "SomethingNew", domain.ErrPermission},
	} {
		t.Run(strconv.Itoa(tc.status)+"/"+tc.code, func(t *testing.T) {
			e := newActEstate(t)
			a := e.actuator()
			ctx := context.Background()
			vm := actRef(domain.KindVM, actVMID("vm-web"))
			e.fail("VirtualMachinesClient.Get", actFault{status: tc.status, code: tc.code})
			_, err := a.Get(ctx, vm)
			actCheck(t, "Get", err, tc.want, tc.status, tc.code)
			e.fail("VirtualMachinesClient.BeginDeallocate", actFault{status: tc.status, code: tc.code})
			actCheck(t, "Stop", a.Stop(ctx, vm, "p/a/stop"), tc.want, tc.status, tc.code)
			if _, power, _ := e.vm("vm-web"); power != "running" {
				t.Errorf("vm-web is %s after a refused Stop, want running", power)
			}
			e.fail("VirtualMachinesClient.NewListAvailableSizesPager", actFault{status: tc.status, code: tc.code})
			actCheck(t, "Resize", a.Resize(ctx, actRef(domain.KindVM, actVMID("vm-off")), "Standard_D2s_v3", "p/a/resize"), tc.want, tc.status, tc.code)
			e.fail("PublicIPAddressesClient.BeginDelete", actFault{status: tc.status, code: tc.code})
			err = a.Release(ctx, actRef(domain.KindIP, actIPID("ip-free")), "p/a/release")
			if tc.status == 404 {
				// A delete answered 404 counts as gone; the re-read that
				// verifies it finds the address still there.
				if err == nil || errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "still exists") {
					t.Errorf("Release answered 404 while the address exists = %v, want the verification to fail", err)
				}
				return
			}
			actCheck(t, "Release", err, tc.want, tc.status, tc.code)
		})
	}
}

func actCheck(t *testing.T, call string, err, want error, status int, code string) {
	t.Helper()
	var aerr *azurecloud.Error
	if !errors.Is(err, want) || !errors.As(err, &aerr) || aerr.Status != status || aerr.Code != code {
		t.Errorf("%s with Azure answering %d %s = %v, want %v with the Azure error reachable", call, status, code, err, want)
	}
}

// TestActuatorLongRunningOperationsAreBounded: an operation slower than
// the caller's deadline returns the context's error; one slower than
// WaitTimeout an error of no kind that says so.
func TestActuatorLongRunningOperationsAreBounded(t *testing.T) {
	e := newActEstate(t)
	a := e.actuator(func(c *azurecloud.ActuatorConfig) { c.PollFrequency = 2 * time.Millisecond })
	vm := actRef(domain.KindVM, actVMID("vm-web"))
	e.fail("VirtualMachinesClient.BeginDeallocate", actFault{steps: 5000})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Stop(ctx, vm, "p/a/stop"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop past the context deadline = %v, want context.DeadlineExceeded", err)
	}

	short := e.actuator(func(c *azurecloud.ActuatorConfig) {
		c.PollFrequency, c.WaitTimeout = 2*time.Millisecond, 40*time.Millisecond
	})
	e.fail("VirtualMachinesClient.BeginStart", actFault{steps: 5000})
	err := short.Start(context.Background(), actRef(domain.KindVM, actVMID("vm-off")), "p/b/start")
	if err == nil || !strings.Contains(err.Error(), "not done after") {
		t.Fatalf("Start past WaitTimeout = %v, want an error saying it is not done", err)
	}
	for _, kind := range []error{domain.ErrConflict, domain.ErrInvalid, domain.ErrNotFound, domain.ErrPermission, domain.ErrThrottled,
		context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, kind) {
			t.Errorf("Start past WaitTimeout = %v, want an error of no kind (not %v)", err, kind)
		}
	}

	// A power transition that never ends is bounded the same way.
	e.setPowerOf("vm-batch", "deallocating", 1<<30, "deallocated")
	if err := short.Stop(context.Background(), actRef(domain.KindVM, actVMID("vm-batch")), "p/c/stop"); err == nil || !strings.Contains(err.Error(), "still deallocating") {
		t.Errorf("Stop of a VM deallocating for ever = %v, want an error naming the state", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := a.Start(cctx, vm, "p/d/start"); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v, want context.Canceled", err)
	}
}
