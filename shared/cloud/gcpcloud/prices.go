package gcpcloud

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"

	billing "cloud.google.com/go/billing/apiv1"
	"cloud.google.com/go/billing/apiv1/billingpb"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// ComputeEngineService is the Cloud Billing Catalog name of Compute
// Engine, whose SKUs Prices reads.
const ComputeEngineService = "services/6F81-5844-456A"

// The catalog SKUs of what is not a machine type (the embedded
// catalog's names, as the simulated estate uses them).
const (
	// SnapshotSKU is a standard snapshot, priced per GiB-month.
	SnapshotSKU = "snapshot"
	// IPSKU is an external IPv4 address in use by a standard VM, priced
	// per hour.
	IPSKU = "public-ipv4"
	// IPUnusedSKU is a reserved static external address attached to
	// nothing, priced per hour.
	IPUnusedSKU = "public-ipv4-unused"
)

// skuPageSize is the pageSize of services.skus.list, the API's maximum.
const skuPageSize = 5000

// machineSeries maps the description of the core and RAM SKUs of a
// machine series, before " Core" or " Ram" ("N2 Instance" of "N2
// Instance Core running in Americas"), to the series: the prefix of its
// machine types. These are the predefined machine types of the
// general-purpose and compute-optimised series; custom machine types,
// sole-tenant nodes, the memory-optimised and accelerator series
// (M1-M4, A2, A3, G2) and the N1 shared-core types f1-micro and
// g1-small, which have SKUs of their own, are not mapped.
var machineSeries = map[string]string{
	"N1 Predefined Instance": "n1", "N2 Instance": "n2", "N2D AMD Instance": "n2d", "E2 Instance": "e2",
	"N4 Instance": "n4", "N4A Instance": "n4a", "N4D Instance": "n4d", "Compute optimized": "c2",
	"C2D AMD Instance": "c2d", "C3 Instance": "c3", "C3D Instance": "c3d", "C4 Instance": "c4",
	"C4A Arm Instance": "c4a", "C4D Instance": "c4d", "T2A Arm Instance": "t2a", "T2D AMD Instance": "t2d",
}

// sharedCoreQuarters is the vCPU share, in quarters of a vCPU, that the
// E2 shared-core machine types are billed for (the embedded catalog
// gives them 2 burstable vCPUs); other machine types are billed for
// all their vCPUs.
var sharedCoreQuarters = map[string]int64{"e2-micro": 1, "e2-small": 2, "e2-medium": 4}

// storageSKUs maps the description of a Compute Engine storage or
// address SKU (alone, or followed by " in <place>") to what it prices.
// Regional (replicated) disks, Hyperdisk, Extreme PD, images and
// machine images are not mapped.
var storageSKUs = map[string]struct {
	kind domain.Kind
	sku  string
	unit string // the usageUnit it is priced in
}{
	"Storage PD Capacity":                 {domain.KindDisk, "pd-standard", "GiBy.mo"},
	"Balanced PD Capacity":                {domain.KindDisk, "pd-balanced", "GiBy.mo"},
	"SSD backed PD Capacity":              {domain.KindDisk, "pd-ssd", "GiBy.mo"},
	"Storage PD Snapshot":                 {domain.KindSnapshot, SnapshotSKU, "GiBy.mo"},
	"External IP Charge on a Standard VM": {domain.KindIP, IPSKU, "h"},
	"Static Ip Charge":                    {domain.KindIP, IPUnusedSKU, "h"},
}

// priceSkips counts the Compute Engine SKUs Prices left out.
type priceSkips struct {
	// notOnDemand counts Preemptible (Spot) and committed use prices.
	notOnDemand int
	// notUSD counts prices in another currency.
	notUSD int
	// zero counts SKUs without a non-zero tier (free).
	zero int
	// unit counts prices in another unit than the SKU's kind is priced
	// in.
	unit int
	// product counts SKUs that price nothing mapped: licences, GPUs,
	// custom and sole-tenant cores, egress, regional disks, ...
	product int
	// malformed counts SKUs whose price cannot be read: no pricing info
	// or tier, a negative or overflowing amount, no region.
	malformed int
	// duplicate counts prices of a region and part already read.
	duplicate int
}

func (s priceSkips) total() int {
	return s.notOnDemand + s.notUSD + s.zero + s.unit + s.product + s.malformed + s.duplicate
}

// ratePart names what one SKU prices in a region: a series' core or RAM
// ("n2/core"), or a storage or address catalog SKU ("disk/pd-ssd").
type ratePart struct {
	series, part string // part "core" or "ram"
	kind         domain.Kind
	sku          string
}

// Prices reads on-demand list prices in USD from the Cloud Billing
// Catalog API for the given regions: one listing of Compute Engine's
// SKUs (services.skus.list of ComputeEngineService, every page, each a
// call under Config.CallTimeout, retried when throttled as the Compute
// Engine calls are) serves them all. It keeps the OnDemand
// usage type (not Preemptible nor Commit1Yr/Commit3Yr) and, of each
// SKU's first pricing info, the first tier with a non-zero price (the
// capacity and core SKUs have one tier from 0; a SKU with a free
// allowance is priced at its first paid tier), in units and nanos of
// USD, for every region of the SKU's serviceRegions ("global" stands for
// every region without a regional price).
//
// A machine type is priced vCPUs × its series' core price per hour +
// GiB × its series' RAM price per GiB-hour (the E2 shared-core types at
// the vCPU share they are billed for, the memory in the GiB the type is
// defined with: see machineMicros), computed exactly and rounded half
// up to the micro-dollar, for the machine types the embedded catalog
// gives a shape (vCPUs, memory, architecture) of, in the series of
// machineSeries; the price carries that shape, its family and, for a
// shared-core type, burstability. A machine type of a priced series is
// priced in every region the series is, whether or not the region
// offers that type (the catalog does not say). Persistent disks
// (pd-standard, pd-balanced, pd-ssd) and standard snapshots are priced
// per GiB-month, an external address in use (IPSKU) and a static one
// unused (IPUnusedSKU) per hour. An empty region is passed over.
//
// What the catalog answers beyond that is skipped, counted and logged,
// never an error. Errors of the API come from mapErr.
func (p *Provider) Prices(ctx context.Context, regions []string) ([]domain.Price, error) {
	want := map[string]bool{}
	for _, r := range regions {
		if r = strings.ToLower(strings.TrimSpace(r)); r != "" {
			want[r] = true
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	base, err := pricing.Embedded()
	if err != nil {
		return nil, fmt.Errorf("gcpcloud: machine type shapes: %w", err)
	}
	c, err := p.catalogClient(ctx)
	if err != nil {
		return nil, err
	}
	// rates[region][part] in nanos of USD per unit; region "global" for
	// SKUs that price every region.
	rates := map[string]map[ratePart]int64{}
	var skips priceSkips
	err = p.listSKUs(ctx, c, func(sku *billingpb.Sku) {
		part, nanos, ok := readSKU(sku, &skips)
		if !ok {
			return
		}
		if len(sku.GetServiceRegions()) == 0 {
			skips.malformed++
			return
		}
		for _, region := range sku.GetServiceRegions() {
			if region != "global" && !want[region] {
				continue
			}
			if rates[region] == nil {
				rates[region] = map[ratePart]int64{}
			}
			if _, dup := rates[region][part]; dup {
				skips.duplicate++
				continue
			}
			rates[region][part] = nanos
		}
	})
	if err != nil {
		return nil, err
	}
	shapes := gcpShapes(base)
	var out []domain.Price
	for region := range want {
		out = append(out, regionPrices(region, rates[region], rates["global"], shapes)...)
	}
	slices.SortFunc(out, func(a, b domain.Price) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.SKU, b.SKU))
	})
	p.logger.InfoContext(ctx, "billing catalog prices read", "regions", len(want), "prices", len(out), "skipped", skips.total(),
		"skipped_not_on_demand", skips.notOnDemand, "skipped_not_usd", skips.notUSD, "skipped_zero", skips.zero,
		"skipped_unit", skips.unit, "skipped_product", skips.product, "skipped_malformed", skips.malformed,
		"skipped_duplicate", skips.duplicate)
	return out, nil
}

// PriceCatalog returns a catalog of the prices Prices reads in regions,
// or in every region of the provider's scopes when regions is empty: the
// live Google Cloud part of a catalog to store in the lake. Laid over
// the embedded catalog with its Merge method, it replaces the embedded
// Google Cloud prices of the regions read and keeps the rest.
func (p *Provider) PriceCatalog(ctx context.Context, regions []string) (*pricing.Catalog, error) {
	if len(regions) == 0 {
		scopes, err := p.Scopes(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range scopes {
			if s.Region != "" && !slices.Contains(regions, s.Region) {
				regions = append(regions, s.Region)
			}
		}
	}
	prices, err := p.Prices(ctx, regions)
	if err != nil {
		return nil, err
	}
	return pricing.New(prices), nil
}

// listSKUs calls fn with every SKU of Compute Engine, each page a call
// under its own deadline, retried when throttled.
func (p *Provider) listSKUs(ctx context.Context, c *billing.CloudCatalogClient, fn func(*billingpb.Sku)) error {
	return listAll(ctx, p, "gcpcloud: list the billing catalog SKUs of "+ComputeEngineService,
		func(ctx context.Context, token string) pageIterator[*billingpb.Sku] {
			return c.ListSkus(ctx, &billingpb.ListSkusRequest{Parent: ComputeEngineService, CurrencyCode: "USD",
				PageSize: skuPageSize, PageToken: token}, p.retry())
		}, fn)
}

// readSKU reads what a SKU prices and its price in nanos of USD per
// unit. It reports false, counting why in skips, for a SKU Prices leaves
// out.
func readSKU(sku *billingpb.Sku, skips *priceSkips) (ratePart, int64, bool) {
	if sku.GetCategory().GetUsageType() != "OnDemand" {
		skips.notOnDemand++
		return ratePart{}, 0, false
	}
	part, unit, ok := skuPart(sku.GetDescription())
	if !ok {
		skips.product++
		return ratePart{}, 0, false
	}
	infos := sku.GetPricingInfo()
	if len(infos) == 0 || infos[0].GetPricingExpression() == nil {
		skips.malformed++
		return ratePart{}, 0, false
	}
	expr := infos[0].GetPricingExpression()
	if expr.GetUsageUnit() != unit {
		skips.unit++
		return ratePart{}, 0, false
	}
	if rate := infos[0].GetCurrencyConversionRate(); rate != 0 && rate != 1 {
		skips.notUSD++
		return ratePart{}, 0, false
	}
	if len(expr.GetTieredRates()) == 0 {
		skips.malformed++
		return ratePart{}, 0, false
	}
	for _, tier := range expr.GetTieredRates() {
		price := tier.GetUnitPrice()
		if price.GetCurrencyCode() != "USD" {
			skips.notUSD++
			return ratePart{}, 0, false
		}
		units, nanos := price.GetUnits(), int64(price.GetNanos())
		if units < 0 || nanos < 0 || nanos > 999_999_999 || units > (math.MaxInt64-nanos)/1e9 {
			skips.malformed++
			return ratePart{}, 0, false
		}
		if total := units*1e9 + nanos; total > 0 {
			return part, total, true
		}
	}
	skips.zero++
	return ratePart{}, 0, false
}

// skuPart maps a SKU description to what it prices and the usage unit
// it must be priced in.
func skuPart(desc string) (ratePart, string, bool) {
	base, _, _ := strings.Cut(desc, " running in ")
	for _, suffix := range []struct{ text, part, unit string }{{" Core", "core", "h"}, {" Ram", "ram", "GiBy.h"}} {
		if prefix, ok := strings.CutSuffix(base, suffix.text); ok {
			if series, ok := machineSeries[prefix]; ok {
				return ratePart{series: series, part: suffix.part}, suffix.unit, true
			}
		}
	}
	name, _, _ := strings.Cut(desc, " in ")
	if s, ok := storageSKUs[name]; ok {
		return ratePart{kind: s.kind, sku: s.sku}, s.unit, true
	}
	return ratePart{}, "", false
}

// gcpShapes returns the machine types of the embedded catalog, by name,
// with their shapes.
func gcpShapes(base *pricing.Catalog) map[string]domain.Price {
	shapes := map[string]domain.Price{}
	for _, region := range base.Regions(domain.GCP) {
		for _, pr := range base.VMSizes(domain.GCP, region) {
			if _, ok := shapes[pr.SKU]; !ok && pr.VCPU > 0 && pr.MemoryMiB > 0 {
				shapes[pr.SKU] = pr
			}
		}
	}
	return shapes
}

// regionPrices builds the prices of one region from its rates, falling
// back to the global ones.
func regionPrices(region string, rates, global map[ratePart]int64, shapes map[string]domain.Price) []domain.Price {
	rate := func(part ratePart) (int64, bool) {
		if v, ok := rates[part]; ok {
			return v, true
		}
		v, ok := global[part]
		return v, ok
	}
	var out []domain.Price
	for name, shape := range shapes {
		series, _, _ := strings.Cut(name, "-")
		core, ok1 := rate(ratePart{series: series, part: "core"})
		ram, ok2 := rate(ratePart{series: series, part: "ram"})
		if !ok1 || !ok2 {
			continue
		}
		quarters, shared := sharedCoreQuarters[name]
		if !shared {
			quarters = 4 * int64(shape.VCPU)
		}
		out = append(out, domain.Price{Cloud: domain.GCP, Region: region, Kind: domain.KindVM, SKU: name,
			Family: pricing.Family(domain.GCP, name), Arch: shape.Arch, VCPU: shape.VCPU, MemoryMiB: shape.MemoryMiB,
			GPUs: shape.GPUs, Burstable: shared || shape.Burstable, Unit: domain.UnitHour,
			Amount: domain.USD(machineMicros(quarters, shape.MemoryMiB, core, ram))})
	}
	for _, s := range storageSKUs {
		nanos, ok := rate(ratePart{kind: s.kind, sku: s.sku})
		if !ok {
			continue
		}
		unit := domain.UnitGiBMonth
		if s.unit == "h" {
			unit = domain.UnitHour
		}
		out = append(out, domain.Price{Cloud: domain.GCP, Region: region, Kind: s.kind, SKU: s.sku, Unit: unit,
			Amount: domain.USD(roundNanos(big.NewInt(nanos), big.NewInt(1)))})
	}
	return out
}

// machineMicros is the hourly price in micro-dollars of a machine type
// billed for quarters/4 vCPUs and memMiB MiB at core nanos per vCPU-hour
// and ram nanos per GiB-hour, rounded half up. The memory is priced in
// the GiB the type is defined with, which have at most two decimals
// (n1-highcpu-2: 1.8): the whole MiB the Compute Engine API reports
// (1843), rounded to the hundredth of a GiB.
func machineMicros(quarters, memMiB, core, ram int64) int64 {
	centiGiB := (memMiB*100 + 512) / 1024
	num := new(big.Int).Mul(big.NewInt(quarters*100), big.NewInt(core))
	num.Add(num, new(big.Int).Mul(big.NewInt(4*centiGiB), big.NewInt(ram)))
	return roundNanos(num, big.NewInt(400))
}

// roundNanos returns num/den nanos in micros, rounded half up.
func roundNanos(num, den *big.Int) int64 {
	d := new(big.Int).Mul(den, big.NewInt(1000))
	q := new(big.Int).Add(new(big.Int).Mul(num, big.NewInt(2)), d)
	q.Quo(q, new(big.Int).Mul(d, big.NewInt(2)))
	return q.Int64()
}
