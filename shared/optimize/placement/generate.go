package placement

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Catalog is the part of a price catalog Generate reads; the embedded
// catalog of package shared/pricing (*pricing.Catalog) implements it.
type Catalog interface {
	Lookup(cloud domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool)
	VMSizes(cloud domain.Cloud, region string) []domain.Price
}

// GenerateOptions shape the instances Generate makes. Zero fields take
// the defaults named beside them.
type GenerateOptions struct {
	// Catalog gives the VM and disk prices; it is required.
	Catalog Catalog
	// MoveFraction sets MaxMoves to this share of the workloads that have
	// a current location (0.2).
	MoveFraction float64
	// SlackMin and SlackMax bound the total capacity as a multiple of the
	// total vCPU demand, drawn uniformly between them (1.05 and 1.3).
	SlackMin, SlackMax float64
	// NewFraction is the share of new workloads, with no current
	// location (0.02).
	NewFraction float64
	// ForcedFraction is the share of workloads whose policy no longer
	// allows their current location, so that they must move (0.005).
	ForcedFraction float64
	// AmortizeMonths is Instance.AmortizeMonths (12).
	AmortizeMonths float64
}

// Generate makes a placement instance of n workloads over m locations
// from real list prices, deterministically from seed. It is meant to be
// hard the way real estates are:
//
//   - locations are VM types of the catalog in 11 regions of AWS, Azure
//     and Google Cloud, older generations among them, each with a
//     quota;
//   - vCPU demand, data volumes and traffic are log-normal (a few
//     workloads are very large), memory per vCPU follows compute,
//     general and memory-optimised profiles;
//   - most traffic goes to data anchored in the workload's current
//     region (data gravity), the rest to anchors spread over the clouds;
//   - workloads sit mostly on older, pricier types;
//   - policies exclude clouds, keep European data in Europe, pin
//     architectures and bound latency to users, and a few no longer
//     allow the current location;
//   - total capacity is 1.05–1.3 times the total demand and what is left
//     beyond the current placement is given mostly to the locations many
//     workloads would like, so that the cheap ones bind;
//   - MaxMoves is 20% of the existing workloads.
//
// It returns an error wrapping domain.ErrInvalid when an option is out
// of range, m exceeds the locations the catalog offers, or the catalog
// lacks a price it needs.
func Generate(seed uint64, n, m int, opts GenerateOptions) (*Instance, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: generate placement instance: %s", domain.ErrInvalid, fmt.Sprintf(format, a...))
	}
	if opts.Catalog == nil {
		return nil, invalid("no catalog")
	}
	if n < 1 || m < 1 {
		return nil, invalid("n=%d workloads and m=%d locations must both be at least 1", n, m)
	}
	def := func(x *float64, v float64) {
		if *x == 0 {
			*x = v
		}
	}
	def(&opts.MoveFraction, 0.2)
	def(&opts.SlackMin, 1.05)
	def(&opts.SlackMax, 1.3)
	def(&opts.NewFraction, 0.02)
	def(&opts.ForcedFraction, 0.005)
	def(&opts.AmortizeMonths, 12)
	for _, f := range []struct {
		name     string
		v, lo, h float64
	}{
		{"move fraction", opts.MoveFraction, 0, 1}, {"new fraction", opts.NewFraction, 0, 1},
		{"forced fraction", opts.ForcedFraction, 0, 1}, {"slack min", opts.SlackMin, 1, 10}, {"slack max", opts.SlackMax, opts.SlackMin, 10},
		{"amortize months", opts.AmortizeMonths, 1e-9, 1200},
	} {
		if !(f.v >= f.lo && f.v <= f.h) {
			return nil, invalid("%s %v is outside [%v, %v]", f.name, f.v, f.lo, f.h)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x67656e6572617465))
	in := &Instance{Egress: maps.Clone(egressTable), AmortizeMonths: opts.AmortizeMonths}
	for _, r := range regionTable {
		in.Regions = append(in.Regions, Region{Cloud: r.cloud, Name: r.name, Continent: r.continent, Lat: r.lat, Lon: r.lon})
	}

	// Locations: every catalog type of typeTable in every region of its
	// cloud, shuffled within each cloud and dealt round-robin across the
	// clouds so that every cloud is represented.
	type cand struct {
		loc    Location
		legacy bool
	}
	pools := map[domain.Cloud][]cand{}
	for _, r := range regionTable {
		disk, ok := opts.Catalog.Lookup(r.cloud, r.name, domain.KindDisk, diskTable[r.cloud])
		if !ok {
			return nil, invalid("the catalog has no %s disk price in %s %s", diskTable[r.cloud], r.cloud, r.name)
		}
		sizes := opts.Catalog.VMSizes(r.cloud, r.name)
		for _, t := range typeTable {
			if t.cloud != r.cloud {
				continue
			}
			k := slices.IndexFunc(sizes, func(p domain.Price) bool { return strings.EqualFold(p.SKU, t.sku) })
			if k < 0 {
				continue
			}
			vm := sizes[k]
			if vm.Unit != domain.UnitHour || vm.VCPU <= 0 || vm.MemoryMiB <= 0 || vm.Amount.Micros <= 0 {
				continue
			}
			arch := vm.Arch
			if arch != ArchARM {
				arch = ArchX86
			}
			pools[r.cloud] = append(pools[r.cloud], cand{Location{
				ID:    fmt.Sprintf("%s/%s/%s", r.cloud, r.name, vm.SKU),
				Cloud: r.cloud, Region: r.name, InstanceType: vm.SKU, Arch: arch,
				VCPU: float64(vm.VCPU), MemoryGiB: float64(vm.MemoryMiB) / 1024,
				HourlyPrice: vm.Amount, StoragePrice: disk.Amount, Perf: t.perf,
			}, t.legacy})
		}
	}
	total := 0
	for _, c := range domain.Clouds {
		p := pools[c]
		rng.Shuffle(len(p), func(a, b int) { p[a], p[b] = p[b], p[a] })
		total += len(p)
	}
	if m > total {
		return nil, invalid("m=%d locations asked, the catalog offers %d", m, total)
	}
	var cands []cand
	for k := 0; len(cands) < m; k++ {
		for _, c := range domain.Clouds {
			if k < len(pools[c]) && len(cands) < m {
				cands = append(cands, pools[c][k])
			}
		}
	}
	for _, c := range cands {
		in.Locations = append(in.Locations, c.loc)
	}
	regionOf := func(cloud domain.Cloud, name string) regionInfo {
		for _, r := range regionTable {
			if r.cloud == cloud && r.name == name {
				return r
			}
		}
		return regionInfo{}
	}
	// Current locations favour legacy types three to one.
	curWeight := make([]float64, m)
	for j, c := range cands {
		curWeight[j] = 1
		if c.legacy {
			curWeight[j] = 3
		}
	}
	dataWeight := make([]float64, len(regionTable))
	for r, g := range regionTable {
		dataWeight[r] = g.dataShare
	}
	lognormal := func(median, sigma, lo, hi float64) float64 {
		return math.Min(hi, math.Max(lo, median*math.Exp(sigma*rng.NormFloat64())))
	}
	round := func(x, step float64) float64 { return math.Max(step, math.Round(x/step)*step) }
	archOf := func(j int) string { return in.Locations[j].Arch }

	in.Workloads = make([]Workload, n)
	existing := 0
	for i := range in.Workloads {
		w := &in.Workloads[i]
		w.ID = fmt.Sprintf("w%06d", i)
		w.VCPU = round(lognormal(4, 0.9, 0.5, 96), 0.5)
		perVCPU := 4.0
		switch x := rng.Float64(); {
		case x < 0.25:
			perVCPU = 2
		case x > 0.8:
			perVCPU = 8
		}
		w.MemoryGiB = round(w.VCPU*perVCPU*(0.8+0.4*rng.Float64()), 0.5)
		w.StorageGiB = math.Round(lognormal(100, 1.4, 10, 50_000))
		cur := -1
		if rng.Float64() >= opts.NewFraction {
			cur = pick(rng, curWeight)
			w.Current = in.Locations[cur].ID
			existing++
		}
		// Traffic: one to three anchors, the first in the current region
		// (data gravity) when there is one.
		for f := range 1 + rng.IntN(3) {
			var r regionInfo
			if f == 0 && cur >= 0 && rng.Float64() < 0.8 {
				r = regionOf(in.Locations[cur].Cloud, in.Locations[cur].Region)
			} else {
				r = regionTable[pick(rng, dataWeight)]
			}
			out := lognormal(150, 1.5, 0, 100_000)
			w.Flows = append(w.Flows, Flow{Cloud: r.cloud, Region: r.name,
				OutGiB: math.Round(out), InGiB: math.Round(out * (0.3 + 0.6*rng.Float64()))})
		}
		// Policy.
		pol := &w.Policy
		home := regionTable[pick(rng, dataWeight)]
		if cur >= 0 {
			home = regionOf(in.Locations[cur].Cloud, in.Locations[cur].Region)
		}
		if rng.Float64() < 0.75 {
			pol.Arch = ArchX86
			if cur >= 0 {
				pol.Arch = archOf(cur)
			}
		}
		if home.continent == "europe" && rng.Float64() < 0.6 {
			pol.Continents = []string{"europe"}
		}
		switch x := rng.Float64(); {
		case x < 0.15:
			pol.Clouds = []domain.Cloud{home.cloud}
		case x < 0.25:
			for _, c := range domain.Clouds {
				if c == home.cloud || len(pol.Clouds) == 0 {
					pol.Clouds = append(pol.Clouds, c)
				}
			}
			if !slices.Contains(pol.Clouds, home.cloud) {
				pol.Clouds = append(pol.Clouds, home.cloud)
			}
		}
		if rng.Float64() < 0.25 {
			pol.MaxLatencyMS = 40
			pol.Users = &GeoPoint{Lat: home.lat + 4*(rng.Float64()-0.5), Lon: home.lon + 4*(rng.Float64()-0.5)}
		}
		if cur >= 0 && rng.Float64() < opts.ForcedFraction {
			// The policy now rules out the current region.
			for _, r := range regionTable {
				if r.name != home.name {
					pol.Regions = append(pol.Regions, r.name)
				}
			}
		}
	}
	in.MaxMoves = int(math.Round(opts.MoveFraction * float64(existing)))

	// Capacities: at first unlimited, to price every pair.
	for j := range in.Locations {
		in.Locations[j].Capacity = Capacity{VCPU: math.Inf(1), MemoryGiB: math.Inf(1)}
	}
	ev, err := NewEvaluator(in)
	if err != nil {
		return nil, fmt.Errorf("generate placement instance: %w", err)
	}
	// A workload whose policy allows nowhere loses its rules but the
	// architecture, so that the instance stays feasible.
	for i := range in.Workloads {
		allowedAny := false
		for j := range m {
			if ev.Allowed(i, j) {
				allowedAny = true
				break
			}
		}
		if !allowedAny {
			in.Workloads[i].Policy = Policy{Arch: in.Workloads[i].Policy.Arch}
			if !slices.ContainsFunc(in.Locations, func(l Location) bool { return l.Arch == in.Workloads[i].Policy.Arch }) {
				in.Workloads[i].Policy.Arch = ""
			}
		}
	}
	// The load of the current placement, and how much demand would like
	// each location: a workload's demand is split over its three
	// cheapest allowed locations.
	var curLoad, want = make([]Capacity, m), make([]Capacity, m)
	var demand Capacity
	costs := make([]struct {
		j int
		c float64
	}, 0, m)
	for i, w := range in.Workloads {
		demand.VCPU += w.VCPU
		demand.MemoryGiB += w.MemoryGiB
		if c := ev.Current(i); c >= 0 {
			curLoad[c].VCPU += w.VCPU
			curLoad[c].MemoryGiB += w.MemoryGiB
		}
		costs = costs[:0]
		for j := range m {
			if ev.Allowed(i, j) {
				costs = append(costs, struct {
					j int
					c float64
				}{j, ev.Cost(i, j).Total()})
			}
		}
		slices.SortStableFunc(costs, func(a, b struct {
			j int
			c float64
		}) int {
			return cmpFloat(a.c, b.c)
		})
		top := min(3, len(costs))
		for _, c := range costs[:top] {
			want[c.j].VCPU += w.VCPU / float64(top)
			want[c.j].MemoryGiB += w.MemoryGiB / float64(top)
		}
	}
	slack := opts.SlackMin + (opts.SlackMax-opts.SlackMin)*rng.Float64()
	var curTotal Capacity
	for j := range m {
		curTotal.VCPU += curLoad[j].VCPU
		curTotal.MemoryGiB += curLoad[j].MemoryGiB
	}
	free := Capacity{VCPU: slack*demand.VCPU - curTotal.VCPU, MemoryGiB: slack*demand.MemoryGiB - curTotal.MemoryGiB}
	share := func(get func(Capacity) float64) []float64 {
		s := make([]float64, m)
		t := 0.0
		for j := range m {
			s[j] = (get(want[j]) + 0.02*get(demand)/float64(m)) * (0.5 + rng.Float64())
			t += s[j]
		}
		for j := range s {
			s[j] /= t
		}
		return s
	}
	sv := share(func(c Capacity) float64 { return c.VCPU })
	sm := share(func(c Capacity) float64 { return c.MemoryGiB })
	for j := range in.Locations {
		in.Locations[j].Capacity = Capacity{
			VCPU:      math.Ceil(curLoad[j].VCPU + free.VCPU*sv[j]),
			MemoryGiB: math.Ceil(curLoad[j].MemoryGiB + free.MemoryGiB*sm[j]),
		}
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("generate placement instance: %w", err)
	}
	return in, nil
}

// pick draws an index with probability proportional to its weight.
func pick(rng *rand.Rand, w []float64) int {
	t := 0.0
	for _, x := range w {
		t += x
	}
	x := rng.Float64() * t
	for k, v := range w {
		if x < v {
			return k
		}
		x -= v
	}
	return len(w) - 1
}
