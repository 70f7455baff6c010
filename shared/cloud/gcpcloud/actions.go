package gcpcloud

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var (
	_ actuate.Resources  = (*Provider)(nil)
	_ actuate.TagEncoder = (*Provider)(nil)
)

// TokenLabel is the label that carries a digest of the actuator's
// idempotency token (tokenValue) on the snapshots Snapshot takes. The
// snapshot's name derives from the token as well; the label lets a
// retry tell its own snapshot from another that has the name.
const TokenLabel = "cloudtrim-token"

// Idempotency of the mutating calls. Every Compute Engine mutation that
// takes one carries a requestId derived from the actuator's token, the
// call and the resource (requestID): Compute Engine answers a requestId
// it has seen (for an hour at least) with the operation it started then,
// and applies nothing again, so a retry after a crash or a lost answer
// changes nothing twice. Each call is also made only when a live read
// shows it is needed:
//
//   - Stop makes no call when the instance reads TERMINATED, Start none
//     when it reads RUNNING; both wait first while it is in a transition.
//   - Resize makes no call when the instance has the machine type.
//   - Snapshot names the snapshot after the disk and the token, so a
//     retry finds the snapshot of an earlier call by name (and checks
//     its source disk and TokenLabel) instead of taking another.
//   - Delete and Release make no call when the resource is gone: gone is
//     what the call asks for.
//   - Tag makes no call when every label already has its value.
//     setLabels of snapshots and global addresses takes no requestId;
//     their labelFingerprint makes a stale retry fail instead (412),
//     and the re-read that follows finds the labels set.
//
// A call that fails with ErrThrottled or a context error may or may not
// have taken effect (an operation goes on after the caller stops
// waiting); the next call with the same token re-reads and finds out.

// target is a parsed resource reference.
type target struct {
	id       string // the relative name
	project  string
	scope    string // "zones", "regions" or "global"
	location string // the zone or region, "" for global
	name     string
	kind     domain.Kind
}

// Names of the scopes of a relative name.
const (
	scopeZones   = "zones"
	scopeRegions = "regions"
	scopeGlobal  = "global"
)

// targetKinds maps the scope and collection of a relative name to the
// domain's kinds.
var targetKinds = map[[2]string]domain.Kind{
	{scopeZones, "instances"}: domain.KindVM, {scopeZones, "disks"}: domain.KindDisk,
	{scopeRegions, "disks"}: domain.KindDisk, {scopeRegions, "addresses"}: domain.KindIP,
	{scopeGlobal, "addresses"}: domain.KindIP, {scopeGlobal, "snapshots"}: domain.KindSnapshot,
}

// namePattern is RFC 1035, the form of Compute Engine names (resources,
// zones, regions, machine types).
var namePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// projectPattern is the form of a project ID (and of the domain-scoped
// "example.com:project" form).
var projectPattern = regexp.MustCompile(`^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

// target parses ref, which must name a resource of one of kinds in a
// project this deployment owns (Config.Projects). Its ID is a relative
// name ("projects/p/zones/z/instances/n") or a Compute Engine URL of
// one. A malformed ID, another cloud, or a kind or project that
// disagrees with the ID is domain.ErrInvalid; a project not owned is
// domain.ErrPermission. No call is made.
func (p *Provider) target(ref domain.ResourceRef, kinds ...domain.Kind) (target, error) {
	if ref.Cloud != domain.GCP {
		return target{}, fmt.Errorf("%w: %s is not a Google Cloud resource", domain.ErrInvalid, ref)
	}
	id := domain.ResourceKey(domain.GCP, ref.ID)
	parts := strings.Split(id, "/")
	var t target
	switch {
	case len(parts) == 6 && parts[0] == "projects" && (parts[2] == scopeZones || parts[2] == scopeRegions) && namePattern.MatchString(parts[3]):
		t = target{project: parts[1], scope: parts[2], location: parts[3], name: parts[5], kind: targetKinds[[2]string{parts[2], parts[4]}]}
	case len(parts) == 5 && parts[0] == "projects" && parts[2] == scopeGlobal:
		t = target{project: parts[1], scope: scopeGlobal, name: parts[4], kind: targetKinds[[2]string{parts[2], parts[3]}]}
	default:
		return target{}, fmt.Errorf("%w: resource ID %q is not the relative name of a Compute Engine resource", domain.ErrInvalid, ref.ID)
	}
	t.id = id
	switch {
	case t.kind == "":
		return target{}, fmt.Errorf("%w: resource ID %q names a resource the actuator does not change", domain.ErrInvalid, ref.ID)
	case !projectPattern.MatchString(t.project) || !namePattern.MatchString(t.name):
		return target{}, fmt.Errorf("%w: resource ID %q has a malformed project or name", domain.ErrInvalid, ref.ID)
	case ref.Kind != "" && ref.Kind != t.kind:
		return target{}, fmt.Errorf("%w: %s: the ID names a %s, not a %s", domain.ErrInvalid, ref.ID, t.kind, ref.Kind)
	case ref.Account != "" && ref.Account != t.project:
		return target{}, fmt.Errorf("%w: %s: the reference names project %s but the ID is in %s", domain.ErrInvalid, ref.ID, ref.Account, t.project)
	case !slices.Contains(p.cfg.Projects, t.project):
		return target{}, fmt.Errorf("%w: %s is in project %s, which this deployment does not own", domain.ErrPermission, ref.ID, t.project)
	case !slices.Contains(kinds, t.kind):
		return target{}, fmt.Errorf("%w: %s: the call does not apply to a %s", domain.ErrInvalid, ref.ID, t.kind)
	}
	return t, nil
}

// requestIDNamespace is the namespace of the name-based UUIDs requestID
// makes.
var requestIDNamespace = [16]byte{0x6c, 0x0d, 0x2e, 0x4b, 0x91, 0x3a, 0x4f, 0x5e, 0xa7, 0x1c, 0x0b, 0x88, 0x52, 0xd3, 0x9e, 0x41}

// requestID is the requestId of a call: a name-based (version 5) UUID
// of the token, the call and the resource, as Compute Engine wants a
// UUID. The same token makes the same requestId, so a retry of the call
// is recognised; distinct calls of one token get distinct ones.
func requestID(token, call, id string) *string {
	h := sha1.New()
	h.Write(requestIDNamespace[:])
	h.Write([]byte(token + "\x00" + call + "\x00" + id))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	s := hex.EncodeToString(u[:])
	return proto.String(s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:])
}

// Get re-reads one instance, disk, address, snapshot or bucket (see
// readBucket), and maps it with the collector's own conversions
// (instanceResource, diskResource, addressResource, snapshotResource,
// bucketResource), so a live read and the inventory
// agree on kinds, states, SKUs, labels and IDs. A resource that does not
// exist, or that Compute Engine is deleting, returns an error wrapping
// domain.ErrNotFound; one of a project this deployment does not own
// domain.ErrPermission, without a call.
func (p *Provider) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	if ref.Kind == domain.KindBucket {
		return p.getBucket(ctx, ref)
	}
	t, err := p.target(ref, domain.KindVM, domain.KindDisk, domain.KindSnapshot, domain.KindIP)
	if err != nil {
		return domain.Resource{}, err
	}
	var r domain.Resource
	var ok bool
	switch t.kind {
	case domain.KindVM:
		var in *computepb.Instance
		if in, err = p.readInstance(ctx, t); err == nil {
			r, ok = instanceResource(t.project, in)
		}
	case domain.KindDisk:
		var d *computepb.Disk
		if d, err = p.readDisk(ctx, t); err == nil {
			r, ok = diskResource(t.project, d)
		}
	case domain.KindIP:
		var a *computepb.Address
		if a, err = p.readAddress(ctx, t); err == nil {
			r, ok = addressResource(t.project, a)
		}
	default:
		var s *computepb.Snapshot
		if s, err = p.readSnapshot(ctx, t.project, t.name); err == nil {
			r, ok = snapshotResource(t.project, s)
		}
	}
	switch {
	case err != nil:
		return domain.Resource{}, err
	case !ok:
		return domain.Resource{}, fmt.Errorf("gcpcloud: get %s: %w: it is being deleted", t.id, domain.ErrNotFound)
	}
	return r, nil
}

// read makes one read under the call deadline, its error mapped.
func read[T any](ctx context.Context, p *Provider, op string, get func(ctx context.Context) (T, error)) (T, error) {
	callCtx, cancel := p.call(ctx)
	defer cancel()
	v, err := get(callCtx)
	if err != nil {
		var zero T
		return zero, mapErr(op, err)
	}
	return v, nil
}

func (p *Provider) readInstance(ctx context.Context, t target) (*computepb.Instance, error) {
	return read(ctx, p, "gcpcloud: get instance "+t.id, func(ctx context.Context) (*computepb.Instance, error) {
		return p.instances.Get(ctx, &computepb.GetInstanceRequest{Project: t.project, Zone: t.location, Instance: t.name}, p.retry())
	})
}

func (p *Provider) readDisk(ctx context.Context, t target) (*computepb.Disk, error) {
	return read(ctx, p, "gcpcloud: get disk "+t.id, func(ctx context.Context) (*computepb.Disk, error) {
		if t.scope == scopeZones {
			return p.disks.Get(ctx, &computepb.GetDiskRequest{Project: t.project, Zone: t.location, Disk: t.name}, p.retry())
		}
		return p.regionDisks.Get(ctx, &computepb.GetRegionDiskRequest{Project: t.project, Region: t.location, Disk: t.name}, p.retry())
	})
}

func (p *Provider) readAddress(ctx context.Context, t target) (*computepb.Address, error) {
	return read(ctx, p, "gcpcloud: get address "+t.id, func(ctx context.Context) (*computepb.Address, error) {
		if t.scope == scopeGlobal {
			return p.globalAddresses.Get(ctx, &computepb.GetGlobalAddressRequest{Project: t.project, Address: t.name}, p.retry())
		}
		return p.addresses.Get(ctx, &computepb.GetAddressRequest{Project: t.project, Region: t.location, Address: t.name}, p.retry())
	})
}

func (p *Provider) readSnapshot(ctx context.Context, project, name string) (*computepb.Snapshot, error) {
	return read(ctx, p, "gcpcloud: get snapshot projects/"+project+"/global/snapshots/"+name, func(ctx context.Context) (*computepb.Snapshot, error) {
		return p.snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: project, Snapshot: name}, p.retry())
	})
}

// run starts a mutation with call (under the call deadline) and polls
// its operation every PollInterval until it is done, within
// OperationTimeout and the caller's deadline. An operation that ends
// with an error returns it through operationErr (QUOTA_EXCEEDED wraps
// domain.ErrThrottled, RESOURCE_IN_USE_BY_ANOTHER_RESOURCE or
// ZONE_RESOURCE_POOL_EXHAUSTED domain.ErrConflict ...); a refused call
// its mapErr error; a wait past OperationTimeout an error of no kind
// (the operation may still complete: re-read before retrying).
func (p *Provider) run(ctx context.Context, op string, call func(ctx context.Context) (*compute.Operation, error)) error {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.OperationTimeout)
	defer cancel()
	callCtx, callCancel := p.call(wctx)
	o, err := call(callCtx)
	callCancel()
	if err != nil {
		return p.waitErr(ctx, wctx, op, err)
	}
	for !o.Done() {
		select {
		case <-wctx.Done():
			return p.waitErr(ctx, wctx, op, wctx.Err())
		case <-time.After(p.cfg.PollInterval):
		}
		pollCtx, pollCancel := p.call(wctx)
		err := o.Poll(pollCtx, p.retry())
		pollCancel()
		if err != nil && !o.Done() {
			return p.waitErr(ctx, wctx, op, err)
		}
	}
	res := o.Proto()
	var codes, messages []string
	for _, e := range res.GetError().GetErrors() {
		codes, messages = append(codes, e.GetCode()), append(messages, e.GetMessage())
	}
	if len(codes) > 0 || res.GetHttpErrorStatusCode() >= 300 {
		if len(messages) == 0 {
			messages = []string{res.GetHttpErrorMessage()}
		}
		return operationErr(op, codes, messages, int(res.GetHttpErrorStatusCode()))
	}
	return nil
}

// waitErr maps the error of a mutation or of its wait: the caller's
// context error (wrapped, so errors.Is sees it), an error of no kind
// when OperationTimeout ran out first, or the API error mapped.
func (p *Provider) waitErr(ctx, wctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w (the operation may still complete)", op, cerr)
	}
	if wctx.Err() != nil {
		return &Error{Op: op, err: fmt.Errorf("not done after %v (the operation may still complete): %v", p.cfg.OperationTimeout, err)}
	}
	return mapErr(op, err)
}

// waitFor calls check every PollInterval until it reports done or
// fails, within OperationTimeout and the caller's deadline. The wait's
// own timeout is an error of no kind naming the last state seen.
func (p *Provider) waitFor(ctx context.Context, op string, check func(context.Context) (done bool, state string, err error)) error {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.OperationTimeout)
	defer cancel()
	last := "unknown"
	for {
		done, state, err := check(wctx)
		switch {
		case err != nil && ctx.Err() == nil && wctx.Err() != nil:
			return &Error{Op: op, err: fmt.Errorf("still %s after %v", last, p.cfg.OperationTimeout)}
		case err != nil:
			return err
		case done:
			return nil
		}
		last = state
		select {
		case <-wctx.Done():
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("%s: %w", op, cerr)
			}
			return &Error{Op: op, err: fmt.Errorf("still %s after %v", last, p.cfg.OperationTimeout)}
		case <-time.After(p.cfg.PollInterval):
		}
	}
}

// transitions are the instance statuses that end by themselves.
var transitions = map[string]bool{"PROVISIONING": true, "STAGING": true, "STOPPING": true, "PENDING_STOP": true,
	"SUSPENDING": true, "REPAIRING": true}

// settled reads an instance until its status is not a transition and
// returns it.
func (p *Provider) settled(ctx context.Context, t target) (*computepb.Instance, error) {
	var in *computepb.Instance
	err := p.waitFor(ctx, "gcpcloud: wait for instance "+t.id+" to settle", func(ctx context.Context) (bool, string, error) {
		var err error
		if in, err = p.readInstance(ctx, t); err != nil {
			return false, "", err
		}
		return !transitions[in.GetStatus()], in.GetStatus(), nil
	})
	return in, err
}

// verifyStatus re-reads an instance after op and checks its status is
// want. A mismatch is an error of no kind (re-read and retry).
func (p *Provider) verifyStatus(ctx context.Context, t target, op, want string) error {
	in, err := p.readInstance(ctx, t)
	if err != nil {
		return fmt.Errorf("verify %s: %w", op, err)
	}
	if got := in.GetStatus(); got != want {
		return &Error{Op: "verify " + op, err: fmt.Errorf("the operation succeeded but the instance reads %s, not %s", got, want)}
	}
	return nil
}

// Stop stops an instance, so that its vCPUs and memory no longer bill,
// and verifies it reads TERMINATED. An instance that reads TERMINATED is
// left alone (no call); one in a transition is waited for first; a
// SUSPENDED one is stopped (its saved memory is discarded). Errors wrap
// the domain kinds: domain.ErrNotFound for an instance that does not
// exist, domain.ErrConflict for one Compute Engine cannot stop now; a
// context error or a wait past OperationTimeout leaves the stop possibly
// under way (re-read before retrying).
func (p *Provider) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := p.target(ref, domain.KindVM)
	if err != nil {
		return err
	}
	in, err := p.settled(ctx, t)
	if err != nil {
		return err
	}
	if s := in.GetStatus(); s == "TERMINATED" || s == "STOPPED" {
		return nil // replay, or stopped already: the state is reached
	}
	op := "gcpcloud: stop instance " + t.id
	if err := p.run(ctx, op, func(ctx context.Context) (*compute.Operation, error) {
		return p.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: t.project, Zone: t.location, Instance: t.name,
			RequestId: requestID(token, "stop", t.id)}, p.retry())
	}); err != nil {
		return err
	}
	if err := p.verifyStatus(ctx, t, op, "TERMINATED"); err != nil {
		return err
	}
	p.logChange(ctx, "gcp instance stopped", t, token, "status_before", in.GetStatus())
	return nil
}

// Start starts a stopped (TERMINATED) instance and verifies it reads
// RUNNING. An instance that reads RUNNING is left alone (no call); one
// in a transition is waited for first. A SUSPENDED instance is
// domain.ErrConflict: it must be resumed, not started. Errors are as
// Stop's; a zone without capacity for the machine type
// (ZONE_RESOURCE_POOL_EXHAUSTED) is domain.ErrConflict.
func (p *Provider) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := p.target(ref, domain.KindVM)
	if err != nil {
		return err
	}
	in, err := p.settled(ctx, t)
	if err != nil {
		return err
	}
	switch s := in.GetStatus(); s {
	case "RUNNING":
		return nil // replay, or running already
	case "TERMINATED", "STOPPED":
	default:
		return fmt.Errorf("%w: gcpcloud: start instance %s: it is %s", domain.ErrConflict, t.id, s)
	}
	op := "gcpcloud: start instance " + t.id
	if err := p.run(ctx, op, func(ctx context.Context) (*compute.Operation, error) {
		return p.instances.Start(ctx, &computepb.StartInstanceRequest{Project: t.project, Zone: t.location, Instance: t.name,
			RequestId: requestID(token, "start", t.id)}, p.retry())
	}); err != nil {
		return err
	}
	if err := p.verifyStatus(ctx, t, op, "RUNNING"); err != nil {
		return err
	}
	p.logChange(ctx, "gcp instance started", t, token, "status_before", in.GetStatus())
	return nil
}

// Resize changes a stopped instance's machine type (setMachineType) and
// verifies it by re-reading the instance. An instance that already has
// the machine type is left alone. Compute Engine changes the machine
// type of TERMINATED instances only, so a running (or suspended)
// instance is domain.ErrConflict without a call: the actuator stops the
// instance, resizes it, starts it and verifies it, and on a failure
// resizes it back to the machine type it had. A machine type the
// instance's zone does not offer is domain.ErrConflict too, checked
// (machineTypes.get) before any change; a malformed one
// domain.ErrInvalid. setMachineType changes one field: an operation that
// fails leaves the previous machine type, which the actuator's re-read
// sees.
func (p *Provider) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	t, err := p.target(ref, domain.KindVM)
	if err != nil {
		return err
	}
	if !namePattern.MatchString(sku) {
		return fmt.Errorf("%w: gcpcloud: resize %s: %q is not a machine type name", domain.ErrInvalid, t.id, sku)
	}
	in, err := p.settled(ctx, t)
	if err != nil {
		return err
	}
	prev := lastSegment(in.GetMachineType())
	if prev == sku {
		return nil // replay: the instance has the machine type
	}
	if s := in.GetStatus(); s != "TERMINATED" {
		return fmt.Errorf("%w: gcpcloud: resize %s to %s: the instance is %s; stop it first", domain.ErrConflict, t.id, sku, s)
	}
	_, err = read(ctx, p, "gcpcloud: get machine type "+sku+" of zone "+t.location, func(ctx context.Context) (*computepb.MachineType, error) {
		return p.machineTypes.Get(ctx, &computepb.GetMachineTypeRequest{Project: t.project, Zone: t.location, MachineType: sku}, p.retry())
	})
	if errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("%w: gcpcloud: resize %s: zone %s does not offer machine type %s", domain.ErrConflict, t.id, t.location, sku)
	}
	if err != nil {
		return err
	}
	op := fmt.Sprintf("gcpcloud: resize instance %s from %s to %s", t.id, prev, sku)
	if err := p.run(ctx, op, func(ctx context.Context) (*compute.Operation, error) {
		return p.instances.SetMachineType(ctx, &computepb.SetMachineTypeInstanceRequest{Project: t.project, Zone: t.location, Instance: t.name,
			RequestId: requestID(token, "setMachineType:"+sku, t.id),
			InstancesSetMachineTypeRequestResource: &computepb.InstancesSetMachineTypeRequest{
				MachineType: proto.String("zones/" + t.location + "/machineTypes/" + sku)}}, p.retry())
	}); err != nil {
		return err
	}
	after, err := p.readInstance(ctx, t)
	if err != nil {
		return fmt.Errorf("verify %s: %w", op, err)
	}
	if got := lastSegment(after.GetMachineType()); got != sku {
		return &Error{Op: "verify " + op, err: fmt.Errorf("the operation succeeded but the instance reads machine type %s", got)}
	}
	p.logChange(ctx, "gcp instance resized", t, token, "sku_before", prev, "sku", sku)
	return nil
}

// tokenValue is the TokenLabel value of a token: 32 hex digits of its
// SHA-256, as a label value holds at most 63 lowercase characters.
func tokenValue(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:16])
}

// snapshotName is the name of the snapshot Snapshot takes of a disk for
// a token: "cloudtrim-", the disk's name (at most 32 characters) and 20
// hex digits of the SHA-256 of the disk's relative name and the token;
// at most 63 characters, a valid resource name.
func snapshotName(diskID, diskName, token string) string {
	sum := sha256.Sum256([]byte(diskID + "\x00" + token))
	if len(diskName) > 32 {
		diskName = strings.TrimRight(diskName[:32], "-")
	}
	return "cloudtrim-" + diskName + "-" + hex.EncodeToString(sum[:])[:20]
}

// Snapshot takes a snapshot of a zonal or regional persistent disk,
// labelled with tags (sanitized, see labelKey and labelValue) and
// TokenLabel, waits until it is READY and returns its relative name
// (projects/p/global/snapshots/n). It is stored where Compute Engine
// stores it by default, the multi-region nearest the disk.
//
// The snapshot's name derives from the disk and the token
// (snapshotName): a call that finds a snapshot of that name, of this
// disk, carrying this token's label, returns it (waiting while it is
// being made) instead of taking another. A snapshot of that name of
// another disk or token is domain.ErrConflict, and so is one that
// FAILED: the disk must not be deleted on its strength. A disk that is
// not READY is domain.ErrConflict; a reserved label
// domain.ErrPermission; no token domain.ErrInvalid.
func (p *Provider) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	t, err := p.target(ref, domain.KindDisk)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", fmt.Errorf("%w: gcpcloud: snapshot %s: an idempotency token is required", domain.ErrInvalid, t.id)
	}
	labels, err := p.labels("gcpcloud: snapshot "+t.id, tags)
	if err != nil {
		return "", err
	}
	d, err := p.readDisk(ctx, t)
	if err != nil {
		return "", err
	}
	if s := d.GetStatus(); s != "READY" {
		return "", fmt.Errorf("%w: gcpcloud: snapshot %s: the disk is %s", domain.ErrConflict, t.id, s)
	}
	name := snapshotName(t.id, t.name, token)
	id := "projects/" + t.project + "/global/snapshots/" + name
	tv := tokenValue(token)
	op := fmt.Sprintf("gcpcloud: snapshot disk %s as %s", t.id, name)

	existing, err := p.readSnapshot(ctx, t.project, name)
	switch {
	case err == nil:
		if relative(existing.GetSourceDisk()) != t.id || existing.GetLabels()[TokenLabel] != tv {
			return "", fmt.Errorf("%w: %s: snapshot %s exists but is not this disk's snapshot for this token (source %q)",
				domain.ErrConflict, op, name, relative(existing.GetSourceDisk()))
		}
		return id, p.waitSnapshot(ctx, t.project, name, op) // replay: the first call's snapshot
	case !errors.Is(err, domain.ErrNotFound):
		return "", err
	}
	labels[TokenLabel] = tv
	snap := &computepb.Snapshot{Name: proto.String(name), Labels: labels,
		Description: proto.String("taken by cloudtrim before a change to " + t.id)}
	rid := requestID(token, "createSnapshot", t.id)
	if err := p.run(ctx, op, func(ctx context.Context) (*compute.Operation, error) {
		if t.scope == scopeZones {
			return p.disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: t.project, Zone: t.location, Disk: t.name,
				SnapshotResource: snap, RequestId: rid}, p.retry())
		}
		return p.regionDisks.CreateSnapshot(ctx, &computepb.CreateSnapshotRegionDiskRequest{Project: t.project, Region: t.location, Disk: t.name,
			SnapshotResource: snap, RequestId: rid}, p.retry())
	}); err != nil {
		return "", err
	}
	if err := p.waitSnapshot(ctx, t.project, name, op); err != nil {
		return "", err
	}
	p.logChange(ctx, "gcp disk snapshot taken", t, token, "snapshot_id", id)
	return id, nil
}

// waitSnapshot reads a snapshot until it is READY. One that FAILED is
// domain.ErrConflict.
func (p *Provider) waitSnapshot(ctx context.Context, project, name, op string) error {
	return p.waitFor(ctx, "wait for "+op, func(ctx context.Context) (bool, string, error) {
		s, err := p.readSnapshot(ctx, project, name)
		if err != nil {
			return false, "", err
		}
		if s.GetStatus() == "FAILED" {
			return false, "", fmt.Errorf("%w: %s: the snapshot failed", domain.ErrConflict, op)
		}
		return s.GetStatus() == "READY", s.GetStatus(), nil
	})
}

// Delete deletes a persistent disk nothing uses, or a snapshot, and
// verifies it is gone. A resource that is gone already is success (see
// the idempotency notes above). A disk attached to an instance (users
// read live just before the call) is domain.ErrConflict, refused
// without a call; so is one Compute Engine refuses to delete
// (resourceInUseByAnotherResource), for instance an image's source.
func (p *Provider) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := p.target(ref, domain.KindDisk, domain.KindSnapshot)
	if err != nil {
		return err
	}
	rid := requestID(token, "delete", t.id)
	var op string
	var call func(ctx context.Context) (*compute.Operation, error)
	if t.kind == domain.KindDisk {
		d, err := p.readDisk(ctx, t)
		if errors.Is(err, domain.ErrNotFound) {
			return nil // replay, or removed by someone else: gone
		}
		if err != nil {
			return err
		}
		if users := d.GetUsers(); len(users) > 0 {
			return fmt.Errorf("%w: gcpcloud: delete disk %s: it is attached to %s", domain.ErrConflict, t.id, relative(users[0]))
		}
		op = "gcpcloud: delete disk " + t.id
		call = func(ctx context.Context) (*compute.Operation, error) {
			if t.scope == scopeZones {
				return p.disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: t.project, Zone: t.location, Disk: t.name, RequestId: rid}, p.retry())
			}
			return p.regionDisks.Delete(ctx, &computepb.DeleteRegionDiskRequest{Project: t.project, Region: t.location, Disk: t.name, RequestId: rid}, p.retry())
		}
	} else {
		if _, err := p.readSnapshot(ctx, t.project, t.name); errors.Is(err, domain.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		op = "gcpcloud: delete snapshot " + t.id
		call = func(ctx context.Context) (*compute.Operation, error) {
			return p.snapshots.Delete(ctx, &computepb.DeleteSnapshotRequest{Project: t.project, Snapshot: t.name, RequestId: rid}, p.retry())
		}
	}
	if err := p.run(ctx, op, call); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return p.verifyGone(ctx, t, op, token)
}

// Release deletes a static address nothing uses and verifies it is
// gone. One that is gone already is success; one in use (IN_USE, read
// live just before the call) is domain.ErrConflict, refused without a
// call.
func (p *Provider) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	t, err := p.target(ref, domain.KindIP)
	if err != nil {
		return err
	}
	a, err := p.readAddress(ctx, t)
	if errors.Is(err, domain.ErrNotFound) {
		return nil // replay, or released by someone else: gone
	}
	if err != nil {
		return err
	}
	if a.GetStatus() == "IN_USE" || len(a.GetUsers()) > 0 {
		user := ""
		if len(a.GetUsers()) > 0 {
			user = relative(a.GetUsers()[0])
		}
		return fmt.Errorf("%w: gcpcloud: release address %s: it is in use by %q", domain.ErrConflict, t.id, user)
	}
	op := "gcpcloud: delete address " + t.id
	rid := requestID(token, "delete", t.id)
	if err := p.run(ctx, op, func(ctx context.Context) (*compute.Operation, error) {
		if t.scope == scopeGlobal {
			return p.globalAddresses.Delete(ctx, &computepb.DeleteGlobalAddressRequest{Project: t.project, Address: t.name, RequestId: rid}, p.retry())
		}
		return p.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: t.project, Region: t.location, Address: t.name, RequestId: rid}, p.retry())
	}); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	return p.verifyGone(ctx, t, op, token)
}

// verifyGone re-reads a resource after op deleted it: it must be
// domain.ErrNotFound. A resource that still reads is an error of no kind.
func (p *Provider) verifyGone(ctx context.Context, t target, op, token string) error {
	var err error
	switch t.kind {
	case domain.KindDisk:
		_, err = p.readDisk(ctx, t)
	case domain.KindSnapshot:
		_, err = p.readSnapshot(ctx, t.project, t.name)
	default:
		_, err = p.readAddress(ctx, t)
	}
	switch {
	case errors.Is(err, domain.ErrNotFound):
		p.logChange(ctx, "gcp resource deleted", t, token, "call", op)
		return nil
	case err != nil:
		return fmt.Errorf("verify %s: %w", op, err)
	}
	return &Error{Op: "verify " + op, err: errors.New("the operation succeeded but the resource still exists")}
}

// Label rules of Compute Engine: keys and values hold lowercase
// letters, digits, '_' and '-', at most 63 characters; keys start with a
// letter.
const maxLabelLen = 63

// sanitizeLabel makes s a valid label key (key) or value, the same way
// every time: lower case, every other character '_', a key not starting
// with a letter prefixed with "k_", and a result longer than 63
// characters cut to 54 and ended with '-' and 8 hex digits of the
// SHA-256 of s, so that long keys stay distinct. Distinct strings that
// differ only in case or in the characters replaced map to one label.
func sanitizeLabel(s string, key bool) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	out := string(b)
	if key && (out == "" || out[0] < 'a' || out[0] > 'z') {
		out = "k_" + out
	}
	if len(out) > maxLabelLen {
		sum := sha256.Sum256([]byte(s))
		out = out[:maxLabelLen-9] + "-" + hex.EncodeToString(sum[:4])
	}
	return out
}

// StoredTag implements actuate.TagEncoder: the label a tag becomes
// (sanitizeLabel), which is what Get reads back.
func (p *Provider) StoredTag(key, value string) (string, string) {
	return sanitizeLabel(key, true), sanitizeLabel(value, false)
}

// labels sanitizes tags into Compute Engine labels (sanitizeLabel) and
// refuses, with domain.ErrPermission, a key that is (once sanitized) a
// reserved label (Config.ReservedLabels) or TokenLabel.
func (p *Provider) labels(op string, tags map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(tags)+1)
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		key := sanitizeLabel(k, true)
		if key == TokenLabel || slices.ContainsFunc(p.cfg.ReservedLabels, func(r string) bool { return sanitizeLabel(r, true) == key }) {
			return nil, fmt.Errorf("%w: %s: label %s is reserved: the actuator may not set it", domain.ErrPermission, op, k)
		}
		out[key] = sanitizeLabel(tags[k], false)
	}
	return out, nil
}

// Tag merges tags, sanitized into labels (see labels), into a resource's
// labels with its setLabels, conditional on the labelFingerprint read
// just before, and checks a re-read carries them. A resource that
// already has every label is left alone. A fingerprint that changed
// between the read and the call (412 conditionNotMet: someone else set
// labels) is read again and the merge retried once; a second race is
// domain.ErrConflict. No tags is domain.ErrInvalid; a reserved label
// domain.ErrPermission, refused without a call.
func (p *Provider) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	t, err := p.target(ref, domain.KindVM, domain.KindDisk, domain.KindSnapshot, domain.KindIP)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return fmt.Errorf("%w: gcpcloud: tag %s: no tags", domain.ErrInvalid, t.id)
	}
	op := "gcpcloud: set labels of " + t.id
	labels, err := p.labels(op, tags)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		cur, fingerprint, err := p.readLabels(ctx, t)
		if err != nil {
			return err
		}
		merged := maps.Clone(cur)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, labels)
		if maps.Equal(merged, cur) {
			if attempt == 1 {
				return nil // replay: every label has its value
			}
			break
		}
		err = p.run(ctx, op, func(ctx context.Context) (*compute.Operation, error) {
			return p.setLabels(ctx, t, merged, fingerprint, requestID(token, fmt.Sprintf("setLabels#%d", attempt), t.id))
		})
		var gerr *Error
		if err == nil {
			break
		}
		if attempt > 1 || !errors.As(err, &gerr) || gerr.Reason != "conditionNotMet" {
			return err
		}
		p.logger.InfoContext(ctx, "gcp labels changed under a setLabels; merging again", "cloud", domain.GCP,
			"account_id", t.project, "resource_id", t.id)
	}
	got, _, err := p.readLabels(ctx, t)
	if err != nil {
		return fmt.Errorf("verify %s: %w", op, err)
	}
	for k, v := range labels {
		if got[k] != v {
			return &Error{Op: "verify " + op, err: fmt.Errorf("the operation succeeded but label %s reads %q, not %q", k, got[k], v)}
		}
	}
	p.logChange(ctx, "gcp resource labelled", t, token, "labels", slices.Sorted(maps.Keys(labels)))
	return nil
}

// readLabels reads a resource's labels and labelFingerprint.
func (p *Provider) readLabels(ctx context.Context, t target) (map[string]string, string, error) {
	switch t.kind {
	case domain.KindVM:
		in, err := p.readInstance(ctx, t)
		return in.GetLabels(), in.GetLabelFingerprint(), err
	case domain.KindDisk:
		d, err := p.readDisk(ctx, t)
		return d.GetLabels(), d.GetLabelFingerprint(), err
	case domain.KindIP:
		a, err := p.readAddress(ctx, t)
		return a.GetLabels(), a.GetLabelFingerprint(), err
	}
	s, err := p.readSnapshot(ctx, t.project, t.name)
	return s.GetLabels(), s.GetLabelFingerprint(), err
}

// setLabels starts the setLabels of a resource of any kind.
func (p *Provider) setLabels(ctx context.Context, t target, labels map[string]string, fingerprint string, rid *string) (*compute.Operation, error) {
	fp := proto.String(fingerprint)
	switch {
	case t.kind == domain.KindVM:
		return p.instances.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: t.project, Zone: t.location, Instance: t.name, RequestId: rid,
			InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{Labels: labels, LabelFingerprint: fp}}, p.retry())
	case t.kind == domain.KindDisk && t.scope == scopeZones:
		return p.disks.SetLabels(ctx, &computepb.SetLabelsDiskRequest{Project: t.project, Zone: t.location, Resource: t.name, RequestId: rid,
			ZoneSetLabelsRequestResource: &computepb.ZoneSetLabelsRequest{Labels: labels, LabelFingerprint: fp}}, p.retry())
	case t.kind == domain.KindDisk:
		return p.regionDisks.SetLabels(ctx, &computepb.SetLabelsRegionDiskRequest{Project: t.project, Region: t.location, Resource: t.name, RequestId: rid,
			RegionSetLabelsRequestResource: &computepb.RegionSetLabelsRequest{Labels: labels, LabelFingerprint: fp}}, p.retry())
	case t.kind == domain.KindIP && t.scope == scopeRegions:
		return p.addresses.SetLabels(ctx, &computepb.SetLabelsAddressRequest{Project: t.project, Region: t.location, Resource: t.name, RequestId: rid,
			RegionSetLabelsRequestResource: &computepb.RegionSetLabelsRequest{Labels: labels, LabelFingerprint: fp}}, p.retry())
	case t.kind == domain.KindIP:
		return p.globalAddresses.SetLabels(ctx, &computepb.SetLabelsGlobalAddressRequest{Project: t.project, Resource: t.name,
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{Labels: labels, LabelFingerprint: fp}}, p.retry())
	}
	return p.snapshots.SetLabels(ctx, &computepb.SetLabelsSnapshotRequest{Project: t.project, Resource: t.name,
		GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{Labels: labels, LabelFingerprint: fp}}, p.retry())
}

// logChange logs one change made.
func (p *Provider) logChange(ctx context.Context, msg string, t target, token string, more ...any) {
	args := []any{"cloud", domain.GCP, "account_id", t.project, "resource_id", t.id}
	if token != "" {
		args = append(args, "token", token)
	}
	p.logger.InfoContext(ctx, msg, append(args, more...)...)
}

// Retype refuses to change a disk's type: Compute Engine cannot change
// the type of a persistent disk in place; the way there is a new disk of
// the type made from a snapshot, which the actuator does not do. The
// reference is checked first as by every call (a disk of a project this
// deployment does not own is domain.ErrPermission); then the answer is
// domain.ErrUnsupported, without a call.
func (p *Provider) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	t, err := p.target(ref, domain.KindDisk)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: Compute Engine cannot change the type of persistent disk %s in place; create a new %s disk from a snapshot",
		domain.ErrUnsupported, t.name, sku)
}
