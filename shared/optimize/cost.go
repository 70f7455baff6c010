package optimize

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strconv"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// bill is the sum of one resource's usage cost rows in one currency.
type bill struct {
	currency  string
	effective int64 // micro-units
	list      int64
	rows      int
	spans     []span // the charge periods covered, merged and sorted
}

// span is a half-open range of Unix seconds.
type span struct{ start, end int64 }

func billFor(bills *[]bill, currency string) *bill {
	for i := range *bills {
		if (*bills)[i].currency == currency {
			return &(*bills)[i]
		}
	}
	*bills = append(*bills, bill{currency: currency})
	return &(*bills)[len(*bills)-1]
}

// addSpan adds s to the sorted, disjoint spans. Several rows of the same
// resource often share a charge period (usage, surcharges), so periods
// are merged, not summed: a day billed in two rows is still one day.
// Rows usually arrive in time order, which the fast paths serve in O(1).
func addSpan(spans []span, s span) []span {
	n := len(spans)
	if n == 0 || s.start > spans[n-1].end {
		return append(spans, s)
	}
	if s.start >= spans[n-1].start {
		spans[n-1].end = max(spans[n-1].end, s.end)
		return spans
	}
	// The first span that ends at or after s starts, and the spans from
	// there that start at or before s ends: all of them merge with s.
	i := sort.Search(n, func(k int) bool { return spans[k].end >= s.start })
	j := i
	for j < n && spans[j].start <= s.end {
		j++
	}
	if i == j {
		return slices.Insert(spans, i, s)
	}
	merged := span{min(s.start, spans[i].start), max(s.end, spans[j-1].end)}
	spans[i] = merged
	return slices.Delete(spans, i+1, j)
}

// seconds returns the time the spans cover.
func (b *bill) seconds() int64 {
	var t int64
	for _, s := range b.spans {
		t += s.end - s.start
	}
	return t
}

// mulDiv returns a*b/c rounded half away from zero, computed exactly in
// 128 bits, and false when c is zero or the result does not fit.
func mulDiv(a, b, c int64) (int64, bool) {
	if c == 0 {
		return 0, false
	}
	neg := (a < 0) != (b < 0) != (c < 0)
	ua, ub, uc := abs64(a), abs64(b), abs64(c)
	hi, lo := bits.Mul64(ua, ub)
	if hi >= uc {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, uc)
	if r >= uc-r { // r >= uc/2 without overflow: round half away from zero
		q++
	}
	if q > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(q), true
	}
	return int64(q), true
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // -MinInt64 wraps to 1<<63, which is its magnitude
	}
	return uint64(v)
}

// monthly is a resource's monthly cost and where it comes from.
type monthly struct {
	cost  domain.Money
	basis string
	note  string // how it was computed, for the evidence
}

// monthlyCost returns what r costs a month in the plan currency: from
// the bill when the snapshot has usage rows for it in that currency,
// else from the list price. When neither is available it returns the
// reason as an error-like string and false.
func (p *planner) monthlyCost(e *entry, price domain.Price, priced bool) (monthly, string, bool) {
	cur := p.pol.Currency
	var otherCurrencies []string
	for i := range e.bill {
		b := &e.bill[i]
		if b.currency != cur {
			otherCurrencies = append(otherCurrencies, b.currency)
			continue
		}
		secs := b.seconds()
		m, ok := mulDiv(b.effective, domain.HoursPerMonth*3600, secs)
		if !ok {
			continue
		}
		hours := float64(secs) / 3600
		note := fmt.Sprintf("bill: %s effective cost over %s h of charge periods (%d rows) = %s a month",
			domain.Money{Micros: b.effective, Currency: cur}, formatNum(hours), b.rows, domain.Money{Micros: m, Currency: cur})
		if b.list != 0 && b.list != b.effective {
			note += fmt.Sprintf("; list cost %s", domain.Money{Micros: b.list, Currency: cur})
		}
		return monthly{cost: domain.Money{Micros: m, Currency: cur}, basis: domain.BasisEffectiveCost, note: note}, "", true
	}
	slices.Sort(otherCurrencies)
	if !priced {
		if len(otherCurrencies) > 0 {
			return monthly{}, fmt.Sprintf("no price: billed in %v, plan is in %s, and no list price for %s %q in %s",
				otherCurrencies, cur, e.res.Kind, e.res.SKU, e.res.Region), false
		}
		return monthly{}, fmt.Sprintf("no price: no cost rows and no list price for %s %q in %s", e.res.Kind, e.res.SKU, e.res.Region), false
	}
	if price.Amount.Currency != cur {
		return monthly{}, fmt.Sprintf("no price: list price of %q is in %q, plan is in %s", price.SKU, price.Amount.Currency, cur), false
	}
	m, ok := price.MonthlyFor(e.res.SizeGiB)
	var note string
	switch {
	case !ok && price.Unit == domain.UnitGiBMonth:
		return monthly{}, fmt.Sprintf("no price: %s has no size to price per GiB", e.res.ID), false
	case !ok:
		return monthly{}, fmt.Sprintf("no price: unit %q of %q is not understood", price.Unit, price.SKU), false
	case price.Unit == domain.UnitHour:
		note = fmt.Sprintf("list price: %s an hour × %d h", formatUnitPrice(price.Amount), domain.HoursPerMonth)
	case price.Unit == domain.UnitGiBMonth:
		note = fmt.Sprintf("list price: %s per GiB-month × %d GiB", formatUnitPrice(price.Amount), e.res.SizeGiB)
	default:
		note = "list price: " + price.Amount.String() + " a month"
	}
	if len(otherCurrencies) > 0 {
		note += fmt.Sprintf(" (billed in %v, plan is in %s)", otherCurrencies, cur)
	}
	return monthly{cost: m, basis: domain.BasisListPrice, note: note}, "", true
}

// sortedSizes returns a copy of sizes ordered by price, then SKU, so
// that ties resolve the same way in every run.
func sortedSizes(sizes []domain.Price) []domain.Price {
	out := slices.Clone(sizes)
	slices.SortStableFunc(out, func(a, b domain.Price) int {
		return cmp.Or(cmp.Compare(a.Amount.Micros, b.Amount.Micros), cmp.Compare(a.SKU, b.SKU))
	})
	return out
}

// formatNum formats a quantity for people: no exponent, no trailing zeros.
func formatNum(v float64) string {
	return strconv.FormatFloat(round2(v), 'f', -1, 64)
}

// formatUnitPrice formats a unit price, which often has more than two
// significant decimals (USD 0.0416 an hour).
func formatUnitPrice(m domain.Money) string {
	cur := m.Currency
	if cur == "" {
		cur = "USD"
	}
	s := m.Decimal()
	for len(s) > 0 && s[len(s)-1] == '0' && s[len(s)-3] != '.' {
		s = s[:len(s)-1]
	}
	return cur + " " + s
}
