package main

import (
	"bytes"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// committed is the catalog directory the generator's output is committed
// to, relative to this package.
const committed = "../../shared/pricing/catalog"

// dataDir finds the handbook's data directory beside the repository, or
// at $CLOUDTRIM_DATA.
func dataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CLOUDTRIM_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "SOURCES.md")); err != nil {
		t.Skipf("the handbook's data directory is not at %s (set CLOUDTRIM_DATA to check the committed catalog against its sources): %v", dir, err)
	}
	return dir
}

// TestCommittedCatalogIsGenerated checks that shared/pricing/catalog is
// exactly what the generator writes from the real data, so the committed
// snapshot cannot drift from its generator. After changing the generator,
// run: go run ./tools/mkcatalog -data ../shared/data
func TestCommittedCatalogIsGenerated(t *testing.T) {
	files, err := build(dataDir(t))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.name)
		got, err := os.ReadFile(filepath.Join(committed, f.name))
		if err != nil {
			t.Errorf("committed catalog: %v", err)
			continue
		}
		if !bytes.Equal(got, f.data) {
			t.Errorf("committed %s differs from the generator's output: %s\nregenerate with: go run ./tools/mkcatalog -data ../shared/data",
				f.name, firstDiff(string(got), string(f.data)))
		}
	}
	for _, want := range []string{"aws.csv", "azure.csv", "gcp.csv", commitmentsName} {
		if !slices.Contains(names, want) {
			t.Errorf("the generator writes no %s", want)
		}
	}
	entries, err := os.ReadDir(committed)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			t.Errorf("committed catalog has %s, which the generator does not write", e.Name())
		}
	}
	var size int
	for _, f := range files {
		if strings.HasSuffix(f.name, ".csv") {
			size += len(f.data)
		}
	}
	if size > 1<<20 {
		t.Errorf("the CSVs take %d bytes; want well under 1 MiB", size)
	}
}

// firstDiff describes the first line in which committed and generated
// differ.
func firstDiff(committed, generated string) string {
	c, g := strings.Split(committed, "\n"), strings.Split(generated, "\n")
	for i := range max(len(c), len(g)) {
		var cl, gl string
		if i < len(c) {
			cl = c[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if cl != gl || i >= len(c) || i >= len(g) {
			return fmt.Sprintf("line %d is\n\t%q committed,\n\t%q generated", i+1, cl, gl)
		}
	}
	return "same lines"
}

// TestRun writes the catalog to a fresh directory.
func TestRun(t *testing.T) {
	data := dataDir(t)
	out := filepath.Join(t.TempDir(), "catalog")
	if err := run(data, out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, name := range []string{"aws.csv", "azure.csv", "gcp.csv", "commitments.csv", "README.md", "LICENSE-aws-karpenter", "LICENSE-azure-karpenter", "LICENSE-gcp-cyclenerd", "LICENSE-aws-wa-labs"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("run wrote no %s: %v", name, err)
		}
	}
	if err := run(filepath.Join(t.TempDir(), "nothing"), out); err == nil {
		t.Error("run on a missing data directory succeeded; want an error")
	}
}

func TestAWSRuleShape(t *testing.T) {
	tests := []struct {
		sku  string
		want shape
		ok   bool
	}{
		{"m5.large", shape{arch: "x86_64", vcpu: 2, memMiB: 8192}, true},
		{"m5.24xlarge", shape{arch: "x86_64", vcpu: 96, memMiB: 393216}, true},
		{"c5.9xlarge", shape{arch: "x86_64", vcpu: 36, memMiB: 73728}, true},
		{"r6i.xlarge", shape{arch: "x86_64", vcpu: 4, memMiB: 32768}, true},
		{"m7g.medium", shape{arch: "arm64", vcpu: 1, memMiB: 4096}, true},
		{"c6g.16xlarge", shape{arch: "arm64", vcpu: 64, memMiB: 131072}, true},
		{"t3.nano", shape{arch: "x86_64", vcpu: 2, memMiB: 512, burstable: true}, true},
		{"t3a.xlarge", shape{arch: "x86_64", vcpu: 4, memMiB: 16384, burstable: true}, true},
		{"t4g.2xlarge", shape{arch: "arm64", vcpu: 8, memMiB: 32768, burstable: true}, true},
		{"m5.metal", shape{}, false},
		{"c7i.metal-24xl", shape{}, false},
		{"c5n.large", shape{}, false},  // irregular memory: not a rule family
		{"t2.nano", shape{}, false},    // previous generation
		{"t3.4xlarge", shape{}, false}, // no such T size
		{"m5.1xlarge", shape{}, false},
		{"gp3", shape{}, false},
	}
	for _, tc := range tests {
		got, ok := awsRuleShape(tc.sku)
		if tc.ok {
			tc.want.source = "rule"
		}
		if ok != tc.ok || got != tc.want {
			t.Errorf("awsRuleShape(%q) = %+v, %t; want %+v, %t", tc.sku, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAzureRuleShape(t *testing.T) {
	tests := []struct {
		sku  string
		want shape
		ok   bool
	}{
		{"Standard_D2s_v5", shape{arch: "x86_64", vcpu: 2, memMiB: 8192}, true},
		{"Standard_D96as_v5", shape{arch: "x86_64", vcpu: 96, memMiB: 393216}, true},
		{"Standard_E20s_v5", shape{arch: "x86_64", vcpu: 20, memMiB: 163840}, true},
		{"Standard_F72s_v2", shape{arch: "x86_64", vcpu: 72, memMiB: 147456}, true},
		{"Standard_D4ps_v5", shape{arch: "arm64", vcpu: 4, memMiB: 16384}, true},
		{"Standard_D8pls_v5", shape{arch: "arm64", vcpu: 8, memMiB: 16384}, true},
		{"Standard_B2ms", shape{arch: "x86_64", vcpu: 2, memMiB: 8192, burstable: true}, true},
		{"Standard_E64s_v3", shape{}, false},  // 432 GiB, off the ratio
		{"Standard_E96s_v5", shape{}, false},  // 672 GiB, off the ratio
		{"Standard_D64ps_v5", shape{}, false}, // 208 GiB, off the ratio
		{"Standard_E4-2s_v5", shape{}, false}, // constrained cores
		{"Standard_D3s_v5", shape{}, false},   // no such size
		{"Standard_DS2_v2", shape{}, false},
		{"Dsv3_Type3", shape{}, false},
	}
	for _, tc := range tests {
		got, ok := azureRuleShape(tc.sku)
		if tc.ok {
			tc.want.source = "rule"
		}
		if ok != tc.ok || got != tc.want {
			t.Errorf("azureRuleShape(%q) = %+v, %t; want %+v, %t", tc.sku, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseYAML(t *testing.T) {
	doc := `---
about:
  copyright: |2

    Licensed under the Apache License.
  url: https://example.com/x
compute:
  instance:
    e2-micro:
      cost:
        us-central1:
          hour: 0.0083764275 # a comment
        asia-southeast3: {}
      cpu: 0.25
      ram: 1
  list:
    - one
    - "two"
`
	root, err := parseYAML("t.yml", strings.NewReader(doc))
	if err != nil {
		t.Fatalf("parseYAML: %v", err)
	}
	checks := []struct {
		path []string
		want string
	}{
		{[]string{"about", "url"}, "https://example.com/x"},
		{[]string{"compute", "instance", "e2-micro", "cost", "us-central1", "hour"}, "0.0083764275"},
		{[]string{"compute", "instance", "e2-micro", "cpu"}, "0.25"},
		{[]string{"compute", "instance", "e2-micro", "ram"}, "1"},
		{[]string{"compute", "list", "[1]"}, "two"},
	}
	for _, c := range checks {
		n := root.child(c.path...)
		if n == nil || n.value != c.want {
			t.Errorf("child(%v) = %+v; want %q", c.path, n, c.want)
		}
	}
	if n := root.child("compute", "instance", "e2-micro", "cost", "asia-southeast3"); n == nil || len(n.children) != 0 {
		t.Errorf("child(asia-southeast3) = %+v; want an empty mapping", n)
	}
	if n := root.child("about", "copyright"); n == nil || len(root.child("about").children) != 2 {
		t.Errorf("the block scalar leaked into its parent: %+v", root.child("about").children)
	}

	bad := []struct{ name, in, want string }{
		{"duplicate key", "a:\n  b: 1\n  b: 2\n", `t.yml:3: duplicate key "b"`},
		{"no colon", "a:\n  b\n", "t.yml:2: want key: value"},
		{"flow mapping", "a: {b: 1}\n", "t.yml:1: unsupported YAML value"},
		{"under a scalar", "a: 1\n  b: 2\n", "t.yml:2: nested under a scalar"},
		{"tab", "a:\n\tb: 1\n", "t.yml:2: tab in indentation"},
	}
	for _, tc := range bad {
		_, err := parseYAML("t.yml", strings.NewReader(tc.in))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: parseYAML error = %v; want one starting %q", tc.name, err, tc.want)
		}
	}
}

func TestGCPShape(t *testing.T) {
	doc := `compute:
  instance:
    n1-highcpu-2:
      cpu: 2
      ram: 1.8
    e2-small:
      cpu: 0.5
      ram: 2
    t2a-standard-4:
      cpu: 4
      ram: 16
    g2-standard-4:
      l4: 1
      cpu: 4
      ram: 16
    f1-micro:
      cpu: 0.2
      ram: 0.6
`
	root, err := parseYAML("t.yml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want shape
		err  bool
	}{
		{"n1-highcpu-2", shape{arch: "x86_64", vcpu: 2, memMiB: 1843, source: "pricing.yml"}, false},
		{"e2-small", shape{arch: "x86_64", vcpu: 2, memMiB: 2048, burstable: true, source: "pricing.yml+rule"}, false},
		{"t2a-standard-4", shape{arch: "arm64", vcpu: 4, memMiB: 16384, source: "pricing.yml"}, false},
		{"g2-standard-4", shape{arch: "x86_64", vcpu: 4, memMiB: 16384, gpus: 1, source: "pricing.yml"}, false},
		{"f1-micro", shape{}, true}, // fractional and not a known shared-core rule
	}
	for _, tc := range tests {
		got, err := gcpShape(tc.name, root.child("compute", "instance", tc.name))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("gcpShape(%s) = %+v, %v; want %+v, error %t", tc.name, got, err, tc.want, tc.err)
		}
	}
	if !gcpMachine.MatchString("n2-standard-8") || gcpMachine.MatchString("c3-standard-8-lssd") || gcpMachine.MatchString("a2-highgpu-1g") {
		t.Error("gcpMachine keeps the wrong machine types")
	}
}

func TestGCPCommitments(t *testing.T) {
	// n2-standard-4 in us-central1 as pricing.yml has it; the others made up.
	doc := `compute:
  instance:
    n2-standard-4:
      cost:
        us-central1:
          hour: 0.194236
          hour_spot: 0.09212
          month: 113.462182456
          month_1y: 89.32572
          month_3y: 63.81076
          month_spot: 67.2476
    t2a-standard-4:
      cost:
        us-central1:
          hour: 0.154
          month: 112.42
    only-1y:
      cost:
        us-central1:
          hour: 0.1
          month_1y: 36.5
    above-on-demand:
      cost:
        us-central1:
          hour: 0.1
          month_1y: 73
          month_3y: 50
    not-times-730:
      cost:
        us-central1:
          hour: 0.1
          month_1y: 50.1
          month_3y: 40
    no-hour:
      cost:
        us-central1:
          month_1y: 50
`
	root, err := parseYAML("t.yml", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	cost := func(name string) *ynode { return root.child("compute", "instance", name, "cost", "us-central1") }
	var ev gcpCUDEvidence
	cs, err := gcpCommitments("n2-standard-4", "us-central1", cost("n2-standard-4"), &ev)
	if err != nil || len(cs) != 2 {
		t.Fatalf("gcpCommitments(n2-standard-4) = %v, %v; want two commitments", cs, err)
	}
	for i, want := range []struct {
		months            int
		discount, perHour string
	}{{12, "0.370024", "0.122364"}, {36, "0.54997", "0.087412"}} {
		c := cs[i]
		h, _ := exactDecimal(c.hourly)
		if c.termMonths != want.months || c.payment != "monthly" || roundDecimal(c.discount, 6) != want.discount || h != want.perHour {
			t.Errorf("n2-standard-4 commitment %d: %d months %s, discount %s, %s an hour; want %d months monthly, %s, %s",
				i, c.termMonths, c.payment, roundDecimal(c.discount, 6), h, want.months, want.discount, want.perHour)
		}
	}
	if ev.vmRows != 1 || ev.spotRows != 1 || ev.spotAt730 != 1 || ev.monthAt730 != 0 || !slices.Equal(ev.sudSeries, []string{"n2"}) {
		t.Errorf("evidence = %+v; want one row, spot at 730, month below it (n2)", ev)
	}
	cs, err = gcpCommitments("t2a-standard-4", "us-central1", cost("t2a-standard-4"), &ev)
	if err != nil || len(cs) != 0 || !slices.Equal(ev.noCUD, []string{"t2a-standard-4"}) || ev.monthAt730 != 1 {
		t.Errorf("gcpCommitments(t2a-standard-4) = %v, %v, evidence %+v; want none, noted", cs, err, ev)
	}
	for name, want := range map[string]string{
		"only-1y":         "only one of month_1y and month_3y",
		"above-on-demand": "month_1y per hour 0.1 is not between 0 and the on-demand",
		"not-times-730":   "is not a decimal of at most 20 places",
		"no-hour":         "no positive hour price",
	} {
		if _, err := gcpCommitments(name, "us-central1", cost(name), &gcpCUDEvidence{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("gcpCommitments(%s) error = %v; want one containing %q", name, err, want)
		}
	}
}

// riHeader is the header of a Cost Explorer Reserved Instance
// recommendation export.
const riHeader = "Recommendation Date,Owner Account,Instance Type,Size Flexible Recommendation,Max hourly usage in Historical Period,Min hourly usage in Historical Period,Average hourly usage in Historical Period,Max hourly normalized unit usage in Historical Period,Min hourly normalized unit usage in Historical Period,Average hourly normalized unit usage in Historical Period,Projected RI Utilization,Location,OS,Tenancy,Offering Class,Term,Payment Option,Upfront Cost,Recurring Monthly Cost,Recommended Instance Quantity Purchase,Estimated Monthly Savings,Break Even Months\n"

func TestReadAWSRIs(t *testing.T) {
	// Lines 2, 4 and 5 are rows of the real export; line 3 is line 2 with
	// its savings changed, so that savings and break-even disagree.
	export := riHeader +
		"2018-11-14T15:24:54Z,8.36E+11,m4.large,TRUE,2,0,1.994444444,,,,99.72222222,US East (N. Virginia),Linux/UNIX,Shared,Standard,1,All_Upfront,1014,43.07,2,61.09444449,6.964551456\n" +
		"2018-11-14T15:24:54Z,8.36E+11,m4.large,TRUE,2,0,1.994444444,,,,99.72222222,US East (N. Virginia),Linux/UNIX,Shared,Standard,1,All_Upfront,1014,43.07,2,70,6.964551456\n" +
		"2018-11-14T15:24:54Z,8.36E+11,m5.large,FALSE,1,0,0.997222222,,,,99.72222222,US East (N. Virginia),Windows (Amazon VPC),Shared,Standard,1,All_Upfront,1307,54.75,1,27.94211114,9.549990298\n" +
		"2018-11-14T15:24:54Z,8.36E+11,t2.nano,TRUE,2,2,2,,,,100,EU (London),Linux/UNIX,Shared,Standard,1,All_Upfront,76,2.92,2,3.30266673,7.887090079\n"
	dir := t.TempDir()
	path := filepath.Join(dir, awsRIExport)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := readAWSRIs(dir, map[string]string{"m4.large": "0.100000"})
	if err != nil {
		t.Fatalf("readAWSRIs: %v", err)
	}
	if len(rep.commitments) != 1 {
		t.Fatalf("readAWSRIs gave %d commitments; want 1: %+v", len(rep.commitments), rep.commitments)
	}
	c := rep.commitments[0]
	if c.cloud != "aws" || c.region != "us-east-1" || c.sku != "m4.large" || c.termMonths != 12 || c.payment != "all_upfront" ||
		c.hourly != nil || roundDecimal(c.discount, 6) != "0.421233" || c.source != awsRIExport+":2" {
		t.Errorf("commitment = %+v (discount %s); want m4.large, 12 months all_upfront, 0.421233, no rate, line 2", c, roundDecimal(c.discount, 6))
	}
	u := rep.used[0]
	if u.onDemand.FloatString(6) != "0.100000" || u.rate.FloatString(7) != "0.0578767" || u.current != "0.100000" {
		t.Errorf("row used: on-demand %s, rate %s, today %q; want 0.100000, 0.0578767, 0.100000", u.onDemand.FloatString(6), u.rate.FloatString(7), u.current)
	}
	if !slices.Equal(rep.consistent, []int{2, 4, 5}) || rep.rows != 4 || rep.minGap < 0.01 {
		t.Errorf("consistent lines %v of %d, smallest gap %v; want 2, 4, 5 of 4, a gap over 1%%", rep.consistent, rep.rows, rep.minGap)
	}
	wantExcluded := []reasonCount{
		{"savings and break-even imply different on-demand rates", []int{3}},
		{"operating system other than Linux/UNIX", []int{4}},
		{"location other than US East (N. Virginia)", []int{5}},
	}
	if len(rep.excluded) != len(wantExcluded) {
		t.Fatalf("excluded = %+v; want %+v", rep.excluded, wantExcluded)
	}
	for i, w := range wantExcluded {
		if rep.excluded[i].reason != w.reason || !slices.Equal(rep.excluded[i].lines, w.lines) {
			t.Errorf("excluded[%d] = %+v; want %+v", i, rep.excluded[i], w)
		}
	}

	if err := os.WriteFile(path, []byte(strings.Replace(export, ",1014,", ",1,014,", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAWSRIs(dir, nil); err == nil {
		t.Error("readAWSRIs of a malformed export succeeded; want an error")
	}
	if err := os.WriteFile(path, []byte(strings.Replace(export, "Break Even Months", "Break Even", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readAWSRIs(dir, nil); err == nil || !strings.Contains(err.Error(), `no column "Break Even Months"`) {
		t.Errorf("readAWSRIs without Break Even Months: %v; want an error naming the column", err)
	}
}

func TestWriteCommitments(t *testing.T) {
	r := func(s string) *big.Rat { v, _ := new(big.Rat).SetString(s); return v }
	cs := []commitment{
		{cloud: "gcp", region: "us-east1", sku: "n2-standard-2", termMonths: 36, payment: "monthly", discount: r("0.55"), hourly: r("0.05"), source: "y"},
		{cloud: "gcp", region: "us-east1", sku: "n2-standard-2", termMonths: 12, payment: "monthly", discount: r("0.3700004999"), hourly: r("0.0527714825"), source: "y"},
		{cloud: "aws", region: "us-east-1", sku: "m4.large", termMonths: 12, payment: "all_upfront", discount: r("0.4212325"), source: "x:2"},
	}
	got, err := writeCommitments(cs)
	if err != nil {
		t.Fatal(err)
	}
	want := "cloud,region,sku,term_months,payment,discount,usd_per_hour,source\n" +
		"aws,us-east-1,m4.large,12,all_upfront,0.421233,,x:2\n" +
		"gcp,us-east1,n2-standard-2,12,monthly,0.37,0.0527714825,y\n" +
		"gcp,us-east1,n2-standard-2,36,monthly,0.55,0.05,y\n"
	if string(got) != want {
		t.Errorf("writeCommitments =\n%s\nwant\n%s", got, want)
	}
	if _, err := writeCommitments(append(cs, cs[0])); err == nil || !strings.Contains(err.Error(), "two commitments") {
		t.Errorf("writeCommitments of a duplicate: %v; want an error", err)
	}
	tiny := commitment{cloud: "gcp", region: "r", sku: "s", termMonths: 12, payment: "monthly", discount: r("0.0000004"), source: "y"}
	if _, err := writeCommitments([]commitment{tiny}); err == nil {
		t.Error("writeCommitments of a discount that rounds to 0 succeeded; want an error")
	}
	third := commitment{cloud: "gcp", region: "r", sku: "s", termMonths: 12, payment: "monthly", discount: r("0.5"), hourly: big.NewRat(1, 3), source: "y"}
	if _, err := writeCommitments([]commitment{third}); err == nil {
		t.Error("writeCommitments of a rate of 1/3 succeeded; want an error")
	}
}

func TestDecimalsAndText(t *testing.T) {
	r := func(s string) *big.Rat { v, _ := new(big.Rat).SetString(s); return v }
	for in, want := range map[string]string{"0.37": "0.37", "0.3700005": "0.370001", "0.37000049": "0.37", "0.9999996": "1", "0.421233": "0.421233"} {
		if got := roundDecimal(r(in), 6); got != want {
			t.Errorf("roundDecimal(%s, 6) = %s; want %s", in, got, want)
		}
	}
	if got, err := exactDecimal(new(big.Rat).Quo(r("3.8523182225"), r("730"))); err != nil || got != "0.00527714825" {
		t.Errorf("exactDecimal(3.8523182225 / 730) = %q, %v; want 0.00527714825", got, err)
	}
	if got := lineList([]int{2, 3, 4, 5, 6, 9, 12, 13}); got != "2-6, 9, 12-13" {
		t.Errorf("lineList = %q", got)
	}
	if got := wrap("one two\n\t\tthree four", "- ", 12); got != "- one two\n  three four" {
		t.Errorf("wrap = %q", got)
	}
	for _, s := range []string{"1e3", "-1", "1,014", "", ".5"} {
		if _, err := parseDecimal(s); err == nil {
			t.Errorf("parseDecimal(%q) succeeded; want an error", s)
		}
	}
}

// TestCommitmentsFromRealData checks the AWS rows derived from the real
// export: only lines 2 to 4 survive, each giving today's on-demand rate.
func TestCommitmentsFromRealData(t *testing.T) {
	data := dataDir(t)
	rep, err := readAWSRIs(data, map[string]string{"m4.large": "0.100000", "c5.large": "0.085000", "t2.nano": "0.005800"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"m4.large": "0.421233", "c5.large": "0.411765", "t2.nano": "0.429224"}
	if len(rep.used) != len(want) {
		t.Fatalf("%d rows used; want %d", len(rep.used), len(want))
	}
	for _, u := range rep.used {
		if roundDecimal(u.discount, 6) != want[u.sku] || roundDecimal(u.onDemand, 6) != strings.TrimRight(u.current, "0") {
			t.Errorf("line %d %s: discount %s, on-demand %s; want %s at %s", u.line, u.sku, roundDecimal(u.discount, 6), u.onDemand.FloatString(7), want[u.sku], u.current)
		}
	}
}
