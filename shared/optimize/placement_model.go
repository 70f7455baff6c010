package optimize

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize/placement"
)

// placementModel is the placement instance built from the workloads,
// with what turns the solver's answer back into exact money.
//
// The model: each workload keeps its vCPU count (resizing is the
// rightsize action's job, so the variants do not count its savings
// again) and needs at least memoryNeed's memory. Its candidate places
// are the catalog's sizes with exactly that many vCPUs and enough memory,
// of the same architecture, GPUs and burstability, in a family the
// placement package scores for performance, in every allowed region the
// package knows. Such a size holds it whole, so the solver's "share of
// instances" is exactly one instance and its compute is the size's list
// price. Where it runs now, it costs what the bill says the VM and its
// disks cost today (placement.Workload.CurrentCost). A location is an
// instance type in a region, shared by every workload that runs there or
// may move there. Capacity is unlimited unless the policy sets a vCPU
// quota, which a location has on top of the vCPUs that run there now;
// without one, a size that costs more and scores no better than another
// in the same region can never be chosen and is left out.
type placementModel struct {
	in    *placement.Instance
	work  []*workload
	sites []site // by location index
	cur   []int  // current location of each workload
}

// site is what a location stands for.
type site struct {
	at     domain.PlacementSite
	region placement.Region
	// size is the catalog price of the instance type; storage the price
	// of a GiB-month of block storage in its region, zero in a region
	// nobody may move to.
	size    domain.Price
	storage domain.Money
	perf    float64
	scored  bool // perf comes from the package's table, not the reference 1
}

type regionKey struct {
	cloud domain.Cloud
	name  string
}

// targetRegion is a region workloads may move to, with its sizes.
type targetRegion struct {
	region  placement.Region
	storage domain.Money
	// byVCPU holds the sizes a workload may move to (hourly, priced in
	// the plan currency, of a scored family) by vCPU count, each list by
	// price, then SKU.
	byVCPU map[int][]scoredSize
}

// scoredSize is a catalog size with its per-vCPU performance score.
type scoredSize struct {
	price domain.Price
	perf  float64
}

// buildModel turns the workloads into a placement instance, recording a
// finding for every workload or region it leaves out.
func (pl *placer) buildModel(p *planner) *placementModel {
	// The instance must not depend on the order the snapshots listed
	// their resources in.
	slices.SortFunc(pl.work, func(a, b *workload) int { return compareResources(a.res.Ref(), b.res.Ref()) })
	known := map[regionKey]placement.Region{}
	for _, r := range placement.KnownRegions() {
		known[regionKey{r.Cloud, r.Name}] = r
	}
	targets := pl.targetRegions(p)
	storage := map[regionKey]domain.Money{}
	for _, t := range targets {
		storage[regionKey{t.region.Cloud, t.region.Name}] = t.storage
	}
	quota := math.Inf(1)
	if pl.pol.MaxVCPUsPerLocation > 0 {
		quota = pl.pol.MaxVCPUsPerLocation
	}
	pm := &placementModel{in: &placement.Instance{
		Egress:         placement.ListEgress(),
		AmortizeMonths: pl.pol.AmortizeMonths,
	}}
	usedRegion := map[regionKey]bool{}
	locIndex := map[string]int{}
	// location returns the ID of the location of size in region r,
	// adding it (and r) on first use.
	location := func(r placement.Region, size domain.Price, perf float64, scored bool) string {
		id := fmt.Sprintf("%s/%s/%s", r.Cloud, r.Name, size.SKU)
		if _, ok := locIndex[id]; ok {
			return id
		}
		if k := (regionKey{r.Cloud, r.Name}); !usedRegion[k] {
			usedRegion[k] = true
			pm.in.Regions = append(pm.in.Regions, r)
		}
		st := storage[regionKey{r.Cloud, r.Name}]
		locIndex[id] = len(pm.in.Locations)
		pm.in.Locations = append(pm.in.Locations, placement.Location{
			ID: id, Cloud: r.Cloud, Region: r.Name, InstanceType: size.SKU, Arch: arch(size.Arch),
			VCPU: float64(size.VCPU), MemoryGiB: float64(size.MemoryMiB) / 1024,
			HourlyPrice: size.Amount, StoragePrice: st, Perf: perf,
			Capacity: placement.Capacity{VCPU: quota, MemoryGiB: math.Inf(1)},
		})
		pm.sites = append(pm.sites, site{at: domain.PlacementSite{Cloud: r.Cloud, Region: r.Name, SKU: size.SKU},
			region: r, size: size, storage: st, perf: perf, scored: scored})
		return id
	}
	for _, w := range pl.work {
		r := &w.res
		home, ok := known[regionKey{r.Cloud, r.Region}]
		if !ok {
			pl.findings = append(pl.findings, domain.Finding{Target: r.Ref(),
				Reason: fmt.Sprintf("region %s %s is not one the placement model knows the place of: it cannot be placed", r.Cloud, r.Region)})
			continue
		}
		perf, scored := placement.FamilyPerf(r.Cloud, w.size.Family)
		if !scored {
			perf = 1
		}
		curID := location(home, w.size, perf, scored)
		allowed := []string{curID}
		for _, t := range targets {
			for _, c := range pl.candidates(t, w, quota) {
				allowed = append(allowed, location(t.region, c.price, c.perf, true))
			}
		}
		pm.in.Workloads = append(pm.in.Workloads, pl.solverWorkload(w, home, curID, allowed))
		pm.work = append(pm.work, w)
		pm.cur = append(pm.cur, locIndex[curID])
	}
	// A quota is on top of what runs at a location now, so that staying
	// is always possible.
	for i, w := range pm.work {
		pm.in.Locations[pm.cur[i]].Capacity.VCPU += float64(w.size.VCPU)
	}
	pm.in.MaxMoves = int(pl.pol.MaxMovePercent / 100 * float64(len(pm.work)))
	return pm
}

// solverWorkload is w as the solver sees it, with the policy's rules.
func (pl *placer) solverWorkload(w *workload, home placement.Region, curID string, allowed []string) placement.Workload {
	sw := placement.Workload{
		ID: w.res.Ref().String(), Current: curID, CurrentCost: &w.before,
		VCPU: float64(w.size.VCPU), MemoryGiB: float64(w.memNeedMiB) / 1024, StorageGiB: float64(w.dataGiB),
		Policy: placement.Policy{Clouds: pl.pol.Clouds, Regions: pl.pol.Regions, Locations: allowed},
	}
	if w.outGiB > 0 || w.inGiB > 0 {
		sw.Flows = []placement.Flow{{Cloud: home.Cloud, Region: home.Name, OutGiB: w.outGiB, InGiB: w.inGiB}}
	}
	if pl.pol.SameContinent {
		sw.Policy.Continents = []string{home.Continent}
	}
	if pl.pol.MaxLatencyMS > 0 {
		sw.Policy.MaxLatencyMS = pl.pol.MaxLatencyMS
		sw.Policy.Users = &placement.GeoPoint{Lat: home.Lat, Lon: home.Lon}
	}
	return sw
}

// targetRegions lists the regions workloads may move to: those the
// placement package knows, on the allow-list, priced in the catalog. A
// region with VM prices but no block storage price in the plan currency
// is left out with a finding.
func (pl *placer) targetRegions(p *planner) []targetRegion {
	var out []targetRegion
	for _, r := range placement.KnownRegions() {
		if len(pl.pol.Clouds) > 0 && !slices.Contains(pl.pol.Clouds, r.Cloud) {
			continue
		}
		if len(pl.pol.Regions) > 0 && !slices.Contains(pl.pol.Regions, r.Name) {
			continue
		}
		sizes := p.vmSizes(r.Cloud, r.Name)
		if len(sizes) == 0 {
			continue
		}
		sku := placement.StorageSKU(r.Cloud)
		disk, ok := p.req.Prices.Lookup(r.Cloud, r.Name, domain.KindDisk, sku)
		if !ok || disk.Unit != domain.UnitGiBMonth || disk.Amount.Currency != p.pol.Currency {
			pl.findings = append(pl.findings, domain.Finding{Target: domain.ResourceRef{Cloud: r.Cloud, Region: r.Name},
				Reason: fmt.Sprintf("missing price: no %s price per GiB-month in %s for block storage %s: the region is left out of placement", p.pol.Currency, r.Name, sku)})
			continue
		}
		t := targetRegion{region: r, storage: disk.Amount, byVCPU: map[int][]scoredSize{}}
		for _, c := range sizes { // by price, then SKU
			perf, scored := placement.FamilyPerf(c.Cloud, c.Family)
			if scored && (c.Kind == "" || c.Kind == domain.KindVM) && c.Unit == domain.UnitHour &&
				c.Amount.Currency == pl.currency && c.Amount.Micros > 0 && c.VCPU > 0 {
				t.byVCPU[c.VCPU] = append(t.byVCPU[c.VCPU], scoredSize{c, perf})
			}
		}
		out = append(out, t)
	}
	return out
}

// candidates returns the sizes of t that can take w (see
// placementModel), cheapest first. Without a quota, only the sizes no
// other size beats on both price and performance are kept.
func (pl *placer) candidates(t targetRegion, w *workload, quota float64) []scoredSize {
	cur := w.size
	var out []scoredSize
	best := math.Inf(-1)
	for _, s := range t.byVCPU[cur.VCPU] { // by price, then SKU
		c := &s.price
		ok := c.MemoryMiB >= w.memNeedMiB && arch(c.Arch) == arch(cur.Arch) && c.GPUs == cur.GPUs && (!c.Burstable || cur.Burstable) &&
			!(t.region.Cloud == w.res.Cloud && t.region.Name == w.res.Region && strings.EqualFold(c.SKU, w.res.SKU))
		if !ok {
			continue
		}
		if math.IsInf(quota, 1) {
			if s.perf <= best {
				continue // a cheaper (or as cheap) size scores at least as well
			}
			best = s.perf
		}
		out = append(out, s)
	}
	return out
}
