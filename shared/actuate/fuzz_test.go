package actuate_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// fuzzPlanID is the plan of the message fuzzer's world.
const fuzzPlanID = "plan-20261123T080000.000Z-f0220000"

// fuzzWorld is a plan of six actions on the fake cloud: four approved
// (one on a resource that is not opted in), one never decided and one
// approved and then rejected.
type fuzzWorld struct {
	plan      domain.Plan
	resources []domain.Resource
	decisions []domain.Decision
}

func newFuzzWorld() fuzzWorld {
	optIn := map[string]string{"cloudtrim-optin": "true"}
	res := func(kind domain.Kind, id, sku, state string, tags map[string]string) domain.Resource {
		return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: kind, ID: id, SKU: sku,
			State: state, Tags: tags, CreatedAt: t0.AddDate(0, -3, 0)}
	}
	rs := []domain.Resource{
		res(domain.KindVM, "i-1", "m5.2xlarge", domain.StateRunning, optIn),
		res(domain.KindVM, "i-2", "m5.large", domain.StateRunning, optIn),
		res(domain.KindDisk, "vol-1", "gp3", domain.StateAvailable, optIn),
		res(domain.KindIP, "eip-1", "public-ipv4", domain.StateAvailable, optIn),
		res(domain.KindVM, "i-3", "m5.large", domain.StateRunning, optIn),
		res(domain.KindVM, "i-4", "m5.large", domain.StateRunning, map[string]string{"env": "prod"}),
	}
	rs[2].SizeGiB = 100
	kinds := []struct {
		kind  domain.ActionKind
		after domain.ResourceState
	}{
		{domain.ActionRightsize, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning}},
		{domain.ActionStop, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}},
		{domain.ActionDeleteDisk, domain.ResourceState{State: domain.StateDeleted}},
		{domain.ActionReleaseIP, domain.ResourceState{State: domain.StateReleased}},
		{domain.ActionStop, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}},
		{domain.ActionStop, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}},
	}
	w := fuzzWorld{resources: rs, plan: domain.Plan{Version: domain.PlanVersion, ID: fuzzPlanID, CreatedAt: t0, Currency: "USD"}}
	for i, r := range rs {
		a := domain.Action{ID: domain.ActionID(kinds[i].kind, r.Ref()), PlanID: fuzzPlanID, Kind: kinds[i].kind, Target: r.Ref(),
			Before: r.Observed(), After: kinds[i].after, Tags: r.Tags, MonthlySavings: domain.USD(int64(i+1) * 10_000_000)}
		w.plan.Actions = append(w.plan.Actions, a)
		decide := func(v domain.Verdict, at time.Time) {
			w.decisions = append(w.decisions, domain.Decision{Version: domain.DecisionVersion, ID: "dec-" + string(v) + "-" + r.ID,
				PlanID: fuzzPlanID, ActionID: a.ID, ActionHash: a.Hash(), Verdict: v, Approver: "ops@example.com", Channel: "fuzz", At: at})
		}
		switch i {
		case 3: // never decided
		case 4:
			decide(domain.Approved, t0)
			decide(domain.Rejected, t0.Add(time.Minute))
		default:
			decide(domain.Approved, t0)
		}
	}
	return w
}

// message is the queue message the approval core sends for action i,
// naming decision decisionID.
func (w fuzzWorld) message(i int, decisionID string) []byte {
	b, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: decisionID, Action: w.plan.Actions[i]})
	return b
}

// valid reports whether body is a message the actuator may act on: a
// queued action of the current version that is the plan's action
// unchanged, whose latest decision approves it, and that names a
// recorded decision of that action. It returns the action.
func (w fuzzWorld) valid(body []byte) (domain.Action, bool) {
	var msg domain.QueuedAction
	if json.Unmarshal(body, &msg) != nil || msg.Version != domain.QueueMessageVersion || msg.Action.PlanID != w.plan.ID {
		return domain.Action{}, false
	}
	a, ok := w.plan.Action(msg.Action.ID)
	if !ok || a.Hash() != msg.Action.Hash() {
		return domain.Action{}, false
	}
	named := false
	for _, d := range w.decisions {
		named = named || (d.ActionID == a.ID && d.ID == msg.DecisionID)
	}
	last, ok := domain.LatestDecisions(w.decisions)[a.ID]
	return a, named && ok && last.Verdict == domain.Approved && last.ActionHash == a.Hash()
}

// FuzzActuateMessage hands arbitrary bytes to Actuator.Handle as a queue
// message, with changes enabled, over a mem:// lake holding the plan and
// its decisions and the package's fake cloud. Handle must never panic,
// and must change nothing on the cloud unless the message is a valid,
// approved action of the plan, and then only that action's resource.
func FuzzActuateMessage(f *testing.F) {
	w := newFuzzWorld()
	for i := range w.plan.Actions {
		f.Add(w.message(i, "dec-approved-"+w.plan.Actions[i].Target.ID))
		f.Add(w.message(i, "dec-rejected-"+w.plan.Actions[i].Target.ID))
		f.Add(w.message(i, "dec-none"))
	}
	tampered := w.plan.Actions[0]
	tampered.After.SKU = "m5.24xlarge"
	b, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: "dec-approved-i-1", Action: tampered})
	f.Add(b)
	f.Add([]byte(strings.Replace(string(w.message(1, "dec-approved-i-2")), domain.QueueMessageVersion, "cloudtrim.queued-action/v0", 1)))
	f.Add([]byte(strings.Replace(string(w.message(2, "dec-approved-vol-1")), `"action"`, `"ACTION"`, 1)))
	// The bodies of the real SQS sample, one of them cut off.
	if raw, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", "actuate.sqs-batch.json")); err == nil {
		var ev struct{ Records []struct{ Body string } }
		if json.Unmarshal(raw, &ev) == nil {
			for _, r := range ev.Records {
				f.Add([]byte(r.Body))
			}
		}
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"version": "cloudtrim.queued-action/v1"}`,
		`{"version": "cloudtrim.queued-action/v1", "action": {"plan_id": "../../etc", "id": "x"}}`} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 256<<10 {
			t.Skip("larger than an SQS message can be")
		}
		l, err := lake.Open(ctx, "mem://")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.PutPlan(ctx, w.plan); err != nil {
			t.Fatal(err)
		}
		for _, d := range w.decisions {
			if err := l.PutDecision(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		cloud := newFakeCloud(w.resources...)
		now := t0.Add(time.Hour)
		act := &actuate.Actuator{Records: l, Providers: map[domain.Cloud]actuate.Resources{domain.AWS: cloud},
			Policy: domain.DefaultPolicy(), Worker: "fuzz", Now: func() time.Time { now = now.Add(time.Millisecond); return now }}
		res := act.Handle(ctx, body)
		calls := cloud.Calls()
		if cloud.Attempts() == 0 {
			return
		}
		a, ok := w.valid(body)
		if !ok {
			t.Fatalf("Handle(%q) = %+v made %d mutating calls (%v) for a message that is not a valid approved action", body, res, cloud.Attempts(), calls)
		}
		if a.Target.ID == "i-4" {
			t.Fatalf("Handle changed %s, which is not opted in: %v", a.Target.ID, calls)
		}
		for _, c := range calls {
			if !strings.HasSuffix(c, " "+a.Target.ID) {
				t.Fatalf("Handle of action %s on %s made the call %q", a.ID, a.Target.ID, c)
			}
		}
		switch res.Status {
		case domain.StatusApplied, domain.StatusFailed, domain.StatusRolledBack, domain.StatusApplying:
		default:
			t.Fatalf("Handle made mutating calls %v but reports %+v", calls, res)
		}
	})
}

// TestFuzzWorldApplies checks that the fuzzer's world is not vacuous:
// its valid messages do change the fake cloud, and its oracle tells them
// from the others.
func TestFuzzWorldApplies(t *testing.T) {
	ctx := context.Background()
	w := newFuzzWorld()
	for i, a := range w.plan.Actions {
		l, err := lake.Open(ctx, "mem://")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.PutPlan(ctx, w.plan); err != nil {
			t.Fatal(err)
		}
		for _, d := range w.decisions {
			if err := l.PutDecision(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		cloud := newFakeCloud(w.resources...)
		act := &actuate.Actuator{Records: l, Providers: map[domain.Cloud]actuate.Resources{domain.AWS: cloud},
			Policy: domain.DefaultPolicy(), Worker: "fuzz", Now: func() time.Time { return t0.Add(time.Hour) }}
		body := w.message(i, "dec-approved-"+a.Target.ID)
		_, valid := w.valid(body)
		res := act.Handle(ctx, body)
		wantValid := i != 3 && i != 4 // never decided; rejected last
		wantApplied := wantValid && i != 5
		if valid != wantValid || (res.Status == domain.StatusApplied) != wantApplied || (len(cloud.Calls()) > 0) != wantApplied {
			t.Errorf("action %d (%s %s): valid %v, result %+v, calls %v; want valid %v, applied %v", i, a.Kind, a.Target.ID, valid, res, cloud.Calls(), wantValid, wantApplied)
		}
	}
}
