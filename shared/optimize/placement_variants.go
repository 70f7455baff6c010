package optimize

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize/placement"
)

// plan solves the placement of the collected workloads into the plan's
// placement section: nil when placement is disabled. Whatever cannot be
// placed becomes a finding and the rest of the plan is made; only a
// cancelled or expired ctx is an error.
func (pl *placer) plan(ctx context.Context, p *planner) (*domain.PlacementPlan, error) {
	if pl == nil {
		return nil, nil
	}
	start := time.Now()
	out := &domain.PlacementPlan{MonthlyCost: domain.Money{Currency: pl.currency}}
	note := func(format string, a ...any) {
		pl.findings = append(pl.findings, domain.Finding{Reason: fmt.Sprintf(format, a...)})
	}
	finish := func() (*domain.PlacementPlan, error) {
		slices.SortStableFunc(pl.findings, compareFindings)
		out.Findings = pl.findings
		return out, nil
	}
	switch m := pl.pol.Markers(); {
	case m == "":
		note("no movable workloads: the policy's placement section names no marker (movable_tag, movable)")
		return finish()
	case pl.marked == 0:
		note("no movable workloads: no VM carries the movable %s", m)
		return finish()
	}
	rates := placement.ListEgress()
	for _, c := range domain.Clouds {
		if r := rates[c]; r.Internet.Currency != pl.currency {
			note("no egress prices in %s: the published %s rates are in %s, so nothing is placed", pl.currency, c, r.Internet.Currency)
			return finish()
		}
	}
	pm := pl.buildModel(p)
	if len(pm.work) == 0 {
		note("no movable workloads: none of the %d VMs carrying the movable %s can be placed (see the other findings)", pl.marked, pl.pol.Markers())
		return finish()
	}
	out.Workloads, out.Locations, out.MaxMoves = len(pm.work), len(pm.in.Locations), pm.in.MaxMoves
	for _, w := range pm.work {
		out.MonthlyCost = out.MonthlyCost.Plus(w.before)
	}
	if out.MaxMoves == 0 {
		note("move cap: %s%% of %d movable workloads allows no migration", formatNum(pl.pol.MaxMovePercent), out.Workloads)
	}

	limit := time.Duration(pl.pol.TimeLimitSeconds * float64(time.Second))
	if dl, ok := ctx.Deadline(); ok {
		// Leave the rest of the run (writing the plan and its reports)
		// half of the time left.
		limit = min(limit, max(time.Until(dl)/2, time.Millisecond))
	}
	front, err := placement.SolvePareto(ctx, pm.in, placement.ParetoOptions{
		Options: placement.Options{GapTarget: pl.pol.GapTarget, TimeLimit: limit}})
	if ctx.Err() != nil {
		return nil, fmt.Errorf("optimize: place the workloads of plan %s: %w", p.req.PlanID, ctx.Err())
	}
	if err != nil {
		note("placement not solved: %v", err)
		return finish()
	}
	seen := map[domain.Finding]bool{}
	for _, v := range []struct {
		name string
		at   int
	}{
		{domain.VariantMaxSavings, front.MaxSavings},
		{domain.VariantBalanced, front.Balanced},
		{domain.VariantPerformanceFirst, front.PerformanceFirst},
	} {
		pt := front.Points[v.at]
		out.Variants = append(out.Variants, pm.variant(v.name, pt, front.CostScale))
		for _, u := range pt.Result.Unplaced {
			f := domain.Finding{Target: pm.work[u.Workload].res.Ref(), Reason: fmt.Sprintf("not placed (%s): it stays where it runs: %s", u.Reason, u.Detail)}
			if !seen[f] {
				seen[f] = true
				pl.findings = append(pl.findings, f)
			}
		}
	}
	attrs := []any{
		slog.String("plan_id", p.req.PlanID),
		slog.Int("workloads", out.Workloads),
		slog.Int("locations", out.Locations),
		slog.Int("max_moves", out.MaxMoves),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
	}
	for _, v := range out.Variants {
		attrs = append(attrs, slog.Group(v.Name, slog.Int("migrations", len(v.ResourceMigrations)),
			slog.String("cost_savings", v.CostSavings.Decimal()), slog.Float64("gap", v.Gap)))
	}
	p.log.InfoContext(ctx, "placement solved", attrs...)
	return finish()
}

// variant turns one point of the Pareto front into a plan variant, its
// money recomputed exactly from the bill and the catalog; costScale is
// the front's cost normalisation, which turns the bound of the cheapest
// point back into money.
func (pm *placementModel) variant(name string, pt placement.ParetoPoint, costScale float64) domain.PlacementVariant {
	res := pt.Result
	cur := pm.work[0].before.Currency
	v := domain.PlacementVariant{
		Name: name, Weight: pt.Weight,
		Bound: roundTo(res.Bound, 1e9), Gap: roundTo(res.Gap, 1e6), Stop: string(res.Stop),
		CostSavings: domain.Money{Currency: cur}, MonthlyCost: domain.Money{Currency: cur}, MigrationCost: domain.Money{Currency: cur},
		ResourceMigrations: []domain.Migration{},
	}
	var perfBefore, perfAfter float64
	for i, j := range res.Assignment {
		w, c := pm.work[i], pm.cur[i]
		vcpu := float64(w.size.VCPU)
		perfBefore += vcpu * pm.sites[c].perf
		v.MonthlyCost = v.MonthlyCost.Plus(w.before)
		if j < 0 || j == c {
			perfAfter += vcpu * pm.sites[c].perf
			continue
		}
		perfAfter += vcpu * pm.sites[j].perf
		m := pm.migration(i, j)
		v.ResourceMigrations = append(v.ResourceMigrations, m)
		v.CostSavings = v.CostSavings.Plus(m.MonthlySavings)
		v.MigrationCost = v.MigrationCost.Plus(m.MigrationCost)
	}
	v.MonthlyCost = v.MonthlyCost.Minus(v.CostSavings)
	v.PerformanceImprovement = round2((perfAfter/perfBefore - 1) * 100)
	if pt.Weight == 0 {
		// The point minimised cost/costScale: its bound times costScale
		// bounds the monthly cost, rounded down to a cent to stay a bound.
		if b := res.Bound * costScale; b > 0 && !math.IsInf(b, 0) {
			v.MonthlyCostBound = domain.Money{Micros: int64(math.Floor(b*100)) * (domain.MicrosPerUnit / 100), Currency: cur}
		}
	}
	slices.SortStableFunc(v.ResourceMigrations, func(a, b domain.Migration) int {
		return cmp.Or(cmp.Compare(b.MonthlySavings.Micros, a.MonthlySavings.Micros), cmp.Compare(a.Target.ID, b.Target.ID))
	})
	return v
}

// migration prices workload i's move to location j exactly: the target
// size's list price for 730 hours, its data at the target's block
// storage price, its traffic back to its current region, and the
// one-off egress of copying its data.
func (pm *placementModel) migration(i, j int) domain.Migration {
	w, from, to := pm.work[i], pm.sites[pm.cur[i]], pm.sites[j]
	rates := pm.in.Egress
	cur := w.before.Currency
	compute := to.size.Monthly()
	storage := domain.Money{Micros: w.dataGiB * to.storage.Micros, Currency: cur}
	back := placement.EgressPrice(rates, to.region, from.region)  // what it sends its peers
	forth := placement.EgressPrice(rates, from.region, to.region) // what its peers send it, and the copy
	traffic := domain.Money{Micros: int64(math.Round(w.outGiB*float64(back.Micros) + w.inGiB*float64(forth.Micros))), Currency: cur}
	after := compute.Plus(storage).Plus(traffic)
	once := domain.Money{Micros: w.dataGiB * forth.Micros, Currency: cur}

	ev := usageEvidence(w.usage)
	ev.VCPU, ev.MemoryMiB = w.size.VCPU, w.size.MemoryMiB
	ev.NewVCPU, ev.NewMemoryMiB = to.size.VCPU, to.size.MemoryMiB
	ev.Notes = append(ev.Notes, fmt.Sprintf("tag %s marks it movable", w.marker))
	for _, n := range w.notes {
		ev.Notes = append(ev.Notes, "today: "+n)
	}
	ev.Notes = append(ev.Notes, w.memNote, w.trafficNote)
	afterNote := fmt.Sprintf("at %s: %s an hour × %d h = %s, and %d GiB of data at %s per GiB-month (%s) = %s",
		to.at, formatUnitPrice(to.size.Amount), domain.HoursPerMonth, compute, w.dataGiB, formatUnitPrice(to.storage), placement.StorageSKU(to.at.Cloud), storage)
	if traffic.Micros != 0 {
		afterNote += fmt.Sprintf(", and %s of traffic with its peers in %s", traffic, from.at.Region)
	}
	ev.Notes = append(ev.Notes, afterNote)
	switch {
	case w.dataGiB == 0:
		ev.Notes = append(ev.Notes, "no attached disks: no data to copy")
	case forth.Micros == 0:
		ev.Notes = append(ev.Notes, "same region: copying its data costs no egress")
	default:
		ev.Notes = append(ev.Notes, fmt.Sprintf("copying %d GiB out of %s %s at %s per GiB costs %s once", w.dataGiB, from.at.Cloud, from.at.Region, formatUnitPrice(forth), once))
	}
	fromScore := formatNum(from.perf) + " (" + from.size.Family + ")"
	if !from.scored {
		fromScore = fmt.Sprintf("1 (family %q is not scored: taken as the reference)", from.size.Family)
	}
	ev.Notes = append(ev.Notes, fmt.Sprintf("per-vCPU performance score %s → %s (%s)", fromScore, formatNum(to.perf), to.size.Family))
	return domain.Migration{
		Target: w.res.Ref(), Name: w.res.Name, From: from.at, To: to.at,
		MonthlyCostBefore: w.before, MonthlyCostAfter: after, MonthlySavings: w.before.Minus(after),
		MigrationCost:     once,
		PerformanceChange: round2((to.perf/from.perf - 1) * 100),
		DataGiB:           w.dataGiB, TrafficOutGiB: w.outGiB, TrafficInGiB: w.inGiB,
		Evidence: ev,
	}
}

// compareResources orders resource references.
func compareResources(a, b domain.ResourceRef) int {
	return cmp.Or(cmp.Compare(a.Cloud, b.Cloud), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region),
		cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
}

// roundTo rounds v to 1/scale, so that the plan does not carry the last
// bits of a float, which may differ between CPU architectures.
func roundTo(v, scale float64) float64 { return math.Round(v*scale) / scale }
