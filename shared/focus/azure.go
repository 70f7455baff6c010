package focus

import (
	"maps"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Azure cost exports. Four schemas are read (docs/focus/azure-cost.md has
// the column mapping of each):
//
//   - ea-v2: Enterprise Agreement cost details (2019+ "v2" schema:
//     Date, MeterCategory, Cost or CostInBillingCurrency, PayGPrice,
//     ChargeType, PricingModel, benefitId ...), headers in PascalCase or
//     camelCase;
//   - mca-v2: Microsoft Customer Agreement cost details (the same schema
//     with ProductId, InvoiceId, ServicePeriodStartDate, and prices in the
//     pricing currency);
//   - v1: the legacy camelCase usage export of pay-as-you-go
//     subscriptions (subscriptionGuid, usageDateTime, preTaxCost, currency);
//   - costreport: the legacy PascalCase export of the same data
//     (SubscriptionGuid, UsageDateTime, PreTaxCost, UsageQuantity,
//     InstanceId).
//
// Actual and amortized v2 exports have the same columns. A v2 Version says
// which one the rows seen so far show: "(amortized)" after an unused
// commitment row or commitment-covered usage with a cost, "(actual)" after
// a commitment purchase or commitment-covered usage priced at zero, and
// "(actual or amortized: unknown)" until then or when the rows disagree.

// Versions of the Azure family.
const (
	azureVersionEA         = "ea-v2"
	azureVersionMCA        = "mca-v2"
	azureVersionV1         = "v1"
	azureVersionCostReport = "costreport"

	azureKindActual    = " (actual)"
	azureKindAmortized = " (amortized)"
	azureKindUnknown   = " (actual or amortized: unknown)"
)

var azureDetector = Detector{Family: FamilyAzure, Match: matchAzure, New: newAzureMapper}

// Column names, every spelling of every version; Header compares them
// without regard to case or punctuation.
var (
	azureDateCols  = []string{"Date", "UsageDateTime"}
	azureCostCols  = []string{"CostInBillingCurrency", "Cost", "PreTaxCost"}
	azureMeterCols = []string{"MeterCategory", "MeterId", "MeterName"}
	// azureSignature scores how Azure a header looks.
	azureSignature = []string{"SubscriptionId", "SubscriptionGuid", "SubscriptionName", "ResourceGroup",
		"ResourceGroupName", "ResourceLocation", "ConsumedService", "MeterSubCategory", "MeterRegion",
		"ChargeType", "PricingModel", "Frequency", "BillingPeriodStartDate", "EffectivePrice", "PayGPrice",
		"UnitPrice", "ResourceRate", "UnitOfMeasure", "AdditionalInfo", "ServiceInfo1", "OfferId",
		"PartNumber", "BillingCurrencyCode", "BillingProfileId", "InvoiceSectionId", "benefitId",
		"ReservationId", "PublisherType", "InstanceId"}
	// Columns only one agreement type writes.
	azureMCAMarkers = []string{"ProductId", "InvoiceId", "PreviousInvoiceId", "ServicePeriodStartDate",
		"ServicePeriodEndDate", "PublisherId", "CustomerTenantId", "ResellerMpnId"}
	azureEAMarkers = []string{"AccountOwnerId", "AccountName", "PartNumber", "DepartmentName"}
)

// matchAzure scores a header: it must have a usage date, a cost and a
// meter column; the more Azure columns it has, the higher the score.
func matchAzure(h *Header) int {
	if h.Count(azureDateCols...) == 0 || h.Count(azureCostCols...) == 0 || h.Count(azureMeterCols...) == 0 {
		return 0
	}
	return 50 + h.Count(azureSignature...)
}

// azureMapper maps the rows of every Azure version; positions of columns
// a version lacks are -1.
type azureMapper struct {
	version string
	v2      bool // ea-v2 or mca-v2: has ChargeType and the commitment columns

	date, periodStart, periodEnd                           int
	cost, currency, paygCost                               int
	quantity, unitPrice, paygPrice, effectivePrice         int
	exchangeRate, pricingCurrency                          int
	chargeType, frequency, pricingModel                    int
	benefitID, reservationID, benefitName, reservationName int
	accountCols, accountNameCols                           []int
	subscription, subscriptionName                         int
	publisherName, publisherType, partnerName              int
	resourceID, resourceName, resourceType, location       int
	zone, consumedService, serviceName                     int
	meterCategory, meterSubCategory, meterName, meterID    int
	productID, partNumber, term, product, unit, invoiceID  int
	tags                                                   int
	tagCols                                                []Column

	// What the rows seen so far say about actual against amortized.
	sawActual, sawAmortized bool

	// Memos of the lookups, keyed by the value as the source spells it,
	// so a row costs no allocation once its values have been seen.
	typeBuf  []byte
	types    map[string]string
	regions  map[string]azureRegion
	services map[string]map[string]azureService
	tagMemo  map[string]map[string]string
}

// azureMemoLimit bounds the memos: a file with more distinct values than this
// starts them afresh.
const azureMemoLimit = 1 << 14

// azureTagMemoLimit bounds the remembered tag sets (their texts can be
// long).
const azureTagMemoLimit = 1 << 12

func newAzureMapper(h *Header) (Mapper, error) {
	m := &azureMapper{
		date:             h.Index(azureDateCols...),
		periodStart:      h.Index("BillingPeriodStartDate", "BillingPeriodStart"),
		periodEnd:        h.Index("BillingPeriodEndDate", "BillingPeriodEnd"),
		cost:             h.Index(azureCostCols...),
		currency:         h.Index("BillingCurrency", "BillingCurrencyCode", "Currency"),
		paygCost:         h.Index("PaygCostInBillingCurrency"),
		quantity:         h.Index("Quantity", "UsageQuantity"),
		unitPrice:        h.Index("UnitPrice", "ResourceRate"),
		paygPrice:        h.Index("PayGPrice"),
		effectivePrice:   h.Index("EffectivePrice"),
		exchangeRate:     h.Index("ExchangeRatePricingToBilling"),
		pricingCurrency:  h.Index("PricingCurrency", "PricingCurrencyCode"),
		chargeType:       h.Index("ChargeType"),
		frequency:        h.Index("Frequency"),
		pricingModel:     h.Index("PricingModel"),
		benefitID:        h.Index("BenefitId"),
		reservationID:    h.Index("ReservationId"),
		benefitName:      h.Index("BenefitName"),
		reservationName:  h.Index("ReservationName"),
		subscription:     h.Index("SubscriptionGuid", "SubscriptionId"),
		subscriptionName: h.Index("SubscriptionName"),
		publisherName:    h.Index("PublisherName"),
		publisherType:    h.Index("PublisherType"),
		partnerName:      h.Index("PartnerName"),
		resourceID:       h.Index("ResourceId", "InstanceId", "InstanceName"),
		resourceName:     h.Index("ResourceName"),
		resourceType:     h.Index("ResourceType"),
		location:         h.Index("ResourceLocation", "Location"),
		zone:             h.Index("AvailabilityZone"),
		consumedService:  h.Index("ConsumedService"),
		serviceName:      h.Index("ServiceName"),
		meterCategory:    h.Index("MeterCategory"),
		meterSubCategory: h.Index("MeterSubCategory", "MeterSubcategory"),
		meterName:        h.Index("MeterName"),
		meterID:          h.Index("MeterId"),
		productID:        h.Index("ProductId"),
		partNumber:       h.Index("PartNumber"),
		term:             h.Index("Term"),
		product:          h.Index("ProductName", "Product"),
		unit:             h.Index("UnitOfMeasure"),
		invoiceID:        h.Index("InvoiceId"),
		tags:             h.Index("Tags"),
		tagCols:          h.WithPrefix("tags.", "tags/"),
		types:            map[string]string{},
		regions:          map[string]azureRegion{},
		services:         map[string]map[string]azureService{},
		tagMemo:          map[string]map[string]string{},
	}
	mca := h.Count(azureMCAMarkers...) > h.Count(azureEAMarkers...)
	switch {
	case h.Has("ChargeType") || h.Has("BillingPeriodStartDate") || h.Has("CostInBillingCurrency"):
		m.v2 = true
		m.version = azureVersionEA
		if mca {
			m.version = azureVersionMCA
		}
	case h.Has("InstanceId") || h.Has("UsageQuantity"):
		m.version = azureVersionCostReport
	default:
		m.version = azureVersionV1
	}
	// The billing account: EA enrollment, MCA billing profile (the scope
	// an MCA invoice is issued for, as Microsoft's FOCUS export has it),
	// else the subscription.
	billingAccount, billingProfile := h.Index("BillingAccountId"), h.Index("BillingProfileId")
	billingAccountName, billingProfileName := h.Index("BillingAccountName"), h.Index("BillingProfileName")
	if m.version == azureVersionMCA {
		m.accountCols = []int{billingProfile, billingAccount, m.subscription}
		m.accountNameCols = []int{billingProfileName, billingAccountName, m.subscriptionName}
	} else {
		m.accountCols = []int{billingAccount, billingProfile, m.subscription}
		m.accountNameCols = []int{billingAccountName, billingProfileName, m.subscriptionName}
	}
	switch {
	case m.date < 0:
		return nil, MissingColumn(FamilyAzure, m.version, azureDateCols...)
	case m.cost < 0:
		return nil, MissingColumn(FamilyAzure, m.version, azureCostCols...)
	case m.currency < 0:
		return nil, MissingColumn(FamilyAzure, m.version, "BillingCurrency", "BillingCurrencyCode", "Currency")
	case m.subscription < 0 && billingAccount < 0 && billingProfile < 0:
		return nil, MissingColumn(FamilyAzure, m.version, "SubscriptionId", "SubscriptionGuid", "BillingAccountId")
	}
	return m, nil
}

// Format returns the version read; a v2 version says whether the rows
// seen so far show an actual or an amortized export.
func (m *azureMapper) Format() Format {
	v := m.version
	if m.v2 {
		switch {
		case m.sawActual && !m.sawAmortized:
			v += azureKindActual
		case m.sawAmortized && !m.sawActual:
			v += azureKindAmortized
		default:
			v += azureKindUnknown
		}
	}
	return Format{Family: FamilyAzure, Version: v}
}

// Direct declares the cost columns copied from one source column: in the
// legacy schemas BilledCost and EffectiveCost are PreTaxCost; in v2,
// ListCost is PaygCostInBillingCurrency where the export has it. v2
// BilledCost and EffectiveCost copy the cost column except on commitment
// rows, so they are checked by the tests instead.
func (m *azureMapper) Direct() [4]int {
	d := [4]int{-1, -1, m.paygCost, -1}
	if !m.v2 {
		d[0], d[1] = m.cost, m.cost
	}
	return d
}

// Pricing models.
const (
	azurePMNone = iota
	azurePMOnDemand
	azurePMSpot
	azurePMReservation
	azurePMSavingsPlan
	azurePMOther
)

func azurePricingModel(s string) int {
	switch s {
	case "":
		return azurePMNone
	case "OnDemand":
		return azurePMOnDemand
	case "Spot":
		return azurePMSpot
	case "Reservation":
		return azurePMReservation
	case "SavingsPlan":
		return azurePMSavingsPlan
	}
	switch Canon(s) {
	case "ondemand", "payg", "payasyougo":
		return azurePMOnDemand
	case "spot", "lowpriority":
		return azurePMSpot
	case "reservation", "reserved":
		return azurePMReservation
	case "savingsplan", "savingsplans":
		return azurePMSavingsPlan
	}
	return azurePMOther
}

// azureChargeTypes are the ChargeType values Azure writes.
var azureChargeTypes = []string{"Usage", "Purchase", "Tax", "Refund", "UnusedReservation", "UnusedSavingsPlan",
	"RoundingAdjustment", "Adjustment", "Credit"}

// azureCharge maps a ChargeType to a FOCUS ChargeCategory and ChargeClass;
// unused is true for unused-commitment rows. A refund reverses a purchase:
// Purchase with ChargeClass Correction. An unknown charge type comes back
// as it is, which check rejects as unknown_charge_category.
func azureCharge(ct string) (category, class string, unused bool) {
	switch ct {
	case "Usage":
		return domain.ChargeUsage, "", false
	case "Purchase":
		return domain.ChargePurchase, "", false
	case "Tax":
		return domain.ChargeTax, "", false
	case "Refund":
		return domain.ChargePurchase, "Correction", false
	case "UnusedReservation", "UnusedSavingsPlan":
		return domain.ChargeUsage, "", true
	case "RoundingAdjustment", "Adjustment":
		return domain.ChargeAdjustment, "", false
	case "Credit":
		return domain.ChargeCredit, "", false
	case "":
		return "", "", false
	}
	for _, k := range azureChargeTypes {
		if strings.EqualFold(ct, k) {
			return azureCharge(k)
		}
	}
	return ct, "", false
}

func azureFrequency(s, category string) string {
	switch s {
	case "UsageBased":
		return "Usage-Based"
	case "Recurring":
		return "Recurring"
	case "OneTime":
		return "One-Time"
	}
	switch Canon(s) {
	case "usagebased":
		return "Usage-Based"
	case "recurring":
		return "Recurring"
	case "onetime":
		return "One-Time"
	}
	if category == domain.ChargeUsage {
		return "Usage-Based"
	}
	return ""
}

// Map fills row from one Azure record.
func (m *azureMapper) Map(f *Fields, row *domain.CostRow) {
	row.XCloud = domain.Azure
	row.ProviderName = "Microsoft"
	cur := f.Str(m.currency)
	row.BillingCurrency = cur

	row.SubAccountID = f.Str(m.subscription)
	row.SubAccountName = f.Str(m.subscriptionName)
	for i, c := range m.accountCols {
		if v := f.Str(c); v != "" {
			row.BillingAccountID, row.BillingAccountName = v, f.Str(m.accountNameCols[i])
			break
		}
	}

	day := f.RequiredTime(m.date)
	if !day.IsZero() {
		row.ChargePeriodStart, row.ChargePeriodEnd = day, day.AddDate(0, 0, 1)
	}
	row.BillingPeriodStart, row.BillingPeriodEnd = m.billingPeriod(f, day)

	ct := f.Str(m.chargeType)
	category, class, unused := domain.ChargeUsage, "", false
	if m.chargeType >= 0 {
		category, class, unused = azureCharge(ct)
	}
	row.ChargeCategory, row.ChargeClass, row.XChargeType = category, class, ct
	row.ChargeFrequency = azureFrequency(f.Str(m.frequency), category)

	pm := azurePricingModel(f.Str(m.pricingModel))
	commitID := f.Str(m.benefitID)
	if commitID == "" {
		commitID = f.Str(m.reservationID)
	}
	commitment := unused || pm == azurePMReservation || pm == azurePMSavingsPlan || (pm == azurePMNone && commitID != "")

	// Costs. Commitment-covered usage and unused commitment were paid by
	// the commitment's purchase: not billed again. A commitment's purchase
	// and refund are spread over what it covers: no effective cost of
	// their own.
	cost := f.RequiredMoney(m.cost, cur)
	row.BilledCost, row.EffectiveCost = cost, cost
	if commitment {
		switch category {
		case domain.ChargeUsage:
			row.BilledCost = domain.Money{Currency: cur}
		case domain.ChargePurchase:
			row.EffectiveCost = domain.Money{Currency: cur}
		}
	}

	qtyS := f.Str(m.quantity)
	qty := f.Float(m.quantity)
	rate, rateS := m.rate(f, cur)
	unitS, paygS := f.Str(m.unitPrice), f.Str(m.paygPrice)
	unit, payg := f.Float(m.unitPrice), f.Float(m.paygPrice)
	row.ContractedUnitPrice = domain.Money{Micros: azureProduct(unit, 1, rate, unitS, "1", rateS), Currency: cur}
	row.ContractedCost = domain.Money{Micros: azureProduct(unit, qty, rate, unitS, qtyS, rateS), Currency: cur}
	if m.paygPrice >= 0 {
		row.ListUnitPrice = domain.Money{Micros: azureProduct(payg, 1, rate, paygS, "1", rateS), Currency: cur}
	}
	if m.paygCost >= 0 {
		row.ListCost = f.Money(m.paygCost, cur)
	} else if m.paygPrice >= 0 {
		row.ListCost = domain.Money{Micros: azureProduct(payg, qty, rate, paygS, qtyS, rateS), Currency: cur}
	}

	uom := f.Str(m.unit)
	row.PricingQuantity, row.PricingUnit = qty, uom
	if category == domain.ChargeUsage {
		row.ConsumedQuantity, row.ConsumedUnit = qty, uom
	}

	if m.v2 && commitment {
		m.observe(f, category, class, unused, cost, qty)
	}

	// Commitment discounts.
	if commitment && commitID != "" {
		row.CommitmentDiscountID = commitID
		row.CommitmentDiscountType, row.CommitmentDiscountCategory = "Reservation", "Usage"
		if pm == azurePMSavingsPlan || ct == "UnusedSavingsPlan" || (pm == azurePMNone && azureContainsFold(commitID, "/microsoft.billingbenefits/")) {
			row.CommitmentDiscountType, row.CommitmentDiscountCategory = "Savings Plan", "Spend"
		}
		if row.CommitmentDiscountName = f.Str(m.benefitName); row.CommitmentDiscountName == "" {
			row.CommitmentDiscountName = f.Str(m.reservationName)
		}
		if category == domain.ChargeUsage {
			row.CommitmentDiscountStatus = "Used"
			if unused {
				row.CommitmentDiscountStatus = "Unused"
			}
		}
	}
	switch pm {
	case azurePMOnDemand:
		row.PricingCategory = "Standard"
	case azurePMSpot:
		row.PricingCategory = "Dynamic"
	case azurePMReservation, azurePMSavingsPlan:
		row.PricingCategory = "Standard"
		if category == domain.ChargeUsage {
			row.PricingCategory = "Committed"
		}
	case azurePMOther:
		row.PricingCategory = "Other"
	default:
		if commitment && category == domain.ChargeUsage {
			row.PricingCategory = "Committed"
		}
	}

	// Parties.
	row.InvoiceIssuerName = "Microsoft"
	if p := f.Str(m.partnerName); p != "" {
		row.InvoiceIssuerName = p
	}
	row.PublisherName = f.Str(m.publisherName)
	if row.PublisherName == "" && !strings.EqualFold(f.Str(m.publisherType), "Marketplace") {
		row.PublisherName = "Microsoft"
	}
	row.InvoiceID = f.Str(m.invoiceID)

	// Resource, region, service.
	row.ResourceID = f.Str(m.resourceID)
	name := ""
	m.typeBuf, name = azureARMType(m.typeBuf[:0], row.ResourceID)
	if s := f.Str(m.resourceType); s != "" {
		m.typeBuf = azureAppendLower(m.typeBuf[:0], s)
	}
	row.ResourceType = m.intern(m.typeBuf)
	if row.ResourceName = f.Str(m.resourceName); row.ResourceName == "" {
		row.ResourceName = name
	}
	if loc := f.Str(m.location); loc != "" {
		r := m.region(loc)
		row.RegionID, row.RegionName = r.id, r.name
	}
	row.AvailabilityZone = f.Str(m.zone)

	meterCategory := f.Str(m.meterCategory)
	svc, known := m.service(f.Str(m.consumedService), row.ResourceType)
	row.ServiceName, row.ServiceCategory, row.ServiceSubcategory = svc.name, svc.category, svc.subcategory
	if row.ServiceName == "" {
		// The meter's category, the legacy ServiceName, a Marketplace
		// publisher; "Unassigned" only when nothing else is known.
		switch {
		case meterCategory != "" && meterCategory != "Unassigned":
			row.ServiceName = meterCategory
		case f.Str(m.serviceName) != "":
			row.ServiceName = f.Str(m.serviceName)
		case row.PublisherName != "" && strings.EqualFold(f.Str(m.publisherType), "Marketplace"):
			row.ServiceName = row.PublisherName
		default:
			row.ServiceName = meterCategory
		}
	}
	if !known || row.ServiceCategory == "" {
		row.ServiceCategory = "Other"
	}

	// SKU and description.
	row.XUsageType = f.Str(m.meterName)
	row.SkuID = f.Str(m.meterID)
	if row.SkuID == "" {
		if row.SkuID = f.Str(m.productID); row.SkuID == "" {
			row.SkuID = f.Str(m.partNumber)
		}
	}
	row.SkuPriceID = azureSkuPriceID(row.SkuID, f.Str(m.pricingModel), f.Str(m.term))
	if row.ChargeDescription = f.Str(m.product); row.ChargeDescription == "" {
		row.ChargeDescription = azureJoin(" - ", meterCategory, f.Str(m.meterSubCategory), row.XUsageType)
	}

	row.Tags = f.ColumnTags(m.tagCols, m.tagsOf(f))
}

// tagsOf parses the Tags column. Rows of one resource repeat its tags, so
// the parsed tags are remembered by their text; each row gets its own
// copy. Unreadable tags are parsed (and reported) every time.
func (m *azureMapper) tagsOf(f *Fields) map[string]string {
	raw := f.Str(m.tags)
	if raw == "" {
		return nil
	}
	if t, ok := m.tagMemo[raw]; ok {
		return maps.Clone(t)
	}
	n := len(f.problems)
	t := f.Tags(m.tags)
	if len(f.problems) > n || len(t) == 0 {
		return t
	}
	if len(m.tagMemo) >= azureTagMemoLimit {
		clear(m.tagMemo)
	}
	m.tagMemo[strings.Clone(raw)] = t
	return maps.Clone(t)
}

// observe records what a commitment row says about the export: unused
// commitment and covered usage with a cost exist only in amortized
// exports; commitment purchases and covered usage priced at zero only in
// actual ones.
func (m *azureMapper) observe(f *Fields, category, class string, unused bool, cost domain.Money, qty float64) {
	switch {
	case unused:
		m.sawAmortized = true
	case category == domain.ChargeUsage && cost.Micros != 0:
		m.sawAmortized = true
	case category == domain.ChargeUsage:
		if qty != 0 && m.effectivePrice >= 0 && f.Str(m.effectivePrice) != "" && f.Float(m.effectivePrice) == 0 {
			m.sawActual = true
		}
	case category == domain.ChargePurchase && class == "":
		m.sawActual = true
	}
}

// billingPeriod returns the billing period: the export's start and its
// inclusive end made exclusive, or the calendar month of the charge when
// the export has none.
func (m *azureMapper) billingPeriod(f *Fields, day time.Time) (start, end time.Time) {
	start, end = f.Time(m.periodStart), f.Time(m.periodEnd)
	if start.IsZero() && !day.IsZero() {
		start = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case end.IsZero():
		if !start.IsZero() {
			end = start.AddDate(0, 1, 0)
		}
	case end.Day() == 1 && end.After(start) && end.Equal(end.Truncate(24*time.Hour)):
		// Already exclusive (the first day of the next month).
	default:
		end = time.Date(end.Year(), end.Month(), end.Day()+1, 0, 0, 0, 0, time.UTC)
	}
	return start, end
}

// rate returns the factor that turns the export's prices into the billing
// currency: ExchangeRatePricingToBilling where the export has it, 1 when
// prices and billing share a currency (or the export names no pricing
// currency), and 0 when the prices are in another currency at an unknown
// rate (the prices are then not known).
func (m *azureMapper) rate(f *Fields, cur string) (float64, string) {
	if s := f.Str(m.exchangeRate); s != "" {
		if r := f.Float(m.exchangeRate); r > 0 {
			return r, s
		}
	}
	if pc := f.Str(m.pricingCurrency); pc == "" || pc == cur {
		return 1, "1"
	}
	return 0, "0"
}

// intern returns b as a string, the same string for the same bytes.
func (m *azureMapper) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := m.types[string(b)]; ok {
		return s
	}
	if len(m.types) >= azureMemoLimit {
		clear(m.types)
	}
	s := string(b)
	m.types[s] = s
	return s
}

// region returns the normalised region of a ResourceLocation; a spelling
// the table lacks keeps its own name and its lower-case, space-free form
// as the id.
func (m *azureMapper) region(loc string) azureRegion {
	if r, ok := m.regions[loc]; ok {
		return r
	}
	loc = strings.Clone(loc)
	r, ok := azureLookupRegion(loc)
	if !ok {
		r = azureRegion{id: azureSqueeze(strings.ToLower(loc)), name: loc}
	}
	if len(m.regions) >= azureMemoLimit {
		clear(m.regions)
	}
	m.regions[loc] = r
	return r
}

// service looks up the service of a consumed service and resource type
// (see azureServiceTable.lookup).
func (m *azureMapper) service(consumed, resourceType string) (azureService, bool) {
	byType := m.services[consumed]
	if s, ok := byType[resourceType]; ok {
		return s, s.category != ""
	}
	s, ok := azureServices().lookup(strings.ToLower(consumed), resourceType)
	if !ok {
		s = azureService{}
	}
	if byType == nil {
		if len(m.services) >= azureMemoLimit {
			clear(m.services)
		}
		byType = map[string]azureService{}
		m.services[strings.Clone(consumed)] = byType
	}
	byType[resourceType] = s
	return s, ok && s.category != ""
}

// armType appends to buf the lower-case resource type of an Azure
// Resource Manager ID, the provider namespace and the type segments after
// the last "/providers/" ("microsoft.compute/virtualmachines"), and
// returns the resource's own name (the last name segment), "" when the ID
// is not of that shape.
func azureARMType(buf []byte, id string) ([]byte, string) {
	const p = "/providers/"
	i := len(id) - len(p)
	for ; i >= 0; i-- {
		if id[i] == '/' && id[i+1]|0x20 == 'p' && strings.EqualFold(id[i:i+len(p)], p) {
			break
		}
	}
	if i < 0 {
		return buf, ""
	}
	rest := id[i+len(p):]
	start, name := len(buf), ""
	for n := 0; ; n++ {
		j := strings.IndexByte(rest, '/')
		part := rest
		if j >= 0 {
			part = rest[:j]
		}
		switch {
		case n == 0 || n%2 == 1:
			// A namespace has a dot ("Microsoft.Compute"); a type
			// segment is not empty.
			if part == "" || (n == 0 && strings.IndexByte(part, '.') < 0) {
				return buf[:start], ""
			}
			if n > 0 {
				buf = append(buf, '/')
			}
			buf = azureAppendLower(buf, part)
			name = ""
		default:
			name = part
		}
		if j < 0 {
			return buf, name
		}
		rest = rest[j+1:]
	}
}

func azureAppendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// containsFold reports whether s contains sub, ASCII case ignored.
func azureContainsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// skuPriceID names the price a row was charged at: the meter, the pricing
// model and, for commitments, the term in months ("<meter>_Reservation_36").
func azureSkuPriceID(sku, pricingModel, term string) string {
	switch {
	case sku == "":
		return ""
	case pricingModel == "":
		return sku
	case term == "":
		return sku + "_" + pricingModel
	}
	return sku + "_" + pricingModel + "_" + term
}

func azureJoin(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}

// product returns a×b×c in micro-units, rounded half away from zero. The
// float product decides unless it lies within rounding error of a half
// micro-unit; then the decimal texts as, bs and cs are multiplied exactly.
func azureProduct(a, b, c float64, as, bs, cs string) int64 {
	x := a * b * c * domain.MicrosPerUnit
	if math.IsNaN(x) || math.Abs(x) >= math.MaxInt64/2 {
		return 0
	}
	r := int64(math.Round(x))
	frac := math.Abs(x - math.Trunc(x))
	if math.Abs(frac-0.5) > 1e-6+math.Abs(x)*1e-14 {
		return r
	}
	var p, t big.Rat
	if _, ok := p.SetString(as); !ok {
		return r
	}
	for _, s := range [...]string{bs, cs} {
		if _, ok := t.SetString(s); !ok {
			return r
		}
		p.Mul(&p, &t)
	}
	p.Mul(&p, big.NewRat(domain.MicrosPerUnit, 1))
	q, rem := new(big.Int).QuoRem(p.Num(), p.Denom(), new(big.Int))
	if rem.Abs(rem).Lsh(rem, 1).Cmp(p.Denom()) >= 0 {
		if p.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}
