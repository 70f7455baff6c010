package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
)

// The Google Cloud collector table's estates: projects of gcpInstances
// instances each, 14 days of CPU at gcpStep.
var (
	gcpProjects  = []int{10, 50}
	gcpInstances = 2000
	gcpStep      = 6 * time.Hour
)

// gcpTable collects synthetic Google Cloud estates of 10 and 50
// projects of 2,000 instances through the gcpcloud provider, served by
// gcpfake (Compute Engine over REST, Cloud Monitoring over gRPC), with the
// collector core writing to a sink that counts and keeps nothing, and
// prints resources a second, Monitoring calls and the peak heap above the
// heap the estate holds: the provider's and collector's memory, which
// must not grow with the estate.
func gcpTable(w io.Writer) error {
	fmt.Fprintf(os.Stderr, "generating a fake Google Cloud estate of %d projects × %d instances…\n", slices.Max(gcpProjects), gcpInstances)
	est := gcpfake.Synthetic(gcpfake.SyntheticConfig{Seed: 42, Projects: slices.Max(gcpProjects), InstancesPerProject: gcpInstances, Now: now})
	var all []string
	for id := range est.Projects {
		all = append(all, id)
	}
	slices.Sort(all)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "Google Cloud collector (gcpcloud → gcpfake)\tprojects\tinstances\tresources\tseries\twall time\tresources/s\tmetric calls\tpeak live heap\tpeak HeapInuse\testate\t")
	for _, n := range gcpProjects {
		fmt.Fprintf(os.Stderr, "collecting %d projects × %d instances…\n", n, gcpInstances)
		r, err := gcpCollectRun(context.Background(), est, all[:n])
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "inventory + 14 d Cloud Monitoring CPU (%g h step)\t%d\t%d\t%d\t%d\t%.1f s\t%.0f\t%d\t%d MiB\t%d MiB\t%d MiB\t\n",
			gcpStep.Hours(), n, n*gcpInstances, r.resources, r.series, r.wall.Seconds(), float64(r.resources)/r.wall.Seconds(),
			r.metricCalls, r.peakLive>>20, r.peakInuse>>20, r.estateLive>>20)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Both runs read one estate of the largest size, the smaller its first projects. Peak heaps as in the Azure table. "+
		"Metric calls: one query per metric per project and region, paged; no billing export is configured (its reader has its own tests).")
	return err
}

// gcpCollectRun collects projects of est once and measures.
func gcpCollectRun(ctx context.Context, est *gcpfake.Estate, projects []string) (azureRun, error) {
	srv := gcpfake.NewServer(est, gcpfake.Options{})
	defer srv.Close()
	mon := gcpfake.NewMonitoring()
	defer mon.Close()
	mon.SetSource(gcpfake.SyntheticMetricSource(est, gcpStep))
	p, err := gcpcloud.New(ctx, gcpcloud.Config{Projects: projects, ComputeOptions: srv.ClientOptions(), MonitoringOptions: mon.ClientOptions(),
		StorageOptions: srv.StorageClientOptions()})
	if err != nil {
		return azureRun{}, err
	}
	defer p.Close()
	r, err := measureCollect(ctx, p, gcpStep, p.MetricCalls)
	runtime.KeepAlive(est)
	return r, err
}

// gcpTables measures the Google Cloud functions: the collector over
// synthetic estates of 10 and 50 projects, and the binary's cold start.
func gcpTables(dir string) error {
	if err := gcpTable(os.Stdout); err != nil {
		return err
	}
	fmt.Println()
	return gcpColdStartTable(dir, 20)
}
