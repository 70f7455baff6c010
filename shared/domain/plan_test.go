package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func vmRef(id string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: domain.AWS, Account: "111122223333", Region: "us-east-1", Kind: domain.KindVM, ID: id}
}

// sampleAction returns a fully populated action of plan planID.
func sampleAction(planID string, kind domain.ActionKind, ref domain.ResourceRef, savingsMicros int64) domain.Action {
	cpu := domain.Stats{Points: 720, Hours: 720, Mean: 4, Max: 30, P50: 3, P95: 12, P99: 20}
	return domain.Action{
		ID:     domain.ActionID(kind, ref),
		PlanID: planID,
		Kind:   kind,
		Target: ref,
		Name:   "web-" + ref.ID,
		Before: domain.ResourceState{SKU: "m5.xlarge", State: domain.StateRunning},
		After:  domain.ResourceState{SKU: "m5.large", State: domain.StateRunning},
		Tags:   map[string]string{"cloudtrim-optin": "true"},

		Summary: "Resize m5.xlarge to m5.large",
		Evidence: domain.Evidence{
			WindowStart: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			WindowEnd:   time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC),
			CPU:         &cpu,
			VCPU:        4, MemoryMiB: 16384, NewVCPU: 2, NewMemoryMiB: 8192,
			DailyPeakCPU: []float64{30, 12, -1},
			Notes:        []string{"memory not measured"},
		},
		MonthlyCost:    domain.USD(140_160_000),
		MonthlySavings: domain.USD(savingsMicros),
		SavingsBasis:   domain.BasisListPrice,
		Risk:           domain.RiskMedium,
		Confidence:     0.8,
		Undo:           "resize back to m5.xlarge",
	}
}

func TestActionID(t *testing.T) {
	ref := vmRef("i-0abc")
	id := domain.ActionID(domain.ActionRightsize, ref)

	// The same finding must get the same ID in every plan, in every
	// release: approvals and action states are keyed by it.
	if want := "act-"; !strings.HasPrefix(id, want) || len(id) != len(want)+16 {
		t.Errorf("ActionID(rightsize, %v) = %q; want act- and 16 hex digits", ref, id)
	}
	if got := domain.ActionID(domain.ActionRightsize, vmRef("i-0abc")); got != id {
		t.Errorf("ActionID(rightsize, %v) = %q, then %q; want the same ID", ref, id, got)
	}

	tests := []struct {
		name string
		kind domain.ActionKind
		ref  domain.ResourceRef
	}{
		{"another kind", domain.ActionStop, ref},
		{"another resource id", domain.ActionRightsize, vmRef("i-0abd")},
		{"another account", domain.ActionRightsize, domain.ResourceRef{Cloud: domain.AWS, Account: "999988887777", Region: "us-east-1", Kind: domain.KindVM, ID: "i-0abc"}},
		{"another region", domain.ActionRightsize, domain.ResourceRef{Cloud: domain.AWS, Account: "111122223333", Region: "eu-west-1", Kind: domain.KindVM, ID: "i-0abc"}},
		{"another cloud", domain.ActionRightsize, domain.ResourceRef{Cloud: domain.GCP, Account: "111122223333", Region: "us-east-1", Kind: domain.KindVM, ID: "i-0abc"}},
		// Fields are separated, so moving a character across a boundary
		// names another resource.
		{"shifted boundary", domain.ActionRightsize, domain.ResourceRef{Cloud: domain.AWS, Account: "111122223333u", Region: "s-east-1", Kind: domain.KindVM, ID: "i-0abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.ActionID(tt.kind, tt.ref); got == id {
				t.Errorf("ActionID(%s, %v) = %q; want it to differ from ActionID(rightsize, %v)", tt.kind, tt.ref, got, ref)
			}
		})
	}

	seen := map[string]domain.ActionKind{}
	for _, k := range domain.ActionKinds {
		got := domain.ActionID(k, ref)
		if other, dup := seen[got]; dup {
			t.Errorf("ActionID(%s, %v) = ActionID(%s, %v) = %q; want one ID per kind", k, ref, other, ref, got)
		}
		seen[got] = k
	}
}

func TestActionHashChanges(t *testing.T) {
	base := sampleAction("plan-1", domain.ActionRightsize, vmRef("i-1"), 70_080_000)
	baseHash := base.Hash()
	if !strings.HasPrefix(baseHash, "sha256:") || len(baseHash) != len("sha256:")+64 {
		t.Errorf("Hash() = %q; want sha256: and 64 hex digits", baseHash)
	}
	weekdays := &domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	tests := []struct {
		name    string
		mutate  func(*domain.Action)
		changes bool
	}{
		{"nothing", func(*domain.Action) {}, false},
		{"plan id", func(a *domain.Action) { a.PlanID = "plan-2" }, true},
		{"action id", func(a *domain.Action) { a.ID = "act-other" }, true},
		{"kind", func(a *domain.Action) { a.Kind = domain.ActionStop }, true},
		{"target id", func(a *domain.Action) { a.Target.ID = "i-2" }, true},
		{"target region", func(a *domain.Action) { a.Target.Region = "us-west-2" }, true},
		{"target account", func(a *domain.Action) { a.Target.Account = "999988887777" }, true},
		{"before sku", func(a *domain.Action) { a.Before.SKU = "m5.2xlarge" }, true},
		{"before state", func(a *domain.Action) { a.Before.State = domain.StateStopped }, true},
		{"before attached", func(a *domain.Action) { a.Before.AttachedTo = "i-9" }, true},
		{"after sku", func(a *domain.Action) { a.After.SKU = "t3.medium" }, true},
		{"after size", func(a *domain.Action) { a.After.SizeGiB = 100 }, true},
		{"schedule added", func(a *domain.Action) { a.Schedule = weekdays }, true},
		{"monthly savings amount", func(a *domain.Action) { a.MonthlySavings.Micros++ }, true},
		{"monthly savings currency", func(a *domain.Action) { a.MonthlySavings.Currency = "EUR" }, true},
		{"summary", func(a *domain.Action) { a.Summary = "something else entirely" }, false},
		{"evidence cpu", func(a *domain.Action) { a.Evidence.CPU = nil }, false},
		{"evidence notes", func(a *domain.Action) { a.Evidence.Notes = append(a.Evidence.Notes, "more") }, false},
		{"evidence window", func(a *domain.Action) { a.Evidence.WindowEnd = a.Evidence.WindowEnd.Add(time.Hour) }, false},
		{"risk", func(a *domain.Action) { a.Risk = domain.RiskHigh }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sampleAction("plan-1", domain.ActionRightsize, vmRef("i-1"), 70_080_000)
			tt.mutate(&a)
			got := a.Hash()
			if changed := got != baseHash; changed != tt.changes {
				t.Errorf("Hash() after changing %s = %q (base %q); changed = %v, want %v", tt.name, got, baseHash, changed, tt.changes)
			}
		})
	}
}

func TestActionHashSchedule(t *testing.T) {
	s := domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	base := sampleAction("plan-1", domain.ActionSchedule, vmRef("i-1"), 50_000_000)
	base.Schedule = &s
	baseHash := base.Hash()
	tests := []struct {
		name   string
		mutate func(*domain.Schedule)
	}{
		{"time zone", func(s *domain.Schedule) { s.TimeZone = "America/New_York" }},
		{"days", func(s *domain.Schedule) { s.Days = "Mon-Thu" }},
		{"start", func(s *domain.Schedule) { s.Start = "07:00" }},
		{"stop", func(s *domain.Schedule) { s.Stop = "21:00" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base
			changed := s
			tt.mutate(&changed)
			a.Schedule = &changed
			if got := a.Hash(); got == baseHash {
				t.Errorf("Hash() after changing the schedule's %s = %q; want it to differ", tt.name, got)
			}
		})
	}
	removed := base
	removed.Schedule = nil
	if removed.Hash() == baseHash {
		t.Errorf("Hash() without the schedule = %q; want it to differ", baseHash)
	}
	same := s
	copied := base
	copied.Schedule = &same
	if copied.Hash() != baseHash {
		t.Errorf("Hash() with an equal schedule at another address = %q; want %q", copied.Hash(), baseHash)
	}
}

// TestActionHashJSONRoundTrip checks that an action read back from its JSON
// form (as the actuator reads it from a queue) has the hash it was
// approved with.
func TestActionHashJSONRoundTrip(t *testing.T) {
	a := sampleAction("plan-1", domain.ActionSchedule, vmRef("i-1"), 50_000_000)
	a.Schedule = &domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	for _, a := range []domain.Action{a, sampleAction("plan-1", domain.ActionStop, vmRef("i-2"), 0)} {
		b, err := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: "d-1", Action: a})
		if err != nil {
			t.Fatal(err)
		}
		var q domain.QueuedAction
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatal(err)
		}
		if got, want := q.Action.Hash(), a.Hash(); got != want {
			t.Errorf("Hash() after a JSON round trip = %q; want %q", got, want)
		}
	}
}

func samplePlan() domain.Plan {
	return domain.Plan{
		Version:    domain.PlanVersion,
		ID:         "plan-1",
		CreatedAt:  time.Date(2026, 3, 3, 6, 0, 0, 0, time.UTC),
		Currency:   "USD",
		PolicyHash: domain.DefaultPolicy().Hash(),
		Resources:  10,
		Actions: []domain.Action{
			sampleAction("plan-1", domain.ActionRightsize, vmRef("i-1"), 70_080_000),
			sampleAction("plan-1", domain.ActionStop, vmRef("i-2"), 140_160_000),
			sampleAction("plan-1", domain.ActionRightsize, vmRef("i-3"), 35_040_000),
		},
	}
}

func TestPlanDigest(t *testing.T) {
	base := samplePlan()
	baseDigest := base.Digest()
	if !strings.HasPrefix(baseDigest, "sha256:") || len(baseDigest) != len("sha256:")+64 {
		t.Errorf("Digest() = %q; want sha256: and 64 hex digits", baseDigest)
	}
	tests := []struct {
		name    string
		mutate  func(*domain.Plan)
		changes bool
	}{
		{"nothing", func(*domain.Plan) {}, false},
		{"plan id", func(p *domain.Plan) { p.ID = "plan-2" }, true},
		{"first action", func(p *domain.Plan) { p.Actions[0].After.SKU = "m5.medium" }, true},
		{"middle action", func(p *domain.Plan) { p.Actions[1].MonthlySavings.Micros-- }, true},
		{"last action", func(p *domain.Plan) { p.Actions[2].Before.State = domain.StateStopped }, true},
		{"order", func(p *domain.Plan) { p.Actions[0], p.Actions[1] = p.Actions[1], p.Actions[0] }, true},
		{"action removed", func(p *domain.Plan) { p.Actions = p.Actions[:2] }, true},
		{"action added", func(p *domain.Plan) {
			p.Actions = append(p.Actions, sampleAction("plan-1", domain.ActionStop, vmRef("i-4"), 1))
		}, true},
		{"no actions", func(p *domain.Plan) { p.Actions = nil }, true},
		{"summary of an action", func(p *domain.Plan) { p.Actions[1].Summary = "reworded" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePlan()
			tt.mutate(&p)
			got := p.Digest()
			if changed := got != baseDigest; changed != tt.changes {
				t.Errorf("Digest() after changing %s = %q (base %q); changed = %v, want %v", tt.name, got, baseDigest, changed, tt.changes)
			}
		})
	}
}

func TestPlanValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*domain.Plan)
		wantErr error
		inMsg   string
	}{
		{"valid", func(*domain.Plan) {}, nil, ""},
		{"valid without actions", func(p *domain.Plan) { p.Actions = nil }, nil, ""},
		{"wrong version", func(p *domain.Plan) { p.Version = "cloudtrim.plan/v2" }, domain.ErrUnsupported, "cloudtrim.plan/v2"},
		{"no version", func(p *domain.Plan) { p.Version = "" }, domain.ErrUnsupported, "version"},
		{"no id", func(p *domain.Plan) {
			p.ID = ""
			for i := range p.Actions {
				p.Actions[i].PlanID = ""
			}
		}, domain.ErrInvalid, "no id"},
		{"duplicate action id", func(p *domain.Plan) { p.Actions[2].ID = p.Actions[0].ID }, domain.ErrInvalid, p0ID()},
		{"same action twice", func(p *domain.Plan) { p.Actions = append(p.Actions, p.Actions[1]) }, domain.ErrInvalid, "twice"},
		{"action of another plan", func(p *domain.Plan) { p.Actions[1].PlanID = "plan-0" }, domain.ErrInvalid, "plan-0"},
		{"action without plan id", func(p *domain.Plan) { p.Actions[0].PlanID = "" }, domain.ErrInvalid, p0ID()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePlan()
			tt.mutate(&p)
			err := p.Validate()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate() = %v; want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("Validate() = %q; want it to mention %q", err, tt.inMsg)
			}
		})
	}
}

// p0ID is the ID of the first action of samplePlan.
func p0ID() string { return domain.ActionID(domain.ActionRightsize, vmRef("i-1")) }

func TestPlanAction(t *testing.T) {
	p := samplePlan()
	for _, want := range p.Actions {
		got, ok := p.Action(want.ID)
		if !ok || got.ID != want.ID || got.Target != want.Target {
			t.Errorf("Action(%q) = %v, %v; want the action on %v", want.ID, got.ID, ok, want.Target)
		}
	}
	if got, ok := p.Action("act-missing"); ok {
		t.Errorf("Action(%q) = %v, true; want false", "act-missing", got.ID)
	}
}

func TestPlanTotals(t *testing.T) {
	byKind := func(a domain.Action) string { return string(a.Kind) }
	all := func(domain.Action) string { return "all" }
	tests := []struct {
		name string
		plan func() domain.Plan
		key  func(domain.Action) string
		want map[string]domain.Total
	}{
		{"by kind", samplePlan, byKind, map[string]domain.Total{
			"rightsize": {Actions: 2, Savings: domain.USD(105_120_000)},
			"stop":      {Actions: 1, Savings: domain.USD(140_160_000)},
		}},
		{"one key", samplePlan, all, map[string]domain.Total{
			"all": {Actions: 3, Savings: domain.USD(245_280_000)},
		}},
		{"no actions", func() domain.Plan { p := samplePlan(); p.Actions = nil; return p }, byKind, map[string]domain.Total{}},
		{"zero savings keep the currency", func() domain.Plan {
			p := samplePlan()
			p.Actions = []domain.Action{sampleAction("plan-1", domain.ActionStop, vmRef("i-1"), 0)}
			return p
		}, byKind, map[string]domain.Total{"stop": {Actions: 1, Savings: domain.USD(0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.plan()
			if diff := cmp.Diff(tt.want, p.Totals(tt.key)); diff != "" {
				t.Errorf("Totals() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanTotalSavings(t *testing.T) {
	eur := sampleAction("plan-1", domain.ActionStop, vmRef("i-9"), 0)
	eur.MonthlySavings = domain.Money{Micros: 99_000_000, Currency: "EUR"}
	tests := []struct {
		name     string
		currency string
		actions  []domain.Action
		want     domain.Money
	}{
		{"sum", "USD", samplePlan().Actions, domain.USD(245_280_000)},
		{"no actions is zero in the plan's currency", "USD", nil, domain.USD(0)},
		{"plan without currency takes the actions' currency", "", samplePlan().Actions, domain.USD(245_280_000)},
		{"savings in another currency are not added", "USD", append(samplePlan().Actions, eur), domain.USD(245_280_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePlan()
			p.Currency = tt.currency
			p.Actions = tt.actions
			if got := p.TotalSavings(); got != tt.want {
				t.Errorf("TotalSavings() = %#v; want %#v", got, tt.want)
			}
		})
	}
}

func TestSortActions(t *testing.T) {
	act := func(id string, micros int64) domain.Action {
		return domain.Action{ID: id, MonthlySavings: domain.USD(micros)}
	}
	tests := []struct {
		name string
		in   []domain.Action
		want []string
	}{
		{"empty", nil, nil},
		{"by savings, largest first", []domain.Action{act("a", 1), act("b", 3), act("c", 2)}, []string{"b", "c", "a"}},
		{"ties by id", []domain.Action{act("c", 5), act("a", 5), act("b", 5)}, []string{"a", "b", "c"}},
		{"savings before id", []domain.Action{act("a", 1), act("z", 10), act("m", 10), act("b", 0), act("c", -5)}, []string{"m", "z", "a", "b", "c"}},
		{"micro-units decide", []domain.Action{act("a", 1_000_000), act("b", 1_000_001)}, []string{"b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := append([]domain.Action(nil), tt.in...)
			domain.SortActions(as)
			var got []string
			for _, a := range as {
				got = append(got, a.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("SortActions order mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
