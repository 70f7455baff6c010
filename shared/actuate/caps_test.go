package actuate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

func vmIn(id, region string) domain.Resource {
	r := vm(id, "m5.large", domain.StateRunning)
	r.Region = region
	return r
}

// capRun is what one capped run over a batch came to.
type capRun struct {
	applied, held, refused int
	reasons                []string
}

// runCapped handles every action once under RunBudget(caps, the plan's
// fleet) and counts the outcomes.
func runCapped(t *testing.T, e *env, caps domain.Caps, actions []domain.Action) capRun {
	t.Helper()
	act := e.actuator(false)
	act.Budget = actuate.RunBudget(caps, e.plan.Resources)
	var out capRun
	for _, a := range actions {
		res := act.Handle(context.Background(), e.message(a))
		switch {
		case res.Disposition == actuate.Ack && res.Status == domain.StatusApplied:
			out.applied++
		case res.Disposition == actuate.Hold:
			out.held++
		case res.Disposition == actuate.Ack && res.Status == domain.StatusSkipped:
			out.refused++
			out.reasons = append(out.reasons, res.Reason)
		default:
			t.Fatalf("Handle(%s) = %+v; want applied, held or skipped", a.Target.ID, res)
		}
	}
	return out
}

// TestBlastRadiusCaps checks both caps on a complete inventory, and that
// they fail closed on a partial or unknown one: a change is made only in
// a scope whose inventory was read whole, at most MaxPercent of what was
// read, and none at all when the plan's inventory cannot be read.
func TestBlastRadiusCaps(t *testing.T) {
	stopped := domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}
	east := func(n int) []domain.Resource {
		var rs []domain.Resource
		for i := range n {
			rs = append(rs, vmIn(fmt.Sprintf("i-e%d", i), "us-east-1"))
		}
		return rs
	}
	west := func(n int) []domain.Resource {
		var rs []domain.Resource
		for i := range n {
			rs = append(rs, vmIn(fmt.Sprintf("i-w%d", i), "us-west-2"))
		}
		return rs
	}
	ok := func(region string, n int) lake.ScopeStatus {
		return lake.ScopeStatus{Account: "111111111111", Region: region, Status: lake.ScopeOK, Resources: n}
	}
	tests := []struct {
		name    string
		targets []domain.Resource // each gets a stop action
		extra   []domain.Resource // read, not acted on
		scopes  []lake.ScopeStatus
		edit    func(*domain.Plan)
		caps    domain.Caps
		want    capRun
		reason  string // in every refusal
	}{
		{name: "percentage cap on a complete inventory", targets: east(5), extra: east(15)[5:],
			caps: domain.Caps{MaxActions: 100, MaxPercent: 20}, want: capRun{applied: 3, held: 2}}, // 20 % of 15
		{name: "absolute cap on a complete inventory", targets: east(5), extra: east(15)[5:],
			caps: domain.Caps{MaxActions: 1, MaxPercent: 100}, want: capRun{applied: 1, held: 4}},
		{name: "partial scope refuses its actions, percentage of what was read elsewhere",
			targets: append(east(4), west(2)...), extra: east(10)[4:],
			scopes: []lake.ScopeStatus{ok("us-east-1", 10),
				{Account: "111111111111", Region: "us-west-2", Status: lake.ScopePartial, Error: "describe instances: throttled", Resources: 2},
				{Account: "111111111111", Region: "eu-west-1", Status: lake.ScopeFailed, Error: "AccessDenied"}},
			caps: domain.Caps{MaxActions: 100, MaxPercent: 25}, want: capRun{applied: 3, held: 1, refused: 2}, // 25 % of the 12 read
			reason: "us-west-2 was partial"},
		{name: "failed scope of the whole account refuses every region of it", targets: east(2), extra: east(10)[2:],
			scopes: []lake.ScopeStatus{ok("us-east-1", 10), {Account: "111111111111", Region: "", Status: lake.ScopeFailed, Error: "AccessDenied"}},
			caps:   domain.Caps{MaxActions: 100, MaxPercent: 100}, want: capRun{refused: 2}, reason: "was failed"},
		{name: "missing utilization is not a gap in the inventory", targets: east(2),
			scopes: []lake.ScopeStatus{{Account: "111111111111", Region: "us-east-1", Status: lake.ScopePartial, Error: "utilization: throttled", Resources: 2},
				{Account: "111111111111", Region: "costs", Status: lake.ScopeFailed, Error: "cost explorer: AccessDenied"}},
			caps: domain.Caps{MaxActions: 100, MaxPercent: 100}, want: capRun{applied: 2}},
		{name: "scope the inventory does not list", targets: east(2),
			scopes: []lake.ScopeStatus{ok("us-west-2", 2)},
			caps:   domain.Caps{MaxActions: 100, MaxPercent: 100}, want: capRun{refused: 2}, reason: "not in the plan's inventory"},
		{name: "plan without a snapshot", targets: east(3),
			edit: func(p *domain.Plan) { p.Snapshots, p.Resources = nil, 100 },
			caps: domain.Caps{MaxActions: 100, MaxPercent: 100}, want: capRun{refused: 3}, reason: "fleet size is unknown"},
		{name: "manifest that no longer matches the plan", targets: east(3),
			edit: func(p *domain.Plan) { p.Snapshots[0].Checksum = "sha256:00" },
			caps: domain.Caps{MaxActions: 100, MaxPercent: 100}, want: capRun{refused: 3}, reason: "fleet size is unknown"},
		{name: "snapshot that is gone", targets: east(3),
			edit: func(p *domain.Plan) { p.Snapshots[0].RunID = "20200101T000000.000Z-deadbeef" },
			caps: domain.Caps{MaxActions: 100, MaxPercent: 100}, want: capRun{refused: 3}, reason: "fleet size is unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var actions []domain.Action
			for _, r := range tt.targets {
				actions = append(actions, action(domain.ActionStop, r, stopped))
			}
			c := newFakeCloud(append(append([]domain.Resource(nil), tt.targets...), tt.extra...)...)
			e := setupInventory(t, c, true, inventory{Extra: tt.extra, Scopes: tt.scopes, Edit: tt.edit}, actions...)
			got := runCapped(t, e, tt.caps, actions)
			if got.applied != tt.want.applied || got.held != tt.want.held || got.refused != tt.want.refused {
				t.Errorf("applied %d, held %d, refused %d; want %d, %d, %d (reasons %q)",
					got.applied, got.held, got.refused, tt.want.applied, tt.want.held, tt.want.refused, got.reasons)
			}
			if n := len(c.Calls()); n != tt.want.applied {
				t.Errorf("%d changes reached the cloud; want %d", n, tt.want.applied)
			}
			for _, r := range got.reasons {
				if !strings.Contains(r, "fails closed") || !strings.Contains(r, tt.reason) {
					t.Errorf("refusal %q; want it to say the cap fails closed and %q", r, tt.reason)
				}
			}
		})
	}
}

// unreadableCoverage is a lake whose manifests cannot be read just now.
type unreadableCoverage struct{ *lake.Lake }

func (unreadableCoverage) Coverage(context.Context, []domain.SnapshotRef) (domain.Coverage, error) {
	return domain.Coverage{}, errors.New("slow down")
}

func TestCoverageReadErrorIsRetried(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	c := newFakeCloud(r)
	e := setup(t, c, true, a)
	act := e.actuator(false)
	act.Records = unreadableCoverage{e.lake}
	act.Budget = actuate.NewBudget(10)
	if res := act.Handle(context.Background(), e.message(a)); res.Disposition != actuate.Retry || c.Attempts() != 0 {
		t.Fatalf("Handle with unreadable manifests = %+v; want retry without calls", res)
	}
	if _, err := e.lake.ActionState(context.Background(), a.PlanID, a.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a state was recorded (%v); a transient read error must leave none", err)
	}
}
