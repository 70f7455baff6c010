package placement

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestCostBreakdown(t *testing.T) {
	in := handInstance()
	in.Workloads = []Workload{{
		ID: "w", Current: "a", VCPU: 3, MemoryGiB: 8, StorageGiB: 100,
		Flows: []Flow{{Cloud: domain.AWS, Region: "us-east-1", OutGiB: 1000, InGiB: 500}},
	}}
	ev, err := NewEvaluator(in)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		loc  string
		want CostBreakdown
	}{
		// 0.192 $/h × 730 h × max(3/4, 8/16); 100 GiB × 0.08; the anchor
		// is in the same region; it stays.
		{"a", CostBreakdown{Compute: 105.12, Storage: 8}},
		// 0.2 × 730 × max(3/2, 8/16); 100 × 0.1; 1000 GiB out at GCP's
		// internet rate 0.085 and 500 GiB in at AWS's 0.09; 100 GiB
		// copied out of AWS at 0.09 over 10 months.
		{"b", CostBreakdown{Compute: 219, Storage: 10, Egress: 85 + 45, Migration: 0.9}},
		// Same cloud, other continent: AWS's inter-region rate 0.02 both
		// ways and for the copy.
		{"c", CostBreakdown{Compute: 54.75, Storage: 8, Egress: 20 + 10, Migration: 0.2}},
	}
	for _, tc := range tests {
		got := ev.Cost(0, ev.Location(tc.loc))
		if !near(got.Compute, tc.want.Compute, 1e-12) || !near(got.Storage, tc.want.Storage, 1e-12) ||
			!near(got.Egress, tc.want.Egress, 1e-12) || !near(got.Migration, tc.want.Migration, 1e-12) {
			t.Errorf("Cost(w, %s) = %+v; want %+v", tc.loc, got, tc.want)
		}
		if !near(got.Total(), tc.want.Total(), 1e-12) {
			t.Errorf("Cost(w, %s).Total() = %v; want %v", tc.loc, got.Total(), tc.want.Total())
		}
	}
	if got, want := ev.Performance(0, ev.Location("c")), 3*1.3; !near(got, want, 1e-12) {
		t.Errorf("Performance(w, c) = %v; want %v", got, want)
	}
	// A new workload pays no migration.
	in.Workloads[0].Current = ""
	if got := ev.Cost(0, ev.Location("b")).Migration; got != 0 {
		t.Errorf("new workload: migration %v; want 0", got)
	}
}

func TestLatencyMS(t *testing.T) {
	useast := Region{Lat: 38.9, Lon: -77.4}
	if got := LatencyMS(useast, GeoPoint{Lat: 38.9, Lon: -77.4}); got != 2 {
		t.Errorf("LatencyMS(same place) = %v; want 2", got)
	}
	// Virginia to Dublin is about 5,500 km: 80–90 ms estimated, close to
	// the 70–80 ms measured between the two regions.
	if got := LatencyMS(useast, GeoPoint{Lat: 53.3, Lon: -6.3}); got < 80 || got > 90 {
		t.Errorf("LatencyMS(us-east-1, Dublin) = %v; want 80–90", got)
	}
}

func TestAllowed(t *testing.T) {
	paris := &GeoPoint{Lat: 48.9, Lon: 2.35}
	tests := []struct {
		name   string
		policy Policy
		want   string // the allowed locations, in order
	}{
		{"no rules", Policy{}, "abc"},
		{"clouds", Policy{Clouds: []domain.Cloud{domain.AWS}}, "ac"},
		{"regions", Policy{Regions: []string{"europe-west1", "eu-west-1"}}, "bc"},
		{"continents", Policy{Continents: []string{"europe"}}, "bc"},
		{"arch", Policy{Arch: ArchX86}, "ab"},
		{"latency", Policy{MaxLatencyMS: 30, Users: paris}, "bc"},
		{"tight latency", Policy{MaxLatencyMS: 10, Users: paris}, "b"},
		{"locations", Policy{Locations: []string{"c", "a"}}, "ac"},
		{"all rules", Policy{Clouds: []domain.Cloud{domain.AWS}, Continents: []string{"europe"}, Arch: ArchX86}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := handInstance()
			in.Workloads = []Workload{{ID: "w", VCPU: 1, Policy: tc.policy}}
			ev, err := NewEvaluator(in)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for j, l := range in.Locations {
				if ev.Allowed(0, j) {
					got.WriteString(l.ID)
				}
			}
			if got.String() != tc.want {
				t.Errorf("allowed = %q; want %q", got.String(), tc.want)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	base := func() *Instance {
		in := handInstance()
		in.Workloads = []Workload{{ID: "w", Current: "a", VCPU: 2, MemoryGiB: 4, StorageGiB: 10,
			Flows: []Flow{{Cloud: domain.AWS, Region: "us-east-1", OutGiB: 1}}}}
		return in
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("Validate(base) = %v", err)
	}
	tests := []struct {
		name   string
		change func(*Instance)
		want   string
	}{
		{"nil", nil, "no instance"},
		{"no locations", func(in *Instance) { in.Locations = nil }, "no locations"},
		{"negative K", func(in *Instance) { in.MaxMoves = -1 }, "max_moves is -1"},
		{"zero amortization", func(in *Instance) { in.AmortizeMonths = 0 }, "amortize_months"},
		{"NaN amortization", func(in *Instance) { in.AmortizeMonths = math.NaN() }, "amortize_months"},
		{"unknown cloud", func(in *Instance) { in.Regions[0].Cloud = "ibm" }, `unknown cloud "ibm"`},
		{"upper-case cloud", func(in *Instance) { in.Regions[0].Cloud = "AWS" }, `unknown cloud "AWS"`},
		{"duplicate region", func(in *Instance) { in.Regions[1] = in.Regions[0] }, "listed twice"},
		{"bad latitude", func(in *Instance) { in.Regions[0].Lat = 91 }, "out of range"},
		{"no egress", func(in *Instance) { delete(in.Egress, domain.GCP) }, "no egress rates for cloud gcp"},
		{"negative egress", func(in *Instance) {
			e := in.Egress[domain.AWS]
			e.Internet = domain.USD(-1)
			in.Egress[domain.AWS] = e
		}, "egress[aws].internet is negative"},
		{"mixed currency", func(in *Instance) { in.Locations[1].HourlyPrice.Currency = "EUR" }, "in EUR"},
		{"egress of an unknown cloud", func(in *Instance) { in.Egress["ibm"] = EgressRates{} }, `egress: unknown cloud "ibm"`},
		{"duplicate location", func(in *Instance) { in.Locations[1].ID = "a" }, `location "a": listed twice`},
		{"unknown location region", func(in *Instance) { in.Locations[0].Region = "mars-1" }, "unknown region aws mars-1"},
		{"bad arch", func(in *Instance) { in.Locations[0].Arch = "sparc" }, `arch "sparc"`},
		{"zero vcpu", func(in *Instance) { in.Locations[0].VCPU = 0 }, "vcpu is 0"},
		{"negative price", func(in *Instance) { in.Locations[0].HourlyPrice = domain.USD(-5) }, "hourly_price is negative"},
		{"negative storage price", func(in *Instance) { in.Locations[0].StoragePrice = domain.USD(-5) }, "storage_price is negative"},
		{"NaN perf", func(in *Instance) { in.Locations[0].Perf = math.NaN() }, "perf is NaN"},
		{"negative capacity", func(in *Instance) { in.Locations[0].Capacity.VCPU = -1 }, "capacity vcpu is -1"},
		{"NaN capacity", func(in *Instance) { in.Locations[0].Capacity.MemoryGiB = math.NaN() }, "capacity memory_gib is NaN"},
		{"no workload id", func(in *Instance) { in.Workloads[0].ID = "" }, "workloads[0]: no id"},
		{"duplicate workload", func(in *Instance) { in.Workloads = append(in.Workloads, in.Workloads[0]) }, `workload "w": listed twice`},
		{"unknown current", func(in *Instance) { in.Workloads[0].Current = "zz" }, `current location "zz" is not among the locations`},
		{"NaN demand", func(in *Instance) { in.Workloads[0].VCPU = math.NaN() }, "vcpu is NaN"},
		{"zero demand", func(in *Instance) { in.Workloads[0].VCPU = 0 }, "vcpu is 0"},
		{"infinite memory", func(in *Instance) { in.Workloads[0].MemoryGiB = math.Inf(1) }, "memory_gib is +Inf"},
		{"negative storage", func(in *Instance) { in.Workloads[0].StorageGiB = -1 }, "storage_gib is -1"},
		{"unknown flow region", func(in *Instance) { in.Workloads[0].Flows[0].Region = "x" }, "flows[0]: unknown region"},
		{"negative traffic", func(in *Instance) { in.Workloads[0].Flows[0].InGiB = -1 }, "flows[0]: traffic"},
		{"policy cloud", func(in *Instance) { in.Workloads[0].Policy.Clouds = []domain.Cloud{"oracle"} }, `policy: unknown cloud "oracle"`},
		{"policy arch", func(in *Instance) { in.Workloads[0].Policy.Arch = "mips" }, `policy: arch "mips"`},
		{"latency without users", func(in *Instance) { in.Workloads[0].Policy.MaxLatencyMS = 50 }, "users is not"},
		{"negative latency", func(in *Instance) { in.Workloads[0].Policy.MaxLatencyMS = -1 }, "max_latency_ms is -1"},
		{"policy location", func(in *Instance) { in.Workloads[0].Policy.Locations = []string{"q"} }, `policy: location "q"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in *Instance
			if tc.change != nil {
				in = base()
				tc.change(in)
			}
			err := in.Validate()
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v; want an invalid error containing %q", err, tc.want)
			}
			if _, err := Solve(t.Context(), in, Options{}); !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Solve() error = %v; want the same invalid error", err)
			}
		})
	}
}

func TestOptionsRejected(t *testing.T) {
	in := handInstance()
	in.Workloads = []Workload{{ID: "w", VCPU: 1}}
	for _, o := range []Options{{GapTarget: -1}, {GapTarget: math.NaN()}, {TimeLimit: -1}, {MaxIterations: -1}, {Workers: -2}} {
		if _, err := Solve(t.Context(), in, o); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Solve(%+v) error = %v; want invalid", o, err)
		}
	}
}

func TestCheckFindsViolations(t *testing.T) {
	in := handInstance()
	in.MaxMoves = 1
	in.Locations[2].Capacity = Capacity{VCPU: 4, MemoryGiB: 8}
	in.Workloads = []Workload{
		{ID: "w0", Current: "a", VCPU: 2, MemoryGiB: 4},
		{ID: "w1", Current: "a", VCPU: 2, MemoryGiB: 4},
		{ID: "w2", Current: "b", VCPU: 2, MemoryGiB: 6, Policy: Policy{Clouds: []domain.Cloud{domain.GCP}}},
	}
	a, err := Check(in, []int{0, 2, 1})
	if err != nil {
		t.Fatalf("Check(valid) = %v", err)
	}
	if a.Placed != 3 || a.Moves != 1 || a.Load[2] != (Capacity{VCPU: 2, MemoryGiB: 4}) {
		t.Errorf("Check(valid) = %+v; want 3 placed, 1 move, 2 vCPU and 4 GiB at c", a)
	}
	ev, _ := NewEvaluator(in)
	want := ev.Cost(0, 0).Total() + ev.Cost(1, 2).Total() + ev.Cost(2, 1).Total()
	if !near(a.Cost, want, 1e-12) {
		t.Errorf("Check cost %v; want %v", a.Cost, want)
	}
	tests := []struct {
		name       string
		assignment []int
		want       string
	}{
		{"wrong length", []int{0, 0}, "2 assignments for 3 workloads"},
		{"out of range", []int{0, 0, 7}, "location index 7 out of range"},
		{"not allowed", []int{0, 0, 0}, `"w2": placed at "a", which its policy does not allow`},
		{"too many moves", []int{2, 1, 1}, "2 workloads move, the cap is 1"},
	}
	in2 := handInstance()
	in2.Locations[2].Capacity = Capacity{VCPU: 4, MemoryGiB: 8}
	in2.Workloads = []Workload{{ID: "x0", VCPU: 2, MemoryGiB: 5}, {ID: "x1", VCPU: 2, MemoryGiB: 5}, {ID: "x2", VCPU: 1}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(in, tc.assignment)
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check(%v) = %v; want an invalid error containing %q", tc.assignment, err, tc.want)
			}
		})
	}
	t.Run("memory over capacity", func(t *testing.T) {
		_, err := Check(in2, []int{2, 2, 0})
		if want := `location "c": 10 GiB placed, capacity 8`; !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v; want an invalid error containing %q", err, want)
		}
	})
	t.Run("vCPU over capacity", func(t *testing.T) {
		in2.Workloads[2].VCPU = 0.5
		_, err := Check(in2, []int{2, 1, 2})
		if err != nil {
			t.Fatalf("Check(2.5 vCPU at c) = %v", err)
		}
		in2.Workloads[2].VCPU = 2.5
		_, err = Check(in2, []int{2, 1, 2})
		if want := `location "c": 4.5 vCPU placed, capacity 4`; !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v; want an invalid error containing %q", err, want)
		}
	})
}
