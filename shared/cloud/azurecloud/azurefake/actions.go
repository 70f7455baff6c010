package azurefake

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// Actions serves, on a Server's estate, the calls the actuator makes
// (azurecloud.Actuator): reads of one VM (with its instance view), disk,
// snapshot or public IP address; deallocate, start and update (size,
// tags) of a VM and the sizes available to it; delete and tag updates of
// disks, snapshots and public IP addresses; type updates of disks;
// snapshot creation. Changes
// take effect when the operation is accepted, as Azure shows them once
// the long-running operation ends; each operation answers Steps
// in-progress polls (status 200, the only one the compute fake accepts
// for them) before its result.
//
// The estate refuses what Azure refuses: deleting an attached disk (409
// OperationNotAllowed) or an associated public IP address (400
// PublicIPAddressCannotBeDeleted), resizing to a size its location does
// not offer (409 OperationNotAllowed), changing the type of a disk
// attached to a VM that is not deallocated (409 OperationNotAllowed),
// snapshotting a disk it does not hold (404 NotFound). Deleting what is not there succeeds, as in ARM.
// Faults and denied subscriptions are the Server's (Fail, Deny).
type Actions struct {
	srv *Server
	// Steps is the number of in-progress answers of a long-running
	// operation; set it before the first request. Default 1.
	Steps int
	// Now stamps the snapshots made; default time.Now.
	Now func() time.Time

	mu      sync.Mutex
	changes []Change
}

// Change is one mutating call the estate answered.
type Change struct {
	// API is the SDK's operation name
	// ("VirtualMachinesClient.BeginDeallocate").
	API string
	// ID is the resource's ID as the request named it.
	ID string
	// Status is 200 for a change made, else the status of the refusal.
	Status int
}

// ServeActions installs the actuator's handlers on s, except where a
// handler is set already, and returns them. Call it before the first
// request, directly or from Options.Register: the SDK's fake transports
// read their handlers once.
func ServeActions(s *Server) *Actions {
	a := &Actions{srv: s, Steps: 1, Now: time.Now}
	vms, disks, snaps, ips := &s.Compute.VirtualMachinesServer, &s.Compute.DisksServer, &s.Compute.SnapshotsServer, &s.Network.PublicIPAddressesServer
	if vms.Get == nil {
		vms.Get = a.vmGet
	}
	if vms.InstanceView == nil {
		vms.InstanceView = a.vmInstanceView
	}
	if vms.BeginDeallocate == nil {
		vms.BeginDeallocate = a.vmDeallocate
	}
	if vms.BeginStart == nil {
		vms.BeginStart = a.vmStart
	}
	if vms.BeginUpdate == nil {
		vms.BeginUpdate = a.vmUpdate
	}
	if vms.NewListAvailableSizesPager == nil {
		vms.NewListAvailableSizesPager = a.vmSizes
	}
	if disks.Get == nil {
		disks.Get = a.diskGet
	}
	if disks.BeginDelete == nil {
		disks.BeginDelete = a.diskDelete
	}
	if disks.BeginUpdate == nil {
		disks.BeginUpdate = a.diskUpdate
	}
	if snaps.Get == nil {
		snaps.Get = a.snapshotGet
	}
	if snaps.BeginCreateOrUpdate == nil {
		snaps.BeginCreateOrUpdate = a.snapshotCreate
	}
	if snaps.BeginDelete == nil {
		snaps.BeginDelete = a.snapshotDelete
	}
	if snaps.BeginUpdate == nil {
		snaps.BeginUpdate = a.snapshotUpdate
	}
	if ips.Get == nil {
		ips.Get = a.ipGet
	}
	if ips.BeginDelete == nil {
		ips.BeginDelete = a.ipDelete
	}
	if ips.UpdateTags == nil {
		ips.UpdateTags = a.ipUpdateTags
	}
	return a
}

// Changes returns the mutating calls answered so far, in order.
func (a *Actions) Changes() []Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Change(nil), a.changes...)
}

// Count counts the mutating calls of an API, made or refused.
func (a *Actions) Count(api string) int {
	n := 0
	for _, c := range a.Changes() {
		if c.API == api {
			n++
		}
	}
	return n
}

func (a *Actions) record(api, id string, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.changes = append(a.changes, Change{API: api, ID: id, Status: status})
}

// actionID is the ID of the resource of type typ a request names, in
// the request's subscription.
func actionID(ctx context.Context, typ, rg, name string) string {
	return "/subscriptions/" + RequestFrom(ctx).Subscription + "/resourceGroups/" + rg + "/providers/" + typ + "/" + name
}

// actionLRO answers a long-running operation: change, called with the
// estate locked, makes the change and returns its result, or the HTTP
// status and Azure code of a refusal.
func actionLRO[T any](a *Actions, api, id string, change func() (T, int, string)) (resp azfake.PollerResponder[T], errResp azfake.ErrorResponder) {
	a.srv.Estate.Lock()
	res, status, code := change()
	a.srv.Estate.Unlock()
	if status != 0 {
		a.record(api, id, status)
		errResp.SetResponseError(status, code)
		return
	}
	a.record(api, id, http.StatusOK)
	for range a.Steps {
		resp.AddNonTerminalResponse(http.StatusOK, nil)
	}
	resp.SetTerminalResponse(http.StatusOK, res, nil)
	return
}

// actionRead answers a read: get, called with the estate locked,
// returns the model or false when the resource does not exist (404
// ResourceNotFound).
func actionRead[T any](a *Actions, get func() (T, bool)) (resp azfake.Responder[T], errResp azfake.ErrorResponder) {
	a.srv.Estate.Lock()
	v, ok := get()
	a.srv.Estate.Unlock()
	if !ok {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	resp.SetResponse(http.StatusOK, v, nil)
	return
}

// actionTags turns the SDK's tags into the estate's.
func actionTags(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}

const (
	typeVM       = "Microsoft.Compute/virtualMachines"
	typeDisk     = "Microsoft.Compute/disks"
	typeSnapshot = "Microsoft.Compute/snapshots"
	typeIP       = "Microsoft.Network/publicIPAddresses"
)

func (a *Actions) vmGet(ctx context.Context, rg, name string, o *armcompute.VirtualMachinesClientGetOptions) (azfake.Responder[armcompute.VirtualMachinesClientGetResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeVM, rg, name)
	expand := o != nil && o.Expand != nil && *o.Expand == armcompute.InstanceViewTypesInstanceView
	return actionRead(a, func() (armcompute.VirtualMachinesClientGetResponse, bool) {
		vm := a.srv.Estate.FindVM(id)
		if vm == nil {
			return armcompute.VirtualMachinesClientGetResponse{}, false
		}
		return armcompute.VirtualMachinesClientGetResponse{VirtualMachine: *VMModel(vm, expand)}, true
	})
}

func (a *Actions) vmInstanceView(ctx context.Context, rg, name string, _ *armcompute.VirtualMachinesClientInstanceViewOptions) (azfake.Responder[armcompute.VirtualMachinesClientInstanceViewResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeVM, rg, name)
	return actionRead(a, func() (armcompute.VirtualMachinesClientInstanceViewResponse, bool) {
		vm := a.srv.Estate.FindVM(id)
		if vm == nil {
			return armcompute.VirtualMachinesClientInstanceViewResponse{}, false
		}
		return armcompute.VirtualMachinesClientInstanceViewResponse{VirtualMachineInstanceView: *VMModel(vm, true).Properties.InstanceView}, true
	})
}

// setPower moves a VM to a power state; the estate is locked. Its
// disks follow: a deallocated VM's disks read Reserved, a running VM's
// Attached.
func (a *Actions) setPower(id, power string) (int, string) {
	vm := a.srv.Estate.FindVM(id)
	if vm == nil {
		return http.StatusNotFound, "ResourceNotFound"
	}
	vm.PowerState = power
	for _, did := range append([]string{vm.OSDiskID}, vm.DataDiskIDs...) {
		d := a.srv.Estate.FindDisk(did)
		switch {
		case d == nil:
		case power == PowerDeallocated && d.State == DiskAttached:
			d.State = DiskReserved
		case power == PowerRunning && d.State == DiskReserved:
			d.State = DiskAttached
		}
	}
	return 0, ""
}

func (a *Actions) vmDeallocate(ctx context.Context, rg, name string, _ *armcompute.VirtualMachinesClientBeginDeallocateOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientDeallocateResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeVM, rg, name)
	return actionLRO(a, "VirtualMachinesClient.BeginDeallocate", id, func() (armcompute.VirtualMachinesClientDeallocateResponse, int, string) {
		status, code := a.setPower(id, PowerDeallocated)
		return armcompute.VirtualMachinesClientDeallocateResponse{}, status, code
	})
}

func (a *Actions) vmStart(ctx context.Context, rg, name string, _ *armcompute.VirtualMachinesClientBeginStartOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeVM, rg, name)
	return actionLRO(a, "VirtualMachinesClient.BeginStart", id, func() (armcompute.VirtualMachinesClientStartResponse, int, string) {
		status, code := a.setPower(id, PowerRunning)
		return armcompute.VirtualMachinesClientStartResponse{}, status, code
	})
}

// vmUpdate applies a VM update's size and tags. A size the VM's
// location does not offer is refused.
func (a *Actions) vmUpdate(ctx context.Context, rg, name string, upd armcompute.VirtualMachineUpdate, _ *armcompute.VirtualMachinesClientBeginUpdateOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientUpdateResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeVM, rg, name)
	return actionLRO(a, "VirtualMachinesClient.BeginUpdate", id, func() (armcompute.VirtualMachinesClientUpdateResponse, int, string) {
		vm := a.srv.Estate.FindVM(id)
		if vm == nil {
			return armcompute.VirtualMachinesClientUpdateResponse{}, http.StatusNotFound, "ResourceNotFound"
		}
		if p := upd.Properties; p != nil && p.HardwareProfile != nil && p.HardwareProfile.VMSize != nil {
			size, ok := a.srv.Estate.FindSize(vm.Location, string(*p.HardwareProfile.VMSize))
			if !ok {
				return armcompute.VirtualMachinesClientUpdateResponse{}, http.StatusConflict, "OperationNotAllowed"
			}
			vm.Size = size.Name
		}
		if upd.Tags != nil {
			vm.Tags = actionTags(upd.Tags)
		}
		return armcompute.VirtualMachinesClientUpdateResponse{VirtualMachine: *VMModel(vm, false)}, 0, ""
	})
}

// vmSizes lists the sizes a VM may be resized to: those of its
// location. A list handler receives no context, so the VM is found by
// resource group and name in every subscription; a name that is not
// unique across them is refused (400), a limit of the fake.
func (a *Actions) vmSizes(rg, name string, _ *armcompute.VirtualMachinesClientListAvailableSizesOptions) (resp azfake.PagerResponder[armcompute.VirtualMachinesClientListAvailableSizesResponse]) {
	a.srv.Estate.Lock()
	var found []*VM
	for _, sub := range a.srv.Estate.Subscriptions {
		for _, vm := range sub.VMs {
			if strings.EqualFold(ResourceGroupOf(vm.ID), rg) && strings.EqualFold(NameOf(vm.ID), name) {
				found = append(found, vm)
			}
		}
	}
	var sizes []*armcompute.VirtualMachineSize
	if len(found) == 1 {
		for _, z := range a.srv.Estate.Sizes[strings.ToLower(found[0].Location)] {
			sizes = append(sizes, &armcompute.VirtualMachineSize{Name: to.Ptr(z.Name), NumberOfCores: to.Ptr(z.VCPUs), MemoryInMB: to.Ptr(z.MemoryMiB)})
		}
	}
	a.srv.Estate.Unlock()
	switch len(found) {
	case 0:
		resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
		return resp
	case 1:
	default:
		resp.AddResponseError(http.StatusBadRequest, "AmbiguousInFake")
		return resp
	}
	return pages(sizes, a.srv.opts.PageSize, func(v []*armcompute.VirtualMachineSize) armcompute.VirtualMachinesClientListAvailableSizesResponse {
		return armcompute.VirtualMachinesClientListAvailableSizesResponse{VirtualMachineSizeListResult: armcompute.VirtualMachineSizeListResult{Value: v}}
	})
}

func (a *Actions) diskGet(ctx context.Context, rg, name string, _ *armcompute.DisksClientGetOptions) (azfake.Responder[armcompute.DisksClientGetResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeDisk, rg, name)
	return actionRead(a, func() (armcompute.DisksClientGetResponse, bool) {
		d := a.srv.Estate.FindDisk(id)
		if d == nil {
			return armcompute.DisksClientGetResponse{}, false
		}
		return armcompute.DisksClientGetResponse{Disk: *DiskModel(d)}, true
	})
}

// diskDelete deletes a disk that no VM holds.
func (a *Actions) diskDelete(ctx context.Context, rg, name string, _ *armcompute.DisksClientBeginDeleteOptions) (azfake.PollerResponder[armcompute.DisksClientDeleteResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeDisk, rg, name)
	return actionLRO(a, "DisksClient.BeginDelete", id, func() (armcompute.DisksClientDeleteResponse, int, string) {
		d := a.srv.Estate.FindDisk(id)
		switch {
		case d == nil:
		case d.ManagedBy != "" || d.State == DiskAttached || d.State == DiskReserved:
			return armcompute.DisksClientDeleteResponse{}, http.StatusConflict, "OperationNotAllowed"
		default:
			delete(a.srv.Estate.Sub(id).Disks, Key(id))
		}
		return armcompute.DisksClientDeleteResponse{}, 0, ""
	})
}

// diskUpdate applies a disk update's type (SKU) and tags. As in Azure,
// the type of a disk attached to a VM that is not deallocated, or of one
// being exported, cannot change (409 OperationNotAllowed); a type that
// is not a managed disk type is refused (400 InvalidParameter). A
// refused update changes nothing.
func (a *Actions) diskUpdate(ctx context.Context, rg, name string, upd armcompute.DiskUpdate, _ *armcompute.DisksClientBeginUpdateOptions) (azfake.PollerResponder[armcompute.DisksClientUpdateResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeDisk, rg, name)
	return actionLRO(a, "DisksClient.BeginUpdate", id, func() (armcompute.DisksClientUpdateResponse, int, string) {
		d := a.srv.Estate.FindDisk(id)
		if d == nil {
			return armcompute.DisksClientUpdateResponse{}, http.StatusNotFound, "ResourceNotFound"
		}
		sku := d.SKU
		if upd.SKU != nil && upd.SKU.Name != nil {
			i := slices.IndexFunc(armcompute.PossibleDiskStorageAccountTypesValues(), func(t armcompute.DiskStorageAccountTypes) bool {
				return strings.EqualFold(string(t), string(*upd.SKU.Name))
			})
			if i < 0 {
				return armcompute.DisksClientUpdateResponse{}, http.StatusBadRequest, "InvalidParameter"
			}
			sku = string(armcompute.PossibleDiskStorageAccountTypesValues()[i])
		}
		if !strings.EqualFold(sku, d.SKU) && (d.State == DiskAttached || d.State == DiskActiveSAS) {
			return armcompute.DisksClientUpdateResponse{}, http.StatusConflict, "OperationNotAllowed"
		}
		if sku != d.SKU {
			d.SKU, d.Tier = sku, DiskTier(sku, d.SizeGiB)
		}
		if upd.Tags != nil {
			d.Tags = actionTags(upd.Tags)
		}
		return armcompute.DisksClientUpdateResponse{Disk: *DiskModel(d)}, 0, ""
	})
}

func (a *Actions) snapshotGet(ctx context.Context, rg, name string, _ *armcompute.SnapshotsClientGetOptions) (azfake.Responder[armcompute.SnapshotsClientGetResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeSnapshot, rg, name)
	return actionRead(a, func() (armcompute.SnapshotsClientGetResponse, bool) {
		sn := a.srv.Estate.FindSnapshot(id)
		if sn == nil {
			return armcompute.SnapshotsClientGetResponse{}, false
		}
		return armcompute.SnapshotsClientGetResponse{Snapshot: *SnapshotModel(sn)}, true
	})
}

// snapshotCreate makes (or, PUT on an existing name, re-tags) a snapshot
// copied from a disk of the estate in the same subscription and
// location. Incremental snapshots are stored on Standard_LRS, as in
// Azure; a full one on the SKU asked for.
func (a *Actions) snapshotCreate(ctx context.Context, rg, name string, snap armcompute.Snapshot, _ *armcompute.SnapshotsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[armcompute.SnapshotsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeSnapshot, rg, name)
	return actionLRO(a, "SnapshotsClient.BeginCreateOrUpdate", id, func() (armcompute.SnapshotsClientCreateOrUpdateResponse, int, string) {
		p := snap.Properties
		if p == nil || p.CreationData == nil || p.CreationData.SourceResourceID == nil ||
			p.CreationData.CreateOption == nil || *p.CreationData.CreateOption != armcompute.DiskCreateOptionCopy {
			return armcompute.SnapshotsClientCreateOrUpdateResponse{}, http.StatusBadRequest, "InvalidParameter"
		}
		src := *p.CreationData.SourceResourceID
		d := a.srv.Estate.FindDisk(src)
		switch {
		case d == nil || !strings.EqualFold(SubscriptionOf(src), RequestFrom(ctx).Subscription):
			return armcompute.SnapshotsClientCreateOrUpdateResponse{}, http.StatusNotFound, "NotFound"
		case snap.Location == nil || !strings.EqualFold(normLocation(*snap.Location), normLocation(d.Location)):
			return armcompute.SnapshotsClientCreateOrUpdateResponse{}, http.StatusBadRequest, "InvalidParameter"
		}
		sn := a.srv.Estate.FindSnapshot(id)
		if sn == nil {
			sn = &Snapshot{ID: id, Location: d.Location, SizeGiB: d.SizeGiB, SourceDiskID: d.ID,
				Incremental: p.Incremental != nil && *p.Incremental, TimeCreated: a.Now().UTC()}
			if snap.SKU != nil && snap.SKU.Name != nil && !sn.Incremental {
				sn.SKU = string(*snap.SKU.Name)
			}
			a.srv.Estate.Sub(id).Snapshots[Key(id)] = sn
		}
		sn.Tags = actionTags(snap.Tags)
		return armcompute.SnapshotsClientCreateOrUpdateResponse{Snapshot: *SnapshotModel(sn)}, 0, ""
	})
}

func normLocation(l string) string { return strings.ToLower(strings.ReplaceAll(l, " ", "")) }

func (a *Actions) snapshotDelete(ctx context.Context, rg, name string, _ *armcompute.SnapshotsClientBeginDeleteOptions) (azfake.PollerResponder[armcompute.SnapshotsClientDeleteResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeSnapshot, rg, name)
	return actionLRO(a, "SnapshotsClient.BeginDelete", id, func() (armcompute.SnapshotsClientDeleteResponse, int, string) {
		if sub := a.srv.Estate.Sub(id); sub != nil {
			delete(sub.Snapshots, Key(id))
		}
		return armcompute.SnapshotsClientDeleteResponse{}, 0, ""
	})
}

func (a *Actions) snapshotUpdate(ctx context.Context, rg, name string, upd armcompute.SnapshotUpdate, _ *armcompute.SnapshotsClientBeginUpdateOptions) (azfake.PollerResponder[armcompute.SnapshotsClientUpdateResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeSnapshot, rg, name)
	return actionLRO(a, "SnapshotsClient.BeginUpdate", id, func() (armcompute.SnapshotsClientUpdateResponse, int, string) {
		sn := a.srv.Estate.FindSnapshot(id)
		if sn == nil {
			return armcompute.SnapshotsClientUpdateResponse{}, http.StatusNotFound, "ResourceNotFound"
		}
		if upd.Tags != nil {
			sn.Tags = actionTags(upd.Tags)
		}
		return armcompute.SnapshotsClientUpdateResponse{Snapshot: *SnapshotModel(sn)}, 0, ""
	})
}

func (a *Actions) ipGet(ctx context.Context, rg, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeIP, rg, name)
	return actionRead(a, func() (armnetwork.PublicIPAddressesClientGetResponse, bool) {
		ip := a.srv.Estate.FindPublicIP(id)
		if ip == nil {
			return armnetwork.PublicIPAddressesClientGetResponse{}, false
		}
		return armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: *PublicIPModel(ip)}, true
	})
}

// ipDelete deletes a public IP address nothing holds.
func (a *Actions) ipDelete(ctx context.Context, rg, name string, _ *armnetwork.PublicIPAddressesClientBeginDeleteOptions) (azfake.PollerResponder[armnetwork.PublicIPAddressesClientDeleteResponse], azfake.ErrorResponder) {
	id := actionID(ctx, typeIP, rg, name)
	return actionLRO(a, "PublicIPAddressesClient.BeginDelete", id, func() (armnetwork.PublicIPAddressesClientDeleteResponse, int, string) {
		ip := a.srv.Estate.FindPublicIP(id)
		switch {
		case ip == nil:
		case ip.IPConfigurationID != "" || ip.NATGatewayID != "":
			return armnetwork.PublicIPAddressesClientDeleteResponse{}, http.StatusBadRequest, "PublicIPAddressCannotBeDeleted"
		default:
			delete(a.srv.Estate.Sub(id).PublicIPs, Key(id))
		}
		return armnetwork.PublicIPAddressesClientDeleteResponse{}, 0, ""
	})
}

func (a *Actions) ipUpdateTags(ctx context.Context, rg, name string, tags armnetwork.TagsObject, _ *armnetwork.PublicIPAddressesClientUpdateTagsOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientUpdateTagsResponse], errResp azfake.ErrorResponder) {
	id := actionID(ctx, typeIP, rg, name)
	a.srv.Estate.Lock()
	ip := a.srv.Estate.FindPublicIP(id)
	var model armnetwork.PublicIPAddress
	if ip != nil {
		ip.Tags = actionTags(tags.Tags)
		model = *PublicIPModel(ip)
	}
	a.srv.Estate.Unlock()
	if ip == nil {
		a.record("PublicIPAddressesClient.UpdateTags", id, http.StatusNotFound)
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	a.record("PublicIPAddressesClient.UpdateTags", id, http.StatusOK)
	resp.SetResponse(http.StatusOK, armnetwork.PublicIPAddressesClientUpdateTagsResponse{PublicIPAddress: model}, nil)
	return
}
