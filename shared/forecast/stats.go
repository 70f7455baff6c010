package forecast

import (
	"math"
	"slices"
)

// median returns the median of x, sorting x in place; 0 for no values.
func median(x []float64) float64 {
	n := len(x)
	if n == 0 {
		return 0
	}
	slices.Sort(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// quantile returns the q-quantile (0..1) of x by linear interpolation
// between order statistics, sorting x in place.
func quantile(x []float64, q float64) float64 {
	n := len(x)
	if n == 0 {
		return math.NaN()
	}
	slices.Sort(x)
	pos := q * float64(n-1)
	i := int(pos)
	if i >= n-1 {
		return x[n-1]
	}
	f := pos - float64(i)
	return x[i]*(1-f) + x[i+1]*f
}

// madSigma returns 1.4826 times the median absolute deviation of x
// from its median, the robust estimate of a normal standard deviation.
// It reorders x.
func madSigma(x []float64) float64 {
	med := median(x)
	for i, v := range x {
		x[i] = math.Abs(v - med)
	}
	return 1.4826 * median(x)
}
