package placement

import (
	"context"
	"math"
	"math/rand/v2"
)

// improver runs local search on a complete placement, keeping it
// feasible: every change respects the capacities and the move cap, and
// is made only when it lowers the objective by more than eps.
type improver struct {
	s     *state
	order []int32 // the order workloads are visited in, from the seed
	eps   float64
	goal  float64 // stop once the objective is at most this
	ctx   context.Context

	// Scratch of the ejection pass.
	alt     []int32   // each workload's cheapest other feasible entry, or -1
	altLoss []float64 // its objective increase
	members [][]int32 // the workloads at each location
	reverts []int32   // moved workloads by the cost of sending them back
}

// ejectTries is how many workloads the ejection pass tries to evict from
// a location for one workload that wants to go there.
const ejectTries = 8

func newImprover(s *state, seed uint64) *improver {
	im := &improver{s: s, order: make([]int32, s.p.n), eps: 1e-7, goal: math.Inf(-1)}
	for i := range im.order {
		im.order[i] = int32(i)
	}
	im.shuffle(seed)
	return im
}

// focus makes the passes visit only the given workloads (others still
// move when they are evicted or traded), in an order drawn from seed.
func (im *improver) focus(ws []int32, seed uint64) {
	im.order = append(im.order[:0], ws...)
	im.shuffle(seed)
}

func (im *improver) shuffle(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x706c6163656d656e))
	rng.Shuffle(len(im.order), func(a, b int) { im.order[a], im.order[b] = im.order[b], im.order[a] })
}

// run repeats the passes until a round improves the objective by less
// than a millionth, the objective reaches im.goal, ctx is done or rounds
// rounds have run. It returns the number of changes made.
func (im *improver) run(ctx context.Context, rounds int) int {
	im.ctx = ctx
	total := 0
	before := im.s.value()
	for r := 0; r < rounds && before > im.goal; r++ {
		if ctx.Err() != nil {
			break
		}
		n := im.shiftPass()
		if ctx.Err() != nil {
			total += n
			break
		}
		n += im.ejectionPass()
		n += im.exchangePass()
		total += n
		if n == 0 {
			break
		}
		im.s.recount()
		after := im.s.value()
		if before-after <= 1e-6*math.Abs(after) {
			break
		}
		before = after
	}
	im.s.recount()
	return total
}

// stopped reports, every 1024 steps k of a pass, whether the context is
// done, so that a pass over 100,000 workloads does not overrun a
// deadline.
func (im *improver) stopped(k int) bool {
	return k&1023 == 1023 && im.ctx != nil && im.ctx.Err() != nil
}

// moveOK reports whether a change of dm moves keeps the cap.
func (im *improver) moveOK(dm int) bool { return dm <= 0 || im.s.moves+dm <= im.s.p.k }

// shiftPass moves each workload to its cheapest entry that has room.
func (im *improver) shiftPass() int {
	s, p := im.s, im.s.p
	changes := 0
	for k, w := range im.order {
		if im.stopped(k) {
			break
		}
		i := int(w)
		e := s.at[i]
		if e < 0 {
			continue
		}
		best, bestV := int32(-1), s.obj[e]-im.eps
		base := s.mv(i, e)
		for f := p.start[i]; f < p.start[i+1]; f++ {
			if f == e || s.obj[f] >= bestV {
				continue
			}
			if !im.moveOK(s.mv(i, f)-base) || !s.fits(i, p.loc[f]) {
				continue
			}
			best, bestV = f, s.obj[f]
		}
		if best >= 0 {
			s.relocate(i, best)
			changes++
		}
	}
	return changes
}

// ejectionPass moves a workload u to a location j2 that has no room for
// it by moving a workload v out of j2, either to v's cheapest other
// location with room or to u's old location (a swap).
func (im *improver) ejectionPass() int {
	s, p := im.s, im.s.p
	if im.alt == nil {
		im.alt = make([]int32, p.n)
		im.altLoss = make([]float64, p.n)
		im.members = make([][]int32, p.m)
	}
	for j := range im.members {
		im.members[j] = im.members[j][:0]
	}
	for i, e := range s.at {
		im.alt[i] = -1
		if e < 0 {
			continue
		}
		im.members[p.loc[e]] = append(im.members[p.loc[e]], int32(i))
		best, bestV := int32(-1), math.Inf(1)
		base := s.mv(i, e)
		for f := p.start[i]; f < p.start[i+1]; f++ {
			if f == e || s.obj[f] >= bestV {
				continue
			}
			if !im.moveOK(s.mv(i, f)-base) || !s.fits(i, p.loc[f]) {
				continue
			}
			best, bestV = f, s.obj[f]
		}
		if best >= 0 {
			im.alt[i], im.altLoss[i] = best, bestV-s.obj[e]
		} else {
			im.altLoss[i] = math.Inf(1)
		}
	}
	for j := range im.members {
		sortByKey(im.members[j], func(v int32) float64 { return im.altLoss[v] })
	}
	// Moved workloads, the cheapest to send back first.
	im.reverts = im.reverts[:0]
	for i, e := range s.at {
		if e >= 0 && p.curE[i] >= 0 && e != p.curE[i] {
			im.reverts = append(im.reverts, int32(i))
		}
	}
	sortByKey(im.reverts, func(v int32) float64 { return s.obj[p.curE[v]] - s.obj[s.at[v]] })
	changes := 0
	for k, w := range im.order {
		if im.stopped(k) {
			break
		}
		u := int(w)
		e := s.at[u]
		if e < 0 {
			continue
		}
		j1 := p.loc[e]
		bestDelta := -im.eps
		var bu, bv int32 = -1, -1 // u's and v's new entries
		var bvw int
		for f := p.start[u]; f < p.start[u+1]; f++ {
			j2 := p.loc[f]
			gain := s.obj[e] - s.obj[f]
			if j2 == j1 || gain <= im.eps {
				continue
			}
			dmu := s.mv(u, f) - s.mv(u, e)
			if s.fits(u, j2) && im.moveOK(dmu) {
				continue // a shift, not an ejection
			}
			tries := 0
			for _, vw := range im.members[j2] {
				if tries++; tries > ejectTries {
					break
				}
				v := int(vw)
				ev := s.at[v]
				if ev < 0 || p.loc[ev] != j2 {
					continue // stale: v has moved this pass
				}
				if !s.fitsWithout(u, j2, v) {
					continue
				}
				// v to its cheapest other location with room.
				if t := im.alt[v]; t >= 0 && p.loc[t] != j2 {
					ok := s.fits(v, p.loc[t])
					if p.loc[t] == j1 {
						ok = s.fitsWithout(v, j1, u)
					}
					delta := -gain + s.obj[t] - s.obj[ev]
					if ok && delta < bestDelta && im.moveOK(dmu+s.mv(v, t)-s.mv(v, ev)) {
						bestDelta, bu, bv, bvw = delta, f, t, v
					}
				}
				// v to u's old location.
				if t := s.entryAt(v, j1); t >= 0 && s.fitsWithout(v, j1, u) {
					delta := -gain + s.obj[t] - s.obj[ev]
					if delta < bestDelta && im.moveOK(dmu+s.mv(v, t)-s.mv(v, ev)) {
						bestDelta, bu, bv, bvw = delta, f, t, v
					}
				}
			}
		}
		if bu >= 0 {
			s.unplace(u)
			s.unplace(bvw)
			s.place(u, bu)
			s.place(bvw, bv)
			changes++
			continue
		}
		if im.multiEject(u) {
			changes++
		}
	}
	return changes
}

// multiEjectCands bounds the workloads multiEject considers evicting.
const multiEjectCands = 32

// multiEject moves workload u to the blocked location it gains most at
// by moving several workloads out of it, each to its cheapest other
// location with room, cheapest loss per vCPU freed first. It makes the
// change only when the total lowers the objective, and reports whether
// it did.
func (im *improver) multiEject(u int) bool {
	s, p := im.s, im.s.p
	e := s.at[u]
	if e < 0 {
		return false
	}
	j1 := p.loc[e]
	// The blocked target with the largest gain.
	bf, bestGain := int32(-1), im.eps
	for f := p.start[u]; f < p.start[u+1]; f++ {
		j2 := p.loc[f]
		gain := s.obj[e] - s.obj[f]
		if j2 == j1 || gain <= bestGain {
			continue
		}
		if s.fits(u, j2) && im.moveOK(s.mv(u, f)-s.mv(u, e)) {
			continue
		}
		bf, bestGain = f, gain
	}
	if bf < 0 {
		return false
	}
	j2 := p.loc[bf]
	type cand struct {
		v     int32
		ratio float64
	}
	var cands [multiEjectCands]cand
	nc := 0
	for k, vw := range im.members[j2] {
		if nc == len(cands) || k == 4*multiEjectCands {
			break
		}
		v := int(vw)
		if ev := s.at[v]; ev < 0 || p.loc[ev] != j2 || v == u || im.alt[v] < 0 || p.loc[im.alt[v]] == j2 {
			continue
		}
		if im.altLoss[v] >= bestGain {
			break // members are sorted by loss: no single one is cheap enough
		}
		cands[nc] = cand{vw, im.altLoss[v] / p.dem[v*dims]}
		nc++
	}
	if nc < 2 {
		return false
	}
	list := cands[:nc]
	sortByKey(list, func(c cand) float64 { return c.ratio })
	type undo struct {
		v    int
		from int32
	}
	var done [multiEjectCands]undo
	nd := 0
	loss := 0.0
	rollback := func() {
		for k := nd - 1; k >= 0; k-- {
			s.relocate(done[k].v, done[k].from)
		}
	}
	dmu := s.mv(u, bf) - s.mv(u, e)
	for _, c := range list {
		if s.fits(u, j2) || nd == len(done)-1 {
			break
		}
		v := int(c.v)
		ev, t := s.at[v], im.alt[v]
		if p.loc[ev] != j2 || !s.fits(v, p.loc[t]) {
			continue
		}
		if loss+s.obj[t]-s.obj[ev] >= bestGain-im.eps {
			break
		}
		loss += s.obj[t] - s.obj[ev]
		done[nd] = undo{v, ev}
		nd++
		s.relocate(v, t)
	}
	if !s.fits(u, j2) {
		rollback()
		return false
	}
	// Free moves for the cap by sending back the moved workloads whose
	// moves save least.
	for _, rw := range im.reverts {
		if s.moves+dmu <= p.k || nd == len(done) || loss >= bestGain-im.eps {
			break
		}
		v := int(rw)
		ev, back := s.at[v], p.curE[v]
		if v == u || ev < 0 || ev == back || p.loc[back] == j2 || !s.fits(v, p.loc[back]) {
			continue
		}
		loss += s.obj[back] - s.obj[ev]
		done[nd] = undo{v, ev}
		nd++
		s.relocate(v, back)
	}
	if s.moves+dmu <= p.k && loss < bestGain-im.eps {
		s.relocate(u, bf)
		return true
	}
	rollback()
	return false
}

// exchangePass trades moves when the move cap is used up: it sends a
// moved workload back to its current location and spends the freed move
// on a workload that saves more by moving.
func (im *improver) exchangePass() int {
	s, p := im.s, im.s.p
	if s.moves < p.k || p.k == 0 {
		return 0
	}
	type item struct {
		i     int
		e     int32 // for a mover, its best move
		value float64
	}
	var back, out []item
	for i, e := range s.at {
		if e < 0 || p.cur[i] < 0 || p.curE[i] < 0 {
			continue
		}
		if e != p.curE[i] {
			back = append(back, item{i, p.curE[i], s.obj[p.curE[i]] - s.obj[e]})
			continue
		}
		best, bestV := int32(-1), s.obj[e]-im.eps
		for f := p.start[i]; f < p.start[i+1]; f++ {
			if f != e && s.obj[f] < bestV && s.fits(i, p.loc[f]) {
				best, bestV = f, s.obj[f]
			}
		}
		if best >= 0 {
			out = append(out, item{i, best, s.obj[e] - bestV})
		}
	}
	sortByKey(back, func(x item) float64 { return x.value })
	sortByKey(out, func(x item) float64 { return -x.value })
	changes := 0
	a, b := 0, 0
	for a < len(back) && b < len(out) && out[b].value-back[a].value > im.eps {
		ba, ob := back[a], out[b]
		if s.at[ba.i] == ba.e || s.at[ob.i] != p.curE[ob.i] {
			if s.at[ba.i] == ba.e {
				a++
			} else {
				b++
			}
			continue
		}
		if !s.fits(ba.i, p.loc[ba.e]) {
			a++
			continue
		}
		from := s.at[ba.i]
		s.relocate(ba.i, ba.e)
		if !s.fits(ob.i, p.loc[ob.e]) || s.moves >= p.k {
			s.relocate(ba.i, from)
			b++
			continue
		}
		s.relocate(ob.i, ob.e)
		changes++
		a++
		b++
	}
	return changes
}
