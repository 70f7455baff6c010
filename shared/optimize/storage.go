package optimize

import (
	"fmt"
	"math"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// A retype moves a disk to a cheaper type that still serves what its VM
// was seen to read and write. The limits below are the target types'
// published baselines; the observed figure is the VM's p99 disk
// throughput (read plus write, over all its disks: an upper bound for
// any one disk).
type retypeRule struct {
	cloud    domain.Cloud
	from, to string
	// throughputMBps is the target type's baseline throughput in MB/s.
	throughputMBps float64
	// maxSizeGiB is the largest disk the target serves at the source's
	// baseline IOPS without provisioned extras; 0 means any size.
	maxSizeGiB int64
	// safeSizeGiB is the largest disk for which the target's baseline
	// equals or exceeds the source's in both IOPS and throughput, so no
	// measurement is needed; 0 means a measurement is always needed.
	safeSizeGiB int64
	// inPlace says the cloud changes the type of a disk in place; when
	// false the saving is reported as a finding (a new disk must be made
	// from a snapshot).
	inPlace bool
	// whileStopped says the cloud changes the type only while the disk
	// is unattached or its VM deallocated.
	whileStopped bool
	limits       string // the target's baseline, for the evidence
}

var retypeRules = []retypeRule{
	// gp2 gives 3 IOPS per GiB (3,000 at 1,000 GiB) and up to 128 MiB/s
	// at 170 GiB or less; gp3 gives 3,000 IOPS and 125 MiB/s at any size.
	{cloud: domain.AWS, from: "gp2", to: "gp3", throughputMBps: 131, maxSizeGiB: 1000, safeSizeGiB: 170, inPlace: true,
		limits: "gp3 baseline: 3,000 IOPS and 125 MiB/s at any size"},
	// Standard SSD (E1 to E50) gives 500 IOPS and 60 MB/s; Premium SSD
	// gives 120 IOPS (P1) to 7,500 (P50).
	{cloud: domain.Azure, from: "Premium_LRS", to: "StandardSSD_LRS", throughputMBps: 60, maxSizeGiB: 4096, inPlace: true, whileStopped: true,
		limits: "Standard SSD baseline up to 4 TiB: 500 IOPS and 60 MB/s"},
	{cloud: domain.Azure, from: "Premium_ZRS", to: "StandardSSD_ZRS", throughputMBps: 60, maxSizeGiB: 4096, inPlace: true, whileStopped: true,
		limits: "Standard SSD baseline up to 4 TiB: 500 IOPS and 60 MB/s"},
	// pd-balanced gives 0.28 MB/s and 6 IOPS per GiB (3,000 IOPS and
	// 140 MB/s at least), pd-ssd 0.48 MB/s and 30 IOPS per GiB.
	{cloud: domain.GCP, from: "pd-ssd", to: "pd-balanced", throughputMBps: 140,
		limits: "pd-balanced baseline: 3,000 IOPS and 140 MB/s at least, 0.28 MB/s per GiB"},
}

func findRetype(cloud domain.Cloud, sku string) (retypeRule, bool) {
	for _, r := range retypeRules {
		if r.cloud == cloud && r.from == sku {
			return r, true
		}
	}
	return retypeRule{}, false
}

// decideRetype proposes moving a disk to a cheaper type when the load
// its VM was seen to put on its disks fits the cheaper type's baseline.
func (p *planner) decideRetype(st *snapshotState, e *entry) {
	r := &e.res
	if r.State == domain.StateDeleted {
		return
	}
	rule, ok := findRetype(r.Cloud, r.SKU)
	if !ok {
		return
	}
	kind := domain.ActionRetypeDisk
	if r.SizeGiB <= 0 {
		p.skip(r.Ref(), kind, "disk size unknown: the cheaper type's limits cannot be checked")
		return
	}
	if rule.maxSizeGiB > 0 && r.SizeGiB > rule.maxSizeGiB {
		p.skip(r.Ref(), kind, fmt.Sprintf("needs provisioned performance: %s of %d GiB would need it on %s to match (%s)", r.SKU, r.SizeGiB, rule.to, rule.limits))
		return
	}
	var (
		vm      *entry
		notes   []string
		maxMBps = rule.throughputMBps
	)
	if rule.cloud == domain.GCP {
		maxMBps = math.Max(maxMBps, 0.28*float64(r.SizeGiB))
	}
	if r.AttachedTo != "" {
		if i, ok := st.index[joinKey(r.Cloud, r.AttachedTo)]; ok {
			vm = st.entries.at(int(i))
		}
	}
	headroom := p.pol.Storage.MaxThroughputPercent / 100
	switch u := usageOf(vm); {
	case r.AttachedTo == "":
		notes = append(notes, "attached to nothing: no load to serve")
	case u != nil && u.hasDisk && u.disk.Hours >= p.pol.Rightsize.MinDataHours:
		mbps := u.diskAtP99 / 1e6
		if mbps > maxMBps*headroom {
			p.skip(r.Ref(), kind, fmt.Sprintf("disk throughput too high: VM %s reads and writes %s MB/s at p99, above %s%% of %s's %s MB/s", r.AttachedTo,
				formatNum(mbps), formatNum(p.pol.Storage.MaxThroughputPercent), rule.to, formatNum(maxMBps)))
			return
		}
		notes = append(notes, fmt.Sprintf("VM %s reads and writes %s MB/s at p99 over %s h (all its disks together), within %s%% of %s's %s MB/s",
			r.AttachedTo, formatNum(mbps), formatNum(u.disk.Hours), formatNum(p.pol.Storage.MaxThroughputPercent), rule.to, formatNum(maxMBps)))
	case rule.safeSizeGiB > 0 && r.SizeGiB <= rule.safeSizeGiB:
		notes = append(notes, fmt.Sprintf("no disk throughput measured; at %d GiB %s's baseline equals or exceeds %s's in IOPS and throughput", r.SizeGiB, rule.to, r.SKU))
	default:
		p.skip(r.Ref(), kind, fmt.Sprintf("no disk throughput measured: VM %s has no disk series, and %s is proposed only where the load is known to fit (%s)", r.AttachedTo, rule.to, rule.limits))
		return
	}
	notes = append(notes, rule.limits)

	from, okFrom := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindDisk, r.SKU)
	to, okTo := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindDisk, rule.to)
	if !okTo || to.Unit != domain.UnitGiBMonth || to.Amount.Currency != p.pol.Currency || to.Amount.Micros <= 0 {
		p.skip(r.Ref(), kind, fmt.Sprintf("no price: %s has no per-GiB price in the %s %s catalog", rule.to, r.Cloud, r.Region))
		return
	}
	if !okFrom || from.Unit != domain.UnitGiBMonth || from.Amount.Currency != to.Amount.Currency || from.Amount.Micros <= to.Amount.Micros {
		p.skip(r.Ref(), kind, fmt.Sprintf("no price: %s has no per-GiB price above %s's in the %s %s catalog", r.SKU, rule.to, r.Cloud, r.Region))
		return
	}
	m, why, ok := p.monthlyCost(e, from, true)
	if !ok {
		p.skip(r.Ref(), kind, why)
		return
	}
	savings, ok := mulDiv(m.cost.Micros, from.Amount.Micros-to.Amount.Micros, from.Amount.Micros)
	if !ok || savings <= 0 {
		return
	}
	notes = append(notes, fmt.Sprintf("%s costs %s per GiB-month against %s's %s", rule.to, formatUnitPrice(to.Amount), r.SKU, formatUnitPrice(from.Amount)), m.note)
	save := domain.Money{Micros: savings, Currency: m.cost.Currency}
	switch {
	case !rule.inPlace:
		p.skip(r.Ref(), kind, fmt.Sprintf("not in place: %s to %s would save %s a month, but %s cannot change a disk's type in place; create a %s disk from a snapshot and swap it",
			r.SKU, rule.to, save, r.Cloud, rule.to))
		return
	case rule.whileStopped && vm != nil && vm.res.State == domain.StateRunning:
		p.skip(r.Ref(), kind, fmt.Sprintf("only while deallocated: %s to %s would save %s a month, but %s changes a disk's type only while its VM is deallocated, and VM %s is running",
			r.SKU, rule.to, save, r.Cloud, r.AttachedTo))
		return
	}
	a := p.newAction(kind, r, m)
	a.Before = r.Observed()
	a.After = a.Before
	a.After.SKU = rule.to
	a.MonthlySavings = save
	a.Risk = domain.RiskLow
	if r.AttachedTo != "" && (vm == nil || !usageOf(vm).measuredDisk(p.pol.Rightsize.MinDataHours)) {
		a.Risk = domain.RiskMedium
	}
	a.Confidence = confidenceObserved
	if r.AttachedTo != "" {
		a.Confidence = 0.9
		if u := usageOf(vm); u != nil {
			a.Evidence = usageEvidence(u)
			a.Confidence = round2(math.Max(0.5, u.coverage()))
		}
	}
	a.Undo = "change the disk's type back to " + r.SKU + " (the cloud may require a few hours between changes)"
	a.Evidence.Notes = append(a.Evidence.Notes, notes...)
	p.add(a, fmt.Sprintf("Change disk %s (%d GiB) from %s to %s", displayName(r), r.SizeGiB, r.SKU, rule.to))
}

// usageOf returns a VM entry's usage, nil for no entry.
func usageOf(e *entry) *vmUsage {
	if e == nil {
		return nil
	}
	return e.vm
}
