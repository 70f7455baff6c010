package placement

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// DefaultWeights are the performance weights SolvePareto uses when
// ParetoOptions.Weights is empty.
var DefaultWeights = []float64{0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9}

// ParetoOptions tune SolvePareto.
type ParetoOptions struct {
	// Weights are the weights α of performance, each in [0, 1); nil
	// means DefaultWeights. Zero is the cheapest placement.
	Weights []float64
	// Options apply to the solve of each point, except TimeLimit, which
	// is for the whole front and is shared among the points left.
	Options
}

// ParetoPoint is one solve of the front.
type ParetoPoint struct {
	// Weight is the α the objective was scalarised with.
	Weight float64 `json:"weight"`
	// Result holds the placement, its Cost, Performance and Moves, and
	// the Objective, Bound and Gap of the scalarised problem.
	Result *Result `json:"result"`
}

// Front is a set of placements none of which is both cheaper and better
// performing than another, with three of them named.
type Front struct {
	// Points are the non-dominated points, by increasing cost.
	Points []ParetoPoint `json:"points"`
	// MaxSavings is the index in Points of the cheapest placement.
	MaxSavings int `json:"max_savings"`
	// Balanced is the index of the point nearest the ideal (the least
	// cost and the most performance on the front), each objective scaled
	// to the range the front spans.
	Balanced int `json:"balanced"`
	// PerformanceFirst is the index of the best-performing placement.
	PerformanceFirst int `json:"performance_first"`
	// CostScale and PerfScale normalise the two objectives in the
	// scalarisation (see SolvePareto).
	CostScale float64 `json:"cost_scale"`
	PerfScale float64 `json:"perf_scale"`
}

// SolvePareto trades cost against performance by weighted sums: for each
// weight α it minimises
//
//	(1−α) C(x)/C* + α (P* − P(x))/P*
//
// where C(x) = Σ c_ij x_ij, P(x) = Σ perf_ij x_ij, C* = Σ_i min_j c_ij and
// P* = Σ_i max_j perf_ij are the ideal cost and performance of each
// workload taken alone. Every point is a full Solve under the same
// constraints, warm-started from the previous point's multipliers, and
// carries its own proven gap. Since a placement found for one weight may
// score better under another, each point takes the best placement found
// for its own objective; points that are still dominated (possible, since
// each is optimal only within its gap) are dropped. Errors are those of
// Solve, and an error wrapping domain.ErrInvalid for a weight outside
// [0, 1).
func SolvePareto(ctx context.Context, in *Instance, opts ParetoOptions) (*Front, error) {
	start := time.Now()
	weights := opts.Weights
	if len(weights) == 0 {
		weights = DefaultWeights
	}
	for _, a := range weights {
		if !(a >= 0 && a < 1) {
			return nil, fmt.Errorf("%w: pareto: weight %v is outside [0, 1)", domain.ErrInvalid, a)
		}
	}
	weights = slices.Clone(weights)
	slices.Sort(weights)
	weights = slices.Compact(weights)
	if err := opts.validate(); err != nil {
		return nil, err
	}
	ev, err := NewEvaluator(in)
	if err != nil {
		return nil, err
	}
	p := compile(ev)
	// Ideal cost and performance, and each entry's performance shortfall.
	best := make([]float64, p.n)
	var cs, ps sum
	for i := range p.n {
		lo, hi := math.Inf(1), 0.0
		for e := p.start[i]; e < p.start[i+1]; e++ {
			lo = math.Min(lo, p.cost[e])
			hi = math.Max(hi, p.dem[i*dims]*p.perf[p.loc[e]])
		}
		if p.start[i] < p.start[i+1] {
			cs.add(lo)
			ps.add(hi)
		}
		best[i] = hi
	}
	front := &Front{CostScale: cs.total(), PerfScale: ps.total()}
	if !(front.CostScale > 0) {
		front.CostScale = 1
	}
	if !(front.PerfScale > 0) {
		front.PerfScale = 1
	}
	obj := make([]float64, len(p.cost))
	var all []ParetoPoint
	var duals []float64
	for k, a := range weights {
		for i := range p.n {
			for e := p.start[i]; e < p.start[i+1]; e++ {
				short := best[i] - p.dem[i*dims]*p.perf[p.loc[e]]
				obj[e] = (1-a)*p.cost[e]/front.CostScale + a*short/front.PerfScale
			}
		}
		o := opts.Options
		o.start = duals
		if opts.TimeLimit > 0 {
			left := opts.TimeLimit - time.Since(start)
			if left <= 0 {
				left = time.Millisecond
			}
			o.TimeLimit = left / time.Duration(len(weights)-k)
		}
		res, err := solveProblem(ctx, ev, p, obj, o, time.Now())
		if err != nil {
			return nil, err
		}
		duals = res.duals
		all = append(all, ParetoPoint{Weight: a, Result: res})
		if ctx.Err() != nil {
			break
		}
	}
	// A placement found for one weight may be better for another: each
	// point takes the best placement found for its own objective (among
	// those that place the same workloads), and its gap is recomputed
	// against its own bound.
	placed := func(r *Result) []bool {
		out := make([]bool, len(r.Assignment))
		for i, j := range r.Assignment {
			out[i] = j >= 0
		}
		return out
	}
	scalar := func(a float64, r *Result, bestSum float64) float64 {
		return (1-a)*r.Cost/front.CostScale + a*(bestSum-r.Performance)/front.PerfScale
	}
	for k := range all {
		pk := placed(all[k].Result)
		var bs sum
		for i, ok := range pk {
			if ok {
				bs.add(best[i])
			}
		}
		bestSum := bs.total()
		a := all[k].Weight
		own := all[k].Result
		pick := own
		for _, other := range all {
			r := other.Result
			if r != pick && slices.Equal(placed(r), pk) && scalar(a, r, bestSum) < scalar(a, pick, bestSum) {
				pick = r
			}
		}
		if pick != own {
			adopted := *own
			adopted.Assignment = slices.Clone(pick.Assignment)
			adopted.Cost, adopted.Performance, adopted.Moves = pick.Cost, pick.Performance, pick.Moves
			adopted.Objective = scalar(a, pick, bestSum)
			adopted.Gap = gapOf(adopted.Objective, adopted.Bound)
			all[k].Result = &adopted
		}
	}
	// Keep the non-dominated points, by cost then performance.
	slices.SortStableFunc(all, func(x, y ParetoPoint) int {
		if c := cmpFloat(x.Result.Cost, y.Result.Cost); c != 0 {
			return c
		}
		return -cmpFloat(x.Result.Performance, y.Result.Performance)
	})
	for _, pt := range all {
		if n := len(front.Points); n > 0 && front.Points[n-1].Result.Performance >= pt.Result.Performance {
			continue // costs at least as much and performs no better
		}
		front.Points = append(front.Points, pt)
	}
	pts := front.Points
	front.MaxSavings = 0
	front.PerformanceFirst = len(pts) - 1
	cMin, cMax := pts[0].Result.Cost, pts[len(pts)-1].Result.Cost
	pMin, pMax := pts[0].Result.Performance, pts[len(pts)-1].Result.Performance
	bestD := math.Inf(1)
	for k, pt := range pts {
		dc, dp := 0.0, 0.0
		if cMax > cMin {
			dc = (pt.Result.Cost - cMin) / (cMax - cMin)
		}
		if pMax > pMin {
			dp = (pMax - pt.Result.Performance) / (pMax - pMin)
		}
		if d := math.Hypot(dc, dp); d < bestD {
			bestD, front.Balanced = d, k
		}
	}
	return front, nil
}
