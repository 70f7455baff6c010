package gcpcloud

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// A schedule is a label on Google Cloud, whose values cannot hold its
// text ("Mon-Fri 08:00-20:00 Europe/Paris"): the actuator core, applying
// it through the provider, compares and verifies the label as Compute
// Engine keeps it, and a redelivery changes nothing.
func TestActuatorAppliesAScheduleAsALabel(t *testing.T) {
	ctx := context.Background()
	srv, p := actuator(t)
	r, err := p.Get(ctx, ref(vmA))
	if err != nil {
		t.Fatal(err)
	}
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday, inside the schedule: no stop
	sched := &domain.Schedule{Days: "Mon-Fri", Start: "08:00", Stop: "20:00", TimeZone: "Europe/Paris"}
	a := domain.Action{ID: domain.ActionID(domain.ActionSchedule, r.Ref()), PlanID: "plan-gcp", Kind: domain.ActionSchedule,
		Target: r.Ref(), Before: r.Observed(), After: r.Observed(), Schedule: sched, Tags: r.Tags, MonthlySavings: domain.USD(20_000_000)}
	if err := l.PutPlan(ctx, domain.Plan{Version: domain.PlanVersion, ID: "plan-gcp", CreatedAt: at, Currency: "USD", Actions: []domain.Action{a}}); err != nil {
		t.Fatal(err)
	}
	d := domain.Decision{Version: domain.DecisionVersion, ID: "dec-1", PlanID: a.PlanID, ActionID: a.ID, ActionHash: a.Hash(),
		Verdict: domain.Approved, Approver: "ops@example.com", Channel: "test", At: at}
	if err := l.PutDecision(ctx, d); err != nil {
		t.Fatal(err)
	}
	msg, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
	pol := domain.DefaultPolicy() // vm-a carries the opt-in label
	core := &actuate.Actuator{Records: l, Providers: map[domain.Cloud]actuate.Resources{domain.GCP: p},
		Policy: pol, Worker: "w1", Now: func() time.Time { return at }}
	for i := range 2 {
		res := core.Handle(ctx, msg)
		if res.Disposition != actuate.Ack {
			t.Fatalf("delivery %d: %+v", i+1, res)
		}
	}
	states, err := l.ActionStates(ctx, "plan-gcp")
	if err != nil {
		t.Fatal(err)
	}
	if st := states[a.ID]; st.Status != domain.StatusApplied {
		live, _ := p.Get(ctx, ref(vmA))
		t.Fatalf("schedule is %s (%s); want applied (labels %v, mutations %v)", st.Status, st.Reason, live.Tags, methods(srv))
	}
	live, err := p.Get(ctx, ref(vmA))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := live.Tags[actuate.ScheduleTag], "mon-fri_08_00-20_00_europe_paris"; got != want {
		t.Errorf("label %s = %q; want %q", actuate.ScheduleTag, got, want)
	}
	if n := len(srv.Mutations()); n != 1 {
		t.Errorf("%d mutations (%v); want one setLabels however often the action is delivered", n, methods(srv))
	}
}
