package placement

// dims is the number of capacity dimensions: vCPU and memory.
const dims = 2

// problem is an instance compiled for the solver: the usable pairs of
// each workload (allowed by its policy, and with room for it in the
// empty location) in compressed rows, so that memory grows with the
// pairs, not n×m, with their costs and the capacities.
type problem struct {
	n, m  int
	start []int32   // row i is entries start[i]:start[i+1]
	loc   []int32   // location of each entry
	cost  []float64 // c_ij of each entry, currency units a month
	dem   []float64 // demand of workload i in dimension d at i*dims+d
	cap   []float64 // capacity of location j in dimension d at j*dims+d
	capT  []float64 // the same plus capTol: what a load may reach
	perf  []float64 // per-vCPU performance score of each location
	cur   []int32   // current location of each workload, -1 for none
	curE  []int32   // entry of the current location in the row, -1 if none or not allowed
	k     int       // MaxMoves
}

// compile builds the problem of a valid instance.
func compile(ev *Evaluator) *problem {
	in := ev.in
	n, m := len(in.Workloads), len(in.Locations)
	p := &problem{
		n: n, m: m,
		start: make([]int32, n+1),
		dem:   make([]float64, n*dims),
		cap:   make([]float64, m*dims),
		perf:  make([]float64, m),
		cur:   make([]int32, n),
		curE:  make([]int32, n),
		k:     in.MaxMoves,
	}
	for j, l := range in.Locations {
		p.cap[j*dims] = l.Capacity.VCPU
		p.cap[j*dims+1] = l.Capacity.MemoryGiB
		p.perf[j] = l.Perf
	}
	p.capT = make([]float64, len(p.cap))
	for s, c := range p.cap {
		p.capT[s] = c + capTol(c) // +Inf stays +Inf
	}
	// A pair is usable when the policy allows it and the workload fits
	// into the empty location: a pair it cannot fit can never be used,
	// and leaving it out tightens the relaxation. Count first so that the
	// rows are allocated once, at their size.
	usable := func(i, j int) bool {
		if !ev.Allowed(i, j) {
			return false
		}
		w := &in.Workloads[i]
		return w.VCPU <= p.capT[j*dims] && w.MemoryGiB <= p.capT[j*dims+1]
	}
	total := 0
	for i := range in.Workloads {
		for j := range m {
			if usable(i, j) {
				total++
			}
		}
	}
	p.loc = make([]int32, 0, total)
	p.cost = make([]float64, 0, total)
	for i, w := range in.Workloads {
		p.dem[i*dims] = w.VCPU
		p.dem[i*dims+1] = w.MemoryGiB
		p.cur[i] = int32(ev.Current(i))
		p.curE[i] = -1
		for j := range m {
			if !usable(i, j) {
				continue
			}
			if int32(j) == p.cur[i] {
				p.curE[i] = int32(len(p.loc))
			}
			p.loc = append(p.loc, int32(j))
			p.cost = append(p.cost, ev.Cost(i, j).Total())
		}
		p.start[i+1] = int32(len(p.loc))
	}
	return p
}

// moves reports whether entry e of workload i is a move: the workload
// has a current location and e is elsewhere.
func (p *problem) moves(i int, e int32) bool {
	return p.cur[i] >= 0 && p.loc[e] != p.cur[i]
}

// capTol is the slack allowed on a capacity, to absorb rounding in sums
// of demands: a billionth of the capacity plus a millionth of a unit.
func capTol(c float64) float64 { return 1e-9*c + 1e-6 }

// fitsAt reports whether workload i fits in location j given its load.
func (p *problem) fitsAt(load []float64, i int, j int32) bool {
	s := int(j) * dims
	return load[s]+p.dem[i*dims] <= p.capT[s] && load[s+1]+p.dem[i*dims+1] <= p.capT[s+1]
}
