package approve_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestMatchApprover(t *testing.T) {
	tests := []struct {
		pattern, identity string
		want              bool
	}{
		{"*", "anyone@example.com", true},
		{"*", "slack:T1/U1", true},
		{"*", "", false},
		{"ops@example.com", "ops@example.com", true},
		{"ops@example.com", "OPS@Example.COM", true},
		{"ops@example.com", "ops@example.com.evil.io", false},
		{"ops@example.com", "xops@example.com", false},
		{"*@example.com", "ana@example.com", true},
		{"*@example.com", "Ana@EXAMPLE.com", true},
		{"*@example.com", "@example.com", false},
		{"*@example.com", "ana@evil.com@example.com", false},
		{"*@example.com", "ana@sub.example.com", false},
		{"*@example.com", "ana@example.com.evil.io", false},
		{"*@example.com", "a/b@example.com", false},
		{"*@example.com", "slack:T1/U1", false},
		{"slack:T0123/*", "slack:T0123/U0456", true},
		{"slack:T0123/*", "slack:T0123/", false},
		{"slack:T0123/*", "slack:T9999/U0456", false},
		{"slack:T0123/*", "slack:T0123/U1/U2", false},
		{"slack:T0123/U0456", "slack:T0123/U0456", true},
		{"slack:T0123/U0456", "slack:T0123/U0457", false},
		{"k@example.com", "\u212a@example.com", false},  // Kelvin sign is not k
		{"ops*@example.com", "ops1@example.com", false}, // malformed patterns match nothing
		{"", "", false},
	}
	for _, tt := range tests {
		if got := approve.MatchApprover(tt.pattern, tt.identity); got != tt.want {
			t.Errorf("MatchApprover(%q, %q) = %v; want %v", tt.pattern, tt.identity, got, tt.want)
		}
	}
}

func TestAuthzMatrix(t *testing.T) {
	z := approve.Authz{Currency: "USD", Policy: domain.ApprovalPolicy{Rules: []domain.ApprovalRule{
		// Anyone at example.com may stop or schedule VMs in the dev
		// accounts saving up to USD 100 a month.
		{Approvers: []string{"*@example.com"}, Accounts: []string{"dev-*"}, Kinds: []domain.ActionKind{domain.ActionStop, domain.ActionSchedule}, MaxMonthlySavings: 100},
		// The FinOps lead and one Slack user may decide anything.
		{Approvers: []string{"lead@example.com", "slack:T0123/U0456"}},
		// Anyone in the Slack workspace may delete snapshots anywhere.
		{Approvers: []string{"slack:T0123/*"}, Kinds: []domain.ActionKind{domain.ActionDeleteSnapshot}},
	}}}
	action := func(kind domain.ActionKind, account string, usd int64) domain.Action {
		return domain.Action{ID: "act-1", Kind: kind, Target: domain.ResourceRef{Cloud: domain.AWS, Account: account, ID: "r"}, MonthlySavings: domain.USD(usd * 1_000_000)}
	}
	tests := []struct {
		approver string
		action   domain.Action
		want     bool
	}{
		{"ana@example.com", action(domain.ActionStop, "dev-1", 50), true},
		{"ana@example.com", action(domain.ActionStop, "dev-1", 100), true},
		{"ana@example.com", action(domain.ActionStop, "dev-1", 101), false},
		{"ana@example.com", action(domain.ActionStop, "prod-1", 50), false},
		{"ana@example.com", action(domain.ActionRightsize, "dev-1", 50), false},
		{"ana@example.com", action(domain.ActionSchedule, "dev-2", 10), true},
		{"ana@example.org", action(domain.ActionStop, "dev-1", 50), false},
		{"lead@example.com", action(domain.ActionDeleteDisk, "prod-1", 5000), true},
		{"slack:T0123/U0456", action(domain.ActionRightsize, "prod-1", 5000), true},
		{"slack:T0123/U0999", action(domain.ActionRightsize, "prod-1", 5000), false},
		{"slack:T0123/U0999", action(domain.ActionDeleteSnapshot, "prod-1", 5000), true},
		{"slack:T9999/U0999", action(domain.ActionDeleteSnapshot, "prod-1", 5), false},
		{"ana@example.com", domain.Action{Kind: domain.ActionStop, Target: domain.ResourceRef{Account: "dev-1"},
			MonthlySavings: domain.Money{Micros: 1, Currency: "EUR"}}, false}, // another currency than the cap's
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %s %s", tt.approver, tt.action.Kind, tt.action.Target.Account, tt.action.MonthlySavings), func(t *testing.T) {
			err := z.Allow(tt.approver, tt.action)
			if (err == nil) != tt.want {
				t.Fatalf("Allow = %v; want allowed %v", err, tt.want)
			}
			if err != nil && (!errors.Is(err, approve.ErrNotAuthorized) || !errors.Is(err, domain.ErrPermission)) {
				t.Errorf("Allow = %v; want ErrNotAuthorized and ErrPermission", err)
			}
		})
	}
	if err := (approve.Authz{}).Allow("anyone", action(domain.ActionDeleteDisk, "prod", 1e6)); err != nil {
		t.Errorf("zero Authz.Allow = %v; want everything allowed (the default)", err)
	}
}

func TestUnauthorizedApproverChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.svc.Authz = approve.Authz{Currency: "USD", Policy: domain.ApprovalPolicy{Rules: []domain.ApprovalRule{
		{Approvers: []string{"*@example.com"}, MaxMonthlySavings: 25},
	}}}
	body, _ := approve.NewBody(&f.plan, "ops@example.com") // the third action saves USD 30
	_, err := f.svc.Handle(context.Background(), signed(secret, t0, body))
	if !errors.Is(err, approve.ErrNotAuthorized) {
		t.Fatalf("Handle = %v; want ErrNotAuthorized", err)
	}
	assertNothingDecided(t, f)
	ev := assertRefusalAudited(t, f, "webhook")
	if ev.Actor != "unverified:ops@example.com" || ev.Outcome != "not_authorized" || ev.PlanID != f.plan.ID {
		t.Errorf("refusal %+v; want actor unverified:ops@example.com, outcome not_authorized, the plan", ev)
	}
	// The webhook may not claim a Slack identity to match a Slack rule.
	f.svc.Authz.Policy.Rules = []domain.ApprovalRule{{Approvers: []string{"slack:T0123/*"}}}
	body, _ = approve.NewBody(&f.plan, "slack:T0123/U0456")
	if _, err := f.svc.Handle(context.Background(), signed(secret, t0, body)); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("Handle with a slack: approver = %v; want ErrInvalid", err)
	}
	assertNothingDecided(t, f)
}

func TestForgedWebhookIsAuditedWithoutSecrets(t *testing.T) {
	f := newFixture(t)
	body, _ := approve.NewBody(&f.plan, "mallory@example.com")
	req := signed([]byte("guessed-secret-guessed-secret-00"), t0, body)
	if _, err := f.svc.Handle(context.Background(), req); !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("Handle = %v; want ErrPermission", err)
	}
	ev := assertRefusalAudited(t, f, "webhook")
	b, _ := json.Marshal(ev)
	_, want := approve.Sign(secret, t0, body)
	if strings.Contains(string(b), req.Signature[3:]) || strings.Contains(string(b), want[3:]) {
		t.Errorf("audit event %s holds the sent or the expected signature", b)
	}
	if ev.Actor != "unverified:mallory@example.com" || ev.Outcome != "permission" {
		t.Errorf("refusal %+v; want the claimed approver and outcome permission", ev)
	}
}

// approveAs approves the whole plan as approver through the webhook.
func approveAs(t *testing.T, f *fixture, approver string) approve.Result {
	t.Helper()
	body, _ := approve.NewBody(&f.plan, approver)
	res, err := f.svc.Handle(context.Background(), signed(secret, f.now, body))
	if err != nil {
		t.Fatalf("Handle as %s: %v", approver, err)
	}
	return res
}

// standing returns the verdict that stands for each action, as the
// actuator reads it.
func standing(t *testing.T, f *fixture) map[string]domain.Verdict {
	t.Helper()
	ds, err := f.lake.Decisions(context.Background(), f.plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]domain.Verdict{}
	for id, d := range domain.LatestDecisions(ds) {
		out[id] = d.Verdict
	}
	return out
}

func TestTwoPersonRule(t *testing.T) {
	f := newFixture(t)
	// Actions save USD 10, 20 and 30: the last two need two approvers.
	f.svc.Authz = approve.Authz{Currency: "USD", Policy: domain.ApprovalPolicy{TwoPersonAbove: 15}}
	a0, a1, a2 := f.plan.Actions[0].ID, f.plan.Actions[1].ID, f.plan.Actions[2].ID

	res := approveAs(t, f, "ana@example.com")
	if len(res.Approved) != 1 || res.Approved[0] != a0 || len(res.Pending) != 2 || f.q.count() != 1 {
		t.Fatalf("first approval = %+v, %d queued; want %s approved and queued, 2 pending", res, f.q.count(), a0)
	}
	if got := standing(t, f); got[a1] != approve.Pending || got[a2] != approve.Pending {
		t.Fatalf("standing verdicts %v; want pending for %s and %s", got, a1, a2)
	}
	if _, err := f.lake.ActionState(context.Background(), f.plan.ID, a1); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("a pending action has a state (%v); want none until the second approval", err)
	}

	// The same person again (in other letter case) is not a second approver.
	f.now = t0.Add(time.Minute)
	res = approveAs(t, f, "ANA@example.com")
	if len(res.Pending) != 2 || f.q.count() != 2 {
		t.Fatalf("same approver again = %+v, %d queued; want still 2 pending", res, f.q.count())
	}

	// A second person completes the approval at the same instant: the
	// approval must still be the decision that stands.
	res = approveAs(t, f, "ben@example.com")
	if len(res.Approved) != 3 || len(res.Pending) != 0 || f.q.count() != 5 {
		t.Fatalf("second approver = %+v, %d queued; want all 3 approved", res, f.q.count())
	}
	for id, v := range standing(t, f) {
		if v != domain.Approved {
			t.Errorf("standing verdict of %s = %s; want approved", id, v)
		}
	}
}

func TestTwoPersonRuleRejectionResets(t *testing.T) {
	f := newFixture(t)
	f.svc.Authz = approve.Authz{Currency: "USD", Policy: domain.ApprovalPolicy{TwoPersonAbove: 25}}
	a2 := f.plan.Actions[2]
	choose := func(approver string, v domain.Verdict) approve.Result {
		t.Helper()
		f.now = f.now.Add(time.Second)
		body, _ := json.Marshal(approve.Body{PlanID: f.plan.ID, Approver: approver, Decisions: []approve.ActionChoice{{ActionID: a2.ID, ActionHash: a2.Hash(), Verdict: v}}})
		res, err := f.svc.Handle(context.Background(), signed(secret, f.now, body))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	choose("ana@example.com", domain.Approved)
	choose("cy@example.com", domain.Rejected)
	if res := choose("ben@example.com", domain.Approved); len(res.Pending) != 1 {
		t.Fatalf("approval after a rejection = %+v; want pending: the rejection voids earlier approvals", res)
	}
	if res := choose("ana@example.com", domain.Approved); len(res.Approved) != 1 || f.q.count() != 1 {
		t.Fatalf("second approval after the rejection = %+v; want approved and queued", res)
	}
}

// TestTwoPersonRuleConcurrentApprovers approves from two people at once,
// each possibly seeing no approval before its own: the action must end
// approved and queued.
func TestTwoPersonRuleConcurrentApprovers(t *testing.T) {
	for i := range 10 {
		f := newFixture(t)
		f.svc.Authz = approve.Authz{Currency: "USD", Policy: domain.ApprovalPolicy{TwoPersonAbove: 25}}
		var wg sync.WaitGroup
		for _, who := range []string{"ana@example.com", "ben@example.com"} {
			body, _ := approve.NewBody(&f.plan, who)
			wg.Go(func() {
				if _, err := f.svc.Handle(context.Background(), signed(secret, t0, body)); err != nil {
					t.Errorf("Handle as %s: %v", who, err)
				}
			})
		}
		wg.Wait()
		a2 := f.plan.Actions[2].ID
		if v := standing(t, f)[a2]; v != domain.Approved {
			t.Fatalf("run %d: standing verdict of %s = %s; want approved", i, a2, v)
		}
		if st, err := f.lake.ActionState(context.Background(), f.plan.ID, a2); err != nil || st.Status != domain.StatusQueued {
			t.Fatalf("run %d: state of %s = %+v, %v; want queued", i, a2, st, err)
		}
	}
}

func TestNeedsTwo(t *testing.T) {
	z := approve.Authz{Currency: "USD", Policy: domain.ApprovalPolicy{TwoPersonAbove: 500}}
	for _, tt := range []struct {
		savings domain.Money
		want    bool
	}{
		{domain.USD(500_000_000), false},
		{domain.USD(500_000_001), true},
		{domain.Money{Micros: 1, Currency: "EUR"}, true}, // another currency: fail closed
		{domain.Money{}, false},
	} {
		if got := z.NeedsTwo(domain.Action{MonthlySavings: tt.savings}); got != tt.want {
			t.Errorf("NeedsTwo(%v) = %v; want %v", tt.savings, got, tt.want)
		}
	}
	if (approve.Authz{}).NeedsTwo(domain.Action{MonthlySavings: domain.USD(1e12)}) {
		t.Errorf("zero Authz needs two approvers; want one (the default)")
	}
}
