// Command bench measures cloudtrim against its performance targets and
// prints tables: collecting a 100,000-resource simulated estate into a
// committed Parquet snapshot, and optimizing it (14 days of hourly CPU
// and memory); converting a generated AWS CUR CSV of 200,000 and
// 2,000,000 rows to FOCUS Parquet with cloudtrim and with DuckDB;
// collecting a fake AWS account of 2 and 20 regions through
// the awscloud provider and the wire-level fakes; and each Lambda
// function's cold start under the Runtime API harness and its zip size; and the
// approval webhook's latency under 200 signed requests a second and the
// actuator's throughput, exactly once checked (-only approvals). Each
// measurement of the first tables runs in its own process so that its
// peak resident memory is its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

func main() {
	n := flag.Int("n", 100_000, "resources in the estate")
	step := flag.String("step", "", "internal: run one measurement (collect or optimize) in this process")
	dir := flag.String("dir", "", "internal: lake directory")
	cpuprofile := flag.String("cpuprofile", "", "with -step or -only approvals: write a CPU profile of the measurement to this file")
	only := flag.String("only", "", "run only this table: billing, approvals, azure, gcp, placement or rightsize")
	approvalsDuration := flag.Duration("approvals-duration", defaultApprovals.Duration, "how long the approvals table drives the webhook")
	approvalsSizes := flag.String("approvals-estates", "0,2000", "estate sizes of the approvals table, comma-separated; 0 is the demo estate")
	gen := flag.String("gen-cur", "", "write the generated AWS CUR CSV of -n rows to this file and exit")
	flag.Parse()
	if *gen != "" {
		if err := writeBenchCUR(*gen, *n); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "billing" {
		dir, err := os.MkdirTemp("", "cloudtrim-bench-")
		if err == nil {
			defer os.RemoveAll(dir)
			err = billingTable(dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "approvals" {
		cfg := defaultApprovals
		cfg.Duration = *approvalsDuration
		cfg.Estates = nil
		for _, f := range strings.Split(*approvalsSizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 || (n > 0 && n < 50) {
				fmt.Fprintf(os.Stderr, "bench: -approvals-estates: %q is not 0 or an estate size of at least 50\n", f)
				os.Exit(2)
			}
			cfg.Estates = append(cfg.Estates, n)
		}
		if *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		dir, err := os.MkdirTemp("", "cloudtrim-bench-")
		if err == nil {
			defer os.RemoveAll(dir)
			err = approvalsTable(dir, cfg)
		}
		if err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "placement" {
		if err := placementTable(os.Stdout, defaultPlacement); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "rightsize" {
		if err := rightsizeTable(os.Stdout, []int{10_000, 100_000}); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "gcp" {
		dir, err := os.MkdirTemp("", "cloudtrim-bench-")
		if err == nil {
			defer os.RemoveAll(dir)
			err = gcpTables(dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only == "azure" {
		dir, err := os.MkdirTemp("", "cloudtrim-bench-")
		if err == nil {
			defer os.RemoveAll(dir)
			err = azureTables(dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *only != "" {
		fmt.Fprintf(os.Stderr, "bench: -only %q: want billing, approvals, azure, gcp, placement or rightsize\n", *only)
		os.Exit(2)
	}
	if *step != "" && *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *step != "" {
		if err := measure(*step, *n, *dir); err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := table(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var now = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// measure runs one step and prints "seconds resources series" on stdout.
func measure(step string, n int, dir string) error {
	ctx := context.Background()
	l, err := lake.Open(ctx, "file://"+dir)
	if err != nil {
		return err
	}
	defer l.Close()
	prices, err := pricing.Embedded()
	if err != nil {
		return err
	}
	prices = pricing.WithObjectStorage(prices) // the estate's buckets
	p := &pipeline.Pipeline{Lake: l, Prices: prices, Policy: domain.DefaultPolicy(), Now: func() time.Time { return now }}
	switch step {
	case "collect", "collect-nocost":
		est, err := simcloud.New(simcloud.Config{Seed: 7, Resources: n, Now: now, Days: 14}, prices)
		if err != nil {
			return err
		}
		start := time.Now()
		resources, series := 0, 0
		for _, c := range domain.Clouds {
			var prov collect.Provider = est.Cloud(c)
			if step == "collect-nocost" {
				prov = noCosts{prov}
			}
			res, err := p.Collect(ctx, prov, 14, now, nil)
			if err != nil {
				return err
			}
			resources += res.Resources
			series += res.Series
		}
		fmt.Printf("%f %d %d\n", time.Since(start).Seconds(), resources, series)
	case "rightsize":
		return measureRightsize(n)
	case "optimize":
		start := time.Now()
		plan, err := p.Plan(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("%f %d %d\n", time.Since(start).Seconds(), plan.Resources, len(plan.Actions))
	default:
		if path, ok := strings.CutPrefix(step, "ingest:"); ok {
			return measureIngest(ctx, path, dir)
		}
		var regions int
		if _, err := fmt.Sscanf(step, "aws-collect-%d", &regions); err == nil && regions >= 1 && regions <= len(awsRegions) {
			return measureAWSCollect(ctx, regions, dir)
		}
		return fmt.Errorf("unknown step %q", step)
	}
	return nil
}

// noCosts hides a provider's cost data, to measure inventory and
// utilization alone.
type noCosts struct{ collect.Provider }

func (noCosts) CostRows(context.Context, string, collect.Window, func([]domain.CostRow) error) error {
	return nil
}

type result struct {
	seconds     float64
	resources   int
	extra       int
	maxRSSBytes int64
}

func run(step string, n int, dir string) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "-step", step, "-n", strconv.Itoa(n), "-dir", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", step, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return result{}, fmt.Errorf("%s: unexpected output %q", step, out)
	}
	var r result
	r.seconds, _ = strconv.ParseFloat(f[0], 64)
	r.resources, _ = strconv.Atoi(f[1])
	r.extra, _ = strconv.Atoi(f[2])
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSSBytes = ru.Maxrss * 1024
	}
	return r, nil
}

func table(n int) error {
	dir, err := os.MkdirTemp("", "cloudtrim-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "collecting %d resources without cost data…\n", n)
	nc, err := run("collect-nocost", n, filepath.Join(dir, "nocost"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "collecting %d resources with 7 days of cost rows…\n", n)
	c, err := run("collect", n, filepath.Join(dir, "full"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "optimizing…\n")
	o, err := run("optimize", n, filepath.Join(dir, "full"))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\tresources\twall time\tresources/s\tpeak RSS\ttarget\tmet\t")
	fmt.Fprintf(tw, "collect inventory + 14 d utilization → committed snapshot (%d series)\t%d\t%.2f s\t%.0f\t%d MiB\t≥ 50,000 resources/s\t%s\t\n",
		nc.extra, nc.resources, nc.seconds, float64(nc.resources)/nc.seconds, nc.maxRSSBytes>>20, yes(float64(nc.resources)/nc.seconds >= 50_000))
	fmt.Fprintf(tw, "collect with 7 days of daily cost rows too (%d series)\t%d\t%.2f s\t%.0f\t%d MiB\t≥ 50,000 resources/s\t%s\t\n",
		c.extra, c.resources, c.seconds, float64(c.resources)/c.seconds, c.maxRSSBytes>>20, yes(float64(c.resources)/c.seconds >= 50_000))
	fmt.Fprintf(tw, "optimize, 14 days hourly CPU+memory (%d actions)\t%d\t%.2f s\t%.0f\t%d MiB\t≤ 30 s, ≤ 1 GiB\t%s\t\n",
		o.extra, o.resources, o.seconds, float64(o.resources)/o.seconds, o.maxRSSBytes>>20, yes(o.seconds <= 30 && o.maxRSSBytes <= 1<<30))
	tw.Flush()
	fmt.Printf("machine: %d CPUs; peak RSS is the measuring process's maximum resident set (getrusage).\n\n", runtime.NumCPU())
	if err := rightsizeTable(os.Stdout, []int{100_000}); err != nil {
		return err
	}
	fmt.Println()
	if err := billingTable(dir); err != nil {
		return err
	}
	if err := awsTable(dir); err != nil {
		return err
	}
	fmt.Println()
	if err := azureTables(dir); err != nil {
		return err
	}
	if err := gcpTables(dir); err != nil {
		return err
	}
	return approvalsTable(dir, defaultApprovals)
}

// azureTables measures the Azure function app: the collector over
// synthetic estates of 10 and 50 subscriptions served by the SDK's fake
// servers, and the custom handler's cold start.
func azureTables(dir string) error {
	if err := azureTable(os.Stdout); err != nil {
		return err
	}
	fmt.Println()
	return azureColdStartTable(dir, 20)
}

func hostArch() string { return runtime.GOOS + "/" + runtime.GOARCH }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
