package placement

import (
	"container/heap"
	"math"
)

// pricer gives the price the greedy ranks an entry by: the objective
// coefficient plus the capacity and move multipliers it would use,
// c_ij + Σ_d λ_jd r_id + μ [move]. With zero multipliers it is the
// objective itself.
type pricer struct {
	p   *problem
	obj []float64
	lam []float64 // λ at j*dims+d; nil means zero
	mu  float64
}

func (pr *pricer) price(i int, e int32) float64 {
	a := pr.obj[e]
	if pr.lam != nil {
		j := int(pr.p.loc[e]) * dims
		for d := range dims {
			a += pr.lam[j+d] * pr.p.dem[i*dims+d]
		}
	}
	if pr.mu != 0 && pr.p.moves(i, e) {
		a += pr.mu
	}
	return a
}

// bestTwo returns workload i's cheapest feasible entry by pr and the
// price gap to the second cheapest (+Inf when it has one option), or
// ok=false when nothing fits. An entry is feasible when the workload
// fits there and, for a move, the move cap has room.
func (s *state) bestTwo(i int, pr *pricer) (best int32, regret float64, ok bool) {
	p := s.p
	b1, b2 := math.Inf(1), math.Inf(1)
	best = -1
	canMove := s.moves < p.k
	for e := p.start[i]; e < p.start[i+1]; e++ {
		if !canMove && p.moves(i, e) {
			continue
		}
		if !s.fits(i, p.loc[e]) {
			continue
		}
		a := pr.price(i, e)
		switch {
		case a < b1:
			b2, b1, best = b1, a, e
		case a < b2:
			b2 = a
		}
	}
	if best < 0 {
		return -1, 0, false
	}
	return best, b2 - b1, true
}

// regretGreedy places the workloads of todo, which must be unplaced, in
// order of regret: the workload that would lose most by not getting its
// cheapest feasible location goes first. Regrets are recomputed lazily
// when a workload reaches the top of the queue. It returns the workloads
// it could not place.
func regretGreedy(s *state, pr *pricer, todo []int32) []int32 {
	var failed []int32
	h := make(regretHeap, 0, len(todo))
	for _, i := range todo {
		if _, r, ok := s.bestTwo(int(i), pr); ok {
			h = append(h, regretItem{r, i})
		} else {
			failed = append(failed, i)
		}
	}
	heap.Init(&h)
	// A workload goes back into the queue when its regret fell below the
	// next one's since it was queued, at most a few times.
	const maxRequeue = 3
	requeued := make(map[int32]int8)
	for h.Len() > 0 {
		it := heap.Pop(&h).(regretItem)
		i := int(it.i)
		best, r, ok := s.bestTwo(i, pr)
		if !ok {
			failed = append(failed, it.i)
			continue
		}
		if h.Len() > 0 && r < h[0].regret && requeued[it.i] < maxRequeue {
			requeued[it.i]++
			heap.Push(&h, regretItem{r, it.i})
			continue
		}
		s.place(i, best)
	}
	return failed
}

type regretItem struct {
	regret float64
	i      int32
}

// regretHeap is a max-heap by regret, ties by workload index.
type regretHeap []regretItem

func (h regretHeap) Len() int { return len(h) }
func (h regretHeap) Less(a, b int) bool {
	if h[a].regret != h[b].regret {
		return h[a].regret > h[b].regret
	}
	return h[a].i < h[b].i
}
func (h regretHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *regretHeap) Push(x any)   { *h = append(*h, x.(regretItem)) }
func (h *regretHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// makeRoom tries to place unplaced workload i by first relocating other
// workloads out of one of its allowed locations, cheapest relocation per
// unit of room first. It changes nothing and returns false when that
// does not work.
func makeRoom(s *state, i int, pr *pricer) bool {
	p := s.p
	// Locations by i's price, cheapest first.
	type cand struct {
		e     int32
		price float64
	}
	var cands []cand
	for e := p.start[i]; e < p.start[i+1]; e++ {
		if p.moves(i, e) && s.moves >= p.k {
			continue
		}
		cands = append(cands, cand{e, pr.price(i, e)})
	}
	sortByKey(cands, func(c cand) float64 { return c.price })
	for _, c := range cands {
		j := p.loc[c.e] // i fits into j empty: rows hold usable pairs only
		// Others at j and their cheapest other feasible entry.
		type ev struct {
			o    int
			to   int32
			cost float64
		}
		var evs []ev
		for o, e := range s.at {
			if e < 0 || p.loc[e] != j {
				continue
			}
			best, bc := int32(-1), math.Inf(1)
			for f := p.start[o]; f < p.start[o+1]; f++ {
				if p.loc[f] == j || !s.fits(o, p.loc[f]) {
					continue
				}
				if s.mv(o, f)-s.mv(o, e) > 0 && s.moves >= p.k {
					continue
				}
				if a := pr.price(o, f) - pr.price(o, e); a < bc {
					best, bc = f, a
				}
			}
			if best >= 0 {
				evs = append(evs, ev{o, best, bc / (p.dem[o*dims] + 1e-9)})
			}
		}
		sortByKey(evs, func(v ev) float64 { return v.cost })
		type undo struct {
			o    int
			from int32
		}
		var log []undo
		for _, v := range evs {
			if s.fits(i, j) {
				break
			}
			f := s.at[v.o]
			if !s.fits(v.o, p.loc[v.to]) || (s.mv(v.o, v.to)-s.mv(v.o, f) > 0 && s.moves >= p.k) {
				continue
			}
			log = append(log, undo{v.o, f})
			s.relocate(v.o, v.to)
		}
		if s.fits(i, j) && (!p.moves(i, c.e) || s.moves < p.k) {
			s.place(i, c.e)
			return true
		}
		for k := len(log) - 1; k >= 0; k-- {
			s.relocate(log[k].o, log[k].from)
		}
	}
	return false
}

// lagrangianRepair places the workloads of todo, which must be
// unplaced, where the priced subproblem puts them (each at its cheapest
// entry by pr, ignoring capacities and the move cap), then repairs that
// placement: while a location is over capacity it relocates the
// workload that is cheapest to relocate per unit of the overload it
// removes to a location with room, and while the move cap is exceeded it
// sends back the move that costs least to undo. It reports false, with s
// in an unspecified state, when it cannot repair.
func lagrangianRepair(s *state, pr *pricer, todo []int32) bool {
	p := s.p
	for _, w := range todo {
		i := int(w)
		best, bv := int32(-1), math.Inf(1)
		for e := p.start[i]; e < p.start[i+1]; e++ {
			a := pr.price(i, e)
			if a < bv || (a == bv && e == p.curE[i]) {
				best, bv = e, a
			}
		}
		s.place(i, best)
	}
	members := make([][]int32, p.m)
	for _, w := range todo {
		j := p.loc[s.at[w]]
		members[j] = append(members[j], w)
	}
	over := func(j int) (float64, float64) {
		return math.Max(0, s.load[j*dims]-p.capT[j*dims]), math.Max(0, s.load[j*dims+1]-p.capT[j*dims+1])
	}
	for j := range p.m {
		for {
			ov, om := over(j)
			if ov == 0 && om == 0 {
				break
			}
			// The cheapest relocation per unit of overload removed.
			bw, bf, bscore := -1, int32(-1), math.Inf(1)
			for k, w := range members[j] {
				i := int(w)
				e := s.at[i]
				if e < 0 || int(p.loc[e]) != j {
					continue
				}
				relief := 0.0
				if ov > 0 {
					relief += math.Min(ov, p.dem[i*dims]) / ov
				}
				if om > 0 {
					relief += math.Min(om, p.dem[i*dims+1]) / om
				}
				if relief == 0 {
					continue
				}
				base := pr.price(i, e)
				for f := p.start[i]; f < p.start[i+1]; f++ {
					if f == e || !s.fits(i, p.loc[f]) {
						continue
					}
					if sc := (pr.price(i, f) - base) / relief; sc < bscore {
						bw, bf, bscore = k, f, sc
					}
				}
			}
			if bw < 0 {
				return false
			}
			i := int(members[j][bw])
			s.relocate(i, bf)
			members[j] = append(members[j][:bw], members[j][bw+1:]...)
			members[p.loc[bf]] = append(members[p.loc[bf]], int32(i))
		}
	}
	if s.moves <= p.k {
		return true
	}
	// Too many moves: undo the cheapest ones.
	var moved []int32
	for _, w := range todo {
		i := int(w)
		if p.curE[i] >= 0 && s.at[i] != p.curE[i] {
			moved = append(moved, w)
		}
	}
	sortByKey(moved, func(w int32) float64 {
		i := int(w)
		return pr.price(i, p.curE[i]) - pr.price(i, s.at[i])
	})
	for _, w := range moved {
		if s.moves <= p.k {
			break
		}
		i := int(w)
		if s.fits(i, p.loc[p.curE[i]]) {
			s.relocate(i, p.curE[i])
		}
	}
	return s.moves <= p.k
}
