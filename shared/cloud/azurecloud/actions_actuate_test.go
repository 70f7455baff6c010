package azurecloud_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

var actPlanAt = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// actCore is the actuator core over an Actuator on the estate, with an
// in-memory lake holding the plan and its approvals.
type actCore struct {
	t    *testing.T
	e    *actEstate
	lake *lake.Lake
	core *actuate.Actuator
	msgs map[string][]byte // by action ID
}

// newActCore builds actions on the estate's live resources (their Before
// state read through the Actuator), stores the plan, approves every
// action and returns the actuator core that applies them.
func newActCore(t *testing.T, e *actEstate, specs ...func(a *azurecloud.Actuator) domain.Action) *actCore {
	t.Helper()
	ctx := context.Background()
	prov := e.actuator()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var acts []domain.Action
	for _, spec := range specs {
		acts = append(acts, spec(prov))
	}
	if err := l.PutPlan(ctx, domain.Plan{Version: domain.PlanVersion, ID: "plan-azure", CreatedAt: actPlanAt, Currency: "USD", Actions: acts}); err != nil {
		t.Fatal(err)
	}
	x := &actCore{t: t, e: e, lake: l, msgs: map[string][]byte{},
		core: &actuate.Actuator{Records: l, Providers: map[domain.Cloud]actuate.Resources{domain.Azure: prov},
			Policy: domain.DefaultPolicy(), Worker: "w1", Now: func() time.Time { return actPlanAt.Add(time.Hour) }}}
	for _, a := range acts {
		d := domain.Decision{Version: domain.DecisionVersion, ID: "dec-" + a.ID, PlanID: a.PlanID, ActionID: a.ID, ActionHash: a.Hash(),
			Verdict: domain.Approved, Approver: "ops@example.com", Channel: "test", At: actPlanAt}
		if err := l.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
		if err != nil {
			t.Fatal(err)
		}
		x.msgs[a.ID] = b
	}
	return x
}

// actPlanned returns a spec of an action of kind on the VM name, its
// Before read live, its After given.
func actPlanned(t *testing.T, kind domain.ActionKind, name string, after domain.ResourceState) func(*azurecloud.Actuator) domain.Action {
	return func(a *azurecloud.Actuator) domain.Action {
		t.Helper()
		r, err := a.Get(context.Background(), actRef(domain.KindVM, actVMID(name)))
		if err != nil {
			t.Fatal(err)
		}
		return domain.Action{ID: domain.ActionID(kind, r.Ref()), PlanID: "plan-azure", Kind: kind, Target: r.Ref(),
			Before: r.Observed(), After: after, Tags: r.Tags, MonthlySavings: domain.USD(40_000_000)}
	}
}

// handle delivers the action's message and checks the outcome; a second
// delivery must change nothing.
func (x *actCore) handle(actionID string, want domain.ActionStatus) actuate.Result {
	x.t.Helper()
	res := x.core.Handle(context.Background(), x.msgs[actionID])
	if res.Disposition != actuate.Ack || res.Status != want {
		x.t.Errorf("Handle(%s) = %s %s (%s), want ack %s", actionID, res.Disposition, res.Status, res.Reason, want)
	}
	before := x.e.mutations()
	if again := x.core.Handle(context.Background(), x.msgs[actionID]); again.Disposition != actuate.Ack || again.Status != want {
		x.t.Errorf("Handle(%s) redelivered = %s %s (%s), want ack %s", actionID, again.Disposition, again.Status, again.Reason, want)
	}
	if n := x.e.mutations() - before; n != 0 {
		x.t.Errorf("Handle(%s) redelivered made %d mutating calls, want none", actionID, n)
	}
	return res
}

func TestActuatorUnderTheActuationCore(t *testing.T) {
	e := newActEstate(t)
	stop := actPlanned(t, domain.ActionStop, "vm-web", domain.ResourceState{State: domain.StateStopped})
	resize := actPlanned(t, domain.ActionRightsize, "vm-batch", domain.ResourceState{SKU: "Standard_D4s_v3", State: domain.StateRunning})
	x := newActCore(t, e, stop, resize)
	acts := map[string]domain.Action{}
	for _, spec := range []func(*azurecloud.Actuator) domain.Action{stop, resize} {
		a := spec(e.actuator())
		acts[string(a.Kind)] = a
	}

	x.handle(acts["stop"].ID, domain.StatusApplied)
	if _, power, _ := e.vm("vm-web"); power != "deallocated" {
		t.Errorf("vm-web is %s after the stop action, want deallocated", power)
	}

	x.handle(acts["rightsize"].ID, domain.StatusApplied)
	if size, power, _ := e.vm("vm-batch"); size != "Standard_D4s_v3" || power != "running" {
		t.Errorf("vm-batch is %s %s after the rightsize action, want Standard_D4s_v3 running", size, power)
	}
	for api, want := range map[string]int{
		"VirtualMachinesClient.BeginDeallocate": 2, // one per action
		"VirtualMachinesClient.BeginUpdate":     1,
		"VirtualMachinesClient.BeginStart":      1,
	} {
		if n := e.count(api); n != want {
			t.Errorf("%d %s calls, want %d", n, api, want)
		}
	}
}

// TestActuatorUnderTheCoreRollsBackAFailedResize: the VM cannot start on its new
// size, or the update fails part way; either way the core puts the old
// size back and starts the VM, and the action ends rolled back.
func TestActuatorUnderTheCoreRollsBackAFailedResize(t *testing.T) {
	for _, tc := range []struct {
		name  string
		api   string
		fault actFault
	}{
		{"start fails on the new size", "VirtualMachinesClient.BeginStart", actFault{status: 200, code: "AllocationFailed", accepted: true}},
		{"update fails part way", "VirtualMachinesClient.BeginUpdate", actFault{status: 200, code: "AllocationFailed", applied: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newActEstate(t)
			resize := actPlanned(t, domain.ActionRightsize, "vm-web", domain.ResourceState{SKU: "Standard_D8s_v3", State: domain.StateRunning})
			x := newActCore(t, e, resize)
			act := resize(e.actuator())
			e.fail(tc.api, tc.fault)
			res := x.handle(act.ID, domain.StatusRolledBack)
			if size, power, _ := e.vm("vm-web"); size != "Standard_D4s_v3" || power != "running" {
				t.Errorf("vm-web is %s %s after the rollback, want Standard_D4s_v3 running (%s)", size, power, res.Reason)
			}
			evs, err := x.lake.Audit(context.Background(), actPlanAt, actPlanAt.Add(48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			rolled := false
			for _, ev := range evs {
				rolled = rolled || (ev.Type == domain.AuditRollback && ev.ActionID == act.ID)
			}
			if !rolled {
				t.Errorf("no rollback audit event for %s", act.ID)
			}
		})
	}
}
