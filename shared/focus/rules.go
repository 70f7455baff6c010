package focus

import (
	"fmt"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Rule names a check a row can fail. A row that fails any is rejected.
type Rule string

// The rules.
const (
	RuleNonNumeric          Rule = "non_numeric"          // an amount or quantity is not a number
	RuleMissingValue        Rule = "missing_value"        // a column FOCUS requires is empty
	RuleBadTime             Rule = "bad_timestamp"        // a timestamp in no known layout
	RulePeriodOrder         Rule = "start_after_end"      // ChargePeriodStart after ChargePeriodEnd (or BillingPeriod*)
	RuleUnknownCurrency     Rule = "unknown_currency"     // BillingCurrency not an ISO 4217 code
	RuleBadTags             Rule = "bad_tags"             // tags that are not JSON
	RuleUnsupportedProvider Rule = "unsupported_provider" // a provider cloudtrim does not manage (e.g. Oracle)
	RuleUnknownCategory     Rule = "unknown_charge_category"
)

// Rules lists every rule in report order.
var Rules = []Rule{RuleMissingValue, RuleNonNumeric, RuleBadTime, RulePeriodOrder, RuleUnknownCurrency, RuleBadTags, RuleUnknownCategory, RuleUnsupportedProvider}

// Problem is one rule broken by one row.
type Problem struct {
	Rule   Rule   `json:"rule"`
	File   string `json:"file,omitempty"`
	Line   int64  `json:"line,omitempty"` // CSV line or JSON line (1-based), or Parquet row (1-based)
	Column string `json:"column,omitempty"`
	Value  string `json:"value,omitempty"`
}

// String returns e.g. `bill.csv line 12: non_numeric in lineItem/UnblendedCost: "abc"`.
func (p Problem) String() string {
	return fmt.Sprintf("%s line %d: %s in %s: %q", p.File, p.Line, p.Rule, p.Column, p.Value)
}

// check applies the rules every format shares to a mapped row.
func check(f *Fields, row *domain.CostRow) {
	if row.XCloud == "" {
		f.Problem(RuleUnsupportedProvider, "ProviderName", row.ProviderName)
	}
	if row.BillingCurrency == "" {
		f.Problem(RuleMissingValue, "BillingCurrency", "")
	} else if !domain.KnownCurrency(row.BillingCurrency) {
		f.Problem(RuleUnknownCurrency, "BillingCurrency", row.BillingCurrency)
	}
	// A timestamp that did not parse was reported as such; it is not
	// missing as well.
	badTime := false
	for _, p := range f.problems {
		badTime = badTime || p.Rule == RuleBadTime
	}
	if row.ChargePeriodStart.IsZero() && !badTime {
		f.Problem(RuleMissingValue, "ChargePeriodStart", "")
	}
	if row.ChargePeriodEnd.IsZero() && !badTime {
		f.Problem(RuleMissingValue, "ChargePeriodEnd", "")
	}
	if !row.ChargePeriodStart.IsZero() && !row.ChargePeriodEnd.IsZero() && row.ChargePeriodStart.After(row.ChargePeriodEnd) {
		f.Problem(RulePeriodOrder, "ChargePeriodStart", row.ChargePeriodStart.Format("2006-01-02T15:04:05Z")+" > "+row.ChargePeriodEnd.Format("2006-01-02T15:04:05Z"))
	}
	if !row.BillingPeriodStart.IsZero() && !row.BillingPeriodEnd.IsZero() && row.BillingPeriodStart.After(row.BillingPeriodEnd) {
		f.Problem(RulePeriodOrder, "BillingPeriodStart", row.BillingPeriodStart.Format("2006-01-02T15:04:05Z")+" > "+row.BillingPeriodEnd.Format("2006-01-02T15:04:05Z"))
	}
	if row.BillingAccountID == "" && row.SubAccountID == "" {
		f.Problem(RuleMissingValue, "BillingAccountId", "")
	}
	switch row.ChargeCategory {
	case domain.ChargeUsage, domain.ChargePurchase, domain.ChargeTax, domain.ChargeCredit, domain.ChargeAdjustment:
	case "":
		f.Problem(RuleMissingValue, "ChargeCategory", "")
	default:
		f.Problem(RuleUnknownCategory, "ChargeCategory", row.ChargeCategory)
	}
	for _, m := range []*domain.Money{&row.BilledCost, &row.EffectiveCost, &row.ListCost, &row.ContractedCost, &row.ListUnitPrice, &row.ContractedUnitPrice} {
		if m.Currency == "" {
			m.Currency = row.BillingCurrency
		} else if m.Currency != row.BillingCurrency && row.BillingCurrency != "" {
			f.Problem(RuleUnknownCurrency, "BillingCurrency", m.Currency+" amount in a "+row.BillingCurrency+" row")
			m.Currency = row.BillingCurrency
		}
	}
}
