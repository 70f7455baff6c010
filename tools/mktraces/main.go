// Command mktraces turns the real public utilization traces of the
// handbook's data directory into the compact hourly traces that the
// simulated cloud (shared/cloud/simcloud) embeds.
//
// It reads the NAB AWS CloudWatch EC2 CPU series (5-minute CPU %) and the
// Bitbrains GWA-T-12 "rnd" VM traces (5-minute CPU % and memory), and
// writes one CSV per trace with the columns hour,cpu_percent,memory_percent:
// hour is the index of the hour since the first hour of the trace, each
// value is the mean of the trace's points in that hour, and an hour
// without points is left empty (missing, never zero). It also writes the
// README.md that records provenance and copies the licence texts.
//
// Run it from the repository root:
//
//	go run ./tools/mktraces -data ../shared/data -out shared/cloud/simcloud/traces
//
// The product never reads the data directory: the output is committed and
// embedded with go:embed.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	data := flag.String("data", "../shared/data", "the handbook's data directory")
	out := flag.String("out", "shared/cloud/simcloud/traces", "directory the hourly traces are written to")
	flag.Parse()
	if err := run(*data, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mktraces:", err)
		os.Exit(1)
	}
}

// Provenance of the inputs, from the data directory's SOURCES.md.
const (
	nabDir         = "utilization/nab-aws-cloudwatch"
	nabRepo        = "numenta/NAB"
	nabCommit      = "ea702d75cc2258d9d7dd35ca8e5e2539d71f3140"
	nabOrigin      = "data/realAWSCloudwatch/"
	bitbrainsDir   = "utilization/bitbrains-rnd/2013-7"
	bitbrainsRepo  = "JessieRayeBauer/Time-Series-Forecasting-"
	bitbrainsComm  = "0901a0da3024507c7732c782621e590077abca64"
	bitbrainsOrig  = "rnd/2013-7/"
	bitbrainsLicIn = "utilization/bitbrains-rnd/LICENSE"
	nabLicIn       = "utilization/nab-aws-cloudwatch/LICENSE.txt"
)

// point is one raw sample.
type point struct {
	t        time.Time
	cpu, mem float64 // NaN when missing
}

// trace is one converted trace.
type trace struct {
	file      string // output file name
	source    string // "nab" or "bitbrains"
	origin    string // path in the origin repository
	firstHour time.Time
	cpu, mem  []float64 // hourly means, NaN when missing
	rows      int       // input rows read
}

func run(dataDir, outDir string) error {
	if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
		return fmt.Errorf("data directory %s: not found", dataDir)
	}
	var traces []trace

	nab, err := filepath.Glob(filepath.Join(dataDir, nabDir, "ec2_cpu_utilization_*.csv"))
	if err != nil {
		return err
	}
	sort.Strings(nab)
	for _, path := range nab {
		pts, err := readNAB(path)
		if err != nil {
			return err
		}
		base := filepath.Base(path)
		traces = append(traces, hourly("nab-"+base, "nab", nabOrigin+base, pts, false))
	}

	bb, err := filepath.Glob(filepath.Join(dataDir, bitbrainsDir, "*.csv"))
	if err != nil {
		return err
	}
	sort.Slice(bb, func(i, j int) bool { return fileNumber(bb[i]) < fileNumber(bb[j]) })
	for _, path := range bb {
		pts, err := readBitbrains(path)
		if err != nil {
			return err
		}
		base := filepath.Base(path)
		traces = append(traces, hourly("bitbrains-rnd-2013-7-"+base, "bitbrains", bitbrainsOrig+base, pts, true))
	}
	if len(nab) == 0 || len(bb) == 0 {
		return fmt.Errorf("data directory %s: found %d NAB and %d Bitbrains traces, want some of each", dataDir, len(nab), len(bb))
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	for _, tr := range traces {
		if err := os.WriteFile(filepath.Join(outDir, tr.file), tr.csv(), 0o644); err != nil {
			return err
		}
	}
	for src, dst := range map[string]string{nabLicIn: "LICENSE-nab", bitbrainsLicIn: "LICENSE-bitbrains"} {
		b, err := os.ReadFile(filepath.Join(dataDir, src))
		if err != nil {
			return fmt.Errorf("copy licence: %w", err)
		}
		if err := os.WriteFile(filepath.Join(outDir, dst), b, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(outDir, "README.md"), readme(traces), 0o644)
}

func fileNumber(path string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(path), ".csv"))
	if err != nil {
		return math.MaxInt
	}
	return n
}

// readNAB reads a NAB series: a header "timestamp,value", then rows with
// a naive timestamp (read as UTC) and the CPU %.
func readNAB(path string) ([]point, error) {
	var pts []point
	err := eachLine(path, func(n int, line string) error {
		if n == 0 {
			if line != "timestamp,value" {
				return fmt.Errorf("unexpected header %q", line)
			}
			return nil
		}
		ts, v, ok := strings.Cut(line, ",")
		if !ok {
			return fmt.Errorf("line %d: want 2 fields", n+1)
		}
		t, err := time.Parse(time.DateTime, ts)
		if err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		cpu, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		pts = append(pts, point{t: t, cpu: clampPercent(cpu), mem: math.NaN()})
		return nil
	})
	return pts, err
}

// Bitbrains column indexes.
const (
	bbTimestamp = 0
	bbCores     = 1
	bbCPUCap    = 2
	bbCPUPct    = 4
	bbMemCap    = 5
	bbMemUse    = 6
	bbColumns   = 11
)

// readBitbrains reads a Bitbrains GWA-T-12 VM trace: fields separated by
// ";\t", the timestamp in Unix seconds (despite its "[ms]" header),
// numbers possibly in scientific notation. A row with no provisioned CPU
// has no CPU value; a row with no memory capacity or no memory usage has
// no memory value. CPU % above 100 is clamped.
func readBitbrains(path string) ([]point, error) {
	var pts []point
	err := eachLine(path, func(n int, line string) error {
		f := strings.Split(line, ";")
		if len(f) != bbColumns {
			return fmt.Errorf("line %d: %d fields, want %d", n+1, len(f), bbColumns)
		}
		if n == 0 {
			if !strings.HasPrefix(f[0], "Timestamp") {
				return fmt.Errorf("unexpected header %q", line)
			}
			return nil
		}
		var v [bbColumns]float64
		for i, s := range f {
			x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return fmt.Errorf("line %d field %d: %w", n+1, i+1, err)
			}
			v[i] = x
		}
		p := point{t: time.Unix(int64(v[bbTimestamp]), 0).UTC(), cpu: math.NaN(), mem: math.NaN()}
		if v[bbCores] > 0 && v[bbCPUCap] > 0 {
			p.cpu = clampPercent(v[bbCPUPct])
		}
		if v[bbMemCap] > 0 && v[bbMemUse] > 0 {
			p.mem = clampPercent(v[bbMemUse] / v[bbMemCap] * 100)
		}
		pts = append(pts, p)
		return nil
	})
	return pts, err
}

func clampPercent(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return v
	case v < 0:
		return 0
	case v > 100:
		return 100
	}
	return v
}

func eachLine(path string, fn func(n int, line string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for n := 0; ; n++ {
		line, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", path, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if err := fn(n, line); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// hourly averages the points of each hour. Hours between the first and
// the last point with no observed value are NaN.
func hourly(file, source, origin string, pts []point, withMem bool) trace {
	tr := trace{file: file, source: source, origin: origin, rows: len(pts)}
	if len(pts) == 0 {
		return tr
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t.Before(pts[j].t) })
	tr.firstHour = pts[0].t.Truncate(time.Hour)
	n := int(pts[len(pts)-1].t.Sub(tr.firstHour)/time.Hour) + 1
	type acc struct {
		cpu, mem   float64
		ncpu, nmem int
	}
	a := make([]acc, n)
	for _, p := range pts {
		h := int(p.t.Sub(tr.firstHour) / time.Hour)
		if !math.IsNaN(p.cpu) {
			a[h].cpu += p.cpu
			a[h].ncpu++
		}
		if !math.IsNaN(p.mem) {
			a[h].mem += p.mem
			a[h].nmem++
		}
	}
	tr.cpu = make([]float64, n)
	tr.mem = make([]float64, n)
	for h := range a {
		tr.cpu[h], tr.mem[h] = math.NaN(), math.NaN()
		if a[h].ncpu > 0 {
			tr.cpu[h] = a[h].cpu / float64(a[h].ncpu)
		}
		if withMem && a[h].nmem > 0 {
			tr.mem[h] = a[h].mem / float64(a[h].nmem)
		}
	}
	return tr
}

func (tr trace) csv() []byte {
	var b bytes.Buffer
	b.WriteString("hour,cpu_percent,memory_percent\n")
	for h := range tr.cpu {
		fmt.Fprintf(&b, "%d,%s,%s\n", h, format(tr.cpu[h]), format(tr.mem[h]))
	}
	return b.Bytes()
}

func format(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func (tr trace) present() (cpu, mem int) {
	for h := range tr.cpu {
		if !math.IsNaN(tr.cpu[h]) {
			cpu++
		}
		if !math.IsNaN(tr.mem[h]) {
			mem++
		}
	}
	return cpu, mem
}

func readme(traces []trace) []byte {
	var b bytes.Buffer
	b.WriteString(`# Hourly utilization traces

Generated by ` + "`go run ./tools/mktraces -data ../shared/data -out shared/cloud/simcloud/traces`" + `
from real public traces; do not edit by hand. The simulated cloud (package simcloud) embeds the
CSV files and draws each simulated VM's utilization from one of them.

## Format

One CSV per trace, columns ` + "`hour,cpu_percent,memory_percent`" + `:

- ` + "`hour`" + ` is the index of the hour since the first hour of the trace (the hour that holds its
  first sample; the first hour of each trace is listed below);
- ` + "`cpu_percent`" + ` and ` + "`memory_percent`" + ` are the mean of the trace's 5-minute samples in
  that hour, with three decimals; an hour with no sample is empty (missing, never zero);
- ` + "`memory_percent`" + ` is always empty for the NAB traces (CloudWatch reports no memory).

## Transformation

- NAB (` + "`" + nabRepo + "`" + ` at commit ` + "`" + nabCommit + "`" + `, MIT, ` + "`LICENSE-nab`" + ` is its LICENSE.txt):
  columns ` + "`timestamp,value`" + `, 5-minute CloudWatch EC2 CPUUtilization (%), naive timestamps read as
  UTC; values clamped to [0, 100]; hourly mean.
- Bitbrains GWA-T-12 "rnd" VM traces, July 2013 (copied from ` + "`" + bitbrainsRepo + "`" + ` at commit
  ` + "`" + bitbrainsComm + "`" + `; that repository is BSD-2-Clause, ` + "`LICENSE-bitbrains`" + ` is its LICENSE):
  fields separated by ";\t"; the timestamp is Unix **seconds** despite its "[ms]" header; numbers may be
  in scientific notation. CPU % = "CPU usage [%]", clamped to [0, 100], missing when no CPU is
  provisioned (cores or capacity 0). Memory % = "Memory usage [KB]" / "Memory capacity provisioned [KB]"
  x 100, clamped to [0, 100], missing when the capacity or the usage is 0. Hourly mean of each.

The Bitbrains data comes from the TU Delft Grid Workloads Archive, which asks users to cite:
Siqi Shen, Vincent van Beek and Alexandru Iosup, "Statistical Characterization of Business-Critical
Workloads Hosted in Cloud Datacenters", 15th IEEE/ACM International Symposium on Cluster, Cloud and
Grid Computing (CCGrid), 2015.

## Files

| File | Source repo | Commit | Path in origin repo | Licence | First hour (UTC) | Input rows | Hours | CPU hours | Memory hours |
|---|---|---|---|---|---|---:|---:|---:|---:|
`)
	for _, tr := range traces {
		repo, commit, lic := nabRepo, nabCommit, "MIT (LICENSE-nab)"
		if tr.source == "bitbrains" {
			repo, commit, lic = bitbrainsRepo, bitbrainsComm, "BSD-2-Clause repo (LICENSE-bitbrains); GWA-T-12 data, cite Shen et al. CCGrid 2015"
		}
		c, m := tr.present()
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | `%s` | %s | %s | %d | %d | %d | %d |\n",
			tr.file, repo, commit[:12], tr.origin, lic, tr.firstHour.Format("2006-01-02T15:04Z"), tr.rows, len(tr.cpu), c, m)
	}
	return b.Bytes()
}
