package gcpfake

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"google.golang.org/genproto/googleapis/type/money"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// SimMetricSource serves the utilization of the simulated estate's
// Google Cloud VMs, computed when asked: CPU utilization (the simulated
// percentage as a fraction) and, for VMs the estate gives a memory
// agent, the Ops Agent's memory percent_used with the label state
// "used". Each VM's instance_id is NumericID of its relative name. The
// estate's history is hourly: a sample ends each hour and holds that
// hour's value; an hour the estate did not observe has no sample. It has
// no network or disk traffic. A scope the estate denies makes the source
// fail.
//
// It also serves the Cloud Storage metrics of the estate's buckets (see
// simBucketSeries).
func SimMetricSource(est *simcloud.Estate) MetricSource {
	cloud := est.Cloud(domain.GCP)
	return func(ctx context.Context, q MetricQuery, fn func(MetricSeries) error) error {
		if cloud != nil && metricDescriptors[q.Type].resourceType() == ResourceGCSBucket {
			return simBucketSeries(ctx, est, cloud, q, fn)
		}
		if cloud == nil || (q.Type != MetricCPUUtilization && q.Type != MetricMemoryPercentUsed) {
			return nil
		}
		byRegion := map[string][]string{}
		for _, r := range est.Resources() {
			n, ok := parseName(r.ID)
			if r.Cloud != domain.GCP || r.Kind != domain.KindVM || !ok || n.project != q.Project || (q.Zone != nil && !q.Zone(n.location)) {
				continue
			}
			byRegion[r.Region] = append(byRegion[r.Region], r.ID)
		}
		regions := make([]string, 0, len(byRegion))
		for region := range byRegion {
			regions = append(regions, region)
		}
		slices.Sort(regions)
		w := collect.Window{Start: q.From.UTC().Truncate(time.Hour), End: q.To}
		if !w.End.After(w.Start) {
			return nil
		}
		for _, region := range regions {
			var out []MetricSeries
			err := cloud.Series(ctx, collect.Scope{Account: q.Project, Region: region}, byRegion[region], w, time.Hour, func(s domain.Series) error {
				n, _ := parseName(s.ResourceID)
				scale, labels := 0.01, map[string]string(nil)
				switch {
				case s.Metric == domain.MetricCPU && q.Type == MetricCPUUtilization:
				case s.Metric == domain.MetricMemory && q.Type == MetricMemoryPercentUsed:
					scale, labels = 1, map[string]string{"state": "used"}
				default:
					return nil
				}
				ms := MetricSeries{Project: q.Project, Zone: n.location, InstanceName: n.name, InstanceID: NumericID(s.ResourceID),
					Type: q.Type, Labels: labels}
				for i, v := range s.Values {
					if !domain.IsMissing(v) {
						ms.Points = append(ms.Points, MetricPoint{End: s.Start.Add(time.Duration(i+1) * s.Step), Value: float64(v) * scale})
					}
				}
				out = append(out, ms)
				return nil
			})
			if err != nil {
				return fmt.Errorf("gcpfake: simulated series of %s in %s: %w", q.Project, region, err)
			}
			for _, ms := range out {
				if err := fn(ms); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// simSeries are the machine series the simulated catalog prices, with
// the description of their core and RAM SKUs before " Core" or " Ram",
// as the Cloud Billing Catalog names them.
var simSeries = map[string]string{
	"n1": "N1 Predefined Instance", "n2": "N2 Instance", "n2d": "N2D AMD Instance", "e2": "E2 Instance",
	"n4": "N4 Instance", "n4a": "N4A Instance", "n4d": "N4D Instance", "c2": "Compute optimized",
	"c2d": "C2D AMD Instance", "c3": "C3 Instance", "c3d": "C3D Instance", "c4": "C4 Instance",
	"c4a": "C4A Arm Instance", "c4d": "C4D Instance", "t2a": "T2A Arm Instance", "t2d": "T2D AMD Instance",
}

// simSharedCore is the vCPU share, in quarters, the E2 shared-core
// types are billed for.
var simSharedCore = map[string]int64{"e2-micro": 1, "e2-small": 2, "e2-medium": 4}

// simStorage are the storage and address SKUs of the simulated catalog:
// the catalog SKU each prices, its description, resource group and
// usage unit.
var simStorage = []struct {
	kind                   domain.Kind
	sku, desc, group, unit string
}{
	{domain.KindDisk, "pd-standard", "Storage PD Capacity", "PDStandard", "GiBy.mo"},
	{domain.KindDisk, "pd-balanced", "Balanced PD Capacity", "SSD", "GiBy.mo"},
	{domain.KindDisk, "pd-ssd", "SSD backed PD Capacity", "SSD", "GiBy.mo"},
	{domain.KindSnapshot, "snapshot", "Storage PD Snapshot", "PDSnapshot", "GiBy.mo"},
	{domain.KindIP, "public-ipv4", "External IP Charge on a Standard VM", "IpAddress", "h"},
	{domain.KindIP, "public-ipv4-unused", "Static Ip Charge", "IpAddress", "h"},
}

// skuUnits describes the usage units of the simulated SKUs as the
// catalog does: the unit's description, the base unit usage is metered
// in and how many base units make one usage unit.
var skuUnits = map[string]struct {
	desc, base, baseDesc string
	factor               float64
}{
	"h":       {"hour", "s", "second", 3600},
	"GiBy.h":  {"gibibyte hour", "By.s", "byte second", 3.8654705664e+12},
	"GiBy.mo": {"gibibyte month", "By.s", "byte second", 2.8759101014016e+15},
	"GiBy":    {"gibibyte", "By", "byte", 1 << 30},
}

// SimSKUs returns Compute Engine SKUs of the Cloud Billing Catalog
// whose on-demand prices reproduce the prices of the simulated estate's
// Google Cloud regions: for each machine series of simSeries with sizes
// in prices, a core SKU (per vCPU-hour) and a RAM SKU (per GiB-hour)
// priced in nanos so that vCPUs × core + GiB × RAM, rounded half up to
// the micro-dollar, is every size's price in the region (E2 shared-core
// sizes at their billed vCPU share); the persistent disk, snapshot and
// address SKUs at the catalog's prices. Regions with equal prices share
// a SKU, as in the real catalog; an in-use address priced alike in every
// region is one global SKU. Beside them are SKUs a reader must leave
// out: Spot (Preemptible) and committed use twins of every core and RAM
// SKU, custom machine type cores, regional disks and egress. A series
// whose prices no core and RAM price reproduce is an error.
func SimSKUs(est *simcloud.Estate, prices simcloud.Prices) ([]*billingpb.Sku, error) {
	regionSet := map[string]bool{}
	for _, r := range est.Resources() {
		if r.Cloud == domain.GCP && r.Region != "" && r.Region != "global" {
			regionSet[r.Region] = true
		}
	}
	regions := make([]string, 0, len(regionSet))
	for r := range regionSet {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	b := &skuBuilder{groups: map[skuKey][]string{}}
	for _, region := range regions {
		bySeries := map[string][]sizePrice{}
		for _, p := range prices.VMSizes(domain.GCP, region) {
			series, _, _ := strings.Cut(p.SKU, "-")
			if _, ok := simSeries[series]; !ok || p.VCPU <= 0 || p.MemoryMiB <= 0 || p.Unit != domain.UnitHour {
				continue
			}
			bySeries[series] = append(bySeries[series], newSizePrice(p))
		}
		for series, sizes := range bySeries {
			core, ram, ok := solveRates(sizes)
			if !ok {
				return nil, fmt.Errorf("gcpfake: %w: no core and RAM price reproduces the %s prices in %s", domain.ErrInvalid, series, region)
			}
			b.add(skuKey{desc: simSeries[series] + " Core", group: "CPU", unit: "h", nanos: core}, region)
			b.add(skuKey{desc: simSeries[series] + " Ram", group: "RAM", unit: "GiBy.h", nanos: ram}, region)
		}
		for _, s := range simStorage {
			if p, ok := prices.Lookup(domain.GCP, region, s.kind, s.sku); ok {
				b.add(skuKey{desc: s.desc, group: s.group, unit: s.unit, nanos: p.Amount.Micros * 1000}, region)
			}
		}
	}
	return b.skus(len(regions)), nil
}

// sizePrice is a machine type's billed vCPU quarters, memory in
// hundredths of a GiB (the GiB figure the type is defined with: the
// whole MiB the catalog holds, rounded to the hundredth) and price.
type sizePrice struct {
	quarters, memCentiGiB, micros int64
}

// newSizePrice reads a catalog price of a machine type.
func newSizePrice(p domain.Price) sizePrice {
	q, ok := simSharedCore[p.SKU]
	if !ok {
		q = 4 * int64(p.VCPU)
	}
	return sizePrice{quarters: q, memCentiGiB: (p.MemoryMiB*100 + 512) / 1024, micros: p.Amount.Micros}
}

// solveRates finds a core price per vCPU-hour and a RAM price per
// GiB-hour, in nanos, that give every size its price: (quarters·100·
// core + 4·memCentiGiB·ram)/400 nanos rounded half up to micros. It
// starts from the least-squares fit and searches the nearest core
// prices.
func solveRates(sizes []sizePrice) (core, ram int64, ok bool) {
	var saa, sab, sbb, say, sby float64
	for _, s := range sizes {
		a, b, y := float64(s.quarters*100), float64(4*s.memCentiGiB), float64(s.micros)*400000
		saa, sab, sbb, say, sby = saa+a*a, sab+a*b, sbb+b*b, say+a*y, sby+b*y
	}
	c0, r0 := 0.8*say/saa, 0.2*sby/sbb // one memory-to-vCPU ratio: any split fits
	if det := saa*sbb - sab*sab; det > 1e-9*saa*sbb {
		c0, r0 = (say*sbb-sby*sab)/det, (sby*saa-say*sab)/det
	}
	const window = 50_000
	for d := int64(0); d <= window; d++ {
		for _, c := range []int64{int64(math.Round(c0)) - d, int64(math.Round(c0)) + d} {
			if c < 0 {
				continue
			}
			lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
			for _, s := range sizes {
				a, b := s.quarters*100, 4*s.memCentiGiB
				l := s.micros*400000 - 200000 - a*c
				lo = max(lo, simCeilDiv(l, b))
				hi = min(hi, simFloorDiv(l+399999, b))
			}
			if lo <= hi && hi >= 0 {
				return c, min(max(int64(math.Round(r0)), max(lo, 0)), hi), true
			}
		}
	}
	return 0, 0, false
}

func simFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func simCeilDiv(a, b int64) int64 { return -simFloorDiv(-a, b) }

// skuKey is one price of the simulated catalog; the regions with that
// price share its SKU.
type skuKey struct {
	desc, group, unit string
	nanos             int64
}

type skuBuilder struct {
	groups map[skuKey][]string
}

func (b *skuBuilder) add(k skuKey, region string) {
	b.groups[k] = append(b.groups[k], region)
}

// skus returns the SKUs and their decoys, in a stable order.
func (b *skuBuilder) skus(nRegions int) []*billingpb.Sku {
	keys := make([]skuKey, 0, len(b.groups))
	for k := range b.groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y skuKey) int {
		return cmp.Or(cmp.Compare(x.desc, y.desc), cmp.Compare(x.nanos, y.nanos))
	})
	var out []*billingpb.Sku
	for _, k := range keys {
		regions := b.groups[k]
		sort.Strings(regions)
		place := regionPlace(regions[0])
		switch {
		case k.group == "CPU" || k.group == "RAM":
			running := k.desc + " running in " + place
			out = append(out, simSKU(running, "Compute", k.group, "OnDemand", k.unit, k.nanos, regions),
				simSKU("Spot Preemptible "+running, "Compute", k.group, "Preemptible", k.unit, k.nanos/3, regions),
				simSKU("Commitment v1: "+k.desc+" in "+place+" for 1 Year", "Compute", k.group, "Commit1Yr", k.unit, k.nanos*63/100, regions))
			if custom := strings.Replace(k.desc, " Instance Core", " Custom Instance Core", 1); custom != k.desc {
				out = append(out, simSKU(custom+" running in "+place, "Compute", k.group, "OnDemand", k.unit, k.nanos*105/100, regions))
			}
		case k.desc == "External IP Charge on a Standard VM" && len(regions) == nRegions:
			out = append(out, simSKU(k.desc, "Network", k.group, "OnDemand", k.unit, k.nanos, []string{"global"}))
		default:
			family := "Storage"
			if k.group == "IpAddress" {
				family = "Network"
			}
			desc := k.desc
			if place != "Americas" && family == "Storage" {
				desc += " in " + place
			}
			out = append(out, simSKU(desc, family, k.group, "OnDemand", k.unit, k.nanos, regions))
			if k.group == "SSD" {
				out = append(out, simSKU("Regional "+desc, family, k.group, "OnDemand", k.unit, 2*k.nanos, regions))
			}
		}
	}
	egress := simSKU("Network Internet Egress from Americas to Americas", "Network", "PremiumInternetEgress", "OnDemand", "GiBy", 0, []string{"global"})
	expr := egress.PricingInfo[0].PricingExpression
	expr.TieredRates = append(expr.TieredRates, &billingpb.PricingExpression_TierRate{StartUsageAmount: 1,
		UnitPrice: &money.Money{CurrencyCode: "USD", Nanos: 120_000_000}})
	return append(out, egress)
}

// simSKU makes one SKU with a single tier from 0.
func simSKU(desc, family, group, usage, unit string, nanos int64, regions []string) *billingpb.Sku {
	h := fnv.New64a()
	h.Write([]byte(desc + "\x00" + strings.Join(regions, ",") + "\x00" + usage))
	v := h.Sum64()
	id := fmt.Sprintf("%04X-%04X-%04X", v>>48&0xffff, v>>32&0xffff, v>>16&0xffff)
	u := skuUnits[unit]
	geo := &billingpb.GeoTaxonomy{Type: billingpb.GeoTaxonomy_REGIONAL, Regions: regions}
	switch {
	case len(regions) == 1 && regions[0] == "global":
		geo = &billingpb.GeoTaxonomy{Type: billingpb.GeoTaxonomy_GLOBAL}
	case len(regions) > 1:
		geo.Type = billingpb.GeoTaxonomy_MULTI_REGIONAL
	}
	return &billingpb.Sku{
		SkuId:       id,
		Description: desc,
		Category: &billingpb.Category{ServiceDisplayName: "Compute Engine", ResourceFamily: family, ResourceGroup: group,
			UsageType: usage},
		ServiceRegions: regions,
		PricingInfo: []*billingpb.PricingInfo{{
			PricingExpression: &billingpb.PricingExpression{UsageUnit: unit, UsageUnitDescription: u.desc, BaseUnit: u.base,
				BaseUnitDescription: u.baseDesc, BaseUnitConversionFactor: u.factor, DisplayQuantity: 1,
				TieredRates: []*billingpb.PricingExpression_TierRate{{StartUsageAmount: 0,
					UnitPrice: &money.Money{CurrencyCode: "USD", Units: nanos / 1e9, Nanos: int32(nanos % 1e9)}}}},
			CurrencyConversionRate: 1,
		}},
		ServiceProviderName: "Google",
		GeoTaxonomy:         geo,
	}
}

// regionPlace is the place a SKU description names for a region.
func regionPlace(region string) string {
	switch {
	case strings.HasPrefix(region, "europe-") || strings.HasPrefix(region, "me-") || strings.HasPrefix(region, "africa-"):
		return "EMEA"
	case strings.HasPrefix(region, "asia-") || strings.HasPrefix(region, "australia-"):
		return "APAC"
	}
	return "Americas"
}

// SimBillingSource serves the Cloud Billing export rows of the
// simulated estate's Google Cloud projects, made when asked from the
// estate's cost rows (the simcloud.CostDays whole days before its
// clock) by ExportRowOf; detailed adds the resource columns.
func SimBillingSource(est *simcloud.Estate, detailed bool) BillingSource {
	cloud := est.Cloud(domain.GCP)
	return func(ctx context.Context, project string, fn func(ExportRow) error) error {
		if cloud == nil {
			return nil
		}
		now := est.Now()
		w := collect.Window{Start: now.AddDate(0, 0, -simcloud.CostDays-1), End: now}
		return cloud.CostRows(ctx, project, w, func(rows []domain.CostRow) error {
			for _, r := range rows {
				if err := fn(ExportRowOf(r, detailed)); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// ExportDelay is how long after a charge period ends ExportRowOf says
// it was exported.
const ExportDelay = 5 * time.Hour

// ExportRowOf maps a FOCUS row back to a row of the standard billing
// export, as TO_JSON_STRING writes it: service (Compute Engine), sku (id
// the SkuId, description the ChargeDescription), usage_start_time and
// usage_end_time (the charge period), project (id, name), labels (the
// tags, sorted), location (region, zone), export_time (ExportDelay after
// the period), cost (the ContractedCost) and cost_at_list (the
// ListCost), currency, no credits (cost is at the negotiated price, so
// BilledCost reads back as cost), usage (consumed and pricing
// quantities and units), invoice.month and cost_type "regular".
// detailed adds resource.name and resource.global_name
// ("//compute.googleapis.com/" and the ResourceId) and price (the unit
// prices).
func ExportRowOf(r domain.CostRow, detailed bool) ExportRow {
	labels := []any{}
	keys := make([]string, 0, len(r.Tags))
	for k := range r.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		labels = append(labels, map[string]any{"key": k, "value": r.Tags[k]})
	}
	location := r.AvailabilityZone
	if location == "" {
		location = r.RegionID
	}
	row := ExportRow{
		"billing_account_id":       r.BillingAccountID,
		"service":                  map[string]any{"id": ComputeEngineService, "description": r.ServiceName},
		"sku":                      map[string]any{"id": r.SkuID, "description": r.ChargeDescription},
		"usage_start_time":         r.ChargePeriodStart.UTC().Format(time.RFC3339),
		"usage_end_time":           r.ChargePeriodEnd.UTC().Format(time.RFC3339),
		"project":                  map[string]any{"id": r.SubAccountID, "name": r.SubAccountName, "labels": []any{}},
		"labels":                   labels,
		"system_labels":            []any{},
		"location":                 map[string]any{"location": location, "region": r.RegionID, "zone": nullable(r.AvailabilityZone)},
		"export_time":              r.ChargePeriodEnd.Add(ExportDelay).UTC().Format(time.RFC3339),
		"cost":                     r.ContractedCost.Float(),
		"cost_at_list":             r.ListCost.Float(),
		"currency":                 r.BillingCurrency,
		"currency_conversion_rate": 1.0,
		"usage": map[string]any{"amount": r.ConsumedQuantity, "unit": r.ConsumedUnit,
			"amount_in_pricing_units": r.PricingQuantity, "pricing_unit": r.PricingUnit},
		"credits":         []any{},
		"invoice":         map[string]any{"month": r.BillingPeriodStart.UTC().Format("200601")},
		"cost_type":       "regular",
		"adjustment_info": nil,
	}
	if detailed {
		global := ""
		if r.ResourceID != "" {
			global = "//compute.googleapis.com/" + r.ResourceID
		}
		row["resource"] = map[string]any{"name": nullable(r.ResourceName), "global_name": nullable(global)}
		row["price"] = map[string]any{"effective_price": r.ContractedUnitPrice.Float(), "list_price": r.ListUnitPrice.Float(),
			"tier_start_amount": 0.0, "unit": r.PricingUnit, "pricing_unit_quantity": 1.0}
	}
	return row
}

// nullable is s, or JSON null for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// simBucketSeries hands on the Cloud Storage series of the simulated
// buckets of q's project: one sample a day, ending at the day's end (UTC),
// of the STANDARD bytes and objects (with a smaller NEARLINE series
// beside them, which a query must filter out), and of ReadObject
// requests and bytes sent (with a WriteObject series beside them). A
// bucket the estate has no request metrics for has no request series,
// as a bucket nobody reads has none.
func simBucketSeries(ctx context.Context, est *simcloud.Estate, cloud *simcloud.Cloud, q MetricQuery, fn func(MetricSeries) error) error {
	byRegion := map[string][]string{}
	for _, r := range est.Resources() {
		if r.Cloud == domain.GCP && r.Kind == domain.KindBucket && r.Account == q.Project && (q.Location == nil || q.Location(r.Region)) {
			byRegion[r.Region] = append(byRegion[r.Region], r.ID)
		}
	}
	w := collect.Window{Start: q.From.UTC().Truncate(24 * time.Hour), End: q.To}
	if !w.End.After(w.Start) {
		return nil
	}
	for _, region := range slices.Sorted(maps.Keys(byRegion)) {
		var out []MetricSeries
		err := cloud.BucketSeries(ctx, collect.Scope{Account: q.Project, Region: region}, byRegion[region], w, func(s domain.Series) error {
			scale, labels, other := 1.0, map[string]string(nil), map[string]string(nil)
			switch {
			case s.Metric == domain.MetricStoredBytes && q.Type == MetricStorageBytes,
				s.Metric == domain.MetricObjects && q.Type == MetricStorageObjects:
				labels, other = map[string]string{"storage_class": "STANDARD"}, map[string]string{"storage_class": "NEARLINE"}
			case s.Metric == domain.MetricReadRequests && q.Type == MetricStorageRequests,
				s.Metric == domain.MetricReadBytes && q.Type == MetricStorageSent:
				scale = s.Step.Seconds() // per second → per day
				labels = map[string]string{"method": "ReadObject", "response_code": "OK"}
				other = map[string]string{"method": "WriteObject", "response_code": "OK"}
			default:
				return nil
			}
			ms := MetricSeries{Project: q.Project, Bucket: s.ResourceID, Location: region, Type: q.Type, Labels: labels}
			extra := ms
			extra.Labels = other
			for i, v := range s.Values {
				if !domain.IsMissing(v) {
					end := s.Start.Add(time.Duration(i+1) * s.Step)
					ms.Points = append(ms.Points, MetricPoint{End: end, Value: float64(v) * scale})
					extra.Points = append(extra.Points, MetricPoint{End: end, Value: math.Round(float64(v) * scale / 8)})
				}
			}
			out = append(out, ms, extra)
			return nil
		})
		if err != nil {
			return fmt.Errorf("gcpfake: simulated bucket series of %s in %s: %w", q.Project, region, err)
		}
		for _, ms := range out {
			if err := fn(ms); err != nil {
				return err
			}
		}
	}
	return nil
}
