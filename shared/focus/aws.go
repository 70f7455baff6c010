package focus

import (
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The AWS Cost and Usage Report comes in three shapes, all read by one
// mapper because Canon makes their column names equal:
//
//   - the legacy CUR as CSV, with slash headers ("lineItem/UnblendedCost",
//     "resourceTags/user:Name");
//   - the legacy CUR as delivered for Athena (Parquet) or copied into a
//     Hive text table, with snake_case names ("line_item_unblended_cost",
//     "resource_tags_user_name"); its columns change from month to month;
//   - CUR 2.0 from AWS Data Exports: a fixed snake_case schema whose
//     product attributes, resource tags, cost categories and discounts are
//     map columns ("product", "resource_tags", "cost_category", "discount").
//
// The first two are version "legacy" (the container, csv or parquet, tells
// them apart where it matters), the third "2.0". docs/focus/aws-cur.md
// documents every rule.

// curDetector recognises a Cost and Usage Report by its line item type and
// unblended cost columns.
var curDetector = Detector{Family: FamilyAWSCUR, Match: matchCUR, New: newCURMapper}

// curSignature are columns every CUR shape has; they score a header.
var curSignature = []string{
	"identity/LineItemId", "identity/TimeInterval", "bill/PayerAccountId",
	"bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
	"lineItem/UsageAccountId", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
	"lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation",
	"lineItem/CurrencyCode", "lineItem/UsageAmount", "pricing/term",
}

// cur2Only are the columns only CUR 2.0 has.
var cur2Only = []string{"bill_payer_account_name", "line_item_usage_account_name", "resource_tags", "product", "cost_category", "discount"}

func matchCUR(h *Header) int {
	if !h.Has("lineItem/LineItemType", "lineItem/UnblendedCost") {
		return 0
	}
	return 50 + h.Count(curSignature...)
}

// Line item types (lineItem/LineItemType).
const (
	liUsage = iota
	liDiscountedUsage
	liSPCoveredUsage
	liSPNegation
	liSPRecurringFee
	liSPUpfrontFee
	liRIFee
	liFee
	liTax
	liCredit
	liRefund
	liDiscount
	liOther // a type this package does not know; read as usage
)

func lineItemKind(t string) int {
	switch t {
	case "Usage":
		return liUsage
	case "DiscountedUsage":
		return liDiscountedUsage
	case "SavingsPlanCoveredUsage":
		return liSPCoveredUsage
	case "SavingsPlanNegation":
		return liSPNegation
	case "SavingsPlanRecurringFee":
		return liSPRecurringFee
	case "SavingsPlanUpfrontFee":
		return liSPUpfrontFee
	case "RIFee":
		return liRIFee
	case "Fee":
		return liFee
	case "Tax":
		return liTax
	case "Credit":
		return liCredit
	case "Refund":
		return liRefund
	case "Discount", "BundledDiscount", "EdpDiscount", "PrivateRateDiscount":
		return liDiscount
	}
	// Discount kinds AWS adds over time (SppDiscount, DistributorDiscount)
	// all reduce the bill.
	if strings.HasSuffix(t, "Discount") {
		return liDiscount
	}
	return liOther
}

// usageKind reports whether rows of kind k are consumption (FOCUS Usage).
func usageKind(k int) bool {
	return k == liUsage || k == liDiscountedUsage || k == liSPCoveredUsage || k == liOther
}

func chargeCategoryOf(k int) string {
	switch k {
	case liSPRecurringFee, liSPUpfrontFee, liRIFee, liFee:
		return domain.ChargePurchase
	case liTax:
		return domain.ChargeTax
	case liCredit, liRefund, liDiscount, liSPNegation:
		return domain.ChargeCredit
	}
	return domain.ChargeUsage
}

// curMapper maps the rows of one CUR file. Positions are resolved once
// per file; -1 is a column the file lacks.
type curMapper struct {
	version string

	lineItemType, unblended, unblendedRate, currency       int
	usageStart, usageEnd, timeInterval, billStart, billEnd int
	payer, payerName, usageAccount, usageAccountName       int
	invoiceID, invoicingEntity, billingEntity, billType    int
	legalEntity, productCode, usageType, operation         int
	availabilityZone, resourceID, usageAmount, description int
	productName, serviceName, serviceCode, region          int
	location, locationType, sku                            int
	rateCode, rateID, term, unit, publicCost, publicRate   int

	riARN, riEffective, riUnusedUpfront, riUnusedRecurring, riUnusedQuantity int
	spARN, spEffective, spTotalCommitment, spUsedCommitment                  int

	productMap, tagsMap int
	tagCols             []Column

	// lastCode and lastCategory cache the service category of the last
	// product code seen (a file runs long stretches of one service).
	lastCode, lastCategory string
}

func newCURMapper(h *Header) (Mapper, error) {
	m := &curMapper{version: "legacy"}
	for _, n := range cur2Only {
		if h.Has(n) {
			m.version = "2.0"
			break
		}
	}
	m.lineItemType = h.Index("lineItem/LineItemType")
	m.unblended = h.Index("lineItem/UnblendedCost")
	m.unblendedRate = h.Index("lineItem/UnblendedRate")
	m.currency = h.Index("lineItem/CurrencyCode")
	m.usageStart = h.Index("lineItem/UsageStartDate")
	m.usageEnd = h.Index("lineItem/UsageEndDate")
	m.timeInterval = h.Index("identity/TimeInterval")
	m.billStart = h.Index("bill/BillingPeriodStartDate")
	m.billEnd = h.Index("bill/BillingPeriodEndDate")
	m.payer = h.Index("bill/PayerAccountId")
	m.payerName = h.Index("bill/PayerAccountName")
	m.usageAccount = h.Index("lineItem/UsageAccountId")
	m.usageAccountName = h.Index("lineItem/UsageAccountName")
	m.invoiceID = h.Index("bill/InvoiceId")
	m.invoicingEntity = h.Index("bill/InvoicingEntity")
	m.billingEntity = h.Index("bill/BillingEntity")
	m.billType = h.Index("bill/BillType")
	m.legalEntity = h.Index("lineItem/LegalEntity")
	m.productCode = h.Index("lineItem/ProductCode")
	m.usageType = h.Index("lineItem/UsageType")
	m.operation = h.Index("lineItem/Operation")
	m.availabilityZone = h.Index("lineItem/AvailabilityZone")
	m.resourceID = h.Index("lineItem/ResourceId")
	m.usageAmount = h.Index("lineItem/UsageAmount")
	m.description = h.Index("lineItem/LineItemDescription")
	m.productName = h.Index("product/ProductName")
	m.serviceName = h.Index("product/servicename")
	m.serviceCode = h.Index("product/servicecode")
	m.region = h.Index("product/region", "product/regionCode")
	m.location = h.Index("product/location")
	m.locationType = h.Index("product/locationType")
	m.sku = h.Index("product/sku")
	m.rateCode = h.Index("pricing/RateCode")
	m.rateID = h.Index("pricing/RateId")
	m.term = h.Index("pricing/term")
	m.unit = h.Index("pricing/unit")
	m.publicCost = h.Index("pricing/publicOnDemandCost")
	m.publicRate = h.Index("pricing/publicOnDemandRate")
	m.riARN = h.Index("reservation/ReservationARN")
	m.riEffective = h.Index("reservation/EffectiveCost")
	m.riUnusedUpfront = h.Index("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod")
	m.riUnusedRecurring = h.Index("reservation/UnusedRecurringFee")
	m.riUnusedQuantity = h.Index("reservation/UnusedQuantity")
	m.spARN = h.Index("savingsPlan/SavingsPlanARN")
	m.spEffective = h.Index("savingsPlan/SavingsPlanEffectiveCost")
	m.spTotalCommitment = h.Index("savingsPlan/TotalCommitmentToDate")
	m.spUsedCommitment = h.Index("savingsPlan/UsedCommitment")
	m.productMap = h.Index("product")
	m.tagsMap = h.Index("resource_tags")
	m.tagCols = curTagColumns(h)

	switch {
	case m.currency < 0:
		return nil, MissingColumn(FamilyAWSCUR, m.version, "lineItem/CurrencyCode", "line_item_currency_code")
	case (m.usageStart < 0 || m.usageEnd < 0) && m.timeInterval < 0:
		return nil, MissingColumn(FamilyAWSCUR, m.version, "lineItem/UsageStartDate", "line_item_usage_start_date", "identity_time_interval")
	case m.payer < 0 && m.usageAccount < 0:
		return nil, MissingColumn(FamilyAWSCUR, m.version, "bill/PayerAccountId", "bill_payer_account_id", "line_item_usage_account_id")
	}
	return m, nil
}

// curTagColumns finds the resource tag columns of a legacy CUR and names
// each tag as AWS does: user tags by their key, AWS-generated tags with
// an "aws:" prefix. Snake_case exports lost the key's case and
// punctuation ("resource_tags_user_cost_center").
func curTagColumns(h *Header) []Column {
	out := h.WithPrefix("resourceTags/user:", "resource_tags_user_")
	for _, c := range h.WithPrefix("resourceTags/aws:", "resource_tags_aws_") {
		c.Key = "aws:" + c.Key
		out = append(out, c)
	}
	return out
}

func (m *curMapper) Format() Format { return Format{Family: FamilyAWSCUR, Version: m.version} }

// Direct declares that BilledCost is lineItem/UnblendedCost as read.
func (m *curMapper) Direct() [4]int { return [4]int{m.unblended, -1, -1, -1} }

// Map fills row from one CUR line item.
func (m *curMapper) Map(f *Fields, row *domain.CostRow) {
	row.XCloud = domain.AWS
	row.ProviderName = "AWS"
	cur := f.Str(m.currency)
	row.BillingCurrency = cur

	typ := f.Str(m.lineItemType)
	kind := lineItemKind(typ)
	row.XChargeType = typ
	row.ChargeCategory = chargeCategoryOf(kind)
	billType := f.Str(m.billType)
	row.ChargeFrequency = chargeFrequencyOf(kind, billType)
	row.ChargeDescription = f.Str(m.description)

	row.BillingAccountID = f.Str(m.payer)
	row.BillingAccountName = f.Str(m.payerName)
	row.SubAccountID = f.Str(m.usageAccount)
	row.SubAccountName = f.Str(m.usageAccountName)
	row.InvoiceID = f.Str(m.invoiceID)
	legal := f.Str(m.legalEntity)
	billingEntity := f.Str(m.billingEntity)
	row.PublisherName = legal
	if legal == "" && billingEntity != "AWS Marketplace" {
		row.PublisherName = "AWS"
	}
	row.InvoiceIssuerName = f.Str(m.invoicingEntity)
	if row.InvoiceIssuerName == "" {
		if billingEntity == "AWS Marketplace" && legal != "" {
			row.InvoiceIssuerName = legal
		} else {
			row.InvoiceIssuerName = "Amazon Web Services, Inc."
		}
	}

	m.periods(f, row)

	// Amounts.
	billed := f.RequiredMoney(m.unblended, cur)
	zero := domain.Money{Currency: cur}
	row.BilledCost = billed
	row.EffectiveCost = m.effectiveCost(f, kind, billed, cur)
	row.ListCost, row.ContractedCost = zero, billed
	row.ListUnitPrice, row.ContractedUnitPrice = zero, zero
	usage := usageKind(kind)
	if usage {
		row.ListCost = f.Money(m.publicCost, cur)
		row.ListUnitPrice = f.Money(m.publicRate, cur)
		row.ContractedUnitPrice = f.Money(m.unblendedRate, cur)
	}
	switch kind {
	case liDiscountedUsage:
		// Covered by a reservation: the line carries no unblended cost;
		// the usage at the public on-demand rate is the price without
		// the commitment.
		row.ContractedCost = row.ListCost
		row.ContractedUnitPrice = row.ListUnitPrice
	case liSPNegation:
		row.ContractedCost = zero
	}

	// Quantities.
	unit := f.Str(m.unit)
	if usage || row.ChargeCategory == domain.ChargePurchase {
		q := f.Float(m.usageAmount)
		row.PricingQuantity, row.PricingUnit = q, unit
		if usage {
			row.ConsumedQuantity, row.ConsumedUnit = q, unit
		}
	}
	row.PricingCategory = m.pricingCategory(f, kind, row.ChargeCategory)

	m.commitment(f, kind, row)

	// What was used, where.
	code := f.Str(m.productCode)
	row.RegionID = f.Str(m.region)
	if loc := f.Str(m.location); loc != "" {
		if lt := f.Str(m.locationType); lt == "" || lt == "AWS Region" {
			row.RegionName = loc
		}
	}
	row.AvailabilityZone = f.Str(m.availabilityZone)
	row.ServiceName = f.Str(m.productName)
	if row.ServiceName == "" || (m.region < 0 && row.RegionID == "") {
		if pm := f.Str(m.productMap); pm != "" {
			if row.ServiceName == "" {
				row.ServiceName = jsonStringField(pm, "product_name")
			}
			if m.region < 0 {
				row.RegionID = jsonStringField(pm, "region")
			}
		}
	}
	if row.ServiceName == "" {
		row.ServiceName = f.Str(m.serviceName)
	}
	if row.ServiceName == "" {
		row.ServiceName = code
	}
	row.ServiceCategory = m.category(code, f.Str(m.serviceCode))
	row.SkuID = f.Str(m.sku)
	row.SkuPriceID = f.Str(m.rateCode)
	if row.SkuPriceID == "" {
		row.SkuPriceID = f.Str(m.rateID)
	}
	row.ResourceID = f.Str(m.resourceID)
	row.ResourceType = awsResourceType(row.ResourceID)
	row.XUsageType = f.Str(m.usageType)
	row.XOperation = f.Str(m.operation)
	row.Tags = m.tags(f)
}

// periods sets the charge period from the usage dates (or, without them,
// identity/TimeInterval "start/end") and the billing period.
func (m *curMapper) periods(f *Fields, row *domain.CostRow) {
	if f.Str(m.usageStart) != "" || f.Str(m.usageEnd) != "" || m.timeInterval < 0 {
		row.ChargePeriodStart = f.RequiredTime(m.usageStart)
		row.ChargePeriodEnd = f.RequiredTime(m.usageEnd)
	} else if iv := f.Str(m.timeInterval); iv != "" {
		a, b, ok := strings.Cut(iv, "/")
		var ta, tb time.Time
		var okA, okB bool
		if ok {
			ta, okA = parseTime(a, f.layouts)
			tb, okB = parseTime(b, f.layouts)
		}
		if !okA || !okB {
			f.Problem(RuleBadTime, f.name(m.timeInterval), iv)
		}
		row.ChargePeriodStart, row.ChargePeriodEnd = ta, tb
	}
	row.BillingPeriodStart = f.Time(m.billStart)
	row.BillingPeriodEnd = f.Time(m.billEnd)
}

// effectiveCost amortizes commitments: covered usage costs what the
// commitment charges for it, the negation of covered usage and upfront
// payments cost nothing (they are spread over the usage), and a
// commitment's recurring fee row keeps only the part left unused.
func (m *curMapper) effectiveCost(f *Fields, kind int, billed domain.Money, cur string) domain.Money {
	zero := domain.Money{Currency: cur}
	switch kind {
	case liSPCoveredUsage:
		if m.spEffective >= 0 {
			return f.Money(m.spEffective, cur)
		}
	case liDiscountedUsage:
		if m.riEffective >= 0 {
			return f.Money(m.riEffective, cur)
		}
	case liSPNegation, liSPUpfrontFee:
		return zero
	case liSPRecurringFee:
		if m.spTotalCommitment >= 0 && m.spUsedCommitment >= 0 {
			total, used := f.Money(m.spTotalCommitment, cur), f.Money(m.spUsedCommitment, cur)
			return domain.Money{Micros: total.Micros - used.Micros, Currency: cur}
		}
	case liRIFee:
		if m.riUnusedUpfront >= 0 || m.riUnusedRecurring >= 0 {
			a, b := f.Money(m.riUnusedUpfront, cur), f.Money(m.riUnusedRecurring, cur)
			return domain.Money{Micros: a.Micros + b.Micros, Currency: cur}
		}
	case liFee:
		// The upfront payment of a reservation is amortized over the
		// usage it covers (reservation/EffectiveCost).
		if f.Str(m.riARN) != "" {
			return zero
		}
	}
	return billed
}

// pricingCategory reads how a charge was priced: usage a commitment
// covers, or bought under a reservation or savings plan term, is
// Committed; spot usage is Dynamic; on-demand is Standard.
func (m *curMapper) pricingCategory(f *Fields, kind int, category string) string {
	switch kind {
	case liDiscountedUsage, liSPCoveredUsage, liRIFee, liSPRecurringFee, liSPUpfrontFee:
		return "Committed"
	}
	if category != domain.ChargeUsage && category != domain.ChargePurchase {
		return ""
	}
	if strings.Contains(f.Str(m.usageType), "SpotUsage") {
		return "Dynamic"
	}
	switch term := f.Str(m.term); term {
	case "OnDemand", "On Demand":
		return "Standard"
	case "Reserved", "Savings Plan", "SavingsPlan":
		return "Committed"
	case "Spot":
		return "Dynamic"
	case "":
		if kind == liFee && f.Str(m.riARN) != "" {
			return "Committed"
		}
		if category == domain.ChargePurchase {
			return "Standard"
		}
	}
	return "Other"
}

// commitment fills the CommitmentDiscount columns from the reservation
// or savings plan ARN the line names.
func (m *curMapper) commitment(f *Fields, kind int, row *domain.CostRow) {
	if sp := f.Str(m.spARN); sp != "" {
		row.CommitmentDiscountID = sp
		row.CommitmentDiscountType = "Savings Plan"
		row.CommitmentDiscountCategory = "Spend"
	} else if ri := f.Str(m.riARN); ri != "" {
		row.CommitmentDiscountID = ri
		row.CommitmentDiscountType = "Reserved Instance"
		row.CommitmentDiscountCategory = "Usage"
	} else {
		return
	}
	switch kind {
	case liDiscountedUsage:
		row.CommitmentDiscountStatus = "Used"
		row.CommitmentDiscountQuantity = row.ConsumedQuantity
		row.CommitmentDiscountUnit = row.ConsumedUnit
	case liSPCoveredUsage:
		row.CommitmentDiscountStatus = "Used"
	case liRIFee:
		if row.EffectiveCost.Micros != 0 {
			row.CommitmentDiscountStatus = "Unused"
			row.CommitmentDiscountQuantity = f.Float(m.riUnusedQuantity)
			row.CommitmentDiscountUnit = row.PricingUnit
		}
	case liSPRecurringFee:
		if row.EffectiveCost.Micros != 0 {
			row.CommitmentDiscountStatus = "Unused"
		}
	}
}

func chargeFrequencyOf(kind int, billType string) string {
	if billType == "Purchase" || billType == "Refund" {
		return "One-Time"
	}
	switch kind {
	case liRIFee, liSPRecurringFee, liFee, liTax:
		return "Recurring"
	case liSPUpfrontFee, liCredit, liRefund:
		return "One-Time"
	}
	return "Usage-Based"
}

// category returns the FOCUS ServiceCategory of a product code.
func (m *curMapper) category(code, serviceCode string) string {
	if code != "" && code == m.lastCode {
		return m.lastCategory
	}
	cat := awsServiceCategory(code, serviceCode)
	m.lastCode, m.lastCategory = code, cat
	return cat
}

// tags collects resource tags from the tag columns of a legacy CUR and
// from the resource_tags map of CUR 2.0, whose keys carry "user_" or
// "aws_" before the tag key.
func (m *curMapper) tags(f *Fields) map[string]string {
	tags := f.ColumnTags(m.tagCols, nil)
	if m.tagsMap < 0 {
		return tags
	}
	raw := f.Tags(m.tagsMap)
	if len(raw) == 0 {
		return tags
	}
	if tags == nil {
		tags = make(map[string]string, len(raw))
	}
	for k, v := range raw {
		if v == "" {
			continue
		}
		switch {
		case strings.HasPrefix(k, "user_"):
			k = k[len("user_"):]
		case strings.HasPrefix(k, "user:"):
			k = k[len("user:"):]
		case strings.HasPrefix(k, "aws_"):
			k = "aws:" + k[len("aws_"):]
		}
		tags[k] = v
	}
	if len(tags) == 0 {
		return nil
	}
	return tags
}

// awsResourceType names the kind of resource an ARN or a bare EC2 ID
// stands for ("instance", "volume", "function"), or "".
func awsResourceType(id string) string {
	if id == "" {
		return ""
	}
	if strings.HasPrefix(id, "arn:") {
		// arn:partition:service:region:account:type/id or type:id
		rest := id
		for range 5 {
			i := strings.IndexByte(rest, ':')
			if i < 0 {
				return ""
			}
			rest = rest[i+1:]
		}
		if i := strings.IndexAny(rest, "/:"); i > 0 {
			return rest[:i]
		}
		return ""
	}
	dash := strings.IndexByte(id, '-')
	if dash <= 0 {
		return ""
	}
	switch id[:dash] {
	case "i":
		return "instance"
	case "vol":
		return "volume"
	case "snap":
		return "snapshot"
	case "eni":
		return "network-interface"
	case "eipalloc":
		return "elastic-ip"
	case "nat":
		return "natgateway"
	case "ami":
		return "image"
	case "vpce":
		return "vpc-endpoint"
	}
	return ""
}

// jsonStringField returns the string value of key in a flat JSON object
// such as a CUR 2.0 map column ({"product_name":"Amazon S3",...}), or ""
// when the object lacks it. It does not decode the whole object.
func jsonStringField(obj, key string) string {
	pat := `"` + key + `"`
	for off := 0; ; {
		i := strings.Index(obj[off:], pat)
		if i < 0 {
			return ""
		}
		j := off + i + len(pat)
		off = j
		// A key is followed by a colon; the same text as a value is not.
		k := j
		for k < len(obj) && (obj[k] == ' ' || obj[k] == '\t') {
			k++
		}
		if k >= len(obj) || obj[k] != ':' {
			continue
		}
		k++
		for k < len(obj) && (obj[k] == ' ' || obj[k] == '\t') {
			k++
		}
		if k >= len(obj) || obj[k] != '"' {
			return ""
		}
		end := k + 1
		escaped := false
		for end < len(obj) && obj[end] != '"' {
			if obj[end] == '\\' {
				escaped = true
				end++
			}
			end++
		}
		if end >= len(obj) {
			return ""
		}
		if !escaped {
			return obj[k+1 : end]
		}
		s, err := strconv.Unquote(obj[k : end+1])
		if err != nil {
			return ""
		}
		return s
	}
}
