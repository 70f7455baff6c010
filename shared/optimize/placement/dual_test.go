package placement

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// activeAll lists every workload with at least one usable pair.
func activeAll(p *problem) []int32 {
	var a []int32
	for i := range p.n {
		if p.start[i] < p.start[i+1] {
			a = append(a, int32(i))
		}
	}
	return a
}

// TestDualEvalDeterministic evaluates the dual at random points with one
// worker and with several: the chunks' partial sums are added in chunk
// order, so the results agree to the bit.
func TestDualEvalDeterministic(t *testing.T) {
	in := generate(t, 14, 3*chunkSize+100, 10)
	ev, err := NewEvaluator(in)
	if err != nil {
		t.Fatal(err)
	}
	p := compile(ev)
	one := newDual(p, p.cost, activeAll(p), 1)
	many := newDual(p, p.cost, activeAll(p), 4)
	if len(one.chunks) < 3 {
		t.Fatalf("%d chunks; the test needs several", len(one.chunks))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range 20 {
		v := make([]float64, one.nv)
		for x := range v {
			v[x] = 5 * rng.Float64() / one.scale[x]
		}
		var a, b evaluation
		one.eval(t.Context(), v, 0.5, true, &a)
		many.eval(t.Context(), v, 0.5, true, &b)
		if a.exact != b.exact || a.smooth != b.smooth || !slices.Equal(a.grad, b.grad) || !slices.Equal(a.hess, b.hess) {
			t.Fatalf("point %d: 1 worker gives L %v, L_τ %v; 4 workers give %v, %v (or gradients or Hessians differ)", k, a.exact, a.smooth, b.exact, b.smooth)
		}
	}
}

// TestWeakDuality checks that L(λ, μ) at arbitrary multipliers is below
// the optimum found by enumeration, and that smoothing stays below L:
// the bound needs no convergence to be valid.
func TestWeakDuality(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for seed := uint64(1); seed <= 8; seed++ {
		in := generate(t, seed, 7, 3)
		in.MaxMoves = int(seed % 3)
		opt, feasible := bruteForce(t, in)
		if !feasible {
			continue
		}
		ev, _ := NewEvaluator(in)
		p := compile(ev)
		d := newDual(p, p.cost, activeAll(p), 1)
		for range 200 {
			v := make([]float64, d.nv)
			for x := range v {
				v[x] = 200 * rng.Float64() * rng.Float64() / d.scale[x]
			}
			var e evaluation
			d.eval(t.Context(), v, 1e-3+rng.Float64(), false, &e)
			if e.exact > opt+1e-9*math.Abs(opt) {
				t.Fatalf("seed %d: L(%v) = %v above the optimum %v", seed, v, e.exact, opt)
			}
			if e.smooth > e.exact+1e-9*math.Abs(opt) {
				t.Fatalf("seed %d: L_τ = %v above L = %v", seed, e.smooth, e.exact)
			}
		}
	}
}
