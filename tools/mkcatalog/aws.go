package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const (
	awsRegion         = "us-east-1"
	awsPrices         = "prices/aws-karpenter/zz_generated.pricing_aws.go"
	awsKarpenterTypes = "api-fixtures/aws-karpenter/zz_generated.describe_instance_types.go"
	awsSelectorTypes  = "api-fixtures/aws-ec2-instance-selector/DescribeInstanceTypes"
)

// awsListPrices are AWS's published us-east-1 list prices for what the
// data set has no catalog of: EBS volumes and snapshots per GiB-month
// and a public IPv4 address per hour.
var awsListPrices = []listPrice{
	{domain.KindDisk, "gp3", domain.UnitGiBMonth, "0.08"},
	{domain.KindDisk, "gp2", domain.UnitGiBMonth, "0.10"},
	{domain.KindDisk, "io1", domain.UnitGiBMonth, "0.125"},
	{domain.KindDisk, "st1", domain.UnitGiBMonth, "0.045"},
	{domain.KindDisk, "sc1", domain.UnitGiBMonth, "0.015"},
	{domain.KindSnapshot, snapshotSKU, domain.UnitGiBMonth, "0.05"},
	{domain.KindIP, ipSKU, domain.UnitHour, "0.005"},
}

// awsRuleFamilies are the current families whose sizes follow AWS's
// regular ladder (medium 1 vCPU, large 2, xlarge 4, Nxlarge 4N) with a
// fixed memory per vCPU in GiB: c 2, m 4, r 8. Families with irregular
// sizes (c5n, the d/n/b variants' extras, x, z, high-memory) are left to
// the fixtures.
var awsRuleFamilies = map[string]int64{
	"c5": 2, "c5a": 2, "c6i": 2, "c6a": 2, "c6g": 2, "c7i": 2, "c7a": 2, "c7g": 2,
	"m5": 4, "m5a": 4, "m6i": 4, "m6a": 4, "m6g": 4, "m7i": 4, "m7a": 4, "m7g": 4,
	"r5": 8, "r5a": 8, "r6i": 8, "r6a": 8, "r6g": 8, "r7i": 8, "r7a": 8, "r7g": 8,
}

// awsBurstableFamilies are the current T families; their sizes share one
// irregular table.
var awsBurstableFamilies = map[string]bool{"t3": true, "t3a": true, "t4g": true}

// awsTSizes is the T-family table: vCPUs and memory in MiB by size.
var awsTSizes = map[string]struct {
	vcpu   int
	memMiB int64
}{
	"nano": {2, 512}, "micro": {2, 1024}, "small": {2, 2048}, "medium": {2, 4096},
	"large": {2, 8192}, "xlarge": {4, 16384}, "2xlarge": {8, 32768},
}

// awsGraviton matches families whose generation digit is followed by a
// "g": Graviton, arm64.
var awsGraviton = regexp.MustCompile(`^[a-z]+[0-9]+g`)

var awsSize = regexp.MustCompile(`^([0-9]*)xlarge$`)

// awsRuleShape derives the shape of an instance type from the ladder, or
// reports false when its family or size is not one the rule covers.
func awsRuleShape(sku string) (shape, bool) {
	family, size, ok := strings.Cut(sku, ".")
	if !ok {
		return shape{}, false
	}
	arch := "x86_64"
	if awsGraviton.MatchString(family) {
		arch = "arm64"
	}
	if awsBurstableFamilies[family] {
		t, ok := awsTSizes[size]
		if !ok {
			return shape{}, false
		}
		return shape{arch: arch, vcpu: t.vcpu, memMiB: t.memMiB, burstable: true, source: "rule"}, true
	}
	perVCPU, ok := awsRuleFamilies[family]
	if !ok {
		return shape{}, false
	}
	var vcpu int
	switch m := awsSize.FindStringSubmatch(size); {
	case size == "medium":
		vcpu = 1
	case size == "large":
		vcpu = 2
	case m != nil && m[1] == "":
		vcpu = 4
	case m != nil:
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 2 {
			return shape{}, false
		}
		vcpu = 4 * n
	default:
		return shape{}, false
	}
	return shape{arch: arch, vcpu: vcpu, memMiB: int64(vcpu) * perVCPU * 1024, source: "rule"}, true
}

// awsFixtureType is what the recorded DescribeInstanceTypes responses
// say of one instance type.
type awsFixtureType struct {
	shape
	metal       bool
	accelerator bool // Neuron or inference accelerators: not a general-purpose size
}

func readAWS(dataDir string) (cloudCatalog, error) {
	cat := cloudCatalog{cloud: domain.AWS, inputs: []string{awsPrices, awsKarpenterTypes}}
	prices, err := readAWSPrices(filepath.Join(dataDir, awsPrices))
	if err != nil {
		return cat, err
	}
	fixtures := map[string]awsFixtureType{}
	if err := readKarpenterTypes(filepath.Join(dataDir, awsKarpenterTypes), fixtures); err != nil {
		return cat, err
	}
	jsonFiles, err := filepath.Glob(filepath.Join(dataDir, awsSelectorTypes, "*.json"))
	if err != nil {
		return cat, err
	}
	for _, f := range jsonFiles {
		if err := readSelectorTypes(f, fixtures); err != nil {
			return cat, err
		}
		cat.inputs = append(cat.inputs, filepath.ToSlash(filepath.Join(awsSelectorTypes, filepath.Base(f))))
	}
	for _, p := range prices {
		s, fromRule := awsRuleShape(p.sku)
		if f, ok := fixtures[p.sku]; ok {
			if f.metal || f.accelerator {
				continue
			}
			if fromRule && !s.same(f.shape) {
				return cat, fmt.Errorf("aws %s: the size rule gives %s, the fixture %s (%s)", p.sku, s, f.shape, f.source)
			}
			s = f.shape
		} else if !fromRule {
			continue
		}
		cat.records = append(cat.records, record{
			cloud: domain.AWS, region: awsRegion, kind: domain.KindVM, sku: p.sku, shape: s,
			unit: domain.UnitHour, price: p.price, priceSource: awsPrices,
		})
	}
	cat.records = append(cat.records, listRecords(domain.AWS, awsRegion, "AWS", awsListPrices)...)
	return cat, nil
}

// readAWSPrices reads the us-east-1 map of Karpenter's generated table:
// map[region]map[instanceType]USD per hour.
func readAWSPrices(path string) ([]priceEntry, error) {
	g, err := parseGo(path)
	if err != nil {
		return nil, err
	}
	var out []priceEntry
	var perr error
	ast.Inspect(g.file, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok || perr != nil {
			return perr == nil
		}
		if region, ok := stringLit(kv.Key); ok && region == awsRegion {
			lit, ok := kv.Value.(*ast.CompositeLit)
			if !ok {
				perr = g.errorf(kv.Value, "want a map literal for %s", awsRegion)
				return false
			}
			out, perr = g.stringNumberPairs(lit)
			return false
		}
		return true
	})
	if perr != nil {
		return nil, perr
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prices for %s", path, awsRegion)
	}
	return out, nil
}

// readKarpenterTypes reads the InstanceTypeInfo literals of Karpenter's
// generated DescribeInstanceTypes fake.
func readKarpenterTypes(path string, into map[string]awsFixtureType) error {
	g, err := parseGo(path)
	if err != nil {
		return err
	}
	var perr error
	ast.Inspect(g.file, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok || perr != nil {
			return perr == nil
		}
		f := fields(lit)
		if f["InstanceType"] == nil || f["VCpuInfo"] == nil {
			return true
		}
		name, ok := stringValue(f["InstanceType"])
		vcpu, ok1 := intValue(fields(f["VCpuInfo"])["DefaultVCpus"])
		mem, ok2 := intValue(fields(f["MemoryInfo"])["SizeInMiB"])
		burst, ok3 := boolValue(f["BurstablePerformanceSupported"])
		metal, ok4 := boolValue(f["BareMetal"])
		var archs []string
		for _, a := range elements(fields(f["ProcessorInfo"])["SupportedArchitectures"]) {
			s, _ := stringValue(a)
			archs = append(archs, s)
		}
		if !ok || !ok1 || !ok2 || !ok3 || !ok4 {
			perr = g.errorf(lit, "instance type %q: want InstanceType, VCpuInfo.DefaultVCpus, MemoryInfo.SizeInMiB, BurstablePerformanceSupported and BareMetal", name)
			return false
		}
		gpus := 0
		for _, gpu := range elements(fields(f["GpuInfo"])["Gpus"]) {
			c, ok := intValue(fields(gpu)["Count"])
			if !ok {
				perr = g.errorf(gpu, "instance type %q: GPU without a count", name)
				return false
			}
			gpus += int(c)
		}
		t, err := awsFixture(name, int(vcpu), mem, archs, burst, metal, gpus,
			f["NeuronInfo"] != nil || f["InferenceAcceleratorInfo"] != nil, "fixture:aws-karpenter")
		if err == nil {
			err = addAWSFixture(into, name, t)
		}
		if err != nil {
			perr = g.errorf(lit, "%v", err)
		}
		return false
	})
	return perr
}

// readSelectorTypes reads one recorded DescribeInstanceTypes response of
// amazon-ec2-instance-selector (aws-sdk-go JSON).
func readSelectorTypes(path string, into map[string]awsFixtureType) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var resp struct {
		InstanceTypes []struct {
			InstanceType                  string
			BareMetal                     bool
			BurstablePerformanceSupported bool
			VCpuInfo                      struct{ DefaultVCpus int }
			MemoryInfo                    struct{ SizeInMiB int64 }
			ProcessorInfo                 struct{ SupportedArchitectures []string }
			GpuInfo                       *struct{ Gpus []struct{ Count int } }
			InferenceAcceleratorInfo      *json.RawMessage
			NeuronInfo                    *json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for _, it := range resp.InstanceTypes {
		gpus := 0
		if it.GpuInfo != nil {
			for _, g := range it.GpuInfo.Gpus {
				gpus += g.Count
			}
		}
		t, err := awsFixture(it.InstanceType, it.VCpuInfo.DefaultVCpus, it.MemoryInfo.SizeInMiB,
			it.ProcessorInfo.SupportedArchitectures, it.BurstablePerformanceSupported, it.BareMetal, gpus,
			it.InferenceAcceleratorInfo != nil || it.NeuronInfo != nil, "fixture:aws-ec2-instance-selector")
		if err == nil {
			err = addAWSFixture(into, it.InstanceType, t)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

func awsFixture(name string, vcpu int, memMiB int64, archs []string, burst, metal bool, gpus int, accel bool, source string) (awsFixtureType, error) {
	arch := ""
	switch {
	case slices.Contains(archs, "x86_64"):
		arch = "x86_64"
	case slices.Contains(archs, "arm64"):
		arch = "arm64"
	}
	if name == "" || vcpu <= 0 || memMiB <= 0 || arch == "" {
		return awsFixtureType{}, fmt.Errorf("instance type %q: incomplete shape (%d vCPU, %d MiB, architectures %v)", name, vcpu, memMiB, archs)
	}
	return awsFixtureType{
		shape: shape{arch: arch, vcpu: vcpu, memMiB: memMiB, gpus: gpus, burstable: burst, source: source},
		metal: metal, accelerator: accel,
	}, nil
}

// addAWSFixture adds a recorded shape; two recordings of one instance
// type must agree.
func addAWSFixture(into map[string]awsFixtureType, name string, t awsFixtureType) error {
	if old, ok := into[name]; ok {
		if !old.same(t.shape) || old.metal != t.metal || old.accelerator != t.accelerator {
			return fmt.Errorf("instance type %q: %s says %s, %s says %s", name, old.source, old.shape, t.source, t.shape)
		}
		return nil
	}
	into[name] = t
	return nil
}
