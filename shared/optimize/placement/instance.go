package placement

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Instance is one placement problem: the candidate locations, the
// workloads to place and the rules that bind them. Validate checks it;
// Solve and SolvePareto validate it first.
type Instance struct {
	// Regions are the cloud regions that locations, data anchors and
	// current placements refer to, by cloud and name.
	Regions []Region `json:"regions"`
	// Egress holds the per-GiB price of data leaving each cloud; every
	// cloud that a region belongs to needs an entry.
	Egress map[domain.Cloud]EgressRates `json:"egress"`
	// Locations are the candidate places (cloud × region × instance type).
	Locations []Location `json:"locations"`
	// Workloads are the workloads to place.
	Workloads []Workload `json:"workloads"`
	// MaxMoves is K, the most workloads that may leave their current
	// location in one plan. Workloads without a current location (new
	// ones) do not count. It must be at least zero; a value at least as
	// large as the number of workloads lifts the cap.
	MaxMoves int `json:"max_moves"`
	// AmortizeMonths spreads the one-off cost of moving a workload's data
	// over this many months of the monthly objective. It must be positive.
	AmortizeMonths float64 `json:"amortize_months"`
}

// Region is a cloud region. Continent sets the tier of inter-region
// egress prices; Lat and Lon (degrees) place it for latency estimates.
type Region struct {
	Cloud     domain.Cloud `json:"cloud"`
	Name      string       `json:"name"`
	Continent string       `json:"continent"`
	Lat       float64      `json:"lat"`
	Lon       float64      `json:"lon"`
}

// EgressRates are a cloud's prices per GiB of data sent out of one of its
// regions, by where the data goes. The sender's cloud charges; data that
// stays in its region is free.
type EgressRates struct {
	// InterRegion is to another region of the same cloud on the same continent.
	InterRegion domain.Money `json:"inter_region"`
	// InterContinent is to a region of the same cloud on another continent.
	InterContinent domain.Money `json:"inter_continent"`
	// Internet is to anywhere outside the cloud, another cloud included.
	Internet domain.Money `json:"internet"`
}

// Location is a candidate place for workloads: an instance type in a
// region of a cloud, with its prices, its performance and the capacity
// (quota) workloads may use there.
type Location struct {
	// ID names the location uniquely; Workload.Current refers to it.
	ID           string       `json:"id"`
	Cloud        domain.Cloud `json:"cloud"`
	Region       string       `json:"region"`
	InstanceType string       `json:"instance_type"`
	// Arch is the instance type's CPU architecture, x86_64 or arm64.
	Arch string `json:"arch"`
	// VCPU and MemoryGiB are the shape of one instance.
	VCPU      float64 `json:"vcpu"`
	MemoryGiB float64 `json:"memory_gib"`
	// HourlyPrice is the price of one instance for an hour.
	HourlyPrice domain.Money `json:"hourly_price"`
	// StoragePrice is the price of one GiB of block storage for a month.
	StoragePrice domain.Money `json:"storage_price"`
	// Perf is the relative performance of one vCPU of this instance type
	// (1 for a reference type); a workload placed here scores VCPU × Perf.
	Perf float64 `json:"perf"`
	// Capacity is how much demand the location can take in all (quota
	// left for these workloads). math.Inf(1) in a dimension means no limit.
	Capacity Capacity `json:"capacity"`
}

// Capacity is an amount in each capacity dimension: vCPUs and memory.
type Capacity struct {
	VCPU      float64 `json:"vcpu"`
	MemoryGiB float64 `json:"memory_gib"`
}

// Workload is a movable workload: what it needs, the data and traffic
// that tie it to places, where it runs now and where policy lets it go.
type Workload struct {
	// ID names the workload uniquely.
	ID string `json:"id"`
	// Current is the ID of the location it runs in now, or "" for a new
	// workload that runs nowhere yet.
	Current string `json:"current,omitempty"`
	// VCPU and MemoryGiB are its demand, the amount it takes from a
	// location's capacity and what it is priced on. VCPU must be positive.
	VCPU      float64 `json:"vcpu"`
	MemoryGiB float64 `json:"memory_gib"`
	// StorageGiB is the data it keeps on block storage: priced monthly
	// where it runs, and copied when it moves.
	StorageGiB float64 `json:"storage_gib"`
	// CurrentCost, when set, is what the workload costs a month where it
	// runs now, compute and storage together (from the bill, say): at
	// Current it replaces the compute and storage priced from the
	// location, so that staying costs what the workload actually pays.
	// Traffic is priced as anywhere else. It needs Current.
	CurrentCost *domain.Money `json:"current_cost,omitempty"`
	// Flows are its steady traffic with fixed data and services.
	Flows []Flow `json:"flows,omitempty"`
	// Policy restricts where it may run.
	Policy Policy `json:"policy"`
}

// Flow is a workload's steady traffic with an anchor: data or a service
// that stays where it is, in a region of a cloud.
type Flow struct {
	Cloud  domain.Cloud `json:"cloud"`
	Region string       `json:"region"`
	// OutGiB is sent by the workload to the anchor each month, charged
	// at the egress rates of the workload's cloud.
	OutGiB float64 `json:"out_gib"`
	// InGiB is sent by the anchor to the workload each month, charged at
	// the egress rates of the anchor's cloud.
	InGiB float64 `json:"in_gib"`
}

// Policy is the compliance, residency and latency rules of a workload.
// A location is allowed when it passes every rule that is set; an empty
// list allows everything.
type Policy struct {
	// Clouds allowed, such as aws.
	Clouds []domain.Cloud `json:"clouds,omitempty"`
	// Regions allowed, by name, such as eu-west-1 or westeurope.
	Regions []string `json:"regions,omitempty"`
	// Continents allowed, as Region.Continent names them (residency).
	Continents []string `json:"continents,omitempty"`
	// Arch, if set, is the only CPU architecture the workload runs on.
	Arch string `json:"arch,omitempty"`
	// MaxLatencyMS, if positive, is the longest round trip allowed
	// between the location's region and Users (see LatencyMS).
	MaxLatencyMS float64 `json:"max_latency_ms,omitempty"`
	// Users is where the workload's users are, for MaxLatencyMS.
	Users *GeoPoint `json:"users,omitempty"`
	// Locations, if not empty, lists the only location IDs allowed.
	Locations []string `json:"locations,omitempty"`
}

// GeoPoint is a place on Earth, in degrees.
type GeoPoint struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Architectures a location or a policy may name.
const (
	ArchX86 = "x86_64"
	ArchARM = "arm64"
)

// regionKey identifies a region.
type regionKey struct {
	cloud domain.Cloud
	name  string
}

// index holds the lookups built from a valid Instance.
type index struct {
	region   map[regionKey]int
	location map[string]int
	locReg   []int // region index of each location
	currency string
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: placement instance: %s", domain.ErrInvalid, fmt.Sprintf(format, a...))
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks the instance and returns an error wrapping
// domain.ErrInvalid that names the first field at fault: a missing or
// duplicate ID, an unknown region, cloud or current location, a NaN,
// infinite or negative price, quantity or capacity (capacity may be
// +Inf, meaning no limit), a negative MaxMoves, a non-positive
// AmortizeMonths, mixed currencies, a latency rule without users, or a
// current cost without a current location.
func (in *Instance) Validate() error {
	_, err := in.buildIndex()
	return err
}

func (in *Instance) buildIndex() (*index, error) {
	if in == nil {
		return nil, invalidf("no instance")
	}
	ix := &index{region: make(map[regionKey]int, len(in.Regions)), location: make(map[string]int, len(in.Locations))}
	checkMoney := func(what string, m domain.Money) error {
		if m.Micros < 0 {
			return invalidf("%s is negative (%d micro-units)", what, m.Micros)
		}
		if m.Currency != "" {
			if ix.currency == "" {
				ix.currency = m.Currency
			} else if m.Currency != ix.currency {
				return invalidf("%s is in %s, other prices in %s", what, m.Currency, ix.currency)
			}
		}
		return nil
	}
	if len(in.Locations) == 0 {
		return nil, invalidf("no locations")
	}
	if in.MaxMoves < 0 {
		return nil, invalidf("max_moves is %d; it must be at least 0", in.MaxMoves)
	}
	if !finite(in.AmortizeMonths) || in.AmortizeMonths <= 0 {
		return nil, invalidf("amortize_months is %v; it must be a positive number", in.AmortizeMonths)
	}
	for i, r := range in.Regions {
		what := fmt.Sprintf("regions[%d] (%s %s)", i, r.Cloud, r.Name)
		if c, err := domain.ParseCloud(string(r.Cloud)); err != nil || c != r.Cloud {
			return nil, invalidf("%s: unknown cloud %q", what, r.Cloud)
		}
		if r.Name == "" {
			return nil, invalidf("regions[%d]: no name", i)
		}
		if !finite(r.Lat) || !finite(r.Lon) || math.Abs(r.Lat) > 90 || math.Abs(r.Lon) > 180 {
			return nil, invalidf("%s: coordinates (%v, %v) out of range", what, r.Lat, r.Lon)
		}
		k := regionKey{r.Cloud, r.Name}
		if _, dup := ix.region[k]; dup {
			return nil, invalidf("%s: listed twice", what)
		}
		ix.region[k] = i
	}
	for _, c := range slices.Sorted(maps.Keys(in.Egress)) {
		e := in.Egress[c]
		if pc, err := domain.ParseCloud(string(c)); err != nil || pc != c {
			return nil, invalidf("egress: unknown cloud %q", c)
		}
		for _, f := range []struct {
			name string
			m    domain.Money
		}{{"inter_region", e.InterRegion}, {"inter_continent", e.InterContinent}, {"internet", e.Internet}} {
			if err := checkMoney(fmt.Sprintf("egress[%s].%s", c, f.name), f.m); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range in.Regions {
		if _, ok := in.Egress[r.Cloud]; !ok {
			return nil, invalidf("region %s %s: no egress rates for cloud %s", r.Cloud, r.Name, r.Cloud)
		}
	}
	ix.locReg = make([]int, len(in.Locations))
	for j := range in.Locations {
		l := &in.Locations[j]
		what := fmt.Sprintf("location %q", l.ID)
		if l.ID == "" {
			return nil, invalidf("locations[%d]: no id", j)
		}
		if _, dup := ix.location[l.ID]; dup {
			return nil, invalidf("%s: listed twice", what)
		}
		ix.location[l.ID] = j
		r, ok := ix.region[regionKey{l.Cloud, l.Region}]
		if !ok {
			return nil, invalidf("%s: unknown region %s %s", what, l.Cloud, l.Region)
		}
		ix.locReg[j] = r
		if l.Arch != ArchX86 && l.Arch != ArchARM {
			return nil, invalidf("%s: arch %q is not %s or %s", what, l.Arch, ArchX86, ArchARM)
		}
		if !finite(l.VCPU) || l.VCPU <= 0 {
			return nil, invalidf("%s: vcpu is %v; it must be positive", what, l.VCPU)
		}
		if !finite(l.MemoryGiB) || l.MemoryGiB <= 0 {
			return nil, invalidf("%s: memory_gib is %v; it must be positive", what, l.MemoryGiB)
		}
		if err := checkMoney(what+": hourly_price", l.HourlyPrice); err != nil {
			return nil, err
		}
		if err := checkMoney(what+": storage_price", l.StoragePrice); err != nil {
			return nil, err
		}
		if !finite(l.Perf) || l.Perf < 0 {
			return nil, invalidf("%s: perf is %v; it must be a number at least 0", what, l.Perf)
		}
		if math.IsNaN(l.Capacity.VCPU) || l.Capacity.VCPU < 0 {
			return nil, invalidf("%s: capacity vcpu is %v; it must be at least 0 (or +Inf)", what, l.Capacity.VCPU)
		}
		if math.IsNaN(l.Capacity.MemoryGiB) || l.Capacity.MemoryGiB < 0 {
			return nil, invalidf("%s: capacity memory_gib is %v; it must be at least 0 (or +Inf)", what, l.Capacity.MemoryGiB)
		}
	}
	seen := make(map[string]bool, len(in.Workloads))
	for i := range in.Workloads {
		w := &in.Workloads[i]
		what := fmt.Sprintf("workload %q", w.ID)
		if w.ID == "" {
			return nil, invalidf("workloads[%d]: no id", i)
		}
		if seen[w.ID] {
			return nil, invalidf("%s: listed twice", what)
		}
		seen[w.ID] = true
		if w.Current != "" {
			if _, ok := ix.location[w.Current]; !ok {
				return nil, invalidf("%s: current location %q is not among the locations", what, w.Current)
			}
		}
		if w.CurrentCost != nil {
			if w.Current == "" {
				return nil, invalidf("%s: current_cost is set but current is not", what)
			}
			if err := checkMoney(what+": current_cost", *w.CurrentCost); err != nil {
				return nil, err
			}
		}
		if !finite(w.VCPU) || w.VCPU <= 0 {
			return nil, invalidf("%s: vcpu is %v; it must be positive", what, w.VCPU)
		}
		if !finite(w.MemoryGiB) || w.MemoryGiB < 0 {
			return nil, invalidf("%s: memory_gib is %v; it must be at least 0", what, w.MemoryGiB)
		}
		if !finite(w.StorageGiB) || w.StorageGiB < 0 {
			return nil, invalidf("%s: storage_gib is %v; it must be at least 0", what, w.StorageGiB)
		}
		for k, f := range w.Flows {
			if _, ok := ix.region[regionKey{f.Cloud, f.Region}]; !ok {
				return nil, invalidf("%s: flows[%d]: unknown region %s %s", what, k, f.Cloud, f.Region)
			}
			if !finite(f.OutGiB) || f.OutGiB < 0 || !finite(f.InGiB) || f.InGiB < 0 {
				return nil, invalidf("%s: flows[%d]: traffic (%v out, %v in GiB) must be at least 0", what, k, f.OutGiB, f.InGiB)
			}
		}
		p := &w.Policy
		for _, c := range p.Clouds {
			if pc, err := domain.ParseCloud(string(c)); err != nil || pc != c {
				return nil, invalidf("%s: policy: unknown cloud %q", what, c)
			}
		}
		if p.Arch != "" && p.Arch != ArchX86 && p.Arch != ArchARM {
			return nil, invalidf("%s: policy: arch %q is not %s or %s", what, p.Arch, ArchX86, ArchARM)
		}
		if !finite(p.MaxLatencyMS) || p.MaxLatencyMS < 0 {
			return nil, invalidf("%s: policy: max_latency_ms is %v; it must be at least 0", what, p.MaxLatencyMS)
		}
		if p.MaxLatencyMS > 0 && p.Users == nil {
			return nil, invalidf("%s: policy: max_latency_ms is set but users is not", what)
		}
		if u := p.Users; u != nil && (!finite(u.Lat) || !finite(u.Lon) || math.Abs(u.Lat) > 90 || math.Abs(u.Lon) > 180) {
			return nil, invalidf("%s: policy: users (%v, %v) out of range", what, u.Lat, u.Lon)
		}
		for _, id := range p.Locations {
			if _, ok := ix.location[id]; !ok {
				return nil, invalidf("%s: policy: location %q is not among the locations", what, id)
			}
		}
	}
	return ix, nil
}
