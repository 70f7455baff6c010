package azurecloud

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	catalog "github.com/cloudtrim/cloudtrim/shared/pricing"
)

// retailAPIVersion is the Retail Prices API version asked for.
const retailAPIVersion = "2023-01-01-preview"

// The products of managed disks in the Retail Prices API, and the
// storage account type prefix of each product's tiers.
var diskProducts = []struct{ product, tierLetter, skuPrefix string }{
	{"Premium SSD Managed Disks", "P", "Premium_"},
	{"Standard SSD Managed Disks", "E", "StandardSSD_"},
	{"Standard HDD Managed Disks", "S", "Standard_"},
}

// referenceTier is the tier (1 TiB) whose monthly price, divided by its
// size, is a disk type's price per GiB-month: Azure bills a managed disk
// by the tier that holds it, and the catalog prices a disk type per GiB.
const referenceTier, referenceTierGiB = 30, 1024

// DiskTierSKU is the catalog SKU of one tier of a disk type, priced per
// month: "Premium_LRS/P10".
func DiskTierSKU(diskSKU, tier string) string { return diskSKU + "/" + tier }

// RetailFilters returns the $filter expressions Prices asks the Retail
// Prices API for in region: Linux and Windows VM consumption prices
// (Windows, Spot and Low Priority are dropped as read), the three
// managed disk products (tiers and snapshots) and public IP addresses.
func RetailFilters(region string) []string {
	out := []string{
		fmt.Sprintf("serviceName eq 'Virtual Machines' and armRegionName eq '%s' and priceType eq 'Consumption'", region),
	}
	for _, d := range diskProducts {
		out = append(out, fmt.Sprintf("serviceName eq 'Storage' and armRegionName eq '%s' and priceType eq 'Consumption' and productName eq '%s'", region, d.product))
	}
	return append(out, fmt.Sprintf("serviceName eq 'Virtual Network' and armRegionName eq '%s' and priceType eq 'Consumption' and productName eq 'IP Addresses'", region))
}

// retailItem is the part of a Retail Prices API item read.
type retailItem struct {
	CurrencyCode         string      `json:"currencyCode"`
	TierMinimumUnits     json.Number `json:"tierMinimumUnits"`
	RetailPrice          json.Number `json:"retailPrice"`
	ArmRegionName        string      `json:"armRegionName"`
	EffectiveStartDate   string      `json:"effectiveStartDate"`
	MeterName            string      `json:"meterName"`
	ProductName          string      `json:"productName"`
	SkuName              string      `json:"skuName"`
	ServiceName          string      `json:"serviceName"`
	UnitOfMeasure        string      `json:"unitOfMeasure"`
	Type                 string      `json:"type"`
	IsPrimaryMeterRegion bool        `json:"isPrimaryMeterRegion"`
	ArmSkuName           string      `json:"armSkuName"`
}

// retailPage is one answer of the Retail Prices API.
type retailPage struct {
	BillingCurrency string       `json:"BillingCurrency"`
	Items           []retailItem `json:"Items"`
	NextPageLink    string       `json:"NextPageLink"`
}

// PriceSkips counts what the Retail Prices API answered that Prices
// left out.
type PriceSkips struct {
	// NotConsumption counts reservation, savings plan and dev/test prices.
	NotConsumption int
	// Windows counts Windows VM prices (licence included).
	Windows int
	// Spot counts Spot and Low Priority VM prices.
	Spot int
	// NotUSD counts prices in another currency.
	NotUSD int
	// Zero counts prices of zero (free tiers).
	Zero int
	// Unit counts prices in another unit than the product is priced in,
	// and tiers beyond the first.
	Unit int
	// Product counts meters that are no VM size, disk tier, standard
	// snapshot or static public IP (disk operations, mounts, bursting,
	// dynamic addresses ...).
	Product int
	// Malformed counts items that could not be read.
	Malformed int
	// Duplicate counts prices of a region, kind and SKU already read
	// (an older effective date, or a secondary meter region).
	Duplicate int
}

func (s PriceSkips) total() int {
	return s.NotConsumption + s.Windows + s.Spot + s.NotUSD + s.Zero + s.Unit + s.Product + s.Malformed + s.Duplicate
}

// diskTierName reads a disk tier meter's SKU name: "P10 LRS" → P, 10, LRS.
var diskTierName = regexp.MustCompile(`^([PES])(\d+) (LRS|ZRS)$`)

// Prices reads on-demand list prices in USD from the Azure Retail Prices
// API (Config.RetailPricesURL, no credential) for each region, following
// NextPageLink: the hourly Linux consumption price of every VM size (not
// Spot, Low Priority or Windows), with its shape (vCPUs, memory, GPUs,
// architecture) from ResourceSKUs when a subscription can read it (the
// catalog's Merge keeps the embedded shape otherwise), its family and
// burstability; the monthly price of every managed disk tier
// (DiskTierSKU, "Premium_LRS/P10") and, per disk type, the per
// GiB-month price of its 1 TiB tier (the catalog's disk price); the per
// GiB-month price of standard LRS snapshots (SKU SnapshotSKU); the
// hourly price of static public IPv4 addresses (IPSKU, and IPBasicSKU).
// An empty region is passed over.
//
// What the prices answer beyond that is skipped, counted and logged,
// never an error. Errors of the API itself come from mapErr (a 429 is
// retried as the ARM calls are).
func (p *Provider) Prices(ctx context.Context, regions []string) ([]domain.Price, error) {
	var out []domain.Price
	var subs []string
	for _, region := range regions {
		region = normRegion(region)
		if region == "" {
			continue
		}
		if subs == nil {
			var err error
			if subs, err = p.Subscriptions(ctx); err != nil {
				p.logger.WarnContext(ctx, "subscriptions not readable; prices without shapes", "error", err)
				subs = []string{}
			}
		}
		shapes := p.priceShapes(ctx, subs, region)
		var skips PriceSkips
		type entry struct {
			price   domain.Price
			date    string
			primary bool
		}
		got := map[string]entry{}
		// Of two prices of one SKU the latest effective date wins, then
		// the primary meter region.
		add := func(pr domain.Price, it retailItem) {
			k := string(pr.Kind) + "\x00" + strings.ToLower(pr.SKU)
			if have, ok := got[k]; ok {
				skips.Duplicate++
				if it.EffectiveStartDate < have.date || (it.EffectiveStartDate == have.date && (have.primary || !it.IsPrimaryMeterRegion)) {
					return
				}
			}
			got[k] = entry{pr, it.EffectiveStartDate, it.IsPrimaryMeterRegion}
		}
		for _, filter := range RetailFilters(region) {
			err := p.retail(ctx, filter, func(it retailItem) {
				if pr, ok := parseRetailItem(it, region, shapes, &skips); ok {
					add(pr, it)
				}
			})
			if err != nil {
				return nil, err
			}
		}
		var perGiB []domain.Price
		for _, e := range got {
			if pr, ok := diskPerGiB(e.price); ok {
				perGiB = append(perGiB, pr)
			}
		}
		for _, pr := range perGiB {
			add(pr, retailItem{IsPrimaryMeterRegion: true})
		}
		n := 0
		for _, e := range got {
			out = append(out, e.price)
			n++
		}
		p.logger.InfoContext(ctx, "retail prices read", "region", region, "prices", n, "skipped", skips.total(),
			"skipped_not_consumption", skips.NotConsumption, "skipped_windows", skips.Windows, "skipped_spot", skips.Spot,
			"skipped_not_usd", skips.NotUSD, "skipped_zero", skips.Zero, "skipped_unit", skips.Unit,
			"skipped_product", skips.Product, "skipped_malformed", skips.Malformed, "skipped_duplicate", skips.Duplicate)
	}
	slices.SortFunc(out, func(a, b domain.Price) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.SKU, b.SKU))
	})
	return out, nil
}

// PriceCatalog returns a catalog of the prices Prices reads in regions,
// or in every region that holds resources of the provider's
// subscriptions when regions is empty: the live Azure part of a catalog
// to store in the lake. Laid over the embedded catalog with its Merge
// method, it replaces the embedded Azure prices of the regions read and
// keeps the rest (and the embedded shapes of sizes ResourceSKUs did not
// describe).
func (p *Provider) PriceCatalog(ctx context.Context, regions []string) (*catalog.Catalog, error) {
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
	return catalog.New(prices), nil
}

// priceShapes reads the VM sizes of a region from the first of subs
// that can; nil when none can (prices then go without shapes).
func (p *Provider) priceShapes(ctx context.Context, subs []string, region string) map[string]vmShape {
	var err error
	for _, sub := range subs {
		var shapes map[string]vmShape
		if shapes, err = p.shapesOf(ctx, sub, region); err == nil {
			return shapes
		}
		p.logger.DebugContext(ctx, "resource SKUs not readable", "account_id", sub, "region", region, "error", err)
	}
	p.logger.WarnContext(ctx, "VM sizes not readable; prices without shapes", "region", region, "error", err)
	return nil
}

// diskPerGiB derives a disk type's price per GiB-month from the monthly
// price of its 1 TiB tier; false for any other price.
func diskPerGiB(tier domain.Price) (domain.Price, bool) {
	sku, name, ok := strings.Cut(tier.SKU, "/")
	if !ok || tier.Kind != domain.KindDisk || tier.Unit != domain.UnitMonth || len(name) < 2 || name[1:] != strconv.Itoa(referenceTier) {
		return domain.Price{}, false
	}
	micros := (tier.Amount.Micros + referenceTierGiB/2) / referenceTierGiB
	return domain.Price{Cloud: domain.Azure, Region: tier.Region, Kind: domain.KindDisk, SKU: sku,
		Unit: domain.UnitGiBMonth, Amount: domain.Money{Micros: micros, Currency: tier.Amount.Currency}}, true
}

// parseRetailItem reads one item into a price. It reports false,
// counting why in skips, for an item Prices leaves out.
func parseRetailItem(it retailItem, region string, shapes map[string]vmShape, skips *PriceSkips) (domain.Price, bool) {
	switch {
	case it.Type != "Consumption":
		skips.NotConsumption++
		return domain.Price{}, false
	case it.CurrencyCode != "USD":
		skips.NotUSD++
		return domain.Price{}, false
	case it.TierMinimumUnits != "" && it.TierMinimumUnits != "0" && it.TierMinimumUnits != "0.0":
		skips.Unit++
		return domain.Price{}, false
	}
	amount, err := domain.ParseMoney(it.RetailPrice.String(), "USD")
	switch {
	case err != nil:
		skips.Malformed++
		return domain.Price{}, false
	case amount.Micros <= 0:
		skips.Zero++
		return domain.Price{}, false
	}
	pr := domain.Price{Cloud: domain.Azure, Region: region, Amount: amount}
	switch it.ServiceName {
	case "Virtual Machines":
		lower := strings.ToLower(it.SkuName + " " + it.MeterName)
		switch {
		case strings.Contains(strings.ToLower(it.ProductName), "windows"):
			skips.Windows++
			return domain.Price{}, false
		case strings.Contains(lower, "spot") || strings.Contains(lower, "low priority"):
			skips.Spot++
			return domain.Price{}, false
		case it.UnitOfMeasure != "1 Hour":
			skips.Unit++
			return domain.Price{}, false
		case !strings.HasPrefix(it.ArmSkuName, "Standard_") && !strings.HasPrefix(it.ArmSkuName, "Basic_"):
			skips.Product++ // dedicated hosts and meters without a size
			return domain.Price{}, false
		}
		pr.Kind, pr.SKU, pr.Unit = domain.KindVM, it.ArmSkuName, domain.UnitHour
		pr.Family = catalog.Family(domain.Azure, pr.SKU)
		pr.Burstable = strings.HasPrefix(pr.Family, "B")
		if sh, ok := shapes[key(pr.SKU)]; ok && sh.vcpus > 0 && sh.memoryMiB > 0 {
			pr.VCPU, pr.MemoryMiB, pr.GPUs, pr.Arch = sh.vcpus, sh.memoryMiB, sh.gpus, sh.arch
		}
		return pr, true
	case "Storage":
		var prefix, letter string
		for _, d := range diskProducts {
			if d.product == it.ProductName {
				prefix, letter = d.skuPrefix, d.tierLetter
			}
		}
		if prefix == "" {
			skips.Product++
			return domain.Price{}, false
		}
		if strings.Contains(it.MeterName, "Snapshot") {
			if letter != "S" || !strings.Contains(it.MeterName, "LRS") {
				skips.Product++ // full snapshots of premium and SSD disks, ZRS
				return domain.Price{}, false
			}
			if it.UnitOfMeasure != "1 GB/Month" {
				skips.Unit++
				return domain.Price{}, false
			}
			pr.Kind, pr.SKU, pr.Unit = domain.KindSnapshot, SnapshotSKU, domain.UnitGiBMonth
			return pr, true
		}
		m := diskTierName.FindStringSubmatch(it.SkuName)
		if m == nil || m[1] != letter || it.MeterName != it.SkuName+" Disk" {
			skips.Product++ // operations, mounts, bursting, other tiers
			return domain.Price{}, false
		}
		if it.UnitOfMeasure != "1/Month" {
			skips.Unit++
			return domain.Price{}, false
		}
		pr.Kind, pr.SKU, pr.Unit = domain.KindDisk, DiskTierSKU(prefix+m[3], m[1]+m[2]), domain.UnitMonth
		return pr, true
	case "Virtual Network":
		var sku string
		switch it.MeterName {
		case "Standard IPv4 Static Public IP":
			sku = IPSKU
		case "Basic IPv4 Static Public IP":
			sku = IPBasicSKU
		case "Standard IPv6 Static Public IP":
			sku = IPv6SKU
		default:
			skips.Product++ // dynamic addresses, prefixes, global tier
			return domain.Price{}, false
		}
		if it.UnitOfMeasure != "1 Hour" {
			skips.Unit++
			return domain.Price{}, false
		}
		pr.Kind, pr.SKU, pr.Unit = domain.KindIP, sku, domain.UnitHour
		return pr, true
	}
	skips.Product++
	return domain.Price{}, false
}

// retail calls fn with each item of every page of one Retail Prices API
// query. A NextPageLink must stay on the configured host.
func (p *Provider) retail(ctx context.Context, filter string, fn func(retailItem)) error {
	base, err := url.Parse(p.cfg.RetailPricesURL)
	if err != nil {
		return fmt.Errorf("%w: retail prices URL %q: %v", domain.ErrInvalid, p.cfg.RetailPricesURL, err)
	}
	q := base.Query()
	q.Set("api-version", retailAPIVersion)
	q.Set("$filter", filter)
	base.RawQuery = q.Encode()
	link := base.String()
	op := "retail prices " + filter
	pl := p.retailPipeline()
	seen := map[string]bool{}
	for link != "" {
		if seen[link] {
			return fmt.Errorf("%s: the API repeated the page link %q", op, link)
		}
		seen[link] = true
		u, err := url.Parse(link)
		if err != nil || !sameHost(u, base) {
			return fmt.Errorf("%s: %w: the next page link %q leaves %s", op, domain.ErrInvalid, link, base.Host)
		}
		req, err := runtime.NewRequest(ctx, http.MethodGet, link)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		resp, err := pl.Do(req)
		if err != nil {
			return mapErr(op, err)
		}
		if !runtime.HasStatusCode(resp, http.StatusOK) {
			return mapErr(op, runtime.NewResponseError(resp))
		}
		var page retailPage
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		err = dec.Decode(&page)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w: the answer is not a retail prices page: %v", op, domain.ErrInvalid, err)
		}
		for _, it := range page.Items {
			fn(it)
		}
		link = page.NextPageLink
	}
	return nil
}

// retailPipeline is the SDK pipeline the Retail Prices API is called
// through: the same retries as the ARM clients, no credential.
func (p *Provider) retailPipeline() runtime.Pipeline {
	o := p.opts.ClientOptions
	o.Transport = p.http
	o.PerCallPolicies, o.PerRetryPolicies = nil, []policy.Policy{rateLimitPolicy{}}
	return runtime.NewPipeline("azurecloud", "v1", runtime.PipelineOptions{}, &o)
}

// sameHost reports whether two URLs name the same host and port (the
// API's page links spell the default port: prices.azure.com:443).
func sameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "http" {
			return "80"
		}
		return "443"
	}
	return a.Scheme == b.Scheme && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}
