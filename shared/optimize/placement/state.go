package placement

import (
	"math"
	"slices"
)

// state is a partial placement: each workload's entry (-1 when not
// placed), the load of every location and the number of moves.
type state struct {
	p     *problem
	obj   []float64 // the objective coefficient of each entry
	at    []int32
	load  []float64
	moves int
}

func newState(p *problem, obj []float64) *state {
	s := &state{p: p, obj: obj, at: make([]int32, p.n), load: make([]float64, p.m*dims)}
	for i := range s.at {
		s.at[i] = -1
	}
	return s
}

func (s *state) clone() *state {
	return &state{p: s.p, obj: s.obj, at: slices.Clone(s.at), load: slices.Clone(s.load), moves: s.moves}
}

func (s *state) copyFrom(o *state) {
	copy(s.at, o.at)
	copy(s.load, o.load)
	s.moves = o.moves
}

// mv is 1 when entry e of workload i is a move, else 0.
func (s *state) mv(i int, e int32) int {
	if s.p.moves(i, e) {
		return 1
	}
	return 0
}

func (s *state) addLoad(i int, j int32, sign float64) {
	for d := range dims {
		s.load[int(j)*dims+d] += sign * s.p.dem[i*dims+d]
	}
}

// place puts unplaced workload i at entry e.
func (s *state) place(i int, e int32) {
	s.at[i] = e
	s.addLoad(i, s.p.loc[e], 1)
	s.moves += s.mv(i, e)
}

// unplace removes workload i from its entry.
func (s *state) unplace(i int) {
	e := s.at[i]
	s.addLoad(i, s.p.loc[e], -1)
	s.moves -= s.mv(i, e)
	s.at[i] = -1
}

// relocate moves placed workload i to entry e.
func (s *state) relocate(i int, e int32) {
	s.unplace(i)
	s.place(i, e)
}

// fits reports whether workload i, not at location j, fits there.
func (s *state) fits(i int, j int32) bool { return s.p.fitsAt(s.load, i, j) }

// fitsWithout reports whether workload i fits at location j once
// workload o, now at j, has left it.
func (s *state) fitsWithout(i int, j int32, o int) bool {
	p := s.p
	k := int(j) * dims
	return s.load[k]-p.dem[o*dims]+p.dem[i*dims] <= p.capT[k] &&
		s.load[k+1]-p.dem[o*dims+1]+p.dem[i*dims+1] <= p.capT[k+1]
}

// entryAt returns the entry of workload i at location j, or -1 when j
// is not allowed. Rows are sorted by location.
func (s *state) entryAt(i int, j int32) int32 {
	p := s.p
	row := p.loc[p.start[i]:p.start[i+1]]
	k, ok := slices.BinarySearch(row, j)
	if !ok {
		return -1
	}
	return p.start[i] + int32(k)
}

// value returns the objective of the placed workloads, summed exactly
// enough (Neumaier) that it does not depend on the order of changes.
func (s *state) value() float64 {
	var acc sum
	for _, e := range s.at {
		if e >= 0 {
			acc.add(s.obj[e])
		}
	}
	return acc.total()
}

// recount recomputes the loads and the moves from the placement, to
// clear the rounding that incremental updates accumulate.
func (s *state) recount() {
	clear(s.load)
	s.moves = 0
	for i, e := range s.at {
		if e >= 0 {
			s.addLoad(i, s.p.loc[e], 1)
			s.moves += s.mv(i, e)
		}
	}
}

// unplaced returns the workloads with no entry.
func (s *state) unplaced() []int32 {
	var out []int32
	for i, e := range s.at {
		if e < 0 {
			out = append(out, int32(i))
		}
	}
	return out
}

// sum is a Neumaier compensated sum.
type sum struct{ s, c float64 }

func (a *sum) add(x float64) {
	t := a.s + x
	if math.Abs(a.s) >= math.Abs(x) {
		a.c += (a.s - t) + x
	} else {
		a.c += (x - t) + a.s
	}
	a.s = t
}

func (a *sum) merge(b sum) { a.add(b.s); a.add(b.c) }

func (a *sum) total() float64 { return a.s + a.c }

// sortByKey sorts xs by key, stably, so that equal keys keep their
// order and runs are deterministic.
func sortByKey[T any](xs []T, key func(T) float64) {
	slices.SortStableFunc(xs, func(a, b T) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
}
