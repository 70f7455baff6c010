package domain_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// oneTo returns the sorted values 1, 2, ..., n.
func oneTo(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"p0 is the smallest value", oneTo(20), 0, 1},
		{"p50 of 20", oneTo(20), 50, 10},
		{"p95 of 20", oneTo(20), 95, 19},
		{"p99 of 20", oneTo(20), 99, 20},
		{"p100 is the largest value", oneTo(20), 100, 20},
		{"p50 of an odd count", []float64{1, 2, 3}, 50, 2},
		{"p50 of an even count is the lower middle", []float64{1, 2, 3, 4}, 50, 2},
		{"just above a rank boundary", oneTo(20), 50.1, 11},
		{"p1 of 100", oneTo(100), 1, 1},
		{"p7 of 100 is the 7th value", oneTo(100), 7, 7},
		{"p14 of 100 is the 14th value", oneTo(100), 14, 14},
		{"p95 of 100", oneTo(100), 95, 95},
		{"p99 of 100", oneTo(100), 99, 99},
		{"p95 of 720 hourly points", oneTo(720), 95, 684},
		{"single value p0", []float64{7}, 0, 7},
		{"single value p50", []float64{7}, 50, 7},
		{"single value p100", []float64{7}, 100, 7},
		{"duplicates", []float64{5, 5, 5, 9}, 75, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v; want %v", short(tt.sorted), tt.p, got, tt.want)
			}
		})
	}
}

// TestPercentileNearestRank checks every integer percentile against the
// nearest-rank definition computed in integers: rank = ceil(p*n/100).
func TestPercentileNearestRank(t *testing.T) {
	for n := 1; n <= 300; n++ {
		sorted := oneTo(n)
		for p := 0; p <= 100; p++ {
			rank := max((p*n+99)/100, 1)
			if got := domain.Percentile(sorted, float64(p)); got != float64(rank) {
				t.Fatalf("Percentile(1..%d, %d) = %v; want %d", n, p, got, rank)
			}
		}
	}
}

func TestPercentileEmpty(t *testing.T) {
	for _, sorted := range [][]float64{nil, {}} {
		for _, p := range []float64{0, 50, 100} {
			if got := domain.Percentile(sorted, p); !math.IsNaN(got) {
				t.Errorf("Percentile(%v, %v) = %v; want NaN", sorted, p, got)
			}
		}
	}
}

func short(v []float64) any {
	if len(v) > 5 {
		return []any{v[0], v[1], "...", v[len(v)-1]}
	}
	return v
}

func TestSummarize(t *testing.T) {
	nan := domain.Missing
	tests := []struct {
		name   string
		step   time.Duration
		values []float32
		want   domain.Stats
	}{
		{
			name:   "no values",
			step:   time.Hour,
			values: nil,
			want:   domain.Stats{},
		},
		{
			name:   "only gaps",
			step:   time.Hour,
			values: []float32{nan, nan, nan},
			want:   domain.Stats{},
		},
		{
			name:   "single value",
			step:   time.Hour,
			values: []float32{42},
			want:   domain.Stats{Points: 1, Hours: 1, Mean: 42, Max: 42, P50: 42, P95: 42, P99: 42},
		},
		{
			// Were gaps zeros, the mean would be 10 and p50 10.
			name:   "gaps are ignored, not zeros",
			step:   time.Hour,
			values: []float32{nan, 30, nan, 10, 20, nan},
			want:   domain.Stats{Points: 3, Hours: 3, Mean: 20, Max: 30, P50: 20, P95: 30, P99: 30},
		},
		{
			name:   "hours follow the step",
			step:   5 * time.Minute,
			values: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, nan, nan},
			want:   domain.Stats{Points: 12, Hours: 1, Mean: 6.5, Max: 12, P50: 6, P95: 12, P99: 12},
		},
		{
			name:   "zero is an observation",
			step:   time.Hour,
			values: []float32{0, 0, 0, 100},
			want:   domain.Stats{Points: 4, Hours: 4, Mean: 25, Max: 100, P50: 0, P95: 100, P99: 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := domain.Series{ResourceID: "i-1", Metric: domain.MetricCPU, Step: tt.step, Values: slices.Clone(tt.values)}
			got, _ := domain.Summarize(s, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Summarize(%v) mismatch (-want +got):\n%s", tt.values, diff)
			}
			if !slices.EqualFunc(s.Values, tt.values, sameFloat32) {
				t.Errorf("Summarize changed the series values to %v; want %v", s.Values, tt.values)
			}
		})
	}
}

func sameFloat32(a, b float32) bool {
	return a == b || (domain.IsMissing(a) && domain.IsMissing(b))
}

func TestSummarizeScratch(t *testing.T) {
	s := domain.Series{ResourceID: "i-1", Metric: domain.MetricCPU, Step: time.Hour,
		Values: []float32{3, domain.Missing, 1, 2}}
	scratch := make([]float64, 10, 16)
	for i := range scratch {
		scratch[i] = -1 // stale contents must not leak into the result
	}
	st, out := domain.Summarize(s, scratch)
	if want := []float64{1, 2, 3}; !slices.Equal(out, want) {
		t.Errorf("Summarize scratch = %v; want the sorted observed values %v", out, want)
	}
	if &out[0] != &scratch[0] {
		t.Errorf("Summarize did not reuse a scratch slice large enough")
	}
	if st.Points != 3 || st.Mean != 2 || st.Max != 3 {
		t.Errorf("Summarize with scratch = %+v; want 3 points, mean 2, max 3", st)
	}
}

func TestSeriesPresentCoverageEnd(t *testing.T) {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	nan := domain.Missing
	tests := []struct {
		name     string
		step     time.Duration
		values   []float32
		present  int
		coverage time.Duration
		end      time.Time
	}{
		{"empty", time.Hour, nil, 0, 0, start},
		{"all present", time.Hour, []float32{1, 0, 2}, 3, 3 * time.Hour, start.Add(3 * time.Hour)},
		{"gaps are not present", 5 * time.Minute, []float32{nan, 1, nan, 0}, 2, 10 * time.Minute, start.Add(20 * time.Minute)},
		{"all gaps", time.Hour, []float32{nan, nan}, 0, 0, start.Add(2 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := domain.Series{ResourceID: "i-1", Metric: domain.MetricCPU, Start: start, Step: tt.step, Values: tt.values}
			if got := s.Present(); got != tt.present {
				t.Errorf("Present() = %d; want %d", got, tt.present)
			}
			if got := s.Coverage(); got != tt.coverage {
				t.Errorf("Coverage() = %v; want %v", got, tt.coverage)
			}
			if got := s.End(); !got.Equal(tt.end) {
				t.Errorf("End() = %v; want %v", got, tt.end)
			}
		})
	}
}

func TestIsMissing(t *testing.T) {
	tests := []struct {
		v    float32
		want bool
	}{
		{domain.Missing, true},
		{float32(math.NaN()), true},
		{0, false},
		{-1, false},
		{float32(math.Inf(1)), false},
	}
	for _, tt := range tests {
		if got := domain.IsMissing(tt.v); got != tt.want {
			t.Errorf("IsMissing(%v) = %v; want %v", tt.v, got, tt.want)
		}
	}
}

func TestSeriesValidate(t *testing.T) {
	ok := domain.Series{ResourceID: "i-1", Metric: domain.MetricCPU, Step: time.Hour}
	tests := []struct {
		name    string
		mutate  func(*domain.Series)
		wantErr error
	}{
		{"valid", func(*domain.Series) {}, nil},
		{"valid without values", func(s *domain.Series) { s.Values = nil }, nil},
		{"zero step", func(s *domain.Series) { s.Step = 0 }, domain.ErrInvalid},
		{"negative step", func(s *domain.Series) { s.Step = -time.Minute }, domain.ErrInvalid},
		{"no resource id", func(s *domain.Series) { s.ResourceID = "" }, domain.ErrInvalid},
		{"no metric", func(s *domain.Series) { s.Metric = "" }, domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.mutate(&s)
			err := s.Validate()
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Validate() = %v; want %v", err, tt.wantErr)
			}
		})
	}
}
