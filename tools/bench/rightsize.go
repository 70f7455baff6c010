package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// The rightsizing table: the optimizer's VM rules (rightsize with its
// stability gate, idle stop, schedules, commitments) over n VMs, each
// with 14 days of hourly CPU and memory, in one process so that its peak
// resident memory is its own. Placement is off: it has its own table.

// vmSnapshot is an in-memory snapshot of n running VMs of the embedded
// catalog's us-east-1 sizes with synthetic hourly series: a daily cycle
// around a per-VM level, some VMs with a memory agent.
type vmSnapshot struct {
	n     int
	skus  []string
	end   time.Time
	hours int
}

func (s *vmSnapshot) Ref() domain.SnapshotRef {
	return domain.SnapshotRef{Cloud: domain.AWS, RunID: "bench", Manifest: "bench", Checksum: "sha256:00", At: s.end}
}

func (s *vmSnapshot) id(i int) string { return fmt.Sprintf("i-%017x", i) }

func (s *vmSnapshot) Resources(ctx context.Context, fn func(domain.Resource) error) error {
	for i := range s.n {
		tags := map[string]string{"cloudtrim-optin": "true"}
		if i%7 == 0 {
			tags["env"], tags["tz"] = "dev", "Europe/Paris"
		}
		r := domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindVM,
			ID: s.id(i), SKU: s.skus[i%len(s.skus)], State: domain.StateRunning, Tags: tags, CreatedAt: s.end.AddDate(-1, 0, 0)}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *vmSnapshot) Series(ctx context.Context, fn func(domain.Series) error) error {
	cpu := make([]float32, s.hours)
	mem := make([]float32, s.hours)
	start := s.end.Add(-time.Duration(s.hours) * time.Hour)
	for i := range s.n {
		level := float64(2 + (i*37)%60)
		for h := range s.hours {
			day := math.Sin(2 * math.Pi * float64(h%24) / 24)
			cpu[h] = float32(math.Max(0, level*(1+0.5*day)+float64((i*h)%7)))
			mem[h] = float32(30 + (i % 50))
		}
		if err := fn(domain.Series{ResourceID: s.id(i), Metric: domain.MetricCPU, Start: start, Step: time.Hour, Values: cpu}); err != nil {
			return err
		}
		if i%2 == 0 {
			if err := fn(domain.Series{ResourceID: s.id(i), Metric: domain.MetricMemory, Start: start, Step: time.Hour, Values: mem}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *vmSnapshot) CostRows(ctx context.Context, fn func(domain.CostRow) error) error { return nil }

// measureRightsize plans n VMs and prints "seconds vms actions".
func measureRightsize(n int) error {
	prices, err := pricing.Embedded()
	if err != nil {
		return err
	}
	var skus []string
	for _, p := range prices.VMSizes(domain.AWS, "us-east-1") {
		if p.VCPU >= 2 && p.VCPU <= 16 && p.GPUs == 0 {
			skus = append(skus, p.SKU)
		}
	}
	pol := domain.DefaultPolicy()
	pol.Placement.Enabled = false
	snap := &vmSnapshot{n: n, skus: skus, end: now, hours: 14 * 24}
	start := time.Now()
	plan, err := optimize.Optimize(context.Background(), optimize.Request{PlanID: "plan-bench", Now: now, Policy: pol,
		Snapshots: []optimize.Snapshot{snap}, Prices: prices})
	if err != nil {
		return err
	}
	fmt.Printf("%f %d %d\n", time.Since(start).Seconds(), plan.Resources, len(plan.Actions))
	return nil
}

// rightsizeTable prints the rightsizing measurements.
func rightsizeTable(w io.Writer, sizes []int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rightsizing: VMs × 14 d hourly CPU (memory on half)\tVMs\tactions\ttime\tpeak RSS\ttarget\t")
	for _, n := range sizes {
		fmt.Fprintf(os.Stderr, "rightsizing %d VMs…\n", n)
		r, err := run("rightsize", n, os.TempDir())
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "stability gate 3 runs, stop, schedule, commitments\t%d\t%d\t%.1f s\t%d MiB\t≤ 30 s\t\n", r.resources, r.extra, r.seconds, r.maxRSSBytes>>20)
	}
	return tw.Flush()
}
