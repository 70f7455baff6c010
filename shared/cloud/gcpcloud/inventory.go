package gcpcloud

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ collect.Inventory = (*Provider)(nil)

// Instance states Compute Engine has and the domain does not name. A
// TERMINATED (stopped) instance bills no vCPU or memory: it is
// domain.StateStopped. A SUSPENDED instance bills no vCPU or memory
// either, but its memory is kept (and billed as storage) and it can
// neither be started nor resized, only resumed: it is StateSuspended,
// never domain.StateStopped, so that no plan takes it for a stopped
// instance to resize or restart. The transitions keep their own names.
const (
	StateStarting   = "starting"   // PROVISIONING, STAGING
	StateStopping   = "stopping"   // STOPPING, PENDING_STOP
	StateSuspending = "suspending" // SUSPENDING
	StateSuspended  = "suspended"  // SUSPENDED
)

// Resources implements collect.Inventory: it calls fn with pages of at
// most Config.PageSize resources of scope's project in scope's region,
// in this order: instances, persistent disks (zonal and regional),
// static external addresses (regional, or global in the region
// "global"), snapshots, each in the order Compute Engine lists them, and
// Cloud Storage buckets by name (in the region of their location: see
// bucketResource). A project whose buckets cannot be listed is read
// without them, with a warning (see listBuckets).
//
// Compute Engine lists a project at once (aggregated lists, the global
// snapshot list), so the first scope of a project lists the whole
// project, page by page, and keeps its resources by region for the
// project's other scopes, which the collector reads next (it reads
// scopes sorted by project and region): memory holds one project's
// listing, never the estate's. Reading another project drops it. While
// a project is listed its instances' numeric IDs are kept for Series
// (Cloud Monitoring names instances by them); the IDs of other projects
// are dropped then, so the map stays one project's size.
//
// A scope with an empty region is a project Scopes could not list (its
// error is returned, wrapping domain.ErrPermission or
// domain.ErrThrottled) or one without resources. Any other error is the
// first listing of the project that failed, from mapErr; the resources
// of the region read before it have been handed to fn, so the collector
// records the scope as partial. fn's error stops the listing and is
// returned as is.
//
// Account is the project ID, Region the region of the zone or region;
// IDs are relative names (projects/p/zones/z/instances/n,
// projects/p/regions/r/disks/n, projects/p/global/addresses/n,
// projects/p/global/snapshots/n ...), the form Cloud Billing's detailed
// export and Cloud Monitoring name resources by once their prefix is
// dropped (domain.ResourceKey). A snapshot is global; its region is the
// region it is stored in when it is stored in one region, else the
// region of the disk it was taken from (see snapshotRegion). Labels come
// inline with every resource, so no resource is Incomplete. Internal
// addresses cost nothing and are not listed.
func (p *Provider) Resources(ctx context.Context, scope collect.Scope, fn func([]domain.Resource) error) error {
	if scope.Account == "" {
		return fmt.Errorf("%w: gcpcloud: scope without a project", domain.ErrInvalid)
	}
	if scope.Region == "" {
		return p.projectError(ctx, scope.Account)
	}
	p.mu.Lock()
	l := p.listing
	p.mu.Unlock()
	if l == nil || l.project != scope.Account {
		l = p.listProject(ctx, scope.Account)
	}
	rs := l.byRegion[scope.Region]
	for i := 0; i < len(rs); i += p.cfg.PageSize {
		if err := fn(slices.Clone(rs[i:min(i+p.cfg.PageSize, len(rs))])); err != nil {
			return err
		}
	}
	return l.err
}

// projectListing is one project's resources by region, and the error
// that stopped its listing.
type projectListing struct {
	project  string
	byRegion map[string][]domain.Resource
	err      error
}

// regions returns the regions of the listing, sorted.
func (l *projectListing) regions() []string {
	return slices.Sorted(maps.Keys(l.byRegion))
}

// listProject lists a project's instances, disks, addresses and
// snapshots, stopping at the first listing that fails, and keeps the
// listing (and its instances' IDs) in place of the previous project's.
func (p *Provider) listProject(ctx context.Context, project string) *projectListing {
	l := &projectListing{project: project, byRegion: map[string][]domain.Resource{}}
	add := func(r domain.Resource, ok bool) {
		if ok {
			l.byRegion[r.Region] = append(l.byRegion[r.Region], r)
		}
	}
	ids := map[string]string{}
	pageSize := proto.Uint32(uint32(p.cfg.PageSize))
	l.err = listAll(ctx, p, "gcpcloud: list the instances of project "+project,
		func(ctx context.Context, token string) pageIterator[compute.InstancesScopedListPair] {
			return p.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: project, MaxResults: pageSize, PageToken: tokenOf(token)}, p.retry())
		}, func(pair compute.InstancesScopedListPair) {
			for _, in := range pair.Value.GetInstances() {
				r, ok := instanceResource(project, in)
				if ok && in.Id != nil {
					ids[strconv.FormatUint(in.GetId(), 10)] = r.ID
				}
				add(r, ok)
			}
		})
	if l.err == nil {
		l.err = listAll(ctx, p, "gcpcloud: list the disks of project "+project,
			func(ctx context.Context, token string) pageIterator[compute.DisksScopedListPair] {
				return p.disks.AggregatedList(ctx, &computepb.AggregatedListDisksRequest{Project: project, MaxResults: pageSize, PageToken: tokenOf(token)}, p.retry())
			}, func(pair compute.DisksScopedListPair) {
				for _, d := range pair.Value.GetDisks() {
					add(diskResource(project, d))
				}
			})
	}
	if l.err == nil {
		l.err = listAll(ctx, p, "gcpcloud: list the addresses of project "+project,
			func(ctx context.Context, token string) pageIterator[compute.AddressesScopedListPair] {
				return p.addresses.AggregatedList(ctx, &computepb.AggregatedListAddressesRequest{Project: project, MaxResults: pageSize, PageToken: tokenOf(token)}, p.retry())
			}, func(pair compute.AddressesScopedListPair) {
				for _, a := range pair.Value.GetAddresses() {
					if a.GetAddressType() != "INTERNAL" {
						add(addressResource(project, a))
					}
				}
			})
	}
	if l.err == nil {
		l.err = listAll(ctx, p, "gcpcloud: list the snapshots of project "+project,
			func(ctx context.Context, token string) pageIterator[*computepb.Snapshot] {
				return p.snapshots.List(ctx, &computepb.ListSnapshotsRequest{Project: project, MaxResults: pageSize, PageToken: tokenOf(token)}, p.retry())
			}, func(s *computepb.Snapshot) {
				add(snapshotResource(project, s))
			})
	}
	if l.err == nil {
		l.err = p.listBuckets(ctx, project, add)
	}
	p.mu.Lock()
	p.listing = l
	p.vmIDs = map[string]map[string]string{project: ids}
	p.mu.Unlock()
	return l
}

// tokenOf is a page token as a request wants it, nil for the first page.
func tokenOf(token string) *string {
	if token == "" {
		return nil
	}
	return proto.String(token)
}

// lastSegment returns what follows the last "/" of a URL or name: the
// short name of a machine type, disk type, zone or region URL.
func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// relative returns the relative name of a Compute Engine URL
// ("projects/p/zones/z/instances/n"); "" stays "".
func relative(url string) string { return domain.ResourceKey(domain.GCP, url) }

// regionOf returns the region of a zone ("us-central1" of
// "us-central1-a").
func regionOf(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// created parses a creationTimestamp (RFC 3339), zero when absent or
// malformed.
func created(ts string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// labelsOf returns a resource's labels as tags (never nil: the labels
// were read).
func labelsOf(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	maps.Copy(out, m)
	return out
}

// instanceState maps an instance's status onto the domain's states (see
// the State constants).
func instanceState(status string) string {
	switch status {
	case "RUNNING":
		return domain.StateRunning
	case "TERMINATED", "STOPPED":
		return domain.StateStopped
	case "PROVISIONING", "STAGING":
		return StateStarting
	case "STOPPING", "PENDING_STOP":
		return StateStopping
	case "SUSPENDING":
		return StateSuspending
	case "SUSPENDED":
		return StateSuspended
	case "":
		return domain.StateUnknown
	}
	return strings.ToLower(status)
}

// instanceResource converts an instance of project; false for one
// without a name or zone.
func instanceResource(project string, in *computepb.Instance) (domain.Resource, bool) {
	zone := lastSegment(in.GetZone())
	if zone == "" || in.GetName() == "" {
		return domain.Resource{}, false
	}
	return domain.Resource{Cloud: domain.GCP, Account: project, Region: regionOf(zone), Kind: domain.KindVM,
		ID: "projects/" + project + "/zones/" + zone + "/instances/" + in.GetName(), Name: in.GetName(),
		SKU: lastSegment(in.GetMachineType()), State: instanceState(in.GetStatus()), Tags: labelsOf(in.GetLabels()),
		CreatedAt: created(in.GetCreationTimestamp())}, true
}

// diskResource converts a zonal or regional persistent disk; false for
// one being deleted or without a place. A disk with users is in use,
// attached to its first user; a READY disk without users is available
// (an orphan candidate); the other statuses (CREATING, RESTORING,
// FAILED) keep their name in lower case and are never taken for
// orphans.
func diskResource(project string, d *computepb.Disk) (domain.Resource, bool) {
	var id, region string
	switch {
	case d.GetName() == "" || d.GetStatus() == "DELETING":
		return domain.Resource{}, false
	case d.GetZone() != "":
		zone := lastSegment(d.GetZone())
		id, region = "projects/"+project+"/zones/"+zone+"/disks/"+d.GetName(), regionOf(zone)
	case d.GetRegion() != "":
		region = lastSegment(d.GetRegion())
		id = "projects/" + project + "/regions/" + region + "/disks/" + d.GetName()
	default:
		return domain.Resource{}, false
	}
	r := domain.Resource{Cloud: domain.GCP, Account: project, Region: region, Kind: domain.KindDisk, ID: id, Name: d.GetName(),
		SKU: lastSegment(d.GetType()), Tags: labelsOf(d.GetLabels()), CreatedAt: created(d.GetCreationTimestamp()), SizeGiB: d.GetSizeGb()}
	switch {
	case len(d.GetUsers()) > 0:
		r.State, r.AttachedTo = domain.StateInUse, relative(d.GetUsers()[0])
	case d.GetStatus() == "READY":
		r.State = domain.StateAvailable
	case d.GetStatus() == "":
		r.State = domain.StateUnknown
	default:
		r.State = strings.ToLower(d.GetStatus())
	}
	return r, true
}

// addressResource converts a static address; false for one without a
// name. An address in use is associated with its first user (the
// instance, or forwarding rule, holding it); a reserved one is
// available, and has the catalog SKU of an unused address, which Google
// Cloud bills more.
func addressResource(project string, a *computepb.Address) (domain.Resource, bool) {
	if a.GetName() == "" {
		return domain.Resource{}, false
	}
	region := "global"
	id := "projects/" + project + "/global/addresses/" + a.GetName()
	if a.GetRegion() != "" {
		region = lastSegment(a.GetRegion())
		id = "projects/" + project + "/regions/" + region + "/addresses/" + a.GetName()
	}
	r := domain.Resource{Cloud: domain.GCP, Account: project, Region: region, Kind: domain.KindIP, ID: id, Name: a.GetName(),
		SKU: IPSKU, Tags: labelsOf(a.GetLabels()), CreatedAt: created(a.GetCreationTimestamp())}
	switch a.GetStatus() {
	case "IN_USE":
		r.State = domain.StateAssociated
		if len(a.GetUsers()) > 0 {
			r.AttachedTo = relative(a.GetUsers()[0])
		}
	case "RESERVED":
		r.State, r.SKU = domain.StateAvailable, IPUnusedSKU
	case "":
		r.State = domain.StateUnknown
	default:
		r.State = strings.ToLower(a.GetStatus())
	}
	return r, true
}

// snapshotResource converts a snapshot; false for one being deleted or
// without a name. A READY snapshot is available; the others (CREATING,
// UPLOADING, FAILED) keep their status in lower case. AttachedTo is the
// disk it was taken from, SizeGiB that disk's size.
func snapshotResource(project string, s *computepb.Snapshot) (domain.Resource, bool) {
	if s.GetName() == "" || s.GetStatus() == "DELETING" {
		return domain.Resource{}, false
	}
	r := domain.Resource{Cloud: domain.GCP, Account: project, Region: snapshotRegion(s), Kind: domain.KindSnapshot,
		ID: "projects/" + project + "/global/snapshots/" + s.GetName(), Name: s.GetName(), SKU: SnapshotSKU,
		Tags: labelsOf(s.GetLabels()), CreatedAt: created(s.GetCreationTimestamp()), SizeGiB: s.GetDiskSizeGb(),
		AttachedTo: relative(s.GetSourceDisk())}
	switch s.GetStatus() {
	case "READY":
		r.State = domain.StateAvailable
	case "":
		r.State = domain.StateUnknown
	default:
		r.State = strings.ToLower(s.GetStatus())
	}
	return r, true
}

// snapshotRegion is the region a snapshot is filed under: snapshots are
// global resources, stored in one region ("us-central1") or in a
// multi-region ("us", the default, nearest the disk). A snapshot stored
// in one region is in that region, the region whose storage price it
// pays; one in a multi-region is in the region of the disk it was taken
// from, whose project and region own it in every plan; failing both,
// its storage location, or "global".
func snapshotRegion(s *computepb.Snapshot) string {
	for _, loc := range s.GetStorageLocations() {
		if strings.Contains(loc, "-") {
			return loc
		}
	}
	if n := strings.Split(relative(s.GetSourceDisk()), "/"); len(n) == 6 && n[0] == "projects" {
		switch n[2] {
		case "zones":
			return regionOf(n[3])
		case "regions":
			return n[3]
		}
	}
	if len(s.GetStorageLocations()) > 0 {
		return s.GetStorageLocations()[0]
	}
	return "global"
}
