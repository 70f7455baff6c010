package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// placementView is the plan's placement section: its variants, each
// with its migrations, and what was left out.
type placementView struct {
	Workloads, Locations, MaxMoves int
	MonthlyCost                    string
	Variants                       []variantView
	Findings                       []string
}

// variantView is one placement variant.
type variantView struct {
	Name, Label                       string
	Savings, Performance, After, Once string
	Gap, Stop, CostBound              string
	Moves                             int
	Count                             string // Moves in words: "1 migration"
	Migrations                        []migrationView
	// Omitted counts the migrations beyond the report's limit, and
	// OmittedMonthly what they save; they are all in the plan JSON.
	Omitted        int
	OmittedMonthly string
}

// migrationView is one migration of a variant.
type migrationView struct {
	Name, TargetID, From, To     string
	Before, After, Savings, Once string
	Performance, Data, Shape     string
	Notes                        []string
}

// Target names the migration's resource: "name (id)", or the ID alone.
func (m migrationView) Target() string {
	return actionView{Name: m.Name, TargetID: m.TargetID}.Target()
}

// buildPlacement returns the view of p's placement section, nil when it
// has none, listing at most limit migrations per variant (the largest
// savings first, as the plan orders them).
func buildPlacement(p *domain.Plan, limit int) *placementView {
	pl := p.Placement
	if pl == nil {
		return nil
	}
	v := &placementView{Workloads: pl.Workloads, Locations: pl.Locations, MaxMoves: pl.MaxMoves, MonthlyCost: money(pl.MonthlyCost, p.Currency)}
	for _, pv := range pl.Variants {
		vv := variantView{
			Name: pv.Name, Label: strings.ReplaceAll(pv.Name, "_", " "),
			Savings: money(pv.CostSavings, p.Currency), Performance: signedPercent(pv.PerformanceImprovement),
			After: money(pv.MonthlyCost, p.Currency), Once: money(pv.MigrationCost, p.Currency),
			Gap: formatNum(pv.Gap*100) + " %", Stop: stopLabel(pv.Stop), Moves: len(pv.ResourceMigrations),
			Count: migrations(len(pv.ResourceMigrations)),
		}
		if !pv.MonthlyCostBound.IsZero() {
			vv.CostBound = money(pv.MonthlyCostBound, p.Currency)
		}
		omitted := domain.Money{Currency: p.Currency}
		for i, m := range pv.ResourceMigrations {
			if i >= limit {
				vv.Omitted++
				omitted = omitted.Plus(m.MonthlySavings)
				continue
			}
			mv := migrationView{
				Name: m.Name, TargetID: m.Target.ID, From: m.From.String(), To: m.To.String(),
				Before: money(m.MonthlyCostBefore, p.Currency), After: money(m.MonthlyCostAfter, p.Currency),
				Savings: money(m.MonthlySavings, p.Currency), Once: money(m.MigrationCost, p.Currency),
				Performance: signedPercent(m.PerformanceChange), Data: strconv.FormatInt(m.DataGiB, 10) + " GiB",
				Notes: m.Evidence.Notes,
			}
			if ev := m.Evidence; ev.VCPU > 0 {
				mv.Shape = fmt.Sprintf("%d vCPU, %s → %d vCPU, %s", ev.VCPU, formatMiB(ev.MemoryMiB), ev.NewVCPU, formatMiB(ev.NewMemoryMiB))
			}
			if ev := m.Evidence; ev.CPU != nil {
				mv.Notes = append([]string{"CPU " + formatStats(ev.CPU)}, mv.Notes...)
			}
			vv.Migrations = append(vv.Migrations, mv)
		}
		vv.OmittedMonthly = money(omitted, p.Currency)
		v.Variants = append(v.Variants, vv)
	}
	for _, f := range pl.Findings {
		v.Findings = append(v.Findings, findingTarget(f.Target)+": "+f.Reason)
	}
	return v
}

// findingTarget names what a placement finding is about: a resource, a
// region, or the whole estate.
func findingTarget(r domain.ResourceRef) string {
	switch {
	case r.ID != "":
		return r.String()
	case r.Cloud != "":
		return string(r.Cloud) + " " + r.Region
	}
	return "estate"
}

// stopLabel says why the solver stopped, for people: "target reached"
// for the gap target, "time limit" for time_limit.
func stopLabel(stop string) string {
	if stop == "gap" {
		return "target reached"
	}
	return strings.ReplaceAll(stop, "_", " ")
}

// migrations counts migrations in words: "1 migration", "2 migrations".
func migrations(n int) string {
	if n == 1 {
		return "1 migration"
	}
	return strconv.Itoa(n) + " migrations"
}

// signedPercent formats a change in percent with its sign: "+3.74 %".
func signedPercent(v float64) string {
	s := formatNum(v) + " %"
	if v > 0 {
		s = "+" + s
	}
	return s
}

// placementMarkdown writes the placement section.
func placementMarkdown(b *bytes.Buffer, pv *placementView) {
	if pv == nil {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("## Placement\n\n")
	w("Advice only: these migrations are not actions, and nothing approves or applies them. ")
	w("%d movable workloads cost %s a month where they run now; a variant moves at most %d of them, to %d candidate locations.\n\n",
		pv.Workloads, md(pv.MonthlyCost), pv.MaxMoves, pv.Locations)
	if len(pv.Variants) > 0 {
		w("| Variant | Monthly savings | Performance | Migrations | One-off migration cost | Monthly cost after | Proven gap |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, v := range pv.Variants {
			w("| %s | %s | %s | %d | %s | %s | %s (%s) |\n", md(v.Label), md(v.Savings), md(v.Performance), v.Moves, md(v.Once), md(v.After), md(v.Gap), md(v.Stop))
		}
		w("\n")
	}
	for _, v := range pv.Variants {
		w("### %s: %s\n\n", md(capitalize(v.Label)), v.Count)
		if v.CostBound != "" {
			w("No placement under the policy's rules costs less than %s a month, migration amortised.\n\n", md(v.CostBound))
		}
		if v.Moves == 0 {
			w("Every workload stays where it runs.\n\n")
			continue
		}
		w("| Workload | From | To | Monthly before | Monthly after | Monthly savings | Migration cost | Performance | Data |\n|---|---|---|--:|--:|--:|--:|--:|--:|\n")
		for _, m := range v.Migrations {
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", md(m.Target()), md(m.From), md(m.To), md(m.Before), md(m.After),
				md(m.Savings), md(m.Once), md(m.Performance), md(m.Data))
		}
		w("\n")
		if v.Omitted > 0 {
			w("%d more migrations saving %s a month are not listed here; the plan JSON has every one (`cloudtrim report --format json`).\n\n", v.Omitted, md(v.OmittedMonthly))
		}
		for _, m := range v.Migrations {
			w("- **%s** (%s → %s)", md(m.Target()), md(m.From), md(m.To))
			if m.Shape != "" {
				w(", %s", md(m.Shape))
			}
			w(":\n")
			for _, n := range m.Notes {
				w("  - %s\n", md(n))
			}
		}
		w("\n")
	}
	if len(pv.Findings) > 0 {
		w("### Left out of placement (%d)\n\n", len(pv.Findings))
		for _, f := range pv.Findings {
			w("- %s\n", md(f))
		}
		w("\n")
	}
}
