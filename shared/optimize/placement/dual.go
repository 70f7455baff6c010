package placement

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// dual is the Lagrangian dual of the placement problem over the active
// workloads, with the capacity and move-cap constraints relaxed:
//
//	L(λ, μ) = Σ_i min_{j∈A_i} (c_ij + Σ_d λ_jd r_id + μ m_ij) − Σ_jd λ_jd Cap_jd − μ K
//
// Only constraints that can bind get a multiplier (a variable): a
// capacity that the active workloads allowed there could exceed, and the
// move cap when more workloads could move than K allows. The variables
// are v = (λ..., μ).
type dual struct {
	p      *problem
	obj    []float64
	active []int32 // the workloads in the relaxation
	sumLog float64 // Σ_i log|A_i| over the active workloads: the smoothing's bias per unit of τ

	nv    int
	varOf []int32   // j*dims+d → variable, or -1
	slot  []int32   // variable → j*dims+d, or -1 for μ
	muVar int       // μ's variable, or -1
	rhs   []float64 // Cap_jd or K of each variable
	scale []float64 // a typical demand of each variable, to size steps

	workers int
	chunks  []chunkOut
}

// chunkSize is the number of workloads one task of the evaluation
// covers; the partial sums are added in chunk order, so results do not
// depend on the number of workers.
const chunkSize = 2048

// chunkOut holds one chunk's partial sums.
type chunkOut struct {
	exact  sum
	smooth sum
	grad   []float64
	hess   []float64
	scr    []float64 // prices of a row
	gbar   []float64 // dense mean vector, zeroed after use
	touch  []int32
}

// evaluation is L and its smoothed version at a point, with the gradient
// and the negated Hessian (positive semidefinite) of the smoothed one.
type evaluation struct {
	v      []float64
	exact  float64 // L(v): a valid lower bound
	smooth float64 // L_τ(v) ≤ L(v)
	grad   []float64
	hess   []float64 // nv×nv, −∇²L_τ
}

func newDual(p *problem, obj []float64, active []int32, workers int) *dual {
	d := &dual{p: p, obj: obj, active: active, varOf: make([]int32, p.m*dims), muVar: -1}
	// The most demand each capacity could receive, and the moves possible.
	most := make([]float64, p.m*dims)
	count := make([]float64, p.m*dims)
	movable := 0
	for _, w := range active {
		i := int(w)
		canMove := false
		rowLen := p.start[i+1] - p.start[i]
		d.sumLog += math.Log(float64(rowLen))
		for e := p.start[i]; e < p.start[i+1]; e++ {
			j := int(p.loc[e])
			for k := range dims {
				most[j*dims+k] += p.dem[i*dims+k]
				count[j*dims+k]++
			}
			if p.moves(i, e) {
				canMove = true
			}
		}
		if canMove && p.curE[i] >= 0 {
			movable++
		} else if p.cur[i] >= 0 && p.curE[i] < 0 {
			movable++ // must move: counts against K whatever happens
		}
	}
	for s := range d.varOf {
		d.varOf[s] = -1
		c := p.cap[s]
		if math.IsInf(c, 1) || most[s] <= c+capTol(c) {
			continue
		}
		d.varOf[s] = int32(len(d.slot))
		d.slot = append(d.slot, int32(s))
		d.rhs = append(d.rhs, c)
		d.scale = append(d.scale, most[s]/count[s])
	}
	if movable > p.k {
		d.muVar = len(d.slot)
		d.slot = append(d.slot, -1)
		d.rhs = append(d.rhs, float64(p.k))
		d.scale = append(d.scale, 1)
	}
	d.nv = len(d.slot)
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	d.workers = workers
	nc := (len(active) + chunkSize - 1) / chunkSize
	d.chunks = make([]chunkOut, nc)
	for c := range d.chunks {
		d.chunks[c] = chunkOut{
			grad: make([]float64, d.nv),
			gbar: make([]float64, d.nv),
			scr:  make([]float64, p.m),
		}
	}
	return d
}

// multipliers expands v into λ at j*dims+d and μ.
func (d *dual) multipliers(v []float64) (lam []float64, mu float64) {
	lam = make([]float64, d.p.m*dims)
	for k, s := range d.slot {
		if s >= 0 {
			lam[s] = v[k]
		} else {
			mu = v[k]
		}
	}
	return lam, mu
}

// eval computes L(v) and, when tau > 0, L_τ(v), its gradient and, with
// hess, its negated Hessian, into out. Smoothing replaces each workload's
// minimum by the soft minimum −τ log Σ_j exp(−a_ij/τ), which is below
// the minimum by at most τ log|A_i|; prices more than 36τ above the
// minimum are left out (their weight is below 3e-16).
func (d *dual) eval(ctx context.Context, v []float64, tau float64, hess bool, out *evaluation) {
	lam, mu := d.multipliers(v)
	nv := d.nv
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(d.workers, len(d.chunks))
	for range workers {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= len(d.chunks) {
					return
				}
				lo := c * chunkSize
				hi := min(lo+chunkSize, len(d.active))
				d.evalChunk(&d.chunks[c], d.active[lo:hi], lam, mu, tau, hess)
			}
		})
	}
	wg.Wait()
	var exact, smooth sum
	if cap(out.grad) < nv {
		out.grad = make([]float64, nv)
	}
	out.grad = out.grad[:nv]
	clear(out.grad)
	if hess {
		if cap(out.hess) < nv*nv {
			out.hess = make([]float64, nv*nv)
		}
		out.hess = out.hess[:nv*nv]
		clear(out.hess)
	}
	for c := range d.chunks {
		ch := &d.chunks[c]
		exact.merge(ch.exact)
		smooth.merge(ch.smooth)
		for k := range nv {
			out.grad[k] += ch.grad[k]
		}
		if hess {
			for k, x := range ch.hess {
				out.hess[k] += x
			}
		}
	}
	for k := range nv {
		exact.add(-v[k] * d.rhs[k])
		smooth.add(-v[k] * d.rhs[k])
		out.grad[k] -= d.rhs[k]
	}
	out.v = append(out.v[:0], v...)
	out.exact = exact.total()
	out.smooth = smooth.total()
}

func (d *dual) evalChunk(ch *chunkOut, rows []int32, lam []float64, mu, tau float64, hess bool) {
	p := d.p
	nv := d.nv
	ch.exact, ch.smooth = sum{}, sum{}
	clear(ch.grad)
	if hess {
		if len(ch.hess) != nv*nv {
			ch.hess = make([]float64, nv*nv)
		}
		clear(ch.hess)
	}
	cut := 36 * tau
	for _, w := range rows {
		i := int(w)
		lo, hi := p.start[i], p.start[i+1]
		scr := ch.scr[:hi-lo]
		amin := math.Inf(1)
		r0, r1 := p.dem[i*dims], p.dem[i*dims+1]
		for e := lo; e < hi; e++ {
			j := int(p.loc[e]) * dims
			a := d.obj[e] + lam[j]*r0 + lam[j+1]*r1
			if p.cur[i] >= 0 && p.loc[e] != p.cur[i] {
				a += mu
			}
			scr[e-lo] = a
			if a < amin {
				amin = a
			}
		}
		ch.exact.add(amin)
		if tau <= 0 {
			continue
		}
		z := 0.0
		nz := 0
		for k, a := range scr {
			if x := a - amin; x < cut {
				w := math.Exp(-x / tau)
				scr[k] = w
				z += w
				nz++
			} else {
				scr[k] = 0
			}
		}
		ch.smooth.add(amin - tau*math.Log(z))
		// Gradient: the expected use of each constraint.
		ch.touch = ch.touch[:0]
		for k, wgt := range scr {
			if wgt == 0 {
				continue
			}
			q := wgt / z
			e := lo + int32(k)
			j := int(p.loc[e]) * dims
			for dd := range dims {
				if x := d.varOf[j+dd]; x >= 0 {
					g := q * p.dem[i*dims+dd]
					ch.grad[x] += g
					if hess && nz > 1 {
						if ch.gbar[x] == 0 {
							ch.touch = append(ch.touch, x)
						}
						ch.gbar[x] += g
					}
				}
			}
			if d.muVar >= 0 && p.cur[i] >= 0 && p.loc[e] != p.cur[i] {
				ch.grad[d.muVar] += q
				if hess && nz > 1 {
					if ch.gbar[d.muVar] == 0 {
						ch.touch = append(ch.touch, int32(d.muVar))
					}
					ch.gbar[d.muVar] += q
				}
			}
		}
		if !hess || nz < 2 {
			continue
		}
		// −∇² of the soft minimum is Cov/τ: (Σ q u uᵀ − ū ūᵀ)/τ, where u
		// is an entry's use of the constraints.
		inv := 1 / tau
		var comp [dims + 1]int32
		var val [dims + 1]float64
		for k, wgt := range scr {
			if wgt == 0 {
				continue
			}
			q := wgt / z * inv
			e := lo + int32(k)
			j := int(p.loc[e]) * dims
			nc := 0
			for dd := range dims {
				if x := d.varOf[j+dd]; x >= 0 {
					comp[nc], val[nc] = x, p.dem[i*dims+dd]
					nc++
				}
			}
			if d.muVar >= 0 && p.cur[i] >= 0 && p.loc[e] != p.cur[i] {
				comp[nc], val[nc] = int32(d.muVar), 1
				nc++
			}
			for a := range nc {
				row := int(comp[a]) * nv
				for b := range nc {
					ch.hess[row+int(comp[b])] += q * val[a] * val[b]
				}
			}
		}
		for _, a := range ch.touch {
			ga := ch.gbar[a] * inv
			row := int(a) * nv
			for _, b := range ch.touch {
				ch.hess[row+int(b)] -= ga * ch.gbar[b]
			}
		}
		for _, a := range ch.touch {
			ch.gbar[a] = 0
		}
	}
}

// ascentResult is the outcome of dual.ascent.
type ascentResult struct {
	best  evaluation // the point with the best exact L seen
	evals int
	done  bool // converged: τ Σ log|A_i| below tol
}

// tauShrink divides τ after each stage.
const tauShrink = 4

// ascent maximises the dual by smoothing and Newton's method, from v0
// (nil for zero). The smoothing parameter τ starts at tau0 and shrinks
// by tauShrink once Newton's method has converged for it. The exact dual
// L is computed at every point visited; the best is kept. The loop calls
// visit after each τ stage with the best point so far; visit returns
// false to stop. It stops by itself when the smoothing can no longer
// hide more than tol of the dual's optimum, after maxEval evaluations,
// or when ctx is done.
func (d *dual) ascent(ctx context.Context, v0 []float64, tau0, tol float64, maxEval int, visit func(best *evaluation, tau float64) bool) ascentResult {
	nv := d.nv
	var res ascentResult
	v := make([]float64, nv)
	if len(v0) == nv {
		copy(v, v0)
	}
	var cur, trial evaluation
	d.eval(ctx, v, tau0, true, &cur)
	res.evals++
	keep := func(e *evaluation) {
		if res.best.v == nil || e.exact > res.best.exact {
			res.best.v = append(res.best.v[:0], e.v...)
			res.best.exact = e.exact
		}
	}
	keep(&cur)
	if nv == 0 {
		res.done = true
		visit(&res.best, 0)
		return res
	}
	free := make([]int, 0, nv)
	mat := make([]float64, nv*nv)
	rhs := make([]float64, nv)
	dir := make([]float64, nv)
	next := make([]float64, nv)
	diag := make([]float64, nv)
	tau := tau0
	reg := 1e-8
	for {
		// Newton's method for this τ.
		for it := 0; it < 60; it++ {
			if ctx.Err() != nil || res.evals >= maxEval {
				return res
			}
			free = free[:0]
			for k := range nv {
				if v[k] > 0 || cur.grad[k] > 0 {
					free = append(free, k)
				}
			}
			if len(free) == 0 {
				break
			}
			// Scale the free block to unit diagonal; a variable with
			// (almost) no curvature gets a diagonal that limits its step
			// to shifting prices by 20τ for a typical demand.
			nf := len(free)
			for a, ka := range free {
				floor := math.Abs(cur.grad[ka]) * d.scale[ka] / (20 * tau)
				diag[a] = math.Max(cur.hess[ka*nv+ka], floor)
				if diag[a] <= 0 {
					diag[a] = 1
				}
			}
			var solved bool
			for attempt := 0; attempt < 12 && !solved; attempt++ {
				for a, ka := range free {
					for b, kb := range free {
						mat[a*nf+b] = cur.hess[ka*nv+kb] / math.Sqrt(diag[a]*diag[b])
					}
					mat[a*nf+a] = 1 + reg
					rhs[a] = cur.grad[ka] / math.Sqrt(diag[a])
				}
				solved = cholSolve(mat[:nf*nf], rhs[:nf], nf)
				if !solved {
					reg = math.Max(reg*100, 1e-10)
				}
			}
			if !solved {
				break
			}
			dec := 0.0
			clear(dir)
			for a, ka := range free {
				dir[ka] = rhs[a] / math.Sqrt(diag[a])
				dec += dir[ka] * cur.grad[ka]
			}
			if dec <= tol*1e-3 {
				break
			}
			// Projected backtracking line search on L_τ.
			t := 1.0
			accepted := false
			for ls := 0; ls < 40; ls++ {
				step := 0.0
				for k := range nv {
					next[k] = math.Max(0, v[k]+t*dir[k])
					step += cur.grad[k] * (next[k] - v[k])
				}
				d.eval(ctx, next, tau, true, &trial)
				res.evals++
				keep(&trial)
				if trial.smooth >= cur.smooth+1e-4*step {
					accepted = true
					break
				}
				if ctx.Err() != nil || res.evals >= maxEval {
					return res
				}
				t /= 2
			}
			if !accepted {
				reg = math.Min(reg*10, 1)
				break
			}
			// Levenberg–Marquardt: damp more after a short step, less
			// after a full one.
			if t == 1 {
				reg = math.Max(reg/4, 1e-12)
			} else {
				reg = math.Min(reg*4/t, 1e6)
			}
			copy(v, next)
			cur, trial = trial, cur
		}
		if !visit(&res.best, tau) {
			return res
		}
		if tau*d.sumLog <= tol {
			res.done = true
			return res
		}
		tau /= tauShrink
		d.eval(ctx, v, tau, true, &cur)
		res.evals++
		keep(&cur)
	}
}

// cholSolve solves a x = b in place (b becomes x) for a symmetric
// positive definite n×n matrix a, which it overwrites with its Cholesky
// factor. It reports false when a is not positive definite.
func cholSolve(a, b []float64, n int) bool {
	for j := range n {
		s := a[j*n+j]
		for k := range j {
			s -= a[j*n+k] * a[j*n+k]
		}
		if !(s > 0) {
			return false
		}
		ljj := math.Sqrt(s)
		a[j*n+j] = ljj
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := range j {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / ljj
		}
	}
	for i := range n {
		s := b[i]
		for k := range i {
			s -= a[i*n+k] * b[k]
		}
		b[i] = s / a[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < n; k++ {
			s -= a[k*n+i] * b[k]
		}
		b[i] = s / a[i*n+i]
	}
	return true
}
