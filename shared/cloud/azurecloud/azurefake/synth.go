package azurefake

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"
)

// SyntheticConfig describes a generated estate.
type SyntheticConfig struct {
	// Seed varies the subscription IDs.
	Seed uint64
	// Subscriptions and VMsPerSubscription size the estate.
	Subscriptions      int
	VMsPerSubscription int
	// Regions the VMs are spread over, round robin (default eastus and
	// westeurope).
	Regions []string
	// Now is the estate's clock: creation times are before it.
	Now time.Time
	// CostDays is how many whole days before Now have cost entries
	// (default 7); CostVMs is how many VMs of each subscription have them
	// (default 50), their disks included.
	CostDays int
	CostVMs  int
}

// SyntheticSizes are the VM sizes of a synthetic estate, with their real
// vCPU counts and memory.
var SyntheticSizes = []VMSize{
	{Name: "Standard_B2ms", VCPUs: 2, MemoryMiB: 8192}, {Name: "Standard_D2s_v5", VCPUs: 2, MemoryMiB: 8192},
	{Name: "Standard_D4s_v5", VCPUs: 4, MemoryMiB: 16384}, {Name: "Standard_D8s_v5", VCPUs: 8, MemoryMiB: 32768},
	{Name: "Standard_D16s_v5", VCPUs: 16, MemoryMiB: 65536}, {Name: "Standard_E2s_v5", VCPUs: 2, MemoryMiB: 16384},
	{Name: "Standard_E4s_v5", VCPUs: 4, MemoryMiB: 32768}, {Name: "Standard_F2s_v2", VCPUs: 2, MemoryMiB: 4096},
	{Name: "Standard_F4s_v2", VCPUs: 4, MemoryMiB: 8192},
}

// syntheticHourly are list prices (USD per hour, Linux, eastus) of the
// synthetic sizes, for their cost entries.
var syntheticHourly = map[string]float64{
	"Standard_B2ms": 0.0832, "Standard_D2s_v5": 0.096, "Standard_D4s_v5": 0.192, "Standard_D8s_v5": 0.384,
	"Standard_D16s_v5": 0.768, "Standard_E2s_v5": 0.126, "Standard_E4s_v5": 0.252, "Standard_F2s_v2": 0.0846,
	"Standard_F4s_v2": 0.169,
}

// Synthetic generates an estate of cfg.Subscriptions subscriptions of
// cfg.VMsPerSubscription VMs each, deterministic in its configuration:
// per VM an OS disk (Premium_LRS, 128 GiB), a data disk for one VM in
// four, a public IP for one in five; per subscription one unattached
// disk and one snapshot per ten VMs and one unassociated address per
// twenty. One VM in twenty is deallocated and one in twenty stopped but
// still allocated. Metrics are computed when asked: CPU around a level
// of the VM's own with a daily cycle, available memory for three VMs in
// four, network and disk traffic; a VM that is not running has no data
// points. Tag maps are shared between resources: do not change them in
// place.
func Synthetic(cfg SyntheticConfig) *Estate {
	if len(cfg.Regions) == 0 {
		cfg.Regions = []string{"eastus", "westeurope"}
	}
	if cfg.CostDays == 0 {
		cfg.CostDays = 7
	}
	if cfg.CostVMs == 0 {
		cfg.CostVMs = 50
	}
	e := NewEstate()
	for _, r := range cfg.Regions {
		e.Sizes[r] = append([]VMSize(nil), SyntheticSizes...)
	}
	tags := []map[string]string{
		{"env": "prod", "team": "web", "app": "checkout"},
		{"env": "dev", "team": "data", "app": "etl"},
		{"env": "test", "team": "platform", "app": "auth", "cloudtrim-optin": "true"},
		{"env": "prod", "team": "finance", "app": "ledger", "cloudtrim-protect": "true"},
	}
	today := cfg.Now.UTC().Truncate(24 * time.Hour)
	for j := range cfg.Subscriptions {
		subID := syntheticGUID(cfg.Seed, uint64(j))
		s := NewSubscription(subID, fmt.Sprintf("synthetic-%03d", j+1))
		base := "/subscriptions/" + subID + "/resourceGroups/"
		for i := range cfg.VMsPerSubscription {
			region := cfg.Regions[i%len(cfg.Regions)]
			rg := fmt.Sprintf("rg-app-%02d", i%10)
			name := fmt.Sprintf("vm-%05d", i)
			size := SyntheticSizes[(i*7+j)%len(SyntheticSizes)]
			created := cfg.Now.Add(-time.Duration(24*(30+i%400)) * time.Hour).Truncate(time.Second)
			vm := &VM{ID: base + rg + "/providers/Microsoft.Compute/virtualMachines/" + name, Location: region, Size: size.Name,
				Zones: []string{fmt.Sprint(1 + i%3)}, Tags: tags[i%len(tags)], PowerState: PowerRunning, TimeCreated: created}
			switch i % 20 {
			case 5:
				vm.PowerState = PowerDeallocated
			case 6:
				vm.PowerState = PowerStopped
			}
			os := &Disk{ID: base + rg + "/providers/Microsoft.Compute/disks/" + name + "-osdisk", Location: region, SKU: "Premium_LRS",
				Tier: "P10", SizeGiB: 128, IOPS: 500, MBps: 100, State: DiskAttached, ManagedBy: vm.ID, Zones: vm.Zones, Tags: vm.Tags, TimeCreated: created}
			if vm.PowerState == PowerDeallocated {
				os.State = DiskReserved
			}
			vm.OSDiskID = os.ID
			s.Disks[Key(os.ID)] = os
			if i%4 == 0 {
				d := &Disk{ID: base + rg + "/providers/Microsoft.Compute/disks/" + name + "-data", Location: region, SKU: "StandardSSD_LRS",
					Tier: "E15", SizeGiB: 256, IOPS: 500, MBps: 60, State: os.State, ManagedBy: vm.ID, Tags: vm.Tags, TimeCreated: created}
				vm.DataDiskIDs = []string{d.ID}
				s.Disks[Key(d.ID)] = d
			}
			if i%5 == 0 {
				ip := &PublicIP{ID: base + rg + "/providers/Microsoft.Network/publicIPAddresses/" + name + "-ip", Location: region,
					SKU: "Standard", Version: "IPv4", Allocation: "Static", IPConfigurationID: IPConfigurationOf(vm), Tags: vm.Tags}
				ip.Address = addressOf(ip.ID)
				s.PublicIPs[Key(ip.ID)] = ip
			}
			if i%10 == 0 {
				d := &Disk{ID: base + rg + "/providers/Microsoft.Compute/disks/orphan-" + name, Location: region, SKU: "Standard_LRS",
					Tier: "S10", SizeGiB: 128, State: DiskUnattached, Tags: vm.Tags, TimeCreated: created}
				s.Disks[Key(d.ID)] = d
				sn := &Snapshot{ID: base + rg + "/providers/Microsoft.Compute/snapshots/" + name + "-snap", Location: region, SKU: "Standard_LRS",
					SizeGiB: 128, SourceDiskID: os.ID, Incremental: true, TimeCreated: created.Add(24 * time.Hour), Tags: vm.Tags}
				s.Snapshots[Key(sn.ID)] = sn
			}
			if i%20 == 0 {
				ip := &PublicIP{ID: base + rg + "/providers/Microsoft.Network/publicIPAddresses/spare-" + name, Location: region,
					SKU: "Standard", Version: "IPv4", Allocation: "Static", Tags: vm.Tags}
				ip.Address = addressOf(ip.ID)
				s.PublicIPs[Key(ip.ID)] = ip
			}
			s.VMs[Key(vm.ID)] = vm
			if i < cfg.CostVMs {
				for d := cfg.CostDays; d >= 1; d-- {
					day := today.AddDate(0, 0, -d)
					if vm.PowerState == PowerRunning {
						s.Costs = append(s.Costs, CostEntry{Date: day, ResourceID: vm.ID, ResourceType: "microsoft.compute/virtualmachines",
							ResourceLocation: region, ConsumedService: "Microsoft.Compute", MeterCategory: "Virtual Machines",
							MeterSubcategory: size.Name[len("Standard_"):] + " Series", Meter: size.Name[len("Standard_"):],
							MeterID: syntheticGUID(cfg.Seed+1, uint64((i*7+j)%len(SyntheticSizes))), ChargeType: "Usage", PricingModel: "OnDemand",
							Currency: "USD", ActualCost: 24 * syntheticHourly[size.Name], AmortizedCost: 24 * syntheticHourly[size.Name], Quantity: 24})
					}
					s.Costs = append(s.Costs, CostEntry{Date: day, ResourceID: os.ID, ResourceType: "microsoft.compute/disks",
						ResourceLocation: region, ConsumedService: "Microsoft.Compute", MeterCategory: "Storage",
						MeterSubcategory: "Premium SSD Managed Disks", Meter: "P10 LRS Disk", MeterID: syntheticGUID(cfg.Seed+2, 10),
						ChargeType: "Usage", PricingModel: "OnDemand", Currency: "USD", ActualCost: 19.71 / 30, AmortizedCost: 19.71 / 30, Quantity: 1.0 / 30})
				}
			}
		}
		e.Subscriptions[Key(subID)] = s
	}
	e.Metrics = syntheticMetrics(e)
	return e
}

// syntheticGUID makes a GUID-shaped ID from two numbers.
func syntheticGUID(seed, n uint64) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", seed, n)
	a := h.Sum64()
	fmt.Fprintf(h, "#")
	b := h.Sum64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

// syntheticMetrics computes metrics from a hash of the VM's ID and the
// time: nothing is stored per point.
func syntheticMetrics(e *Estate) MetricSource {
	return func(vmID, metric string, start time.Time, interval time.Duration, n int) []float64 {
		e.Lock()
		vm := e.FindVM(vmID)
		var running bool
		var memBytes float64
		if vm != nil {
			running = vm.PowerState == PowerRunning
			if z, ok := e.FindSize(vm.Location, vm.Size); ok {
				memBytes = float64(z.MemoryMiB) * (1 << 20)
			}
		}
		e.Unlock()
		if vm == nil {
			return nil
		}
		h := fnv.New64a()
		h.Write([]byte(Key(vmID)))
		seed := h.Sum64()
		if metric == MetricAvailableMem && (seed%4 == 0 || memBytes == 0) {
			return nil // no memory reported
		}
		level := 2 + float64(seed%6800)/100 // 2-70 %
		memUsed := 0.3 + float64(seed>>16%60)/100
		out := make([]float64, n)
		for i := range out {
			if !running {
				out[i] = math.NaN()
				continue
			}
			t := start.Add(time.Duration(i) * interval)
			day := math.Sin(2 * math.Pi * float64(t.Hour()) / 24)
			cpu := math.Max(0.5, math.Min(100, level*(1+0.4*day)))
			switch metric {
			case MetricCPU:
				out[i] = cpu
			case MetricAvailableMem:
				out[i] = (1 - math.Min(0.98, memUsed*(1+0.05*day))) * memBytes
			case MetricNetIn, MetricNetOut:
				out[i] = cpu * 2e5 * interval.Minutes()
			default:
				out[i] = cpu * 5e5 * interval.Minutes()
			}
		}
		return out
	}
}
