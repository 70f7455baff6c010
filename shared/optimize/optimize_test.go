package optimize

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func optimize(t *testing.T, pol domain.Policy, snaps ...Snapshot) domain.Plan {
	t.Helper()
	return optimizeWith(t, pol, catalog, snaps...)
}

func optimizeWith(t *testing.T, pol domain.Policy, prices Prices, snaps ...Snapshot) domain.Plan {
	t.Helper()
	plan, err := Optimize(context.Background(), Request{PlanID: "plan-1", Now: now, Policy: pol, Snapshots: snaps, Prices: prices})
	if err != nil {
		t.Fatalf("Optimize() error: %v", err)
	}
	if err := plan.Validate(); err != nil {
		t.Fatalf("plan.Validate() = %v", err)
	}
	return plan
}

// brief is the part of an action most tests check.
type brief struct {
	Kind    domain.ActionKind
	ID      string
	Before  domain.ResourceState
	After   domain.ResourceState
	Savings domain.Money
	Basis   string
	Risk    domain.Risk
}

func briefs(p domain.Plan) []brief {
	var out []brief
	for _, a := range p.Actions {
		out = append(out, brief{a.Kind, a.Target.ID, a.Before, a.After, a.MonthlySavings, a.SavingsBasis, a.Risk})
	}
	return out
}

func findings(p domain.Plan) []string {
	var out []string
	for _, f := range p.Skipped {
		out = append(out, f.Target.ID+": "+string(f.Kind)+": "+f.Reason)
	}
	return out
}

func running(sku string) domain.ResourceState {
	return domain.ResourceState{SKU: sku, State: domain.StateRunning}
}

// lowMem is a memory series at 20 %: a 32 GiB VM needs 8 GiB at the 80 % target.
func lowMem(id string) domain.Series { return hourly(id, domain.MetricMemory, 336, flat(20)) }

func TestRightsize(t *testing.T) {
	const twoWeeks = 336
	tests := []struct {
		name      string
		pol       func(*domain.Policy)
		resources []domain.Resource
		series    []domain.Series
		rows      []domain.CostRow
		want      []brief
		findings  []string
	}{
		{
			name:      "low CPU and memory shrink within the family",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			// p95 10 % of 8 vCPU = 0.8 vCPU → 1.14 at 70 %.
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, wave(2, 10)), lowMem("i-1")},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:      "exactly MinDataHours is enough",
			pol:       func(p *domain.Policy) { p.Rightsize.StableRuns = 1 }, // the gate would need 30 h in earlier windows too
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, 30, flat(10)), hourly("i-1", domain.MetricMemory, 30, flat(20))},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:      "one hour short of MinDataHours",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, 29, flat(10)), hourly("i-1", domain.MetricMemory, 29, flat(20))},
			findings:  []string{"i-1: rightsize: insufficient data: 29 h observed, need 30 h"},
		},
		{
			name:      "no series at all",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			findings:  []string{"i-1: rightsize: insufficient data: 0 h observed, need 30 h"},
		},
		{
			name:      "NaN gaps are ignored, not read as zero",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			// 42 observed hours at 60 % (needs 6.9 vCPU) among 294 gaps:
			// only an 8 vCPU size fits.
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, func(i int) float32 {
				if i%8 == 0 {
					return 60
				}
				return domain.Missing
			}), lowMem("i-1")},
			// Read as zeros, p95 would be 0 and the VM would shrink to m5.large.
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("c5.2xlarge"),
				usd("32.12"), domain.BasisListPrice, domain.RiskLow}},
		},
		{
			name:      "NaN gaps count only observed hours",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, func(i int) float32 {
				if i%12 == 0 {
					return 10
				}
				return domain.Missing
			}), lowMem("i-1")},
			findings: []string{"i-1: rightsize: insufficient data: 28 h observed, need 30 h"},
		},
		{
			name:      "memory-bound VM is not shrunk below its need",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			// memory p99 60 % of 32 GiB = 19.2 GiB → 24 GiB at 80 %: no m5
			// below 32 GiB fits, r5.xlarge (4 vCPU, 32 GiB) does.
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), hourly("i-1", domain.MetricMemory, twoWeeks, flat(60))},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("r5.xlarge"),
				usd("96.36"), domain.BasisListPrice, domain.RiskLow}},
		},
		{
			name:      "memory need above current memory: no cheaper size",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), hourly("i-1", domain.MetricMemory, twoWeeks, flat(90))},
		},
		{
			name:      "no memory metric: memory is never shrunk, only CPU",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10))},
			// 8 vCPU × 10 % / 70 % → 1.1 vCPU; memory kept at 32 GiB: r5.xlarge.
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("r5.xlarge"),
				usd("96.36"), domain.BasisListPrice, domain.RiskLow}},
		},
		{
			name:      "busy VM: no cheaper size fits",
			resources: []domain.Resource{vm("i-1", "m5.large", optIn)},
			// 2 vCPU × 60 % / 70 % = 1.7 vCPU; 8 GiB × 70 % / 80 % = 7 GiB:
			// only burstable t3 and arm64 m6g are cheaper with 2 vCPU.
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(60)), hourly("i-1", domain.MetricMemory, twoWeeks, flat(70))},
		},
		{
			name:      "cheaper size in another family when the family has none",
			resources: []domain.Resource{vm("i-1", "m5.large", optIn)},
			// memory 30 % of 8 GiB → 3 GiB: c5.large (2 vCPU, 4 GiB) fits.
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(20)), hourly("i-1", domain.MetricMemory, twoWeeks, flat(30))},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.large"), running("c5.large"),
				usd("8.03"), domain.BasisListPrice, domain.RiskLow}},
		},
		{
			name:      "GPU VM stays on a GPU size",
			resources: []domain.Resource{vm("i-1", "g4dn.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), hourly("i-1", domain.MetricMemory, twoWeeks, flat(20))},
			want: []brief{{domain.ActionRightsize, "i-1", running("g4dn.2xlarge"), running("g4dn.xlarge"),
				usd("164.98"), domain.BasisListPrice, domain.RiskLow}},
		},
		{
			name:      "savings below the policy minimum",
			pol:       func(p *domain.Policy) { p.MinMonthlySavings = 250 },
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), lowMem("i-1")},
		},
		{
			name:      "family size below the minimum, another family above it",
			pol:       func(p *domain.Policy) { p.MinMonthlySavings = 215 },
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			// m5.large saves 210.24; c5.large (4 GiB) does not fit 8 GiB.
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), lowMem("i-1")},
		},
		{
			name:      "size missing from the catalog",
			resources: []domain.Resource{vm("i-1", "x9.huge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10))},
			findings:  []string{`i-1: rightsize: no price: size "x9.huge" has no hourly price and shape in the aws us-east-1 catalog`},
		},
		{
			name:      "savings from the bill carry its discount",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), lowMem("i-1")},
			// 0.20 an hour effective → 146.00 a month; m5.large is 1/4 of
			// the list price, so 3/4 of 146.00 is saved.
			rows: hourlyRows("i-1", twoWeeks, "0.2", "0.384"),
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("109.5"), domain.BasisEffectiveCost, domain.RiskMedium}},
		},
		{
			name:      "rows sharing a charge period count its hours once",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), lowMem("i-1")},
			rows:      append(hourlyRows("i-1", twoWeeks, "0.15", "0.384"), hourlyRows("i-1", twoWeeks, "0.05", "0")...),
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("109.5"), domain.BasisEffectiveCost, domain.RiskMedium}},
		},
		{
			name:      "bill in another currency falls back to the list price",
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), lowMem("i-1")},
			rows: func() []domain.CostRow {
				rows := hourlyRows("i-1", twoWeeks, "0.2", "0.384")
				for i := range rows {
					rows[i].BillingCurrency = "EUR"
				}
				return rows
			}(),
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:      "rightsizing disabled",
			pol:       func(p *domain.Policy) { p.Rightsize.Enabled = false },
			resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
			series:    []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10)), lowMem("i-1")},
		},
		{
			name: "stopped VMs are left alone",
			resources: []domain.Resource{func() domain.Resource {
				r := vm("i-1", "m5.2xlarge", optIn)
				r.State = domain.StateStopped
				return r
			}()},
			series: []domain.Series{hourly("i-1", domain.MetricCPU, twoWeeks, flat(10))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			pol.Rightsize.MinConfidence = 0 // short windows are tested here; the gate has its own test
			if tt.pol != nil {
				tt.pol(&pol)
			}
			plan := optimize(t, pol, &fakeSnapshot{ref: ref(), resources: tt.resources, series: tt.series, rows: tt.rows})
			if diff := cmp.Diff(tt.want, briefs(plan)); diff != "" {
				t.Errorf("Optimize() actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, findings(plan)); diff != "" {
				t.Errorf("Optimize() skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRightsizeEvidence(t *testing.T) {
	snap := &fakeSnapshot{ref: ref(),
		resources: []domain.Resource{vm("i-1", "m5.2xlarge", nil), vm("i-2", "m5.2xlarge", optIn)},
		series: []domain.Series{
			hourly("i-1", domain.MetricCPU, 336, wave(2, 10)), lowMem("i-1"),
			hourly("i-2", domain.MetricCPU, 336, wave(2, 10)),
		}}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	if len(plan.Actions) != 2 {
		t.Fatalf("Optimize() = %d actions; want 2", len(plan.Actions))
	}
	withMem, _ := plan.Action(domain.ActionID(domain.ActionRightsize, vm("i-1", "", nil).Ref()))
	noMem, _ := plan.Action(domain.ActionID(domain.ActionRightsize, vm("i-2", "", nil).Ref()))

	ev := withMem.Evidence
	if ev.VCPU != 8 || ev.MemoryMiB != 32768 || ev.NewVCPU != 2 || ev.NewMemoryMiB != 8192 {
		t.Errorf("evidence shape = %d vCPU %d MiB → %d vCPU %d MiB; want 8/32768 → 2/8192", ev.VCPU, ev.MemoryMiB, ev.NewVCPU, ev.NewMemoryMiB)
	}
	if ev.CPU == nil || ev.CPU.Points != 336 || ev.CPU.Hours != 336 || ev.Memory == nil || ev.Memory.P99 != 20 {
		t.Errorf("evidence stats = %+v / %+v; want 336 CPU points and memory p99 20", ev.CPU, ev.Memory)
	}
	if len(ev.DailyPeakCPU) != 14 || ev.DailyPeakCPU[0] != 10 {
		t.Errorf("daily peaks = %v; want 14 peaks of 10", ev.DailyPeakCPU)
	}
	if !ev.WindowStart.Equal(windowEnd.Add(-336*time.Hour)) || !ev.WindowEnd.Equal(windowEnd) {
		t.Errorf("window = %v..%v; want the two weeks before %v", ev.WindowStart, ev.WindowEnd, windowEnd)
	}
	if withMem.Undo != "resize back to m5.2xlarge" {
		t.Errorf("undo = %q", withMem.Undo)
	}
	if !strings.Contains(withMem.Summary, "not opted in") {
		t.Errorf("summary of a resource without the opt-in tag = %q; want it to say not opted in", withMem.Summary)
	}
	if strings.Contains(noMem.Summary, "not opted in") {
		t.Errorf("summary of an opted-in resource = %q", noMem.Summary)
	}
	if noMem.Confidence >= withMem.Confidence {
		t.Errorf("confidence without memory %v >= with memory %v", noMem.Confidence, withMem.Confidence)
	}
	if withMem.Confidence != 1 {
		t.Errorf("confidence with two full weeks = %v; want 1", withMem.Confidence)
	}
	if !hasNote(noMem, "no memory metric") {
		t.Errorf("notes = %q; want a note on the missing memory metric", noMem.Evidence.Notes)
	}
	if noMem.Evidence.Memory != nil {
		t.Errorf("memory stats without a memory series = %+v", noMem.Evidence.Memory)
	}
	if withMem.MonthlyCost != usd("280.32") {
		t.Errorf("monthly cost = %v; want USD 280.32", withMem.MonthlyCost)
	}
}

func hasNote(a domain.Action, sub string) bool {
	for _, n := range a.Evidence.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func TestIdleAndSchedule(t *testing.T) {
	dev := with(optIn, "env", "Dev")
	tests := []struct {
		name     string
		pol      func(*domain.Policy)
		res      domain.Resource
		series   []domain.Series
		want     []brief
		schedule *domain.Schedule
		note     string
	}{
		{
			name:   "idle production VM is stopped",
			res:    vm("i-1", "m5.2xlarge", optIn),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, wave(0.5, 3)), lowMem("i-1")},
			want: []brief{{domain.ActionStop, "i-1", running("m5.2xlarge"), domain.ResourceState{SKU: "m5.2xlarge", State: domain.StateStopped},
				usd("280.32"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:   "idle threshold is strict",
			res:    vm("i-1", "m5.2xlarge", optIn),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(5)), lowMem("i-1")},
			// p95 5 % is not below 5 %: rightsized instead.
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:   "too few days for idle: rightsized",
			res:    vm("i-1", "m5.2xlarge", optIn),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 6*24, flat(1)), hourly("i-1", domain.MetricMemory, 6*24, flat(20))},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:   "idle non-production VM is stopped, not scheduled",
			res:    vm("i-1", "m5.2xlarge", dev),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(1))},
			want: []brief{{domain.ActionStop, "i-1", running("m5.2xlarge"), domain.ResourceState{SKU: "m5.2xlarge", State: domain.StateStopped},
				usd("280.32"), domain.BasisListPrice, domain.RiskLow}},
		},
		{
			name:   "busy non-production VM is scheduled",
			res:    vm("i-1", "m5.2xlarge", dev),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(10))},
			// Mon-Fri 08:00-20:00 runs 60 of 168 hours: 108/168 of 280.32.
			want: []brief{{domain.ActionSchedule, "i-1", running("m5.2xlarge"), domain.ResourceState{SKU: "m5.2xlarge", State: domain.StateScheduled},
				domain.USD(180_205_714), domain.BasisListPrice, domain.RiskLow}},
			schedule: &domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"},
		},
		{
			name: "non-production VM without data is scheduled",
			res:  vm("i-1", "m5.2xlarge", dev),
			want: []brief{{domain.ActionSchedule, "i-1", running("m5.2xlarge"), domain.ResourceState{SKU: "m5.2xlarge", State: domain.StateScheduled},
				domain.USD(180_205_714), domain.BasisListPrice, domain.RiskLow}},
			schedule: &domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"},
		},
		{
			name: "time zone from a tz tag",
			res:  vm("i-1", "m5.2xlarge", with(dev, "TZ", "Europe/Paris")),
			want: []brief{{domain.ActionSchedule, "i-1", running("m5.2xlarge"), domain.ResourceState{SKU: "m5.2xlarge", State: domain.StateScheduled},
				domain.USD(180_205_714), domain.BasisListPrice, domain.RiskLow}},
			schedule: &domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"},
		},
		{
			name: "invalid timezone tag keeps the default",
			res:  vm("i-1", "m5.2xlarge", with(dev, "timezone", "../../etc/passwd")),
			want: []brief{{domain.ActionSchedule, "i-1", running("m5.2xlarge"), domain.ResourceState{SKU: "m5.2xlarge", State: domain.StateScheduled},
				domain.USD(180_205_714), domain.BasisListPrice, domain.RiskLow}},
			schedule: &domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"},
			note:     "is not a time zone",
		},
		{
			name:   "schedules disabled: non-production VM is rightsized",
			pol:    func(p *domain.Policy) { p.Schedules.Enabled = false },
			res:    vm("i-1", "m5.2xlarge", dev),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(10)), lowMem("i-1")},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
		{
			name:   "idle disabled: idle production VM is rightsized",
			pol:    func(p *domain.Policy) { p.Idle.Enabled = false },
			res:    vm("i-1", "m5.2xlarge", optIn),
			series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(1)), lowMem("i-1")},
			want: []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("m5.large"),
				usd("210.24"), domain.BasisListPrice, domain.RiskMedium}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			if tt.pol != nil {
				tt.pol(&pol)
			}
			plan := optimize(t, pol, &fakeSnapshot{ref: ref(), resources: []domain.Resource{tt.res}, series: tt.series})
			if diff := cmp.Diff(tt.want, briefs(plan)); diff != "" {
				t.Fatalf("Optimize() actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.schedule, plan.Actions[0].Schedule); diff != "" {
				t.Errorf("schedule (-want +got):\n%s", diff)
			}
			if tt.note != "" && !hasNote(plan.Actions[0], tt.note) {
				t.Errorf("notes = %q; want one containing %q", plan.Actions[0].Evidence.Notes, tt.note)
			}
		})
	}
}

func TestOrphans(t *testing.T) {
	disk := func(id, state, attached string, ageDays int) domain.Resource {
		return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindDisk, ID: id, SKU: "gp3",
			State: state, AttachedTo: attached, SizeGiB: 100, CreatedAt: now.AddDate(0, 0, -ageDays), Tags: optIn}
	}
	ip := func(id, state, attached string) domain.Resource {
		return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindIP, ID: id, SKU: "public-ipv4",
			State: state, AttachedTo: attached, CreatedAt: now.AddDate(0, 0, -30), Tags: optIn}
	}
	snapshot := func(id string, ageDays int) domain.Resource {
		return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindSnapshot, ID: id, SKU: "standard",
			State: domain.StateAvailable, AttachedTo: "vol-src", SizeGiB: 50, CreatedAt: now.AddDate(0, 0, -ageDays), Tags: optIn}
	}
	noAge := disk("vol-noage", domain.StateAvailable, "", 0)
	noAge.CreatedAt = time.Time{}
	snap := &fakeSnapshot{ref: ref(), resources: []domain.Resource{
		disk("vol-old", domain.StateAvailable, "", 10),
		disk("vol-exact", domain.StateAvailable, "", 7),
		disk("vol-young", domain.StateAvailable, "", 6),
		disk("vol-used", domain.StateInUse, "i-1", 100),
		disk("vol-odd", domain.StateAvailable, "i-1", 100), // inconsistent: left alone
		disk("vol-billed", domain.StateAvailable, "", 30),
		noAge,
		ip("eip-free", domain.StateAvailable, ""),
		ip("eip-used", domain.StateAssociated, "i-1"),
		snapshot("snap-old", 120),
		snapshot("snap-exact", 90),
		snapshot("snap-new", 10),
	}, rows: hourlyRows("vol-billed", 24*14, "0.01", "0.011")}
	plan := optimize(t, domain.DefaultPolicy(), snap)

	deleted := domain.ResourceState{State: domain.StateDeleted}
	want := []brief{
		{domain.ActionDeleteDisk, "vol-exact", domain.ResourceState{SKU: "gp3", State: "available", SizeGiB: 100}, deleted, usd("8"), domain.BasisListPrice, domain.RiskLow},
		{domain.ActionDeleteDisk, "vol-old", domain.ResourceState{SKU: "gp3", State: "available", SizeGiB: 100}, deleted, usd("8"), domain.BasisListPrice, domain.RiskLow},
		{domain.ActionDeleteDisk, "vol-billed", domain.ResourceState{SKU: "gp3", State: "available", SizeGiB: 100}, deleted, usd("7.3"), domain.BasisEffectiveCost, domain.RiskLow},
		{domain.ActionReleaseIP, "eip-free", domain.ResourceState{SKU: "public-ipv4", State: "available"}, domain.ResourceState{State: domain.StateReleased}, usd("3.65"), domain.BasisListPrice, domain.RiskMedium},
		{domain.ActionDeleteSnapshot, "snap-old", domain.ResourceState{SKU: "standard", State: "available", SizeGiB: 50, AttachedTo: "vol-src"}, deleted, usd("2.5"), domain.BasisListPrice, domain.RiskMedium},
	}
	// Equal savings sort by action ID: compare as sets ordered like the plan.
	got := briefs(plan)
	if diff := cmp.Diff(want, got, cmpSortBriefs); diff != "" {
		t.Errorf("Optimize() actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"vol-noage: delete_disk: creation time unknown: the disk's age cannot be checked"}, findings(plan)); diff != "" {
		t.Errorf("Optimize() skipped (-want +got):\n%s", diff)
	}
	a, _ := plan.Action(domain.ActionID(domain.ActionDeleteDisk, snap.resources[0].Ref()))
	if a.Undo != "restore from the snapshot taken before deletion" || a.Evidence.AgeDays != 10 || a.Confidence != 1 {
		t.Errorf("delete disk: undo %q, age %v, confidence %v", a.Undo, a.Evidence.AgeDays, a.Confidence)
	}

	pol := domain.DefaultPolicy()
	pol.Orphans.Enabled = false
	if plan := optimize(t, pol, snap); len(plan.Actions) != 0 {
		t.Errorf("Optimize() with orphans disabled = %v; want no actions", briefs(plan))
	}
}

var cmpSortBriefs = cmp.Transformer("sort", func(in []brief) []brief {
	out := append([]brief(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].ID < out[i].ID {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestExclusions(t *testing.T) {
	incomplete := vm("i-incomplete", "m5.2xlarge", nil)
	incomplete.Incomplete = "ec2:DescribeTags AccessDenied"
	protected := vm("i-protected", "m5.2xlarge", with(optIn, "Do-Not-Touch", "yes"))
	protectedDisk := domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindDisk, ID: "vol-protected",
		SKU: "gp3", State: domain.StateAvailable, SizeGiB: 10, CreatedAt: now.AddDate(-1, 0, 0), Tags: map[string]string{"cloudtrim-protect": ""}}
	invalid := vm("", "m5.large", nil)
	notOptedIn := vm("i-plain", "m5.2xlarge", map[string]string{"team": "web"})
	var series []domain.Series
	var rows []domain.CostRow
	for _, id := range []string{"i-incomplete", "i-protected", "i-plain"} {
		series = append(series, hourly(id, domain.MetricCPU, 336, flat(1)))
		rows = append(rows, hourlyRows(id, 10, "1", "1")...)
	}
	snap := &fakeSnapshot{ref: ref(), resources: []domain.Resource{incomplete, protected, protectedDisk, invalid, notOptedIn}, series: series, rows: rows}
	plan := optimize(t, domain.DefaultPolicy(), snap)

	want := []string{
		"vol-protected: : protected by tag cloudtrim-protect",
		": : invalid resource: invalid: resource has no id",
		"i-incomplete: : tags or state could not be read: ec2:DescribeTags AccessDenied",
		"i-protected: : protected by tag Do-Not-Touch",
	}
	if diff := cmp.Diff(want, findings(plan)); diff != "" {
		t.Errorf("Optimize() skipped (-want +got):\n%s", diff)
	}
	if len(plan.Actions) != 1 || plan.Actions[0].Target.ID != "i-plain" {
		t.Fatalf("Optimize() actions = %v; want one for i-plain", briefs(plan))
	}
	a := plan.Actions[0]
	if diff := cmp.Diff(notOptedIn.Tags, a.Tags); diff != "" {
		t.Errorf("action tags (-want +got):\n%s", diff)
	}
	if !strings.Contains(a.Summary, "not opted in") {
		t.Errorf("summary = %q; want it to say not opted in", a.Summary)
	}
	if a.SavingsBasis != domain.BasisEffectiveCost || a.MonthlySavings != usd("730") {
		t.Errorf("savings = %v (%s); want USD 730 from the bill", a.MonthlySavings, a.SavingsBasis)
	}
	if plan.Resources != 4 {
		t.Errorf("plan.Resources = %d; want 4 (the invalid one is not counted)", plan.Resources)
	}
}

func TestPlanHeader(t *testing.T) {
	aws := &fakeSnapshot{ref: ref(), resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
		series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(1))}}
	gcpRef := domain.SnapshotRef{Cloud: domain.GCP, RunID: "run-gcp-1", At: windowEnd}
	gcp := &fakeSnapshot{ref: gcpRef}
	pol := domain.DefaultPolicy()
	plan := optimize(t, pol, gcp, aws)
	if plan.Version != domain.PlanVersion || plan.ID != "plan-1" || !plan.CreatedAt.Equal(now) || plan.Currency != "USD" ||
		plan.PolicyHash != pol.Hash() || plan.OptInTag != "cloudtrim-optin" || plan.Resources != 1 {
		t.Errorf("plan header = %+v", plan)
	}
	if diff := cmp.Diff([]domain.SnapshotRef{ref(), gcpRef}, plan.Snapshots); diff != "" {
		t.Errorf("plan.Snapshots (-want +got):\n%s", diff)
	}
	a := plan.Actions[0]
	if a.ID != domain.ActionID(domain.ActionStop, a.Target) || a.PlanID != "plan-1" {
		t.Errorf("action ID %q plan %q", a.ID, a.PlanID)
	}
}

func TestAzureIDsJoinWithoutCase(t *testing.T) {
	id := "/subscriptions/SUB-1/resourceGroups/RG/providers/Microsoft.Compute/disks/Data1"
	disk := domain.Resource{Cloud: domain.Azure, Account: "sub-1", Region: "westeurope", Kind: domain.KindDisk, ID: id, SKU: "Premium_LRS",
		State: domain.StateAvailable, SizeGiB: 128, CreatedAt: now.AddDate(0, -2, 0)}
	rows := hourlyRows(strings.ToLower(id), 48, "0.02", "0.02")
	snap := &fakeSnapshot{ref: domain.SnapshotRef{Cloud: domain.Azure, RunID: "run-az"}, resources: []domain.Resource{disk}, rows: rows}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	if len(plan.Actions) != 1 || plan.Actions[0].SavingsBasis != domain.BasisEffectiveCost || plan.Actions[0].MonthlySavings != usd("14.6") {
		t.Errorf("Optimize() = %v; want one delete saving USD 14.60 from the bill", briefs(plan))
	}
}

// estate builds a mixed snapshot of n VMs with a few of every case.
func estate(n int) *fakeSnapshot {
	s := &fakeSnapshot{ref: ref()}
	skus := []string{"m5.2xlarge", "m5.xlarge", "c5.2xlarge", "r5.xlarge", "m5.large"}
	for i := range n {
		id := "i-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		tags := optIn
		if i%7 == 0 {
			tags = with(optIn, "env", "qa")
		}
		s.resources = append(s.resources, vm(id, skus[i%len(skus)], tags))
		level := float32(i%10) * 4
		s.series = append(s.series, hourly(id, domain.MetricCPU, 336, wave(level/4, level)))
		if i%3 != 0 {
			s.series = append(s.series, hourly(id, domain.MetricMemory, 336, flat(float32(i%5)*15)))
		}
		if i%2 == 0 {
			s.rows = append(s.rows, hourlyRows(id, 48, "0.1", "0.2")...)
		}
	}
	return s
}

func TestDeterministic(t *testing.T) {
	base := estate(60)
	first := optimize(t, domain.DefaultPolicy(), base)
	if len(first.Actions) < 20 {
		t.Fatalf("estate gave %d actions; want a mix of at least 20", len(first.Actions))
	}
	want, _ := json.Marshal(first)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := &fakeSnapshot{ref: base.ref,
			resources: append([]domain.Resource(nil), base.resources...),
			series:    append([]domain.Series(nil), base.series...),
			rows:      append([]domain.CostRow(nil), base.rows...)}
		rng.Shuffle(len(shuffled.series), func(i, j int) { shuffled.series[i], shuffled.series[j] = shuffled.series[j], shuffled.series[i] })
		rng.Shuffle(len(shuffled.rows), func(i, j int) { shuffled.rows[i], shuffled.rows[j] = shuffled.rows[j], shuffled.rows[i] })
		if i > 0 {
			rng.Shuffle(len(shuffled.resources), func(i, j int) {
				shuffled.resources[i], shuffled.resources[j] = shuffled.resources[j], shuffled.resources[i]
			})
		}
		got, _ := json.Marshal(optimize(t, domain.DefaultPolicy(), shuffled))
		if string(got) != string(want) {
			t.Fatalf("run %d: plan differs after shuffling the snapshot's order", i)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	good := func() Request {
		return Request{PlanID: "p", Now: now, Policy: domain.DefaultPolicy(), Prices: catalog, Snapshots: []Snapshot{&fakeSnapshot{ref: ref()}}}
	}
	boom := errors.New("boom")
	tests := []struct {
		name   string
		change func(*Request)
		want   error
	}{
		{"no plan id", func(r *Request) { r.PlanID = "" }, domain.ErrInvalid},
		{"no time", func(r *Request) { r.Now = time.Time{} }, domain.ErrInvalid},
		{"no prices", func(r *Request) { r.Prices = nil }, domain.ErrInvalid},
		{"no snapshots", func(r *Request) { r.Snapshots = nil }, domain.ErrInvalid},
		{"two snapshots of a cloud", func(r *Request) { r.Snapshots = append(r.Snapshots, &fakeSnapshot{ref: ref()}) }, domain.ErrInvalid},
		{"unknown cloud", func(r *Request) { r.Snapshots = []Snapshot{&fakeSnapshot{ref: domain.SnapshotRef{Cloud: "oci"}}} }, domain.ErrInvalid},
		{"invalid policy", func(r *Request) { r.Policy.Rightsize.TargetCPUPercent = 0 }, domain.ErrInvalid},
		{"policy of another version", func(r *Request) { r.Policy.Version = "v0" }, domain.ErrUnsupported},
		{"resources fail", func(r *Request) { r.Snapshots = []Snapshot{&fakeSnapshot{ref: ref(), errResources: boom}} }, boom},
		{"cost rows fail", func(r *Request) { r.Snapshots = []Snapshot{&fakeSnapshot{ref: ref(), errRows: boom}} }, boom},
		{"series fail", func(r *Request) { r.Snapshots = []Snapshot{&fakeSnapshot{ref: ref(), errSeries: boom}} }, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good()
			tt.change(&req)
			_, err := Optimize(context.Background(), req)
			if !errors.Is(err, tt.want) {
				t.Errorf("Optimize() error = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	snap := estate(10)
	calls := 0
	cancelling := &cancelAfter{fakeSnapshot: snap, n: 5, calls: &calls, cancel: cancel}
	_, err := Optimize(ctx, Request{PlanID: "p", Now: now, Policy: domain.DefaultPolicy(), Prices: catalog, Snapshots: []Snapshot{cancelling}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Optimize() error = %v; want context.Canceled", err)
	}
	if calls > 6 {
		t.Errorf("series read after cancel: %d calls; want the run to stop at the next series", calls)
	}
}

// cancelAfter cancels the context after n series and keeps going, as a
// reader that does not check the context itself would.
type cancelAfter struct {
	*fakeSnapshot
	n      int
	calls  *int
	cancel func()
}

func (c *cancelAfter) Series(ctx context.Context, fn func(domain.Series) error) error {
	for _, s := range c.series {
		*c.calls++
		if *c.calls == c.n {
			c.cancel()
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func TestMulDiv(t *testing.T) {
	tests := []struct {
		a, b, c int64
		want    int64
		ok      bool
	}{
		{10, 1, 4, 3, true}, // 2.5 rounds away from zero
		{-10, 1, 4, -3, true},
		{10, -1, 4, -3, true},
		{9, 1, 4, 2, true},
		{280_320_000, 6480, 10080, 180_205_714, true},
		{math.MaxInt64, 730 * 3600, 3600, 0, false},
		{1 << 62, 1 << 20, 1 << 20, 1 << 62, true}, // 128-bit intermediate
		{1, 1, 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := mulDiv(tt.a, tt.b, tt.c)
		if got != tt.want || ok != tt.ok {
			t.Errorf("mulDiv(%d, %d, %d) = %d, %v; want %d, %v", tt.a, tt.b, tt.c, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAddSpan(t *testing.T) {
	tests := []struct {
		name string
		in   []span
		want []span
	}{
		{"in order, touching", []span{{0, 10}, {10, 20}, {20, 30}}, []span{{0, 30}}},
		{"duplicates", []span{{0, 10}, {0, 10}, {0, 10}}, []span{{0, 10}}},
		{"gap", []span{{0, 10}, {20, 30}}, []span{{0, 10}, {20, 30}}},
		{"out of order fills a gap", []span{{20, 30}, {0, 5}, {40, 50}, {5, 20}}, []span{{0, 30}, {40, 50}}},
		{"out of order before all", []span{{20, 30}, {0, 5}}, []span{{0, 5}, {20, 30}}},
		{"covers several", []span{{0, 1}, {2, 3}, {4, 5}, {10, 11}, {-1, 6}}, []span{{-1, 6}, {10, 11}}},
	}
	for _, tt := range tests {
		var got []span
		for _, s := range tt.in {
			got = addSpan(got, s)
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(span{})); diff != "" {
			t.Errorf("%s: addSpan (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestDailyPeaks(t *testing.T) {
	// Starts at 18:00: the first day has 6 points, then a full day with a
	// gap of a whole day after it.
	start := time.Date(2026, 11, 1, 18, 0, 0, 0, time.UTC)
	vals := make([]float32, 6+24+24+3)
	for i := range vals {
		vals[i] = float32(i % 24)
	}
	for i := 30; i < 54; i++ {
		vals[i] = domain.Missing
	}
	s := domain.Series{ResourceID: "i-1", Metric: domain.MetricCPU, Start: start, Step: time.Hour, Values: vals}
	got := dailyPeaks(s, nil)
	want := []float32{5, 23, -1, 8}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dailyPeaks (-want +got):\n%s", diff)
	}
}

func TestMemoryAtZeroIsNoData(t *testing.T) {
	snap := &fakeSnapshot{ref: ref(), resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
		series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, flat(10)), hourly("i-1", domain.MetricMemory, 336, flat(0))}}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	// Treated as missing: memory kept whole (r5.xlarge), not shrunk to m5.large.
	want := []brief{{domain.ActionRightsize, "i-1", running("m5.2xlarge"), running("r5.xlarge"), usd("96.36"), domain.BasisListPrice, domain.RiskLow}}
	if diff := cmp.Diff(want, briefs(plan)); diff != "" {
		t.Fatalf("Optimize() actions (-want +got):\n%s", diff)
	}
	if !hasNote(plan.Actions[0], "memory metric reads 0% throughout") {
		t.Errorf("notes = %q", plan.Actions[0].Evidence.Notes)
	}
}

func TestLowConfidenceResizeIsLeftOut(t *testing.T) {
	// 40 observed hours of a 14-day window: enough data, too little confidence.
	vals := make([]float32, 336)
	for i := range vals {
		vals[i] = domain.Missing
		if i >= 296 {
			vals[i] = 10
		}
	}
	snap := &fakeSnapshot{ref: ref(), resources: []domain.Resource{vm("i-1", "m5.2xlarge", optIn)},
		series: []domain.Series{hourly("i-1", domain.MetricCPU, 336, func(i int) float32 { return vals[i] }), hourly("i-1", domain.MetricMemory, 336, func(i int) float32 { return vals[i] })}}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	if len(plan.Actions) != 0 {
		t.Fatalf("Optimize() proposed %v on 40 h of data; want nothing at the default minimum confidence", briefs(plan))
	}
	if len(plan.Skipped) != 1 || !strings.Contains(plan.Skipped[0].Reason, "low confidence") {
		t.Fatalf("skipped = %+v; want one low-confidence finding", plan.Skipped)
	}
	pol := domain.DefaultPolicy()
	pol.Rightsize.MinConfidence = 0
	pol.Rightsize.StableRuns = 1 // the earlier runs' windows hold less than 30 h
	if plan := optimize(t, pol, snap); len(plan.Actions) != 1 {
		t.Fatalf("with min_confidence 0: %d actions; want 1", len(plan.Actions))
	}
}

// TestStoppedButAllocatedIsDeallocated: a VM stopped without
// deallocation still bills for its size, so the plan deallocates it,
// saving its compute cost, whatever its utilization.
func TestStoppedButAllocatedIsDeallocated(t *testing.T) {
	r := vm("i-stopped", "m5.large", map[string]string{"cloudtrim-optin": "true"})
	r.State = domain.StateStoppedAllocated
	snap := &fakeSnapshot{ref: ref(), resources: []domain.Resource{r}}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	if len(plan.Actions) != 1 {
		t.Fatalf("Optimize() = %v; want one deallocation", briefs(plan))
	}
	a := plan.Actions[0]
	if a.Kind != domain.ActionStop || a.Before.State != domain.StateStoppedAllocated || a.After.State != domain.StateStopped ||
		a.MonthlySavings.Micros <= 0 || a.Risk != domain.RiskLow || !hasNote(a, "still billed") {
		t.Errorf("action = %+v; want a low-risk stop from stopped-allocated to stopped saving its compute, saying why", briefs(plan)[0])
	}
	// A VM stopped and deallocated gets nothing.
	r.State = domain.StateStopped
	if plan := optimize(t, domain.DefaultPolicy(), &fakeSnapshot{ref: ref(), resources: []domain.Resource{r}}); len(plan.Actions) != 0 {
		t.Errorf("a deallocated VM got %v", briefs(plan))
	}
}
