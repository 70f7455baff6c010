package main

import (
	"bytes"
	"fmt"
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
	for _, name := range []string{"aws.csv", "azure.csv", "gcp.csv", "README.md", "LICENSE-aws-karpenter", "LICENSE-azure-karpenter", "LICENSE-gcp-cyclenerd"} {
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
