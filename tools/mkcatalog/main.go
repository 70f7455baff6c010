// Command mkcatalog writes the committed price snapshot that package
// shared/pricing embeds: one CSV per cloud of on-demand list prices of
// VM sizes (with their shapes), disks, snapshots and public addresses in
// a few major regions, commitments.csv of 1-year and 3-year commitment
// rates of VM sizes, a README that records where every part came from,
// and the licence texts of the sources.
//
// It reads the real public price catalogs of the handbook's data
// directory (Karpenter's generated AWS and Azure price tables, the
// Cyclenerd GCP pricing.yml, whose committed use discount prices give
// the GCP commitment rates), the recorded DescribeInstanceTypes and
// Resource SKUs responses that give VM shapes, and an AWS Cost Explorer
// Reserved Instance recommendation export that gives AWS discount
// ratios. Where no recorded shape exists it derives one from the clouds'
// documented size ladders, only for families whose ladder is regular,
// and checks every such rule against the recorded shapes it overlaps.
// AWS and Azure storage and address prices are not in the data set; they
// come from a small table of published list prices below.
//
// Run it from the repository root:
//
//	go run ./tools/mkcatalog -data ../shared/data
//
// The product never reads the data directory: the output is committed
// and embedded with go:embed. The package test checks that the committed
// files are exactly what this command writes.
package main

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

func main() {
	data := flag.String("data", "../shared/data", "the handbook's data directory")
	out := flag.String("out", "shared/pricing/catalog", "directory the catalog is written to")
	flag.Parse()
	if err := run(*data, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkcatalog:", err)
		os.Exit(1)
	}
}

func run(dataDir, outDir string) error {
	files, err := build(dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", outDir, err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(outDir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("write catalog: %w", err)
		}
	}
	return nil
}

// outFile is one file of the catalog directory.
type outFile struct {
	name string
	data []byte
}

// shape is what a VM size offers.
type shape struct {
	arch      string // x86_64 or arm64
	vcpu      int
	memMiB    int64
	gpus      int
	burstable bool
	source    string // where the shape came from: a fixture, pricing.yml or "rule"
}

// same reports whether two shapes describe the same size.
func (s shape) same(o shape) bool {
	return s.arch == o.arch && s.vcpu == o.vcpu && s.memMiB == o.memMiB && s.gpus == o.gpus && s.burstable == o.burstable
}

func (s shape) String() string {
	return fmt.Sprintf("%s %d vCPU %d MiB %d GPU burstable=%t", s.arch, s.vcpu, s.memMiB, s.gpus, s.burstable)
}

// record is one row of a catalog CSV.
type record struct {
	cloud       domain.Cloud
	region      string
	kind        domain.Kind
	sku         string
	shape       shape // VMs only
	unit        string
	price       string // decimal, exactly as in the source
	priceSource string
}

// cloudCatalog is what each cloud's reader returns: the rows and the
// data files they were read from (paths relative to the data directory).
type cloudCatalog struct {
	cloud       domain.Cloud
	records     []record
	inputs      []string
	commitments []commitment    // commitment rates of the VM sizes in records
	cud         *gcpCUDEvidence // GCP only: what pricing.yml shows of its monthly figures
}

// build reads the data directory and returns the catalog's files.
func build(dataDir string) ([]outFile, error) {
	var cats []cloudCatalog
	for _, read := range []func(string) (cloudCatalog, error){readAWS, readAzure, readGCP} {
		c, err := read(dataDir)
		if err != nil {
			return nil, err
		}
		cats = append(cats, c)
	}
	var files []outFile
	for _, c := range cats {
		b, err := writeCSV(c.records)
		if err != nil {
			return nil, err
		}
		name := string(c.cloud) + ".csv"
		// The package's own reader is the final check of every row.
		if _, err := pricing.Parse(name, bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("generated %w", err)
		}
		files = append(files, outFile{name, b})
	}
	current := map[string]string{}
	awsPriceTable, err := readAWSPrices(filepath.Join(dataDir, awsPrices))
	if err != nil {
		return nil, err
	}
	for _, p := range awsPriceTable {
		current[p.sku] = p.price
	}
	ris, err := readAWSRIs(dataDir, current)
	if err != nil {
		return nil, err
	}
	var commitments []commitment
	for _, c := range cats {
		commitments = append(commitments, c.commitments...)
	}
	commitments = append(commitments, ris.commitments...)
	b, err := writeCommitments(commitments)
	if err != nil {
		return nil, err
	}
	if _, err := pricing.ParseCommitments(commitmentsName, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("generated %w", err)
	}
	files = append(files, outFile{commitmentsName, b})
	readme, err := writeREADME(dataDir, cats, commitments, ris)
	if err != nil {
		return nil, err
	}
	files = append(files, outFile{"README.md", readme})
	for _, l := range licences {
		b, err := os.ReadFile(filepath.Join(dataDir, l.from))
		if err != nil {
			return nil, fmt.Errorf("read licence: %w", err)
		}
		files = append(files, outFile{l.name, b})
	}
	return files, nil
}

// licences are the licence texts copied next to the CSVs.
var licences = []struct{ name, from, covers string }{
	{"LICENSE-aws-karpenter", "prices/aws-karpenter/LICENSE", "aws/karpenter-provider-aws: AWS prices and the DescribeInstanceTypes fixture"},
	{"LICENSE-aws-ec2-instance-selector", "api-fixtures/aws-ec2-instance-selector/LICENSE", "aws/amazon-ec2-instance-selector: DescribeInstanceTypes fixtures"},
	{"LICENSE-azure-karpenter", "prices/azure-karpenter/LICENSE", "Azure/karpenter-provider-azure: Azure prices and Resource SKUs fixtures"},
	{"LICENSE-gcp-cyclenerd", "prices/gcp-cyclenerd/LICENSE", "Cyclenerd/google-cloud-pricing-cost-calculator: GCP prices and machine shapes"},
	{"LICENSE-aws-wa-labs", "billing/aws-wa-labs/LICENSE-Apache", "AWS Well-Architected labs: the EC2 Reserved Instance recommendation export"},
}

var header = []string{
	"cloud", "region", "kind", "sku", "family", "arch", "vcpu", "memory_mib", "gpus", "burstable",
	"unit", "usd_per_unit", "shape_source", "price_source",
}

// writeCSV sorts records by region, kind and SKU and writes them.
func writeCSV(records []record) ([]byte, error) {
	records = slices.Clone(records)
	slices.SortFunc(records, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.kind, b.kind), cmp.Compare(a.sku, b.sku))
	})
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return nil, err
	}
	for _, r := range records {
		row := []string{string(r.cloud), r.region, string(r.kind), r.sku, "", "", "", "", "", "", r.unit, r.price, "", r.priceSource}
		if r.kind == domain.KindVM {
			s := r.shape
			row[4] = pricing.Family(r.cloud, r.sku)
			row[5] = s.arch
			row[6] = strconv.Itoa(s.vcpu)
			row[7] = strconv.FormatInt(s.memMiB, 10)
			row[8] = strconv.Itoa(s.gpus)
			row[9] = strconv.FormatBool(s.burstable)
			row[12] = s.source
			if row[4] == "" {
				return nil, fmt.Errorf("%s %s: no family", r.cloud, r.sku)
			}
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// listPrice is a hand-curated published list price.
type listPrice struct {
	kind  domain.Kind
	sku   string
	unit  string
	price string
}

// The SKUs of snapshots and public addresses, the same in every cloud
// (shared/cloud/simcloud and the collectors use them).
const (
	snapshotSKU = "snapshot"
	ipSKU       = "public-ipv4"
)

func listRecords(cloud domain.Cloud, region, page string, prices []listPrice) []record {
	out := make([]record, 0, len(prices))
	for _, p := range prices {
		out = append(out, record{
			cloud: cloud, region: region, kind: p.kind, sku: p.sku, unit: p.unit, price: p.price,
			priceSource: fmt.Sprintf("published list price (%s pricing page), %s", page, region),
		})
	}
	return out
}
