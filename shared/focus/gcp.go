package focus

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// gcpDetector reads the Google Cloud billing export to BigQuery (the
// standard and the detailed usage cost tables) as CSV with the nested
// fields flattened to dotted names ("service.description", or
// "service_description") or as JSON lines.
var gcpDetector = Detector{Family: FamilyGCP, Match: matchGCP, New: newGCP}

// gcpJSONColumns lists every dotted column the GCP mapper reads, so the
// JSON lines reader finds a column even when the first lines of a file
// leave it out (BigQuery omits null fields).
var gcpJSONColumns = []string{
	"billing_account_id", "invoice.month", "cost_type",
	"service.id", "service.description", "sku.id", "sku.description",
	"usage_start_time", "usage_end_time",
	"project.id", "project.name", "project.labels", "labels", "system_labels",
	"location.location", "location.region", "location.zone",
	"cost", "currency", "cost_at_list", "credits",
	"usage.amount", "usage.unit", "usage.amount_in_pricing_units", "usage.pricing_unit",
	"price.effective_price", "price.list_price", "price.pricing_unit_quantity",
	"resource.name", "resource.global_name",
	"adjustment_info.id", "adjustment_info.description",
	"seller_name",
}

// gcpMarkers are the columns that make a header a Google Cloud billing
// export.
var gcpMarkers = []string{
	"billing_account_id", "invoice.month", "cost_type", "service.id", "service.description", "sku.id",
	"sku.description", "usage_start_time", "usage_end_time", "project.id", "project.name", "labels",
	"system_labels", "location.region", "location.zone", "cost", "currency", "credits",
	"usage.amount", "usage.unit", "usage.amount_in_pricing_units", "usage.pricing_unit",
}

func matchGCP(h *Header) int {
	if !h.Has("usage_start_time") || h.Index("service.description", "sku.description") < 0 {
		return 0
	}
	return 50 + h.Count(gcpMarkers...)
}

// Google Cloud names.
const (
	gcpProvider      = "Google Cloud"
	gcpInvoiceIssuer = "Google"
	gcpCUDType       = "Committed Use Discount"
)

type gcpMapper struct {
	version string

	billingAccount, project, projectName, projectLabels, labels, systemLabels int
	invoiceMonth, costType, adjustmentID, adjustmentDescription               int
	serviceName, skuID, skuDescription                                        int
	start, end                                                                int
	location, region, zone                                                    int
	cost, currency, costAtList, credits                                       int
	usageAmount, usageUnit, pricingAmount, pricingUnit                        int
	effectivePrice, listPrice, priceQuantity                                  int
	resourceName, resourceGlobalName, seller                                  int

	// The month last read from invoice.month, and the last service and
	// its category: both change rarely from row to row.
	lastMonth              string
	lastStart, lastEnd     time.Time
	lastService, lastCateg string
}

func newGCP(h *Header) (Mapper, error) {
	m := &gcpMapper{version: "standard"}
	if h.Index("resource.name", "resource.global_name") >= 0 {
		m.version = "detailed"
	}
	for _, req := range []string{"usage_start_time", "usage_end_time", "cost", "currency"} {
		if h.Index(req) < 0 {
			return nil, MissingColumn(FamilyGCP, m.version, req)
		}
	}
	m.billingAccount = h.Index("billing_account_id")
	m.project = h.Index("project.id")
	m.projectName = h.Index("project.name")
	m.projectLabels = h.Index("project.labels")
	m.labels = h.Index("labels")
	m.systemLabels = h.Index("system_labels")
	m.invoiceMonth = h.Index("invoice.month")
	m.costType = h.Index("cost_type")
	m.adjustmentID = h.Index("adjustment_info.id")
	m.adjustmentDescription = h.Index("adjustment_info.description")
	m.serviceName = h.Index("service.description")
	m.skuID = h.Index("sku.id")
	m.skuDescription = h.Index("sku.description")
	m.start = h.Index("usage_start_time")
	m.end = h.Index("usage_end_time")
	m.location = h.Index("location.location")
	m.region = h.Index("location.region")
	m.zone = h.Index("location.zone")
	m.cost = h.Index("cost")
	m.currency = h.Index("currency")
	m.costAtList = h.Index("cost_at_list")
	m.credits = h.Index("credits")
	m.usageAmount = h.Index("usage.amount")
	m.usageUnit = h.Index("usage.unit")
	m.pricingAmount = h.Index("usage.amount_in_pricing_units")
	m.pricingUnit = h.Index("usage.pricing_unit")
	m.effectivePrice = h.Index("price.effective_price")
	m.listPrice = h.Index("price.list_price")
	m.priceQuantity = h.Index("price.pricing_unit_quantity")
	m.resourceName = h.Index("resource.name")
	m.resourceGlobalName = h.Index("resource.global_name")
	m.seller = h.Index("seller_name")
	return m, nil
}

func (m *gcpMapper) Format() Format { return Format{Family: FamilyGCP, Version: m.version} }

// Direct reports the cost columns copied from one source column:
// ContractedCost is cost, and so is ListCost when the export has no
// cost_at_list (with it, ListCost falls back to cost on the rows that
// leave cost_at_list empty, so it copies no one column). BilledCost and
// EffectiveCost add the credits to cost.
func (m *gcpMapper) Direct() [4]int {
	list := -1
	if m.costAtList < 0 {
		list = m.cost
	}
	return [4]int{-1, -1, list, m.cost}
}

// gcpCredits is what one row's credits add up to.
type gcpCredits struct {
	total int64 // micro-units, negative
	// The committed use discount among the credits, if any.
	cudID, cudName, cudCategory string
}

func (m *gcpMapper) Map(f *Fields, r *domain.CostRow) {
	cur := f.Str(m.currency)
	r.XCloud = domain.GCP
	r.ProviderName = gcpProvider
	r.PublisherName = gcpProvider
	if s := f.Str(m.seller); s != "" {
		r.PublisherName = s
	}
	r.InvoiceIssuerName = gcpInvoiceIssuer
	r.BillingAccountID = f.Str(m.billingAccount)
	r.SubAccountID = f.Str(m.project)
	r.SubAccountName = f.Str(m.projectName)
	r.BillingCurrency = cur
	r.ChargePeriodStart = f.Time(m.start)
	r.ChargePeriodEnd = f.Time(m.end)
	r.BillingPeriodStart, r.BillingPeriodEnd = m.billingPeriod(f)

	cost := f.Money(m.cost, cur)
	cr := m.readCredits(f, cur)
	billed := domain.Money{Micros: cost.Micros + cr.total, Currency: cur}
	r.BilledCost = billed
	r.EffectiveCost = billed
	r.ContractedCost = cost
	r.ListCost = cost
	if f.Str(m.costAtList) != "" {
		r.ListCost = f.Money(m.costAtList, cur)
	}

	sku := f.Str(m.skuDescription)
	costType := f.Str(m.costType)
	r.XChargeType = costType
	r.XUsageType = sku
	r.SkuID = f.Str(m.skuID)
	r.ChargeDescription = sku
	if d := f.Str(m.adjustmentDescription); d != "" {
		r.ChargeDescription = d
	}
	if f.Str(m.adjustmentID) != "" {
		r.ChargeClass = "Correction"
	}
	switch costType {
	case "regular", "":
		switch {
		case strings.Contains(sku, "Commitment"):
			// The monthly fee of a committed use discount.
			r.ChargeCategory = domain.ChargePurchase
			r.ChargeFrequency = "Recurring"
			r.PricingCategory = "Standard"
			r.CommitmentDiscountType = gcpCUDType
			r.CommitmentDiscountCategory = "Usage"
			if strings.Contains(sku, "dollar based") {
				r.CommitmentDiscountCategory = "Spend"
			}
		case cost.Micros == 0 && cr.total != 0:
			r.ChargeCategory = domain.ChargeCredit
			r.ChargeFrequency = "Usage-Based"
		default:
			r.ChargeCategory = domain.ChargeUsage
			r.ChargeFrequency = "Usage-Based"
			r.PricingCategory = "Standard"
			if strings.Contains(sku, "Spot") || strings.Contains(sku, "Preemptible") {
				r.PricingCategory = "Dynamic"
			}
		}
	case "tax":
		r.ChargeCategory = domain.ChargeTax
		r.ChargeFrequency = "One-Time"
	case "adjustment":
		r.ChargeCategory = domain.ChargeAdjustment
		r.ChargeClass = "Correction"
		r.ChargeFrequency = "One-Time"
	case "rounding_error":
		r.ChargeCategory = domain.ChargeAdjustment
		r.ChargeFrequency = "One-Time"
	case "credit":
		r.ChargeCategory = domain.ChargeCredit
		r.ChargeFrequency = "One-Time"
	default:
		r.ChargeCategory = costType // an unknown cost_type: check rejects the row
	}
	if cr.cudID != "" || cr.cudName != "" {
		r.CommitmentDiscountID = cr.cudID
		r.CommitmentDiscountName = cr.cudName
		r.CommitmentDiscountType = gcpCUDType
		r.CommitmentDiscountCategory = cr.cudCategory
		r.CommitmentDiscountStatus = "Used"
		if r.ChargeCategory == domain.ChargeUsage {
			r.PricingCategory = "Committed"
		}
	}

	r.PricingQuantity = f.Float(m.pricingAmount)
	r.PricingUnit = f.Str(m.pricingUnit)
	r.ConsumedQuantity = f.Float(m.usageAmount)
	r.ConsumedUnit = f.Str(m.usageUnit)
	if q := f.Str(m.priceQuantity); q == "" || q == "1" || q == "1.0" {
		// Unit prices are per price.pricing_unit_quantity pricing units;
		// only a quantity of one makes them FOCUS unit prices.
		r.ListUnitPrice = f.Money(m.listPrice, cur)
		r.ContractedUnitPrice = f.Money(m.effectivePrice, cur)
	}

	r.ResourceName = f.Str(m.resourceName)
	r.ResourceID = f.Str(m.resourceGlobalName)
	if r.ResourceID == "" {
		r.ResourceID = r.ResourceName
	}
	r.RegionID = f.Str(m.region)
	if r.RegionID == "" {
		r.RegionID = f.Str(m.location)
	}
	r.AvailabilityZone = f.Str(m.zone)
	r.ServiceName = f.Str(m.serviceName)
	if r.ServiceName != m.lastService || m.lastCateg == "" {
		m.lastService, m.lastCateg = r.ServiceName, gcpServiceCategory(r.ServiceName)
	}
	r.ServiceCategory = m.lastCateg
	r.Tags = m.tags(f)
}

// billingPeriod reads invoice.month (YYYYMM) as the calendar month in
// UTC. An empty month is the zero period; anything else unreadable is a
// RuleBadTime problem.
func (m *gcpMapper) billingPeriod(f *Fields) (time.Time, time.Time) {
	s := f.Str(m.invoiceMonth)
	if s == "" {
		return time.Time{}, time.Time{}
	}
	if s == m.lastMonth {
		return m.lastStart, m.lastEnd
	}
	y, err1 := strconv.Atoi(s[:min(4, len(s))])
	mo, err2 := strconv.Atoi(s[min(4, len(s)):])
	if len(s) != 6 || err1 != nil || err2 != nil || mo < 1 || mo > 12 {
		f.Problem(RuleBadTime, f.name(m.invoiceMonth), s)
		return time.Time{}, time.Time{}
	}
	start := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
	m.lastMonth, m.lastStart, m.lastEnd = s, start, start.AddDate(0, 1, 0)
	return m.lastStart, m.lastEnd
}

// readCredits sums the credits of a row and names its committed use
// discount. Credits are a list of {name, amount, full_name, id, type}
// written as JSON or, in exports that went through pandas, as a Python
// literal ('amount': -5e-06, 'full_name': None).
func (m *gcpMapper) readCredits(f *Fields, cur string) gcpCredits {
	var c gcpCredits
	s := f.Str(m.credits)
	if s == "" || s == "[]" {
		return c
	}
	var (
		inObj                      = -1
		amount, typ, id, name, ful string
		bad                        bool
	)
	flush := func() {
		if inObj < 0 {
			return
		}
		if amount != "" {
			a, ok := parseAmount(amount, cur)
			if !ok {
				bad = true
			}
			c.total += a.Micros
		}
		switch typ {
		case "COMMITTED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE":
			c.cudID = id
			c.cudName = ful
			if c.cudName == "" {
				c.cudName = name
			}
			c.cudCategory = "Usage"
			if typ == "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE" {
				c.cudCategory = "Spend"
			}
		}
		amount, typ, id, name, ful = "", "", "", "", ""
	}
	ok := eachListField(s, func(obj int, key, val string) {
		if obj != inObj {
			flush()
			inObj = obj
		}
		switch key {
		case "amount":
			amount = val
		case "type":
			typ = val
		case "id":
			id = val
		case "name":
			name = val
		case "full_name":
			ful = val
		}
	})
	flush()
	if !ok || bad {
		f.Problem(RuleNonNumeric, f.name(m.credits), s)
	}
	return c
}

// tags merges the resource labels, the provider's system labels (their
// keys already carry a "googleapis.com/" namespace) and the project's
// labels under a "project:" prefix.
func (m *gcpMapper) tags(f *Fields) map[string]string {
	var out map[string]string
	add := func(col int, prefix string) {
		s := f.Str(col)
		if s == "" || s == "[]" || s == "{}" {
			return
		}
		var key string
		if strings.HasPrefix(s, "{") {
			// A JSON object, as some flattening tools write a label map.
			for k, v := range f.Tags(col) {
				if out == nil {
					out = map[string]string{}
				}
				out[prefix+k] = v
			}
			return
		}
		ok := eachListField(s, func(_ int, k, v string) {
			switch k {
			case "key":
				key = v
			case "value":
				if out == nil {
					out = map[string]string{}
				}
				out[prefix+key] = v
			}
		})
		if !ok {
			f.Problem(RuleBadTags, f.name(col), s)
		}
	}
	add(m.labels, "")
	add(m.systemLabels, "")
	add(m.projectLabels, "project:")
	return out
}

// eachListField calls fn with the key and value of every field of every
// object in a list of flat objects written as JSON or as a Python
// literal, obj counting the objects from 0. Strings are unquoted; null
// and None are ""; numbers and booleans are their text; a nested value is
// its raw text. It reports whether s was such a list.
func eachListField(s string, fn func(obj int, key, val string)) bool {
	p := litParser{s: s}
	if !p.eat('[') {
		return false
	}
	if p.eat(']') {
		return p.done()
	}
	for obj := 0; ; obj++ {
		if !p.object(obj, fn) {
			return false
		}
		if p.eat(',') {
			continue
		}
		if p.eat(']') {
			return p.done()
		}
		return false
	}
}

// eachObjectField is eachListField for one object ({"k": "v"}), obj
// always 0.
func eachObjectField(s string, fn func(obj int, key, val string)) bool {
	p := litParser{s: s}
	return p.object(0, fn) && p.done()
}

// litParser reads JSON and Python literals.
type litParser struct {
	s string
	i int
}

func (p *litParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// eat skips spaces and then c, reporting whether c was there.
func (p *litParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads one object, calling fn with obj and each field.
func (p *litParser) object(obj int, fn func(obj int, key, val string)) bool {
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return true
	}
	for {
		k, ok := p.str()
		if !ok || !p.eat(':') {
			return false
		}
		v, ok := p.value()
		if !ok {
			return false
		}
		fn(obj, k, v)
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

func (p *litParser) done() bool {
	p.ws()
	return p.i == len(p.s)
}

func (p *litParser) value() (string, bool) {
	p.ws()
	if p.i >= len(p.s) {
		return "", false
	}
	switch c := p.s[p.i]; c {
	case '"', '\'':
		return p.str()
	case '{', '[':
		start := p.i
		if !p.skipNested() {
			return "", false
		}
		return p.s[start:p.i], true
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		p.i++
	}
	switch tok := p.s[start:p.i]; tok {
	case "":
		return "", false
	case "null", "None":
		return "", true
	case "True", "true":
		return "true", true
	case "False", "false":
		return "false", true
	default:
		return tok, true
	}
}

// skipNested moves past a balanced object or list.
func (p *litParser) skipNested() bool {
	depth := 0
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '"', '\'':
			if _, ok := p.str(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.i++
				return true
			}
		}
		p.i++
	}
	return false
}

// str reads a string quoted with " or '. A string without escapes is a
// slice of the input.
func (p *litParser) str() (string, bool) {
	p.ws()
	if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\'') {
		return "", false
	}
	q := p.s[p.i]
	p.i++
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case q:
			out := p.s[start:p.i]
			p.i++
			return out, true
		case '\\':
			return p.escaped(start, q)
		}
		p.i++
	}
	return "", false
}

// escaped finishes a string with escapes, from start (just after the
// opening quote q); p.i is at the first backslash.
func (p *litParser) escaped(start int, q byte) (string, bool) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), true
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", false
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'x', 'u':
			n := 2
			if e == 'u' {
				n = 4
			}
			if p.i+n > len(p.s) {
				return "", false
			}
			v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
			if err != nil {
				return "", false
			}
			p.i += n
			r := rune(v)
			if utf16.IsSurrogate(r) && p.i+6 <= len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
				if lo, err := strconv.ParseUint(p.s[p.i+2:p.i+6], 16, 32); err == nil {
					r = utf16.DecodeRune(r, rune(lo))
					p.i += 6
				}
			}
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default: // \\ \" \' \/ and anything else stand for themselves
			b.WriteByte(e)
		}
	}
	return "", false
}
