package placement

import (
	"errors"
	"fmt"
	"math"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Assessment is what Check finds in a valid placement.
type Assessment struct {
	// Placed counts the workloads with a location.
	Placed int `json:"placed"`
	// Cost and Performance are Σ c_ij and Σ perf_ij over them.
	Cost        float64 `json:"cost"`
	Performance float64 `json:"performance"`
	// Moves counts the placed workloads away from their current location.
	Moves int `json:"moves"`
	// Load is the demand placed at each location.
	Load []Capacity `json:"load"`
}

// Check verifies a placement of in's workloads from the instance alone,
// sharing nothing with the solver but the model's definitions (the
// allowed-set rules and the cost formula): assignment[i] is workload i's
// location index, or -1 for a workload left unplaced. It checks that
// every placed workload is at a location its policy allows, that no
// location's capacity is exceeded in any dimension (beyond a rounding
// tolerance of a billionth plus a millionth of a unit) and that at most
// MaxMoves workloads leave their current location. It returns the
// placement's totals, or an error wrapping domain.ErrInvalid that lists
// up to ten violations.
func Check(in *Instance, assignment []int) (Assessment, error) {
	ev, err := NewEvaluator(in)
	if err != nil {
		return Assessment{}, err
	}
	n, m := len(in.Workloads), len(in.Locations)
	if len(assignment) != n {
		return Assessment{}, fmt.Errorf("%w: placement check: %d assignments for %d workloads", domain.ErrInvalid, len(assignment), n)
	}
	var errs []error
	report := func(format string, a ...any) {
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	a := Assessment{Load: make([]Capacity, m)}
	var cost, perf sum
	for i, j := range assignment {
		if j == -1 {
			continue
		}
		w := &in.Workloads[i]
		if j < 0 || j >= m {
			report("workload %q: location index %d out of range", w.ID, j)
			continue
		}
		if !ev.Allowed(i, j) {
			report("workload %q: placed at %q, which its policy does not allow", w.ID, in.Locations[j].ID)
		}
		a.Placed++
		a.Load[j].VCPU += w.VCPU
		a.Load[j].MemoryGiB += w.MemoryGiB
		if w.Current != "" && w.Current != in.Locations[j].ID {
			a.Moves++
		}
		cost.add(ev.Cost(i, j).Total())
		perf.add(ev.Performance(i, j))
	}
	for j, l := range in.Locations {
		if over(a.Load[j].VCPU, l.Capacity.VCPU) {
			report("location %q: %g vCPU placed, capacity %g", l.ID, a.Load[j].VCPU, l.Capacity.VCPU)
		}
		if over(a.Load[j].MemoryGiB, l.Capacity.MemoryGiB) {
			report("location %q: %g GiB placed, capacity %g", l.ID, a.Load[j].MemoryGiB, l.Capacity.MemoryGiB)
		}
	}
	if a.Moves > in.MaxMoves {
		report("%d workloads move, the cap is %d", a.Moves, in.MaxMoves)
	}
	a.Cost, a.Performance = cost.total(), perf.total()
	if len(errs) > 0 {
		return a, fmt.Errorf("%w: placement check: %w", domain.ErrInvalid, errors.Join(errs...))
	}
	return a, nil
}

func over(load, capacity float64) bool {
	return !math.IsInf(capacity, 1) && load > capacity+capTol(capacity)
}
