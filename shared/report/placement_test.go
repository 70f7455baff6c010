package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// placementFixed is fixedPlan with a placement section: three variants
// (one that moves nothing) and findings about a VM, a region and the
// whole estate.
func placementFixed() domain.Plan {
	p := fixedPlan()
	from := domain.PlacementSite{Cloud: domain.AWS, Region: "us-east-1", SKU: "m5.xlarge"}
	move := domain.Migration{
		Target: target(domain.AWS, "111111111111", "us-east-1", domain.KindVM, "i-0move"), Name: "etl-1",
		From: from, To: domain.PlacementSite{Cloud: domain.GCP, Region: "us-central1", SKU: "e2-standard-4"},
		MonthlyCostBefore: usd("148.16"), MonthlyCostAfter: usd("107.82876"), MonthlySavings: usd("40.33124"),
		MigrationCost: usd("9"), PerformanceChange: -5, DataGiB: 100,
		Evidence: domain.Evidence{CPU: &domain.Stats{Points: 336, Hours: 336, Mean: 30, Max: 30, P50: 30, P95: 30, P99: 30},
			VCPU: 4, MemoryMiB: 16384, NewVCPU: 4, NewMemoryMiB: 16384,
			Notes: []string{"tag team=data marks it movable", "copying 100 GiB out of aws us-east-1 at USD 0.09 per GiB costs USD 9.00 once"}},
	}
	faster := move
	faster.To = domain.PlacementSite{Cloud: domain.AWS, Region: "us-east-1", SKU: "m6i.xlarge"}
	faster.MonthlyCostAfter, faster.MonthlySavings, faster.MigrationCost, faster.PerformanceChange = usd("148.16"), usd("0"), usd("0"), 15
	faster.Evidence.CPU = nil
	faster.Evidence.Notes = []string{"tag team=data marks it movable", "same region: copying its data costs no egress"}
	p.Placement = &domain.PlacementPlan{Workloads: 2, Locations: 9, MaxMoves: 1, MonthlyCost: usd("367.16"),
		Variants: []domain.PlacementVariant{
			{Name: domain.VariantMaxSavings, CostSavings: usd("40.33124"), PerformanceImprovement: -1.61, MonthlyCost: usd("326.82876"),
				MigrationCost: usd("9"), Bound: 0.987654321, Gap: 0, Stop: "gap", MonthlyCostBound: usd("327.57"),
				ResourceMigrations: []domain.Migration{move}},
			{Name: domain.VariantBalanced, Weight: 0.35, CostSavings: usd("0"), MonthlyCost: usd("367.16"), MigrationCost: usd("0"),
				Bound: 0.5, Gap: 0.000123, Stop: "converged", ResourceMigrations: []domain.Migration{}},
			{Name: domain.VariantPerformanceFirst, Weight: 0.9, CostSavings: usd("0"), PerformanceImprovement: 4.84, MonthlyCost: usd("367.16"),
				MigrationCost: usd("0"), Bound: 0.1, Gap: 0.0001, Stop: "gap", ResourceMigrations: []domain.Migration{faster}},
		},
		Findings: []domain.Finding{
			{Target: domain.ResourceRef{Cloud: domain.Azure, Region: "westeurope"}, Reason: "missing price: no USD price per GiB-month in westeurope for block storage StandardSSD_LRS: the region is left out of placement"},
			{Target: target(domain.AWS, "111111111111", "us-east-1", domain.KindVM, "i-idle"), Reason: "idle: the plan stops it rather than moving it"},
		},
	}
	return p
}

func TestPlacementGolden(t *testing.T) {
	in := Input{Plan: placementFixed(), GeneratedAt: generated}
	golden(t, "placement.md", Markdown(in))
	page, err := HTML(in)
	if err != nil {
		t.Fatalf("HTML() error: %v", err)
	}
	golden(t, "placement.html", page)
}

func TestPlacementView(t *testing.T) {
	p := placementFixed()
	got := buildPlacement(&p, DefaultMaxActions)
	if got == nil || len(got.Variants) != 3 {
		t.Fatalf("buildPlacement() = %+v; want three variants", got)
	}
	want := variantView{Name: "max_savings", Label: "max savings", Savings: "USD 40.33", Performance: "-1.61 %", After: "USD 326.83",
		Once: "USD 9.00", Gap: "0 %", Stop: "target reached", CostBound: "USD 327.57", Moves: 1, Count: "1 migration", OmittedMonthly: "USD 0.00",
		Migrations: []migrationView{{Name: "etl-1", TargetID: "i-0move", From: "aws/us-east-1/m5.xlarge", To: "gcp/us-central1/e2-standard-4",
			Before: "USD 148.16", After: "USD 107.83", Savings: "USD 40.33", Once: "USD 9.00", Performance: "-5 %", Data: "100 GiB",
			Shape: "4 vCPU, 16 GiB → 4 vCPU, 16 GiB",
			Notes: []string{"CPU p50 30% · p95 30% · p99 30% · max 30% · mean 30% (336 points, 336 h)", "tag team=data marks it movable",
				"copying 100 GiB out of aws us-east-1 at USD 0.09 per GiB costs USD 9.00 once"}}},
	}
	if diff := cmp.Diff(want, got.Variants[0]); diff != "" {
		t.Errorf("max_savings view (-want +got):\n%s", diff)
	}
	if v := got.Variants[1]; v.Gap != "0.01 %" || v.Stop != "converged" || v.Performance != "0 %" || v.CostBound != "" || v.Migrations != nil {
		t.Errorf("balanced view = %+v; want a 0.01 %% gap, no change, no bound, no migrations", v)
	}
	if v := got.Variants[2]; v.Performance != "+4.84 %" || v.Migrations[0].Performance != "+15 %" {
		t.Errorf("performance_first view = %+v; want signed improvements", v)
	}
	wantFindings := []string{
		"azure westeurope: missing price: no USD price per GiB-month in westeurope for block storage StandardSSD_LRS: the region is left out of placement",
		"aws/111111111111/us-east-1/i-idle: idle: the plan stops it rather than moving it",
	}
	if diff := cmp.Diff(wantFindings, got.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if got := findingTarget(domain.ResourceRef{}); got != "estate" {
		t.Errorf("findingTarget(no resource) = %q; want estate", got)
	}
	if buildPlacement(&domain.Plan{}, DefaultMaxActions) != nil {
		t.Errorf("buildPlacement(plan without placement) is not nil")
	}
	// A plan without placement has no placement section.
	plain := fixedPlan()
	if strings.Contains(string(Markdown(Input{Plan: plain})), "## Placement") {
		t.Errorf("Markdown() of a plan without placement has a placement section")
	}
}

func TestPlacementEscapes(t *testing.T) {
	p := placementFixed()
	const evil = `<script>alert("x")</script>|*bold*`
	m := &p.Placement.Variants[0].ResourceMigrations[0]
	m.Name = evil
	m.Evidence.Notes = append(m.Evidence.Notes, evil)
	p.Placement.Findings[1].Reason = evil
	page, err := HTML(Input{Plan: p, GeneratedAt: generated})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), "<script") {
		t.Errorf("HTML() contains the hostile name unescaped")
	}
	s := string(Markdown(Input{Plan: p, GeneratedAt: generated}))
	// Once the backslash escapes are taken out, no markup may be left.
	bare := regexp.MustCompile(`\\.`).ReplaceAllString(s, "")
	if strings.Contains(bare, "<script") || strings.Contains(bare, "*bold*") {
		t.Errorf("Markdown() contains the hostile name unescaped")
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "| "+md(evil)) {
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 10 {
				t.Errorf("migration row has %d cell separators; want 10: %s", n, line)
			}
		}
	}
}

func TestPlacementLongVariantsAreCut(t *testing.T) {
	p := placementFixed()
	v := &p.Placement.Variants[0]
	m := v.ResourceMigrations[0]
	v.ResourceMigrations, v.CostSavings = nil, usd("0")
	for i := range 5 {
		m.Target.ID = "i-" + string(rune('a'+i))
		m.MonthlySavings = usd("10")
		v.ResourceMigrations = append(v.ResourceMigrations, m)
		v.CostSavings = v.CostSavings.Plus(m.MonthlySavings)
	}
	in := Input{Plan: p, MaxActions: 2}
	page, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": string(Markdown(in)), "html": string(page)} {
		if !strings.Contains(out, "3 more migrations saving USD 30.00 a month") {
			t.Errorf("%s report does not say 3 migrations were left out", name)
		}
		if strings.Contains(out, "i-c") || !strings.Contains(out, "i-b") {
			t.Errorf("%s report does not list exactly the first 2 migrations", name)
		}
	}
}
