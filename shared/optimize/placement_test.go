package optimize

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize/placement"
)

// priceAt is a catalog price in any cloud and region.
func priceAt(cloud domain.Cloud, region string, kind domain.Kind, sku, family string, vcpu int, memGiB int64, unit, usdPerUnit string) domain.Price {
	return domain.Price{Cloud: cloud, Region: region, Kind: kind, SKU: sku, Family: family, Arch: "x86_64",
		VCPU: vcpu, MemoryMiB: memGiB * 1024, Unit: unit, Amount: usd(usdPerUnit)}
}

func vmAt(cloud domain.Cloud, region, sku, family string, vcpu int, memGiB int64, usdPerHour string) domain.Price {
	return priceAt(cloud, region, domain.KindVM, sku, family, vcpu, memGiB, domain.UnitHour, usdPerHour)
}

func diskAt(cloud domain.Cloud, region, sku, usdPerGiBMonth string) domain.Price {
	p := priceAt(cloud, region, domain.KindDisk, sku, "", 0, 0, domain.UnitGiBMonth, usdPerGiBMonth)
	p.Arch = ""
	return p
}

// placeCatalog is a small three-cloud slice of the real catalog: AWS
// us-east-1, Azure westeurope and Google Cloud us-central1.
func placeCatalog() fakePrices {
	return fakePrices{
		vmAt(domain.AWS, region, "c5.xlarge", "c5", 4, 8, "0.17"),
		vmAt(domain.AWS, region, "m5.xlarge", "m5", 4, 16, "0.192"),
		vmAt(domain.AWS, region, "m6i.xlarge", "m6i", 4, 16, "0.192"),
		vmAt(domain.AWS, region, "r5.xlarge", "r5", 4, 32, "0.252"),
		vmAt(domain.AWS, region, "c5.2xlarge", "c5", 8, 16, "0.34"),
		vmAt(domain.AWS, region, "m5.2xlarge", "m5", 8, 32, "0.384"),
		diskAt(domain.AWS, region, "gp3", "0.08"),
		vmAt(domain.Azure, "westeurope", "Standard_D4s_v5", "Dsv5", 4, 16, "0.23"),
		diskAt(domain.Azure, "westeurope", "StandardSSD_LRS", "0.075"),
		vmAt(domain.GCP, "us-central1", "e2-standard-4", "e2-standard", 4, 16, "0.134012"),
		vmAt(domain.GCP, "us-central1", "n2-standard-4", "n2-standard", 4, 16, "0.194236"),
		vmAt(domain.GCP, "us-central1", "e2-standard-8", "e2-standard", 8, 32, "0.268024"),
		diskAt(domain.GCP, "us-central1", "pd-balanced", "0.10"),
	}
}

var movable = map[string]string{"cloudtrim-movable": "true"}

func attached(id, vmID string, sizeGiB int64) domain.Resource {
	return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindDisk, ID: id,
		SKU: "gp3", State: domain.StateInUse, SizeGiB: sizeGiB, AttachedTo: vmID, CreatedAt: now.AddDate(-1, 0, 0)}
}

// placeEstate has two movable VMs: i-move (m5.xlarge, 100 GiB of disk,
// memory at 20 %) priced at list price, and i-two (c5.2xlarge, no disk,
// no memory metric) billed at 0.30 an hour; and i-fixed, which is not
// movable and gets a resize.
func placeEstate() *fakeSnapshot {
	return &fakeSnapshot{ref: ref(),
		resources: []domain.Resource{
			vm("i-move", "m5.xlarge", movable), attached("vol-move", "i-move", 100),
			vm("i-two", "c5.2xlarge", with(optIn, "team", "data")),
			vm("i-fixed", "m5.2xlarge", optIn),
		},
		series: []domain.Series{
			hourly("i-move", domain.MetricCPU, 336, flat(30)), lowMem("i-move"),
			hourly("i-fixed", domain.MetricCPU, 336, flat(10)), lowMem("i-fixed"),
		},
		rows: hourlyRows("i-two", 48, "0.3", "0.34"),
	}
}

func placePolicy() domain.Policy {
	p := domain.DefaultPolicy()
	p.Placement.Movable = []domain.TagSelector{{Key: "team", Value: "data"}}
	p.Placement.MaxMovePercent = 100
	return p
}

// placePlan runs the optimizer over snaps with the placement catalog.
func placePlan(t *testing.T, pol domain.Policy, prices Prices, snaps ...Snapshot) domain.Plan {
	t.Helper()
	plan, err := Optimize(context.Background(), Request{PlanID: "plan-1", Now: now, Policy: pol, Snapshots: snaps, Prices: prices})
	if err != nil {
		t.Fatalf("Optimize() error: %v", err)
	}
	if err := plan.Validate(); err != nil {
		t.Fatalf("plan.Validate() = %v", err)
	}
	if plan.Placement == nil {
		t.Fatal("plan.Placement = nil; want a placement section")
	}
	return plan
}

// modelOf reads snap with pol and returns the placement model built.
func modelOf(t *testing.T, pol domain.Policy, prices Prices, snap *fakeSnapshot) (*placementModel, *placer) {
	t.Helper()
	p := newPlanner(Request{PlanID: "plan-1", Now: now, Policy: pol, Prices: prices})
	if err := p.snapshot(context.Background(), snap, snap.ref); err != nil {
		t.Fatal(err)
	}
	return p.place.buildModel(p), p.place
}

func TestPlacementInstance(t *testing.T) {
	pm, pl := modelOf(t, placePolicy(), placeCatalog(), placeEstate())
	inf := math.Inf(1)
	unlimited := placement.Capacity{VCPU: inf, MemoryGiB: inf}
	loc := func(cloud domain.Cloud, region, sku string, vcpu, mem float64, hourly, storage string, perf float64) placement.Location {
		return placement.Location{ID: string(cloud) + "/" + region + "/" + sku, Cloud: cloud, Region: region, InstanceType: sku, Arch: "x86_64",
			VCPU: vcpu, MemoryGiB: mem, HourlyPrice: usd(hourly), StoragePrice: usd(storage), Perf: perf, Capacity: unlimited}
	}
	const moveID, twoID = "aws/111111111111/us-east-1/i-move", "aws/111111111111/us-east-1/i-two"
	ptr := func(m domain.Money) *domain.Money { return &m }
	want := &placement.Instance{
		Regions: []placement.Region{
			{Cloud: domain.AWS, Name: "us-east-1", Continent: "north-america", Lat: 38.9, Lon: -77.4},
			{Cloud: domain.Azure, Name: "westeurope", Continent: "europe", Lat: 52.4, Lon: 4.9},
			{Cloud: domain.GCP, Name: "us-central1", Continent: "north-america", Lat: 41.3, Lon: -95.9},
		},
		Egress: placement.ListEgress(),
		Locations: []placement.Location{
			// Where i-move runs: m5.xlarge, at list price for any other
			// workload; i-move itself pays its own cost there.
			loc(domain.AWS, region, "m5.xlarge", 4, 16, "0.192", "0.08", 1),
			// Memory p99 20 % of 16 GiB needs 4 GiB: c5.xlarge (8 GiB)
			// fits; r5.xlarge costs more than m6i.xlarge and scores less.
			loc(domain.AWS, region, "c5.xlarge", 4, 8, "0.17", "0.08", 1.05),
			loc(domain.AWS, region, "m6i.xlarge", 4, 16, "0.192", "0.08", 1.15),
			loc(domain.Azure, "westeurope", "Standard_D4s_v5", 4, 16, "0.23", "0.075", 1.15),
			loc(domain.GCP, "us-central1", "e2-standard-4", 4, 16, "0.134012", "0.10", 0.95),
			loc(domain.GCP, "us-central1", "n2-standard-4", 4, 16, "0.194236", "0.10", 1.10),
			// Where i-two runs, and the sizes of 8 vCPU and at least 16 GiB.
			loc(domain.AWS, region, "c5.2xlarge", 8, 16, "0.34", "0.08", 1.05),
			loc(domain.AWS, region, "m5.2xlarge", 8, 32, "0.384", "0.08", 1),
			loc(domain.GCP, "us-central1", "e2-standard-8", 8, 32, "0.268024", "0.10", 0.95),
		},
		Workloads: []placement.Workload{
			// Today: 0.192 × 730 + 100 GiB × 0.08 at list price.
			{ID: moveID, Current: "aws/us-east-1/m5.xlarge", CurrentCost: ptr(usd("148.16")), VCPU: 4, MemoryGiB: 4, StorageGiB: 100,
				Policy: placement.Policy{Locations: []string{
					"aws/us-east-1/m5.xlarge", "aws/us-east-1/c5.xlarge", "aws/us-east-1/m6i.xlarge", "azure/westeurope/Standard_D4s_v5",
					"gcp/us-central1/e2-standard-4", "gcp/us-central1/n2-standard-4"}}},
			// Today: the bill's 0.30 an hour.
			{ID: twoID, Current: "aws/us-east-1/c5.2xlarge", CurrentCost: ptr(usd("219")), VCPU: 8, MemoryGiB: 16, Policy: placement.Policy{Locations: []string{
				"aws/us-east-1/c5.2xlarge", "aws/us-east-1/m5.2xlarge", "gcp/us-central1/e2-standard-8"}}},
		},
		MaxMoves:       2,
		AmortizeMonths: 12,
	}
	if diff := cmp.Diff(want, pm.in); diff != "" {
		t.Errorf("placement instance (-want +got):\n%s", diff)
	}
	if err := pm.in.Validate(); err != nil {
		t.Errorf("instance.Validate() = %v", err)
	}
	var before []domain.Money
	for _, w := range pm.work {
		before = append(before, w.before)
	}
	// i-move: 140.16 + 8.00 at list price; i-two: 0.30 × 730 from the bill.
	if diff := cmp.Diff([]domain.Money{usd("148.16"), usd("219")}, before); diff != "" {
		t.Errorf("workloads' monthly cost today (-want +got):\n%s", diff)
	}
	if len(pl.findings) != 0 {
		t.Errorf("findings = %v; want none", pl.findings)
	}
}

func TestPlacementPolicyRulesReachTheSolver(t *testing.T) {
	pol := placePolicy()
	pol.Placement.Clouds = []domain.Cloud{domain.AWS, domain.GCP}
	pol.Placement.Regions = []string{"us-east-1", "us-central1"}
	pol.Placement.SameContinent = true
	pol.Placement.MaxLatencyMS = 40
	pol.Placement.MaxVCPUsPerLocation = 12
	pol.Placement.MaxMovePercent = 50
	pol.Placement.AmortizeMonths = 6
	pm, _ := modelOf(t, pol, placeCatalog(), placeEstate())
	w := pm.in.Workloads[0]
	wantPolicy := placement.Policy{
		Clouds: []domain.Cloud{domain.AWS, domain.GCP}, Regions: []string{"us-east-1", "us-central1"},
		Continents: []string{"north-america"}, MaxLatencyMS: 40, Users: &placement.GeoPoint{Lat: 38.9, Lon: -77.4},
		// With a quota, no size is left out for being dominated: r5.xlarge stays.
		Locations: []string{"aws/us-east-1/m5.xlarge", "aws/us-east-1/c5.xlarge", "aws/us-east-1/m6i.xlarge",
			"aws/us-east-1/r5.xlarge", "gcp/us-central1/e2-standard-4", "gcp/us-central1/n2-standard-4"},
	}
	if diff := cmp.Diff(wantPolicy, w.Policy); diff != "" {
		t.Errorf("workload policy (-want +got):\n%s", diff)
	}
	// The quota is on top of what runs there: 4 vCPUs of i-move on
	// m5.xlarge, 8 of i-two on c5.2xlarge.
	for _, l := range pm.in.Locations {
		want := 12.0
		switch l.ID {
		case "aws/us-east-1/m5.xlarge":
			want = 16
		case "aws/us-east-1/c5.2xlarge":
			want = 20
		}
		if l.Capacity.VCPU != want || !math.IsInf(l.Capacity.MemoryGiB, 1) {
			t.Errorf("location %s capacity = %+v; want %v vCPU and unlimited memory", l.ID, l.Capacity, want)
		}
	}
	if pm.in.MaxMoves != 1 || pm.in.AmortizeMonths != 6 {
		t.Errorf("max moves %d, amortize %v months; want 1 (50 %% of 2) and 6", pm.in.MaxMoves, pm.in.AmortizeMonths)
	}
}

func TestPlacementTraffic(t *testing.T) {
	snap := placeEstate()
	const mib = 1 << 20
	snap.series = append(snap.series,
		hourly("i-move", domain.MetricNetOut, 336, flat(mib)),
		hourly("i-move", domain.MetricNetIn, 336, func(i int) float32 {
			if i%2 == 0 {
				return domain.Missing
			}
			return mib / 2
		}))
	pm, _ := modelOf(t, placePolicy(), placeCatalog(), snap)
	// 1 MiB/s for 730 h is 2566.41 GiB; 0.5 MiB/s is 1283.2 GiB.
	want := []placement.Flow{{Cloud: domain.AWS, Region: region, OutGiB: 2566.41, InGiB: 1283.2}}
	if diff := cmp.Diff(want, pm.in.Workloads[0].Flows); diff != "" {
		t.Errorf("i-move flows (-want +got):\n%s", diff)
	}
	if pm.in.Workloads[1].Flows != nil {
		t.Errorf("i-two flows = %v; want none without network metrics", pm.in.Workloads[1].Flows)
	}
	if !strings.Contains(pm.work[1].trafficNote, "no network metrics") {
		t.Errorf("i-two traffic note = %q; want it to say traffic was not measured", pm.work[1].trafficNote)
	}

	// Egress to its peers (2566.41 × 0.085 + 1283.2 × 0.09 a month in
	// Google Cloud) outweighs any saving: the cheapest variant keeps it.
	plan := placePlan(t, placePolicy(), placeCatalog(), snap)
	for _, m := range plan.Placement.Variants[0].ResourceMigrations {
		if m.Target.ID == "i-move" && m.To.Cloud != domain.AWS {
			t.Errorf("max_savings moves i-move to %s despite its traffic: %+v", m.To, m)
		}
	}
}

// migrationBrief is what TestPlacementVariants checks of a migration.
type migrationBrief struct {
	ID                      string
	From, To                domain.PlacementSite
	Before, After, Savings  domain.Money
	Once                    domain.Money
	PerfChange              float64
	DataGiB                 int64
	VCPU, NewVCPU           int
	MemoryMiB, NewMemoryMiB int64
}

func briefMigrations(ms []domain.Migration) []migrationBrief {
	var out []migrationBrief
	for _, m := range ms {
		out = append(out, migrationBrief{m.Target.ID, m.From, m.To, m.MonthlyCostBefore, m.MonthlyCostAfter, m.MonthlySavings,
			m.MigrationCost, m.PerformanceChange, m.DataGiB, m.Evidence.VCPU, m.Evidence.NewVCPU, m.Evidence.MemoryMiB, m.Evidence.NewMemoryMiB})
	}
	return out
}

func TestPlacementVariants(t *testing.T) {
	plan := placePlan(t, placePolicy(), placeCatalog(), placeEstate())
	pp := plan.Placement
	if pp.Workloads != 2 || pp.Locations != 9 || pp.MaxMoves != 2 || pp.MonthlyCost != usd("367.16") {
		t.Errorf("placement = %d workloads, %d locations, %d moves, %v today; want 2, 9, 2, USD 367.16", pp.Workloads, pp.Locations, pp.MaxMoves, pp.MonthlyCost)
	}
	var names []string
	for _, v := range pp.Variants {
		names = append(names, v.Name)
	}
	if diff := cmp.Diff([]string{domain.VariantMaxSavings, domain.VariantBalanced, domain.VariantPerformanceFirst}, names); diff != "" {
		t.Fatalf("variants (-want +got):\n%s", diff)
	}

	ms := pp.Variants[0]
	aws := domain.PlacementSite{Cloud: domain.AWS, Region: region}
	site := func(s domain.PlacementSite, sku string) domain.PlacementSite { s.SKU = sku; return s }
	gcp := domain.PlacementSite{Cloud: domain.GCP, Region: "us-central1"}
	want := []migrationBrief{
		// 219.00 from the bill; e2-standard-8: 0.268024 × 730.
		{"i-two", site(aws, "c5.2xlarge"), site(gcp, "e2-standard-8"), usd("219"), usd("195.65752"), usd("23.34248"), usd("0"),
			-9.52, 0, 8, 8, 16384, 32768},
		// 148.16 at list price; e2-standard-4: 0.134012 × 730 + 100 GiB ×
		// 0.10; copying 100 GiB out of AWS at 0.09.
		{"i-move", site(aws, "m5.xlarge"), site(gcp, "e2-standard-4"), usd("148.16"), usd("107.82876"), usd("40.33124"), usd("9"),
			-5, 100, 4, 4, 16384, 16384},
	}
	slices.SortFunc(want, func(a, b migrationBrief) int { return int(b.Savings.Micros - a.Savings.Micros) })
	if diff := cmp.Diff(want, briefMigrations(ms.ResourceMigrations)); diff != "" {
		t.Errorf("max_savings migrations (-want +got):\n%s", diff)
	}
	// The summary is the exact sum of the migrations.
	if ms.CostSavings != usd("63.67372") || ms.MigrationCost != usd("9") || ms.MonthlyCost != usd("303.48628") {
		t.Errorf("max_savings saves %v, migration %v, costs %v; want USD 63.67372, USD 9, USD 303.48628", ms.CostSavings, ms.MigrationCost, ms.MonthlyCost)
	}
	// 4 × 1.00 + 8 × 1.05 = 12.4 today; 12 × 0.95 = 11.4 after.
	if ms.PerformanceImprovement != -8.06 {
		t.Errorf("max_savings performance = %v %%; want -8.06", ms.PerformanceImprovement)
	}
	if ms.Weight != 0 || ms.Gap > 1e-4 || ms.Bound <= 0 || ms.Stop == "" {
		t.Errorf("max_savings weight %v, gap %v, bound %v, stop %q; want weight 0 and a proven gap within the target", ms.Weight, ms.Gap, ms.Bound, ms.Stop)
	}
	// No placement costs less than the one found (gap 0), migration
	// amortised: 303.48628 + 9/12 = 304.24 a month, down to the cent.
	if ms.MonthlyCostBound.Currency != "USD" || ms.MonthlyCostBound.Micros > usd("304.23628").Micros || ms.MonthlyCostBound.Micros < usd("304.2").Micros {
		t.Errorf("max_savings cost bound = %v; want about USD 304.23", ms.MonthlyCostBound)
	}

	pf := pp.Variants[2]
	// m6i.xlarge costs what m5.xlarge costs and scores 15 % more; no
	// 8-vCPU size scores above c5.2xlarge.
	wantPF := []migrationBrief{{"i-move", site(aws, "m5.xlarge"), site(aws, "m6i.xlarge"), usd("148.16"), usd("148.16"), usd("0"), usd("0"),
		15, 100, 4, 4, 16384, 16384}}
	if diff := cmp.Diff(wantPF, briefMigrations(pf.ResourceMigrations)); diff != "" {
		t.Errorf("performance_first migrations (-want +got):\n%s", diff)
	}
	if pf.PerformanceImprovement != 4.84 || !pf.CostSavings.IsZero() || !pf.MonthlyCostBound.IsZero() {
		t.Errorf("performance_first = %v %%, saves %v, cost bound %v; want 4.84 %% (0.6 of 12.4), 0 and no bound", pf.PerformanceImprovement, pf.CostSavings, pf.MonthlyCostBound)
	}
	for _, v := range pp.Variants {
		sum := domain.Money{Currency: "USD"}
		for _, m := range v.ResourceMigrations {
			sum = sum.Plus(m.MonthlySavings)
			if m.MonthlySavings != m.MonthlyCostBefore.Minus(m.MonthlyCostAfter) {
				t.Errorf("%s: %s saves %v; want before − after = %v", v.Name, m.Target.ID, m.MonthlySavings, m.MonthlyCostBefore.Minus(m.MonthlyCostAfter))
			}
		}
		if sum != v.CostSavings || v.MonthlyCost != pp.MonthlyCost.Minus(sum) {
			t.Errorf("%s: saves %v and costs %v; want the migrations' sum %v and %v", v.Name, v.CostSavings, v.MonthlyCost, sum, pp.MonthlyCost.Minus(sum))
		}
		if len(v.ResourceMigrations) > pp.MaxMoves {
			t.Errorf("%s: %d migrations; the cap is %d", v.Name, len(v.ResourceMigrations), pp.MaxMoves)
		}
	}

	// Evidence says where each figure comes from.
	var move domain.Migration
	for _, m := range ms.ResourceMigrations {
		if m.Target.ID == "i-move" {
			move = m
		}
	}
	wantNotes := []string{
		"tag cloudtrim-movable=true marks it movable",
		"today: VM list price: USD 0.192 an hour × 730 h",
		"today: disk vol-move (100 GiB gp3) list price: USD 0.08 per GiB-month × 100 GiB",
		"memory p99 is 20% of 16 GiB: a new size needs 4 GiB at the 80% target",
		"no network metrics in the snapshot: its traffic is taken as zero, so moving it away from its peers costs no egress here",
		"at gcp/us-central1/e2-standard-4: USD 0.134012 an hour × 730 h = USD 97.83, and 100 GiB of data at USD 0.10 per GiB-month (pd-balanced) = USD 10.00",
		"copying 100 GiB out of aws us-east-1 at USD 0.09 per GiB costs USD 9.00 once",
		"per-vCPU performance score 1 (m5) → 0.95 (e2-standard)",
	}
	if diff := cmp.Diff(wantNotes, move.Evidence.Notes); diff != "" {
		t.Errorf("i-move evidence notes (-want +got):\n%s", diff)
	}
	if move.Evidence.CPU == nil || move.Evidence.CPU.P95 != 30 || move.Evidence.Memory == nil || move.Evidence.Memory.P99 != 20 {
		t.Errorf("i-move evidence CPU %+v memory %+v; want the percentiles of its series", move.Evidence.CPU, move.Evidence.Memory)
	}

	// Migrations are advice, not actions: the actions are the plan's
	// own resizes, and i-two, which only migrates, has none.
	if len(plan.Actions) != 2 || slices.ContainsFunc(plan.Actions, func(a domain.Action) bool { return a.Kind != domain.ActionRightsize }) {
		t.Errorf("actions = %v; want the resizes of i-fixed and i-move only", briefs(plan))
	}
}

func TestPlacementFindings(t *testing.T) {
	prices := placeCatalog()
	// Azure westeurope without its block storage price.
	prices = slices.DeleteFunc(prices, func(p domain.Price) bool { return p.SKU == "StandardSSD_LRS" })
	prices = append(prices, vmAt(domain.AWS, "mars-1", "m5.xlarge", "m5", 4, 16, "0.192"))
	stopped := vm("i-stopped", "m5.xlarge", movable)
	stopped.State = domain.StateStopped
	mars := vm("i-mars", "m5.xlarge", movable)
	mars.Region = "mars-1"
	snap := &fakeSnapshot{ref: ref(),
		resources: []domain.Resource{
			vm("i-move", "m5.xlarge", movable), attached("vol-move", "i-move", 100),
			vm("i-unknown", "x9.huge", movable),
			stopped,
			vm("i-idle", "m5.xlarge", movable),
			vm("i-protected", "m5.xlarge", with(movable, "cloudtrim-protect", "yes")),
			mars,
			vm("i-nodisk", "m5.xlarge", movable), attached("vol-empty", "i-nodisk", 0),
			vm("i-plain", "m5.xlarge", nil),
		},
		series: []domain.Series{hourly("i-move", domain.MetricCPU, 336, flat(30)), hourly("i-idle", domain.MetricCPU, 336, flat(1))},
	}
	pol := domain.DefaultPolicy()
	plan := placePlan(t, pol, prices, snap)
	var got []string
	for _, f := range plan.Placement.Findings {
		got = append(got, f.Target.Region+" "+f.Target.ID+": "+f.Reason)
	}
	want := []string{
		"mars-1 i-mars: region aws mars-1 is not one the placement model knows the place of: it cannot be placed",
		"us-east-1 i-idle: idle: the plan stops it rather than moving it",
		"us-east-1 i-nodisk: attached disk vol-empty has no size: the cost of copying it is unknown",
		"us-east-1 i-protected: protected by tag cloudtrim-protect: never moved",
		"us-east-1 i-stopped: not running (state stopped): only running VMs are placed",
		`us-east-1 i-unknown: unknown instance type: "x9.huge" has no hourly price and shape in the aws us-east-1 catalog`,
		"westeurope : missing price: no USD price per GiB-month in westeurope for block storage StandardSSD_LRS: the region is left out of placement",
		// 20 % of the one workload left.
		" : move cap: 20% of 1 movable workloads allows no migration",
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("placement findings (-want +got):\n%s", diff)
	}
	if plan.Placement.Workloads != 1 || len(plan.Placement.Variants) != 3 || len(plan.Placement.Variants[0].ResourceMigrations) != 0 {
		t.Errorf("placement = %+v; want i-move alone, kept where it is by the move cap", plan.Placement)
	}
	// The rest of the plan is made: the idle VM is stopped.
	if !slices.ContainsFunc(plan.Actions, func(a domain.Action) bool { return a.Kind == domain.ActionStop && a.Target.ID == "i-idle" }) {
		t.Errorf("actions = %v; want i-idle stopped", briefs(plan))
	}
}

func TestPlacementInfeasible(t *testing.T) {
	pol := placePolicy()
	pol.Placement.Movable = nil
	// i-move runs outside the allow-list, so it must move, and no
	// location may take its 4 vCPUs.
	pol.Placement.Regions = []string{"us-central1"}
	pol.Placement.MaxVCPUsPerLocation = 2
	plan := placePlan(t, pol, placeCatalog(), placeEstate())
	var got []string
	for _, f := range plan.Placement.Findings {
		got = append(got, f.Target.ID+": "+f.Reason)
	}
	want := []string{"i-move: not placed (too_large): it stays where it runs: it needs 4 vCPU and 4 GiB; none of its 2 allowed locations has that much capacity (the most is 2 vCPU and +Inf GiB)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	for _, v := range plan.Placement.Variants {
		if len(v.ResourceMigrations) != 0 || !v.CostSavings.IsZero() {
			t.Errorf("%s = %+v; want nothing moved", v.Name, v)
		}
	}
}

func TestPlacementNothingMovable(t *testing.T) {
	protected := vm("i-protected", "m5.xlarge", with(movable, "do-not-touch", ""))
	tests := []struct {
		name      string
		resources []domain.Resource
		change    func(*domain.PlacementPolicy)
		want      []string
	}{
		{"no VM carries the marker", []domain.Resource{vm("i-1", "m5.xlarge", optIn)}, func(*domain.PlacementPolicy) {},
			[]string{": no movable workloads: no VM carries the movable tag cloudtrim-movable=true"}},
		{"no marker in the policy", []domain.Resource{vm("i-1", "m5.xlarge", movable)}, func(p *domain.PlacementPolicy) { p.MovableTag = "" },
			[]string{": no movable workloads: the policy's placement section names no marker (movable_tag, movable)"}},
		{"every marked VM left out", []domain.Resource{protected}, func(*domain.PlacementPolicy) {},
			[]string{
				": no movable workloads: none of the 1 VMs carrying the movable tag cloudtrim-movable=true can be placed (see the other findings)",
				"i-protected: protected by tag do-not-touch: never moved",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			tt.change(&pol.Placement)
			plan := placePlan(t, pol, placeCatalog(), &fakeSnapshot{ref: ref(), resources: tt.resources})
			var got []string
			for _, f := range plan.Placement.Findings {
				got = append(got, f.Target.ID+": "+f.Reason)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if plan.Placement.Variants != nil || plan.Placement.Workloads != 0 || plan.Placement.MonthlyCost != (domain.Money{Currency: "USD"}) {
				t.Errorf("placement = %+v; want no workloads and no variants", plan.Placement)
			}
		})
	}
}

func TestPlacementDisabled(t *testing.T) {
	pol := placePolicy()
	pol.Placement.Enabled = false
	plan, err := Optimize(context.Background(), Request{PlanID: "plan-1", Now: now, Policy: pol, Snapshots: []Snapshot{placeEstate()}, Prices: placeCatalog()})
	if err != nil || plan.Placement != nil {
		t.Errorf("Optimize(placement disabled) = %+v, %v; want no placement section", plan.Placement, err)
	}
}

func TestPlacementRequestErrors(t *testing.T) {
	prices := append(placeCatalog(), vmAt(domain.AWS, "mars-1", "m5.xlarge", "m5", 4, 16, "0.192"))
	tests := []struct {
		name    string
		clouds  []domain.Cloud
		regions []string
		want    string // "" for no error
	}{
		{"known regions", nil, []string{"us-east-1", "westeurope"}, ""},
		{"region outside the catalog", nil, []string{"us-east-1", "eu-west-9"}, `placement.regions[1]: the price catalog has no region "eu-west-9"`},
		{"region of another cloud", []domain.Cloud{domain.GCP}, []string{"westeurope"}, `placement.regions[0]: the price catalog has no region "westeurope" in [gcp]`},
		{"region without a known place", nil, []string{"mars-1"}, `placement.regions[0]: the placement model does not know where region "mars-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := placePolicy()
			pol.Placement.Clouds, pol.Placement.Regions = tt.clouds, tt.regions
			_, err := Optimize(context.Background(), Request{PlanID: "plan-1", Now: now, Policy: pol, Snapshots: []Snapshot{placeEstate()}, Prices: prices})
			if tt.want == "" {
				if err != nil {
					t.Errorf("Optimize() error = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Optimize() error = %v; want ErrInvalid naming %q", err, tt.want)
			}
		})
	}
	// A disabled section is not checked against the catalog.
	pol := placePolicy()
	pol.Placement.Enabled, pol.Placement.Regions = false, []string{"eu-west-9"}
	if _, err := Optimize(context.Background(), Request{PlanID: "plan-1", Now: now, Policy: pol, Snapshots: []Snapshot{placeEstate()}, Prices: prices}); err != nil {
		t.Errorf("Optimize(disabled placement naming an unknown region) error = %v; want nil", err)
	}
}

func TestPlacementDeterministic(t *testing.T) {
	base := placeEstate()
	want, _ := modelOf(t, placePolicy(), placeCatalog(), base)
	shuffled := &fakeSnapshot{ref: base.ref, resources: slices.Clone(base.resources), series: slices.Clone(base.series), rows: base.rows}
	slices.Reverse(shuffled.resources)
	slices.Reverse(shuffled.series)
	got, _ := modelOf(t, placePolicy(), placeCatalog(), shuffled)
	if diff := cmp.Diff(want.in, got.in); diff != "" {
		t.Errorf("placement instance differs when the snapshot lists its resources in another order (-first +reversed):\n%s", diff)
	}
}

func TestPlacementOtherCurrency(t *testing.T) {
	pol := placePolicy()
	pol.Currency = "EUR"
	plan := placePlan(t, pol, placeCatalog(), placeEstate())
	var got []string
	for _, f := range plan.Placement.Findings {
		got = append(got, f.Target.ID+": "+f.Reason)
	}
	want := []string{
		": no egress prices in EUR: the published aws rates are in USD, so nothing is placed",
		`i-move: no price: list price of "m5.xlarge" is in "USD", plan is in EUR`,
		// i-two's bill is in USD too, and its list price.
		`i-two: no price: list price of "c5.2xlarge" is in "USD", plan is in EUR`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if len(plan.Placement.Variants) != 0 {
		t.Errorf("variants = %+v; want none", plan.Placement.Variants)
	}
}
