package optimize

import (
	"fmt"
	"math"
	"slices"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize/placement"
)

// This file collects the movable workloads while the snapshots are read;
// placement_model.go turns them into a placement instance and
// placement_variants.go solves it into the plan's variants.

// placer gathers what placement needs from each snapshot: the running
// VMs that carry a movable marker, each priced from the bill with its
// attached disks, and their network traffic. A nil placer (placement
// disabled) does nothing.
type placer struct {
	pol      domain.PlacementPolicy
	currency string // the plan's
	// marked counts the VMs carrying a movable marker, placed or not.
	marked   int
	work     []*workload
	findings []domain.Finding
	// traffic holds the network totals of the snapshot being read, by
	// entry index.
	traffic map[int32]*traffic
}

// workload is a movable VM as the optimizer priced it.
type workload struct {
	res    domain.Resource
	marker string       // the tag that makes it movable, "team=data"
	size   domain.Price // its size in the catalog
	// before is what it costs a month today (the VM and its disks);
	// notes say how each part was priced.
	before domain.Money
	notes  []string
	// dataGiB is the size of its attached disks, copied when it moves.
	dataGiB int64
	// memNeedMiB is the memory a new size must have; memNote says why.
	memNeedMiB int64
	memNote    string
	usage      *vmUsage
	// outGiB and inGiB are its monthly traffic, zero when not measured.
	outGiB, inGiB float64
	trafficNote   string
}

// traffic sums the observed points of a VM's network series.
type traffic struct {
	out, in             float64 // bytes per second, summed over the points
	outPoints, inPoints int
	hours               float64 // observed hours of the longer series
}

// newPlacer returns the placer of one run, nil when the policy turns
// placement off.
func newPlacer(pol domain.Policy) *placer {
	if !pol.Placement.Enabled {
		return nil
	}
	return &placer{pol: pol.Placement, currency: pol.Currency, traffic: map[int32]*traffic{}}
}

// isTraffic reports whether the placer wants series of metric m.
func (pl *placer) isTraffic(m domain.Metric) bool {
	return pl != nil && (m == domain.MetricNetIn || m == domain.MetricNetOut)
}

// addTraffic folds a network series of entry i into its traffic, when
// the entry is a movable VM.
func (pl *placer) addTraffic(i int32, e *entry, s domain.Series) {
	if _, ok := pl.pol.MovableBy(e.res.Tags); !ok || s.Validate() != nil {
		return
	}
	t := pl.traffic[i]
	if t == nil {
		t = &traffic{}
		pl.traffic[i] = t
	}
	sum, n := 0.0, 0
	for _, v := range s.Values {
		if !domain.IsMissing(v) && v >= 0 {
			sum += float64(v)
			n++
		}
	}
	if s.Metric == domain.MetricNetOut {
		t.out, t.outPoints = t.out+sum, t.outPoints+n
	} else {
		t.in, t.inPoints = t.in+sum, t.inPoints+n
	}
	t.hours = max(t.hours, float64(n)*s.Step.Hours())
}

// gibPerMonth turns a mean rate in bytes per second into GiB a month.
func gibPerMonth(bytesPerSecond float64) float64 {
	return bytesPerSecond * domain.HoursPerMonth * 3600 / (1 << 30)
}

// collect records the movable VMs of the snapshot just read, after its
// actions were decided.
func (pl *placer) collect(p *planner, st *snapshotState) {
	if pl == nil {
		return
	}
	defer clear(pl.traffic)
	var disks map[string][]int32
	for i := range st.entries.len() {
		e := st.entries.at(i)
		if e.res.Kind != domain.KindVM {
			continue
		}
		marker, ok := pl.pol.MovableBy(e.res.Tags)
		if !ok {
			continue
		}
		pl.marked++
		if disks == nil {
			disks = attachedDisks(st)
		}
		pl.add(p, st, e, marker, disks[joinKey(e.res.Cloud, e.res.ID)], pl.traffic[int32(i)])
	}
}

// attachedDisks maps each VM's join key to its attached disks' entries.
func attachedDisks(st *snapshotState) map[string][]int32 {
	out := map[string][]int32{}
	for i := range st.entries.len() {
		e := st.entries.at(i)
		if e.res.Kind == domain.KindDisk && e.res.AttachedTo != "" {
			k := joinKey(e.res.Cloud, e.res.AttachedTo)
			out[k] = append(out[k], int32(i))
		}
	}
	return out
}

// add prices one movable VM and keeps it as a workload, or records why
// it cannot be placed.
func (pl *placer) add(p *planner, st *snapshotState, e *entry, marker string, disks []int32, tr *traffic) {
	r := &e.res
	leave := func(format string, a ...any) {
		pl.findings = append(pl.findings, domain.Finding{Target: r.Ref(), Reason: fmt.Sprintf(format, a...)})
	}
	// The same order as addResource: unreadable tags may hide a
	// protection tag.
	if r.Incomplete != "" {
		leave("tags or state could not be read: never moved")
		return
	}
	if tag, protected := p.pol.Protected(r.Tags); protected {
		leave("protected by tag %s: never moved", tag)
		return
	}
	if r.State != domain.StateRunning {
		leave("not running (state %s): only running VMs are placed", r.State)
		return
	}
	if p.idle(e.vm) {
		leave("idle: the plan stops it rather than moving it")
		return
	}
	size, ok := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindVM, r.SKU)
	if !ok || size.VCPU <= 0 || size.MemoryMiB <= 0 || size.Unit != domain.UnitHour {
		leave("unknown instance type: %q has no hourly price and shape in the %s %s catalog", r.SKU, r.Cloud, r.Region)
		return
	}
	if a := arch(size.Arch); a != "x86_64" && a != "arm64" {
		leave("unknown instance type: %q has architecture %q", r.SKU, size.Arch)
		return
	}
	vm, why, ok := p.monthlyCost(e, size, true)
	if !ok {
		leave("%s", why)
		return
	}
	w := &workload{res: *r, marker: marker, size: size, before: vm.cost, usage: e.vm}
	w.notes = append(w.notes, "VM "+vm.note)
	for _, k := range disks {
		d := st.entries.at(int(k))
		switch {
		case d.res.Incomplete != "":
			leave("attached disk %s could not be read: its size and cost are unknown", d.res.ID)
			return
		case d.excluded:
			leave("attached disk %s is protected: the VM cannot move without it", d.res.ID)
			return
		case d.res.SizeGiB <= 0:
			leave("attached disk %s has no size: the cost of copying it is unknown", d.res.ID)
			return
		}
		price, priced := p.req.Prices.Lookup(d.res.Cloud, d.res.Region, domain.KindDisk, d.res.SKU)
		m, why, ok := p.monthlyCost(d, price, priced)
		if !ok {
			leave("attached disk %s: %s", d.res.ID, why)
			return
		}
		w.before = w.before.Plus(m.cost)
		w.dataGiB += d.res.SizeGiB
		w.notes = append(w.notes, fmt.Sprintf("disk %s (%d GiB %s) %s", displayName(&d.res), d.res.SizeGiB, d.res.SKU, m.note))
	}
	if w.before.Micros <= 0 {
		leave("costs nothing today (%s a month): nothing to save by moving it", w.before)
		return
	}
	w.memNeedMiB, w.memNote = memoryNeed(&p.pol.Rightsize, size, e.vm)
	w.outGiB, w.inGiB, w.trafficNote = trafficOf(tr)
	pl.work = append(pl.work, w)
}

// memoryNeed is the memory a workload's new size must have: what the
// memory metric's percentile needs at the rightsizing target, never more
// than it has now (it runs with that today); without a usable memory
// metric, all it has now.
func memoryNeed(pol *domain.RightsizePolicy, size domain.Price, u *vmUsage) (int64, string) {
	cur := size.MemoryMiB
	if !u.memoryMeasured(pol.MinDataHours) {
		return cur, fmt.Sprintf("no usable memory metric: a new size keeps at least its %s", formatMiB(float64(cur)))
	}
	need := int64(math.Ceil(float64(cur) * u.memAtRightsize / pol.TargetMemoryPercent))
	need = min(cur, max(need, 1))
	return need, fmt.Sprintf("memory p%s is %s%% of %s: a new size needs %s at the %s%% target",
		formatNum(pol.MemoryPercentile), formatNum(u.memAtRightsize), formatMiB(float64(cur)), formatMiB(float64(need)), formatNum(pol.TargetMemoryPercent))
}

// trafficOf returns the monthly GiB out and in of t, and a note.
func trafficOf(t *traffic) (out, in float64, note string) {
	if t == nil || t.outPoints+t.inPoints == 0 {
		return 0, 0, "no network metrics in the snapshot: its traffic is taken as zero, so moving it away from its peers costs no egress here"
	}
	if t.outPoints > 0 {
		out = round2(gibPerMonth(t.out / float64(t.outPoints)))
	}
	if t.inPoints > 0 {
		in = round2(gibPerMonth(t.in / float64(t.inPoints)))
	}
	return out, in, fmt.Sprintf("network: %s GiB out and %s GiB in a month (mean over %s h), with peers taken to stay in its current region",
		formatNum(out), formatNum(in), formatNum(t.hours))
}

// validatePlacement checks the policy's placement allow-list against the
// price catalog: each region must be priced in the catalog for one of
// the allowed clouds, and be a region the placement model knows the
// place of. An error wraps domain.ErrInvalid and names the region.
func (r Request) validatePlacement() error {
	pp := r.Policy.Placement
	if !pp.Enabled {
		return nil
	}
	clouds := pp.Clouds
	if len(clouds) == 0 {
		clouds = domain.Clouds
	}
	known := placement.KnownRegions()
	for i, name := range pp.Regions {
		priced, placed := false, false
		for _, c := range clouds {
			priced = priced || len(r.Prices.VMSizes(c, name)) > 0
			placed = placed || slices.ContainsFunc(known, func(k placement.Region) bool { return k.Cloud == c && k.Name == name })
		}
		switch {
		case !priced:
			return fmt.Errorf("%w: optimize: plan %s: policy placement.regions[%d]: the price catalog has no region %q in %v",
				domain.ErrInvalid, r.PlanID, i, name, clouds)
		case !placed:
			return fmt.Errorf("%w: optimize: plan %s: policy placement.regions[%d]: the placement model does not know where region %q of %v is",
				domain.ErrInvalid, r.PlanID, i, name, clouds)
		}
	}
	return nil
}
