package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda/lambdatest"
)

// awsRegions are the regions of the fake account; every one serves the
// us-east-1 part of one account of the simulated estate.
var awsRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
	"eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
	"ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "me-south-1", "af-south-1",
}

// awsEstate is the simulated estate whose AWS account serves every
// region: about 5,000 resources per region.
func awsEstate(prices *pricing.Catalog) (*simcloud.Estate, string, error) {
	est, err := simcloud.New(simcloud.Config{Seed: 11, Resources: 30_000, Now: now, Days: 14}, prices)
	if err != nil {
		return nil, "", err
	}
	return est, est.Accounts(domain.AWS)[0], nil
}

// measureAWSCollect collects a fake account of the given number of
// regions through the awscloud provider and the wire-level fakes, into a
// file lake, and prints "seconds resources series".
func measureAWSCollect(ctx context.Context, regions int, dir string) error {
	prices, err := pricing.Embedded()
	if err != nil {
		return err
	}
	est, account, err := awsEstate(prices)
	if err != nil {
		return err
	}
	srv := awsfake.New(est.Cloud(domain.AWS), awsfake.Options{Regions: awsRegions[:regions], Mirror: "us-east-1", Prices: prices})
	defer srv.Close()
	prov, err := awscloud.New(ctx, awscloud.Config{AWS: srv.Config(account)})
	if err != nil {
		return err
	}
	l, err := lake.Open(ctx, "file://"+dir)
	if err != nil {
		return err
	}
	defer l.Close()
	p := &pipeline.Pipeline{Lake: l, Prices: prices, Policy: domain.DefaultPolicy(), Now: func() time.Time { return now }}
	start := time.Now()
	res, err := p.Collect(ctx, prov, 14, now, nil)
	if err != nil {
		return err
	}
	for _, s := range res.Scopes {
		if s.Error != "" {
			return fmt.Errorf("scope %s/%s: %s", s.Account, s.Region, s.Error)
		}
	}
	fmt.Printf("%f %d %d\n", time.Since(start).Seconds(), res.Resources, res.Series)
	return nil
}

// awsTable measures the AWS collector at 2 and 20 regions, and each
// function's cold start under the Lambda Runtime API harness and its
// package size.
func awsTable(dir string) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "AWS collector (awscloud → wire-level fakes → lake)\tregions\tresources\twall time\tresources/s\tpeak RSS\t")
	for _, regions := range []int{2, 20} {
		fmt.Fprintf(os.Stderr, "collecting a fake AWS account of %d regions…\n", regions)
		r, err := run(fmt.Sprintf("aws-collect-%d", regions), 0, filepath.Join(dir, fmt.Sprintf("aws-%d", regions)))
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "inventory + 14 d CloudWatch + Cost Explorer, pages of 1,000 (%d series)\t%d\t%d\t%.2f s\t%.0f\t%d MiB\t\n",
			r.extra, regions, r.resources, r.seconds, float64(r.resources)/r.seconds, r.maxRSSBytes>>20)
	}
	tw.Flush()
	fmt.Println()
	return coldStarts(dir)
}

// coldStarts builds each function for this machine as make package
// builds it, starts it under the harness with its configuration pointed
// at the fakes, and times process start → ready for the first event →
// first response. Zip sizes are those of make package (linux/arm64).
func coldStarts(dir string) error {
	ctx := context.Background()
	prices, err := pricing.Embedded()
	if err != nil {
		return err
	}
	est, account, err := awsEstate(prices)
	if err != nil {
		return err
	}
	srv := awsfake.New(est.Cloud(domain.AWS), awsfake.Options{Prices: prices})
	defer srv.Close()
	arn := "arn:aws:secretsmanager:us-east-1:" + account + ":secret:bench"
	srv.SetSecret(arn, "bench-secret-0123456789abcdef", "")
	lakeDir := filepath.Join(dir, "coldstart-lake")
	none := filepath.Join(dir, "none")
	base := append(srv.Env(account), "CLOUDTRIM_LAKE_URL=file://"+lakeDir, "AWS_CONFIG_FILE="+none,
		"AWS_SHARED_CREDENTIALS_FILE="+none, "AWS_EC2_METADATA_DISABLED=true")
	queue := "CLOUDTRIM_QUEUE_URL=http://127.0.0.1:9/000000000000/cloudtrim-actions"
	cases := []struct {
		name  string
		env   []string
		event string
	}{
		{"collect-aws", nil, `{"days": 0.5}`}, // refused at once: times init and the event check
		{"optimize", nil, `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"reports/x.html"}}}]}`},
		{"approve", []string{queue, "CLOUDTRIM_WEBHOOK_SECRET_ARN=" + arn}, `{"version":"2.0","rawPath":"/approve","requestContext":{"http":{"method":"POST","path":"/approve"}},"body":"{}"}`},
		{"actuate", []string{queue, "CLOUDTRIM_DEAD_LETTER_QUEUE_URL=http://127.0.0.1:9/000000000000/cloudtrim-dlq"}, `{"Records":[]}`},
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tready (init)\tfirst response\ttarget\tzip (linux/arm64)\ttarget\tmet\t")
	for _, c := range cases {
		fmt.Fprintf(os.Stderr, "building and starting %s…\n", c.name)
		bin, err := lambdatest.Build(ctx, "github.com/cloudtrim/cloudtrim/functions/"+c.name, filepath.Join(dir, "bin-"+c.name))
		if err != nil {
			return err
		}
		h, err := lambdatest.New(lambdatest.Options{Binary: bin, Env: append(append([]string(nil), base...), c.env...), FunctionName: c.name, MemoryMiB: 512})
		if err != nil {
			return err
		}
		res := h.Invoke(ctx, []byte(c.event))
		cs := h.ColdStart()
		stderr := h.Stderr()
		h.Close()
		if res.Err != nil && res.Err.Type == lambdatest.ErrorTypeExit {
			return fmt.Errorf("%s exited: %s\n%s", c.name, res.Err.Message, stderr)
		}
		zip := "run make package"
		zipOK := true
		if fi, err := os.Stat(filepath.Join("dist", c.name+".zip")); err == nil {
			zip = fmt.Sprintf("%.1f MB", float64(fi.Size())/1e6)
			zipOK = fi.Size() <= 15e6
		}
		fmt.Fprintf(tw, "%s\t%.0f ms\t%.0f ms\t≤ 150 ms\t%s\t≤ 15 MB\t%s\t\n", c.name,
			ms(cs.ToFirstNext), ms(cs.ToFirstResponse), zip, yes(cs.ToFirstResponse <= 150*time.Millisecond && zipOK))
	}
	tw.Flush()
	fmt.Println("cold start: from process start to the runtime's first request for an event (init: lake, STS, secret) and to its first answer, on this machine (" + strings.TrimSpace(hostArch()) + ").")
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
