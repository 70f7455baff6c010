package focus

import (
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// focusDetector reads FOCUS exports: 1.0, 1.1 and 1.2, and the column
// names of the 0.5 and 1.0-preview drafts. A header with the FOCUS cost
// and charge-period columns scores far above any native format, since
// providers' FOCUS exports also carry native x_ columns.
var focusDetector = Detector{Family: FamilyFOCUS, Match: matchFOCUS, New: newFOCUS}

// focusScoreBase lifts a FOCUS header above every native format.
const focusScoreBase = 1000

// focusCore are the columns whose presence makes a header FOCUS, with
// the spellings of the drafts.
var focusCore = [][]string{
	{"BilledCost"},
	{"EffectiveCost", "AmortizedCost"},
	{"ChargePeriodStart"},
	{"ChargePeriodEnd"},
	{"BillingCurrency"},
	{"ProviderName", "Provider", "ServiceProviderName"},
	{"ChargeCategory", "ChargeType"},
	{"BillingAccountId"},
	{"BillingPeriodStart"},
	{"ServiceName"},
	{"ListCost"},
	{"ContractedCost"},
	{"ResourceId"},
	{"RegionId", "Region"},
	{"SubAccountId"},
	{"SkuId"},
	{"PricingQuantity"},
	{"ConsumedQuantity", "UsageQuantity"},
}

// Columns that tell the versions apart (FOCUS specification, column
// pages, "Introduced (version)").
var (
	focusCols11 = []string{"CapacityReservationId", "CapacityReservationStatus", "CommitmentDiscountQuantity",
		"CommitmentDiscountUnit", "ServiceSubcategory", "SkuMeter", "SkuPriceDetails"}
	focusCols12 = []string{"InvoiceId", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
		"PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice"}
	// BillingAccountType and SubAccountType are 1.2 columns too, but
	// Microsoft's FOCUS 1.0 export already carries them, so alone they
	// do not make a header 1.2.
	focusAccountTypes = []string{"BillingAccountType", "SubAccountType"}
)

func matchFOCUS(h *Header) int {
	if !h.Has("BilledCost") || !h.Has("ChargePeriodStart") {
		return 0
	}
	n := 0
	for _, names := range focusCore {
		if h.Index(names...) >= 0 {
			n++
		}
	}
	return focusScoreBase + n
}

// focusVersion names the highest FOCUS version whose distinguishing
// columns the header has.
func focusVersion(h *Header) string {
	has11 := h.Count(focusCols11...) > 0
	switch {
	case h.Count(focusCols12...) > 0, has11 && h.Count(focusAccountTypes...) > 0:
		return "1.2"
	case has11:
		return "1.1"
	case h.Has("AmortizedCost") || (h.Has("ChargeType") && !h.Has("ChargeCategory")):
		return "0.5"
	case !h.Has("ConsumedQuantity") && (h.Has("UsageQuantity") || h.Has("ChargeSubcategory")):
		return "1.0-preview"
	}
	return "1.0"
}

// focusMapper copies FOCUS columns into a CostRow. Every position is
// resolved once per file; -1 is a column the file lacks.
type focusMapper struct {
	version string

	billingAccountID, billingAccountName, subAccountID, subAccountName       int
	provider, publisher, invoiceIssuer                                       int
	billingPeriodStart, billingPeriodEnd, chargePeriodStart, chargePeriodEnd int
	chargeCategory, chargeClass, chargeDescription, chargeFrequency          int
	currency, billedCost, effectiveCost, listCost, contractedCost            int
	listUnitPrice, contractedUnitPrice                                       int
	pricingQuantity, pricingUnit, consumedQuantity, consumedUnit, pricingCat int
	resourceID, resourceName, resourceType                                   int
	regionID, regionName, availabilityZone                                   int
	serviceName, serviceCategory, serviceSubcategory, skuID, skuPriceID      int
	cdID, cdType, cdStatus, cdCategory, cdName, cdQuantity, cdUnit           int
	invoiceID, tags                                                          int
	xUsageType, xSkuMeterName, xOperation, xChargeType                       int

	// The last ProviderName seen and its cloud: a file has few providers,
	// so CloudOf runs once per change, not per row.
	lastProvider string
	lastCloud    domain.Cloud
	seen         bool
	// Billing periods repeat from row to row: parsed once per change.
	bpStart, bpEnd lastTime
}

// lastTime remembers the last timestamp text read from a column and its
// value.
type lastTime struct {
	text string
	t    time.Time
	ok   bool
}

func (l *lastTime) time(f *Fields, i int) time.Time {
	s := f.Str(i)
	if l.ok && s == l.text {
		return l.t
	}
	n := len(f.problems)
	t := f.Time(i)
	l.text, l.t, l.ok = s, t, len(f.problems) == n // an unreadable value is not remembered
	return t
}

func newFOCUS(h *Header) (Mapper, error) {
	m := &focusMapper{version: focusVersion(h)}
	for _, req := range [][]string{{"BilledCost"}, {"ChargePeriodStart"}, {"ChargePeriodEnd"}, {"BillingCurrency"},
		{"ProviderName", "Provider", "ServiceProviderName"}} {
		if h.Index(req...) < 0 {
			return nil, MissingColumn(FamilyFOCUS, m.version, req...)
		}
	}
	m.billingAccountID = h.Index("BillingAccountId")
	m.billingAccountName = h.Index("BillingAccountName")
	m.subAccountID = h.Index("SubAccountId")
	m.subAccountName = h.Index("SubAccountName")
	m.provider = h.Index("ProviderName", "Provider", "ServiceProviderName")
	m.publisher = h.Index("PublisherName", "Publisher")
	m.invoiceIssuer = h.Index("InvoiceIssuerName", "InvoiceIssuer")
	m.billingPeriodStart = h.Index("BillingPeriodStart")
	m.billingPeriodEnd = h.Index("BillingPeriodEnd")
	m.chargePeriodStart = h.Index("ChargePeriodStart")
	m.chargePeriodEnd = h.Index("ChargePeriodEnd")
	m.chargeCategory = h.Index("ChargeCategory", "ChargeType")
	m.chargeClass = h.Index("ChargeClass")
	m.chargeDescription = h.Index("ChargeDescription")
	m.chargeFrequency = h.Index("ChargeFrequency")
	m.currency = h.Index("BillingCurrency")
	m.billedCost = h.Index("BilledCost")
	m.effectiveCost = h.Index("EffectiveCost", "AmortizedCost")
	m.listCost = h.Index("ListCost")
	m.contractedCost = h.Index("ContractedCost")
	m.listUnitPrice = h.Index("ListUnitPrice")
	m.contractedUnitPrice = h.Index("ContractedUnitPrice")
	m.pricingQuantity = h.Index("PricingQuantity")
	m.pricingUnit = h.Index("PricingUnit")
	m.consumedQuantity = h.Index("ConsumedQuantity", "UsageQuantity")
	m.consumedUnit = h.Index("ConsumedUnit", "UsageUnit")
	m.pricingCat = h.Index("PricingCategory")
	m.resourceID = h.Index("ResourceId")
	m.resourceName = h.Index("ResourceName")
	m.resourceType = h.Index("ResourceType")
	m.regionID = h.Index("RegionId", "Region")
	m.regionName = h.Index("RegionName")
	m.availabilityZone = h.Index("AvailabilityZone")
	m.serviceName = h.Index("ServiceName")
	m.serviceCategory = h.Index("ServiceCategory")
	m.serviceSubcategory = h.Index("ServiceSubcategory")
	m.skuID = h.Index("SkuId")
	m.skuPriceID = h.Index("SkuPriceId")
	m.cdID = h.Index("CommitmentDiscountId")
	m.cdType = h.Index("CommitmentDiscountType")
	m.cdStatus = h.Index("CommitmentDiscountStatus")
	m.cdCategory = h.Index("CommitmentDiscountCategory")
	m.cdName = h.Index("CommitmentDiscountName")
	m.cdQuantity = h.Index("CommitmentDiscountQuantity")
	m.cdUnit = h.Index("CommitmentDiscountUnit")
	m.invoiceID = h.Index("InvoiceId", "x_InvoiceId")
	m.tags = h.Index("Tags")
	m.xUsageType = h.Index("x_UsageType")
	m.xSkuMeterName = h.Index("x_SkuMeterName")
	m.xOperation = h.Index("x_Operation")
	m.xChargeType = h.Index("x_ChargeType")
	return m, nil
}

func (m *focusMapper) Format() Format { return Format{Family: FamilyFOCUS, Version: m.version} }

// Direct reports that every FOCUS cost column is a copy of its source
// column.
func (m *focusMapper) Direct() [4]int {
	return [4]int{m.billedCost, m.effectiveCost, m.listCost, m.contractedCost}
}

func (m *focusMapper) Map(f *Fields, r *domain.CostRow) {
	cur := f.Str(m.currency)
	r.BillingCurrency = cur
	r.ProviderName = f.Str(m.provider)
	if !m.seen || r.ProviderName != m.lastProvider {
		m.lastProvider, m.lastCloud, m.seen = r.ProviderName, CloudOf(r.ProviderName), true
	}
	r.XCloud = m.lastCloud
	r.PublisherName = f.Str(m.publisher)
	r.InvoiceIssuerName = f.Str(m.invoiceIssuer)
	r.BillingAccountID = f.Str(m.billingAccountID)
	r.BillingAccountName = f.Str(m.billingAccountName)
	r.SubAccountID = f.Str(m.subAccountID)
	r.SubAccountName = f.Str(m.subAccountName)
	r.BillingPeriodStart = m.bpStart.time(f, m.billingPeriodStart)
	r.BillingPeriodEnd = m.bpEnd.time(f, m.billingPeriodEnd)
	r.ChargePeriodStart = f.Time(m.chargePeriodStart)
	r.ChargePeriodEnd = f.Time(m.chargePeriodEnd)
	r.ChargeCategory = focusChargeCategory(f.Str(m.chargeCategory))
	r.ChargeClass = f.Str(m.chargeClass)
	r.ChargeDescription = f.Str(m.chargeDescription)
	r.ChargeFrequency = focusChargeFrequency(f.Str(m.chargeFrequency))

	r.BilledCost = f.Money(m.billedCost, cur)
	r.EffectiveCost = f.Money(m.effectiveCost, cur)
	r.ListCost = f.Money(m.listCost, cur)
	r.ContractedCost = f.Money(m.contractedCost, cur)
	r.ListUnitPrice = f.Money(m.listUnitPrice, cur)
	r.ContractedUnitPrice = f.Money(m.contractedUnitPrice, cur)

	r.PricingQuantity = f.Float(m.pricingQuantity)
	r.PricingUnit = f.Str(m.pricingUnit)
	r.ConsumedQuantity = f.Float(m.consumedQuantity)
	r.ConsumedUnit = f.Str(m.consumedUnit)
	r.PricingCategory = focusPricingCategory(f.Str(m.pricingCat))

	r.ResourceID = f.Str(m.resourceID)
	r.ResourceName = f.Str(m.resourceName)
	r.ResourceType = f.Str(m.resourceType)
	r.RegionID = f.Str(m.regionID)
	r.RegionName = f.Str(m.regionName)
	r.AvailabilityZone = f.Str(m.availabilityZone)
	r.ServiceName = f.Str(m.serviceName)
	r.ServiceCategory = f.Str(m.serviceCategory)
	r.ServiceSubcategory = f.Str(m.serviceSubcategory)
	r.SkuID = f.Str(m.skuID)
	r.SkuPriceID = f.Str(m.skuPriceID)

	r.CommitmentDiscountID = f.Str(m.cdID)
	r.CommitmentDiscountType = f.Str(m.cdType)
	r.CommitmentDiscountStatus = f.Str(m.cdStatus)
	r.CommitmentDiscountCategory = f.Str(m.cdCategory)
	r.CommitmentDiscountName = f.Str(m.cdName)
	r.CommitmentDiscountQuantity = f.Float(m.cdQuantity)
	r.CommitmentDiscountUnit = f.Str(m.cdUnit)

	r.InvoiceID = f.Str(m.invoiceID)
	r.Tags = focusTags(f, m.tags)
	r.XUsageType = f.Str(m.xUsageType)
	if r.XUsageType == "" {
		r.XUsageType = f.Str(m.xSkuMeterName) // Microsoft's name for what was used
	}
	r.XOperation = f.Str(m.xOperation)
	r.XChargeType = f.Str(m.xChargeType)
}

// focusChargeCategory spells a charge category the way FOCUS does,
// whatever its case; anything else is kept for check to reject.
func focusChargeCategory(s string) string {
	switch s {
	case domain.ChargeUsage, domain.ChargePurchase, domain.ChargeTax, domain.ChargeCredit, domain.ChargeAdjustment, "":
		return s
	}
	for _, c := range []string{domain.ChargeUsage, domain.ChargePurchase, domain.ChargeTax, domain.ChargeCredit, domain.ChargeAdjustment} {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	return s
}

// focusChargeFrequency spells the FOCUS charge frequencies alike
// ("Usage-based", as Oracle writes it, is "Usage-Based").
func focusChargeFrequency(s string) string {
	switch s {
	case "Usage-Based", "One-Time", "Recurring", "":
		return s
	}
	for _, c := range []string{"Usage-Based", "One-Time", "Recurring"} {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	return s
}

// focusPricingCategory maps the 1.0-preview names to the 1.0 ones.
func focusPricingCategory(s string) string {
	switch s {
	case "On-Demand":
		return "Standard"
	case "Commitment-Based":
		return "Committed"
	}
	return s
}

// focusTags reads the Tags column: a flat JSON object is read here,
// without reflection (encoding/json would take most of a row's time);
// anything else goes to Fields.Tags, which also reports what is not
// JSON.
func focusTags(f *Fields, i int) map[string]string {
	s := f.Str(i)
	if s == "" || s == "{}" || s[0] != '{' {
		return f.Tags(i)
	}
	var out map[string]string
	ok := eachObjectField(s, func(_ int, k, v string) {
		if out == nil {
			out = make(map[string]string, 8)
		}
		out[k] = v
	})
	if !ok {
		return f.Tags(i)
	}
	return out
}
