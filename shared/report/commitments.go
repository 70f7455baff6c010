package report

import (
	"bytes"
	"fmt"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// commitmentsView is the plan's commitments section.
type commitmentsView struct {
	Savings  string
	Pools    []poolView
	Findings []string
}

// poolView is the recommended commitment of one pool.
type poolView struct {
	Pool, Term, Discount, Source          string
	Hourly, HourlyCost, OnDemand, Savings string
	Utilization, BreakEven, Coverage      string
	Drop20                                string
	VMs, Hours                            int
	Ladder                                []string
	Alternatives                          []string
	Notes                                 []string
}

// buildCommitments returns the view of p's commitments, nil when it has
// none.
func buildCommitments(p *domain.Plan) *commitmentsView {
	c := p.Commitments
	if c == nil {
		return nil
	}
	cur := p.Currency
	v := &commitmentsView{Savings: money(c.MonthlySavings, cur), Findings: c.Findings}
	for _, pl := range c.Pools {
		pv := poolView{
			Pool: fmt.Sprintf("%s %s %s", pl.Cloud, pl.Region, pl.Family),
			Term: fmt.Sprintf("%d months", pl.TermMonths), Discount: formatNum(pl.DiscountPercent) + " %", Source: pl.DiscountSource,
			Hourly: money(pl.HourlyCommitment, cur) + " an hour", HourlyCost: money(pl.HourlyCost, cur) + " an hour",
			OnDemand: money(pl.MonthlyOnDemand, cur), Savings: money(pl.MonthlySavings, cur),
			Utilization: formatNum(pl.ExpectedUtilizationPercent) + " %", BreakEven: formatNum(pl.BreakEvenUtilizationPercent) + " %",
			Coverage: formatNum(pl.CoveragePercent) + " %", Drop20: money(pl.SavingsIfUsageDrops20, cur),
			VMs: pl.VMs, Hours: pl.Hours, Notes: pl.Notes,
		}
		if pl.Payment != "" {
			pv.Term += ", " + pl.Payment
		}
		for _, s := range pl.Ladder {
			pv.Ladder = append(pv.Ladder, fmt.Sprintf("month %d: commit %s an hour more (%s held), saving %s a month",
				s.Month, money(s.HourlyCommitment, cur), money(s.CumulativeHourly, cur), money(s.MonthlySavings, cur)))
		}
		for _, a := range pl.Alternatives {
			pv.Alternatives = append(pv.Alternatives, fmt.Sprintf("%d months at %s %% off: %s an hour, %s %% used, saving %s a month",
				a.TermMonths, formatNum(a.DiscountPercent), money(a.HourlyCommitment, cur), formatNum(a.ExpectedUtilizationPercent), money(a.MonthlySavings, cur)))
		}
		v.Pools = append(v.Pools, pv)
	}
	return v
}

// commitmentsMarkdown writes the commitments section.
func commitmentsMarkdown(b *bytes.Buffer, cv *commitmentsView) {
	if cv == nil {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## Commitments\n\n")
	w("Advice only: nothing buys a commitment. Each is sized on the hourly on-demand spend that remains once this plan's actions are applied, and saves %s a month in all.\n\n", md(cv.Savings))
	if len(cv.Pools) > 0 {
		w("| Pool | Term | Discount | Commitment | Utilization | Break-even | Coverage | Monthly savings | If usage drops 20 %% |\n|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, p := range cv.Pools {
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", md(p.Pool), md(p.Term), md(p.Discount), md(p.Hourly), md(p.Utilization),
				md(p.BreakEven), md(p.Coverage), md(p.Savings), md(p.Drop20))
		}
		w("\n")
		for _, p := range cv.Pools {
			w("- **%s**: %d VMs over %d hours, %s a month on demand; rate from %s.\n", md(p.Pool), p.VMs, p.Hours, md(p.OnDemand), md(p.Source))
			for _, s := range p.Ladder {
				w("  - %s\n", md(s))
			}
			for _, a := range p.Alternatives {
				w("  - instead: %s\n", md(a))
			}
			for _, n := range p.Notes {
				w("  - %s\n", md(n))
			}
		}
		w("\n")
	}
	if len(cv.Findings) > 0 {
		w("### No commitment (%d)\n\n", len(cv.Findings))
		for _, f := range cv.Findings {
			w("- %s\n", md(f))
		}
		w("\n")
	}
}
