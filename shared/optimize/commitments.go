package optimize

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// CommitmentRates gives the discount of committing to a VM size.
type CommitmentRates interface {
	// CommitmentRate returns the discount of a commitment of termMonths
	// to sku in region, and false when none is known.
	CommitmentRate(cloud domain.Cloud, region, sku string, termMonths int) (CommitmentRate, bool)
}

// CommitmentRate is a known commitment discount.
type CommitmentRate struct {
	Discount float64 // 0..1 off the on-demand price
	Payment  string  // monthly, no_upfront, all_upfront ...
	Source   string
}

// The commitment planner sizes commitments to the hourly on-demand spend
// each pool would have had over the observed hours with the plan's
// actions applied: stopped VMs drop out, scheduled VMs count only in
// their running hours, resized VMs at their new size. Committing first
// and optimizing later would lock in the waste.

// commitPool is the hourly on-demand spend of one pool.
type commitPool struct {
	cloud          domain.Cloud
	region, family string
	from           int64     // Unix hour of spend[0]
	spend          []float64 // on-demand currency units per hour
	vms            int
	skuSpend       map[string]float64 // total spend per SKU, to weigh the rates
}

// commitState collects the pools of all snapshots.
type commitState struct {
	pools                              map[string]*commitPool
	noSeries, unpriced, withCommitment int
}

// runHours records the hours in which a VM's CPU series shows it
// running: any observed point in an hour counts.
type runHours struct {
	from int64 // Unix hour of bit 0
	n    int   // hours the series covers
	bits []uint64
}

func (h *runHours) set(s domain.Series) {
	if s.Step <= 0 || len(s.Values) == 0 {
		return
	}
	h.from = s.Start.Unix() / 3600
	last := s.End().Add(-time.Nanosecond).Unix() / 3600
	n := int(last-h.from) + 1
	h.n = n
	h.bits = make([]uint64, (n+63)/64)
	for i, v := range s.Values {
		if domain.IsMissing(v) {
			continue
		}
		t0 := s.Start.Add(time.Duration(i) * s.Step)
		a := t0.Unix()/3600 - h.from
		b := t0.Add(s.Step-time.Nanosecond).Unix()/3600 - h.from
		for k := a; k <= b && k < int64(n); k++ {
			h.bits[k/64] |= 1 << (k % 64)
		}
	}
}

func (h *runHours) each(fn func(hour int64)) {
	for w, word := range h.bits {
		for word != 0 {
			b := int64(bits.TrailingZeros64(word))
			word &= word - 1 // clear the lowest set bit
			fn(h.from + int64(w)*64 + b)
		}
	}
}

// collectCommitments adds the snapshot's running VMs to their pools, as
// they will run once the plan's actions are applied.
func (p *planner) collectCommitments(st *snapshotState) {
	if !p.pol.Commitments.Enabled {
		return
	}
	if p.commit == nil {
		p.commit = &commitState{pools: map[string]*commitPool{}}
	}
	cs := p.commit
	byID := map[string]*domain.Action{}
	for i := range p.actions.len() {
		a := p.actions.at(i)
		if a.Target.Cloud == st.ref.Cloud {
			byID[a.ID] = a
		}
	}
	for i := range st.entries.len() {
		e := st.entries.at(i)
		r := &e.res
		if e.excluded || r.Kind != domain.KindVM || r.State != domain.StateRunning {
			continue
		}
		if e.vm == nil || len(e.vm.run.bits) == 0 {
			cs.noSeries++
			continue
		}
		ref := r.Ref()
		if byID[domain.ActionID(domain.ActionStop, ref)] != nil {
			continue
		}
		sku := r.SKU
		if a := byID[domain.ActionID(domain.ActionRightsize, ref)]; a != nil {
			sku = a.After.SKU
		}
		var sched *domain.Schedule
		if a := byID[domain.ActionID(domain.ActionSchedule, ref)]; a != nil {
			sched = a.Schedule
		}
		price, ok := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindVM, sku)
		if !ok || price.Unit != domain.UnitHour || price.Amount.Currency != p.pol.Currency || price.Amount.Micros <= 0 {
			cs.unpriced++
			continue
		}
		if discounted(e, p.pol.Currency) {
			cs.withCommitment++
			continue
		}
		family := price.Family
		if family == "" {
			family = sku
		}
		key := string(r.Cloud) + "\x00" + r.Region + "\x00" + strings.ToLower(family)
		pool := cs.pools[key]
		if pool == nil {
			pool = &commitPool{cloud: r.Cloud, region: r.Region, family: family, skuSpend: map[string]float64{}}
			cs.pools[key] = pool
		}
		pool.vms++
		hourly := float64(price.Amount.Micros) / domain.MicrosPerUnit
		run := &e.vm.run
		pool.grow(run.from, run.from+int64(run.n))
		run.each(func(h int64) {
			if sched != nil && !sched.Running(time.Unix(h*3600, 0)) {
				return
			}
			pool.spend[h-pool.from] += hourly
			pool.skuSpend[sku] += hourly
		})
	}
}

// discounted reports whether the bill shows the VM already paid below
// its list cost (a commitment or negotiated discount covers it): such a
// VM is left out of the baseline, so nothing is committed twice.
func discounted(e *entry, currency string) bool {
	for _, b := range e.bill {
		if b.currency == currency && b.list > 0 && b.effective < b.list*97/100 {
			return true
		}
	}
	return false
}

// grow makes the pool's hours cover [from, to).
func (c *commitPool) grow(from, to int64) {
	if c.spend == nil {
		c.from, c.spend = from, make([]float64, to-from)
		return
	}
	if from < c.from {
		c.spend = append(make([]float64, c.from-from), c.spend...)
		c.from = from
	}
	if end := c.from + int64(len(c.spend)); to > end {
		c.spend = append(c.spend, make([]float64, to-end)...)
	}
}

// commitmentPlan turns the pools into recommendations.
func (p *planner) commitmentPlan() *domain.CommitmentPlan {
	if !p.pol.Commitments.Enabled {
		return nil
	}
	cur := p.pol.Currency
	out := &domain.CommitmentPlan{MonthlySavings: domain.Money{Currency: cur}}
	cs := p.commit
	if cs == nil {
		return out
	}
	keys := make([]string, 0, len(cs.pools))
	for k := range cs.pools {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pool := cs.pools[k]
		c, why, ok := p.recommend(pool)
		if !ok {
			out.Findings = append(out.Findings, fmt.Sprintf("%s %s %s: %s", pool.cloud, pool.region, pool.family, why))
			continue
		}
		out.Pools = append(out.Pools, c)
		out.MonthlySavings = out.MonthlySavings.Plus(c.MonthlySavings)
	}
	slices.SortStableFunc(out.Pools, func(a, b domain.Commitment) int { return cmp.Compare(b.MonthlySavings.Micros, a.MonthlySavings.Micros) })
	for _, n := range []struct {
		count int
		what  string
	}{
		{cs.withCommitment, "running VMs already billed below list price (a commitment or discount covers them) are left out"},
		{cs.noSeries, "running VMs without a CPU series are left out: their running hours are unknown"},
		{cs.unpriced, "running VMs without an hourly list price in the plan currency are left out"},
	} {
		if n.count > 0 {
			out.Findings = append(out.Findings, fmt.Sprintf("%d %s", n.count, n.what))
		}
	}
	return out
}

// termOption is the best commitment of one term for a pool.
type termOption struct {
	term                int
	rate                CommitmentRate
	level, util, saving float64 // per hour
}

// recommend sizes the commitment of one pool for every term of the
// policy and keeps the first term's as the recommendation.
func (p *planner) recommend(pool *commitPool) (domain.Commitment, string, bool) {
	pol := p.pol.Commitments
	cur := p.pol.Currency
	hours := len(pool.spend)
	if float64(hours) < 7*24 {
		return domain.Commitment{}, fmt.Sprintf("only %d hours observed; a commitment is sized on a week or more", hours), false
	}
	sorted := slices.Clone(pool.spend)
	slices.Sort(sorted)
	var (
		opts    []termOption
		reasons []string
	)
	for _, term := range pol.TermMonths {
		rate, ok := p.poolRate(pool, term)
		if !ok {
			reasons = append(reasons, fmt.Sprintf("no %d-month commitment rate known for its sizes", term))
			continue
		}
		level, util, saving := bestLevel(sorted, rate.Discount, pol.MinUtilizationPercent/100)
		if saving <= 0 || level <= 0 {
			reasons = append(reasons, fmt.Sprintf("a %d-month commitment at %s%% off saves nothing: usage is not steady enough", term, formatNum(rate.Discount*100)))
			continue
		}
		opts = append(opts, termOption{term: term, rate: rate, level: level, util: util, saving: saving})
	}
	if len(opts) == 0 {
		return domain.Commitment{}, strings.Join(reasons, "; "), false
	}
	best := opts[0]
	money := func(v float64) domain.Money { return domain.FromFloat(v, cur) }
	monthly := func(perHour float64) domain.Money { return money(perHour * domain.HoursPerMonth) }
	var total float64
	for _, v := range pool.spend {
		total += v
	}
	mean := total / float64(hours)
	c := domain.Commitment{
		Cloud: pool.cloud, Region: pool.region, Family: pool.family,
		TermMonths: best.term, Payment: best.rate.Payment,
		DiscountPercent: round2(best.rate.Discount * 100), DiscountSource: best.rate.Source,
		HourlyCommitment:            money(best.level),
		HourlyCost:                  money(best.level * (1 - best.rate.Discount)),
		ExpectedUtilizationPercent:  round2(best.util * 100),
		BreakEvenUtilizationPercent: round2((1 - best.rate.Discount) * 100),
		CoveragePercent:             round2(100 * covered(sorted, best.level) / math.Max(total, 1e-12)),
		MonthlyOnDemand:             monthly(mean),
		MonthlySavings:              monthly(best.saving),
		SavingsIfUsageDrops20:       monthly(savingAt(scaled(sorted, 0.8), best.level, best.rate.Discount)),
		Hours:                       hours,
		VMs:                         pool.vms,
	}
	steps := pol.LadderSteps
	for i := 1; i <= steps; i++ {
		level := best.level * float64(i) / float64(steps)
		prev := best.level * float64(i-1) / float64(steps)
		step := domain.CommitmentStep{
			Month:            (i - 1) * pol.LadderIntervalMonths,
			HourlyCommitment: money(level).Minus(money(prev)),
			CumulativeHourly: money(level),
			MonthlySavings:   monthly(savingAt(sorted, level, best.rate.Discount)),
		}
		if i == steps {
			step.CumulativeHourly = c.HourlyCommitment
			step.MonthlySavings = c.MonthlySavings
		}
		c.Ladder = append(c.Ladder, step)
	}
	for _, o := range opts[1:] {
		c.Alternatives = append(c.Alternatives, domain.CommitmentOption{TermMonths: o.term, DiscountPercent: round2(o.rate.Discount * 100),
			HourlyCommitment: money(o.level), ExpectedUtilizationPercent: round2(o.util * 100), MonthlySavings: monthly(o.saving)})
	}
	c.Notes = append(c.Notes,
		fmt.Sprintf("hourly on-demand spend over %d h with the plan's actions applied: min %s, median %s, max %s", hours,
			formatUnitPrice(money(sorted[0])), formatUnitPrice(money(sorted[hours/2])), formatUnitPrice(money(sorted[hours-1]))),
		fmt.Sprintf("the commitment is the level that maximises savings with at least %s%% utilization: each hour it is used up to the spend of that hour",
			formatNum(pol.MinUtilizationPercent)),
		fmt.Sprintf("it pays off while utilization stays above %s%%, the share of the on-demand price it costs", formatNum(c.BreakEvenUtilizationPercent)),
	)
	if steps > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("bought in %d equal steps %d month(s) apart, each re-checked against the baseline of its day, so a drop in usage stops the ladder", steps, pol.LadderIntervalMonths))
	}
	c.Notes = append(c.Notes, reasons...)
	return c, "", true
}

// poolRate returns the spend-weighted discount of a pool's sizes for a
// term: the policy's rate for the family (or the cloud) first, then the
// catalog's. Sizes without a rate are left out of the weights.
func (p *planner) poolRate(pool *commitPool, term int) (CommitmentRate, bool) {
	if r, ok := p.policyRate(pool.cloud, pool.family, term); ok {
		return r, true
	}
	if p.req.Commitments == nil {
		return CommitmentRate{}, false
	}
	skus := make([]string, 0, len(pool.skuSpend))
	for s := range pool.skuSpend {
		skus = append(skus, s)
	}
	slices.Sort(skus)
	var weighted, weight, all float64
	var payment, source string
	for _, s := range skus {
		w := pool.skuSpend[s]
		all += w
		r, ok := p.req.Commitments.CommitmentRate(pool.cloud, pool.region, s, term)
		if !ok || !(r.Discount > 0 && r.Discount < 1) {
			continue
		}
		weighted += w * r.Discount
		weight += w
		if payment == "" {
			payment, source = r.Payment, r.Source
		}
	}
	// Most of the spend must have a rate, or the pool's discount is a
	// guess.
	if weight <= 0 || weight < 0.8*all {
		return CommitmentRate{}, false
	}
	return CommitmentRate{Discount: weighted / weight, Payment: payment, Source: source}, true
}

func (p *planner) policyRate(cloud domain.Cloud, family string, term int) (CommitmentRate, bool) {
	var fallback *domain.CommitmentDiscount
	for i, d := range p.pol.Commitments.Discounts {
		if d.Cloud != cloud || d.TermMonths != term {
			continue
		}
		if strings.EqualFold(d.Family, family) {
			return CommitmentRate{Discount: d.Percent / 100, Source: "policy: commitments.discounts"}, true
		}
		if d.Family == "" {
			fallback = &p.pol.Commitments.Discounts[i]
		}
	}
	if fallback != nil {
		return CommitmentRate{Discount: fallback.Percent / 100, Source: "policy: commitments.discounts"}, true
	}
	return CommitmentRate{}, false
}

// bestLevel returns the hourly commitment c (in on-demand value) that
// maximises the hourly saving mean(min(s, c)) - c(1-d) over the sorted
// hourly spends s, among the levels used at least minUtil of the time,
// with its utilization and saving. The saving is concave in c and
// linear between the observed spends, so its maximum is at one of them.
func bestLevel(sorted []float64, d, minUtil float64) (level, util, saving float64) {
	n := len(sorted)
	if n == 0 || d <= 0 {
		return 0, 0, 0
	}
	// below accumulates the spend of the hours below the candidate.
	var below float64
	for i, c := range sorted {
		if c <= 0 || (i > 0 && c == sorted[i-1]) {
			below += c
			continue
		}
		used := (below + c*float64(n-i)) / float64(n) // mean(min(s, c))
		u := used / c
		if u < minUtil {
			break // utilization only falls as c grows
		}
		if s := used - c*(1-d); s > saving {
			level, util, saving = c, u, s
		}
		below += c
	}
	return level, util, saving
}

// savingAt returns the hourly saving of a commitment at level c.
func savingAt(sorted []float64, c, d float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return covered(sorted, c)/float64(len(sorted)) - c*(1-d)
}

// covered returns the sum over hours of min(s, c).
func covered(sorted []float64, c float64) float64 {
	var sum float64
	for _, v := range sorted {
		sum += math.Min(v, c)
	}
	return sum
}

func scaled(sorted []float64, f float64) []float64 {
	out := make([]float64, len(sorted))
	for i, v := range sorted {
		out[i] = v * f
	}
	return out
}
