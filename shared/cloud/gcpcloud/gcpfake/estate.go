package gcpfake

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Instance statuses, as Compute Engine spells them.
const (
	StatusProvisioning = "PROVISIONING"
	StatusStaging      = "STAGING"
	StatusRunning      = "RUNNING"
	StatusStopping     = "STOPPING"
	StatusTerminated   = "TERMINATED" // stopped: no vCPU or memory billed
	StatusSuspending   = "SUSPENDING"
	StatusSuspended    = "SUSPENDED"
)

// Disk and snapshot statuses.
const (
	StatusReady    = "READY"
	StatusCreating = "CREATING"
	StatusFailed   = "FAILED"
)

// Address statuses and types. An address's status is not stored: it is
// IN_USE while it has users, RESERVED otherwise.
const (
	StatusReserved = "RESERVED"
	StatusInUse    = "IN_USE"
	External       = "EXTERNAL"
	Internal       = "INTERNAL"
)

// Project states, as Resource Manager spells them.
const (
	ProjectActive          = "ACTIVE"
	ProjectDeleteRequested = "DELETE_REQUESTED"
)

// SelfLinkBase is the prefix of the URLs (selfLink, zone, machineType,
// users ...) the fake serves, the one Compute Engine v1 serves.
const SelfLinkBase = "https://www.googleapis.com/compute/v1/"

// Instance is a Compute Engine VM instance. Its attached disks are the
// disks that name it among their Users, and its external addresses the
// addresses that do, so the two sides cannot disagree.
type Instance struct {
	Project, Zone, Name string
	// MachineType is the short name ("n2-standard-4").
	MachineType string
	// Status is one of the Status* instance constants; empty reads
	// RUNNING.
	Status  string
	Labels  map[string]string
	Created time.Time
}

// ID returns the instance's relative name,
// "projects/p/zones/z/instances/n".
func (i *Instance) ID() string {
	return "projects/" + i.Project + "/zones/" + i.Zone + "/instances/" + i.Name
}

func (i *Instance) status() string {
	if i.Status == "" {
		return StatusRunning
	}
	return i.Status
}

// Disk is a persistent disk: zonal when Zone is set, regional (Region
// set, Zone empty) otherwise.
type Disk struct {
	Project, Zone, Region, Name string
	// Type is the short disk type ("pd-balanced").
	Type    string
	SizeGiB int64
	// Users are the relative names of the instances the disk is attached
	// to.
	Users []string
	// Status is READY when empty.
	Status  string
	Labels  map[string]string
	Created time.Time
}

// ID returns the disk's relative name, "projects/p/zones/z/disks/n" or
// "projects/p/regions/r/disks/n".
func (d *Disk) ID() string {
	if d.Zone != "" {
		return "projects/" + d.Project + "/zones/" + d.Zone + "/disks/" + d.Name
	}
	return "projects/" + d.Project + "/regions/" + d.Region + "/disks/" + d.Name
}

// location is the disk's zone, or region for a regional disk.
func (d *Disk) location() string {
	if d.Zone != "" {
		return d.Zone
	}
	return d.Region
}

func (d *Disk) status() string {
	if d.Status == "" {
		return StatusReady
	}
	return d.Status
}

// Address is a static IP address: regional when Region is set, global
// otherwise.
type Address struct {
	Project, Region, Name string
	// Address is the IP address.
	Address string
	// AddressType is EXTERNAL when empty.
	AddressType string
	// Users are the relative names of what uses the address (instances).
	Users   []string
	Labels  map[string]string
	Created time.Time
}

// ID returns the address's relative name,
// "projects/p/regions/r/addresses/n" or "projects/p/global/addresses/n".
func (a *Address) ID() string {
	if a.Region == "" {
		return "projects/" + a.Project + "/global/addresses/" + a.Name
	}
	return "projects/" + a.Project + "/regions/" + a.Region + "/addresses/" + a.Name
}

func (a *Address) status() string {
	if len(a.Users) > 0 {
		return StatusInUse
	}
	return StatusReserved
}

// Snapshot is a (global) persistent disk snapshot.
type Snapshot struct {
	Project, Name string
	// SourceDisk is the relative name of the disk it was taken from.
	SourceDisk  string
	DiskSizeGiB int64
	// StorageBytes is what the snapshot stores (and bills).
	StorageBytes int64
	// StorageLocations are where it is stored: one region
	// ("us-central1") or multi-region ("us").
	StorageLocations []string
	// Status is READY when empty.
	Status  string
	Labels  map[string]string
	Created time.Time
}

// ID returns the snapshot's relative name,
// "projects/p/global/snapshots/n".
func (s *Snapshot) ID() string { return "projects/" + s.Project + "/global/snapshots/" + s.Name }

func (s *Snapshot) status() string {
	if s.Status == "" {
		return StatusReady
	}
	return s.Status
}

// MachineType is what the machine types API says about one machine
// type.
type MachineType struct {
	Name      string
	GuestCPUs int32
	MemoryMB  int32
}

// Project is one project and what it holds. Its maps are keyed by
// relative name (the resources' ID methods).
type Project struct {
	ID          string
	Number      int64
	DisplayName string
	// State is ACTIVE when empty.
	State string

	Instances map[string]*Instance
	Disks     map[string]*Disk
	Addresses map[string]*Address
	Snapshots map[string]*Snapshot
}

// NewProject returns an empty active project; its number derives from
// its ID.
func NewProject(id string) *Project {
	return &Project{ID: id, Number: int64(NumericID("projects/"+id) % 1_000_000_000_000), DisplayName: id,
		Instances: map[string]*Instance{}, Disks: map[string]*Disk{}, Addresses: map[string]*Address{}, Snapshots: map[string]*Snapshot{}}
}

func (p *Project) state() string {
	if p.State == "" {
		return ProjectActive
	}
	return p.State
}

// Estate is an in-memory Google Cloud estate. Its exported fields are
// guarded by its mutex: lock it around every read or change made while a
// Server serves it. The lookups (Project, Instance, Disk, Address,
// Snapshot) expect the caller to hold the lock; the Add methods take it.
type Estate struct {
	sync.Mutex
	// Projects are keyed by project ID.
	Projects map[string]*Project
	// MachineTypes are the machine types of each zone.
	MachineTypes map[string][]MachineType
	// Buckets are the Cloud Storage buckets of every project, by name
	// (bucket names are global).
	Buckets map[string]*Bucket
}

// NewEstate returns an empty estate.
func NewEstate() *Estate {
	return &Estate{Projects: map[string]*Project{}, MachineTypes: map[string][]MachineType{}, Buckets: map[string]*Bucket{}}
}

// AddProject adds p, replacing a project of the same ID.
func (e *Estate) AddProject(p *Project) {
	e.Lock()
	defer e.Unlock()
	e.Projects[p.ID] = p
}

// AddInstance adds an instance to its project, which must exist.
func (e *Estate) AddInstance(i *Instance) error {
	return e.add(i.Project, i.ID(), func(p *Project) { p.Instances[i.ID()] = i })
}

// AddDisk adds a disk to its project, which must exist.
func (e *Estate) AddDisk(d *Disk) error {
	if (d.Zone == "") == (d.Region == "") {
		return fmt.Errorf("gcpfake: disk %s: set exactly one of Zone and Region", d.Name)
	}
	return e.add(d.Project, d.ID(), func(p *Project) { p.Disks[d.ID()] = d })
}

// AddAddress adds an address to its project, which must exist.
func (e *Estate) AddAddress(a *Address) error {
	return e.add(a.Project, a.ID(), func(p *Project) { p.Addresses[a.ID()] = a })
}

// AddSnapshot adds a snapshot to its project, which must exist.
func (e *Estate) AddSnapshot(s *Snapshot) error {
	return e.add(s.Project, s.ID(), func(p *Project) { p.Snapshots[s.ID()] = s })
}

func (e *Estate) add(project, id string, put func(*Project)) error {
	e.Lock()
	defer e.Unlock()
	p := e.Projects[project]
	if p == nil {
		return fmt.Errorf("gcpfake: %s: no project %q in the estate", id, project)
	}
	put(p)
	return nil
}

// Project returns the project of an ID or of a relative name, or nil.
// The caller holds the lock.
func (e *Estate) Project(id string) *Project {
	return e.Projects[ProjectOf(id)]
}

// Instance returns the instance of a relative name, or nil. The caller
// holds the lock.
func (e *Estate) Instance(id string) *Instance {
	if p := e.Project(id); p != nil {
		return p.Instances[id]
	}
	return nil
}

// Disk returns the disk of a relative name, or nil. The caller holds the
// lock.
func (e *Estate) Disk(id string) *Disk {
	if p := e.Project(id); p != nil {
		return p.Disks[id]
	}
	return nil
}

// Address returns the address of a relative name, or nil. The caller
// holds the lock.
func (e *Estate) Address(id string) *Address {
	if p := e.Project(id); p != nil {
		return p.Addresses[id]
	}
	return nil
}

// Snapshot returns the snapshot of a relative name, or nil. The caller
// holds the lock.
func (e *Estate) Snapshot(id string) *Snapshot {
	if p := e.Project(id); p != nil {
		return p.Snapshots[id]
	}
	return nil
}

// machineType returns a zone's machine type. The caller holds the lock.
func (e *Estate) machineType(zone, name string) (MachineType, bool) {
	for _, m := range e.MachineTypes[zone] {
		if m.Name == name {
			return m, true
		}
	}
	return MachineType{}, false
}

// ProjectOf returns the project ID of a relative name
// ("projects/p/..."), or id itself when it is not one.
func ProjectOf(id string) string {
	rest, ok := strings.CutPrefix(id, "projects/")
	if !ok {
		return id
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// RegionOf returns the region of a zone ("us-central1" of
// "us-central1-a"); a name that is not a zone is returned as is.
func RegionOf(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 && strings.Count(zone, "-") >= 2 {
		return zone[:i]
	}
	return zone
}

// LabelFingerprint returns the labelFingerprint the fake serves for a
// label set: a digest of the sorted labels, so it changes whenever the
// labels do.
func LabelFingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(h, "%s\x00%s\x00", k, labels[k])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:8])
}
