package local

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestPrintPlacement(t *testing.T) {
	mig := domain.Migration{MonthlySavings: domain.USD(1_000_000)}
	tests := []struct {
		name string
		pl   *domain.PlacementPlan
		want string
	}{
		{"placement disabled", nil, ""},
		{"nothing movable", &domain.PlacementPlan{Findings: []domain.Finding{{Reason: "no movable workloads: no VM carries the movable tag cloudtrim-movable=true"}}},
			"   placement (advice, not actions): no movable workloads: no VM carries the movable tag cloudtrim-movable=true\n"},
		{"variants", &domain.PlacementPlan{Workloads: 12, MaxMoves: 2, MonthlyCost: domain.USD(2_706_956_015), Variants: []domain.PlacementVariant{
			{Name: domain.VariantMaxSavings, CostSavings: domain.USD(336_330_450), PerformanceImprovement: -1.87, MigrationCost: domain.USD(4_350_000),
				ResourceMigrations: []domain.Migration{mig, mig}},
			{Name: domain.VariantBalanced, PerformanceImprovement: 0, Gap: 0.00012, ResourceMigrations: []domain.Migration{mig}},
			{Name: domain.VariantPerformanceFirst, CostSavings: domain.USD(-14_402_425), PerformanceImprovement: 6.95, MigrationCost: domain.USD(4_350_000)},
		}},
			"   placement (advice, not actions): 12 movable workloads costing USD 2,706.96 a month, at most 2 migrations a variant\n" +
				"   - max savings: saves USD 336.33 a month, performance -1.87 %, 2 migrations (one-off USD 4.35), proven gap 0 %\n" +
				"   - balanced: saves USD 0.00 a month, performance 0 %, 1 migration (one-off USD 0.00), proven gap 0.012 %\n" +
				"   - performance first: costs USD 14.40 more a month, performance +6.95 %, 0 migrations (one-off USD 4.35), proven gap 0 %\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printPlacement(&b, domain.Plan{Currency: "USD", Placement: tt.pl})
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("printPlacement() (-want +got):\n%s", diff)
			}
		})
	}
}
