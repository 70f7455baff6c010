package azurefake

import (
	"regexp"
	"strconv"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
)

// bindCompute installs, on a copy of the compute factory made for one
// listing, the list handlers left nil: VMs of the subscription, disks,
// snapshots and the VM sizes of a location.
func (s *Server) bindCompute(f *computefake.ServerFactory, info Request) {
	if f.VirtualMachinesServer.NewListAllPager == nil {
		f.VirtualMachinesServer.NewListAllPager = func(o *armcompute.VirtualMachinesClientListAllOptions) azfake.PagerResponder[armcompute.VirtualMachinesClientListAllResponse] {
			statusOnly := o != nil && o.StatusOnly != nil && strings.EqualFold(*o.StatusOnly, "true")
			expand := o != nil && o.Expand != nil
			var vms []*armcompute.VirtualMachine
			s.Estate.Lock()
			if sub := s.Estate.Sub(info.Subscription); sub != nil {
				for _, k := range sortedKeys(sub.VMs) {
					if statusOnly {
						vms = append(vms, VMStatusModel(sub.VMs[k]))
					} else {
						vms = append(vms, VMModel(sub.VMs[k], expand))
					}
				}
			}
			s.Estate.Unlock()
			return pages(vms, s.opts.PageSize, func(v []*armcompute.VirtualMachine) armcompute.VirtualMachinesClientListAllResponse {
				return armcompute.VirtualMachinesClientListAllResponse{VirtualMachineListResult: armcompute.VirtualMachineListResult{Value: v}}
			})
		}
	}
	if f.DisksServer.NewListPager == nil {
		f.DisksServer.NewListPager = func(*armcompute.DisksClientListOptions) azfake.PagerResponder[armcompute.DisksClientListResponse] {
			var disks []*armcompute.Disk
			s.Estate.Lock()
			if sub := s.Estate.Sub(info.Subscription); sub != nil {
				for _, k := range sortedKeys(sub.Disks) {
					disks = append(disks, DiskModel(sub.Disks[k]))
				}
			}
			s.Estate.Unlock()
			return pages(disks, s.opts.PageSize, func(v []*armcompute.Disk) armcompute.DisksClientListResponse {
				return armcompute.DisksClientListResponse{DiskList: armcompute.DiskList{Value: v}}
			})
		}
	}
	if f.SnapshotsServer.NewListPager == nil {
		f.SnapshotsServer.NewListPager = func(*armcompute.SnapshotsClientListOptions) azfake.PagerResponder[armcompute.SnapshotsClientListResponse] {
			var snaps []*armcompute.Snapshot
			s.Estate.Lock()
			if sub := s.Estate.Sub(info.Subscription); sub != nil {
				for _, k := range sortedKeys(sub.Snapshots) {
					snaps = append(snaps, SnapshotModel(sub.Snapshots[k]))
				}
			}
			s.Estate.Unlock()
			return pages(snaps, s.opts.PageSize, func(v []*armcompute.Snapshot) armcompute.SnapshotsClientListResponse {
				return armcompute.SnapshotsClientListResponse{SnapshotList: armcompute.SnapshotList{Value: v}}
			})
		}
	}
	if f.ResourceSKUsServer.NewListPager == nil {
		f.ResourceSKUsServer.NewListPager = func(o *armcompute.ResourceSKUsClientListOptions) azfake.PagerResponder[armcompute.ResourceSKUsClientListResponse] {
			var location string
			if o != nil && o.Filter != nil {
				if m := locationFilter.FindStringSubmatch(*o.Filter); m != nil {
					location = strings.ToLower(m[1])
				}
			}
			var skus []*armcompute.ResourceSKU
			s.Estate.Lock()
			for _, loc := range sortedKeys(s.Estate.Sizes) {
				if location != "" && loc != location {
					continue
				}
				for _, z := range s.Estate.Sizes[loc] {
					skus = append(skus, ResourceSKUModel(loc, z))
				}
			}
			s.Estate.Unlock()
			return pages(skus, s.opts.PageSize, func(v []*armcompute.ResourceSKU) armcompute.ResourceSKUsClientListResponse {
				return armcompute.ResourceSKUsClientListResponse{ResourceSKUsResult: armcompute.ResourceSKUsResult{Value: v}}
			})
		}
	}
	if f.VirtualMachineSizesServer.NewListPager == nil {
		f.VirtualMachineSizesServer.NewListPager = func(location string, _ *armcompute.VirtualMachineSizesClientListOptions) azfake.PagerResponder[armcompute.VirtualMachineSizesClientListResponse] {
			var sizes []*armcompute.VirtualMachineSize
			s.Estate.Lock()
			for _, z := range s.Estate.Sizes[strings.ToLower(location)] {
				sizes = append(sizes, &armcompute.VirtualMachineSize{Name: to.Ptr(z.Name), NumberOfCores: to.Ptr(z.VCPUs), MemoryInMB: to.Ptr(z.MemoryMiB)})
			}
			s.Estate.Unlock()
			// The sizes API answers one page.
			return pages(sizes, len(sizes)+1, func(v []*armcompute.VirtualMachineSize) armcompute.VirtualMachineSizesClientListResponse {
				return armcompute.VirtualMachineSizesClientListResponse{VirtualMachineSizeListResult: armcompute.VirtualMachineSizeListResult{Value: v}}
			})
		}
	}
}

// locationFilter reads the location of a resource SKUs $filter.
var locationFilter = regexp.MustCompile(`(?i)location\s+eq\s+'([^']*)'`)

// ResourceSKUModel returns the resource SKU of a VM size in a location,
// with the capabilities Azure reports for it (vCPUs, MemoryGB, GPUs,
// CpuArchitectureType).
func ResourceSKUModel(location string, z VMSize) *armcompute.ResourceSKU {
	arch := z.Arch
	if arch == "" {
		arch = "x64"
	}
	caps := []*armcompute.ResourceSKUCapabilities{
		{Name: to.Ptr("vCPUs"), Value: to.Ptr(strconv.Itoa(int(z.VCPUs)))},
		{Name: to.Ptr("MemoryGB"), Value: to.Ptr(strconv.FormatFloat(float64(z.MemoryMiB)/1024, 'f', -1, 64))},
		{Name: to.Ptr("CpuArchitectureType"), Value: to.Ptr(arch)},
	}
	if z.GPUs > 0 {
		caps = append(caps, &armcompute.ResourceSKUCapabilities{Name: to.Ptr("GPUs"), Value: to.Ptr(strconv.Itoa(int(z.GPUs)))})
	}
	size, _ := strings.CutPrefix(z.Name, "Standard_")
	return &armcompute.ResourceSKU{Name: to.Ptr(z.Name), ResourceType: to.Ptr("virtualMachines"), Tier: to.Ptr("Standard"),
		Size: to.Ptr(size), Locations: []*string{to.Ptr(location)}, Capabilities: caps}
}

// pages splits items into pages of size; an empty listing is one empty
// page, as ARM answers it.
func pages[T any, R any](items []T, size int, page func([]T) R) azfake.PagerResponder[R] {
	var resp azfake.PagerResponder[R]
	if len(items) == 0 {
		resp.AddPage(200, page(nil), nil)
		return resp
	}
	for i := 0; i < len(items); i += size {
		resp.AddPage(200, page(items[i:min(i+size, len(items))]), nil)
	}
	return resp
}

// tagPtrs turns tags into the SDK's map of pointers.
func tagPtrs(tags map[string]string) map[string]*string {
	if tags == nil {
		return nil
	}
	m := make(map[string]*string, len(tags))
	for k, v := range tags {
		m[k] = to.Ptr(v)
	}
	return m
}

func strPtrs(ss []string) []*string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = to.Ptr(ss[i])
	}
	return out
}

// powerDisplay is the display status of each power state.
var powerDisplay = map[string]string{
	PowerRunning: "VM running", PowerStopped: "VM stopped", PowerDeallocated: "VM deallocated",
	PowerStarting: "VM starting", PowerStopping: "VM stopping", PowerDeallocating: "VM deallocating",
}

// VMModel returns the ARM model of a VM; instanceView adds the instance
// view's statuses (provisioning and power state), as a listing with
// statusOnly=true or a Get with $expand=instanceView answers.
func VMModel(vm *VM, instanceView bool) *armcompute.VirtualMachine {
	prov := vm.ProvisioningState
	if prov == "" {
		prov = "Succeeded"
	}
	props := &armcompute.VirtualMachineProperties{
		HardwareProfile:   &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(vm.Size))},
		NetworkProfile:    &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: to.Ptr(NICOf(vm))}}},
		ProvisioningState: to.Ptr(prov),
		StorageProfile:    &armcompute.StorageProfile{},
	}
	if !vm.TimeCreated.IsZero() {
		props.TimeCreated = to.Ptr(vm.TimeCreated.UTC())
	}
	if vm.OSDiskID != "" {
		props.StorageProfile.OSDisk = &armcompute.OSDisk{Name: to.Ptr(NameOf(vm.OSDiskID)), CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesFromImage),
			OSType: to.Ptr(armcompute.OperatingSystemTypesLinux), ManagedDisk: &armcompute.ManagedDiskParameters{ID: to.Ptr(vm.OSDiskID)}}
	}
	for i, id := range vm.DataDiskIDs {
		props.StorageProfile.DataDisks = append(props.StorageProfile.DataDisks, &armcompute.DataDisk{Lun: to.Ptr(int32(i)), Name: to.Ptr(NameOf(id)),
			CreateOption: to.Ptr(armcompute.DiskCreateOptionTypesAttach), ManagedDisk: &armcompute.ManagedDiskParameters{ID: to.Ptr(id)}})
	}
	if instanceView {
		iv := &armcompute.VirtualMachineInstanceView{Statuses: []*armcompute.InstanceViewStatus{
			{Code: to.Ptr("ProvisioningState/" + strings.ToLower(prov)), Level: to.Ptr(armcompute.StatusLevelTypesInfo)},
		}}
		if vm.PowerState != "" {
			display := powerDisplay[vm.PowerState]
			if display == "" {
				display = "VM " + vm.PowerState
			}
			iv.Statuses = append(iv.Statuses, &armcompute.InstanceViewStatus{Code: to.Ptr("PowerState/" + vm.PowerState),
				DisplayStatus: to.Ptr(display), Level: to.Ptr(armcompute.StatusLevelTypesInfo)})
		}
		props.InstanceView = iv
	}
	return &armcompute.VirtualMachine{
		ID: to.Ptr(vm.ID), Name: to.Ptr(NameOf(vm.ID)), Type: to.Ptr("Microsoft.Compute/virtualMachines"),
		Location: to.Ptr(vm.Location), Tags: tagPtrs(vm.Tags), Zones: strPtrs(vm.Zones), Properties: props,
	}
}

// VMStatusModel returns what a listing with statusOnly=true says of a
// VM: its identity and location and its instance view, without the rest
// of its model (size, disks, tags).
func VMStatusModel(vm *VM) *armcompute.VirtualMachine {
	full := VMModel(vm, true)
	return &armcompute.VirtualMachine{ID: full.ID, Name: full.Name, Type: full.Type, Location: full.Location,
		Properties: &armcompute.VirtualMachineProperties{InstanceView: full.Properties.InstanceView}}
}

// DiskModel returns the ARM model of a managed disk.
func DiskModel(d *Disk) *armcompute.Disk {
	props := &armcompute.DiskProperties{
		CreationData:      &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionEmpty)},
		DiskSizeGB:        to.Ptr(d.SizeGiB),
		DiskSizeBytes:     to.Ptr(int64(d.SizeGiB) << 30),
		DiskState:         to.Ptr(armcompute.DiskState(d.State)),
		ProvisioningState: to.Ptr("Succeeded"),
	}
	if d.IOPS > 0 {
		props.DiskIOPSReadWrite = to.Ptr(d.IOPS)
	}
	if d.MBps > 0 {
		props.DiskMBpsReadWrite = to.Ptr(d.MBps)
	}
	if d.Tier != "" {
		props.Tier = to.Ptr(d.Tier)
	}
	if !d.TimeCreated.IsZero() {
		props.TimeCreated = to.Ptr(d.TimeCreated.UTC())
	}
	m := &armcompute.Disk{
		ID: to.Ptr(d.ID), Name: to.Ptr(NameOf(d.ID)), Type: to.Ptr("Microsoft.Compute/disks"), Location: to.Ptr(d.Location),
		SKU: &armcompute.DiskSKU{Name: to.Ptr(armcompute.DiskStorageAccountTypes(d.SKU))}, Tags: tagPtrs(d.Tags),
		Zones: strPtrs(d.Zones), Properties: props,
	}
	if d.ManagedBy != "" {
		m.ManagedBy = to.Ptr(d.ManagedBy)
	}
	return m
}

// SnapshotModel returns the ARM model of a snapshot.
func SnapshotModel(sn *Snapshot) *armcompute.Snapshot {
	prov := sn.ProvisioningState
	if prov == "" {
		prov = "Succeeded"
	}
	props := &armcompute.SnapshotProperties{
		CreationData:      &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy)},
		DiskSizeGB:        to.Ptr(sn.SizeGiB),
		DiskSizeBytes:     to.Ptr(int64(sn.SizeGiB) << 30),
		Incremental:       to.Ptr(sn.Incremental),
		ProvisioningState: to.Ptr(prov),
	}
	if sn.SourceDiskID != "" {
		props.CreationData.SourceResourceID = to.Ptr(sn.SourceDiskID)
	}
	if !sn.TimeCreated.IsZero() {
		props.TimeCreated = to.Ptr(sn.TimeCreated.UTC())
	}
	sku := sn.SKU
	if sku == "" {
		sku = string(armcompute.SnapshotStorageAccountTypesStandardLRS)
	}
	return &armcompute.Snapshot{
		ID: to.Ptr(sn.ID), Name: to.Ptr(NameOf(sn.ID)), Type: to.Ptr("Microsoft.Compute/snapshots"), Location: to.Ptr(sn.Location),
		SKU: &armcompute.SnapshotSKU{Name: to.Ptr(armcompute.SnapshotStorageAccountTypes(sku))}, Tags: tagPtrs(sn.Tags), Properties: props,
	}
}
