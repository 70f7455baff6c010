package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const gcpPrices = "prices/gcp-cyclenerd/pricing.yml"

// gcpRegions are the regions the snapshot keeps.
var gcpRegions = []string{"asia-northeast1", "europe-west1", "europe-west4", "us-central1", "us-east1"}

// gcpMachine matches the predefined machine types of the general-purpose
// and compute-optimised series the snapshot keeps: <series>-<standard|
// highmem|highcpu>-<vCPUs> and the E2 shared-core types. Local-SSD
// (-lssd), bare-metal, accelerator-optimised and memory-optimised types
// are left out.
var gcpMachine = regexp.MustCompile(`^(?:(e2|n1|n2|n2d|n4|n4a|n4d|c2|c2d|c3|c3d|c4|c4a|c4d|t2a|t2d)-(?:standard|highmem|highcpu)-[0-9]+|e2-(?:micro|small|medium))$`)

// gcpArm are the Arm series (Ampere Altra, Google Axion).
var gcpArm = regexp.MustCompile(`^(t2a|c4a|n4a)-`)

// gcpSharedCore are the shared-core types: pricing.yml gives their
// fractional vCPU share (0.25, 0.5, 1); each has 2 vCPUs that burst.
var gcpSharedCore = regexp.MustCompile(`^e2-(micro|small|medium)$`)

// gcpStorage maps pricing.yml's compute.storage entries to disk types,
// and the network and snapshot entries to the catalog's SKUs.
var gcpStorage = []struct {
	path []string
	kind domain.Kind
	sku  string
	unit string
	cost string // the field under cost.<region>
}{
	{[]string{"compute", "storage", "hdd"}, domain.KindDisk, "pd-standard", domain.UnitGiBMonth, "month"},
	{[]string{"compute", "storage", "balanced"}, domain.KindDisk, "pd-balanced", domain.UnitGiBMonth, "month"},
	{[]string{"compute", "storage", "ssd"}, domain.KindDisk, "pd-ssd", domain.UnitGiBMonth, "month"},
	{[]string{"compute", "storage", "snapshot"}, domain.KindSnapshot, snapshotSKU, domain.UnitGiBMonth, "month"},
	// A static or ephemeral external address in use by a VM.
	{[]string{"compute", "network", "ip", "vm"}, domain.KindIP, ipSKU, domain.UnitHour, "hour"},
	// A reserved static external address attached to nothing.
	{[]string{"compute", "network", "ip", "unused"}, domain.KindIP, ipSKU + "-unused", domain.UnitHour, "hour"},
}

func readGCP(dataDir string) (cloudCatalog, error) {
	cat := cloudCatalog{cloud: domain.GCP, inputs: []string{gcpPrices}, cud: &gcpCUDEvidence{}}
	path := filepath.Join(dataDir, gcpPrices)
	f, err := os.Open(path)
	if err != nil {
		return cat, err
	}
	doc, err := parseYAML(path, f)
	f.Close()
	if err != nil {
		return cat, err
	}
	instances := doc.child("compute", "instance")
	if instances == nil {
		return cat, fmt.Errorf("%s: no compute.instance", path)
	}
	names := make([]string, 0, len(instances.children))
	for name := range instances.children {
		if gcpMachine.MatchString(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		it := instances.children[name]
		s, err := gcpShape(name, it)
		if err != nil {
			return cat, fmt.Errorf("%s:%d: %w", path, it.line, err)
		}
		for _, region := range gcpRegions {
			hour := it.child("cost", region, "hour")
			if hour == nil {
				continue // not offered in region
			}
			cat.records = append(cat.records, record{
				cloud: domain.GCP, region: region, kind: domain.KindVM, sku: name, shape: s,
				unit: domain.UnitHour, price: hour.value, priceSource: gcpPrices,
			})
			cs, err := gcpCommitments(name, region, it.child("cost", region), cat.cud)
			if err != nil {
				return cat, fmt.Errorf("%s:%d: %w", path, hour.line, err)
			}
			cat.commitments = append(cat.commitments, cs...)
		}
	}
	for _, st := range gcpStorage {
		n := doc.child(st.path...)
		if n == nil {
			return cat, fmt.Errorf("%s: no %v", path, st.path)
		}
		for _, region := range gcpRegions {
			v := n.child("cost", region, st.cost)
			if v == nil {
				return cat, fmt.Errorf("%s:%d: %v has no %s price for %s", path, n.line, st.path, st.cost, region)
			}
			cat.records = append(cat.records, record{
				cloud: domain.GCP, region: region, kind: st.kind, sku: st.sku,
				unit: st.unit, price: v.value, priceSource: gcpPrices,
			})
		}
	}
	return cat, nil
}

// gcpShape reads a machine type's cpu and ram (GB, which Google uses for
// GiB) from pricing.yml. Memory is rounded down to whole MiB, as the
// Compute Engine API reports it (n1-highcpu-2: 1.8 GB, 1843 MiB).
func gcpShape(name string, n *ynode) (shape, error) {
	cpuNode, ramNode := n.child("cpu"), n.child("ram")
	if cpuNode == nil || ramNode == nil {
		return shape{}, fmt.Errorf("machine type %s: no cpu or ram", name)
	}
	cpu, err1 := strconv.ParseFloat(cpuNode.value, 64)
	ram, err2 := strconv.ParseFloat(ramNode.value, 64)
	if err1 != nil || err2 != nil || cpu <= 0 || ram <= 0 {
		return shape{}, fmt.Errorf("machine type %s: bad cpu %q or ram %q", name, cpuNode.value, ramNode.value)
	}
	s := shape{arch: "x86_64", memMiB: int64(math.Floor(ram*1024 + 1e-9)), source: "pricing.yml"}
	if gcpArm.MatchString(name) {
		s.arch = "arm64"
	}
	for _, gpu := range []string{"a100", "l4", "rtx6000"} {
		if g := n.child(gpu); g != nil {
			c, err := strconv.Atoi(g.value)
			if err != nil {
				return shape{}, fmt.Errorf("machine type %s: bad %s count %q", name, gpu, g.value)
			}
			s.gpus += c
		}
	}
	switch {
	case gcpSharedCore.MatchString(name):
		s.vcpu, s.burstable, s.source = 2, true, "pricing.yml+rule"
	case cpu == math.Trunc(cpu):
		s.vcpu = int(cpu)
	default:
		return shape{}, fmt.Errorf("machine type %s: fractional cpu %q", name, cpuNode.value)
	}
	return s, nil
}
