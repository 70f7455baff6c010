package awsfake

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// PriceList is what the Price List fake needs of Options.Prices: every
// price, to generate the product documents GetProducts serves.
// *pricing.Catalog implements it; a simcloud.Prices that does not serves
// no products.
type PriceList interface {
	All() []domain.Price
}

// The Price List API's limits and fixed codes.
const (
	plMaxResults      = 100
	plFormatVersion   = "aws_v1"
	plOnDemand        = "JRTCKXETXF"
	plReserved1yr     = "4NA7Y494T4"
	plReserved3yr     = "38NPMPTW36"
	plHourlyRate      = "6YS6EN2CT7"
	plUpfrontRate     = "2TG2D8R56U"
	plPublicationDate = "2026-01-15T18:00:00Z"
	plVersion         = "20260115180000"
)

type plProduct struct {
	ProductFamily string            `json:"productFamily"`
	Attributes    map[string]string `json:"attributes"`
	SKU           string            `json:"sku"`
}

type plDimension struct {
	Unit         string            `json:"unit"`
	EndRange     string            `json:"endRange,omitempty"`
	Description  string            `json:"description"`
	AppliesTo    []string          `json:"appliesTo"`
	RateCode     string            `json:"rateCode"`
	BeginRange   string            `json:"beginRange,omitempty"`
	PricePerUnit map[string]string `json:"pricePerUnit"`
}

type plTerm struct {
	PriceDimensions map[string]plDimension `json:"priceDimensions"`
	SKU             string                 `json:"sku"`
	EffectiveDate   string                 `json:"effectiveDate"`
	OfferTermCode   string                 `json:"offerTermCode"`
	TermAttributes  map[string]string      `json:"termAttributes"`
}

type plDocument struct {
	Product         plProduct                    `json:"product"`
	ServiceCode     string                       `json:"serviceCode"`
	Terms           map[string]map[string]plTerm `json:"terms"`
	Version         string                       `json:"version"`
	PublicationDate string                       `json:"publicationDate"`
}

type plFilter struct {
	Type  string `json:"Type"`
	Field string `json:"Field"`
	Value string `json:"Value"`
}

type plRequest struct {
	ServiceCode   string     `json:"ServiceCode"`
	Filters       []plFilter `json:"Filters"`
	FormatVersion string     `json:"FormatVersion,omitempty"`
	MaxResults    *int       `json:"MaxResults,omitempty"`
	NextToken     string     `json:"NextToken,omitempty"`
}

// servePriceList answers the Price List API's GetProducts over AWS JSON
// 1.1 for ServiceCode AmazonEC2, with product documents generated from
// the AWS prices of Options.Prices: for each VM size the Linux on-demand
// product the collector asks for and the products its filters must leave
// out (Windows, dedicated tenancy, unused capacity reservations, SQL
// Server pre-installed), each with reserved terms besides the on-demand
// one; EBS volumes (productFamily Storage), snapshots (Storage Snapshot,
// with the archive tier beside the standard one) and Elastic IP
// addresses (IP Address, with the free remap product).
func (s *Server) servePriceList(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	if r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSPriceListService.") {
		s.fail(w, rc, http.StatusBadRequest, "SerializationException", "awsfake: the Price List API is served over AWS JSON 1.1 (X-Amz-Target: AWSPriceListService.<Op>)")
		return
	}
	if rc.op != "GetProducts" {
		s.fail(w, rc, http.StatusBadRequest, "UnknownOperationException", "awsfake: pricing "+rc.op+" is not served")
		return
	}
	var in plRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.fail(w, rc, http.StatusBadRequest, "SerializationException", "awsfake: body: "+err.Error())
		return
	}
	invalid := func(msg string) { s.fail(w, rc, http.StatusBadRequest, "InvalidParameterException", msg) }
	if in.ServiceCode == "" {
		invalid("ServiceCode is required")
		return
	}
	if in.FormatVersion != "" && in.FormatVersion != plFormatVersion {
		invalid("FormatVersion must be " + plFormatVersion)
		return
	}
	limit := plMaxResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > plMaxResults {
			invalid("MaxResults must be between 1 and 100")
			return
		}
		limit = *in.MaxResults
	}
	for _, f := range in.Filters {
		switch f.Type {
		case "TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF":
		default:
			invalid("Invalid filter type " + f.Type)
			return
		}
		if f.Field == "" {
			invalid("A filter needs a Field")
			return
		}
	}
	token := in.NextToken
	in.NextToken = ""
	canonical, _ := json.Marshal(in)
	digest := dataDigest(string(canonical))

	var docs []plDocument
	if pl, ok := s.opts.Prices.(PriceList); ok && in.ServiceCode == "AmazonEC2" {
		for _, d := range plCatalog(pl) {
			if plMatches(d.Product, in.Filters) {
				docs = append(docs, d)
			}
		}
	}
	off := 0
	if token != "" {
		var ok bool
		if off, ok = parseDataToken(token, digest); !ok || off > len(docs) {
			s.fail(w, rc, http.StatusBadRequest, "InvalidNextTokenException", "The next token is invalid or has expired")
			return
		}
	}
	end := min(off+min(limit, dataPageSize(plMaxResults, s.opts.Data.PricePageSize)), len(docs))
	list := make([]string, 0, end-off)
	for _, d := range docs[off:end] {
		b, err := json.Marshal(d)
		if err != nil {
			s.fail(w, rc, http.StatusInternalServerError, "InternalErrorException", err.Error())
			return
		}
		list = append(list, string(b))
	}
	out := map[string]any{"FormatVersion": plFormatVersion, "PriceList": list}
	if end < len(docs) {
		out["NextToken"] = dataToken(end, digest)
	}
	s.ok(rc)
	writeJSON(w, rc, out)
}

// plCache keeps the product documents generated for each price list:
// generating them for every page would make paging slow.
var plCache struct {
	sync.Mutex
	docs map[PriceList][]plDocument
}

// plCatalog returns the product documents of every AWS price of pl,
// sorted by SKU.
func plCatalog(pl PriceList) []plDocument {
	cacheable := reflect.TypeOf(pl).Comparable()
	if cacheable {
		plCache.Lock()
		defer plCache.Unlock()
		if docs, ok := plCache.docs[pl]; ok {
			return docs
		}
	}
	var docs []plDocument
	for _, p := range pl.All() {
		if p.Cloud == domain.AWS {
			docs = append(docs, plProducts(p)...)
		}
	}
	slices.SortFunc(docs, func(a, b plDocument) int { return strings.Compare(a.Product.SKU, b.Product.SKU) })
	if cacheable {
		if plCache.docs == nil {
			plCache.docs = map[PriceList][]plDocument{}
		}
		plCache.docs[pl] = docs
	}
	return docs
}

// plMatches applies GetProducts filters to a product.
func plMatches(p plProduct, filters []plFilter) bool {
	for _, f := range filters {
		var v string
		var ok bool
		switch f.Field {
		case "productFamily":
			v, ok = p.ProductFamily, true
		case "sku":
			v, ok = p.SKU, true
		case "ServiceCode":
			v, ok = "AmazonEC2", true
		default:
			v, ok = p.Attributes[f.Field]
		}
		values := strings.Split(f.Value, ",")
		for i := range values {
			values[i] = strings.TrimSpace(values[i])
		}
		var match bool
		switch f.Type {
		case "TERM_MATCH":
			match = ok && strings.EqualFold(v, f.Value)
		case "EQUALS":
			match = ok && v == f.Value
		case "CONTAINS":
			match = ok && strings.Contains(v, f.Value)
		case "ANY_OF":
			match = ok && slices.Contains(values, v)
		case "NONE_OF":
			match = !ok || !slices.Contains(values, v)
		}
		if !match {
			return false
		}
	}
	return true
}

// The names AWS gives regions in the Price List ("location") and the
// prefix of their usage types.
var plRegions = map[string][2]string{
	"us-east-1": {"US East (N. Virginia)", ""}, "us-east-2": {"US East (Ohio)", "USE2-"},
	"us-west-1": {"US West (N. California)", "USW1-"}, "us-west-2": {"US West (Oregon)", "USW2-"},
	"eu-west-1": {"EU (Ireland)", "EU-"}, "eu-central-1": {"EU (Frankfurt)", "EUC1-"},
	"ap-northeast-1": {"Asia Pacific (Tokyo)", "APN1-"}, "ap-southeast-2": {"Asia Pacific (Sydney)", "APS2-"},
}

var plVolumeTypes = map[string][2]string{ // volumeApiName → volumeType, storageMedia
	"gp2": {"General Purpose", "SSD-backed"}, "gp3": {"General Purpose", "SSD-backed"},
	"io1": {"Provisioned IOPS", "SSD-backed"}, "io2": {"Provisioned IOPS", "SSD-backed"},
	"st1": {"Throughput Optimized HDD", "HDD-backed"}, "sc1": {"Cold HDD", "HDD-backed"},
	"standard": {"Magnetic", "HDD-backed"},
}

// plProducts returns the product documents of one catalog price.
func plProducts(p domain.Price) []plDocument {
	names, known := plRegions[p.Region]
	if !known {
		names = [2]string{p.Region, strings.ToUpper(p.Region) + "-"}
	}
	base := func(extra map[string]string) map[string]string {
		a := map[string]string{"regionCode": p.Region, "location": names[0], "locationType": "AWS Region",
			"servicecode": "AmazonEC2", "servicename": "Amazon Elastic Compute Cloud"}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	amount := func(m domain.Money) string { return m.Decimal() + "0000" }
	switch p.Kind {
	case domain.KindVM:
		arch, cpu := "64-bit", "Intel Xeon Family"
		if p.Arch == "arm64" {
			cpu = "AWS Graviton Processor"
		}
		mem := strconv.FormatFloat(float64(p.MemoryMiB)/1024, 'f', -1, 64) + " GiB"
		attrs := func(os, tenancy, sw, capacity, license, usage, operation string) map[string]string {
			a := base(map[string]string{"instanceType": p.SKU, "vcpu": strconv.Itoa(p.VCPU), "memory": mem,
				"physicalProcessor": cpu, "processorArchitecture": arch, "instanceFamily": "General purpose",
				"operatingSystem": os, "tenancy": tenancy, "preInstalledSw": sw, "capacitystatus": capacity,
				"licenseModel": license, "usagetype": names[1] + usage + ":" + p.SKU, "operation": operation,
				"currentGeneration": "Yes", "storage": "EBS only", "marketoption": "OnDemand"})
			if p.GPUs > 0 {
				a["gpu"] = strconv.Itoa(p.GPUs)
			}
			return a
		}
		hourly := p.Amount
		variants := []struct {
			attrs map[string]string
			price domain.Money
			desc  string
		}{
			{attrs("Linux", "Shared", "NA", "Used", "No License required", "BoxUsage", "RunInstances"), hourly, "Linux"},
			{attrs("Windows", "Shared", "NA", "Used", "License Included", "BoxUsage", "RunInstances:0002"),
				domain.USD(hourly.Micros + int64(p.VCPU)*46_000), "Windows"},
			{attrs("Linux", "Dedicated", "NA", "Used", "No License required", "DedicatedUsage", "RunInstances"),
				hourly.MulFloat(1.1), "Linux Dedicated"},
			{attrs("Linux", "Shared", "NA", "UnusedCapacityReservation", "No License required", "UnusedBox", "RunInstances"),
				hourly, "Linux Unused Reservation"},
			{attrs("Linux", "Shared", "SQL Std", "Used", "No License required", "BoxUsage", "RunInstances:0004"),
				domain.USD(hourly.Micros + int64(p.VCPU)*120_000), "Linux with SQL Server Standard"},
		}
		out := make([]plDocument, 0, len(variants))
		for _, v := range variants {
			d := plDocumentFor("Compute Instance", v.attrs, "Hrs", amount(v.price), "$"+amount(v.price)+" per On Demand "+v.desc+" "+p.SKU+" Instance Hour")
			sku := d.Product.SKU
			d.Terms["Reserved"] = map[string]plTerm{
				sku + "." + plReserved1yr: {SKU: sku, OfferTermCode: plReserved1yr, EffectiveDate: "2024-04-01T00:00:00Z",
					TermAttributes: map[string]string{"LeaseContractLength": "1yr", "OfferingClass": "standard", "PurchaseOption": "No Upfront"},
					PriceDimensions: map[string]plDimension{sku + "." + plReserved1yr + "." + plHourlyRate: {Unit: "Hrs", BeginRange: "0", EndRange: "Inf",
						Description: v.desc + " reserved instance applied", AppliesTo: []string{}, RateCode: sku + "." + plReserved1yr + "." + plHourlyRate,
						PricePerUnit: map[string]string{"USD": amount(v.price.MulFloat(0.63))}}}},
				sku + "." + plReserved3yr: {SKU: sku, OfferTermCode: plReserved3yr, EffectiveDate: "2024-04-01T00:00:00Z",
					TermAttributes: map[string]string{"LeaseContractLength": "3yr", "OfferingClass": "standard", "PurchaseOption": "Partial Upfront"},
					PriceDimensions: map[string]plDimension{
						sku + "." + plReserved3yr + "." + plUpfrontRate: {Unit: "Quantity", Description: "Upfront Fee", AppliesTo: []string{},
							RateCode: sku + "." + plReserved3yr + "." + plUpfrontRate, PricePerUnit: map[string]string{"USD": strconv.FormatInt(v.price.Micros*26_280/2/1_000_000, 10)}},
						sku + "." + plReserved3yr + "." + plHourlyRate: {Unit: "Hrs", BeginRange: "0", EndRange: "Inf",
							Description: v.desc + " reserved instance applied", AppliesTo: []string{}, RateCode: sku + "." + plReserved3yr + "." + plHourlyRate,
							PricePerUnit: map[string]string{"USD": amount(v.price.MulFloat(0.2))}}}},
			}
			out = append(out, d)
		}
		return out
	case domain.KindDisk:
		vt, ok := plVolumeTypes[p.SKU]
		if !ok {
			vt = [2]string{p.SKU, "SSD-backed"}
		}
		a := base(map[string]string{"volumeApiName": p.SKU, "volumeType": vt[0], "storageMedia": vt[1],
			"usagetype": names[1] + "EBS:VolumeUsage." + p.SKU, "operation": ""})
		return []plDocument{plDocumentFor("Storage", a, "GB-Mo", amount(p.Amount), "$"+amount(p.Amount)+" per GB-month of "+p.SKU+" provisioned storage")}
	case domain.KindSnapshot:
		std := base(map[string]string{"storageMedia": "Amazon S3", "usagetype": names[1] + "EBS:SnapshotUsage", "operation": ""})
		archive := base(map[string]string{"storageMedia": "Amazon S3", "usagetype": names[1] + "EBS:SnapshotArchiveStorage", "operation": ""})
		return []plDocument{
			plDocumentFor("Storage Snapshot", std, "GB-Mo", amount(p.Amount), "$"+amount(p.Amount)+" per GB-Month of snapshot data stored"),
			plDocumentFor("Storage Snapshot", archive, "GB-Mo", amount(p.Amount.MulFloat(0.25)), "per GB-Month of snapshot archive data stored"),
		}
	case domain.KindIP:
		idle := base(map[string]string{"group": "ElasticIP:Address", "groupDescription": "Elastic IP address",
			"usagetype": names[1] + "ElasticIP:IdleAddress", "operation": "AssociateAddress"})
		remap := base(map[string]string{"group": "ElasticIP:Remap", "groupDescription": "Elastic IP address remap",
			"usagetype": names[1] + "ElasticIP:Remap", "operation": "AssociateAddress"})
		return []plDocument{
			plDocumentFor("IP Address", idle, "Hrs", amount(p.Amount), "$"+amount(p.Amount)+" per Elastic IP address not attached to a running instance per hour"),
			plDocumentFor("IP Address", remap, "Count", "0.0000000000", "$0.00 per Elastic IP address remap - first 100 remaps / month"),
		}
	}
	return nil
}

// plDocumentFor builds a product document with one on-demand price.
func plDocumentFor(family string, attrs map[string]string, unit, usd, desc string) plDocument {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	h.Write([]byte(family))
	for _, k := range keys {
		h.Write([]byte("\x00" + k + "=" + attrs[k]))
	}
	sku := base32.StdEncoding.EncodeToString(h.Sum(nil))[:16]
	rate := sku + "." + plOnDemand + "." + plHourlyRate
	return plDocument{
		Product:     plProduct{ProductFamily: family, Attributes: attrs, SKU: sku},
		ServiceCode: "AmazonEC2",
		Terms: map[string]map[string]plTerm{"OnDemand": {sku + "." + plOnDemand: {
			SKU: sku, OfferTermCode: plOnDemand, EffectiveDate: "2026-01-01T00:00:00Z", TermAttributes: map[string]string{},
			PriceDimensions: map[string]plDimension{rate: {Unit: unit, BeginRange: "0", EndRange: "Inf", Description: desc,
				AppliesTo: []string{}, RateCode: rate, PricePerUnit: map[string]string{"USD": usd}}},
		}}},
		Version:         plVersion,
		PublicationDate: plPublicationDate,
	}
}
