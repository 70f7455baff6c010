package placement

import (
	"errors"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestSolvePareto(t *testing.T) {
	in := generate(t, 12, 120, 6)
	front, err := SolvePareto(t.Context(), in, ParetoOptions{Weights: []float64{0, 0.3, 0.6, 0.9}})
	if err != nil {
		t.Fatal(err)
	}
	pts := front.Points
	if len(pts) < 3 {
		t.Fatalf("front of %d points; want at least 3 from 4 weights", len(pts))
	}
	for k, pt := range pts {
		r := pt.Result
		verify(t, in, r)
		if len(r.Unplaced) != 0 {
			t.Errorf("point %d: %d unplaced", k, len(r.Unplaced))
		}
		if k > 0 && !(r.Cost > pts[k-1].Result.Cost && r.Performance > pts[k-1].Result.Performance) {
			t.Errorf("point %d (cost %.2f, perf %.3f) does not trade cost for performance after (%.2f, %.3f)",
				k, r.Cost, r.Performance, pts[k-1].Result.Cost, pts[k-1].Result.Performance)
		}
		t.Logf("α=%.2f cost %.2f performance %.3f moves %d gap %.4f%% stop %s iters %d %v", pt.Weight, r.Cost, r.Performance, r.Moves, 100*r.Gap, r.Stop, r.Iterations, r.Elapsed)
	}
	if front.MaxSavings != 0 || front.PerformanceFirst != len(pts)-1 {
		t.Errorf("max savings %d, performance first %d; want 0 and %d", front.MaxSavings, front.PerformanceFirst, len(pts)-1)
	}
	if b := front.Balanced; b <= 0 || b >= len(pts)-1 {
		t.Errorf("balanced is point %d of %d; want one strictly between the extremes", b, len(pts))
	}
	// The cheapest point is the plain cost minimisation.
	res, err := Solve(t.Context(), in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cheapest := pts[front.MaxSavings].Result
	if slack := (cheapest.Gap + res.Gap) * cheapest.Cost; cheapest.Cost > res.Cost+slack || res.Cost > cheapest.Cost+slack {
		t.Errorf("max savings costs %.2f, Solve %.2f; they differ by more than their gaps", cheapest.Cost, res.Cost)
	}
	if front.CostScale <= 0 || front.PerfScale <= 0 {
		t.Errorf("scales %v, %v; want positive", front.CostScale, front.PerfScale)
	}
}

func TestSolveParetoRejectsWeights(t *testing.T) {
	in := generate(t, 12, 20, 4)
	for _, w := range []float64{-0.1, 1, 2} {
		if _, err := SolvePareto(t.Context(), in, ParetoOptions{Weights: []float64{0, w}}); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("SolvePareto(weight %v) error = %v; want invalid", w, err)
		}
	}
}
