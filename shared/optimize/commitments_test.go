package optimize

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestBestLevel(t *testing.T) {
	var s []float64
	for range 100 {
		s = append(s, 1)
	}
	for range 100 {
		s = append(s, 2)
	}
	// At 1 the commitment is always used: saves 1 - 0.6 an hour. At 2 it
	// covers 1.5 on average for 1.2: saves 0.3.
	level, util, saving := bestLevel(s, 0.4, 0)
	if level != 1 || util != 1 || math.Abs(saving-0.4) > 1e-12 {
		t.Errorf("bestLevel(d=0.4) = %v, %v, %v; want 1, 1, 0.4", level, util, saving)
	}
	// At 70 % off, covering the peaks pays: at 2, 1.5 - 0.6 = 0.9.
	level, util, saving = bestLevel(s, 0.7, 0)
	if level != 2 || util != 0.75 || math.Abs(saving-0.9) > 1e-12 {
		t.Errorf("bestLevel(d=0.7) = %v, %v, %v; want 2, 0.75, 0.9", level, util, saving)
	}
	// ... unless the policy wants 90 % utilization.
	if level, _, _ = bestLevel(s, 0.7, 0.9); level != 1 {
		t.Errorf("bestLevel(d=0.7, min 90%%) level = %v; want 1", level)
	}
	if level, _, saving = bestLevel([]float64{0, 0, 0}, 0.5, 0); level != 0 || saving != 0 {
		t.Errorf("bestLevel(no usage) = %v, saving %v; want nothing", level, saving)
	}
}

// TestCommitmentsFromThePlannedBaseline: the commitment covers what
// runs after the plan's own actions, not what runs today.
func TestCommitmentsFromThePlannedBaseline(t *testing.T) {
	const twoWeeks = 336
	busy := hourly("", domain.MetricCPU, twoWeeks, flat(60))
	vmWith := func(id, sku string, tags map[string]string) (domain.Resource, domain.Series) {
		s := busy
		s.ResourceID = id
		return vm(id, sku, tags), s
	}
	var res []domain.Resource
	var series []domain.Series
	for _, id := range []string{"i-1", "i-2", "i-3"} {
		r, s := vmWith(id, "m5.large", optIn)
		res, series = append(res, r), append(series, s)
	}
	idle, idleCPU := vmWith("i-idle", "m5.large", optIn)
	idleCPU.Values = slices.Repeat([]float32{1}, twoWeeks)
	res, series = append(res, idle), append(series, idleCPU)
	pol := domain.DefaultPolicy()
	pol.Commitments.Discounts = []domain.CommitmentDiscount{{Cloud: domain.AWS, TermMonths: 12, Percent: 40}, {Cloud: domain.AWS, TermMonths: 36, Percent: 60}}
	plan := optimize(t, pol, &fakeSnapshot{ref: ref(), resources: res, series: series})
	c := plan.Commitments
	if c == nil || len(c.Pools) != 1 {
		t.Fatalf("commitments = %+v; want one pool", c)
	}
	p := c.Pools[0]
	// Three m5.large at 0.096 an hour stay busy; the idle one is stopped.
	if p.Family != "m5" || p.VMs != 3 || p.HourlyCommitment != usd("0.288") || p.TermMonths != 12 || p.DiscountPercent != 40 {
		t.Errorf("pool = %+v; want m5, 3 VMs, USD 0.288 an hour for 12 months at 40%%", p)
	}
	// Saves 40 % of 0.288 × 730.
	if p.MonthlySavings != usd("84.096") || c.MonthlySavings != p.MonthlySavings {
		t.Errorf("monthly savings = %s (plan %s); want USD 84.096", p.MonthlySavings, c.MonthlySavings)
	}
	if p.ExpectedUtilizationPercent != 100 || p.BreakEvenUtilizationPercent != 60 || p.CoveragePercent != 100 {
		t.Errorf("utilization %v, break-even %v, coverage %v; want 100, 60, 100", p.ExpectedUtilizationPercent, p.BreakEvenUtilizationPercent, p.CoveragePercent)
	}
	if len(p.Ladder) != 3 || p.Ladder[0].Month != 0 || p.Ladder[2].Month != 2 || p.Ladder[0].HourlyCommitment != usd("0.096") {
		t.Errorf("ladder = %+v; want three purchases of USD 0.096 an hour, a month apart", p.Ladder)
	}
	if len(p.Alternatives) != 1 || p.Alternatives[0].TermMonths != 36 || p.Alternatives[0].MonthlySavings != usd("126.144") {
		t.Errorf("alternatives = %+v; want the 36-month term saving USD 126.14", p.Alternatives)
	}
	// Usage down by a fifth: 0.2304 used of 0.288 for 0.1728 = 0.0576 an hour.
	if p.SavingsIfUsageDrops20 != usd("42.048") {
		t.Errorf("savings if usage drops 20%% = %s; want USD 42.05", p.SavingsIfUsageDrops20)
	}

	// Without a rate there is no commitment, and the finding says so.
	pol.Commitments.Discounts = nil
	plan = optimize(t, pol, &fakeSnapshot{ref: ref(), resources: res, series: series})
	if c := plan.Commitments; len(c.Pools) != 0 || len(c.Findings) != 1 || !strings.Contains(c.Findings[0], "no 12-month commitment rate known") {
		t.Errorf("commitments without rates = %+v; want one finding on the missing rate", c)
	}

	// A VM billed below list price is already covered.
	pol.Commitments.Discounts = []domain.CommitmentDiscount{{Cloud: domain.AWS, TermMonths: 12, Percent: 40}}
	rows := hourlyRows("i-1", twoWeeks, "0.05", "0.096")
	plan = optimize(t, pol, &fakeSnapshot{ref: ref(), resources: res, series: series, rows: rows})
	if p := plan.Commitments.Pools[0]; p.VMs != 2 {
		t.Errorf("pool VMs = %d; want 2: i-1 is billed below list price", p.VMs)
	}
}
