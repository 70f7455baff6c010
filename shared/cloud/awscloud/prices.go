package awscloud

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pltypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	catalog "github.com/cloudtrim/cloudtrim/shared/pricing"
)

// The SKUs the price catalog gives EBS snapshots and public IPv4
// addresses (an EBS volume's SKU is its volume type, gp3, io2 ...).
const (
	SnapshotSKU = "snapshot"
	IPSKU       = "public-ipv4"
)

// priceFilters are the GetProducts filters of every EC2 instance query:
// Linux on shared hardware without pre-installed software or a licence,
// capacity that is used (not an unused reservation).
var priceFilters = [][2]string{
	{"productFamily", "Compute Instance"},
	{"operatingSystem", "Linux"},
	{"tenancy", "Shared"},
	{"preInstalledSw", "NA"},
	{"capacitystatus", "Used"},
	{"licenseModel", "No License required"},
}

// PriceSkips counts what the Price List held that Prices left out.
type PriceSkips struct {
	// NotOnDemand counts reserved (and other non-on-demand) terms.
	NotOnDemand int
	// NotUSD counts on-demand price dimensions without a USD price.
	NotUSD int
	// Zero counts on-demand price dimensions priced at zero.
	Zero int
	// Unit counts price dimensions whose unit is not the one the
	// product is priced in (Hrs for instances and addresses, GB-Mo for
	// volumes and snapshots), and tiers beyond the first.
	Unit int
	// Product counts products that are no instance, volume, standard
	// snapshot or idle address price (snapshot archive, address remaps,
	// capacity blocks).
	Product int
	// Malformed counts product documents that could not be read.
	Malformed int
	// Duplicate counts prices of a region, kind and SKU already read.
	Duplicate int
}

// total returns the number of things skipped.
func (s PriceSkips) total() int {
	return s.NotOnDemand + s.NotUSD + s.Zero + s.Unit + s.Product + s.Malformed + s.Duplicate
}

// Prices reads on-demand list prices from the Price List API
// (GetProducts, ServiceCode AmazonEC2) for each region: the hourly price
// of every Linux instance type, or of instanceTypes when not empty, with
// its shape (vCPUs, memory, GPUs, architecture, family, burstable); the
// per GiB-month price of each EBS volume type (productFamily Storage,
// by volumeApiName) and of standard snapshots (SKU SnapshotSKU); the
// hourly price of an Elastic IP address (SKU IPSKU). The prices have the
// shape of the embedded catalog's, so pricing.New makes a catalog of
// them (see PriceCatalog).
//
// Reserved terms, prices in other currencies, zero prices, other units
// and other products are skipped, counted and logged, never an error; a
// product document that cannot be read is skipped the same way.
func (p *Provider) Prices(ctx context.Context, regions []string, instanceTypes []string) ([]domain.Price, error) {
	var out []domain.Price
	seen := map[string]bool{}
	for _, region := range regions {
		if region == "" {
			return nil, fmt.Errorf("%w: awscloud: empty region in the price regions", domain.ErrInvalid)
		}
		var skips PriceSkips
		n := 0
		add := func(pr domain.Price) {
			k := pr.Region + "\x00" + string(pr.Kind) + "\x00" + strings.ToLower(pr.SKU)
			if seen[k] {
				skips.Duplicate++
				return
			}
			seen[k] = true
			out = append(out, pr)
			n++
		}
		var queries [][]pltypes.Filter
		if len(instanceTypes) == 0 {
			queries = append(queries, priceQuery(region, priceFilters))
		}
		for _, it := range instanceTypes {
			queries = append(queries, priceQuery(region, append(slices.Clone(priceFilters), [2]string{"instanceType", it})))
		}
		for _, family := range []string{"Storage", "Storage Snapshot", "IP Address"} {
			queries = append(queries, priceQuery(region, [][2]string{{"productFamily", family}}))
		}
		for _, filters := range queries {
			pages := pricing.NewGetProductsPaginator(p.priceList(), &pricing.GetProductsInput{
				ServiceCode: aws.String("AmazonEC2"), FormatVersion: aws.String("aws_v1"),
				Filters: filters, MaxResults: aws.Int32(100),
			}, func(o *pricing.GetProductsPaginatorOptions) { o.StopOnDuplicateToken = true })
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					return nil, mapErr("pricing GetProducts AmazonEC2 in "+region, err)
				}
				for _, item := range page.PriceList {
					if pr, ok := parsePriceItem(item, region, &skips); ok {
						add(pr)
					}
				}
			}
		}
		p.logger.InfoContext(ctx, "price list read", "region", region, "prices", n, "skipped", skips.total(),
			"skipped_not_on_demand", skips.NotOnDemand, "skipped_not_usd", skips.NotUSD, "skipped_zero", skips.Zero,
			"skipped_unit", skips.Unit, "skipped_product", skips.Product, "skipped_malformed", skips.Malformed,
			"skipped_duplicate", skips.Duplicate)
	}
	slices.SortFunc(out, func(a, b domain.Price) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.SKU, b.SKU))
	})
	return out, nil
}

// PriceCatalog returns a catalog of the prices Prices reads in regions,
// or in every region of the provider when regions is empty: the live
// AWS part of a catalog to store in the lake. Laid over the embedded
// catalog with its Merge method, it replaces the embedded AWS prices of
// the regions read and keeps the rest.
func (p *Provider) PriceCatalog(ctx context.Context, regions []string) (*catalog.Catalog, error) {
	if len(regions) == 0 {
		var err error
		if regions, err = p.Regions(ctx); err != nil {
			return nil, err
		}
	}
	prices, err := p.Prices(ctx, regions, nil)
	if err != nil {
		return nil, err
	}
	return catalog.New(prices), nil
}

// priceQuery returns TERM_MATCH filters on regionCode and fields.
func priceQuery(region string, fields [][2]string) []pltypes.Filter {
	out := []pltypes.Filter{{Type: pltypes.FilterTypeTermMatch, Field: aws.String("regionCode"), Value: aws.String(region)}}
	for _, f := range fields {
		out = append(out, pltypes.Filter{Type: pltypes.FilterTypeTermMatch, Field: aws.String(f[0]), Value: aws.String(f[1])})
	}
	return out
}

// priceDocument is the part of a Price List product document read.
type priceDocument struct {
	Product struct {
		ProductFamily string            `json:"productFamily"`
		Attributes    map[string]string `json:"attributes"`
		SKU           string            `json:"sku"`
	} `json:"product"`
	Terms map[string]map[string]struct {
		PriceDimensions map[string]struct {
			Unit         string            `json:"unit"`
			BeginRange   string            `json:"beginRange"`
			RateCode     string            `json:"rateCode"`
			PricePerUnit map[string]string `json:"pricePerUnit"`
		} `json:"priceDimensions"`
	} `json:"terms"`
}

// parsePriceItem reads one PriceList item, a product document as a JSON
// string, into a price. region is the region the item was asked for,
// used when the document has no regionCode (older documents name only
// the location). It reports false, counting why in skips, when the item
// holds no price Prices keeps.
func parsePriceItem(item, region string, skips *PriceSkips) (domain.Price, bool) {
	var doc priceDocument
	if err := json.Unmarshal([]byte(item), &doc); err != nil || doc.Product.Attributes == nil {
		skips.Malformed++
		return domain.Price{}, false
	}
	attrs := doc.Product.Attributes
	if r := attrs["regionCode"]; r != "" {
		region = r
	}
	price := domain.Price{Cloud: domain.AWS, Region: region}
	wantUnit := "Hrs"
	usage := attrs["usagetype"]
	switch doc.Product.ProductFamily {
	case "Compute Instance":
		if mo := attrs["marketoption"]; mo != "" && mo != "OnDemand" {
			skips.Product++
			return domain.Price{}, false
		}
		price.Kind, price.SKU = domain.KindVM, attrs["instanceType"]
		price.Family = catalog.Family(domain.AWS, price.SKU)
		price.VCPU = priceAtoi(attrs["vcpu"])
		price.MemoryMiB = memoryMiB(attrs["memory"])
		price.GPUs = priceAtoi(attrs["gpu"])
		price.Arch = "x86_64"
		if strings.Contains(strings.ToLower(attrs["physicalProcessor"]), "graviton") ||
			strings.Contains(strings.ToLower(attrs["processorArchitecture"]), "arm") {
			price.Arch = "arm64"
		}
		price.Burstable = len(price.Family) > 1 && price.Family[0] == 't' && price.Family[1] >= '0' && price.Family[1] <= '9'
	case "Storage":
		price.Kind, price.SKU, wantUnit = domain.KindDisk, attrs["volumeApiName"], "GB-Mo"
	case "Storage Snapshot":
		if !strings.HasSuffix(usage, "EBS:SnapshotUsage") {
			skips.Product++
			return domain.Price{}, false
		}
		price.Kind, price.SKU, wantUnit = domain.KindSnapshot, SnapshotSKU, "GB-Mo"
	case "IP Address":
		if !strings.HasSuffix(usage, "ElasticIP:IdleAddress") {
			skips.Product++
			return domain.Price{}, false
		}
		price.Kind, price.SKU = domain.KindIP, IPSKU
	default:
		skips.Product++
		return domain.Price{}, false
	}
	if price.SKU == "" {
		skips.Malformed++
		return domain.Price{}, false
	}
	found := false
	for termType, terms := range doc.Terms {
		if termType != "OnDemand" {
			skips.NotOnDemand += len(terms)
			continue
		}
		// The rate codes in order, so that the same document always gives
		// the same price.
		type dim struct {
			rate, unit, begin string
			usd               string
			hasUSD            bool
		}
		var dims []dim
		for _, t := range terms {
			for code, d := range t.PriceDimensions {
				usd, ok := d.PricePerUnit["USD"]
				dims = append(dims, dim{cmp.Or(d.RateCode, code), d.Unit, d.BeginRange, usd, ok})
			}
		}
		slices.SortFunc(dims, func(a, b dim) int { return strings.Compare(a.rate, b.rate) })
		for _, d := range dims {
			switch {
			case !d.hasUSD:
				skips.NotUSD++
				continue
			case d.unit != wantUnit || (d.begin != "" && d.begin != "0"):
				skips.Unit++
				continue
			}
			amount, err := domain.ParseMoney(d.usd, "USD")
			switch {
			case err != nil:
				skips.Malformed++
				continue
			case amount.Micros <= 0:
				skips.Zero++
				continue
			case found:
				skips.Duplicate++
				continue
			}
			found = true
			price.Amount = amount
			price.Unit = domain.UnitHour
			if wantUnit == "GB-Mo" {
				price.Unit = domain.UnitGiBMonth
			}
		}
	}
	return price, found
}

// priceAtoi reads a whole number such as "2" or "1,024"; anything else is 0.
func priceAtoi(s string) int {
	n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(s), ",", ""))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// memoryMiB reads the Price List's memory attribute, "8 GiB", "0.5 GiB"
// or "1,952 GiB", in MiB; "NA" and anything else is 0.
func memoryMiB(s string) int64 {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	num, ok := strings.CutSuffix(s, " GiB")
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0
	}
	return int64(math.Round(f * 1024))
}
