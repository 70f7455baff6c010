package main

import (
	"fmt"
	"go/ast"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const azurePrices = "prices/azure-karpenter/zz_generated.pricing.go"

// azureSKUFixtures are the recorded Resource SKUs responses; a size's
// shape is the same in every region.
var azureSKUFixtures = []string{
	"api-fixtures/azure-karpenter/zz_generated.sku.southcentralus.go",
	"api-fixtures/azure-karpenter/zz_generated.sku.westcentralus.go",
}

// azureRegions are the regions the snapshot keeps: the two largest US
// regions, the west US hub and the two European ones.
var azureRegions = []string{"eastus", "eastus2", "northeurope", "westeurope", "westus2"}

// azureListPrices are approximations of Azure's published list prices
// for what the data set has no catalog of. Azure bills managed disks by
// size tier (P10, E10, S10 ...); the per-GiB-month figure is the tier
// price divided by its size, good for estimates only.
var azureListPrices = []listPrice{
	{domain.KindDisk, "Premium_LRS", domain.UnitGiBMonth, "0.15"},
	{domain.KindDisk, "StandardSSD_LRS", domain.UnitGiBMonth, "0.075"},
	{domain.KindDisk, "Standard_LRS", domain.UnitGiBMonth, "0.045"},
	{domain.KindSnapshot, snapshotSKU, domain.UnitGiBMonth, "0.05"},
	{domain.KindIP, ipSKU, domain.UnitHour, "0.005"},
}

// azureRule is a series of Azure VM sizes with a regular ladder: every
// size in sizes has the same memory per vCPU.
type azureRule struct {
	series, version string
	features        []string // the letters after the vCPU count: "s", "ds", "ads" ...
	gibPerVCPU      int64
	sizes           []int
	arch            string
}

// azureRules lists only series and sizes whose memory is exactly
// gibPerVCPU × vCPUs in Azure's size tables; the largest sizes of
// several series break the ratio (E64s_v3 432 GiB, E64s_v4 504 GiB,
// E96s_v5 672 GiB, D64ps_v5 208 GiB) and are left out.
var azureRules = []azureRule{
	{"D", "3", []string{"", "s"}, 4, []int{2, 4, 8, 16, 32, 48, 64}, "x86_64"},
	{"D", "4", []string{"", "s", "d", "ds"}, 4, []int{2, 4, 8, 16, 32, 48, 64}, "x86_64"},
	{"D", "4", []string{"a", "as"}, 4, []int{2, 4, 8, 16, 32, 48, 64, 96}, "x86_64"},
	{"D", "5", []string{"", "s", "d", "ds", "as", "ads"}, 4, []int{2, 4, 8, 16, 32, 48, 64, 96}, "x86_64"},
	{"D", "5", []string{"ps", "pds"}, 4, []int{2, 4, 8, 16, 32, 48}, "arm64"},
	{"D", "5", []string{"pls", "plds"}, 2, []int{2, 4, 8, 16, 32, 48}, "arm64"},
	{"D", "6", []string{"s", "ds", "as", "ads"}, 4, []int{2, 4, 8, 16, 32, 48, 64, 96}, "x86_64"},
	{"E", "3", []string{"", "s"}, 8, []int{2, 4, 8, 16, 20, 32, 48}, "x86_64"},
	{"E", "4", []string{"", "s", "d", "ds", "a", "as"}, 8, []int{2, 4, 8, 16, 20, 32, 48}, "x86_64"},
	{"E", "5", []string{"", "s", "d", "ds", "as", "ads"}, 8, []int{2, 4, 8, 16, 20, 32, 48, 64}, "x86_64"},
	{"F", "2", []string{"s"}, 2, []int{2, 4, 8, 16, 32, 48, 64, 72}, "x86_64"},
}

// azureBSizes is the first B-series (burstable) table: vCPUs and memory.
var azureBSizes = map[string]struct {
	vcpu   int
	memMiB int64
}{
	"Standard_B1ls": {1, 512}, "Standard_B1s": {1, 1024}, "Standard_B1ms": {1, 2048},
	"Standard_B2s": {2, 4096}, "Standard_B2ms": {2, 8192}, "Standard_B4ms": {4, 16384},
	"Standard_B8ms": {8, 32768}, "Standard_B12ms": {12, 49152}, "Standard_B16ms": {16, 65536},
	"Standard_B20ms": {20, 81920},
}

// azureBurstable matches the B-series sizes, old and new (B2ms, B2ats_v2).
var azureBurstable = regexp.MustCompile(`^Standard_B[0-9]`)

var azureSizeName = regexp.MustCompile(`^Standard_([A-Z]+)([0-9]+)([a-z]*)_v([0-9]+)$`)

// azureRuleShape derives a size's shape from the tables above, or
// reports false when no rule covers it.
func azureRuleShape(sku string) (shape, bool) {
	if b, ok := azureBSizes[sku]; ok {
		return shape{arch: "x86_64", vcpu: b.vcpu, memMiB: b.memMiB, burstable: true, source: "rule"}, true
	}
	m := azureSizeName.FindStringSubmatch(sku)
	if m == nil {
		return shape{}, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return shape{}, false
	}
	for _, r := range azureRules {
		if r.series == m[1] && r.version == m[4] && slices.Contains(r.features, m[3]) && slices.Contains(r.sizes, n) {
			return shape{arch: r.arch, vcpu: n, memMiB: int64(n) * r.gibPerVCPU * 1024, source: "rule"}, true
		}
	}
	return shape{}, false
}

func readAzure(dataDir string) (cloudCatalog, error) {
	cat := cloudCatalog{cloud: domain.Azure, inputs: append([]string{azurePrices}, azureSKUFixtures...)}
	fixtures, retired := map[string]shape{}, map[string]bool{}
	for _, f := range azureSKUFixtures {
		if err := readAzureSKUs(filepath.Join(dataDir, f), fixtures, retired); err != nil {
			return cat, err
		}
	}
	prices, err := readAzurePrices(filepath.Join(dataDir, azurePrices))
	if err != nil {
		return cat, err
	}
	for _, region := range azureRegions {
		entries, ok := prices[region]
		if !ok {
			return cat, fmt.Errorf("%s: no prices for %s", azurePrices, region)
		}
		for _, p := range entries {
			// Keys without the Standard_ prefix are dedicated-host meters
			// ("Dsv3_Type3", "Ddsv4_Type 1") or retired Basic sizes.
			// A size that any fixture gives a retirement date is left out.
			if !strings.HasPrefix(p.sku, "Standard_") || strings.Contains(p.sku, " ") || retired[p.sku] {
				continue
			}
			s, fromRule := azureRuleShape(p.sku)
			if f, ok := fixtures[p.sku]; ok {
				if fromRule && !s.same(f) {
					return cat, fmt.Errorf("azure %s: the size rule gives %s, the fixture %s (%s)", p.sku, s, f, f.source)
				}
				s = f
			} else if !fromRule {
				continue
			}
			cat.records = append(cat.records, record{
				cloud: domain.Azure, region: region, kind: domain.KindVM, sku: p.sku, shape: s,
				unit: domain.UnitHour, price: p.price, priceSource: azurePrices,
			})
		}
		cat.records = append(cat.records, listRecords(domain.Azure, region, "Azure", azureListPrices)...)
	}
	return cat, nil
}

// readAzurePrices reads the assignments initialOnDemandPrices["region"] =
// map[string]float64{...} of Karpenter's generated Azure table.
func readAzurePrices(path string) (map[string][]priceEntry, error) {
	g, err := parseGo(path)
	if err != nil {
		return nil, err
	}
	out := map[string][]priceEntry{}
	var perr error
	ast.Inspect(g.file, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || perr != nil {
			return perr == nil
		}
		if len(as.Lhs) != 1 || len(as.Rhs) != 1 {
			return true
		}
		ix, ok := as.Lhs[0].(*ast.IndexExpr)
		if !ok {
			return true
		}
		region, ok := stringLit(ix.Index)
		lit, isLit := as.Rhs[0].(*ast.CompositeLit)
		if !ok || !isLit {
			return true
		}
		if _, dup := out[region]; dup {
			perr = g.errorf(as, "prices for %s assigned twice", region)
			return false
		}
		out[region], perr = g.stringNumberPairs(lit)
		return false
	})
	return out, perr
}

// readAzureSKUs reads the virtual machine sizes of a recorded Resource
// SKUs response (compute.ResourceSku literals) into shapes, and the
// names of sizes with a retirement date into retired.
func readAzureSKUs(path string, into map[string]shape, retired map[string]bool) error {
	g, err := parseGo(path)
	if err != nil {
		return err
	}
	source := "fixture:azure-karpenter"
	var perr error
	ast.Inspect(g.file, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok || perr != nil {
			return perr == nil
		}
		f := fields(lit)
		if f["Name"] == nil || f["Capabilities"] == nil {
			return true
		}
		name, _ := stringValue(f["Name"])
		if rt, _ := stringValue(f["ResourceType"]); rt != "virtualMachines" {
			return false
		}
		caps := map[string]string{}
		for _, c := range elements(f["Capabilities"]) {
			cf := fields(c)
			k, ok1 := stringValue(cf["Name"])
			v, ok2 := stringValue(cf["Value"])
			if !ok1 || !ok2 {
				perr = g.errorf(c, "size %q: capability without a name and value", name)
				return false
			}
			caps[k] = v
		}
		s, retiring, err := azureShape(name, caps, source)
		if err != nil {
			perr = g.errorf(lit, "%v", err)
			return false
		}
		if retiring {
			retired[name] = true
			return false
		}
		if old, ok := into[name]; ok && !old.same(s) {
			perr = g.errorf(lit, "size %q: %s here, %s in an earlier fixture", name, s, old)
			return false
		}
		into[name] = s
		return false
	})
	return perr
}

// azureShape reads a size's capabilities. Sizes with a retirement date
// are reported as retired: they can be neither bought nor recommended.
func azureShape(name string, caps map[string]string, source string) (s shape, retired bool, err error) {
	if caps["RetirementDateUtc"] != "" {
		return shape{}, true, nil
	}
	vcpus := caps["vCPUsAvailable"] // what the guest sees; less than vCPUs for constrained-core sizes
	if vcpus == "" {
		vcpus = caps["vCPUs"]
	}
	vcpu, err1 := strconv.Atoi(vcpus)
	gib, err2 := strconv.ParseFloat(caps["MemoryGB"], 64)
	gpus := 0
	if caps["GPUs"] != "" {
		gpus, err = strconv.Atoi(caps["GPUs"])
	}
	arch := map[string]string{"x64": "x86_64", "Arm64": "arm64"}[caps["CpuArchitectureType"]]
	memMiB := gib * 1024
	if err1 != nil || err2 != nil || err != nil || vcpu <= 0 || gib <= 0 || arch == "" || memMiB != math.Trunc(memMiB) {
		return shape{}, false, fmt.Errorf("size %q: incomplete capabilities (vCPUs %q, MemoryGB %q, GPUs %q, CpuArchitectureType %q)",
			name, vcpus, caps["MemoryGB"], caps["GPUs"], caps["CpuArchitectureType"])
	}
	return shape{arch: arch, vcpu: vcpu, memMiB: int64(memMiB), gpus: gpus, burstable: azureBurstable.MatchString(name), source: source}, false, nil
}
