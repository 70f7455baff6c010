package placement

import (
	"math"
	"slices"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// CostBreakdown is what a workload costs a month at a location, in
// currency units (dollars for USD) as float64: see the package
// documentation for why the solver works in float64.
type CostBreakdown struct {
	// Compute is its share of instances of the location's type.
	Compute float64 `json:"compute"`
	// Storage is its block storage at the location's price.
	Storage float64 `json:"storage"`
	// Egress is the monthly traffic with its anchors.
	Egress float64 `json:"egress"`
	// Migration is the one-off cost of copying its data from its current
	// location, divided by Instance.AmortizeMonths; zero where it stays.
	Migration float64 `json:"migration"`
}

// Total is the sum of the parts.
func (b CostBreakdown) Total() float64 { return b.Compute + b.Storage + b.Egress + b.Migration }

// Evaluator prices and checks placements of the workloads of one valid
// instance. It is safe for concurrent use and must not outlive changes
// to the instance.
type Evaluator struct {
	in *Instance
	ix *index
}

// NewEvaluator validates in and returns an Evaluator for it; an invalid
// instance gives Validate's error.
func NewEvaluator(in *Instance) (*Evaluator, error) {
	ix, err := in.buildIndex()
	if err != nil {
		return nil, err
	}
	return &Evaluator{in: in, ix: ix}, nil
}

// Location returns the index of the location with the given ID, or -1.
func (e *Evaluator) Location(id string) int {
	if j, ok := e.ix.location[id]; ok {
		return j
	}
	return -1
}

// Current returns the index of workload i's current location, or -1 for
// a new workload.
func (e *Evaluator) Current(i int) int {
	if id := e.in.Workloads[i].Current; id != "" {
		return e.ix.location[id]
	}
	return -1
}

// Allowed reports whether workload i's policy lets it run at location j.
func (e *Evaluator) Allowed(i, j int) bool {
	w := &e.in.Workloads[i]
	l := &e.in.Locations[j]
	p := &w.Policy
	if len(p.Clouds) > 0 && !slices.Contains(p.Clouds, l.Cloud) {
		return false
	}
	if len(p.Regions) > 0 && !slices.Contains(p.Regions, l.Region) {
		return false
	}
	r := &e.in.Regions[e.ix.locReg[j]]
	if len(p.Continents) > 0 && !slices.Contains(p.Continents, r.Continent) {
		return false
	}
	if p.Arch != "" && p.Arch != l.Arch {
		return false
	}
	if p.MaxLatencyMS > 0 && LatencyMS(*r, *p.Users) > p.MaxLatencyMS {
		return false
	}
	if len(p.Locations) > 0 && !slices.Contains(p.Locations, l.ID) {
		return false
	}
	return true
}

// Cost returns what workload i costs a month at location j, whether or
// not j is allowed. At its current location, a workload's CurrentCost,
// when set, is its Compute, and its Storage is zero.
func (e *Evaluator) Cost(i, j int) CostBreakdown {
	w := &e.in.Workloads[i]
	l := &e.in.Locations[j]
	rj := e.ix.locReg[j]
	var b CostBreakdown
	if w.CurrentCost != nil && j == e.Current(i) {
		b.Compute = dollars(*w.CurrentCost)
	} else {
		share := w.VCPU / l.VCPU
		if m := w.MemoryGiB / l.MemoryGiB; m > share {
			share = m
		}
		b.Compute = dollars(l.HourlyPrice) * domain.HoursPerMonth * share
		b.Storage = w.StorageGiB * dollars(l.StoragePrice)
	}
	for _, f := range w.Flows {
		ra := e.ix.region[regionKey{f.Cloud, f.Region}]
		if f.OutGiB > 0 {
			b.Egress += f.OutGiB * e.egress(rj, ra)
		}
		if f.InGiB > 0 {
			b.Egress += f.InGiB * e.egress(ra, rj)
		}
	}
	if c := e.Current(i); c >= 0 && c != j && w.StorageGiB > 0 {
		b.Migration = w.StorageGiB * e.egress(e.ix.locReg[c], rj) / e.in.AmortizeMonths
	}
	return b
}

// Performance returns the performance score of workload i at location j:
// its vCPUs times the location's per-vCPU Perf.
func (e *Evaluator) Performance(i, j int) float64 {
	return e.in.Workloads[i].VCPU * e.in.Locations[j].Perf
}

// egress returns the price per GiB, in currency units, of data sent from
// region a to region b: free within a region, else the sender's cloud's
// inter-region, inter-continent or internet rate.
func (e *Evaluator) egress(a, b int) float64 {
	if a == b {
		return 0
	}
	return dollars(EgressPrice(e.in.Egress, e.in.Regions[a], e.in.Regions[b]))
}

func dollars(m domain.Money) float64 { return float64(m.Micros) / domain.MicrosPerUnit }

// LatencyMS estimates the round-trip time in milliseconds between a
// region and a point: 2 ms plus the great-circle distance travelled twice
// at 200 km/ms (light in fibre) along a route 1.5 times longer than the
// great circle, that is distance/66.7 km per ms. It is an estimate for
// policies, not a measurement.
func LatencyMS(r Region, p GeoPoint) float64 {
	const earthKM = 6371.0
	rad := math.Pi / 180
	lat1, lat2 := r.Lat*rad, p.Lat*rad
	dlat := lat2 - lat1
	dlon := (p.Lon - r.Lon) * rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1)*math.Cos(lat2)*math.Sin(dlon/2)*math.Sin(dlon/2)
	d := 2 * earthKM * math.Asin(math.Min(1, math.Sqrt(h)))
	return 2 + 2*1.5*d/200
}
