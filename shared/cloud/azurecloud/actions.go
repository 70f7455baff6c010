package azurecloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ actuate.Resources = (*Actuator)(nil)

// TokenTag is the tag that carries the actuator's idempotency token on
// the snapshots the Actuator takes. The snapshot's name is derived from
// the token as well (see Snapshot); the tag lets a retry tell its own
// snapshot from another that happens to have the name.
const TokenTag = "cloudtrim-token"

// Idempotency of the mutating calls. No Azure Resource Manager call used
// here takes a client token, so the Actuator makes each idempotent from
// the state of the resource, read live before the call:
//
//   - Stop (deallocate) makes no call when the VM reads deallocated and
//     waits, without a call, while it reads deallocating; a VM that is
//     only stopped (still allocated, still billing) is deallocated.
//   - Start makes no call when the VM reads running and waits while it
//     reads starting.
//   - Resize makes no call when the VM already has the size, Retype
//     none when the disk already has the type.
//   - Snapshot names the snapshot after the disk and the token, so a
//     retry reads the snapshot of an earlier call by name (and checks its
//     TokenTag and source disk) instead of taking a second one; PUT on a
//     fixed name cannot make two snapshots even when two calls race.
//   - Delete and Release make no call when the resource is gone, and
//     Azure answers a DELETE of a missing resource with success: gone is
//     what the call asks for. The actuator read the resource just before
//     the call and verifies it is gone after.
//   - Tag makes no call when every tag already has its value; merging is
//     idempotent by nature.
//
// A call that fails with ErrThrottled or a context error may or may not
// have taken effect in Azure (a long-running operation goes on after the
// caller stops waiting); the next call with the same token re-reads and
// finds out.

// ActuatorConfig configures an Actuator.
type ActuatorConfig struct {
	// Credential authenticates every call (a managed identity in Azure,
	// azidentity's default chain elsewhere).
	Credential azcore.TokenCredential
	// Subscriptions are the subscription IDs this deployment owns. An
	// action on a resource in any other subscription is refused with
	// domain.ErrPermission before any call is made.
	Subscriptions []string
	// ClientOptions are passed to every SDK client (their retry policy
	// retries throttled and transient calls); tests set their Transport to
	// the SDK's fake servers. Nil means the defaults. Resource provider
	// registration is always disabled: the actuator changes resources
	// that exist, and registers nothing.
	ClientOptions *arm.ClientOptions
	// PollFrequency is how often a long-running operation, or a VM moving
	// between power states, is polled when Azure gives no Retry-After;
	// default 10 s. The SDK refuses less than a second outside tests.
	PollFrequency time.Duration
	// WaitTimeout bounds the wait for one long-running operation or power
	// state change, within the caller's context deadline; default 20
	// minutes. A wait that outlasts it returns an error of no kind: the
	// operation may still complete, re-read before retrying.
	WaitTimeout time.Duration
	// ReservedTags are tag keys Tag and Snapshot never set (compared
	// without case, as Azure compares tag keys); default the policy's
	// opt-in tag, cloudtrim-optin: the actuator must not be able to opt a
	// resource in.
	ReservedTags []string
	// Logger receives one record per change made; nil discards.
	Logger *slog.Logger
}

// LogValue describes the configuration without its credential.
func (c ActuatorConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("subscriptions", c.Subscriptions),
		slog.Duration("poll_frequency", c.PollFrequency),
		slog.Duration("wait_timeout", c.WaitTimeout),
		slog.Any("reserved_tags", c.ReservedTags),
		slog.Bool("credential", c.Credential != nil),
	)
}

// Actuator carries out the actuator's actions on Azure virtual
// machines, managed disks, snapshots and public IP addresses in the
// subscriptions it owns. It implements actuate.Resources for
// domain.Azure. Resource references carry the full Azure resource ID
// (/subscriptions/{sub}/resourceGroups/{rg}/providers/{type}/{name}),
// which is read without regard to case.
type Actuator struct {
	cfg     ActuatorConfig
	clients map[string]*actClients // by lower-case subscription ID
	logger  *slog.Logger
}

// actClients are the SDK clients of one subscription.
type actClients struct {
	vms   *armcompute.VirtualMachinesClient
	disks *armcompute.DisksClient
	snaps *armcompute.SnapshotsClient
	ips   *armnetwork.PublicIPAddressesClient
}

// NewActuator returns an Actuator for cfg's subscriptions. It makes no
// call. A missing credential, no subscription, a malformed subscription
// ID or a negative duration is domain.ErrInvalid.
func NewActuator(cfg ActuatorConfig) (*Actuator, error) {
	switch {
	case cfg.Credential == nil:
		return nil, fmt.Errorf("%w: azure actuator: no credential", domain.ErrInvalid)
	case len(cfg.Subscriptions) == 0:
		return nil, fmt.Errorf("%w: azure actuator: no subscription to act in", domain.ErrInvalid)
	case cfg.PollFrequency < 0 || cfg.WaitTimeout < 0:
		return nil, fmt.Errorf("%w: azure actuator: negative poll frequency %v or wait timeout %v", domain.ErrInvalid, cfg.PollFrequency, cfg.WaitTimeout)
	}
	if cfg.PollFrequency == 0 {
		cfg.PollFrequency = 10 * time.Second
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 20 * time.Minute
	}
	if cfg.ReservedTags == nil {
		cfg.ReservedTags = []string{domain.DefaultPolicy().OptInTag}
	}
	var opts arm.ClientOptions
	if cfg.ClientOptions != nil {
		opts = *cfg.ClientOptions
	}
	opts.DisableRPRegistration = true
	a := &Actuator{cfg: cfg, clients: map[string]*actClients{}, logger: cfg.Logger}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	for _, sub := range cfg.Subscriptions {
		if sub == "" || strings.ContainsAny(sub, "/ ") {
			return nil, fmt.Errorf("%w: azure actuator: malformed subscription ID %q", domain.ErrInvalid, sub)
		}
		var c actClients
		var err error
		if c.vms, err = armcompute.NewVirtualMachinesClient(sub, cfg.Credential, &opts); err != nil {
			return nil, fmt.Errorf("azure actuator: virtual machines client for subscription %s: %w", sub, err)
		}
		if c.disks, err = armcompute.NewDisksClient(sub, cfg.Credential, &opts); err != nil {
			return nil, fmt.Errorf("azure actuator: disks client for subscription %s: %w", sub, err)
		}
		if c.snaps, err = armcompute.NewSnapshotsClient(sub, cfg.Credential, &opts); err != nil {
			return nil, fmt.Errorf("azure actuator: snapshots client for subscription %s: %w", sub, err)
		}
		if c.ips, err = armnetwork.NewPublicIPAddressesClient(sub, cfg.Credential, &opts); err != nil {
			return nil, fmt.Errorf("azure actuator: public IP addresses client for subscription %s: %w", sub, err)
		}
		a.clients[strings.ToLower(sub)] = &c
	}
	return a, nil
}

// Cloud returns domain.Azure.
func (a *Actuator) Cloud() domain.Cloud { return domain.Azure }

// actTarget is a parsed resource reference.
type actTarget struct {
	id   string // the ID as the reference spells it
	sub  string // as the ID spells it
	rg   string
	name string
	kind domain.Kind
	c    *actClients
}

func (t actTarget) String() string { return t.id }

// actKinds maps Azure resource types, in lower case, to the domain's
// kinds.
var actKinds = map[string]domain.Kind{
	"microsoft.compute/virtualmachines":   domain.KindVM,
	"microsoft.compute/disks":             domain.KindDisk,
	"microsoft.compute/snapshots":         domain.KindSnapshot,
	"microsoft.network/publicipaddresses": domain.KindIP,
}

// target parses ref, which must name a resource of one of kinds in a
// subscription the Actuator owns. A malformed ID, another cloud, or a
// kind or subscription that disagrees with the ID is domain.ErrInvalid;
// a subscription the Actuator does not own is domain.ErrPermission. No
// call is made.
func (a *Actuator) target(ref domain.ResourceRef, kinds ...domain.Kind) (actTarget, error) {
	if ref.Cloud != domain.Azure {
		return actTarget{}, fmt.Errorf("%w: %s is not an Azure resource", domain.ErrInvalid, ref)
	}
	id, err := arm.ParseResourceID(ref.ID)
	if err != nil {
		return actTarget{}, fmt.Errorf("%w: resource ID %q: %v", domain.ErrInvalid, ref.ID, err)
	}
	typ := strings.ToLower(id.ResourceType.String())
	kind, known := actKinds[typ]
	switch {
	case id.SubscriptionID == "" || id.ResourceGroupName == "" || id.Name == "":
		return actTarget{}, fmt.Errorf("%w: resource ID %q names no subscription, resource group or name", domain.ErrInvalid, ref.ID)
	case id.Parent == nil || !strings.EqualFold(id.Parent.ResourceType.String(), "Microsoft.Resources/resourceGroups"):
		return actTarget{}, fmt.Errorf("%w: resource ID %q does not name a top-level resource of a resource group", domain.ErrInvalid, ref.ID)
	case !known:
		return actTarget{}, fmt.Errorf("%w: resource ID %q names a %s, which the actuator does not change", domain.ErrInvalid, ref.ID, id.ResourceType)
	case ref.Kind != "" && ref.Kind != kind:
		return actTarget{}, fmt.Errorf("%w: %s: the ID names a %s, not a %s", domain.ErrInvalid, ref.ID, kind, ref.Kind)
	case ref.Account != "" && !strings.EqualFold(ref.Account, id.SubscriptionID):
		return actTarget{}, fmt.Errorf("%w: %s: the reference names subscription %s but the ID is in %s", domain.ErrInvalid, ref.ID, ref.Account, id.SubscriptionID)
	}
	c, ok := a.clients[strings.ToLower(id.SubscriptionID)]
	if !ok {
		return actTarget{}, fmt.Errorf("%w: %s is in subscription %s, which this deployment does not own", domain.ErrPermission, ref.ID, id.SubscriptionID)
	}
	if !slices.Contains(kinds, kind) {
		return actTarget{}, fmt.Errorf("%w: %s: the call does not apply to a %s", domain.ErrInvalid, ref.ID, kind)
	}
	return actTarget{id: ref.ID, sub: id.SubscriptionID, rg: id.ResourceGroupName, name: id.Name, kind: kind, c: c}, nil
}

// Get re-reads one virtual machine (with its instance view, for the
// power state), managed disk, snapshot or public IP address, and maps it
// with the collector's own conversions (vmResource, diskResource,
// snapshotResource, ipResource in inventory.go), so a live read and the
// inventory agree on kinds, states, SKUs, tags and IDs: a VM reads
// running, stopped (deallocated: compute no longer bills),
// StateStoppedAllocated (stopped without deallocation: still billing)
// or its transition; a disk available or in-use; a public IP available
// or associated; a snapshot available once created.
//
// A resource that does not exist, or that Azure is deleting, returns an
// error wrapping domain.ErrNotFound; a resource of a subscription the
// Actuator does not own domain.ErrPermission, without a call. An
// associated public IP's AttachedTo is the network interface holding
// it: the collector resolves it to the VM from its listing of network
// interfaces, which a single live read does not make (an associated
// address differs from the unassociated one a release was approved on
// by its state anyway).
func (a *Actuator) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	t, err := a.target(ref, domain.KindVM, domain.KindDisk, domain.KindSnapshot, domain.KindIP)
	if err != nil {
		return domain.Resource{}, err
	}
	var r domain.Resource
	ok := true
	switch t.kind {
	case domain.KindVM:
		vm, err := a.readVM(ctx, t)
		if err != nil {
			return domain.Resource{}, err
		}
		r, ok = vmResource(t.sub, &vm)
	case domain.KindDisk:
		d, err := a.readDisk(ctx, t)
		if err != nil {
			return domain.Resource{}, err
		}
		r, ok = diskResource(t.sub, &d)
	case domain.KindSnapshot:
		s, err := a.readSnapshot(ctx, t.c, t.rg, t.name)
		if err != nil {
			return domain.Resource{}, err
		}
		r, ok = snapshotResource(t.sub, &s)
	default:
		ip, err := a.readIP(ctx, t)
		if err != nil {
			return domain.Resource{}, err
		}
		r, ok = ipResource(t.sub, &ip, nil)
	}
	if !ok {
		return domain.Resource{}, &Error{Op: "get " + t.id, Code: "Deleting", kind: domain.ErrNotFound,
			err: fmt.Errorf("%w: %s is being deleted", domain.ErrNotFound, t.id)}
	}
	if r.ID == "" {
		r.ID = t.id
	}
	return r, nil
}

// readVM reads a VM with its instance view. Get with $expand=instanceView
// answers both in one call; should an answer come without the instance
// view, it is read on its own.
func (a *Actuator) readVM(ctx context.Context, t actTarget) (armcompute.VirtualMachine, error) {
	resp, err := t.c.vms.Get(ctx, t.rg, t.name, &armcompute.VirtualMachinesClientGetOptions{Expand: to.Ptr(armcompute.InstanceViewTypesInstanceView)})
	if err != nil {
		return armcompute.VirtualMachine{}, mapErr("get virtual machine "+t.id, err)
	}
	vm := resp.VirtualMachine
	if vm.Properties == nil {
		vm.Properties = &armcompute.VirtualMachineProperties{}
	}
	if vm.Properties.InstanceView == nil {
		iv, err := t.c.vms.InstanceView(ctx, t.rg, t.name, nil)
		if err != nil {
			return armcompute.VirtualMachine{}, mapErr("get instance view of virtual machine "+t.id, err)
		}
		vm.Properties.InstanceView = &iv.VirtualMachineInstanceView
	}
	return vm, nil
}

func (a *Actuator) readDisk(ctx context.Context, t actTarget) (armcompute.Disk, error) {
	resp, err := t.c.disks.Get(ctx, t.rg, t.name, nil)
	if err != nil {
		return armcompute.Disk{}, mapErr("get disk "+t.id, err)
	}
	return resp.Disk, nil
}

func (a *Actuator) readSnapshot(ctx context.Context, c *actClients, rg, name string) (armcompute.Snapshot, error) {
	resp, err := c.snaps.Get(ctx, rg, name, nil)
	if err != nil {
		return armcompute.Snapshot{}, mapErr("get snapshot "+name+" in resource group "+rg, err)
	}
	return resp.Snapshot, nil
}

func (a *Actuator) readIP(ctx context.Context, t actTarget) (armnetwork.PublicIPAddress, error) {
	resp, err := t.c.ips.Get(ctx, t.rg, t.name, nil)
	if err != nil {
		return armnetwork.PublicIPAddress{}, mapErr("get public IP address "+t.id, err)
	}
	return resp.PublicIPAddress, nil
}

func (a *Actuator) vmSize(vm armcompute.VirtualMachine) string {
	if vm.Properties == nil || vm.Properties.HardwareProfile == nil || vm.Properties.HardwareProfile.VMSize == nil {
		return ""
	}
	return string(*vm.Properties.HardwareProfile.VMSize)
}

// diskAttachedTo returns the VM a disk is attached to (managedBy, or
// the first of managedByExtended for a shared disk), "" for none.
func (a *Actuator) diskAttachedTo(d armcompute.Disk) string {
	if d.ManagedBy != nil && *d.ManagedBy != "" {
		return *d.ManagedBy
	}
	for _, m := range d.ManagedByExtended {
		if m != nil && *m != "" {
			return *m
		}
	}
	return ""
}

func (a *Actuator) diskState(d armcompute.Disk) armcompute.DiskState {
	if d.Properties == nil || d.Properties.DiskState == nil {
		return ""
	}
	return *d.Properties.DiskState
}

// snapshotDone reports whether a snapshot is created and, for disks
// whose snapshots copy in the background (Premium SSD v2, Ultra), fully
// copied; otherwise it returns the state it is in.
func (a *Actuator) snapshotDone(s armcompute.Snapshot) (bool, string) {
	p := s.Properties
	if p == nil || p.ProvisioningState == nil {
		return false, domain.StateUnknown
	}
	if !strings.EqualFold(*p.ProvisioningState, "Succeeded") {
		return false, strings.ToLower(*p.ProvisioningState)
	}
	if p.CompletionPercent != nil && *p.CompletionPercent < 100 {
		return false, fmt.Sprintf("copying (%.0f%%)", *p.CompletionPercent)
	}
	return true, domain.StateAvailable
}

func (a *Actuator) snapshotSource(s armcompute.Snapshot) string {
	if s.Properties == nil || s.Properties.CreationData == nil || s.Properties.CreationData.SourceResourceID == nil {
		return ""
	}
	return *s.Properties.CreationData.SourceResourceID
}

// ipAssociation returns what a public IP is associated with: an IP
// configuration (of a network interface, load balancer or gateway) or a
// NAT gateway; "" for none.
func (a *Actuator) ipAssociation(ip armnetwork.PublicIPAddress) string {
	p := ip.Properties
	switch {
	case p == nil:
		return ""
	case p.IPConfiguration != nil && p.IPConfiguration.ID != nil && *p.IPConfiguration.ID != "":
		return *p.IPConfiguration.ID
	case p.NatGateway != nil && p.NatGateway.ID != nil && *p.NatGateway.ID != "":
		return *p.NatGateway.ID
	}
	return ""
}

// actUntilDone starts a long-running operation with begin and polls it
// every PollFrequency until it ends, within WaitTimeout and the caller's
// deadline. See lroErr for its errors.
func actUntilDone[T any](ctx context.Context, a *Actuator, op string, begin func(context.Context) (*runtime.Poller[T], error)) (T, error) {
	wctx, cancel := context.WithTimeout(ctx, a.cfg.WaitTimeout)
	defer cancel()
	var zero T
	p, err := begin(wctx)
	if err != nil {
		return zero, a.lroErr(ctx, wctx, op, err)
	}
	res, err := p.PollUntilDone(wctx, &runtime.PollUntilDoneOptions{Frequency: a.cfg.PollFrequency})
	if err != nil {
		return zero, a.lroErr(ctx, wctx, op, err)
	}
	return res, nil
}

// lroErr maps the error of a long-running operation: the caller's
// context error (wrapped, so errors.Is sees it), an error of no kind when
// WaitTimeout ran out first (the operation may still complete), or the
// Azure error mapped onto the domain's kinds.
func (a *Actuator) lroErr(ctx, wctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w (the operation may still complete in Azure)", op, cerr)
	}
	if wctx.Err() != nil {
		return &Error{Op: op, err: fmt.Errorf("not done after %v (the operation may still complete in Azure): %v", a.cfg.WaitTimeout, err)}
	}
	return mapErr(op, err)
}

// waitFor calls check every PollFrequency until it reports done or
// fails, within WaitTimeout and the caller's deadline. The wait's own
// timeout is an error of no kind naming the last state seen.
func (a *Actuator) waitFor(ctx context.Context, op string, check func(context.Context) (done bool, state string, err error)) error {
	wctx, cancel := context.WithTimeout(ctx, a.cfg.WaitTimeout)
	defer cancel()
	last := "unknown"
	for {
		done, state, err := check(wctx)
		if err != nil {
			if ctx.Err() == nil && wctx.Err() != nil {
				return &Error{Op: op, err: fmt.Errorf("still %s after %v", last, a.cfg.WaitTimeout)}
			}
			return err
		}
		if done {
			return nil
		}
		last = state
		select {
		case <-wctx.Done():
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("%s: %w", op, cerr)
			}
			return &Error{Op: op, err: fmt.Errorf("still %s after %v", last, a.cfg.WaitTimeout)}
		case <-time.After(a.cfg.PollFrequency):
		}
	}
}

// settled reads a VM until its power state is not a transition
// (starting, stopping, deallocating) and returns it.
func (a *Actuator) settled(ctx context.Context, t actTarget) (armcompute.VirtualMachine, error) {
	var vm armcompute.VirtualMachine
	err := a.waitFor(ctx, "wait for virtual machine "+t.id+" to settle", func(ctx context.Context) (bool, string, error) {
		var err error
		if vm, err = a.readVM(ctx, t); err != nil {
			return false, "", err
		}
		switch p := powerState(&vm); p {
		case "starting", "stopping", "deallocating":
			return false, p, nil
		}
		return true, "", nil
	})
	return vm, err
}

// Stop deallocates a VM, so that its compute no longer bills, and
// verifies it reads deallocated. It never only powers the VM off: a VM
// stopped without deallocation still bills, and Stop deallocates one it
// finds in that state. A VM that reads deallocated is left alone (no
// call); one in a transition is waited for first. Errors wrap the domain
// kinds: domain.ErrNotFound for a VM that does not exist,
// domain.ErrConflict for one Azure cannot deallocate now (another
// operation in progress); a context error or a wait past WaitTimeout
// leaves the deallocation possibly under way (re-read before retrying).
func (a *Actuator) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := a.target(ref, domain.KindVM)
	if err != nil {
		return err
	}
	vm, err := a.settled(ctx, t)
	if err != nil {
		return err
	}
	if powerState(&vm) == "deallocated" {
		return nil // replay, or already stopped: the state is reached
	}
	op := "deallocate virtual machine " + t.id
	if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.VirtualMachinesClientDeallocateResponse], error) {
		return t.c.vms.BeginDeallocate(ctx, t.rg, t.name, nil)
	}); err != nil {
		return err
	}
	if err := a.verifyPower(ctx, t, op, "deallocated"); err != nil {
		return err
	}
	a.logger.InfoContext(ctx, "azure virtual machine deallocated", a.logArgs(t, token, "power_before", powerState(&vm))...)
	return nil
}

// Start starts a VM and verifies it reads running. A VM that reads
// running is left alone (no call); one in a transition is waited for
// first. Errors are as Stop's; a VM Azure cannot place is
// domain.ErrConflict (AllocationFailed).
func (a *Actuator) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := a.target(ref, domain.KindVM)
	if err != nil {
		return err
	}
	vm, err := a.settled(ctx, t)
	if err != nil {
		return err
	}
	if powerState(&vm) == "running" {
		return nil // replay, or already running
	}
	op := "start virtual machine " + t.id
	if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.VirtualMachinesClientStartResponse], error) {
		return t.c.vms.BeginStart(ctx, t.rg, t.name, nil)
	}); err != nil {
		return err
	}
	if err := a.verifyPower(ctx, t, op, "running"); err != nil {
		return err
	}
	a.logger.InfoContext(ctx, "azure virtual machine started", a.logArgs(t, token, "power_before", powerState(&vm))...)
	return nil
}

// verifyPower re-reads a VM after op and checks its power state is
// want. A mismatch is an error of no kind (re-read and retry).
func (a *Actuator) verifyPower(ctx context.Context, t actTarget, op, want string) error {
	vm, err := a.readVM(ctx, t)
	if err != nil {
		return fmt.Errorf("verify %s: %w", op, err)
	}
	if p := powerState(&vm); p != want {
		return &Error{Op: "verify " + op, err: fmt.Errorf("the operation succeeded but the VM reads %q, not %q", p, want)}
	}
	return nil
}

// Resize changes a stopped VM's size (HardwareProfile.VMSize) and
// verifies it by re-reading the VM. A VM that already has the size is
// left alone. A running VM is domain.ErrConflict (Azure would restart it
// to resize it: the actuator deallocates it first), and so is a size
// Azure does not offer that VM (ListAvailableSizes), checked before any
// change. When the update fails after it began to apply, Resize puts
// the previous size back before returning the update's error.
func (a *Actuator) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	t, err := a.target(ref, domain.KindVM)
	if err != nil {
		return err
	}
	if sku == "" {
		return fmt.Errorf("%w: resize %s: no size given", domain.ErrInvalid, t.id)
	}
	vm, err := a.settled(ctx, t)
	if err != nil {
		return err
	}
	prev := a.vmSize(vm)
	if strings.EqualFold(prev, sku) {
		return nil // replay: the VM has the size
	}
	switch p := powerState(&vm); p {
	case "deallocated", "stopped":
	default:
		return fmt.Errorf("%w: resize %s to %s: the VM is %s; deallocate it first", domain.ErrConflict, t.id, sku, actPowerName(p))
	}
	avail, err := a.availableSizes(ctx, t)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(avail, func(s string) bool { return strings.EqualFold(s, sku) })
	if i < 0 {
		return fmt.Errorf("%w: resize %s: size %s is not available to this VM (%d sizes are)", domain.ErrConflict, t.id, sku, len(avail))
	}
	want := avail[i] // Azure's spelling
	op := fmt.Sprintf("resize virtual machine %s from %s to %s", t.id, prev, want)
	if accepted, err := a.setSize(ctx, t, op, want, vm.Etag); err != nil {
		var failed *azcore.ResponseError
		if !accepted || ctx.Err() != nil || !errors.As(err, &failed) {
			// Refused before it began (nothing applied), the caller's
			// deadline, or a wait that timed out (the update may still be
			// under way): nothing to restore, or nothing restorable now.
			return err
		}
		return a.restoreSize(ctx, t, prev, err)
	}
	after, err := a.readVM(ctx, t)
	if err != nil {
		return fmt.Errorf("verify %s: %w", op, err)
	}
	if got := a.vmSize(after); !strings.EqualFold(got, want) {
		return &Error{Op: "verify " + op, err: fmt.Errorf("the update succeeded but the VM reads size %s", got)}
	}
	a.logger.InfoContext(ctx, "azure virtual machine resized", a.logArgs(t, token, "sku_before", prev, "sku", want)...)
	return nil
}

// actPowerName names a power state in a message.
func actPowerName(p string) string {
	if p == "" {
		return "in an unknown power state"
	}
	return p
}

// availableSizes lists the sizes a VM can be resized to.
func (a *Actuator) availableSizes(ctx context.Context, t actTarget) ([]string, error) {
	var out []string
	pager := t.c.vms.NewListAvailableSizesPager(t.rg, t.name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapErr("list sizes available to virtual machine "+t.id, err)
		}
		for _, s := range page.Value {
			if s != nil && s.Name != nil {
				out = append(out, *s.Name)
			}
		}
	}
	return out, nil
}

// setSize updates a VM's size and waits for the update; accepted says
// Azure took the update on (it may have applied in part if it then
// failed). etag, when Azure gave one, makes the update fail (412,
// domain.ErrConflict) if the VM changed since it was read.
func (a *Actuator) setSize(ctx context.Context, t actTarget, op, size string, etag *string) (accepted bool, err error) {
	upd := armcompute.VirtualMachineUpdate{Properties: &armcompute.VirtualMachineProperties{
		HardwareProfile: &armcompute.HardwareProfile{VMSize: to.Ptr(armcompute.VirtualMachineSizeTypes(size))}}}
	var opts *armcompute.VirtualMachinesClientBeginUpdateOptions
	if etag != nil && *etag != "" {
		opts = &armcompute.VirtualMachinesClientBeginUpdateOptions{IfMatch: etag}
	}
	wctx, cancel := context.WithTimeout(ctx, a.cfg.WaitTimeout)
	defer cancel()
	p, err := t.c.vms.BeginUpdate(wctx, t.rg, t.name, upd, opts)
	if err != nil {
		return false, a.lroErr(ctx, wctx, op, err)
	}
	if _, err := p.PollUntilDone(wctx, &runtime.PollUntilDoneOptions{Frequency: a.cfg.PollFrequency}); err != nil {
		return true, a.lroErr(ctx, wctx, op, err)
	}
	return true, nil
}

// restoreSize handles a failed resize: if the VM no longer reads prev,
// the update applied in part, and prev is put back. It returns cause,
// which keeps its kind, saying what became of the size.
func (a *Actuator) restoreSize(ctx context.Context, t actTarget, prev string, cause error) error {
	vm, err := a.readVM(ctx, t)
	if err != nil {
		return fmt.Errorf("%w; the size could not be re-read: %v", cause, err)
	}
	got := a.vmSize(vm)
	if strings.EqualFold(got, prev) {
		return cause
	}
	op := fmt.Sprintf("restore size %s of virtual machine %s", prev, t.id)
	if _, err := a.setSize(ctx, t, op, prev, nil); err != nil {
		return fmt.Errorf("%w; the VM reads size %s and restoring %s failed: %v", cause, got, prev, err)
	}
	if vm, err = a.readVM(ctx, t); err != nil {
		return fmt.Errorf("%w; the VM read size %s and restoring %s could not be verified: %v", cause, got, prev, err)
	}
	if now := a.vmSize(vm); !strings.EqualFold(now, prev) {
		return fmt.Errorf("%w; the VM read size %s and still reads %s after restoring %s", cause, got, now, prev)
	}
	a.logger.WarnContext(ctx, "azure virtual machine size restored after a failed resize", a.logArgs(t, "", "sku", prev, "sku_seen", got)...)
	return fmt.Errorf("%w; size %s restored", cause, prev)
}

// actTokenValue is the TokenTag value for a token: the token itself,
// or its SHA-256 when it is longer than an Azure tag value may be (256).
func actTokenValue(token string) string {
	if len(token) <= 256 {
		return token
	}
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// actSnapshotName is the name of the snapshot Snapshot takes of a disk
// for a token: "cloudtrim-", the disk's name (at most 40 characters)
// and 20 hex digits of the SHA-256 of the disk's ID (without case) and
// the token; at most 71 characters, all allowed in a snapshot name.
func actSnapshotName(diskID, diskName, token string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(diskID) + "\x00" + token))
	if len(diskName) > 40 {
		diskName = diskName[:40]
	}
	return "cloudtrim-" + diskName + "-" + hex.EncodeToString(sum[:])[:20]
}

// Snapshot takes a snapshot of a managed disk, tagged with tags and
// TokenTag, in the disk's resource group and region, waits until it is
// created (and copied, for disks that copy in the background) and
// returns its resource ID. Snapshots are incremental: every managed disk
// type takes them (Premium SSD v2 and Ultra disks take no other kind),
// and they bill only the data that changed.
//
// The snapshot's name is derived from the disk and the token
// (actSnapshotName): a call that finds a snapshot of that name, of this
// disk, carrying this token, returns it (waiting for it if it is still
// being made) instead of taking another; one that failed is created
// again under the same name. A snapshot of that name of another disk or
// token is domain.ErrConflict. A disk being uploaded is
// domain.ErrConflict; a reserved tag domain.ErrPermission; no token
// domain.ErrInvalid.
func (a *Actuator) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	t, err := a.target(ref, domain.KindDisk)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", fmt.Errorf("%w: snapshot %s: an idempotency token is required", domain.ErrInvalid, t.id)
	}
	if err := a.checkTags("snapshot "+t.id, tags); err != nil {
		return "", err
	}
	disk, err := a.readDisk(ctx, t)
	if err != nil {
		return "", err
	}
	diskID := t.id
	if disk.ID != nil && *disk.ID != "" {
		diskID = *disk.ID
	}
	if st := a.diskState(disk); st == armcompute.DiskStateReadyToUpload || st == armcompute.DiskStateActiveUpload {
		return "", fmt.Errorf("%w: snapshot %s: the disk is %s", domain.ErrConflict, t.id, st)
	}
	name := actSnapshotName(diskID, t.name, token)
	tv := actTokenValue(token)
	op := fmt.Sprintf("snapshot disk %s as %s", t.id, name)

	existing, err := a.readSnapshot(ctx, t.c, t.rg, name)
	switch {
	case err == nil:
		if !strings.EqualFold(a.snapshotSource(existing), diskID) || existing.Tags[TokenTag] == nil || *existing.Tags[TokenTag] != tv {
			return "", fmt.Errorf("%w: %s: snapshot %s exists but is not this disk's snapshot for this token (source %q)",
				domain.ErrConflict, op, name, a.snapshotSource(existing))
		}
		if done, state := a.snapshotDone(existing); done {
			return a.snapshotID(t, name, existing), nil // replay: the first call's snapshot
		} else if state != "failed" {
			return a.waitSnapshot(ctx, t, name, op)
		}
	case !errors.Is(err, domain.ErrNotFound):
		return "", err
	}

	all := maps.Clone(tags)
	if all == nil {
		all = map[string]string{}
	}
	all[TokenTag] = tv
	snap := armcompute.Snapshot{
		Location:         disk.Location,
		ExtendedLocation: disk.ExtendedLocation,
		Tags:             actSDKTags(all),
		Properties: &armcompute.SnapshotProperties{
			CreationData: &armcompute.CreationData{CreateOption: to.Ptr(armcompute.DiskCreateOptionCopy), SourceResourceID: to.Ptr(diskID)},
			Incremental:  to.Ptr(true),
		},
	}
	if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.SnapshotsClientCreateOrUpdateResponse], error) {
		return t.c.snaps.BeginCreateOrUpdate(ctx, t.rg, name, snap, nil)
	}); err != nil {
		return "", err
	}
	id, err := a.waitSnapshot(ctx, t, name, op)
	if err != nil {
		return "", err
	}
	a.logger.InfoContext(ctx, "azure disk snapshot taken", a.logArgs(t, token, "snapshot_id", id)...)
	return id, nil
}

// waitSnapshot reads a snapshot until it is done and returns its ID. A
// snapshot that failed is domain.ErrConflict: the disk must not be
// deleted on its strength.
func (a *Actuator) waitSnapshot(ctx context.Context, t actTarget, name, op string) (string, error) {
	var id string
	err := a.waitFor(ctx, "wait for "+op, func(ctx context.Context) (bool, string, error) {
		s, err := a.readSnapshot(ctx, t.c, t.rg, name)
		if err != nil {
			return false, "", err
		}
		done, state := a.snapshotDone(s)
		if state == "failed" {
			return false, "", fmt.Errorf("%w: %s: the snapshot failed", domain.ErrConflict, op)
		}
		id = a.snapshotID(t, name, s)
		return done, state, nil
	})
	return id, err
}

func (a *Actuator) snapshotID(t actTarget, name string, s armcompute.Snapshot) string {
	if s.ID != nil && *s.ID != "" {
		return *s.ID
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/snapshots/%s", t.sub, t.rg, name)
}

// actSDKTags converts tags to the SDK's form.
func actSDKTags(tags map[string]string) map[string]*string {
	out := make(map[string]*string, len(tags))
	for k, v := range tags {
		out[k] = to.Ptr(v)
	}
	return out
}

// Delete deletes an unattached managed disk or a snapshot and verifies
// it is gone. A resource that is gone already is success (see the
// idempotency notes above). A disk attached to a VM (managedBy set, read
// live just before the call) or exported (ActiveSAS) is
// domain.ErrConflict, refused without a call; so is a snapshot Azure
// cannot delete now.
func (a *Actuator) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := a.target(ref, domain.KindDisk, domain.KindSnapshot)
	if err != nil {
		return err
	}
	if t.kind == domain.KindDisk {
		d, err := a.readDisk(ctx, t)
		if errors.Is(err, domain.ErrNotFound) {
			return nil // replay, or removed by someone else: gone
		}
		if err != nil {
			return err
		}
		if vm := a.diskAttachedTo(d); vm != "" {
			return fmt.Errorf("%w: delete disk %s: it is attached to %s", domain.ErrConflict, t.id, vm)
		}
		switch st := a.diskState(d); st {
		case armcompute.DiskStateAttached, armcompute.DiskStateReserved, armcompute.DiskStateActiveSAS, armcompute.DiskStateActiveSASFrozen,
			armcompute.DiskStateActiveUpload:
			return fmt.Errorf("%w: delete disk %s: the disk is %s", domain.ErrConflict, t.id, st)
		}
		op := "delete disk " + t.id
		if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.DisksClientDeleteResponse], error) {
			return t.c.disks.BeginDelete(ctx, t.rg, t.name, nil)
		}); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		return a.verifyGone(ctx, t, op, token)
	}
	if _, err := a.readSnapshot(ctx, t.c, t.rg, t.name); errors.Is(err, domain.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	op := "delete snapshot " + t.id
	if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.SnapshotsClientDeleteResponse], error) {
		return t.c.snaps.BeginDelete(ctx, t.rg, t.name, nil)
	}); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return a.verifyGone(ctx, t, op, token)
}

// Release deletes a public IP address and verifies it is gone. One that
// is gone already is success; one associated with an IP configuration
// (a network interface, load balancer or gateway) or a NAT gateway, read
// live just before the call, is domain.ErrConflict, refused without a
// call.
func (a *Actuator) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := a.target(ref, domain.KindIP)
	if err != nil {
		return err
	}
	ip, err := a.readIP(ctx, t)
	if errors.Is(err, domain.ErrNotFound) {
		return nil // replay, or released by someone else: gone
	}
	if err != nil {
		return err
	}
	if assoc := a.ipAssociation(ip); assoc != "" {
		return fmt.Errorf("%w: release public IP address %s: it is associated with %s", domain.ErrConflict, t.id, assoc)
	}
	op := "delete public IP address " + t.id
	if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armnetwork.PublicIPAddressesClientDeleteResponse], error) {
		return t.c.ips.BeginDelete(ctx, t.rg, t.name, nil)
	}); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return a.verifyGone(ctx, t, op, token)
}

// verifyGone re-reads a resource after op deleted it: it must be
// domain.ErrNotFound. A resource that still reads is an error of no kind.
func (a *Actuator) verifyGone(ctx context.Context, t actTarget, op, token string) error {
	var err error
	switch t.kind {
	case domain.KindDisk:
		_, err = a.readDisk(ctx, t)
	case domain.KindSnapshot:
		_, err = a.readSnapshot(ctx, t.c, t.rg, t.name)
	default:
		_, err = a.readIP(ctx, t)
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
		a.logger.InfoContext(ctx, "azure resource deleted", a.logArgs(t, token, "call", op)...)
		return nil
	case err != nil:
		return fmt.Errorf("verify %s: %w", op, err)
	}
	return &Error{Op: "verify " + op, err: errors.New("the operation succeeded but the resource still exists")}
}

// checkTags refuses tags that set a reserved key.
func (a *Actuator) checkTags(op string, tags map[string]string) error {
	for k := range tags {
		for _, r := range a.cfg.ReservedTags {
			if strings.EqualFold(k, r) {
				return fmt.Errorf("%w: %s: tag %s is reserved: the actuator may not set it", domain.ErrPermission, op, k)
			}
		}
	}
	return nil
}

// actMergeTags merges add into cur: a key matches an existing key without
// regard to case (as Azure compares tag keys) and keeps the existing
// spelling. It reports whether anything changed.
func actMergeTags(cur map[string]*string, add map[string]string) (map[string]*string, bool) {
	out := make(map[string]*string, len(cur)+len(add))
	maps.Copy(out, cur)
	changed := false
	for _, k := range slices.Sorted(maps.Keys(add)) {
		v := add[k]
		key := k
		for ck := range cur {
			if strings.EqualFold(ck, k) {
				key = ck
				break
			}
		}
		if old, ok := out[key]; ok && old != nil && *old == v {
			continue
		}
		out[key] = to.Ptr(v)
		changed = true
	}
	return out, changed
}

// Tag merges tags into a resource's tags with the resource's own update
// (a PATCH carrying the whole merged set: Azure replaces tags as a
// whole), and checks the answer carries them. A resource that already
// has every tag is left alone. No tags is domain.ErrInvalid; a reserved
// tag (ReservedTags) domain.ErrPermission, refused without a call. A
// VM's update is conditional on the ETag read, so a concurrent change
// is domain.ErrConflict rather than lost.
func (a *Actuator) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	t, err := a.target(ref, domain.KindVM, domain.KindDisk, domain.KindSnapshot, domain.KindIP)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return fmt.Errorf("%w: tag %s: no tags", domain.ErrInvalid, t.id)
	}
	op := "tag " + t.id
	if err := a.checkTags(op, tags); err != nil {
		return err
	}
	var got map[string]*string
	switch t.kind {
	case domain.KindVM:
		resp, err := t.c.vms.Get(ctx, t.rg, t.name, nil)
		if err != nil {
			return mapErr("get virtual machine "+t.id, err)
		}
		merged, changed := actMergeTags(resp.Tags, tags)
		if !changed {
			return nil // replay: every tag has its value
		}
		var opts *armcompute.VirtualMachinesClientBeginUpdateOptions
		if resp.Etag != nil && *resp.Etag != "" {
			opts = &armcompute.VirtualMachinesClientBeginUpdateOptions{IfMatch: resp.Etag}
		}
		res, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.VirtualMachinesClientUpdateResponse], error) {
			return t.c.vms.BeginUpdate(ctx, t.rg, t.name, armcompute.VirtualMachineUpdate{Tags: merged}, opts)
		})
		if err != nil {
			return err
		}
		got = res.Tags
	case domain.KindDisk:
		d, err := a.readDisk(ctx, t)
		if err != nil {
			return err
		}
		merged, changed := actMergeTags(d.Tags, tags)
		if !changed {
			return nil
		}
		res, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.DisksClientUpdateResponse], error) {
			return t.c.disks.BeginUpdate(ctx, t.rg, t.name, armcompute.DiskUpdate{Tags: merged}, nil)
		})
		if err != nil {
			return err
		}
		got = res.Tags
	case domain.KindSnapshot:
		s, err := a.readSnapshot(ctx, t.c, t.rg, t.name)
		if err != nil {
			return err
		}
		merged, changed := actMergeTags(s.Tags, tags)
		if !changed {
			return nil
		}
		res, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.SnapshotsClientUpdateResponse], error) {
			return t.c.snaps.BeginUpdate(ctx, t.rg, t.name, armcompute.SnapshotUpdate{Tags: merged}, nil)
		})
		if err != nil {
			return err
		}
		got = res.Tags
	default:
		ip, err := a.readIP(ctx, t)
		if err != nil {
			return err
		}
		merged, changed := actMergeTags(ip.Tags, tags)
		if !changed {
			return nil
		}
		res, err := t.c.ips.UpdateTags(ctx, t.rg, t.name, armnetwork.TagsObject{Tags: merged}, nil)
		if err != nil {
			return mapErr(op, err)
		}
		got = res.Tags
	}
	if _, changed := actMergeTags(got, tags); changed {
		return &Error{Op: "verify " + op, err: errors.New("the update succeeded but its answer lacks some of the tags")}
	}
	a.logger.InfoContext(ctx, "azure resource tagged", a.logArgs(t, token, "tags", slices.Sorted(maps.Keys(tags)))...)
	return nil
}

// logArgs are the attributes of a change's log record.
func (a *Actuator) logArgs(t actTarget, token string, more ...any) []any {
	args := []any{"cloud", domain.Azure, "account_id", t.sub, "resource_id", t.id}
	if token != "" {
		args = append(args, "token", token)
	}
	return append(args, more...)
}

// actDiskSKUs are the managed disk types a disk's SKU can be changed to.
var actDiskSKUs = []armcompute.DiskStorageAccountTypes{
	armcompute.DiskStorageAccountTypesStandardLRS, armcompute.DiskStorageAccountTypesStandardSSDLRS,
	armcompute.DiskStorageAccountTypesPremiumLRS, armcompute.DiskStorageAccountTypesStandardSSDZRS,
	armcompute.DiskStorageAccountTypesPremiumZRS, armcompute.DiskStorageAccountTypesUltraSSDLRS,
	armcompute.DiskStorageAccountTypesPremiumV2LRS,
}

// actDiskSKU returns Azure's spelling of a managed disk type, compared
// without case; false for a name that is not one.
func actDiskSKU(sku string) (armcompute.DiskStorageAccountTypes, bool) {
	i := slices.IndexFunc(actDiskSKUs, func(t armcompute.DiskStorageAccountTypes) bool { return strings.EqualFold(string(t), sku) })
	if i < 0 {
		return "", false
	}
	return actDiskSKUs[i], true
}

// diskSKU returns a disk's type, "" when Azure gave none.
func (a *Actuator) diskSKU(d armcompute.Disk) string {
	if d.SKU == nil || d.SKU.Name == nil {
		return ""
	}
	return string(*d.SKU.Name)
}

// Retype changes a managed disk's type (its SKU: Premium_LRS,
// StandardSSD_LRS) in place with the disk's own update, keeping its data
// and its attachment, and verifies it by re-reading the disk. A disk
// that already has the type is left alone (no call).
//
// Azure changes the type only of a disk that is unattached or whose VM
// is deallocated: a disk attached to a running VM (DiskState Attached,
// read live just before the call) is domain.ErrConflict, refused without
// a call, as is a disk being exported or uploaded. A name that is not a
// managed disk type is domain.ErrInvalid, refused before any call. A
// type the disk cannot take (Azure's OperationNotAllowed, a size the VM
// cannot attach it to) is Azure's error mapped onto the domain's kinds.
func (a *Actuator) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	t, err := a.target(ref, domain.KindDisk)
	if err != nil {
		return err
	}
	want, ok := actDiskSKU(sku)
	if !ok {
		names := make([]string, len(actDiskSKUs))
		for i, s := range actDiskSKUs {
			names[i] = string(s)
		}
		return fmt.Errorf("%w: retype disk %s: %q is not a managed disk type (%s)", domain.ErrInvalid, t.id, sku, strings.Join(names, ", "))
	}
	d, err := a.readDisk(ctx, t)
	if err != nil {
		return err
	}
	prev := a.diskSKU(d)
	if strings.EqualFold(prev, string(want)) {
		return nil // replay, or already of the type
	}
	switch st := a.diskState(d); st {
	case armcompute.DiskStateAttached:
		return fmt.Errorf("%w: retype disk %s to %s: it is attached to virtual machine %s, which is not deallocated; Azure changes the type of a disk only while its VM is deallocated: deallocate the VM first",
			domain.ErrConflict, t.id, want, actOrUnknown(a.diskAttachedTo(d)))
	case armcompute.DiskStateActiveSAS, armcompute.DiskStateActiveSASFrozen, armcompute.DiskStateReadyToUpload, armcompute.DiskStateActiveUpload:
		return fmt.Errorf("%w: retype disk %s to %s: the disk is %s", domain.ErrConflict, t.id, want, st)
	}
	op := fmt.Sprintf("change type of disk %s from %s to %s", t.id, prev, want)
	if _, err := actUntilDone(ctx, a, op, func(ctx context.Context) (*runtime.Poller[armcompute.DisksClientUpdateResponse], error) {
		return t.c.disks.BeginUpdate(ctx, t.rg, t.name, armcompute.DiskUpdate{SKU: &armcompute.DiskSKU{Name: to.Ptr(want)}}, nil)
	}); err != nil {
		return err
	}
	after, err := a.readDisk(ctx, t)
	if err != nil {
		return fmt.Errorf("verify %s: %w", op, err)
	}
	if got := a.diskSKU(after); !strings.EqualFold(got, string(want)) {
		return &Error{Op: "verify " + op, err: fmt.Errorf("the update succeeded but the disk reads type %s", got)}
	}
	a.logger.InfoContext(ctx, "azure disk type changed", a.logArgs(t, token, "sku_before", prev, "sku", string(want))...)
	return nil
}

// actOrUnknown names a VM in a message.
func actOrUnknown(id string) string {
	if id == "" {
		return "(unknown)"
	}
	return id
}

// SetTiering is not built yet for this cloud: buckets are not changed.
func (a *Actuator) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	return fmt.Errorf("%w: set lifecycle rule on %s: not built for this cloud", domain.ErrUnsupported, ref)
}
