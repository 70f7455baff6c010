package placement

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSolveGeneratedInstances(t *testing.T) {
	tests := []struct {
		seed uint64
		n, m int
	}{{1, 150, 8}, {2, 400, 12}, {3, 800, 30}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d", tc.n, tc.m), func(t *testing.T) {
			in := generate(t, tc.seed, tc.n, tc.m)
			res, err := Solve(t.Context(), in, Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			a := verify(t, in, res)
			if len(res.Unplaced) != 0 {
				t.Errorf("%d workloads unplaced in a feasible generated instance: %+v", len(res.Unplaced), res.Unplaced[0])
			}
			if a.Placed != tc.n {
				t.Errorf("%d of %d placed", a.Placed, tc.n)
			}
			// The generated instances are hard enough that the move cap
			// and some capacities bind; a solver that ignored them would
			// be caught by Check above, one that gave up would show here.
			if res.Moves != in.MaxMoves {
				t.Errorf("moves = %d; the cap %d binds on generated instances", res.Moves, in.MaxMoves)
			}
			// The gap is against the LP bound: a few hundred workloads
			// can leave an LP gap near 1% (on 400x12, CBC's optimum is
			// 0.77% above the LP); thousands leave far less.
			limit := 0.02
			if tc.n >= 800 {
				limit = 0.005
			}
			if res.Gap > limit {
				t.Errorf("gap %.4f%% (objective %.2f, bound %.2f); want at most %.1f%%", 100*res.Gap, res.Objective, res.Bound, 100*limit)
			}
			if res.Stop != StopGap && res.Stop != StopConverged {
				t.Errorf("stopped for %s with no limit set", res.Stop)
			}
			// The bound beats the trivial one, Σ_i min_j c_ij.
			if trivial := unconstrained(in); res.Bound <= trivial {
				t.Errorf("bound %.2f no better than Σ min c_ij = %.2f", res.Bound, trivial)
			}
			t.Logf("objective %.2f bound %.2f gap %.4f%% moves %d/%d iterations %d stop %s",
				res.Objective, res.Bound, 100*res.Gap, res.Moves, in.MaxMoves, res.Iterations, res.Stop)
		})
	}
}

func TestMoveCapRespected(t *testing.T) {
	base := generate(t, 4, 200, 10)
	ev, _ := NewEvaluator(base)
	forced := 0
	for i := range base.Workloads {
		if c := ev.Current(i); c >= 0 && !ev.Allowed(i, c) {
			forced++
		}
	}
	for _, k := range []int{0, 1, 5, 25, base.MaxMoves} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			in := *base
			in.MaxMoves = k
			res, err := Solve(t.Context(), &in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			verify(t, &in, res)
			if res.Moves > k {
				t.Fatalf("moves = %d; cap %d", res.Moves, k)
			}
			// Workloads whose current location is no longer allowed use
			// the cap first; those beyond it are reported. With few moves
			// some new workloads may find no room either.
			moveCap := 0
			for _, u := range res.Unplaced {
				switch {
				case u.Reason == ReasonMoveCap && u.Proven:
					moveCap++
				case u.Reason == ReasonCapacity && ev.Current(u.Workload) < 0 && k < base.MaxMoves:
					t.Logf("new workload unplaced with a cap of %d: %s", k, u.Detail)
				default:
					t.Errorf("unplaced %+v; want a proven move_cap, or capacity for a new workload", u)
				}
			}
			if want := max(0, forced-k); moveCap != want {
				t.Errorf("%d unplaced for the move cap; want %d (%d must move, cap %d)", moveCap, want, forced, k)
			}
			if k == base.MaxMoves && len(res.Unplaced) != 0 {
				t.Errorf("%d unplaced with the generated cap", len(res.Unplaced))
			}
			if k == 0 {
				for i, j := range res.Assignment {
					if j >= 0 && j != ev.Current(i) && ev.Current(i) >= 0 {
						t.Errorf("workload %d moved with a cap of 0", i)
					}
				}
			}
		})
	}
}

func TestAllowedSetsRespected(t *testing.T) {
	// Everybody would rather be at c, the cheapest; half of them may not.
	in := handInstance()
	in.MaxMoves = 100
	for i := range 40 {
		w := Workload{ID: fmt.Sprintf("w%d", i), Current: "a", VCPU: 1 + float64(i%3), MemoryGiB: 2}
		if i%2 == 0 {
			w.Policy.Arch = ArchX86
		}
		in.Workloads = append(in.Workloads, w)
	}
	res, err := Solve(t.Context(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	for i, j := range res.Assignment {
		if x86 := i%2 == 0; x86 && in.Locations[j].ID == "c" {
			t.Errorf("workload %d pinned to x86 placed on arm64 location c", i)
		} else if !x86 && in.Locations[j].ID != "c" {
			t.Errorf("workload %d free to go to the cheapest location c is at %s", i, in.Locations[j].ID)
		}
	}
}

func TestCapacitiesRespected(t *testing.T) {
	// Location c is the cheapest for everybody and takes only 10 vCPU
	// and 24 GiB; the rest stay at a.
	in := handInstance()
	in.Locations[2].Capacity = Capacity{VCPU: 10, MemoryGiB: 24}
	in.MaxMoves = 100
	for i := range 30 {
		in.Workloads = append(in.Workloads, Workload{ID: fmt.Sprintf("w%d", i), Current: "a",
			VCPU: float64(1 + i%4), MemoryGiB: float64(1 + (i*7)%5)})
	}
	res, err := Solve(t.Context(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := verify(t, in, res)
	if a.Load[2].VCPU > 10 || a.Load[2].MemoryGiB > 24 {
		t.Errorf("load at c = %+v; capacity 10 vCPU, 24 GiB", a.Load[2])
	}
	if a.Load[2].VCPU < 9 && a.Load[2].MemoryGiB < 23 {
		t.Errorf("load at c = %+v; the cheapest location should be (nearly) full", a.Load[2])
	}
}

func TestInfeasibleReported(t *testing.T) {
	in := handInstance()
	in.MaxMoves = 1
	in.Locations[1].Capacity = Capacity{VCPU: 4, MemoryGiB: 64}
	in.Workloads = []Workload{
		{ID: "fine", Current: "a", VCPU: 1},
		{ID: "nowhere", VCPU: 1, Policy: Policy{Clouds: []domain.Cloud{domain.Azure}}},
		{ID: "huge", VCPU: 500, Policy: Policy{Clouds: []domain.Cloud{domain.AWS}}},
		// b takes 4 vCPU; three workloads of 2 may only run there.
		{ID: "gcp-1", VCPU: 2, Policy: Policy{Locations: []string{"b"}}},
		{ID: "gcp-2", VCPU: 2, Policy: Policy{Locations: []string{"b"}}},
		{ID: "gcp-3", VCPU: 2, Policy: Policy{Locations: []string{"b"}}},
		// Two workloads on a, which their policy no longer allows, and a
		// cap of one move.
		{ID: "must-move-1", Current: "a", VCPU: 1, Policy: Policy{Locations: []string{"c"}}},
		{ID: "must-move-2", Current: "a", VCPU: 1, Policy: Policy{Locations: []string{"c"}}},
	}
	res, err := Solve(t.Context(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	got := map[string]Reason{}
	for _, u := range res.Unplaced {
		got[u.ID] = u.Reason
		if !u.Proven {
			t.Errorf("%s: %s not proven: %s", u.ID, u.Reason, u.Detail)
		}
		t.Logf("%s: %s: %s", u.ID, u.Reason, u.Detail)
	}
	want := map[string]Reason{"nowhere": ReasonNoAllowedLocation, "huge": ReasonTooLarge, "gcp-3": ReasonCapacity, "must-move-2": ReasonMoveCap}
	// Which of the interchangeable workloads is left out is the solver's
	// choice; the reasons and the count are not.
	if got["gcp-1"] != "" || got["gcp-2"] != "" {
		got["gcp-3"], got["gcp-1"], got["gcp-2"] = ReasonCapacity, "", ""
	}
	if got["must-move-1"] != "" {
		got["must-move-2"], got["must-move-1"] = ReasonMoveCap, ""
	}
	delete(got, "")
	for k, v := range got {
		if v == "" {
			delete(got, k)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unplaced reasons (-want +got):\n%s", diff)
	}
	if res.Assignment[0] < 0 {
		t.Errorf("the feasible workload was not placed")
	}
}

func TestDeterministic(t *testing.T) {
	in := generate(t, 5, 300, 10)
	var results []*Result
	for _, workers := range []int{1, 3, 1} {
		res, err := Solve(t.Context(), in, Options{Seed: 7, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, in, res)
		results = append(results, res)
	}
	for k, r := range results[1:] {
		if diff := cmp.Diff(results[0], r, cmpopts.IgnoreFields(Result{}, "Elapsed"), cmp.AllowUnexported(Result{})); diff != "" {
			t.Errorf("run %d differs from run 0 (-first +this):\n%s", k+1, diff)
		}
	}
}

func TestContextAndLimits(t *testing.T) {
	in := generate(t, 6, 1500, 30)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := Solve(canceled, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	if res.Stop != StopCanceled {
		t.Errorf("canceled context: stop %s; want %s", res.Stop, StopCanceled)
	}
	// The dual is evaluated once, at zero (the trivial bound), and the
	// solve stops.
	if res.Iterations != 1 {
		t.Errorf("canceled context: %d dual evaluations; want 1", res.Iterations)
	}
	if len(res.Unplaced) != 0 {
		t.Errorf("canceled context: %d unplaced; the warm start places everybody", len(res.Unplaced))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err = Solve(ctx, in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	if res.Stop != StopTimeLimit && res.Stop != StopGap {
		t.Errorf("deadline: stop %s; want %s", res.Stop, StopTimeLimit)
	}
	t.Logf("deadline of 50ms: returned after %v, gap %.4f%%", time.Since(start), 100*res.Gap)

	res, err = Solve(t.Context(), in, Options{TimeLimit: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	if res.Stop != StopTimeLimit && res.Stop != StopGap {
		t.Errorf("time limit: stop %s; want %s", res.Stop, StopTimeLimit)
	}

	res, err = Solve(t.Context(), in, Options{MaxIterations: 3})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	if res.Stop != StopIterationLimit || res.Iterations > 3 {
		t.Errorf("iteration limit 3: stop %s after %d iterations; want %s", res.Stop, res.Iterations, StopIterationLimit)
	}

	res, err = Solve(t.Context(), in, Options{GapTarget: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	if res.Stop != StopGap || res.Gap > 0.05 {
		t.Errorf("gap target 5%%: stop %s at gap %v", res.Stop, res.Gap)
	}
}

func TestBruteForce(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		n, m := 7, 3
		if seed%2 == 0 {
			n, m = 6, 4
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			in := generate(t, seed, n, m)
			if seed%3 == 0 {
				in.MaxMoves = 1
			}
			opt, feasible := bruteForce(t, in)
			res, err := Solve(t.Context(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			verify(t, in, res)
			if !feasible {
				if len(res.Unplaced) == 0 {
					t.Fatalf("no complete placement exists, but the solver placed everybody")
				}
				return
			}
			if len(res.Unplaced) != 0 {
				t.Fatalf("%d unplaced; a complete placement exists", len(res.Unplaced))
			}
			if res.Bound > opt+1e-9*math.Abs(opt) {
				t.Errorf("bound %.9f above the optimum %.9f", res.Bound, opt)
			}
			if !near(res.Objective, opt, 1e-12) {
				t.Errorf("objective %.9f; the optimum is %.9f", res.Objective, opt)
			}
			t.Logf("optimum %.4f, bound %.4f, unconstrained %.4f", opt, res.Bound, unconstrained(in))
		})
	}
}

// bruteForce enumerates every placement of in's workloads over their
// allowed locations and returns the cheapest that Check accepts.
func bruteForce(t *testing.T, in *Instance) (float64, bool) {
	ev, err := NewEvaluator(in)
	if err != nil {
		t.Fatal(err)
	}
	var allowed [][]int
	for i := range in.Workloads {
		var js []int
		for j := range in.Locations {
			if ev.Allowed(i, j) {
				js = append(js, j)
			}
		}
		if len(js) == 0 {
			return 0, false
		}
		allowed = append(allowed, js)
	}
	best, found := math.Inf(1), false
	pick := make([]int, len(allowed))
	assignment := make([]int, len(allowed))
	for {
		for i, k := range pick {
			assignment[i] = allowed[i][k]
		}
		if a, err := Check(in, assignment); err == nil && a.Cost < best {
			best, found = a.Cost, true
		}
		i := 0
		for ; i < len(pick); i++ {
			if pick[i]++; pick[i] < len(allowed[i]) {
				break
			}
			pick[i] = 0
		}
		if i == len(pick) {
			return best, found
		}
	}
}

func TestOrderInvariance(t *testing.T) {
	// Reordering the workloads changes nothing but the order of the
	// assignment (up to ties): the model does not depend on the order.
	in := generate(t, 8, 200, 8)
	res, err := Solve(t.Context(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rev := *in
	rev.Workloads = slices.Clone(in.Workloads)
	slices.Reverse(rev.Workloads)
	res2, err := Solve(t.Context(), &rev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, &rev, res2)
	// Both bounds are within a few millionths of the LP bound (the dual
	// stops once more precision would not change the gap).
	if !near(res.Bound, res2.Bound, 1e-5) {
		t.Errorf("bound %.6f, reversed %.6f; the LP bound does not depend on the order", res.Bound, res2.Bound)
	}
}

// unconstrained is Σ_i min_{j∈A_i} c_ij, the optimum without capacities
// and move cap.
func unconstrained(in *Instance) float64 {
	ev, _ := NewEvaluator(in)
	total := 0.0
	for i := range in.Workloads {
		lo := math.Inf(1)
		for j := range in.Locations {
			if ev.Allowed(i, j) {
				lo = math.Min(lo, ev.Cost(i, j).Total())
			}
		}
		total += lo
	}
	return total
}

func TestEdgeCases(t *testing.T) {
	t.Run("no workloads", func(t *testing.T) {
		in := handInstance()
		res, err := Solve(t.Context(), in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, in, res)
		if len(res.Assignment) != 0 || res.Objective != 0 || res.Bound != 0 || res.Gap != 0 || res.Stop != StopGap {
			t.Errorf("Solve(no workloads) = %+v; want an empty placement with gap 0", res)
		}
	})
	t.Run("nothing binds", func(t *testing.T) {
		// Unlimited capacities and a cap above the workload count: each
		// workload's cheapest location is optimal and the bound proves it.
		in := generate(t, 15, 200, 8)
		for j := range in.Locations {
			in.Locations[j].Capacity = Capacity{VCPU: math.Inf(1), MemoryGiB: math.Inf(1)}
		}
		in.MaxMoves = len(in.Workloads)
		res, err := Solve(t.Context(), in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, in, res)
		if u := unconstrained(in); !near(res.Objective, u, 1e-12) || !near(res.Bound, u, 1e-12) || res.Gap > 1e-12 {
			t.Errorf("objective %v, bound %v, gap %v; want both %v and gap 0", res.Objective, res.Bound, res.Gap, u)
		}
	})
	t.Run("zero capacity", func(t *testing.T) {
		in := handInstance()
		in.Locations[2].Capacity = Capacity{}
		for i := range 10 {
			in.Workloads = append(in.Workloads, Workload{ID: fmt.Sprint(i), Current: "a", VCPU: 1, MemoryGiB: 1})
		}
		res, err := Solve(t.Context(), in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		a := verify(t, in, res)
		if a.Load[2] != (Capacity{}) {
			t.Errorf("load %+v at a location of capacity 0", a.Load[2])
		}
	})
}
