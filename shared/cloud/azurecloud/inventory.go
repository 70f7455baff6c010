package azurecloud

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ collect.Inventory = (*Provider)(nil)

// VM states Azure has and the domain does not name. A VM stopped from
// inside its OS or by the API's power-off (not deallocated) keeps its
// hardware and bills its compute like a running one: it is
// StateStoppedAllocated, never domain.StateStopped, which means a VM
// that no longer bills compute (Azure's "deallocated"). The transitions
// keep their Azure names.
const (
	StateStoppedAllocated = domain.StateStoppedAllocated
	StateStarting         = "starting"
	StateStopping         = "stopping"
	StateDeallocating     = "deallocating"
)

// The SKUs the price catalog gives snapshots and public IP addresses (a
// managed disk's SKU is its storage account type, Premium_LRS ...).
const (
	SnapshotSKU  = "snapshot"
	IPSKU        = "public-ipv4"       // Standard SKU, IPv4
	IPBasicSKU   = "public-ipv4-basic" // Basic SKU, IPv4 (retired by Azure in 2025)
	IPv6SKU      = "public-ipv6"
	IPv6BasicSKU = "public-ipv6-basic"
)

// incompletePower is the Incomplete of a VM without a power state.
const incompletePower = "power state not reported by the instance view"

// Resources implements collect.Inventory: it calls fn with pages of at
// most Config.PageSize resources of scope's subscription in scope's
// region, in this order: virtual machines (with their power state, from
// a listing with statusOnly=true, joined by ID to the listing of their
// models), managed disks, public IP addresses and snapshots, each in
// ARM's order. ARM lists by subscription, so each kind is listed whole
// (following every nextLink) and the other regions' resources are
// passed over. fn's error stops the listing and is returned as is.
//
// A scope with an empty region is a subscription Scopes could not list
// (its error is returned, wrapping domain.ErrPermission or
// domain.ErrThrottled) or one without resources. Any other error is the
// first listing that failed, from mapErr; the resources read before it
// have been handed to fn, so the collector records the scope as partial.
//
// IDs are kept exactly as ARM's listing of the resource spells them, and
// so are the IDs other resources refer to them by (a disk's managedBy, a
// snapshot's source): a re-read of the same resource gives the same
// strings. ARM IDs are case-insensitive and other APIs spell them
// differently (Cost Management and Azure Monitor lower-case them), so
// they are compared by domain.ResourceKey, never as they are.
//
// Account is the subscription ID, Region the ARM location name
// ("eastus"). Tags come inline with every resource, so Incomplete is set
// only for a VM whose instance view reports no power state. ARM keeps no
// creation time for a public IP address, so an address has none.
func (p *Provider) Resources(ctx context.Context, scope collect.Scope, fn func([]domain.Resource) error) error {
	if scope.Account == "" {
		return fmt.Errorf("%w: azurecloud: scope without a subscription", domain.ErrInvalid)
	}
	if scope.Region == "" {
		return p.subscriptionError(ctx, scope.Account)
	}
	c, err := p.clientsOf(scope.Account)
	if err != nil {
		return err
	}
	out := &emitter{size: p.cfg.PageSize, fn: fn}
	sub, region := scope.Account, normRegion(scope.Region)
	for _, list := range []func(context.Context, *clients, string, string, *emitter) error{
		p.listVMs, p.listDisks, p.listIPs, p.listSnapshots,
	} {
		if err := list(ctx, c, sub, region, out); err != nil {
			if out.err != nil {
				return out.err
			}
			if ferr := out.flush(); ferr != nil {
				return ferr
			}
			return err
		}
	}
	return out.flush()
}

// subscriptionError returns why Scopes could not list a subscription's
// regions, or lists them again when Scopes has not.
func (p *Provider) subscriptionError(ctx context.Context, sub string) error {
	p.mu.Lock()
	err, ok := p.scopeErr[key(sub)]
	p.mu.Unlock()
	if ok {
		return err
	}
	_, err = p.regionsOf(ctx, sub)
	return err
}

// emitter gathers resources into pages for fn.
type emitter struct {
	page []domain.Resource
	size int
	fn   func([]domain.Resource) error
	err  error // fn's
}

func (e *emitter) add(r domain.Resource) error {
	e.page = append(e.page, r)
	if len(e.page) >= e.size {
		return e.flush()
	}
	return nil
}

func (e *emitter) flush() error {
	if len(e.page) == 0 {
		return nil
	}
	page := e.page
	e.page = nil
	if err := e.fn(page); err != nil {
		e.err = err
		return err
	}
	return nil
}

// listVMs lists the region's VMs twice: with statusOnly=true for their
// power states, which that listing alone carries (reading only IDs and
// status codes from its pages, see pagePowers), then their models.
func (p *Provider) listVMs(ctx context.Context, c *clients, sub, region string, out *emitter) error {
	powers := &pagePowers{region: region, power: map[string]string{}}
	status := c.vms.NewListAllPager(&armcompute.VirtualMachinesClientListAllOptions{StatusOnly: to.Ptr("true")})
	statusCtx := context.WithValue(ctx, capturedBodyKey{}, powers)
	for status.More() {
		if _, err := status.NextPage(statusCtx); err != nil {
			return mapErr("list virtual machine statuses of subscription "+sub, err)
		}
	}
	sizes := map[string]string{}
	pager := c.vms.NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return mapErr("list virtual machines of subscription "+sub, err)
		}
		for _, v := range page.Value {
			if v == nil || normRegion(str(v.Location)) != region {
				continue
			}
			power := powerState(v)
			if power == "" {
				power = powers.power[key(str(v.ID))]
			}
			r, ok := vmResourceOf(sub, v, power)
			if !ok {
				continue
			}
			sizes[key(r.ID)] = r.SKU
			if err := out.add(r); err != nil {
				return err
			}
		}
	}
	p.remember(collect.Scope{Account: sub, Region: region}, sizes)
	return nil
}

// pagePowers reads the power states of one region's VMs from the pages
// of a statusOnly listing and gives the SDK only each page's nextLink.
type pagePowers struct {
	region string
	power  map[string]string // Key(ID) → power state
}

func (pp *pagePowers) take(b []byte) ([]byte, error) {
	var page struct {
		Value []struct {
			ID         string `json:"id"`
			Location   string `json:"location"`
			Properties struct {
				InstanceView struct {
					Statuses []struct {
						Code string `json:"code"`
					} `json:"statuses"`
				} `json:"instanceView"`
			} `json:"properties"`
		} `json:"value"`
		NextLink *string `json:"nextLink"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, fmt.Errorf("%w: a VM status page that is not JSON: %v", domain.ErrInvalid, err)
	}
	for _, v := range page.Value {
		if v.ID == "" || (v.Location != "" && normRegion(v.Location) != pp.region) {
			continue
		}
		for _, st := range v.Properties.InstanceView.Statuses {
			if power, ok := strings.CutPrefix(st.Code, "PowerState/"); ok {
				pp.power[key(v.ID)] = strings.ToLower(power)
			}
		}
	}
	return json.Marshal(struct {
		NextLink *string `json:"nextLink,omitempty"`
	}{page.NextLink})
}

func (p *Provider) listDisks(ctx context.Context, c *clients, sub, region string, out *emitter) error {
	pager := c.disks.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return mapErr("list managed disks of subscription "+sub, err)
		}
		for _, d := range page.Value {
			if d == nil || normRegion(str(d.Location)) != region {
				continue
			}
			if r, ok := diskResource(sub, d); ok {
				if err := out.add(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// listIPs lists the region's public IP addresses; the network interfaces
// of the region are listed first to name the VM an address serves.
func (p *Provider) listIPs(ctx context.Context, c *clients, sub, region string, out *emitter) error {
	owners := map[string]string{} // Key(NIC ID) → the VM ID the NIC gives
	nics := c.nics.NewListAllPager(nil)
	for nics.More() {
		page, err := nics.NextPage(ctx)
		if err != nil {
			return mapErr("list network interfaces of subscription "+sub, err)
		}
		for _, n := range page.Value {
			if n == nil || n.ID == nil || normRegion(str(n.Location)) != region || n.Properties == nil || n.Properties.VirtualMachine == nil {
				continue
			}
			if vm := str(n.Properties.VirtualMachine.ID); vm != "" {
				owners[key(*n.ID)] = vm
			}
		}
	}
	pager := c.ips.NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return mapErr("list public IP addresses of subscription "+sub, err)
		}
		for _, ip := range page.Value {
			if ip == nil || normRegion(str(ip.Location)) != region {
				continue
			}
			r, ok := ipResource(sub, ip, func(nic string) string { return owners[key(nic)] })
			if !ok {
				continue
			}
			if err := out.add(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Provider) listSnapshots(ctx context.Context, c *clients, sub, region string, out *emitter) error {
	pager := c.snapshots.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return mapErr("list snapshots of subscription "+sub, err)
		}
		for _, s := range page.Value {
			if s == nil || normRegion(str(s.Location)) != region {
				continue
			}
			if r, ok := snapshotResource(sub, s); ok {
				if err := out.add(r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// tagsOf returns ARM tags as a map (never nil: the tags were read).
func tagsOf(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = str(v)
	}
	return out
}

// deleting reports whether a provisioning state says the resource is on
// its way out.
func deleting(state *string) bool {
	return state != nil && strings.EqualFold(*state, "Deleting")
}

// powerState returns the power state a VM's instance view reports
// ("running" for PowerState/running), or "".
func powerState(v *armcompute.VirtualMachine) string {
	if v.Properties == nil || v.Properties.InstanceView == nil {
		return ""
	}
	for _, s := range v.Properties.InstanceView.Statuses {
		if s == nil || s.Code == nil {
			continue
		}
		if st, ok := strings.CutPrefix(*s.Code, "PowerState/"); ok {
			return strings.ToLower(st)
		}
	}
	return ""
}

// vmState maps an Azure power state onto the domain's: deallocated is
// domain.StateStopped (no compute billed), stopped is
// StateStoppedAllocated (compute still billed).
func vmState(power string) string {
	switch power {
	case "running":
		return domain.StateRunning
	case "deallocated":
		return domain.StateStopped
	case "stopped":
		return StateStoppedAllocated
	case "starting":
		return StateStarting
	case "stopping":
		return StateStopping
	case "deallocating":
		return StateDeallocating
	case "":
		return domain.StateUnknown
	}
	return power
}

// vmResource converts a VM read with its instance view (a Get with
// $expand=instanceView); false for one being deleted.
func vmResource(sub string, v *armcompute.VirtualMachine) (domain.Resource, bool) {
	return vmResourceOf(sub, v, powerState(v))
}

// vmResourceOf converts a VM whose power state ("running", "" when not
// reported) was read apart; false for one being deleted.
func vmResourceOf(sub string, v *armcompute.VirtualMachine, power string) (domain.Resource, bool) {
	r := domain.Resource{Cloud: domain.Azure, Account: sub, Region: normRegion(str(v.Location)), Kind: domain.KindVM,
		ID: str(v.ID), Name: str(v.Name), Tags: tagsOf(v.Tags)}
	if props := v.Properties; props != nil {
		if deleting(props.ProvisioningState) {
			return domain.Resource{}, false
		}
		if props.HardwareProfile != nil && props.HardwareProfile.VMSize != nil {
			r.SKU = string(*props.HardwareProfile.VMSize)
		}
		if props.TimeCreated != nil {
			r.CreatedAt = props.TimeCreated.UTC()
		}
	}
	r.State = vmState(power)
	if power == "" {
		r.Incomplete = incompletePower
	}
	return r, true
}

// diskState maps a managed disk's diskState: Unattached is available
// (an orphan candidate); Attached and Reserved (attached to a
// deallocated VM) are in use; the others (ActiveSAS, ReadyToUpload,
// ActiveUpload, Frozen ...) keep their Azure name in lower case and are
// never taken for orphans.
func diskState(s *armcompute.DiskState) string {
	if s == nil {
		return domain.StateUnknown
	}
	switch *s {
	case armcompute.DiskStateUnattached:
		return domain.StateAvailable
	case armcompute.DiskStateAttached, armcompute.DiskStateReserved:
		return domain.StateInUse
	}
	return strings.ToLower(string(*s))
}

// diskResource converts a managed disk; false for one being deleted.
// AttachedTo is its managedBy, the VM it is attached to; a disk that
// says Unattached but is managed by a VM is in use.
func diskResource(sub string, d *armcompute.Disk) (domain.Resource, bool) {
	r := domain.Resource{Cloud: domain.Azure, Account: sub, Region: normRegion(str(d.Location)), Kind: domain.KindDisk,
		ID: str(d.ID), Name: str(d.Name), Tags: tagsOf(d.Tags), AttachedTo: str(d.ManagedBy), State: domain.StateUnknown}
	if d.SKU != nil && d.SKU.Name != nil {
		r.SKU = string(*d.SKU.Name)
	}
	if props := d.Properties; props != nil {
		if deleting(props.ProvisioningState) {
			return domain.Resource{}, false
		}
		r.State = diskState(props.DiskState)
		switch {
		case props.DiskSizeGB != nil:
			r.SizeGiB = int64(*props.DiskSizeGB)
		case props.DiskSizeBytes != nil:
			r.SizeGiB = int64(math.Ceil(float64(*props.DiskSizeBytes) / (1 << 30)))
		}
		if props.TimeCreated != nil {
			r.CreatedAt = props.TimeCreated.UTC()
		}
	}
	if r.AttachedTo != "" && r.State == domain.StateAvailable {
		r.State = domain.StateInUse
	}
	return r, true
}

// ipSKU is the catalog SKU of a public IP address: its SKU and version.
func ipSKU(ip *armnetwork.PublicIPAddress) string {
	basic := ip.SKU != nil && ip.SKU.Name != nil && *ip.SKU.Name == armnetwork.PublicIPAddressSKUNameBasic
	v6 := ip.Properties != nil && ip.Properties.PublicIPAddressVersion != nil && *ip.Properties.PublicIPAddressVersion == armnetwork.IPVersionIPv6
	switch {
	case v6 && basic:
		return IPv6BasicSKU
	case v6:
		return IPv6SKU
	case basic:
		return IPBasicSKU
	}
	return IPSKU
}

// ipResource converts a public IP address; false for one being deleted.
// An address is associated when an IP configuration (of a network
// interface, load balancer or gateway) or a NAT gateway holds it;
// AttachedTo is then the VM of the network interface (nicVM answers it
// from a NIC ID, "" when it does not know), else the resource holding
// the configuration or the NAT gateway.
func ipResource(sub string, ip *armnetwork.PublicIPAddress, nicVM func(nicID string) string) (domain.Resource, bool) {
	r := domain.Resource{Cloud: domain.Azure, Account: sub, Region: normRegion(str(ip.Location)), Kind: domain.KindIP,
		ID: str(ip.ID), Name: str(ip.Name), SKU: ipSKU(ip), State: domain.StateAvailable, Tags: tagsOf(ip.Tags)}
	props := ip.Properties
	if props == nil {
		return r, true
	}
	if props.ProvisioningState != nil && *props.ProvisioningState == armnetwork.ProvisioningStateDeleting {
		return domain.Resource{}, false
	}
	switch {
	case props.IPConfiguration != nil && str(props.IPConfiguration.ID) != "":
		r.State = domain.StateAssociated
		owner := parentOf(*props.IPConfiguration.ID)
		if isNIC(owner) && nicVM != nil {
			if vm := nicVM(owner); vm != "" {
				owner = vm
			}
		}
		r.AttachedTo = owner
	case props.NatGateway != nil && str(props.NatGateway.ID) != "":
		r.State = domain.StateAssociated
		r.AttachedTo = *props.NatGateway.ID
	}
	return r, true
}

// parentOf returns the resource a child ID belongs to: the ID without
// its last type and name segments (a network interface for one of its IP
// configurations).
func parentOf(id string) string {
	for range 2 {
		if i := strings.LastIndexByte(id, '/'); i > 0 {
			id = id[:i]
		}
	}
	return id
}

// isNIC reports whether an ID names a network interface.
func isNIC(id string) bool {
	return strings.Contains(strings.ToLower(id), "/providers/microsoft.network/networkinterfaces/")
}

// snapshotResource converts a snapshot; false for one being deleted. A
// snapshot whose provisioning succeeded is available; the others keep
// their provisioning state in lower case. AttachedTo is the disk it was
// taken from; SizeGiB is the source disk's size, which bounds what an
// incremental snapshot bills.
func snapshotResource(sub string, s *armcompute.Snapshot) (domain.Resource, bool) {
	r := domain.Resource{Cloud: domain.Azure, Account: sub, Region: normRegion(str(s.Location)), Kind: domain.KindSnapshot,
		ID: str(s.ID), Name: str(s.Name), SKU: SnapshotSKU, State: domain.StateUnknown, Tags: tagsOf(s.Tags)}
	if props := s.Properties; props != nil {
		if deleting(props.ProvisioningState) {
			return domain.Resource{}, false
		}
		switch prov := str(props.ProvisioningState); {
		case strings.EqualFold(prov, "Succeeded"):
			r.State = domain.StateAvailable
		case prov != "":
			r.State = strings.ToLower(prov)
		}
		switch {
		case props.DiskSizeGB != nil:
			r.SizeGiB = int64(*props.DiskSizeGB)
		case props.DiskSizeBytes != nil:
			r.SizeGiB = int64(math.Ceil(float64(*props.DiskSizeBytes) / (1 << 30)))
		}
		if props.TimeCreated != nil {
			r.CreatedAt = props.TimeCreated.UTC()
		}
		if props.CreationData != nil {
			r.AttachedTo = str(props.CreationData.SourceResourceID)
		}
	}
	return r, true
}

// scopeVMs are the sizes of the VMs of one scope, by Key(ID), as the
// scope's listing gave them: Series turns available memory into a used
// percentage with the size's memory.
type scopeVMs struct {
	scope collect.Scope
	sizes map[string]string
}

func (p *Provider) remember(scope collect.Scope, sizes map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = scopeVMs{scope: scope, sizes: sizes}
}

// vmShape is what ResourceSKUs says about a VM size.
type vmShape struct {
	vcpus     int
	memoryMiB int64
	gpus      int
	arch      string // x86_64 or arm64
}

// shapesOf returns the VM sizes of a region by Key(size name), read once
// per region from the ResourceSKUs API of sub (filtered on the
// location) and kept.
func (p *Provider) shapesOf(ctx context.Context, sub, region string) (map[string]vmShape, error) {
	p.mu.Lock()
	have, ok := p.shapes[region]
	p.mu.Unlock()
	if ok {
		return have, nil
	}
	c, err := p.clientsOf(sub)
	if err != nil {
		return nil, err
	}
	shapes := map[string]vmShape{}
	pager := c.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: to.Ptr("location eq '" + region + "'")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapErr("list resource SKUs of "+region, err)
		}
		for _, s := range page.Value {
			if s == nil || s.Name == nil || !strings.EqualFold(str(s.ResourceType), "virtualMachines") {
				continue
			}
			if _, dup := shapes[key(*s.Name)]; dup {
				continue
			}
			var sh vmShape
			sh.arch = "x86_64"
			for _, c := range s.Capabilities {
				if c == nil || c.Name == nil || c.Value == nil {
					continue
				}
				switch *c.Name {
				case "vCPUs":
					sh.vcpus, _ = strconv.Atoi(*c.Value)
				case "MemoryGB":
					if gb, err := strconv.ParseFloat(*c.Value, 64); err == nil && gb > 0 {
						sh.memoryMiB = int64(math.Round(gb * 1024))
					}
				case "GPUs":
					sh.gpus, _ = strconv.Atoi(*c.Value)
				case "CpuArchitectureType":
					if strings.EqualFold(*c.Value, "Arm64") {
						sh.arch = "arm64"
					}
				}
			}
			shapes[key(*s.Name)] = sh
		}
	}
	p.mu.Lock()
	p.shapes[region] = shapes
	p.mu.Unlock()
	return shapes, nil
}
