package domain

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Metric names a utilization metric.
type Metric string

// The metrics cloudtrim reads. Percentages are 0-100 of the resource's
// capacity; rates are per second averaged over the step.
const (
	MetricCPU       Metric = "cpu_percent"
	MetricMemory    Metric = "memory_percent"
	MetricNetIn     Metric = "network_in_bytes_per_s"
	MetricNetOut    Metric = "network_out_bytes_per_s"
	MetricDiskRead  Metric = "disk_read_bytes_per_s"
	MetricDiskWrite Metric = "disk_write_bytes_per_s"
	// Buckets, usually at a one-day step. Stored bytes and objects are
	// those of the bucket's hot class (S3 Standard, Cloud Storage
	// Standard, Azure Hot), the data a lifecycle transition would move;
	// reads count every read request and byte served from the bucket.
	MetricStoredBytes  Metric = "stored_bytes"
	MetricObjects      Metric = "object_count"
	MetricReadRequests Metric = "read_requests_per_s"
	MetricReadBytes    Metric = "read_bytes_per_s"
)

// Series is a utilization time series at a fixed step. Values[i] is the
// average over [Start+i*Step, Start+(i+1)*Step). A missing point is NaN:
// gaps are explicit and never filled with zeros.
type Series struct {
	ResourceID string        `json:"resource_id"`
	Metric     Metric        `json:"metric"`
	Start      time.Time     `json:"start"`
	Step       time.Duration `json:"step"`
	Values     []float32     `json:"-"`
}

// Missing is the value of a point that was not observed.
var Missing = float32(math.NaN())

// IsMissing reports whether v marks a gap.
func IsMissing(v float32) bool { return v != v }

// End returns the end of the last step.
func (s Series) End() time.Time { return s.Start.Add(time.Duration(len(s.Values)) * s.Step) }

// Present returns the number of observed points.
func (s Series) Present() int {
	n := 0
	for _, v := range s.Values {
		if !IsMissing(v) {
			n++
		}
	}
	return n
}

// Coverage returns how long the observed points cover.
func (s Series) Coverage() time.Duration { return time.Duration(s.Present()) * s.Step }

// Validate checks the step and the time alignment of s.
func (s Series) Validate() error {
	if s.Step <= 0 {
		return fmt.Errorf("%w: series %s/%s: step %v is not positive", ErrInvalid, s.ResourceID, s.Metric, s.Step)
	}
	if s.ResourceID == "" || s.Metric == "" {
		return fmt.Errorf("%w: series without resource id or metric", ErrInvalid)
	}
	return nil
}

// Stats summarises the observed points of a series.
type Stats struct {
	Points int     `json:"points"`
	Hours  float64 `json:"hours"`
	Mean   float64 `json:"mean"`
	Max    float64 `json:"max"`
	P50    float64 `json:"p50"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
}

// Summarize computes percentiles over the observed points of s using
// the nearest-rank method. scratch is reused when large enough.
func Summarize(s Series, scratch []float64) (Stats, []float64) {
	scratch = scratch[:0]
	sum := 0.0
	for _, v := range s.Values {
		if !IsMissing(v) {
			scratch = append(scratch, float64(v))
			sum += float64(v)
		}
	}
	st := Stats{Points: len(scratch), Hours: float64(len(scratch)) * s.Step.Hours()}
	if len(scratch) == 0 {
		return st, scratch
	}
	sort.Float64s(scratch)
	st.Mean = sum / float64(len(scratch))
	st.Max = scratch[len(scratch)-1]
	st.P50 = Percentile(scratch, 50)
	st.P95 = Percentile(scratch, 95)
	st.P99 = Percentile(scratch, 99)
	return st, scratch
}

// Percentile returns the p-th percentile (0-100) of sorted values by the
// nearest-rank method, or NaN when there are none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	// p*n first: p/100 is inexact (0.07*100 = 7.000000000000001) and
	// would push an exact rank up by one.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}
