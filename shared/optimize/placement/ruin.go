package placement

import (
	"context"
	"math/rand/v2"
)

// ruinRecreate improves a complete placement by ruin and recreate: each
// round takes a part of the placement apart (2–12% of the workloads at
// random, or half of those at two locations whose capacity binds), places
// them again with the regret greedy priced by slightly perturbed
// multipliers, runs local search and keeps the result if it is cheaper.
// It stops after patience rounds in a row without improvement, when done
// reports true, or when ctx is done, and reports whether it improved inc.
type ruinRecreate struct {
	p        *problem
	obj      []float64
	lam      []float64 // the multipliers of the best dual point
	mu       float64
	binding  []int32 // locations whose capacity multiplier is positive
	rng      *rand.Rand
	seed     uint64
	patience int
}

func (rr *ruinRecreate) run(ctx context.Context, inc *state, done func(value float64) bool) bool {
	p := rr.p
	trial := inc.clone()
	best := inc.value()
	improved := false
	noisy := make([]float64, len(rr.lam))
	var ruined []int32
	var im *improver
	fails := 0
	for fails < rr.patience && ctx.Err() == nil && !done(best) {
		trial.copyFrom(inc)
		ruined = ruined[:0]
		if len(rr.binding) >= 2 && rr.rng.IntN(2) == 0 {
			// Half the workloads at two binding locations.
			a := rr.binding[rr.rng.IntN(len(rr.binding))]
			b := rr.binding[rr.rng.IntN(len(rr.binding))]
			for i, e := range trial.at {
				if e >= 0 && (p.loc[e] == a || p.loc[e] == b) && rr.rng.Float64() < 0.5 {
					ruined = append(ruined, int32(i))
				}
			}
		} else {
			share := 0.02 + 0.1*rr.rng.Float64()
			for i, e := range trial.at {
				if e >= 0 && rr.rng.Float64() < share {
					ruined = append(ruined, int32(i))
				}
			}
		}
		for _, i := range ruined {
			trial.unplace(int(i))
		}
		for k, l := range rr.lam {
			noisy[k] = l * (0.9 + 0.2*rr.rng.Float64())
		}
		pr := &pricer{p: p, obj: rr.obj, lam: noisy, mu: rr.mu * (0.9 + 0.2*rr.rng.Float64())}
		ok := true
		for _, i := range regretGreedy(trial, pr, ruined) {
			if !makeRoom(trial, int(i), pr) {
				ok = false
				break
			}
		}
		if ok {
			rr.seed++
			if im == nil {
				im = newImprover(trial, rr.seed)
			}
			im.focus(ruined, rr.seed)
			im.run(ctx, 10)
			if v := trial.value(); v < best-1e-7 {
				inc.copyFrom(trial)
				best = v
				improved = true
				fails = 0
				continue
			}
		}
		fails++
	}
	return improved
}
