package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestParsePolicyPlacement(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		mutate func(*domain.PlacementPolicy)
	}{
		{"defaults", `{}`, func(*domain.PlacementPolicy) {}},
		{"explicit defaults", `{"placement": {"enabled": true, "movable_tag": "cloudtrim-movable", "max_move_percent": 20,
			"amortize_months": 12, "time_limit_seconds": 10, "gap_target": 0.0001}}`, func(*domain.PlacementPolicy) {}},
		{"selectors keep the default tag", `{"placement": {"movable": [{"key": "team", "value": "data"}]}}`,
			func(p *domain.PlacementPolicy) { p.Movable = []domain.TagSelector{{Key: "team", Value: "data"}} }},
		{"every rule", `{"placement": {"movable_tag": "", "movable": [{"key": "app", "value": "etl"}], "max_move_percent": 100,
			"clouds": ["aws", "gcp"], "regions": ["us-east-1", "europe-west1"], "same_continent": true, "max_latency_ms": 40,
			"max_vcpus_per_location": 64, "amortize_months": 6, "time_limit_seconds": 2.5, "gap_target": 0.01}}`,
			func(p *domain.PlacementPolicy) {
				*p = domain.PlacementPolicy{Enabled: true, Movable: []domain.TagSelector{{Key: "app", Value: "etl"}}, MaxMovePercent: 100,
					Clouds: []domain.Cloud{domain.AWS, domain.GCP}, Regions: []string{"us-east-1", "europe-west1"}, SameContinent: true,
					MaxLatencyMS: 40, MaxVCPUsPerLocation: 64, AmortizeMonths: 6, TimeLimitSeconds: 2.5, GapTarget: 0.01}
			}},
		{"a cap of 0 moves nothing but is valid", `{"placement": {"max_move_percent": 0}}`, func(p *domain.PlacementPolicy) { p.MaxMovePercent = 0 }},
		{"disabled sections are not validated", `{"placement": {"enabled": false, "max_move_percent": 250, "amortize_months": 0}}`,
			func(p *domain.PlacementPolicy) { p.Enabled, p.MaxMovePercent, p.AmortizeMonths = false, 250, 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := domain.DefaultPolicy()
			tt.mutate(&want.Placement)
			got, err := domain.ParsePolicy("policy.json", strings.NewReader(tt.doc))
			if err != nil {
				t.Fatalf("ParsePolicy(%q) error = %v; want nil", tt.doc, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParsePolicy(%q) mismatch (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestParsePolicyPlacementErrors(t *testing.T) {
	tests := []struct {
		name, doc, field string
	}{
		{"unknown field", `{"placement": {"movable_tags": "x"}}`, "movable_tags"},
		{"cap above 100", `{"placement": {"max_move_percent": 101}}`, "placement.max_move_percent"},
		{"negative cap", `{"placement": {"max_move_percent": -1}}`, "placement.max_move_percent"},
		{"tag with spaces", `{"placement": {"movable_tag": " movable"}}`, "placement.movable_tag"},
		{"selector without a value", `{"placement": {"movable": [{"key": "team"}]}}`, "placement.movable[0]"},
		{"selector without a key", `{"placement": {"movable": [{"key": "team", "value": "a"}, {"key": " ", "value": "b"}]}}`, "placement.movable[1]"},
		{"unknown cloud", `{"placement": {"clouds": ["aws", "oci"]}}`, "placement.clouds[1]"},
		{"cloud in upper case", `{"placement": {"clouds": ["AWS"]}}`, "placement.clouds[0]"},
		{"empty region", `{"placement": {"regions": [""]}}`, "placement.regions[0]"},
		{"region with a space", `{"placement": {"regions": ["us-east-1", "eu west"]}}`, "placement.regions[1]"},
		{"negative latency", `{"placement": {"max_latency_ms": -5}}`, "placement.max_latency_ms"},
		{"negative quota", `{"placement": {"max_vcpus_per_location": -1}}`, "placement.max_vcpus_per_location"},
		{"zero amortization", `{"placement": {"amortize_months": 0}}`, "placement.amortize_months"},
		{"amortization over ten years", `{"placement": {"amortize_months": 121}}`, "placement.amortize_months"},
		{"zero time limit", `{"placement": {"time_limit_seconds": 0}}`, "placement.time_limit_seconds"},
		{"time limit beyond a function's", `{"placement": {"time_limit_seconds": 901}}`, "placement.time_limit_seconds"},
		{"zero gap", `{"placement": {"gap_target": 0}}`, "placement.gap_target"},
		{"gap of 100 %", `{"placement": {"gap_target": 1}}`, "placement.gap_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.ParsePolicy("team.json", strings.NewReader(tt.doc))
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("ParsePolicy(%q) error = %v; want ErrInvalid naming %q", tt.doc, err, tt.field)
			}
		})
	}
}

// TestPlacementPolicyHash checks that the placement section counts in
// the hash except when it is the default, so that plans made before it
// existed keep their policy hash.
func TestPlacementPolicyHash(t *testing.T) {
	base := domain.DefaultPolicy().Hash()
	explicit, err := domain.ParsePolicy("p.json", strings.NewReader(`{"placement": {"enabled": true, "clouds": [], "movable": []}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := explicit.Hash(); got != base {
		t.Errorf("Hash() with the default placement written out = %q; want the default's %q", got, base)
	}
	seen := map[string]string{base: "default"}
	for _, tt := range []struct {
		name   string
		mutate func(*domain.PlacementPolicy)
	}{
		{"enabled", func(p *domain.PlacementPolicy) { p.Enabled = false }},
		{"movable tag", func(p *domain.PlacementPolicy) { p.MovableTag = "portable" }},
		{"selectors", func(p *domain.PlacementPolicy) { p.Movable = []domain.TagSelector{{Key: "team", Value: "data"}} }},
		{"move cap", func(p *domain.PlacementPolicy) { p.MaxMovePercent = 30 }},
		{"clouds", func(p *domain.PlacementPolicy) { p.Clouds = []domain.Cloud{domain.AWS} }},
		{"regions", func(p *domain.PlacementPolicy) { p.Regions = []string{"us-east-1"} }},
		{"same continent", func(p *domain.PlacementPolicy) { p.SameContinent = true }},
		{"latency", func(p *domain.PlacementPolicy) { p.MaxLatencyMS = 40 }},
		{"quota", func(p *domain.PlacementPolicy) { p.MaxVCPUsPerLocation = 8 }},
		{"amortization", func(p *domain.PlacementPolicy) { p.AmortizeMonths = 24 }},
		{"time limit", func(p *domain.PlacementPolicy) { p.TimeLimitSeconds = 5 }},
		{"gap", func(p *domain.PlacementPolicy) { p.GapTarget = 0.001 }},
	} {
		p := domain.DefaultPolicy()
		tt.mutate(&p.Placement)
		got := p.Hash()
		if other, dup := seen[got]; dup {
			t.Errorf("Hash() after changing placement %s = %q, the same as after changing %s", tt.name, got, other)
		}
		seen[got] = tt.name
	}
}

func TestMovableBy(t *testing.T) {
	pp := domain.DefaultPlacementPolicy()
	pp.Movable = []domain.TagSelector{{Key: "team", Value: "data"}, {Key: "app", Value: "etl"}}
	tests := []struct {
		name string
		tags map[string]string
		want string
		ok   bool
	}{
		{"nil tags", nil, "", false},
		{"the tag", map[string]string{"cloudtrim-movable": "true"}, "cloudtrim-movable=true", true},
		{"the tag in another case", map[string]string{"CloudTrim-Movable": " TRUE "}, "cloudtrim-movable=true", true},
		{"the tag set to false", map[string]string{"cloudtrim-movable": "false"}, "", false},
		{"the tag set to yes", map[string]string{"cloudtrim-movable": "yes"}, "", false},
		{"a selector", map[string]string{"Team": "Data"}, "team=data", true},
		{"the second selector", map[string]string{"team": "web", "app": "etl"}, "app=etl", true},
		{"the tag wins over selectors", map[string]string{"app": "etl", "cloudtrim-movable": "true"}, "cloudtrim-movable=true", true},
		{"the first selector wins", map[string]string{"app": "etl", "team": "data"}, "team=data", true},
		{"a value elsewhere", map[string]string{"owner": "data"}, "", false},
	}
	for _, tt := range tests {
		got, ok := pp.MovableBy(tt.tags)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: MovableBy(%v) = %q, %v; want %q, %v", tt.name, tt.tags, got, ok, tt.want, tt.ok)
		}
	}
	if got := pp.Markers(); got != "tag cloudtrim-movable=true or team=data or app=etl" {
		t.Errorf("Markers() = %q", got)
	}
	none := domain.PlacementPolicy{}
	if _, ok := none.MovableBy(map[string]string{"": "true"}); ok || none.Markers() != "" {
		t.Errorf("a policy without markers marks %v as movable, or describes itself as %q", map[string]string{"": "true"}, none.Markers())
	}
}

// placementPlan is samplePlan with a placement section of one variant
// and two migrations.
func placementPlan() domain.Plan {
	p := samplePlan()
	mig := func(id string, before, after, once int64) domain.Migration {
		return domain.Migration{Target: vmRef(id), Name: "vm-" + id,
			From:              domain.PlacementSite{Cloud: domain.AWS, Region: "us-east-1", SKU: "m5.xlarge"},
			To:                domain.PlacementSite{Cloud: domain.GCP, Region: "us-central1", SKU: "e2-standard-4"},
			MonthlyCostBefore: domain.USD(before), MonthlyCostAfter: domain.USD(after), MonthlySavings: domain.USD(before - after),
			MigrationCost: domain.USD(once), PerformanceChange: -5, DataGiB: 100,
			Evidence: domain.Evidence{VCPU: 4, MemoryMiB: 16384, NewVCPU: 4, NewMemoryMiB: 16384, Notes: []string{"tag team=data marks it movable"}}}
	}
	p.Placement = &domain.PlacementPlan{Workloads: 3, Locations: 12, MaxMoves: 2, MonthlyCost: domain.USD(500_000_000),
		Variants: []domain.PlacementVariant{{Name: domain.VariantMaxSavings, CostSavings: domain.USD(60_000_000),
			PerformanceImprovement: -3.5, MonthlyCost: domain.USD(440_000_000), MigrationCost: domain.USD(9_000_000),
			Bound: 1.0001, Gap: 0.0001, Stop: "gap", MonthlyCostBound: domain.USD(440_740_000),
			ResourceMigrations: []domain.Migration{mig("i-5", 148_160_000, 107_828_760, 9_000_000), mig("i-6", 100_000_000, 80_331_240, 0)}}},
		Findings: []domain.Finding{{Target: vmRef("i-7"), Reason: "idle: the plan stops it rather than moving it"}},
	}
	return p
}

func TestPlanPlacementJSON(t *testing.T) {
	p := placementPlan()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back domain.Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("plan after a JSON round trip (-want +got):\n%s", diff)
	}
	for _, field := range []string{`"placement":`, `"cost_savings":`, `"performance_improvement":`, `"resource_migrations":`, `"monthly_cost_bound":`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("plan JSON lacks %s", field)
		}
	}
	// A plan without placement, as before the section existed, reads
	// back without one and writes none.
	old := samplePlan()
	b, _ = json.Marshal(old)
	if strings.Contains(string(b), "placement") {
		t.Errorf("plan JSON without placement mentions it: %s", b)
	}
	back = domain.Plan{}
	if err := json.Unmarshal(b, &back); err != nil || back.Placement != nil || back.Validate() != nil {
		t.Errorf("old plan reads back with placement %+v, %v, Validate() = %v", back.Placement, err, back.Validate())
	}
}

func TestPlanValidatePlacement(t *testing.T) {
	p := placementPlan()
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	p.Placement.Variants[0].CostSavings.Micros++
	err := p.Validate()
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "max_savings saves USD 60.000001, the sum of its migrations USD 60.000000") {
		t.Errorf("Validate() with savings off by a micro-unit = %v; want ErrInvalid naming both sums", err)
	}
}

func TestPlanDigestIgnoresPlacement(t *testing.T) {
	a, b := placementPlan(), samplePlan()
	if got, want := a.Digest(), b.Digest(); got != want {
		t.Errorf("Digest() with placement = %q; want %q: migrations are not approvable", got, want)
	}
	if len(a.Actions) != len(b.Actions) || a.TotalSavings() != b.TotalSavings() {
		t.Errorf("placement changed the actions or their total: %v vs %v", a.TotalSavings(), b.TotalSavings())
	}
}
