package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// The billing benchmark converts a generated AWS CUR CSV to FOCUS
// Parquet with cloudtrim and does the same projection with DuckDB, at
// two sizes, in the same run.

// duckDBVersion is the @duckdb/node-api release the benchmark installs
// from npm (its native binding comes as an npm package too).
const duckDBVersion = "1.5.6-r.1"

var benchCURColumns = []string{
	"identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/BillingEntity", "bill/BillType", "bill/PayerAccountId",
	"bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "lineItem/UsageAccountId", "lineItem/LineItemType",
	"lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation",
	"lineItem/AvailabilityZone", "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/NormalizationFactor",
	"lineItem/CurrencyCode", "lineItem/UnblendedRate", "lineItem/UnblendedCost", "lineItem/BlendedRate", "lineItem/BlendedCost",
	"lineItem/LineItemDescription", "lineItem/TaxType", "product/ProductName", "product/instanceType", "product/region",
	"product/sku", "product/productFamily", "pricing/publicOnDemandCost", "pricing/publicOnDemandRate", "pricing/term",
	"pricing/unit", "reservation/ReservationARN", "reservation/EffectiveCost", "savingsPlan/SavingsPlanARN",
	"savingsPlan/SavingsPlanEffectiveCost", "resourceTags/user:app", "resourceTags/user:env", "resourceTags/user:team",
}

// writeBenchCUR writes n CUR line items, deterministically: 20 linked
// accounts, 30 days of hourly usage of EC2, EBS, S3 and data transfer,
// a share covered by reservations and savings plans, taxes and credits.
func writeBenchCUR(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write(benchCURColumns); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	period := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	periodEnd := period.AddDate(0, 1, 0)
	types := []string{"m5.large", "m5.xlarge", "c6g.large", "r6i.2xlarge", "t3.medium", "m7g.large"}
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}
	apps := []string{"checkout", "search", "billing", "ml", "web", ""}
	envs := []string{"prod", "staging", "dev", ""}
	rec := make([]string, len(benchCURColumns))
	for i := range n {
		acct := fmt.Sprintf("1234567890%02d", i%20)
		hour := period.Add(time.Duration(i/((n/720)+1)) * time.Hour)
		end := hour.Add(time.Hour)
		region := regions[rng.IntN(len(regions))]
		for j := range rec {
			rec[j] = ""
		}
		rate := 0.05 + rng.Float64()*0.9
		qty := 1.0
		lit := "Usage"
		product, code, family, usage, unit := "Amazon Elastic Compute Cloud", "AmazonEC2", "Compute Instance", "BoxUsage:", "Hrs"
		itype := types[rng.IntN(len(types))]
		res := fmt.Sprintf("i-0%015x", rng.Uint64()>>4)
		switch k := rng.IntN(100); {
		case k < 12:
			lit = "DiscountedUsage"
			rec[35] = "arn:aws:ec2:" + region + ":" + acct + ":reserved-instances/ri-" + strconv.Itoa(i%50)
		case k < 22:
			lit = "SavingsPlanCoveredUsage"
			rec[37] = "arn:aws:savingsplans::" + acct + ":savingsplan/sp-" + strconv.Itoa(i%30)
		case k < 40:
			product, code, family, usage, unit, itype = "Amazon Elastic Compute Cloud", "AmazonEC2", "Storage", "EBS:VolumeUsage.gp3", "GB-Mo", ""
			res = fmt.Sprintf("vol-0%015x", rng.Uint64()>>4)
			qty = float64(rng.IntN(500)+8) / 720
			rate = 0.08
		case k < 55:
			product, code, family, usage, unit, itype = "Amazon Simple Storage Service", "AmazonS3", "Storage", "TimedStorage-ByteHrs", "GB-Mo", ""
			res = "bucket-" + strconv.Itoa(i%400)
			qty = rng.Float64() * 100
			rate = 0.023
		case k < 70:
			product, code, family, usage, unit, itype = "AWS Data Transfer", "AWSDataTransfer", "Data Transfer", "DataTransfer-Out-Bytes", "GB", ""
			res = ""
			qty = rng.Float64() * 20
			rate = 0.09
		case k < 71:
			lit, product, code, family, usage, unit, itype, res = "Tax", "Amazon Elastic Compute Cloud", "AmazonEC2", "", "", "", "", ""
			rec[25] = "VAT"
		case k < 72:
			lit, product, code, family, usage, unit, itype, res = "Credit", "Amazon Elastic Compute Cloud", "AmazonEC2", "", "", "", "", ""
			rate = -rate
		}
		if itype != "" {
			usage += itype
		}
		cost := rate * qty
		list := cost
		if lit != "Usage" && lit != "Tax" && lit != "Credit" {
			list = cost * 1.35
		}
		rec[0] = fmt.Sprintf("li%014d", i)
		rec[1] = hour.Format(time.RFC3339) + "/" + end.Format(time.RFC3339)
		rec[2] = "EUINGB26-" + strconv.Itoa(i%7)
		rec[3], rec[4], rec[5] = "AWS", "Anniversary", "123456789000"
		rec[6], rec[7] = period.Format(time.RFC3339), periodEnd.Format(time.RFC3339)
		rec[8], rec[9] = acct, lit
		rec[10], rec[11] = hour.Format(time.RFC3339), end.Format(time.RFC3339)
		rec[12], rec[13], rec[14] = code, usage, "RunInstances"
		rec[15], rec[16] = region+"a", res
		rec[17], rec[18] = strconv.FormatFloat(qty, 'f', 6, 64), "4"
		rec[19] = "USD"
		rec[20], rec[21] = strconv.FormatFloat(rate, 'f', 10, 64), strconv.FormatFloat(cost, 'f', 10, 64)
		rec[22], rec[23] = rec[20], rec[21]
		rec[24] = "$" + strconv.FormatFloat(rate, 'f', 3, 64) + " per " + unit + " " + usage
		rec[26], rec[27], rec[28] = product, itype, region
		rec[29], rec[30] = fmt.Sprintf("SKU%013d", rng.IntN(5000)), family
		rec[31], rec[32] = strconv.FormatFloat(list, 'f', 10, 64), strconv.FormatFloat(list/max(qty, 1e-9), 'f', 10, 64)
		rec[33], rec[34] = "OnDemand", unit
		if lit == "DiscountedUsage" {
			rec[33], rec[36], rec[21] = "Reserved", strconv.FormatFloat(cost*0.62, 'f', 10, 64), "0"
		}
		if lit == "SavingsPlanCoveredUsage" {
			rec[33], rec[38] = "Savings Plan", strconv.FormatFloat(cost*0.71, 'f', 10, 64)
		}
		rec[39], rec[40], rec[41] = apps[rng.IntN(len(apps))], envs[rng.IntN(len(envs))], "team-"+strconv.Itoa(rng.IntN(12))
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// duckSQL is the same projection cloudtrim does, written for DuckDB.
func duckSQL(in, out string) string {
	money := func(col string) string { return `CAST("` + col + `" AS DECIMAL(18,6))` }
	return `COPY (SELECT
  "bill/PayerAccountId" AS BillingAccountId, "lineItem/UsageAccountId" AS SubAccountId,
  'AWS' AS ProviderName, 'Amazon Web Services, Inc.' AS PublisherName, "bill/BillingEntity" AS InvoiceIssuerName,
  CAST("bill/BillingPeriodStartDate" AS TIMESTAMPTZ) AS BillingPeriodStart, CAST("bill/BillingPeriodEndDate" AS TIMESTAMPTZ) AS BillingPeriodEnd,
  CAST("lineItem/UsageStartDate" AS TIMESTAMPTZ) AS ChargePeriodStart, CAST("lineItem/UsageEndDate" AS TIMESTAMPTZ) AS ChargePeriodEnd,
  CASE "lineItem/LineItemType" WHEN 'Tax' THEN 'Tax' WHEN 'Credit' THEN 'Credit' WHEN 'Refund' THEN 'Credit'
    WHEN 'RIFee' THEN 'Purchase' WHEN 'Fee' THEN 'Purchase' ELSE 'Usage' END AS ChargeCategory,
  "lineItem/LineItemDescription" AS ChargeDescription, "lineItem/CurrencyCode" AS BillingCurrency,
  ` + money("lineItem/UnblendedCost") + ` AS BilledCost,
  CASE "lineItem/LineItemType" WHEN 'SavingsPlanCoveredUsage' THEN ` + money("savingsPlan/SavingsPlanEffectiveCost") + `
    WHEN 'DiscountedUsage' THEN ` + money("reservation/EffectiveCost") + ` ELSE ` + money("lineItem/UnblendedCost") + ` END AS EffectiveCost,
  ` + money("pricing/publicOnDemandCost") + ` AS ListCost, ` + money("lineItem/UnblendedCost") + ` AS ContractedCost,
  ` + money("pricing/publicOnDemandRate") + ` AS ListUnitPrice, ` + money("lineItem/UnblendedRate") + ` AS ContractedUnitPrice,
  CAST("lineItem/UsageAmount" AS DOUBLE) AS PricingQuantity, "pricing/unit" AS PricingUnit,
  CAST("lineItem/UsageAmount" AS DOUBLE) AS ConsumedQuantity, "pricing/unit" AS ConsumedUnit,
  CASE "pricing/term" WHEN 'OnDemand' THEN 'Standard' ELSE 'Committed' END AS PricingCategory,
  "lineItem/ResourceId" AS ResourceId, "product/region" AS RegionId, "lineItem/AvailabilityZone" AS AvailabilityZone,
  "product/ProductName" AS ServiceName, "product/sku" AS SkuId,
  coalesce("reservation/ReservationARN", "savingsPlan/SavingsPlanARN") AS CommitmentDiscountId,
  map_from_entries(list_filter([{'k': 'app', 'v': "resourceTags/user:app"}, {'k': 'env', 'v': "resourceTags/user:env"},
    {'k': 'team', 'v': "resourceTags/user:team"}], x -> x.v IS NOT NULL)) AS Tags,
  'aws' AS x_Cloud, "lineItem/UsageType" AS x_UsageType, "lineItem/Operation" AS x_Operation, "lineItem/LineItemType" AS x_ChargeType
FROM read_csv('` + in + `', header = true, all_varchar = true))
TO '` + out + `' (FORMAT parquet, COMPRESSION snappy)`
}

// installDuckDB installs the DuckDB Node API from npm into the bench
// cache (idempotent) and returns the node binary and the module folder.
func installDuckDB() (node, dir string, err error) {
	standins := os.Getenv("CLOUDTRIM_STANDINS")
	if standins == "" {
		home, _ := os.UserHomeDir()
		standins = filepath.Join(home, ".cache", "cloudtrim", "standins")
	}
	node = filepath.Join(standins, "node_modules", ".bin", "node")
	if _, err := os.Stat(node); err != nil {
		return "", "", fmt.Errorf("node from the stand-ins is missing (%s): run make standins", node)
	}
	dir = filepath.Join(filepath.Dir(standins), "bench-duckdb")
	pj := filepath.Join(dir, "node_modules", "@duckdb", "node-api", "package.json")
	if b, err := os.ReadFile(pj); err == nil && strings.Contains(string(b), `"version": "`+duckDBVersion+`"`) {
		return node, dir, nil
	}
	fmt.Fprintf(os.Stderr, "installing @duckdb/node-api@%s from npm…\n", duckDBVersion)
	cmd := exec.Command("npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", "--loglevel=error", "@duckdb/node-api@"+duckDBVersion)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("npm install @duckdb/node-api: %w", err)
	}
	return node, dir, nil
}

// runDuckDB runs the projection in a node process and returns its wall
// time and peak RSS.
func runDuckDB(node, dir, in, out string) (time.Duration, int64, error) {
	script := filepath.Join(dir, "project.mjs")
	js := `import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(process.argv[2]);
`
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		return 0, 0, err
	}
	cmd := exec.Command(node, script, duckSQL(in, out))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("duckdb: %w", err)
	}
	d := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024
	}
	return d, rss, nil
}

// measureIngest is the "ingest" step: read the CUR at path into a
// file:// lake and print "seconds rows bytes".
func measureIngest(ctx context.Context, path, dir string) error {
	l, err := lake.Open(ctx, "file://"+dir)
	if err != nil {
		return err
	}
	defer l.Close()
	prices, err := pricing.Embedded()
	if err != nil {
		return err
	}
	p := &pipeline.Pipeline{Lake: l, Prices: prices, Policy: domain.DefaultPolicy(), Now: func() time.Time { return now }}
	src, err := pipeline.ExpandSources(ctx, []string{path})
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := p.Ingest(ctx, src, pipeline.IngestOptions{})
	if err != nil {
		return err
	}
	if res.Total.Rejected > 0 {
		return fmt.Errorf("ingest rejected %d rows of the generated CUR: %v", res.Total.Rejected, res.Total.ByRule)
	}
	fmt.Printf("%f %d %d\n", time.Since(start).Seconds(), res.Total.Kept, res.Total.Bytes)
	return nil
}

func billingTable(dir string) error {
	node, duckDir, err := installDuckDB()
	if err != nil {
		return err
	}
	type row struct {
		n                  int
		ct                 result
		duck               time.Duration
		duckRSS, fileBytes int64
	}
	var rows []row
	for _, n := range []int{200_000, 2_000_000} {
		csvPath := filepath.Join(dir, fmt.Sprintf("cur-%d.csv", n))
		fmt.Fprintf(os.Stderr, "generating a %d-row AWS CUR CSV…\n", n)
		if err := writeBenchCUR(csvPath, n); err != nil {
			return err
		}
		st, _ := os.Stat(csvPath)
		fmt.Fprintf(os.Stderr, "converting it with cloudtrim…\n")
		ct, err := run("ingest:"+csvPath, 0, filepath.Join(dir, fmt.Sprintf("lake-%d", n)))
		if err != nil {
			return err
		}
		if ct.resources != n {
			return fmt.Errorf("cloudtrim kept %d rows of %d", ct.resources, n)
		}
		fmt.Fprintf(os.Stderr, "converting it with DuckDB…\n")
		d, rss, err := runDuckDB(node, duckDir, csvPath, filepath.Join(dir, fmt.Sprintf("duck-%d.parquet", n)))
		if err != nil {
			return err
		}
		rows = append(rows, row{n: n, ct: ct, duck: d, duckRSS: rss, fileBytes: st.Size()})
		os.Remove(csvPath)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "AWS CUR CSV → FOCUS Parquet\tCSV size\tcloudtrim\trows/s\tpeak RSS\tDuckDB\trows/s\tpeak RSS\tratio\ttarget\tmet\t")
	for _, r := range rows {
		ctRate := float64(r.n) / r.ct.seconds
		duckRate := float64(r.n) / r.duck.Seconds()
		ratio := ctRate / duckRate
		fmt.Fprintf(tw, "%d rows\t%d MiB\t%.2f s\t%.0f\t%d MiB\t%.2f s\t%.0f\t%d MiB\t%.2f×\t≥ 0.5×, ≤ 512 MiB\t%s\t\n",
			r.n, r.fileBytes>>20, r.ct.seconds, ctRate, r.ct.maxRSSBytes>>20, r.duck.Seconds(), duckRate, r.duckRSS>>20, ratio,
			yes(ratio >= 0.5 && r.ct.maxRSSBytes <= 512<<20))
	}
	tw.Flush()
	fmt.Printf("cloudtrim: detect, convert, validate, write partitioned Parquet with the snapshot protocol, read back and reconcile; DuckDB %s: the same projection, COPY to one Parquet file.\n\n", duckDBVersion)
	return nil
}
