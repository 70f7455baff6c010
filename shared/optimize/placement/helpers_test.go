package placement

import (
	"math"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// catalog returns the embedded price catalog.
func catalog(t testing.TB) Catalog {
	t.Helper()
	c, err := pricing.Embedded()
	if err != nil {
		t.Fatalf("pricing.Embedded() = %v", err)
	}
	return c
}

// generate makes a generated instance or fails t.
func generate(t testing.TB, seed uint64, n, m int) *Instance {
	t.Helper()
	in, err := Generate(seed, n, m, GenerateOptions{Catalog: catalog(t)})
	if err != nil {
		t.Fatalf("Generate(%d, %d, %d) = %v", seed, n, m, err)
	}
	return in
}

// verify checks a result against the instance with Check, which shares
// nothing with the solver but the model, and checks that the result's
// own figures agree with it: cost, performance, moves, the unplaced
// list, a bound below the objective and the gap formula.
func verify(t testing.TB, in *Instance, res *Result) Assessment {
	t.Helper()
	a, err := Check(in, res.Assignment)
	if err != nil {
		t.Fatalf("Check(result) = %v", err)
	}
	if !near(a.Cost, res.Cost, 1e-9) {
		t.Errorf("result cost %.6f; Check finds %.6f", res.Cost, a.Cost)
	}
	if !near(a.Performance, res.Performance, 1e-9) {
		t.Errorf("result performance %.6f; Check finds %.6f", res.Performance, a.Performance)
	}
	if a.Moves != res.Moves {
		t.Errorf("result moves %d; Check finds %d", res.Moves, a.Moves)
	}
	if a.Moves > in.MaxMoves {
		t.Errorf("%d moves, cap %d", a.Moves, in.MaxMoves)
	}
	unplaced := map[int]bool{}
	for _, u := range res.Unplaced {
		unplaced[u.Workload] = true
		if u.ID != in.Workloads[u.Workload].ID || u.Reason == "" || u.Detail == "" {
			t.Errorf("unplaced entry %+v is incomplete", u)
		}
	}
	for i, j := range res.Assignment {
		if (j < 0) != unplaced[i] {
			t.Errorf("workload %d: location %d, listed as unplaced: %v", i, j, unplaced[i])
		}
	}
	if res.Bound > res.Objective+1e-9*math.Abs(res.Objective) {
		t.Errorf("bound %.6f above objective %.6f", res.Bound, res.Objective)
	}
	if want := gapOf(res.Objective, res.Bound); !near(res.Gap, want, 1e-12) {
		t.Errorf("gap %v; (objective − bound)/|objective| is %v", res.Gap, want)
	}
	switch res.Stop {
	case StopGap, StopConverged, StopTimeLimit, StopIterationLimit, StopCanceled:
	default:
		t.Errorf("stop reason %q is not one of the documented ones", res.Stop)
	}
	return a
}

func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// handInstance is a small instance written out by hand: two regions of
// two clouds, three locations, workloads added by the tests.
func handInstance() *Instance {
	return &Instance{
		Regions: []Region{
			{Cloud: domain.AWS, Name: "us-east-1", Continent: "north-america", Lat: 38.9, Lon: -77.4},
			{Cloud: domain.AWS, Name: "eu-west-1", Continent: "europe", Lat: 53.3, Lon: -6.3},
			{Cloud: domain.GCP, Name: "europe-west1", Continent: "europe", Lat: 50.4, Lon: 3.8},
		},
		Egress: map[domain.Cloud]EgressRates{
			domain.AWS: {InterRegion: domain.USD(20_000), InterContinent: domain.USD(20_000), Internet: domain.USD(90_000)},
			domain.GCP: {InterRegion: domain.USD(20_000), InterContinent: domain.USD(80_000), Internet: domain.USD(85_000)},
		},
		Locations: []Location{
			{ID: "a", Cloud: domain.AWS, Region: "us-east-1", InstanceType: "m5.xlarge", Arch: ArchX86, VCPU: 4, MemoryGiB: 16,
				HourlyPrice: domain.USD(192_000), StoragePrice: domain.USD(80_000), Perf: 1, Capacity: Capacity{VCPU: 100, MemoryGiB: 400}},
			{ID: "b", Cloud: domain.GCP, Region: "europe-west1", InstanceType: "n2-highcpu-2", Arch: ArchX86, VCPU: 2, MemoryGiB: 16,
				HourlyPrice: domain.USD(200_000), StoragePrice: domain.USD(100_000), Perf: 1.2, Capacity: Capacity{VCPU: 100, MemoryGiB: 400}},
			{ID: "c", Cloud: domain.AWS, Region: "eu-west-1", InstanceType: "m7g.xlarge", Arch: ArchARM, VCPU: 4, MemoryGiB: 16,
				HourlyPrice: domain.USD(100_000), StoragePrice: domain.USD(80_000), Perf: 1.3, Capacity: Capacity{VCPU: 100, MemoryGiB: 400}},
		},
		MaxMoves:       10,
		AmortizeMonths: 10,
	}
}
