package placement

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Options tune a solve. The zero Options is ready to use.
type Options struct {
	// GapTarget stops the solve once (objective − bound)/|objective| is
	// at most this. Zero means DefaultGapTarget; it must not be negative.
	GapTarget float64
	// TimeLimit bounds the solve's wall time on top of ctx's deadline;
	// zero means no limit beyond ctx.
	TimeLimit time.Duration
	// MaxIterations bounds the evaluations of the Lagrangian dual; zero
	// means DefaultMaxIterations.
	MaxIterations int
	// Seed drives the heuristics' choices (the order of local search,
	// what ruin and recreate takes apart); the same instance, options and
	// seed give the same result unless a limit of time cuts it short.
	Seed uint64
	// Workers is how many goroutines evaluate the dual; zero means
	// GOMAXPROCS. Results do not depend on it.
	Workers int

	// start is a dual point to start from (SolvePareto's previous point).
	start []float64
}

// Defaults of Options.
const (
	DefaultGapTarget     = 1e-4
	DefaultMaxIterations = 5000
)

// StopReason says why a solve ended.
type StopReason string

// The reasons a solve ends.
const (
	// StopGap: the proven gap reached Options.GapTarget.
	StopGap StopReason = "gap"
	// StopConverged: the dual bound is as good as the method makes it
	// and ruin and recreate stopped finding better placements; the gap
	// left is mostly the difference between the best placement and the LP
	// relaxation, which only branching or cuts could close.
	StopConverged StopReason = "converged"
	// StopTimeLimit: Options.TimeLimit or ctx's deadline passed.
	StopTimeLimit StopReason = "time_limit"
	// StopIterationLimit: Options.MaxIterations dual evaluations ran.
	StopIterationLimit StopReason = "iteration_limit"
	// StopCanceled: ctx was canceled.
	StopCanceled StopReason = "canceled"
)

// Result is the outcome of a solve: a placement that respects every
// constraint, what it costs, and how far from optimal it can be at most.
type Result struct {
	// Assignment holds each workload's location index, or -1 for a
	// workload listed in Unplaced.
	Assignment []int `json:"assignment"`
	// Cost is Σ c_ij of the placed workloads, currency units a month.
	Cost float64 `json:"cost"`
	// Performance is Σ perf_ij of the placed workloads.
	Performance float64 `json:"performance"`
	// Moves is the number of placed workloads that leave their current
	// location.
	Moves int `json:"moves"`
	// Objective is what was minimised: Cost for Solve, the scalarised
	// objective of the point for SolvePareto.
	Objective float64 `json:"objective"`
	// Bound is a proven lower bound on Objective over all placements of
	// the placed workloads: the Lagrangian dual, evaluated exactly at the
	// final multipliers.
	Bound float64 `json:"bound"`
	// Gap is (Objective − Bound)/|Objective|, 0 when both are 0.
	Gap float64 `json:"gap"`
	// Iterations counts the evaluations of the Lagrangian dual.
	Iterations int `json:"iterations"`
	// Elapsed is the wall time of the solve.
	Elapsed time.Duration `json:"elapsed"`
	// Stop says why the solve ended.
	Stop StopReason `json:"stop"`
	// Unplaced lists the workloads that could not be placed and why; the
	// rest are placed and Bound and Gap are about them.
	Unplaced []Unplaced `json:"unplaced,omitempty"`

	duals []float64 // the final multipliers, to warm-start a related solve
}

// Reason says why a workload could not be placed.
type Reason string

// The reasons a workload is left unplaced.
const (
	// ReasonNoAllowedLocation: its policy allows none of the locations.
	ReasonNoAllowedLocation Reason = "no_allowed_location"
	// ReasonTooLarge: its demand exceeds the whole capacity of every
	// allowed location.
	ReasonTooLarge Reason = "too_large"
	// ReasonCapacity: its allowed locations are full.
	ReasonCapacity Reason = "capacity"
	// ReasonMoveCap: it could run only somewhere that means a move, and
	// the move cap is used up.
	ReasonMoveCap Reason = "move_cap"
)

// Unplaced is a workload the solve could not place. A workload that has
// a current location stays there, outside the plan; it takes no capacity
// and no move in the result.
type Unplaced struct {
	Workload int    `json:"workload"`
	ID       string `json:"id"`
	Reason   Reason `json:"reason"`
	// Proven is true when the reason is a proof that no placement of all
	// workloads exists, false when the heuristic merely found no room.
	Proven bool   `json:"proven"`
	Detail string `json:"detail"`
}

// Solve places the workloads of in at the least monthly cost under the
// capacities, the allowed sets and the move cap; see the package
// documentation for the method. An invalid instance or options give an
// error wrapping domain.ErrInvalid; anything else, infeasibility
// included, gives a Result. It returns the best placement found when ctx
// is done or a limit is reached, never nothing.
func Solve(ctx context.Context, in *Instance, opts Options) (*Result, error) {
	start := time.Now()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	ev, err := NewEvaluator(in)
	if err != nil {
		return nil, err
	}
	p := compile(ev)
	return solveProblem(ctx, ev, p, p.cost, opts, start)
}

func (o *Options) validate() error {
	if math.IsNaN(o.GapTarget) || o.GapTarget < 0 {
		return fmt.Errorf("%w: placement options: gap target %v must be at least 0", domain.ErrInvalid, o.GapTarget)
	}
	if o.TimeLimit < 0 {
		return fmt.Errorf("%w: placement options: time limit %v must be at least 0", domain.ErrInvalid, o.TimeLimit)
	}
	if o.MaxIterations < 0 {
		return fmt.Errorf("%w: placement options: max iterations %d must be at least 0", domain.ErrInvalid, o.MaxIterations)
	}
	if o.Workers < 0 {
		return fmt.Errorf("%w: placement options: workers %d must be at least 0", domain.ErrInvalid, o.Workers)
	}
	return nil
}

// gapOf is (obj − bound)/|obj|.
func gapOf(obj, bound float64) float64 {
	if obj == bound {
		return 0
	}
	if obj == 0 {
		return math.Inf(1)
	}
	return math.Max(0, (obj-bound)/math.Abs(obj))
}

// solveProblem solves p with the objective coefficients obj (p.cost for
// Solve, a scalarisation for SolvePareto); start is when the solve began,
// for the time limit.
func solveProblem(parent context.Context, ev *Evaluator, p *problem, obj []float64, opts Options, start time.Time) (*Result, error) {
	ctx := parent
	if opts.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, opts.TimeLimit-time.Since(start))
		defer cancel()
	}
	target := opts.GapTarget
	if target == 0 {
		target = DefaultGapTarget
	}
	maxEval := opts.MaxIterations
	if maxEval == 0 {
		maxEval = DefaultMaxIterations
	}

	// Workloads that no placement can take.
	var unplaced []Unplaced
	var todo []int32
	doomed := make([]bool, p.n)
	for i := range p.n {
		if u, bad := hopeless(ev, p, i); bad {
			unplaced = append(unplaced, u)
			doomed[i] = true
		} else {
			todo = append(todo, int32(i))
		}
	}

	// Warm start: the greedy from the status quo and the greedy priced
	// with a first guess of the move multiplier; the one that places more
	// workloads, then the cheaper, wins.
	inc := warmStart(p, obj, todo)
	if left := inc.unplaced(); len(left) > len(unplaced) {
		pr := &pricer{p: p, obj: obj}
		tried := 0
		for _, i := range left {
			if doomed[i] {
				continue
			}
			if tried++; tried > maxMakeRoom {
				break
			}
			makeRoom(inc, int(i), pr)
		}
	}
	// A few rounds: the multipliers soon give better starts.
	newImprover(inc, opts.Seed).run(ctx, 5)
	incValue := inc.value()

	// The relaxation covers the placed workloads.
	var active []int32
	for i, e := range inc.at {
		if e >= 0 {
			active = append(active, int32(i))
		}
	}
	d := newDual(p, obj, active, opts.Workers)
	// The scale of the objective, Σ_i |min_j c_ij|, sets the smoothing's
	// start and the dual's tolerance.
	scaleAbs := 0.0
	for _, w := range active {
		i := int(w)
		lo := math.Inf(1)
		for e := p.start[i]; e < p.start[i+1]; e++ {
			lo = math.Min(lo, obj[e])
		}
		scaleAbs += math.Abs(lo)
	}
	if scaleAbs == 0 {
		scaleAbs = 1
	}
	tau0 := 0.02 * scaleAbs / float64(max(1, len(active)))
	tol := 1e-7 * scaleAbs

	res := &Result{}
	gapReached := false
	h := &lagrangianHeuristic{p: p, obj: obj, active: active, trial: newState(p, obj), seed: opts.Seed}
	stage := 0
	stalls, stalled := 0, false
	lastBound, lastValue := math.Inf(-1), math.Inf(1)
	asc := d.ascent(ctx, opts.start, tau0, tol, maxEval, func(best *evaluation, tau float64) bool {
		if gapOf(incValue, best.exact) <= target {
			gapReached = true
			return false
		}
		if ctx.Err() != nil {
			return false
		}
		stage++
		lam, mu := d.multipliers(best.v)
		// The objective at which the gap target is met: v − L ≤ target·v.
		h.goal = best.exact / (1 - math.Min(target, 0.5))
		if v := h.run(ctx, lam, mu, stage <= 2, inc, incValue); v < incValue {
			incValue = v
		}
		if gapOf(incValue, best.exact) <= target {
			gapReached = true
			return false
		}
		// Stalled: two stages in a row in which neither the bound nor the
		// placement gained 1% of the gap left. What remains is the
		// integrality gap, which more precision in the dual cannot close.
		gap := incValue - best.exact
		if stage > 2 && best.exact-lastBound < 0.01*gap && lastValue-incValue < 0.01*gap {
			if stalls++; stalls >= 2 {
				stalled = true
				return false
			}
		} else {
			stalls = 0
		}
		lastBound, lastValue = best.exact, incValue
		return true
	})
	res.Iterations = asc.evals

	// The bound, recomputed exactly at the final multipliers.
	var final evaluation
	bestV := asc.best.v
	if bestV == nil {
		bestV = make([]float64, d.nv)
	}
	d.eval(context.Background(), bestV, 0, false, &final)
	res.Bound = final.exact
	res.duals = slices.Clone(bestV)

	// With the dual converged and the gap still open, ruin and recreate
	// until it stops paying.
	if !gapReached && (asc.done || stalled) && ctx.Err() == nil {
		lam, mu := d.multipliers(bestV)
		rr := &ruinRecreate{p: p, obj: obj, lam: lam, mu: mu, seed: opts.Seed + 1<<32,
			rng: rand.New(rand.NewPCG(opts.Seed, 0x7275696e)), patience: ruinPatience(len(p.loc))}
		for j := range p.m {
			if lam[j*dims] > 0 || lam[j*dims+1] > 0 {
				rr.binding = append(rr.binding, int32(j))
			}
		}
		rr.run(ctx, inc, func(v float64) bool { return gapOf(v, res.Bound) <= target })
	}

	inc.recount()
	res.Objective = inc.value()
	res.Gap = gapOf(res.Objective, res.Bound)
	switch {
	case gapReached || res.Gap <= target:
		res.Stop = StopGap
	case errors.Is(parent.Err(), context.Canceled):
		res.Stop = StopCanceled
	case ctx.Err() != nil:
		res.Stop = StopTimeLimit
	case res.Iterations >= maxEval:
		res.Stop = StopIterationLimit
	default:
		res.Stop = StopConverged
	}

	res.Assignment = make([]int, p.n)
	var cost, perf sum
	for i, e := range inc.at {
		if e < 0 {
			res.Assignment[i] = -1
			continue
		}
		j := int(p.loc[e])
		res.Assignment[i] = j
		cost.add(p.cost[e])
		perf.add(p.dem[i*dims] * p.perf[j])
	}
	res.Cost, res.Performance, res.Moves = cost.total(), perf.total(), inc.moves
	ex := newExplainer(ev, p, inc)
	for _, i := range inc.unplaced() {
		if !doomed[i] {
			unplaced = append(unplaced, ex.explain(int(i)))
		}
	}
	slices.SortFunc(unplaced, func(a, b Unplaced) int { return a.Workload - b.Workload })
	res.Unplaced = unplaced
	res.Elapsed = time.Since(start)
	// The placement is checked from the instance alone; a failure is a
	// bug in the solver, reported rather than returned as a plan.
	if _, err := Check(ev.in, res.Assignment); err != nil {
		return nil, fmt.Errorf("placement solver produced an invalid placement: %w", err)
	}
	return res, nil
}

// lagrangianHeuristic turns multipliers into placements: the solution
// of the priced subproblem repaired into a feasible placement (and,
// while the multipliers are rough, the regret greedy with the same
// prices, which then does better), each improved by local search.
type lagrangianHeuristic struct {
	p      *problem
	obj    []float64
	active []int32
	trial  *state
	seed   uint64
	goal   float64 // the objective that meets the gap target
}

// run builds placements from the multipliers and copies the best into
// inc when it is cheaper than incValue; it returns the best value.
func (h *lagrangianHeuristic) run(ctx context.Context, lam []float64, mu float64, withGreedy bool, inc *state, incValue float64) float64 {
	pr := &pricer{p: h.p, obj: h.obj, lam: lam, mu: mu}
	variants := 1
	if withGreedy {
		variants = 2
	}
	trial := h.trial
	for variant := range variants {
		for i := range trial.at {
			trial.at[i] = -1
		}
		clear(trial.load)
		trial.moves = 0
		complete := true
		if variant == 0 {
			complete = lagrangianRepair(trial, pr, h.active)
		} else {
			for _, i := range regretGreedy(trial, pr, h.active) {
				if !makeRoom(trial, int(i), pr) {
					complete = false
					break
				}
			}
		}
		if !complete {
			continue // these prices gave no complete placement
		}
		h.seed++
		im := newImprover(trial, h.seed)
		im.goal = h.goal
		im.run(ctx, 50)
		if v := trial.value(); v < incValue {
			inc.copyFrom(trial)
			incValue = v
		}
		if incValue <= h.goal {
			break
		}
	}
	return incValue
}

// ruinPatience is how many ruin-and-recreate rounds in a row may fail
// to improve the placement before the solve stops: more for small
// instances, where rounds are cheap, at least 10.
func ruinPatience(entries int) int {
	return max(10, min(1000, 1_000_000/max(1, entries)))
}

// maxMakeRoom bounds the unplaced workloads the warm start tries to make
// room for by moving others.
const maxMakeRoom = 64

// warmStart builds the first complete placement (as far as one exists).
func warmStart(p *problem, obj []float64, todo []int32) *state {
	// From the status quo: everyone who may stay and fits stays; the
	// rest are placed by the greedy.
	a := newState(p, obj)
	var rest []int32
	for _, w := range todo {
		i := int(w)
		if e := p.curE[i]; e >= 0 && a.fits(i, p.loc[e]) {
			a.place(i, e)
		} else {
			rest = append(rest, w)
		}
	}
	regretGreedy(a, &pricer{p: p, obj: obj}, rest)

	// From scratch, with the move multiplier set to the K-th largest
	// saving a move offers, so that the moves go where they save most.
	var savings []float64
	forced := 0
	for _, w := range todo {
		i := int(w)
		if p.cur[i] >= 0 && p.curE[i] < 0 {
			forced++
		}
		if e := p.curE[i]; e >= 0 {
			lo := obj[e]
			for f := p.start[i]; f < p.start[i+1]; f++ {
				lo = math.Min(lo, obj[f])
			}
			savings = append(savings, obj[e]-lo)
		}
	}
	mu := 0.0
	if k := p.k - forced; k >= 0 && k < len(savings) {
		slices.SortFunc(savings, func(x, y float64) int { return -cmpFloat(x, y) })
		mu = savings[k]
	}
	b := newState(p, obj)
	regretGreedy(b, &pricer{p: p, obj: obj, mu: mu}, todo)

	na, nb := len(a.unplaced()), len(b.unplaced())
	if nb < na || (nb == na && b.value() < a.value()) {
		return b
	}
	return a
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// hopeless reports a workload that no placement can take: its policy
// allows no location, or its demand exceeds the capacity of each one it
// allows (such pairs are left out of the problem's rows).
func hopeless(ev *Evaluator, p *problem, i int) (Unplaced, bool) {
	if p.start[i] < p.start[i+1] {
		return Unplaced{}, false
	}
	w := &ev.in.Workloads[i]
	u := Unplaced{Workload: i, ID: w.ID, Proven: true}
	var most [dims]float64
	allowed := 0
	for j := range p.m {
		if ev.Allowed(i, j) {
			allowed++
			for d := range dims {
				most[d] = math.Max(most[d], p.cap[j*dims+d])
			}
		}
	}
	if allowed == 0 {
		u.Reason = ReasonNoAllowedLocation
		u.Detail = fmt.Sprintf("its policy allows none of the %d locations", p.m)
		return u, true
	}
	u.Reason = ReasonTooLarge
	u.Detail = fmt.Sprintf("it needs %g vCPU and %g GiB; none of its %d allowed locations has that much capacity (the most is %g vCPU and %g GiB)",
		w.VCPU, w.MemoryGiB, allowed, most[0], most[1])
	return u, true
}

// explainer says why the solve left workloads unplaced.
type explainer struct {
	ev     *Evaluator
	p      *problem
	s      *state
	forced int                      // workloads whose current location is not allowed
	proofs map[string][dims]float64 // allowed set → demand confined to it
	fixed  []float64                // with a move cap of 0, the load of those that must stay
}

func newExplainer(ev *Evaluator, p *problem, s *state) *explainer {
	x := &explainer{ev: ev, p: p, s: s, proofs: make(map[string][dims]float64)}
	for k := range p.n {
		if p.cur[k] >= 0 && p.curE[k] < 0 {
			x.forced++
		}
	}
	return x
}

// explain says why workload i is unplaced, and proves it when the
// workloads that can run only in i's allowed locations (which, with a
// move cap of 0, includes those that must stay there) need more than
// those locations have, or when more workloads must move than the cap
// allows.
func (x *explainer) explain(i int) Unplaced {
	p, s := x.p, x.s
	w := &x.ev.in.Workloads[i]
	u := Unplaced{Workload: i, ID: w.ID}
	// Room somewhere, but only as a move, and the cap is used up?
	for e := p.start[i]; e < p.start[i+1]; e++ {
		if s.fits(i, p.loc[e]) && p.moves(i, e) && s.moves >= p.k {
			u.Reason = ReasonMoveCap
			u.Detail = fmt.Sprintf("it can run only where it would move, and the move cap of %d is used up", p.k)
			if p.cur[i] >= 0 && p.curE[i] < 0 {
				u.Detail = fmt.Sprintf("its current location %s is not allowed, so it must move, and the move cap of %d is used up", w.Current, p.k)
			}
			if x.forced > p.k {
				u.Proven = true
				u.Detail += fmt.Sprintf(" (%d workloads are in locations their policy does not allow, more than the cap)", x.forced)
			}
			return u
		}
	}
	u.Reason = ReasonCapacity
	row := p.loc[p.start[i]:p.start[i+1]]
	var names []string
	for _, j := range row[:min(5, len(row))] {
		names = append(names, x.ev.in.Locations[j].ID)
	}
	list := strings.Join(names, ", ")
	if len(row) > len(names) {
		list += ", …"
	}
	var key strings.Builder
	for _, j := range row {
		fmt.Fprintf(&key, "%d,", j)
	}
	need, ok := x.proofs[key.String()]
	if !ok {
		// Demand confined to the allowed set J, against J's capacity.
		inJ := make([]bool, p.m)
		for _, j := range row {
			inJ[j] = true
		}
		for k := range p.n {
			if p.start[k] == p.start[k+1] {
				continue
			}
			confined := true
			if p.k == 0 && p.curE[k] >= 0 {
				// With no moves allowed it can only stay.
				confined = inJ[p.cur[k]]
			} else {
				for e := p.start[k]; e < p.start[k+1]; e++ {
					if !inJ[p.loc[e]] {
						confined = false
						break
					}
				}
			}
			if confined {
				for d := range dims {
					need[d] += p.dem[k*dims+d]
				}
			}
		}
		x.proofs[key.String()] = need
	}
	var have [dims]float64
	for _, j := range row {
		for d := range dims {
			have[d] += p.cap[int(j)*dims+d]
		}
	}
	unit := [dims]string{"vCPU", "GiB of memory"}
	if p.k == 0 {
		// With no moves allowed, the workloads that may stay must stay:
		// if they leave no location of J room enough, i fits nowhere.
		if x.fixed == nil {
			x.fixed = make([]float64, p.m*dims)
			for k := range p.n {
				if p.curE[k] >= 0 {
					for d := range dims {
						x.fixed[int(p.cur[k])*dims+d] += p.dem[k*dims+d]
					}
				}
			}
		}
		fitsSomewhere := false
		for _, j := range row {
			load := x.fixed[int(j)*dims : int(j)*dims+dims]
			own := j == p.cur[i] && p.curE[i] >= 0 // i is counted in its own location's load
			ok := true
			for d := range dims {
				l := load[d] + p.dem[i*dims+d]
				if own {
					l -= p.dem[i*dims+d]
				}
				if l > p.capT[int(j)*dims+d] {
					ok = false
				}
			}
			fitsSomewhere = fitsSomewhere || ok
		}
		if !fitsSomewhere {
			u.Proven = true
			u.Detail = fmt.Sprintf("%s full: with a move cap of 0 the workloads that may stay there must stay, and they leave no room for it", allowedPhrase(len(row), list))
			return u
		}
	}
	for d := range dims {
		if need[d] > have[d]+capTol(have[d]) {
			u.Proven = true
			u.Detail = fmt.Sprintf("%s full: the workloads that may run only there need %.6g %s, %s %.6g",
				allowedPhrase(len(row), list), need[d], unit[d], map[bool]string{true: "it has", false: "they have"}[len(row) == 1], have[d])
			return u
		}
	}
	u.Detail = fmt.Sprintf("%s full as placed; the heuristic found no room, which does not prove there is none", allowedPhrase(len(row), list))
	return u
}

// allowedPhrase names a workload's allowed locations: "its only allowed
// location (x) is" or "its 3 allowed locations (x, y, z) are".
func allowedPhrase(n int, list string) string {
	if n == 1 {
		return "its only allowed location (" + list + ") is"
	}
	return fmt.Sprintf("its %d allowed locations (%s) are", n, list)
}
