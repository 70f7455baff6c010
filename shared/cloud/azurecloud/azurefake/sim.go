package azurefake

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// FromSim returns an estate holding the Azure part of a simulated
// estate as it is now: its subscriptions, VMs (a running VM running, a
// stopped one deallocated), managed disks (attached to their VM,
// reserved when the VM is deallocated), public IPs (associated through
// the VM's network interface), snapshots, the cost rows of its last
// simcloud.CostDays days as Cost Management entries, and the VM sizes
// prices knows in its regions. Metrics are read from the simulated
// estate when asked: Percentage CPU, and Available Memory Bytes for VMs
// with a memory agent (the used percentage turned into bytes free of the
// size's memory); the simulated estate has no network or disk traffic.
// Its history is hourly, so only whole-hour intervals have data.
//
// Resources the simulated estate marks incomplete (tags it could not
// read) are served without tags: Azure returns tags inline with every
// resource.
func FromSim(ctx context.Context, est *simcloud.Estate, prices simcloud.Prices) (*Estate, error) {
	cloud := est.Cloud(domain.Azure)
	if cloud == nil {
		return nil, fmt.Errorf("azurefake: the simulated estate has no Azure part")
	}
	e := NewEstate()
	names := map[string]string{}
	subs := est.Accounts(domain.Azure)
	now := est.Now()
	window := collect.Window{Start: now.AddDate(0, 0, -simcloud.CostDays-1), End: now}
	costs := map[string][]CostEntry{}
	for _, sub := range subs {
		err := cloud.CostRows(ctx, sub, window, func(rows []domain.CostRow) error {
			for _, r := range rows {
				if names[sub] == "" {
					names[sub] = r.SubAccountName
				}
				costs[sub] = append(costs[sub], costEntryOf(r))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("azurefake: cost rows of simulated subscription %s: %w", sub, err)
		}
	}
	for i, sub := range subs {
		name := names[sub]
		if name == "" {
			name = fmt.Sprintf("subscription-%d", i+1)
		}
		s := NewSubscription(sub, name)
		s.Costs = costs[sub]
		e.Subscriptions[Key(sub)] = s
	}
	regions := map[string]bool{}
	var all []domain.Resource
	for _, r := range est.Resources() {
		if r.Cloud == domain.Azure {
			all = append(all, r)
			regions[r.Region] = true
		}
	}
	// VMs first: disks and addresses refer to them.
	for _, r := range all {
		if r.Kind != domain.KindVM {
			continue
		}
		s := e.Sub(r.ID)
		if s == nil {
			continue
		}
		vm := &VM{ID: r.ID, Location: r.Region, Size: r.SKU, Tags: r.Tags, TimeCreated: r.CreatedAt, PowerState: PowerRunning}
		switch r.State {
		case domain.StateStopped:
			vm.PowerState = PowerDeallocated
		case domain.StateRunning, domain.StateScheduled:
		default:
			vm.PowerState = r.State
		}
		s.VMs[Key(vm.ID)] = vm
	}
	for _, r := range all {
		s := e.Sub(r.ID)
		if s == nil {
			continue
		}
		switch r.Kind {
		case domain.KindDisk:
			d := &Disk{ID: r.ID, Location: r.Region, SKU: r.SKU, SizeGiB: int32(r.SizeGiB), Tier: DiskTier(r.SKU, int32(r.SizeGiB)),
				State: DiskUnattached, Tags: r.Tags, TimeCreated: r.CreatedAt}
			if vm := s.VMs[Key(r.AttachedTo)]; vm != nil {
				d.ManagedBy, d.State = vm.ID, DiskAttached
				if vm.PowerState == PowerDeallocated {
					d.State = DiskReserved
				}
				vm.DataDiskIDs = append(vm.DataDiskIDs, d.ID)
			}
			s.Disks[Key(d.ID)] = d
		case domain.KindIP:
			ip := &PublicIP{ID: r.ID, Location: r.Region, SKU: "Standard", Version: "IPv4", Allocation: "Static",
				Address: addressOf(r.ID), Tags: r.Tags}
			if vm := s.VMs[Key(r.AttachedTo)]; vm != nil {
				ip.IPConfigurationID = IPConfigurationOf(vm)
			}
			s.PublicIPs[Key(ip.ID)] = ip
		case domain.KindSnapshot:
			s.Snapshots[Key(r.ID)] = &Snapshot{ID: r.ID, Location: r.Region, SKU: "Standard_LRS", SizeGiB: int32(r.SizeGiB),
				SourceDiskID: r.AttachedTo, Incremental: true, TimeCreated: r.CreatedAt, Tags: r.Tags}
		}
	}
	for region := range regions {
		for _, p := range prices.VMSizes(domain.Azure, region) {
			if p.VCPU > 0 && p.MemoryMiB > 0 {
				z := VMSize{Name: p.SKU, VCPUs: int32(p.VCPU), MemoryMiB: int32(p.MemoryMiB), GPUs: int32(p.GPUs), Arch: "x64"}
				if p.Arch == "arm64" {
					z.Arch = "Arm64"
				}
				e.Sizes[region] = append(e.Sizes[region], z)
			}
		}
	}
	e.Metrics = simMetrics(e, cloud)
	return e, nil
}

// simMetrics reads metrics from the simulated estate, memoizing the
// last VM's series: a query asks for every metric of a VM in turn.
func simMetrics(e *Estate, cloud *simcloud.Cloud) MetricSource {
	var mu sync.Mutex
	type memoKey struct {
		id       string
		start    time.Time
		interval time.Duration
		n        int
	}
	var last memoKey
	var cpu, mem []float64
	return func(vmID, metric string, start time.Time, interval time.Duration, n int) []float64 {
		if metric != MetricCPU && metric != MetricAvailableMem {
			return nil
		}
		if interval < time.Hour || interval%time.Hour != 0 {
			return nil
		}
		e.Lock()
		vm := e.FindVM(vmID)
		var memBytes float64
		var scope collect.Scope
		if vm != nil {
			scope = collect.Scope{Account: SubscriptionOf(vm.ID), Region: vm.Location}
			if z, ok := e.FindSize(vm.Location, vm.Size); ok {
				memBytes = float64(z.MemoryMiB) * (1 << 20)
			}
		}
		e.Unlock()
		if vm == nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		k := memoKey{Key(vmID), start, interval, n}
		if k != last {
			cpu, mem = nil, nil
			w := collect.Window{Start: start, End: start.Add(time.Duration(n) * interval)}
			err := cloud.Series(context.Background(), scope, []string{vm.ID}, w, interval, func(s domain.Series) error {
				vals := make([]float64, n)
				for i := range vals {
					vals[i] = math.NaN()
				}
				off := int(s.Start.Sub(start) / interval)
				for i, v := range s.Values {
					if j := off + i; j >= 0 && j < n && !domain.IsMissing(v) {
						vals[j] = float64(v)
					}
				}
				switch s.Metric {
				case domain.MetricCPU:
					cpu = vals
				case domain.MetricMemory:
					mem = vals
				}
				return nil
			})
			if err != nil {
				cpu, mem = nil, nil
			}
			last = k
		}
		if metric == MetricCPU {
			return cpu
		}
		if mem == nil || memBytes == 0 {
			return nil
		}
		out := make([]float64, len(mem))
		for i, v := range mem {
			out[i] = (1 - v/100) * memBytes
		}
		return out
	}
}

// costEntryOf turns a simulated FOCUS row into a Cost Management entry.
func costEntryOf(r domain.CostRow) CostEntry {
	consumed, category := "Microsoft.Compute", r.ServiceName
	if strings.Contains(strings.ToLower(r.ResourceID), "/microsoft.network/") {
		consumed = "Microsoft.Network"
	}
	return CostEntry{
		Date: r.ChargePeriodStart, ResourceID: r.ResourceID, ResourceType: armTypeOf(r.ResourceID),
		ResourceLocation: r.RegionID, ConsumedService: consumed, MeterCategory: category, Meter: r.SkuID,
		MeterID: r.SkuPriceID, ChargeType: "Usage", PricingModel: "OnDemand", Currency: r.BillingCurrency,
		ActualCost: float64(r.BilledCost.Micros) / 1e6, AmortizedCost: float64(r.EffectiveCost.Micros) / 1e6,
		Quantity: r.PricingQuantity,
	}
}

// armTypeOf returns the resource type of an ARM ID, lower-cased
// ("microsoft.compute/virtualmachines").
func armTypeOf(id string) string {
	parts := strings.Split(id, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.EqualFold(parts[i], "providers") && i+2 < len(parts) {
			typ := parts[i+1]
			for j := i + 2; j < len(parts); j += 2 {
				typ += "/" + parts[j]
			}
			return strings.ToLower(typ)
		}
	}
	return ""
}

// addressOf derives a stable public address from an ID.
func addressOf(id string) string {
	h := fnv.New32a()
	h.Write([]byte(Key(id)))
	v := h.Sum32()
	return fmt.Sprintf("20.%d.%d.%d", byte(v>>16), byte(v>>8), byte(v)|1)
}

// diskTiers are the performance tiers of managed disks by size: a disk
// is billed at the smallest tier that holds it.
var diskTiers = []struct {
	gib  int32
	name string
}{{4, "1"}, {8, "2"}, {16, "3"}, {32, "4"}, {64, "6"}, {128, "10"}, {256, "15"}, {512, "20"},
	{1024, "30"}, {2048, "40"}, {4096, "50"}, {8192, "60"}, {16384, "70"}, {32767, "80"}}

// DiskTier returns the billing tier of a managed disk of a SKU and size:
// "P10" for a 100 GiB Premium_LRS disk, "E30" for 1 TiB of
// StandardSSD_LRS, "S4" for 32 GiB of Standard_LRS; "" for a SKU without
// tiers.
func DiskTier(sku string, sizeGiB int32) string {
	var prefix string
	switch {
	case strings.HasPrefix(sku, "Premium_") && !strings.HasPrefix(sku, "PremiumV2"):
		prefix = "P"
	case strings.HasPrefix(sku, "StandardSSD_"):
		prefix = "E"
	case strings.HasPrefix(sku, "Standard_"):
		prefix = "S"
	default:
		return ""
	}
	for _, t := range diskTiers {
		if sizeGiB <= t.gib {
			if prefix == "S" && t.gib < 32 {
				return "S4" // Standard HDD starts at S4
			}
			return prefix + t.name
		}
	}
	return prefix + "80"
}
