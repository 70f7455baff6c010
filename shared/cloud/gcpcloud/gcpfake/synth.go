package gcpfake

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// SyntheticConfig describes a generated estate.
type SyntheticConfig struct {
	// Seed varies the project IDs.
	Seed uint64
	// Projects and InstancesPerProject size the estate.
	Projects            int
	InstancesPerProject int
	// Regions the instances are spread over, round robin, in two zones
	// each (default us-central1 and europe-west1).
	Regions []string
	// Now is the estate's clock: creation times are before it.
	Now time.Time
}

// SyntheticMachineTypes are the machine types of a synthetic estate,
// with their real vCPU counts and memory.
var SyntheticMachineTypes = []MachineType{
	{Name: "e2-standard-2", GuestCPUs: 2, MemoryMB: 8192}, {Name: "e2-standard-4", GuestCPUs: 4, MemoryMB: 16384},
	{Name: "n2-standard-2", GuestCPUs: 2, MemoryMB: 8192}, {Name: "n2-standard-4", GuestCPUs: 4, MemoryMB: 16384},
	{Name: "n2-standard-8", GuestCPUs: 8, MemoryMB: 32768}, {Name: "n2-highmem-2", GuestCPUs: 2, MemoryMB: 16384},
	{Name: "n2-highcpu-4", GuestCPUs: 4, MemoryMB: 4096}, {Name: "n1-standard-1", GuestCPUs: 1, MemoryMB: 3840},
	{Name: "n1-standard-4", GuestCPUs: 4, MemoryMB: 15360}, {Name: "c3-standard-4", GuestCPUs: 4, MemoryMB: 16384},
}

// Synthetic generates an estate of cfg.Projects projects of
// cfg.InstancesPerProject instances each, deterministic in its
// configuration: per instance a boot disk (pd-balanced, 50 GiB), a data
// disk (pd-ssd, 200 GiB) for one instance in four and a static external
// address for one in five; per project one unattached disk
// (pd-standard) and one snapshot of a boot disk per ten instances, and
// one reserved, unused address per twenty. One instance in twenty is
// TERMINATED and one in fifty SUSPENDED. Every zone knows
// SyntheticMachineTypes. Label maps are shared between resources: do
// not change them in place.
func Synthetic(cfg SyntheticConfig) *Estate {
	if len(cfg.Regions) == 0 {
		cfg.Regions = []string{"us-central1", "europe-west1"}
	}
	var zones []string
	e := NewEstate()
	for _, r := range cfg.Regions {
		for _, z := range []string{r + "-b", r + "-c"} {
			zones = append(zones, z)
			e.MachineTypes[z] = SyntheticMachineTypes
		}
	}
	labels := []map[string]string{
		{"env": "prod", "team": "web", "app": "checkout"},
		{"env": "dev", "team": "data", "app": "etl"},
		{"env": "test", "team": "platform", "app": "auth", "cloudtrim-optin": "true"},
		{"env": "prod", "team": "finance", "app": "ledger", "cloudtrim-protect": "true"},
	}
	for j := range cfg.Projects {
		p := NewProject(syntheticProjectID(cfg.Seed, j))
		for i := range cfg.InstancesPerProject {
			zone := zones[i%len(zones)]
			created := cfg.Now.Add(-time.Duration(24*(30+i%400)) * time.Hour).Truncate(time.Second)
			lab := labels[i%len(labels)]
			name := fmt.Sprintf("vm-%05d", i)
			inst := &Instance{Project: p.ID, Zone: zone, Name: name, MachineType: SyntheticMachineTypes[(i*7+j)%len(SyntheticMachineTypes)].Name,
				Status: StatusRunning, Labels: lab, Created: created}
			switch {
			case i%20 == 5:
				inst.Status = StatusTerminated
			case i%50 == 7:
				inst.Status = StatusSuspended
			}
			p.Instances[inst.ID()] = inst
			users := []string{inst.ID()}
			boot := &Disk{Project: p.ID, Zone: zone, Name: name, Type: "pd-balanced", SizeGiB: 50, Users: users, Labels: lab, Created: created}
			p.Disks[boot.ID()] = boot
			if i%4 == 0 {
				d := &Disk{Project: p.ID, Zone: zone, Name: name + "-data", Type: "pd-ssd", SizeGiB: 200, Users: users, Labels: lab, Created: created}
				p.Disks[d.ID()] = d
			}
			region := RegionOf(zone)
			if i%5 == 0 {
				a := &Address{Project: p.ID, Region: region, Name: name + "-ip", Users: users, Labels: lab, Created: created}
				a.Address = addressOf(a.ID())
				p.Addresses[a.ID()] = a
			}
			if i%10 == 0 {
				d := &Disk{Project: p.ID, Zone: zone, Name: "orphan-" + name, Type: "pd-standard", SizeGiB: 100, Labels: lab, Created: created}
				p.Disks[d.ID()] = d
				sn := &Snapshot{Project: p.ID, Name: name + "-snap", SourceDisk: boot.ID(), DiskSizeGiB: 50, StorageBytes: 12 << 30,
					StorageLocations: []string{region}, Labels: lab, Created: created.Add(24 * time.Hour)}
				p.Snapshots[sn.ID()] = sn
			}
			if i%20 == 0 {
				a := &Address{Project: p.ID, Region: region, Name: "spare-" + name, Labels: lab, Created: created}
				a.Address = addressOf(a.ID())
				p.Addresses[a.ID()] = a
			}
		}
		e.Projects[p.ID] = p
	}
	return e
}

// syntheticProjectID makes a project ID from a seed and an index: a
// lowercase letter first, at most 30 characters, as project IDs are.
func syntheticProjectID(seed uint64, n int) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", seed, n)
	return fmt.Sprintf("synth-%03d-%06x", n+1, h.Sum32()&0xffffff)
}

// SyntheticMetricSource serves the CPU utilization of a synthetic
// estate's instances: one sample every step, a value between 0 and 1
// derived from the instance and the hour, so a benchmark's Monitoring
// answers cost what real answers of that size cost without the estate
// holding any series. The estate is read under its lock.
func SyntheticMetricSource(e *Estate, step time.Duration) MetricSource {
	return func(ctx context.Context, q MetricQuery, fn func(MetricSeries) error) error {
		if q.Type != MetricCPUUtilization || step <= 0 {
			return nil
		}
		e.Lock()
		p := e.Projects[q.Project]
		var ins []*Instance
		if p != nil {
			for _, i := range p.Instances {
				if q.Zone == nil || q.Zone(i.Zone) {
					ins = append(ins, i)
				}
			}
		}
		e.Unlock()
		slices.SortFunc(ins, func(a, b *Instance) int { return strings.Compare(a.ID(), b.ID()) })
		first := q.From.Truncate(step).Add(step)
		for _, i := range ins {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := NumericID(i.ID())
			s := MetricSeries{Project: i.Project, Zone: i.Zone, InstanceName: i.Name, InstanceID: id, Type: q.Type}
			for t := first; !t.After(q.To); t = t.Add(step) {
				s.Points = append(s.Points, MetricPoint{End: t, Value: float64((id>>8+uint64(t.Unix()/3600))%97) / 100})
			}
			if err := fn(s); err != nil {
				return err
			}
		}
		return nil
	}
}
