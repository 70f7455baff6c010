package simcloud

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The hourly traces written by tools/mktraces.
//
//go:embed traces/*.csv
var traceFiles embed.FS

// hourlyTrace is one embedded trace: hourly CPU and memory percentages,
// domain.Missing where the source had no sample.
type hourlyTrace struct {
	name     string
	cpu, mem []float32
}

// traceSet holds every trace and the ones fit to draw CPU and memory from.
type traceSet struct {
	all []hourlyTrace
	cpu []int // traces at least a week long
	mem []int // traces with memory in at least 80 % of their hours
}

var loadTraces = sync.OnceValues(func() (*traceSet, error) {
	entries, err := traceFiles.ReadDir("traces")
	if err != nil {
		return nil, fmt.Errorf("read embedded traces: %w", err)
	}
	ts := &traceSet{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".csv") {
			continue
		}
		b, err := traceFiles.ReadFile(path.Join("traces", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded trace %s: %w", e.Name(), err)
		}
		tr, err := parseTrace(e.Name(), b)
		if err != nil {
			return nil, err
		}
		i := len(ts.all)
		ts.all = append(ts.all, tr)
		if len(tr.cpu) >= 7*24 {
			ts.cpu = append(ts.cpu, i)
		}
		present := 0
		for _, v := range tr.mem {
			if !domain.IsMissing(v) {
				present++
			}
		}
		if len(tr.mem) >= 7*24 && present*5 >= len(tr.mem)*4 {
			ts.mem = append(ts.mem, i)
		}
	}
	if len(ts.cpu) == 0 || len(ts.mem) == 0 {
		return nil, fmt.Errorf("embedded traces: %d CPU and %d memory traces, want some of each", len(ts.cpu), len(ts.mem))
	}
	return ts, nil
})

func parseTrace(name string, b []byte) (hourlyTrace, error) {
	tr := hourlyTrace{name: strings.TrimSuffix(name, ".csv")}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 0; sc.Scan(); n++ {
		line := sc.Text()
		if n == 0 {
			if line != "hour,cpu_percent,memory_percent" {
				return tr, fmt.Errorf("embedded trace %s: unexpected header %q", name, line)
			}
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 3 {
			return tr, fmt.Errorf("embedded trace %s line %d: %d fields, want 3", name, n+1, len(f))
		}
		if h, err := strconv.Atoi(f[0]); err != nil || h != n-1 {
			return tr, fmt.Errorf("embedded trace %s line %d: hour %q, want %d", name, n+1, f[0], n-1)
		}
		cpu, err := parsePercent(f[1])
		if err != nil {
			return tr, fmt.Errorf("embedded trace %s line %d: %w", name, n+1, err)
		}
		mem, err := parsePercent(f[2])
		if err != nil {
			return tr, fmt.Errorf("embedded trace %s line %d: %w", name, n+1, err)
		}
		tr.cpu = append(tr.cpu, cpu)
		tr.mem = append(tr.mem, mem)
	}
	return tr, sc.Err()
}

func parsePercent(s string) (float32, error) {
	if s == "" {
		return domain.Missing, nil
	}
	v, err := strconv.ParseFloat(s, 32)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	return float32(v), nil
}
