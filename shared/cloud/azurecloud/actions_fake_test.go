package azurecloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The in-test estate: one subscription, one resource group.
const (
	actSub        = "6f1b2c3d-4e5f-4a6b-8c7d-00000000a001"
	actForeignSub = "6f1b2c3d-4e5f-4a6b-8c7d-00000000b002"
	actRG         = "rg-shop-prod"
	actRegion     = "westeurope"
)

var actCreated = time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)

// actOptIn are the tags of the resources the actuator may change.
var actOptIn = map[string]string{"cloudtrim-optin": "true", "env": "prod", "team": "web"}

func actARMID(typ, name string) string {
	return "/subscriptions/" + actSub + "/resourceGroups/" + actRG + "/providers/" + typ + "/" + name
}

func actVMID(name string) string   { return actARMID("Microsoft.Compute/virtualMachines", name) }
func actDiskID(name string) string { return actARMID("Microsoft.Compute/disks", name) }
func actSnapID(name string) string { return actARMID("Microsoft.Compute/snapshots", name) }
func actIPID(name string) string   { return actARMID("Microsoft.Network/publicIPAddresses", name) }

func actRef(kind domain.Kind, id string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: domain.Azure, Account: actSub, Region: actRegion, Kind: kind, ID: id}
}

// actFault is a failure the estate injects into the next call of an API.
type actFault struct {
	status int    // the HTTP status of the failure; 0 for none (a slow success)
	code   string // the Azure error code
	// applied: the operation is accepted and takes effect, then fails at
	// its end (a long-running operation that failed part way).
	applied bool
	// accepted: the operation is accepted, then fails at its end without
	// taking effect (a start that finds no capacity).
	accepted bool
	// steps overrides the number of in-progress answers of a long-running
	// operation (a slow one).
	steps int
	// settle, for a snapshot create: the snapshot reads Creating for this
	// many reads before it reads Succeeded.
	settle int
}

// actSettling is a state a resource moves to by itself after some reads:
// a VM's power state, a snapshot's provisioning state.
type actSettling struct {
	reads int
	to    string
}

// actEstate is an Azure estate served through the SDK's own fake servers.
// Its handlers keep the state, apply the changes and count them;
// long-running operations answer steps in-progress polls (status 200,
// the only one the compute fake accepts) before their result.
type actEstate struct {
	t  *testing.T
	mu sync.Mutex

	vms   map[string]*armcompute.VirtualMachine
	disks map[string]*armcompute.Disk
	snaps map[string]*armcompute.Snapshot
	ips   map[string]*armnetwork.PublicIPAddress
	sizes []string // the sizes every VM may take

	settle           map[string]actSettling // by lower-case ID
	faults           map[string][]actFault  // by API name, taken in order
	calls            map[string]int         // by API name: every call made to a handler
	requests         []string               // every HTTP request: method and path
	bodies           map[string][]any       // by API name: the parameters of mutating calls
	steps            int
	omitInstanceView bool
	etag             int
}

// actMutating lists the APIs that change the estate.
var actMutating = []string{
	"VirtualMachinesClient.BeginDeallocate", "VirtualMachinesClient.BeginStart", "VirtualMachinesClient.BeginUpdate",
	"VirtualMachinesClient.BeginPowerOff",
	"DisksClient.BeginDelete", "DisksClient.BeginUpdate",
	"SnapshotsClient.BeginCreateOrUpdate", "SnapshotsClient.BeginDelete", "SnapshotsClient.BeginUpdate",
	"PublicIPAddressesClient.BeginDelete", "PublicIPAddressesClient.UpdateTags",
}

func newActEstate(t *testing.T) *actEstate {
	e := &actEstate{t: t, vms: map[string]*armcompute.VirtualMachine{}, disks: map[string]*armcompute.Disk{},
		snaps: map[string]*armcompute.Snapshot{}, ips: map[string]*armnetwork.PublicIPAddress{},
		sizes:  []string{"Standard_D2s_v3", "Standard_D4s_v3", "Standard_D8s_v3", "Standard_E4s_v3", "Standard_F4s_v2"},
		settle: map[string]actSettling{}, faults: map[string][]actFault{}, calls: map[string]int{}, bodies: map[string][]any{}, steps: 1}
	e.addVM("vm-web", "Standard_D4s_v3", "running", actOptIn)
	e.addVM("vm-batch", "Standard_D8s_v3", "running", actOptIn)
	e.addVM("vm-halted", "Standard_D2s_v3", "stopped", actOptIn)
	e.addVM("vm-off", "Standard_D4s_v3", "deallocated", actOptIn)
	e.addDisk("disk-free", "Premium_LRS", 128, "", actOptIn)
	e.addDisk("disk-os-web", "Premium_LRS", 64, actVMID("vm-web"), actOptIn)
	e.addSnapshot("snap-old", actDiskID("disk-free"), 128, actOptIn)
	e.addIP("ip-free", "", actOptIn)
	e.addIP("ip-nic", "/subscriptions/"+actSub+"/resourceGroups/"+actRG+"/providers/Microsoft.Network/networkInterfaces/nic-web/ipConfigurations/ipconfig1", actOptIn)
	e.addIP("ip-nat", "", actOptIn)
	e.ips[actKey(actIPID("ip-nat"))].Properties.NatGateway = &armnetwork.NatGateway{ID: to.Ptr("/subscriptions/" + actSub + "/resourceGroups/" + actRG + "/providers/Microsoft.Network/natGateways/nat-out")}
	return e
}

func actKey(id string) string { return strings.ToLower(id) }

func actTags(tags map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range tags {
		out[k] = to.Ptr(v)
	}
	return out
}

func (e *actEstate) nextETag() *string {
	e.etag++
	return to.Ptr(fmt.Sprintf(`W/"%d"`, e.etag))
}

func (e *actEstate) addVM(name, size, power string, tags map[string]string) {
	e.vms[actKey(actVMID(name))] = &armcompute.VirtualMachine{
		ID: to.Ptr(actVMID(name)), Name: to.Ptr(name), Location: to.Ptr(actRegion), Type: to.Ptr("Microsoft.Compute/virtualMachines"),
		Tags: actTags(tags), Etag: e.nextETag(),
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile:   &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(size))},
			ProvisioningState: to.Ptr("Succeeded"), TimeCreated: to.Ptr(actCreated),
			InstanceView: &armcompute.VirtualMachineInstanceView{Statuses: actPowerStatuses(power)},
		},
	}
}

func actPowerStatuses(power string) []*armcompute.InstanceViewStatus {
	return []*armcompute.InstanceViewStatus{
		{Code: to.Ptr("ProvisioningState/succeeded"), Level: to.Ptr(armcompute.StatusLevelTypesInfo)},
		{Code: to.Ptr("PowerState/" + power), Level: to.Ptr(armcompute.StatusLevelTypesInfo)},
	}
}

func (e *actEstate) addDisk(name, sku string, gib int32, managedBy string, tags map[string]string) {
	d := &armcompute.Disk{
		ID: to.Ptr(actDiskID(name)), Name: to.Ptr(name), Location: to.Ptr(actRegion), Type: to.Ptr("Microsoft.Compute/disks"),
		Tags: actTags(tags), SKU: &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypes(sku))},
		Properties: &armcompute.DiskProperties{DiskSizeGB: to.Ptr(gib), TimeCreated: to.Ptr(actCreated),
			ProvisioningState: to.Ptr("Succeeded"), DiskState: to.Ptr(armcompute.DiskStateUnattached)},
	}
	if managedBy != "" {
		d.ManagedBy = to.Ptr(managedBy)
		d.Properties.DiskState = to.Ptr(armcompute.DiskStateAttached)
	}
	e.disks[actKey(actDiskID(name))] = d
}

func (e *actEstate) addSnapshot(name, source string, gib int32, tags map[string]string) {
	e.snaps[actKey(actSnapID(name))] = &armcompute.Snapshot{
		ID: to.Ptr(actSnapID(name)), Name: to.Ptr(name), Location: to.Ptr(actRegion), Type: to.Ptr("Microsoft.Compute/snapshots"),
		Tags: actTags(tags), SKU: &armcompute.SnapshotSKU{Name: to.Ptr(armcompute.SnapshotStorageAccountTypesStandardLRS)},
		Properties: &armcompute.SnapshotProperties{DiskSizeGB: to.Ptr(gib), TimeCreated: to.Ptr(actCreated), Incremental: to.Ptr(true),
			ProvisioningState: to.Ptr("Succeeded"),
			CreationData:      &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: to.Ptr(source)}},
	}
}

func (e *actEstate) addIP(name, ipConfig string, tags map[string]string) {
	ip := &armnetwork.PublicIPAddress{
		ID: to.Ptr(actIPID(name)), Name: to.Ptr(name), Location: to.Ptr(actRegion), Type: to.Ptr("Microsoft.Network/publicIPAddresses"),
		Tags: actTags(tags), SKU: &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUNameStandard)},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{IPAddress: to.Ptr("20.1.2.3"),
			PublicIPAddressVersion:   to.Ptr(armnetwork.IPVersionIPv4),
			PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodStatic)},
	}
	if ipConfig != "" {
		ip.Properties.IPConfiguration = &armnetwork.IPConfiguration{ID: to.Ptr(ipConfig)}
	}
	e.ips[actKey(actIPID(name))] = ip
}

// actClone deep-copies an SDK model through its JSON form, so what a
// handler answers never shares memory with the estate.
func actClone[T any](t *testing.T, v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		t.Errorf("clone %T: %v", v, err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Errorf("clone %T: %v", v, err)
	}
	return out
}

// fail makes the next call of api fail (or be slow) as f says.
func (e *actEstate) fail(api string, f actFault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[api] = append(e.faults[api], f)
}

// takeFault returns the next injected fault of api; the lock is held.
func (e *actEstate) takeFault(api string) *actFault {
	fs := e.faults[api]
	if len(fs) == 0 {
		return nil
	}
	e.faults[api] = fs[1:]
	return &fs[0]
}

// count returns the calls made to api.
func (e *actEstate) count(api string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[api]
}

// mutations returns the calls made to the APIs that change the estate.
func (e *actEstate) mutations() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, api := range actMutating {
		n += e.calls[api]
	}
	return n
}

// requestCount returns the HTTP requests the Actuator sent.
func (e *actEstate) requestCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.requests)
}

// body returns the parameters of the i-th call of api.
func (e *actEstate) body(api string, i int) any {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i >= len(e.bodies[api]) {
		return nil
	}
	return e.bodies[api][i]
}

// vm returns a copy of a VM's state: its size and power state.
func (e *actEstate) vm(name string) (size, power string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	vm, ok := e.vms[actKey(actVMID(name))]
	if !ok {
		return "", "", false
	}
	return string(*vm.Properties.HardwareProfile.VMSize), actVMPower(vm), true
}

func actVMPower(vm *armcompute.VirtualMachine) string {
	for _, s := range vm.Properties.InstanceView.Statuses {
		if p, ok := strings.CutPrefix(*s.Code, "PowerState/"); ok {
			return p
		}
	}
	return ""
}

func actSetPower(vm *armcompute.VirtualMachine, power string) {
	vm.Properties.InstanceView.Statuses = actPowerStatuses(power)
}

// setPowerOf puts a VM in a power state, which moves on to then after
// reads reads when then is not "".
func (e *actEstate) setPowerOf(name, power string, reads int, then string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	actSetPower(e.vms[actKey(actVMID(name))], power)
	if then != "" {
		e.settle[actKey(actVMID(name))] = actSettling{reads: reads, to: then}
	}
}

// exists reports whether the estate holds the resource.
func (e *actEstate) exists(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := actKey(id)
	_, vm := e.vms[k]
	_, d := e.disks[k]
	_, s := e.snaps[k]
	_, ip := e.ips[k]
	return vm || d || s || ip
}

// tagsOf returns the tags of a resource in the estate.
func (e *actEstate) tagsOf(id string) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := actKey(id)
	var tags map[string]*string
	switch {
	case e.vms[k] != nil:
		tags = e.vms[k].Tags
	case e.disks[k] != nil:
		tags = e.disks[k].Tags
	case e.snaps[k] != nil:
		tags = e.snaps[k].Tags
	case e.ips[k] != nil:
		tags = e.ips[k].Tags
	}
	out := map[string]string{}
	for k, v := range tags {
		out[k] = *v
	}
	return out
}

// snapshot returns a copy of a snapshot of the estate.
func (e *actEstate) snapshot(id string) (armcompute.Snapshot, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.snaps[actKey(id)]
	if !ok {
		return armcompute.Snapshot{}, false
	}
	return actClone(e.t, *s), true
}

// begin records a call of api and takes its fault; the lock is held.
func (e *actEstate) begin(api string, body any) *actFault {
	e.calls[api]++
	if body != nil {
		e.bodies[api] = append(e.bodies[api], body) // a fresh copy: the fake decoded it from the request
	}
	return e.takeFault(api)
}

// actLRO answers a long-running operation: apply makes the change and
// returns the result, or an HTTP status and Azure code to fail with.
// The lock is held.
func actLRO[T any](e *actEstate, f *actFault, apply func() (T, int, string)) (resp azfake.PollerResponder[T], errResp azfake.ErrorResponder) {
	if f != nil && f.status != 0 && !f.applied && !f.accepted {
		errResp.SetResponseError(f.status, f.code)
		return
	}
	var res T
	var status int
	var code string
	if f == nil || !f.accepted {
		res, status, code = apply()
	}
	if status != 0 {
		errResp.SetResponseError(status, code)
		return
	}
	steps := e.steps
	if f != nil && f.steps > 0 {
		steps = f.steps
	}
	failsLate := f != nil && (f.applied || f.accepted)
	if failsLate {
		steps = max(steps, 1) // accepted first, failed at the end
	}
	for range steps {
		resp.AddNonTerminalResponse(http.StatusOK, nil)
	}
	if failsLate {
		resp.SetTerminalError(http.StatusOK, f.code)
		return
	}
	resp.SetTerminalResponse(http.StatusOK, res, nil)
	return
}

// actRead answers a read: a fault, 404 when absent, else the value. The
// lock is held.
func actRead[T any](f *actFault, found bool, v T) (resp azfake.Responder[T], errResp azfake.ErrorResponder) {
	switch {
	case f != nil && f.status != 0:
		errResp.SetResponseError(f.status, f.code)
	case !found:
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
	default:
		resp.SetResponse(http.StatusOK, v, nil)
	}
	return
}

func (e *actEstate) typedKey(typ, rgName, name string) string {
	return actKey("/subscriptions/" + actSub + "/resourceGroups/" + rgName + "/providers/" + typ + "/" + name)
}

// settleOne moves a settling resource on by one read; the lock is held.
func (e *actEstate) settleOne(k string, apply func(string)) {
	s, ok := e.settle[k]
	if !ok {
		return
	}
	s.reads--
	if s.reads <= 0 {
		apply(s.to)
		delete(e.settle, k)
		return
	}
	e.settle[k] = s
}

func (e *actEstate) vmServer() *computefake.VirtualMachinesServer {
	return &computefake.VirtualMachinesServer{
		Get: func(ctx context.Context, rgName, name string, opts *armcompute.VirtualMachinesClientGetOptions) (azfake.Responder[armcompute.VirtualMachinesClientGetResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("VirtualMachinesClient.Get", nil)
			k := e.typedKey("Microsoft.Compute/virtualMachines", rgName, name)
			vm, ok := e.vms[k]
			var out armcompute.VirtualMachine
			if ok {
				e.settleOne(k, func(p string) { actSetPower(vm, p) })
				out = actClone(e.t, *vm)
				if opts == nil || opts.Expand == nil || *opts.Expand != armcompute.InstanceViewTypesInstanceView || e.omitInstanceView {
					out.Properties.InstanceView = nil
				}
			}
			return actRead(f, ok, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: out})
		},
		InstanceView: func(ctx context.Context, rgName, name string, _ *armcompute.VirtualMachinesClientInstanceViewOptions) (azfake.Responder[armcompute.VirtualMachinesClientInstanceViewResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("VirtualMachinesClient.InstanceView", nil)
			k := e.typedKey("Microsoft.Compute/virtualMachines", rgName, name)
			vm, ok := e.vms[k]
			var out armcompute.VirtualMachineInstanceView
			if ok {
				e.settleOne(k, func(p string) { actSetPower(vm, p) })
				out = actClone(e.t, *vm.Properties.InstanceView)
			}
			return actRead(f, ok, armcompute.VirtualMachinesClientInstanceViewResponse{VirtualMachineInstanceView: out})
		},
		BeginDeallocate: func(ctx context.Context, rgName, name string, _ *armcompute.VirtualMachinesClientBeginDeallocateOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientDeallocateResponse], azfake.ErrorResponder) {
			return actPower[armcompute.VirtualMachinesClientDeallocateResponse](e, "VirtualMachinesClient.BeginDeallocate", rgName, name, "deallocated")
		},
		BeginStart: func(ctx context.Context, rgName, name string, _ *armcompute.VirtualMachinesClientBeginStartOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientStartResponse], azfake.ErrorResponder) {
			return actPower[armcompute.VirtualMachinesClientStartResponse](e, "VirtualMachinesClient.BeginStart", rgName, name, "running")
		},
		BeginUpdate: func(ctx context.Context, rgName, name string, params armcompute.VirtualMachineUpdate, opts *armcompute.VirtualMachinesClientBeginUpdateOptions) (azfake.PollerResponder[armcompute.VirtualMachinesClientUpdateResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("VirtualMachinesClient.BeginUpdate", params)
			if opts != nil && opts.IfMatch != nil {
				e.bodies["VirtualMachinesClient.BeginUpdate/IfMatch"] = append(e.bodies["VirtualMachinesClient.BeginUpdate/IfMatch"], *opts.IfMatch)
			}
			return actLRO(e, f, func() (armcompute.VirtualMachinesClientUpdateResponse, int, string) {
				vm, ok := e.vms[e.typedKey("Microsoft.Compute/virtualMachines", rgName, name)]
				switch {
				case !ok:
					return armcompute.VirtualMachinesClientUpdateResponse{}, http.StatusNotFound, "ResourceNotFound"
				case opts != nil && opts.IfMatch != nil && *opts.IfMatch != *vm.Etag:
					return armcompute.VirtualMachinesClientUpdateResponse{}, http.StatusPreconditionFailed, "PreconditionFailed"
				}
				if params.Properties != nil && params.Properties.HardwareProfile != nil && params.Properties.HardwareProfile.VMSize != nil {
					size := string(*params.Properties.HardwareProfile.VMSize)
					if !slices.Contains(e.sizes, size) {
						return armcompute.VirtualMachinesClientUpdateResponse{}, http.StatusConflict, "SkuNotAvailable"
					}
					vm.Properties.HardwareProfile.VMSize = params.Properties.HardwareProfile.VMSize
				}
				if params.Tags != nil {
					vm.Tags = params.Tags
				}
				vm.Etag = e.nextETag()
				out := actClone(e.t, *vm)
				out.Properties.InstanceView = nil
				return armcompute.VirtualMachinesClientUpdateResponse{VirtualMachine: out}, 0, ""
			})
		},
		NewListAvailableSizesPager: func(rgName, name string, _ *armcompute.VirtualMachinesClientListAvailableSizesOptions) (resp azfake.PagerResponder[armcompute.VirtualMachinesClientListAvailableSizesResponse]) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("VirtualMachinesClient.NewListAvailableSizesPager", nil)
			switch _, ok := e.vms[e.typedKey("Microsoft.Compute/virtualMachines", rgName, name)]; {
			case f != nil:
				resp.AddResponseError(f.status, f.code)
			case !ok:
				resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
			default:
				// Two pages, so the Actuator must follow the next link.
				for _, page := range [][]string{e.sizes[:2], e.sizes[2:]} {
					var p armcompute.VirtualMachinesClientListAvailableSizesResponse
					for _, s := range page {
						p.Value = append(p.Value, &armcompute.VirtualMachineSize{Name: to.Ptr(s)})
					}
					resp.AddPage(http.StatusOK, p, nil)
				}
			}
			return
		},
	}
}

// actPower answers a deallocate or a start: the VM moves to the power
// state want.
func actPower[T any](e *actEstate, api, rgName, name, want string) (azfake.PollerResponder[T], azfake.ErrorResponder) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.begin(api, nil)
	return actLRO(e, f, func() (T, int, string) {
		var zero T
		vm, ok := e.vms[e.typedKey("Microsoft.Compute/virtualMachines", rgName, name)]
		if !ok {
			return zero, http.StatusNotFound, "ResourceNotFound"
		}
		actSetPower(vm, want)
		return zero, 0, ""
	})
}

func (e *actEstate) diskServer() *computefake.DisksServer {
	return &computefake.DisksServer{
		Get: func(ctx context.Context, rgName, name string, _ *armcompute.DisksClientGetOptions) (azfake.Responder[armcompute.DisksClientGetResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("DisksClient.Get", nil)
			d, ok := e.disks[e.typedKey("Microsoft.Compute/disks", rgName, name)]
			var out armcompute.Disk
			if ok {
				out = actClone(e.t, *d)
			}
			return actRead(f, ok, armcompute.DisksClientGetResponse{Disk: out})
		},
		BeginDelete: func(ctx context.Context, rgName, name string, _ *armcompute.DisksClientBeginDeleteOptions) (azfake.PollerResponder[armcompute.DisksClientDeleteResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("DisksClient.BeginDelete", nil)
			return actLRO(e, f, func() (armcompute.DisksClientDeleteResponse, int, string) {
				k := e.typedKey("Microsoft.Compute/disks", rgName, name)
				if d, ok := e.disks[k]; ok && d.ManagedBy != nil {
					return armcompute.DisksClientDeleteResponse{}, http.StatusConflict, "OperationNotAllowed"
				}
				delete(e.disks, k) // deleting what is not there succeeds, as in ARM
				return armcompute.DisksClientDeleteResponse{}, 0, ""
			})
		},
		BeginUpdate: func(ctx context.Context, rgName, name string, upd armcompute.DiskUpdate, _ *armcompute.DisksClientBeginUpdateOptions) (azfake.PollerResponder[armcompute.DisksClientUpdateResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("DisksClient.BeginUpdate", upd)
			return actLRO(e, f, func() (armcompute.DisksClientUpdateResponse, int, string) {
				d, ok := e.disks[e.typedKey("Microsoft.Compute/disks", rgName, name)]
				if !ok {
					return armcompute.DisksClientUpdateResponse{}, http.StatusNotFound, "ResourceNotFound"
				}
				if upd.Tags != nil {
					d.Tags = upd.Tags
				}
				return armcompute.DisksClientUpdateResponse{Disk: actClone(e.t, *d)}, 0, ""
			})
		},
	}
}

func (e *actEstate) snapshotServer() *computefake.SnapshotsServer {
	return &computefake.SnapshotsServer{
		Get: func(ctx context.Context, rgName, name string, _ *armcompute.SnapshotsClientGetOptions) (azfake.Responder[armcompute.SnapshotsClientGetResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("SnapshotsClient.Get", nil)
			k := e.typedKey("Microsoft.Compute/snapshots", rgName, name)
			s, ok := e.snaps[k]
			var out armcompute.Snapshot
			if ok {
				e.settleOne(k, func(state string) { s.Properties.ProvisioningState = to.Ptr(state) })
				out = actClone(e.t, *s)
			}
			return actRead(f, ok, armcompute.SnapshotsClientGetResponse{Snapshot: out})
		},
		BeginCreateOrUpdate: func(ctx context.Context, rgName, name string, snap armcompute.Snapshot, _ *armcompute.SnapshotsClientBeginCreateOrUpdateOptions) (azfake.PollerResponder[armcompute.SnapshotsClientCreateOrUpdateResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("SnapshotsClient.BeginCreateOrUpdate", snap)
			return actLRO(e, f, func() (armcompute.SnapshotsClientCreateOrUpdateResponse, int, string) {
				if snap.Properties == nil || snap.Properties.CreationData == nil || snap.Properties.CreationData.SourceResourceID == nil {
					return armcompute.SnapshotsClientCreateOrUpdateResponse{}, http.StatusBadRequest, "InvalidParameter"
				}
				src, ok := e.disks[actKey(*snap.Properties.CreationData.SourceResourceID)]
				if !ok {
					return armcompute.SnapshotsClientCreateOrUpdateResponse{}, http.StatusNotFound, "NotFound"
				}
				k := e.typedKey("Microsoft.Compute/snapshots", rgName, name)
				s := actClone(e.t, snap)
				s.ID = to.Ptr("/subscriptions/" + actSub + "/resourceGroups/" + rgName + "/providers/Microsoft.Compute/snapshots/" + name)
				s.Name, s.Type = to.Ptr(name), to.Ptr("Microsoft.Compute/snapshots")
				s.SKU = &armcompute.SnapshotSKU{Name: to.Ptr(armcompute.SnapshotStorageAccountTypesStandardLRS)}
				s.Properties.DiskSizeGB = src.Properties.DiskSizeGB
				s.Properties.TimeCreated = to.Ptr(actCreated.Add(time.Duration(len(e.snaps)) * time.Hour))
				s.Properties.ProvisioningState = to.Ptr("Succeeded")
				if f != nil && f.settle > 0 {
					s.Properties.ProvisioningState = to.Ptr("Creating")
					e.settle[k] = actSettling{reads: f.settle, to: "Succeeded"}
				}
				e.snaps[k] = &s
				return armcompute.SnapshotsClientCreateOrUpdateResponse{Snapshot: actClone(e.t, s)}, 0, ""
			})
		},
		BeginDelete: func(ctx context.Context, rgName, name string, _ *armcompute.SnapshotsClientBeginDeleteOptions) (azfake.PollerResponder[armcompute.SnapshotsClientDeleteResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("SnapshotsClient.BeginDelete", nil)
			return actLRO(e, f, func() (armcompute.SnapshotsClientDeleteResponse, int, string) {
				delete(e.snaps, e.typedKey("Microsoft.Compute/snapshots", rgName, name))
				return armcompute.SnapshotsClientDeleteResponse{}, 0, ""
			})
		},
		BeginUpdate: func(ctx context.Context, rgName, name string, upd armcompute.SnapshotUpdate, _ *armcompute.SnapshotsClientBeginUpdateOptions) (azfake.PollerResponder[armcompute.SnapshotsClientUpdateResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("SnapshotsClient.BeginUpdate", upd)
			return actLRO(e, f, func() (armcompute.SnapshotsClientUpdateResponse, int, string) {
				s, ok := e.snaps[e.typedKey("Microsoft.Compute/snapshots", rgName, name)]
				if !ok {
					return armcompute.SnapshotsClientUpdateResponse{}, http.StatusNotFound, "ResourceNotFound"
				}
				if upd.Tags != nil {
					s.Tags = upd.Tags
				}
				return armcompute.SnapshotsClientUpdateResponse{Snapshot: actClone(e.t, *s)}, 0, ""
			})
		},
	}
}

func (e *actEstate) ipServer() *networkfake.PublicIPAddressesServer {
	return &networkfake.PublicIPAddressesServer{
		Get: func(ctx context.Context, rgName, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("PublicIPAddressesClient.Get", nil)
			ip, ok := e.ips[e.typedKey("Microsoft.Network/publicIPAddresses", rgName, name)]
			var out armnetwork.PublicIPAddress
			if ok {
				out = actClone(e.t, *ip)
			}
			return actRead(f, ok, armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: out})
		},
		BeginDelete: func(ctx context.Context, rgName, name string, _ *armnetwork.PublicIPAddressesClientBeginDeleteOptions) (azfake.PollerResponder[armnetwork.PublicIPAddressesClientDeleteResponse], azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("PublicIPAddressesClient.BeginDelete", nil)
			return actLRO(e, f, func() (armnetwork.PublicIPAddressesClientDeleteResponse, int, string) {
				k := e.typedKey("Microsoft.Network/publicIPAddresses", rgName, name)
				if ip, ok := e.ips[k]; ok && (ip.Properties.IPConfiguration != nil || ip.Properties.NatGateway != nil) {
					return armnetwork.PublicIPAddressesClientDeleteResponse{}, http.StatusBadRequest, "PublicIPAddressInUse"
				}
				delete(e.ips, k)
				return armnetwork.PublicIPAddressesClientDeleteResponse{}, 0, ""
			})
		},
		UpdateTags: func(ctx context.Context, rgName, name string, tags armnetwork.TagsObject, _ *armnetwork.PublicIPAddressesClientUpdateTagsOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientUpdateTagsResponse], errResp azfake.ErrorResponder) {
			e.mu.Lock()
			defer e.mu.Unlock()
			f := e.begin("PublicIPAddressesClient.UpdateTags", tags)
			ip, ok := e.ips[e.typedKey("Microsoft.Network/publicIPAddresses", rgName, name)]
			if ok && (f == nil || f.status == 0) {
				ip.Tags = tags.Tags
			}
			var out armnetwork.PublicIPAddress
			if ok {
				out = actClone(e.t, *ip)
			}
			return actRead(f, ok, armnetwork.PublicIPAddressesClientUpdateTagsResponse{PublicIPAddress: out})
		},
	}
}

// actFakeSuffix matches what the SDK's fakes append to a path to poll an
// operation or to fetch the next page.
var actFakeSuffix = regexp.MustCompile(`(/get/fake/status|/fake_page_\d+)$`)

// actMux is the one transport of every client: it records each request
// and routes it by the resource type in its path to the SDK's fake
// server transport of that type. Each operation (a first request) gets
// a transport of its own, which its polls and next pages then follow:
// the SDK's fake transports keep a failed operation's responder, which
// would otherwise answer the next operation on the same resource.
type actMux struct {
	e   *actEstate
	mu  sync.Mutex
	ops map[string]policy.Transporter
}

func (m *actMux) Do(req *http.Request) (*http.Response, error) {
	m.e.mu.Lock()
	m.e.requests = append(m.e.requests, req.Method+" "+req.URL.Path)
	m.e.mu.Unlock()
	if !strings.HasPrefix(strings.ToLower(req.URL.Path), "/subscriptions/"+actSub+"/") {
		return nil, fmt.Errorf("request outside the estate's subscription: %s", req.URL.Path)
	}
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	base := actFakeSuffix.ReplaceAllString(req.URL.Path, "")
	opKey := api + " " + strings.ToLower(base)
	m.mu.Lock()
	tr, ok := m.ops[opKey]
	if !ok || base == req.URL.Path {
		tr = m.transport(base)
		m.ops[opKey] = tr
	}
	m.mu.Unlock()
	if tr == nil {
		return nil, fmt.Errorf("no fake serves %s", req.URL.Path)
	}
	return tr.Do(req)
}

func (m *actMux) transport(path string) policy.Transporter {
	p := strings.ToLower(path)
	switch {
	case strings.Contains(p, "/providers/microsoft.compute/virtualmachines/"):
		return computefake.NewVirtualMachinesServerTransport(m.e.vmServer())
	case strings.Contains(p, "/providers/microsoft.compute/disks/"):
		return computefake.NewDisksServerTransport(m.e.diskServer())
	case strings.Contains(p, "/providers/microsoft.compute/snapshots/"):
		return computefake.NewSnapshotsServerTransport(m.e.snapshotServer())
	case strings.Contains(p, "/providers/microsoft.network/publicipaddresses/"):
		return networkfake.NewPublicIPAddressesServerTransport(m.e.ipServer())
	}
	return nil
}

// clientOptions routes every client of an Actuator to the estate.
func (e *actEstate) clientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: &actMux{e: e, ops: map[string]policy.Transporter{}}}}
}

// actuator returns an Actuator of the estate's subscription that polls
// every millisecond.
func (e *actEstate) actuator(edit ...func(*azurecloud.ActuatorConfig)) *azurecloud.Actuator {
	e.t.Helper()
	cfg := azurecloud.ActuatorConfig{Credential: &azfake.TokenCredential{}, Subscriptions: []string{actSub},
		ClientOptions: e.clientOptions(), PollFrequency: time.Millisecond, WaitTimeout: 10 * time.Second}
	for _, f := range edit {
		f(&cfg)
	}
	a, err := azurecloud.NewActuator(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}
