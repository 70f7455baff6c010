package placement

import (
	"maps"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// This file holds the published facts the package knows about the
// clouds: where their regions are, what moving data out of them costs,
// how fast their instance families are and which block storage prices
// data. Generate builds its instances from them, and the optimizer
// builds the instance of a real estate from them through KnownRegions,
// ListEgress, FamilyPerf and StorageSKU.

// regionInfo is a region the package knows the place of.
type regionInfo struct {
	cloud     domain.Cloud
	name      string
	continent string
	lat, lon  float64
	dataShare float64 // weight as the home of fixed data in generated instances
}

// regionTable lists the regions of the embedded price catalog, placed at
// the published locations of their data centres.
var regionTable = []regionInfo{
	{domain.AWS, "us-east-1", "north-america", 38.9, -77.4, 0.30},
	{domain.Azure, "eastus", "north-america", 37.4, -79.2, 0.10},
	{domain.Azure, "eastus2", "north-america", 36.7, -78.4, 0.05},
	{domain.Azure, "westus2", "north-america", 47.2, -119.9, 0.05},
	{domain.Azure, "northeurope", "europe", 53.3, -6.3, 0.04},
	{domain.Azure, "westeurope", "europe", 52.4, 4.9, 0.08},
	{domain.GCP, "us-central1", "north-america", 41.3, -95.9, 0.14},
	{domain.GCP, "us-east1", "north-america", 33.2, -80.0, 0.08},
	{domain.GCP, "europe-west1", "europe", 50.4, 3.8, 0.08},
	{domain.GCP, "europe-west4", "europe", 53.4, 6.8, 0.04},
	{domain.GCP, "asia-northeast1", "asia", 35.7, 139.7, 0.04},
}

// egressTable holds first-tier list prices per GiB (USD, micro-dollars)
// of data leaving each cloud, from the clouds' published pricing pages:
// AWS inter-region 0.02 and internet 0.09; Azure inter-region 0.02 within
// a continent, 0.05 between continents, internet 0.087; Google Cloud
// inter-region 0.02 within a continent, 0.08 between continents, internet
// (standard tier) 0.085.
var egressTable = map[domain.Cloud]EgressRates{
	domain.AWS:   {InterRegion: domain.USD(20_000), InterContinent: domain.USD(20_000), Internet: domain.USD(90_000)},
	domain.Azure: {InterRegion: domain.USD(20_000), InterContinent: domain.USD(50_000), Internet: domain.USD(87_000)},
	domain.GCP:   {InterRegion: domain.USD(20_000), InterContinent: domain.USD(80_000), Internet: domain.USD(85_000)},
}

// typeTable lists instance types with their family (as the price
// catalog names it), a relative per-vCPU performance and whether the
// type is an older generation that workloads tend to sit on. The scores
// are rough: newer generations per the vendors' own generation-over-
// generation claims, and a vCPU that is a whole core (Graviton, Ampere,
// t2d) above one that is a hyperthread. They exist to give the solver a
// second objective, not to rank clouds.
var typeTable = []struct {
	cloud  domain.Cloud
	sku    string
	family string
	perf   float64
	legacy bool
}{
	{domain.AWS, "m5.xlarge", "m5", 1.00, true},
	{domain.AWS, "r5.xlarge", "r5", 1.00, true},
	{domain.AWS, "c5.xlarge", "c5", 1.05, true},
	{domain.AWS, "m6i.xlarge", "m6i", 1.15, false},
	{domain.AWS, "c6i.xlarge", "c6i", 1.15, false},
	{domain.AWS, "r6i.xlarge", "r6i", 1.15, false},
	{domain.AWS, "m6a.xlarge", "m6a", 1.10, false},
	{domain.AWS, "m7i.xlarge", "m7i", 1.30, false},
	{domain.AWS, "m7g.xlarge", "m7g", 1.35, false},
	{domain.AWS, "c7g.xlarge", "c7g", 1.35, false},
	{domain.Azure, "Standard_D4s_v3", "Dsv3", 0.95, true},
	{domain.Azure, "Standard_D4s_v4", "Dsv4", 1.05, true},
	{domain.Azure, "Standard_D4s_v5", "Dsv5", 1.15, false},
	{domain.Azure, "Standard_D4as_v5", "Dasv5", 1.10, false},
	{domain.Azure, "Standard_D4ps_v5", "Dpsv5", 1.15, false},
	{domain.Azure, "Standard_E4s_v5", "Esv5", 1.15, false},
	{domain.Azure, "Standard_F4s_v2", "Fsv2", 1.05, true},
	{domain.GCP, "n1-standard-4", "n1-standard", 0.90, true},
	{domain.GCP, "n2-standard-4", "n2-standard", 1.10, false},
	{domain.GCP, "n2-highmem-4", "n2-highmem", 1.10, false},
	{domain.GCP, "n2-highcpu-4", "n2-highcpu", 1.10, false},
	{domain.GCP, "n2d-standard-4", "n2d-standard", 1.10, false},
	{domain.GCP, "e2-standard-4", "e2-standard", 0.95, false},
	{domain.GCP, "t2d-standard-4", "t2d-standard", 1.35, false},
	{domain.GCP, "t2a-standard-4", "t2a-standard", 1.20, false},
	{domain.GCP, "c3-standard-4", "c3-standard", 1.30, false},
}

// diskTable is the block storage SKU priced for each cloud.
var diskTable = map[domain.Cloud]string{domain.AWS: "gp3", domain.Azure: "StandardSSD_LRS", domain.GCP: "pd-balanced"}

// KnownRegions returns the regions whose place and continent the package
// knows (those of the embedded price catalog), in a fixed order. A
// region outside this list cannot take part in a placement: its egress
// tier and its latency to users are unknown.
func KnownRegions() []Region {
	out := make([]Region, len(regionTable))
	for i, r := range regionTable {
		out[i] = Region{Cloud: r.cloud, Name: r.name, Continent: r.continent, Lat: r.lat, Lon: r.lon}
	}
	return out
}

// ListEgress returns the clouds' published first-tier egress prices per
// GiB, a fresh map the caller may change.
func ListEgress() map[domain.Cloud]EgressRates { return maps.Clone(egressTable) }

// StorageSKU returns the block storage SKU (general-purpose SSD) at whose
// price the package stores a workload's data in cloud, or "" for a cloud
// it does not know.
func StorageSKU(cloud domain.Cloud) string { return diskTable[cloud] }

// EgressPrice returns the price per GiB of data sent from region from to
// region to, charged by the sender's cloud at rates: nothing within a
// region, the inter-region rate within a cloud and a continent, the
// inter-continent rate within a cloud, and the internet rate to another
// cloud. A cloud missing from rates charges nothing.
func EgressPrice(rates map[domain.Cloud]EgressRates, from, to Region) domain.Money {
	if from.Cloud == to.Cloud && from.Name == to.Name {
		return domain.Money{}
	}
	r := rates[from.Cloud]
	switch {
	case from.Cloud != to.Cloud:
		return r.Internet
	case from.Continent == to.Continent:
		return r.InterRegion
	default:
		return r.InterContinent
	}
}

// perfByProcessor maps the processor key (see processorKey) of every
// family of typeTable to its per-vCPU performance.
var perfByProcessor = func() map[string]float64 {
	m := make(map[string]float64, len(typeTable))
	for _, t := range typeTable {
		m[processorKey(t.cloud, t.family)] = t.perf
	}
	return m
}()

// FamilyPerf returns the relative per-vCPU performance of an instance
// family as the price catalog names it ("m6i", "Dsv5", "n2-standard"),
// the score Generate gives its locations, and false for a family the
// package does not score. Families that differ from a scored one only in
// what does not change the processor share its score: AWS local-disk and
// network variants (m5d and m5n score as m5), Azure local-disk and
// premium-storage variants and the memory-optimised E series beside the
// D series of the same version (Ddsv5, Dv5 and Edsv5 score as Dsv5), and
// Google Cloud's machine shapes of one series (n2-highmem as n2-standard).
func FamilyPerf(cloud domain.Cloud, family string) (float64, bool) {
	if family == "" {
		return 0, false
	}
	p, ok := perfByProcessor[processorKey(cloud, family)]
	return p, ok
}

// processorKey reduces a family to the part that names its processor
// and, where the scores differ by it, its shape class: see FamilyPerf.
func processorKey(cloud domain.Cloud, family string) string {
	switch cloud {
	case domain.AWS:
		// m5, m5d, m5dn, m6id → the family before its d and n suffixes.
		f := strings.ToLower(family)
		return string(cloud) + "/" + strings.TrimRight(f, "dn")
	case domain.Azure:
		// Series letters, lower-case feature letters, then the version:
		// D + ds + v5. Local disk (d) and premium storage (s) do not
		// change the processor; E is D with more memory per vCPU.
		i := 0
		for i < len(family) && family[i] >= 'A' && family[i] <= 'Z' {
			i++
		}
		series := strings.ToUpper(family[:i])
		if series == "E" {
			series = "D"
		}
		rest := family[i:]
		var b strings.Builder
		for k := 0; k < len(rest); k++ {
			c := rest[k]
			if c == 'v' && k+1 < len(rest) && rest[k+1] >= '0' && rest[k+1] <= '9' {
				b.WriteString(rest[k:])
				break
			}
			if c != 'd' && c != 's' {
				b.WriteByte(c)
			}
		}
		return string(cloud) + "/" + series + b.String()
	case domain.GCP:
		// n2-standard, n2-highmem → n2.
		series, _, _ := strings.Cut(strings.ToLower(family), "-")
		return string(cloud) + "/" + series
	}
	return string(cloud) + "/" + family
}
