package optimize

import (
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestStabilityGate checks that a resize is proposed only when the
// windows of the policy's earlier runs choose the same size.
func TestStabilityGate(t *testing.T) {
	const twoWeeks = 336
	// Busier in the last two days: today's window and yesterday's choose
	// m5.xlarge, the window of two days ago m5.large.
	rising := func(i int) float32 {
		if i >= twoWeeks-48 {
			return 20
		}
		return 5
	}
	tests := []struct {
		name     string
		runs     int
		cpu      func(int) float32
		hours    int
		wantSKU  string // "" when held
		wantNote string // in the evidence, or in the finding when held
	}{
		{name: "steady load is stable", runs: 3, cpu: flat(10), hours: twoWeeks, wantSKU: "m5.large",
			wantNote: "stable: m5.large is chosen on the windows of the last 3 runs, 24 h apart"},
		{name: "rising load is held", runs: 3, cpu: rising, hours: twoWeeks,
			wantNote: "not yet stable: m5.xlarge must be chosen on the windows of 3 consecutive runs 24 h apart; on the window ending 48 h earlier (CPU p95 5%) m5.large was chosen"},
		{name: "two runs see the same rising load", runs: 2, cpu: rising, hours: twoWeeks, wantSKU: "m5.xlarge",
			wantNote: "stable: m5.xlarge is chosen on the windows of the last 2 runs, 24 h apart"},
		{name: "earlier windows without enough data", runs: 3, cpu: flat(10), hours: 60,
			wantNote: "not yet stable: m5.large must be chosen on the windows of 3 consecutive runs 24 h apart; the window ending 48 h earlier has 12 h of CPU data, need 30 h"},
		{name: "gate off", runs: 1, cpu: rising, hours: twoWeeks, wantSKU: "m5.xlarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			pol.Rightsize.MinConfidence = 0
			pol.Rightsize.StableRuns = tt.runs
			plan := optimize(t, pol, &fakeSnapshot{ref: ref(),
				resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
				series:    []domain.Series{hourly("i-1", domain.MetricCPU, tt.hours, tt.cpu), hourly("i-1", domain.MetricMemory, tt.hours, flat(20))}})
			if tt.wantSKU == "" {
				if len(plan.Actions) != 0 {
					t.Fatalf("actions = %v; want the resize held", briefs(plan))
				}
				f := findings(plan)
				if len(f) != 1 || !strings.HasSuffix(f[0], tt.wantNote) {
					t.Fatalf("findings = %q; want one ending %q", f, tt.wantNote)
				}
				return
			}
			if len(plan.Actions) != 1 || plan.Actions[0].After.SKU != tt.wantSKU {
				t.Fatalf("actions = %v; want a resize to %s", briefs(plan), tt.wantSKU)
			}
			notes := plan.Actions[0].Evidence.Notes
			found := tt.wantNote == ""
			for _, n := range notes {
				found = found || n == tt.wantNote
			}
			if !found {
				t.Errorf("evidence notes = %q; want %q", notes, tt.wantNote)
			}
		})
	}
}

func TestLocalDisk(t *testing.T) {
	for _, tt := range []struct {
		cloud domain.Cloud
		sku   string
		want  bool
	}{
		{domain.AWS, "m5d.large", true}, {domain.AWS, "c6gd.xlarge", true}, {domain.AWS, "r5ad.2xlarge", true},
		{domain.AWS, "m6idn.large", true}, {domain.AWS, "i4i.large", true}, {domain.AWS, "d3.xlarge", true},
		{domain.AWS, "im4gn.large", true}, {domain.AWS, "m5.large", false}, {domain.AWS, "m7i-flex.large", false},
		{domain.AWS, "inf2.xlarge", false}, {domain.AWS, "t3.medium", false}, {domain.AWS, "c7g.large", false},
		{domain.Azure, "Standard_D4ds_v5", true}, {domain.Azure, "Standard_E8ads_v5", true}, {domain.Azure, "Standard_D4s_v3", true},
		{domain.Azure, "Standard_DS2_v2", true}, {domain.Azure, "Standard_B2ms", true}, {domain.Azure, "Standard_D4s_v5", false},
		{domain.Azure, "Standard_D4as_v5", false}, {domain.Azure, "Standard_E4-2s_v5", false},
		{domain.GCP, "c3-standard-8-lssd", true}, {domain.GCP, "n2-standard-8", false},
	} {
		if got := localDisk(domain.Price{Cloud: tt.cloud, SKU: tt.sku}); got != tt.want {
			t.Errorf("localDisk(%s %s) = %v; want %v", tt.cloud, tt.sku, got, tt.want)
		}
	}
}

// TestResizeKeepsLocalDisks: a size with instance storage moves only to
// another with instance storage, even when one without is cheaper.
func TestResizeKeepsLocalDisks(t *testing.T) {
	prices := append(fakePrices{}, catalog...)
	// No smaller m5d: the cheapest fitting size of another family is
	// m5.large, the cheapest with local disks r5d.large.
	prices = append(prices, vmPrice("r5d.large", "r5d", 2, 16, "0.144"), vmPrice("m5d.2xlarge", "m5d", 8, 32, "0.452"))
	for i := range prices {
		prices[i].Cloud = domain.AWS
	}
	pol := domain.DefaultPolicy()
	plan := optimizeWith(t, pol, prices, &fakeSnapshot{ref: ref(), resources: []domain.Resource{vm("i-1", "m5d.2xlarge", optIn)},
		series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(10)), hourly("i-1", domain.MetricMemory, 336, flat(20))}})
	if len(plan.Actions) != 1 || plan.Actions[0].After.SKU != "r5d.large" {
		t.Fatalf("actions = %+v; want one resize to r5d.large", briefs(plan))
	}
}
