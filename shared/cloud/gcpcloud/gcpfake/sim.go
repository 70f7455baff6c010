package gcpfake

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// FromSim returns an estate holding the Compute Engine part of a
// simulated estate as it is now: its projects, instances (running ones
// RUNNING, stopped ones TERMINATED), persistent disks (attached to their
// instance through its users), static external addresses (in use by
// their instance, which then carries the address in an access config),
// snapshots, and the machine types prices knows in the regions of the
// estate, in every zone it uses there. The simulated IDs are relative
// names (projects/p/zones/z/instances/n ...), so every resource keeps
// its ID. A snapshot is stored in the region the simulated estate puts
// it in (storageLocations holds that one region), which is where
// gcpcloud reads a snapshot's region from.
//
// Resources the simulated estate marks incomplete (labels it could not
// read) are served without labels: Compute Engine returns labels inline
// with every resource.
func FromSim(ctx context.Context, est *simcloud.Estate, prices simcloud.Prices) (*Estate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if est.Cloud(domain.GCP) == nil {
		return nil, fmt.Errorf("gcpfake: %w: the simulated estate has no Google Cloud part", domain.ErrInvalid)
	}
	e := NewEstate()
	for _, p := range est.Accounts(domain.GCP) {
		e.Projects[p] = NewProject(p)
	}
	var all []domain.Resource
	for _, r := range est.Resources() {
		if r.Cloud == domain.GCP {
			all = append(all, r)
		}
	}
	zones := map[string]map[string]bool{} // region → zones used
	// Instances first: disks and addresses name them as users.
	for _, r := range all {
		n, ok := parseName(r.ID)
		if r.Kind != domain.KindVM || !ok || n.collection != "instances" || e.Projects[n.project] == nil {
			continue
		}
		i := &Instance{Project: n.project, Zone: n.location, Name: n.name, MachineType: r.SKU, Labels: r.Tags, Created: r.CreatedAt}
		switch r.State {
		case domain.StateRunning, domain.StateScheduled:
			i.Status = StatusRunning
		case domain.StateStopped:
			i.Status = StatusTerminated
		default:
			i.Status = strings.ToUpper(r.State)
		}
		e.Projects[n.project].Instances[i.ID()] = i
		if zones[RegionOf(n.location)] == nil {
			zones[RegionOf(n.location)] = map[string]bool{}
		}
		zones[RegionOf(n.location)][n.location] = true
	}
	for _, r := range all {
		n, ok := parseName(r.ID)
		if !ok || e.Projects[n.project] == nil {
			continue
		}
		p := e.Projects[n.project]
		var users []string
		if p.Instances[r.AttachedTo] != nil {
			users = []string{r.AttachedTo}
		}
		switch {
		case r.Kind == domain.KindDisk && n.collection == "disks":
			d := &Disk{Project: n.project, Name: n.name, Type: r.SKU, SizeGiB: r.SizeGiB, Users: users, Labels: r.Tags, Created: r.CreatedAt}
			if n.scope == "zones" {
				d.Zone = n.location
			} else {
				d.Region = n.location
			}
			p.Disks[d.ID()] = d
		case r.Kind == domain.KindIP && n.collection == "addresses":
			a := &Address{Project: n.project, Name: n.name, Address: addressOf(r.ID), Users: users, Labels: r.Tags, Created: r.CreatedAt}
			if n.scope == "regions" {
				a.Region = n.location
			}
			p.Addresses[a.ID()] = a
		case r.Kind == domain.KindSnapshot && n.collection == "snapshots":
			p.Snapshots[r.ID] = &Snapshot{Project: n.project, Name: n.name, SourceDisk: r.AttachedTo, DiskSizeGiB: r.SizeGiB,
				StorageBytes: r.SizeGiB << 30 / 4, StorageLocations: []string{r.Region}, Labels: r.Tags, Created: r.CreatedAt}
		}
	}
	for _, r := range all {
		if r.Kind == domain.KindBucket && e.Projects[r.Account] != nil {
			e.Buckets[r.ID] = bucketFromSim(r.Account, r)
		}
	}
	for region, zs := range zones {
		var types []MachineType
		for _, pr := range prices.VMSizes(domain.GCP, region) {
			if pr.VCPU > 0 && pr.MemoryMiB > 0 {
				types = append(types, MachineType{Name: pr.SKU, GuestCPUs: int32(pr.VCPU), MemoryMB: int32(pr.MemoryMiB)})
			}
		}
		for z := range zs {
			e.MachineTypes[z] = types
		}
	}
	return e, nil
}

// name is a parsed relative name.
type name struct {
	project    string
	scope      string // "zones", "regions" or "global"
	location   string // the zone or region, "" for global
	collection string // "instances", "disks", "addresses", "snapshots"
	name       string
}

// parseName parses "projects/p/zones/z/instances/n",
// "projects/p/regions/r/addresses/n" or "projects/p/global/snapshots/n".
func parseName(id string) (name, bool) {
	p := strings.Split(id, "/")
	switch {
	case len(p) == 6 && p[0] == "projects" && (p[2] == "zones" || p[2] == "regions"):
		return name{project: p[1], scope: p[2], location: p[3], collection: p[4], name: p[5]}, p[5] != ""
	case len(p) == 5 && p[0] == "projects" && p[2] == "global":
		return name{project: p[1], scope: p[2], collection: p[3], name: p[4]}, p[4] != ""
	}
	return name{}, false
}

// addressOf derives a stable external IPv4 address from an ID.
func addressOf(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	v := h.Sum32()
	return fmt.Sprintf("34.%d.%d.%d", byte(v>>16), byte(v>>8), byte(v)|1)
}

// ApplyToSim replays mutations a Server applied (Server.Mutations) onto
// the simulated estate the fake was built from, through the simulated
// cloud's own calls, so that its bill (simcloud's MonthlyRunRate and
// cost rows) shows what the changes saved. Each mutation is replayed
// under its requestId as the simulated idempotency token (a mutation
// without one under its method and place in the log, which only grows),
// so replaying a log again, or a longer log that starts with it, applies
// nothing twice.
//
// What the simulated estate cannot express is left out: the opt-in
// label (the simulated actuator may not set it) and labels a setLabels
// removed (it only merges). A snapshot the fake made is known to the
// simulated estate by the ID the simulated estate gave it when its
// createSnapshot was replayed. The errors of the replays that failed are
// returned joined; the others are applied.
func ApplyToSim(ctx context.Context, sim *simcloud.Estate, muts []Mutation) error {
	c := sim.Cloud(domain.GCP)
	if c == nil {
		return fmt.Errorf("gcpfake: %w: the simulated estate has no Google Cloud part", domain.ErrInvalid)
	}
	type simSnapshot struct{ id, region string }
	made := map[string]simSnapshot{} // the fake's snapshot name → the simulated one
	var errs []error
	for n, m := range muts {
		ref := domain.ResourceRef{Cloud: domain.GCP, Account: ProjectOf(m.Resource), Region: m.Region, ID: m.Resource}
		if s, ok := made[m.Resource]; ok {
			ref.ID, ref.Region = s.id, s.region
		}
		token := m.RequestID
		if token == "" {
			token = fmt.Sprintf("%s#%d", m.Method, n)
		}
		_, method, _ := strings.Cut(strings.TrimPrefix(m.Method, "compute."), ".")
		var err error
		if m.Method == "storage.buckets.patch" {
			project, name, _ := strings.Cut(strings.TrimPrefix(m.Resource, "projects/"), "/buckets/")
			ref = domain.ResourceRef{Cloud: domain.GCP, Account: project, Region: m.Region, Kind: domain.KindBucket, ID: name}
			method = ""
			err = c.SetTiering(ctx, ref, ourRule(m.Labels, m.Lifecycle), token)
		}
		switch method {
		case "stop":
			err = c.Stop(ctx, ref, token)
		case "start":
			err = c.Start(ctx, ref, token)
		case "setMachineType":
			err = c.Resize(ctx, ref, m.MachineType, token)
		case "createSnapshot":
			var id string
			if id, err = c.Snapshot(ctx, ref, m.Labels, token); err == nil {
				made[m.Snapshot] = simSnapshot{id: id, region: m.Region}
			}
		case "delete":
			if strings.Contains(m.Method, "ddresses.") {
				err = c.Release(ctx, ref, token)
			} else {
				err = c.Delete(ctx, ref, token)
			}
		case "setLabels":
			labels := maps.Clone(m.Labels)
			delete(labels, simcloud.TagOptIn)
			if len(labels) > 0 {
				err = c.Tag(ctx, ref, labels, token)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("gcpfake: replay %s of %s: %w", m.Method, m.Resource, err))
		}
	}
	return errors.Join(errs...)
}
