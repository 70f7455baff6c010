package actuate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

var optIn = map[string]string{"cloudtrim-optin": "true", "env": "prod"}

func vm(id, sku, state string) domain.Resource {
	return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindVM,
		ID: id, SKU: sku, State: state, Tags: optIn, CreatedAt: t0.AddDate(0, -3, 0)}
}

func disk(id string) domain.Resource {
	return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindDisk,
		ID: id, SKU: "gp3", State: domain.StateAvailable, SizeGiB: 100, Tags: optIn, CreatedAt: t0.AddDate(0, -3, 0)}
}

// gp2 is an attached gp2 volume.
func gp2(id string) domain.Resource {
	r := disk(id)
	r.SKU, r.State, r.AttachedTo = "gp2", domain.StateInUse, "i-9"
	return r
}

func bucket(id string) domain.Resource {
	return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindBucket,
		ID: id, SKU: "STANDARD", State: domain.StateAvailable, SizeGiB: 1000, Tiering: domain.TieringNone, Tags: optIn}
}

func action(kind domain.ActionKind, r domain.Resource, after domain.ResourceState) domain.Action {
	return domain.Action{ID: domain.ActionID(kind, r.Ref()), PlanID: "plan-1", Kind: kind, Target: r.Ref(),
		Before: r.Observed(), After: after, Tags: r.Tags, MonthlySavings: domain.USD(50_000_000)}
}

type env struct {
	t      *testing.T
	lake   *lake.Lake
	cloud  *fakeCloud
	plan   domain.Plan
	worker string

	mu  sync.Mutex
	now time.Time
}

// setup writes a plan with the actions to a mem:// lake, made from a
// committed snapshot whose every scope was read completely, and approves
// every action unless told otherwise.
func setup(t *testing.T, cloud *fakeCloud, approveAll bool, actions ...domain.Action) *env {
	t.Helper()
	return setupInventory(t, cloud, approveAll, inventory{}, actions...)
}

// inventory describes the snapshot a test plan is made from: the
// actions' targets plus Extra resources, in the scopes they fall in,
// each read completely unless Scopes says otherwise. None leaves the
// plan without a snapshot.
type inventory struct {
	Extra  []domain.Resource
	Scopes []lake.ScopeStatus
	None   bool
	// Edit, when set, changes the plan before it is stored.
	Edit func(*domain.Plan)
}

func setupInventory(t *testing.T, cloud *fakeCloud, approveAll bool, inv inventory, actions ...domain.Action) *env {
	t.Helper()
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	plan := domain.Plan{Version: domain.PlanVersion, ID: "plan-1", CreatedAt: t0, Currency: "USD", Actions: actions}
	if !inv.None {
		plan.Snapshots, plan.Resources = commitInventory(t, l, inv, actions)
	}
	if inv.Edit != nil {
		inv.Edit(&plan)
	}
	if err := l.PutPlan(ctx, plan); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lake: l, cloud: cloud, plan: plan, now: t0.Add(time.Hour), worker: "w1"}
	if approveAll {
		for _, a := range actions {
			e.decide(a, domain.Approved, t0)
		}
	}
	return e
}

// commitInventory commits one AWS snapshot of the actions' targets and
// inv.Extra and returns its reference and the number of resources.
func commitInventory(t *testing.T, l *lake.Lake, inv inventory, actions []domain.Action) ([]domain.SnapshotRef, int) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	var rs []domain.Resource
	for _, a := range actions {
		if !seen[a.Target.ID] {
			seen[a.Target.ID] = true
			rs = append(rs, domain.Resource{Cloud: a.Target.Cloud, Account: a.Target.Account, Region: a.Target.Region, Kind: a.Target.Kind,
				ID: a.Target.ID, SKU: a.Before.SKU, State: a.Before.State, Tags: a.Tags, CreatedAt: t0.AddDate(0, -3, 0)})
		}
	}
	rs = append(rs, inv.Extra...)
	scopes := inv.Scopes
	if scopes == nil {
		count := map[[2]string]int{}
		var order [][2]string
		for _, r := range rs {
			k := [2]string{r.Account, r.Region}
			if count[k] == 0 {
				order = append(order, k)
			}
			count[k]++
		}
		for _, k := range order {
			scopes = append(scopes, lake.ScopeStatus{Account: k[0], Region: k[1], Status: lake.ScopeOK, Resources: count[k]})
		}
	}
	w := l.BeginSnapshot(domain.AWS, "20261123T080000.000Z-0000000"+fmt.Sprint(len(rs)%10), lake.Window{Start: t0.Add(-14 * 24 * time.Hour), End: t0}, t0)
	if err := w.WriteResources(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for _, sc := range scopes {
		w.RecordScope(sc)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := l.LatestSnapshot(ctx, domain.AWS)
	if err != nil {
		t.Fatal(err)
	}
	return []domain.SnapshotRef{snap.Ref()}, len(rs)
}

func (e *env) decide(a domain.Action, v domain.Verdict, at time.Time) domain.Decision {
	e.t.Helper()
	d := domain.Decision{Version: domain.DecisionVersion, ID: fmt.Sprintf("dec-%s-%s-%d", a.ID, v, at.Unix()), PlanID: a.PlanID,
		ActionID: a.ID, ActionHash: a.Hash(), Verdict: v, Approver: "ops@example.com", Channel: "test", At: at}
	if err := e.lake.PutDecision(context.Background(), d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) actuator(dryRun bool) *actuate.Actuator {
	return &actuate.Actuator{Records: e.lake, Providers: map[domain.Cloud]actuate.Resources{domain.AWS: e.cloud},
		Policy: domain.DefaultPolicy(), DryRun: dryRun, Worker: e.worker, Now: e.clock}
}

// clock ticks a millisecond per reading, so audit events keep their order.
func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(time.Millisecond)
	return e.now
}

func (e *env) message(a domain.Action) []byte {
	e.t.Helper()
	ds, err := e.lake.Decisions(context.Background(), a.PlanID)
	if err != nil {
		e.t.Fatal(err)
	}
	id := "dec-none"
	for _, d := range ds {
		if d.ActionID == a.ID {
			id = d.ID
		}
	}
	b, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: id, Action: a})
	return b
}

func (e *env) state(a domain.Action) domain.ActionState {
	e.t.Helper()
	st, err := e.lake.ActionState(context.Background(), a.PlanID, a.ID)
	if err != nil {
		e.t.Fatalf("ActionState(%s): %v", a.ID, err)
	}
	return st
}

func (e *env) audit() []domain.AuditEvent {
	e.t.Helper()
	evs, err := e.lake.Audit(context.Background(), t0.Add(-time.Hour), t0.Add(48*time.Hour))
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestApplyEachKind(t *testing.T) {
	sched := domain.DefaultPolicy().Schedules.Default
	tests := []struct {
		name      string
		res       domain.Resource
		kind      domain.ActionKind
		after     domain.ResourceState
		schedule  *domain.Schedule
		wantCalls []string
		check     func(t *testing.T, c *fakeCloud)
	}{
		{"rightsize", vm("i-1", "m5.2xlarge", domain.StateRunning), domain.ActionRightsize,
			domain.ResourceState{SKU: "m5.large", State: domain.StateRunning}, nil,
			[]string{"stop i-1", "resize i-1", "start i-1"},
			func(t *testing.T, c *fakeCloud) {
				if r := c.resources["i-1"]; r.SKU != "m5.large" || r.State != domain.StateRunning {
					t.Errorf("after rightsize i-1 = %s %s; want m5.large running", r.SKU, r.State)
				}
			}},
		{"stop", vm("i-2", "m5.large", domain.StateRunning), domain.ActionStop,
			domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}, nil,
			[]string{"stop i-2"}, nil},
		{"schedule", vm("i-3", "m5.large", domain.StateRunning), domain.ActionSchedule,
			domain.ResourceState{SKU: "m5.large", State: domain.StateScheduled}, &sched,
			[]string{"tag i-3"}, // 11:00 UTC on a Monday is inside Mon-Fri 08-20: no stop now
			func(t *testing.T, c *fakeCloud) {
				if got := c.resources["i-3"].Tags[actuate.ScheduleTag]; got != sched.String() {
					t.Errorf("schedule tag = %q; want %q", got, sched.String())
				}
			}},
		{"delete disk", disk("vol-1"), domain.ActionDeleteDisk,
			domain.ResourceState{State: domain.StateDeleted}, nil,
			[]string{"snapshot vol-1", "delete vol-1"}, nil},
		{"release ip", domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindIP,
			ID: "eipalloc-1", SKU: "public-ipv4", State: domain.StateAvailable, Tags: optIn}, domain.ActionReleaseIP,
			domain.ResourceState{State: domain.StateReleased}, nil, []string{"release eipalloc-1"}, nil},
		{"delete snapshot", domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindSnapshot,
			ID: "snap-1", SKU: "snapshot", State: domain.StateAvailable, SizeGiB: 10, AttachedTo: "vol-9", Tags: optIn},
			domain.ActionDeleteSnapshot, domain.ResourceState{State: domain.StateDeleted}, nil, []string{"delete snap-1"}, nil},
		{"retype disk", gp2("vol-2"), domain.ActionRetypeDisk,
			domain.ResourceState{SKU: "gp3", State: domain.StateInUse, SizeGiB: 100, AttachedTo: "i-9"}, nil, []string{"retype vol-2"},
			func(t *testing.T, c *fakeCloud) {
				if r := c.resources["vol-2"]; r.SKU != "gp3" || r.AttachedTo != "i-9" {
					t.Errorf("after retype vol-2 = %s attached to %q; want gp3 still attached to i-9", r.SKU, r.AttachedTo)
				}
			}},
		{"tier storage", bucket("logs"), domain.ActionTierStorage,
			domain.ResourceState{SKU: "STANDARD", State: domain.StateAvailable, SizeGiB: 1000, Tiering: "GLACIER_IR@30d"}, nil, []string{"tier logs"},
			func(t *testing.T, c *fakeCloud) {
				if r := c.resources["logs"]; r.Tiering != "GLACIER_IR@30d" {
					t.Errorf("after tier logs: tiering %q; want GLACIER_IR@30d", r.Tiering)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeCloud(tt.res)
			a := action(tt.kind, tt.res, tt.after)
			a.Schedule = tt.schedule
			e := setup(t, c, true, a)
			res := e.actuator(false).Handle(context.Background(), e.message(a))
			if res.Disposition != actuate.Ack || res.Status != domain.StatusApplied {
				t.Fatalf("Handle = %+v; want ack/applied", res)
			}
			if diff := cmp.Diff(tt.wantCalls, c.Calls()); diff != "" {
				t.Errorf("mutating calls (-want +got):\n%s", diff)
			}
			st := e.state(a)
			if st.Status != domain.StatusApplied || st.RealizedMonthlySavings != a.MonthlySavings {
				t.Errorf("state = %+v; want applied with realized %v", st, a.MonthlySavings)
			}
			var types []domain.AuditType
			for _, ev := range e.audit() {
				types = append(types, ev.Type)
			}
			if diff := cmp.Diff([]domain.AuditType{domain.AuditApplyStart, domain.AuditApplyDone}, types); diff != "" {
				t.Errorf("audit trail (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

// TestDryRunMakesNoMutatingCall runs every kind of action dry, twice,
// and counts every mutating call at the fake cloud: none.
func TestDryRunMakesNoMutatingCall(t *testing.T) {
	for _, tc := range onceCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCloud(tc.res)
			a := tc.act(tc.res)
			e := setup(t, c, true, a)
			for range 2 {
				res := e.actuator(true).Handle(context.Background(), e.message(a))
				if res.Status != domain.StatusDryRun || res.Disposition != actuate.Ack {
					t.Fatalf("Handle = %+v; want ack/dry_run", res)
				}
			}
			if n := c.Attempts(); n != 0 {
				t.Errorf("dry run made %d mutating calls (%v); want 0", n, c.Tried())
			}
			if st := e.state(a); !st.DryRun || st.Status != domain.StatusDryRun {
				t.Errorf("state = %+v; want a dry_run state", st)
			}
		})
	}
}

func TestRedeliveryAppliesOnce(t *testing.T) {
	r := vm("i-1", "m5.2xlarge", domain.StateRunning)
	c := newFakeCloud(r)
	a := action(domain.ActionRightsize, r, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning})
	e := setup(t, c, true, a)
	act := e.actuator(false)
	msg := e.message(a)
	var got []domain.ActionStatus
	for range 3 {
		res := act.Handle(context.Background(), msg)
		if res.Disposition != actuate.Ack {
			t.Fatalf("Handle = %+v; want ack", res)
		}
		got = append(got, res.Status)
	}
	if diff := cmp.Diff([]string{"stop i-1", "resize i-1", "start i-1"}, c.Calls()); diff != "" {
		t.Errorf("calls under 3× delivery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]domain.ActionStatus{domain.StatusApplied, domain.StatusApplied, domain.StatusApplied}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestRefusals(t *testing.T) {
	base := vm("i-1", "m5.2xlarge", domain.StateRunning)
	after := domain.ResourceState{SKU: "m5.large", State: domain.StateRunning}
	tests := []struct {
		name    string
		live    func(r domain.Resource) domain.Resource
		wantSub string
	}{
		{"drift in size", func(r domain.Resource) domain.Resource { r.SKU = "m5.4xlarge"; return r }, "drift"},
		{"drift in state", func(r domain.Resource) domain.Resource { r.State = domain.StateStopped; return r }, "drift"},
		{"protected", func(r domain.Resource) domain.Resource {
			r.Tags = map[string]string{"cloudtrim-optin": "true", "cloudtrim-protect": "yes"}
			return r
		}, "protected"},
		{"not opted in", func(r domain.Resource) domain.Resource { r.Tags = map[string]string{"env": "prod"}; return r }, "not opted in"},
		{"unreadable", func(r domain.Resource) domain.Resource { r.Incomplete = "tags: access denied"; return r }, "could not be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeCloud(tt.live(base))
			a := action(domain.ActionRightsize, base, after)
			e := setup(t, c, true, a)
			res := e.actuator(false).Handle(context.Background(), e.message(a))
			if res.Status != domain.StatusSkipped || res.Disposition != actuate.Ack {
				t.Fatalf("Handle = %+v; want ack/skipped", res)
			}
			if !contains(res.Reason, tt.wantSub) {
				t.Errorf("reason %q does not mention %q", res.Reason, tt.wantSub)
			}
			if n := c.Attempts(); n != 0 {
				t.Errorf("refused action made %d mutating calls", n)
			}
		})
	}
}

func TestUnapprovedActionsAreDeadLettered(t *testing.T) {
	r := vm("i-1", "m5.2xlarge", domain.StateRunning)
	a := action(domain.ActionRightsize, r, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning})
	t.Run("no decision", func(t *testing.T) {
		c := newFakeCloud(r)
		e := setup(t, c, false, a)
		res := e.actuator(false).Handle(context.Background(), e.message(a))
		if res.Disposition != actuate.DeadLetter || !contains(res.Reason, "not approved") {
			t.Fatalf("Handle = %+v; want dead letter, not approved", res)
		}
		if c.Attempts() != 0 {
			t.Error("unapproved action made mutating calls")
		}
	})
	t.Run("rejected after approval", func(t *testing.T) {
		c := newFakeCloud(r)
		e := setup(t, c, true, a)
		e.decide(a, domain.Rejected, t0.Add(time.Minute))
		res := e.actuator(false).Handle(context.Background(), e.message(a))
		if res.Disposition != actuate.DeadLetter || c.Attempts() != 0 {
			t.Fatalf("Handle = %+v after a rejection; want dead letter without calls", res)
		}
	})
	t.Run("tampered message", func(t *testing.T) {
		c := newFakeCloud(r)
		e := setup(t, c, true, a)
		forged := a
		forged.After.SKU = "m5.24xlarge"
		res := e.actuator(false).Handle(context.Background(), e.message(forged))
		if res.Disposition != actuate.DeadLetter || !contains(res.Reason, "tampered") || c.Attempts() != 0 {
			t.Fatalf("Handle(forged) = %+v; want dead letter (tampered) without calls", res)
		}
	})
	t.Run("expired approval", func(t *testing.T) {
		c := newFakeCloud(r)
		e := setup(t, c, true, a)
		e.now = t0.Add(8 * 24 * time.Hour)
		res := e.actuator(false).Handle(context.Background(), e.message(a))
		if res.Disposition != actuate.DeadLetter || !contains(res.Reason, "expired") || c.Attempts() != 0 {
			t.Fatalf("Handle = %+v with an 8-day-old approval; want dead letter (expired)", res)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		e := setup(t, newFakeCloud(r), true, a)
		res := e.actuator(false).Handle(context.Background(), []byte("{not json"))
		if res.Disposition != actuate.DeadLetter {
			t.Fatalf("Handle(malformed) = %+v; want dead letter", res)
		}
	})
}

func TestFailedResizeRollsBack(t *testing.T) {
	r := vm("i-1", "m5.2xlarge", domain.StateRunning)
	c := newFakeCloud(r)
	c.failOn["start"] = fmt.Errorf("start: %w: insufficient capacity for m5.large", domain.ErrConflict)
	a := action(domain.ActionRightsize, r, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning})
	e := setup(t, c, true, a)
	res := e.actuator(false).Handle(context.Background(), e.message(a))
	if res.Status != domain.StatusRolledBack {
		t.Fatalf("Handle = %+v; want rolled_back", res)
	}
	if got := c.resources["i-1"]; got.SKU != "m5.2xlarge" || got.State != domain.StateRunning {
		t.Errorf("after rollback i-1 = %s %s; want m5.2xlarge running", got.SKU, got.State)
	}
	found := false
	for _, ev := range e.audit() {
		found = found || ev.Type == domain.AuditRollback
	}
	if !found {
		t.Error("no rollback audit event")
	}
}

// TestVerificationFailureRollsBack: the new size is reached but the VM
// never comes up (every start answers success and changes nothing), so
// verification fails and the VM is put back to its old size, running.
func TestVerificationFailureRollsBack(t *testing.T) {
	r := vm("i-1", "m5.2xlarge", domain.StateRunning)
	c := newFakeCloud(r)
	a := action(domain.ActionRightsize, r, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning})
	e := setup(t, c, true, a)
	c.stuck["start"] = true
	c.onMutate = func(op string, ref domain.ResourceRef) {
		if op == "resize" { // from the rollback's resize on, the VM boots again
			c.mu.Lock()
			rb := c.resources[ref.ID].SKU == "m5.large"
			if rb {
				delete(c.stuck, "start")
			}
			c.mu.Unlock()
		}
	}
	res := e.actuator(false).Handle(context.Background(), e.message(a))
	if res.Status != domain.StatusRolledBack || !strings.Contains(res.Reason, "did not reach the new size") {
		t.Fatalf("Handle = %+v; want rolled_back after a failed verification", res)
	}
	if got, _ := c.Resource("i-1"); got.SKU != "m5.2xlarge" || got.State != domain.StateRunning {
		t.Errorf("after rollback i-1 = %s %s; want m5.2xlarge running", got.SKU, got.State)
	}
	if diff := cmp.Diff([]string{"stop i-1", "resize i-1", "resize i-1", "start i-1"}, c.Calls()); diff != "" {
		t.Errorf("effective calls (-want +got):\n%s", diff)
	}
	if st := e.state(a); st.Status != domain.StatusRolledBack || st.RealizedMonthlySavings.Micros != 0 {
		t.Errorf("state = %+v; want rolled_back without savings", st)
	}
}

func TestTransientFailureRetriesThenApplies(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	c := newFakeCloud(r)
	c.failOn["stop"] = fmt.Errorf("stop: %w: rate exceeded", domain.ErrThrottled)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	e := setup(t, c, true, a)
	act := e.actuator(false)
	if res := act.Handle(context.Background(), e.message(a)); res.Disposition != actuate.Retry {
		t.Fatalf("first Handle = %+v; want retry on throttling", res)
	}
	// The same worker retries at once: its own stale claim is taken over.
	res := act.Handle(context.Background(), e.message(a))
	if res.Status != domain.StatusApplied {
		t.Fatalf("retry = %+v; want applied", res)
	}
	if st := e.state(a); st.Attempt != 2 {
		t.Errorf("attempt = %d; want 2", st.Attempt)
	}
}

func TestAnotherWorkersClaimIsRespectedUntilItsLeaseEnds(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	c := newFakeCloud(r)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	e := setup(t, c, true, a)
	ctx := context.Background()
	// Worker w0 claimed the action and crashed.
	if _, err := e.lake.Transition(ctx, nil, domain.ActionState{Version: domain.ActionStateVersion, PlanID: a.PlanID, ActionID: a.ID,
		Status: domain.StatusApplying, Worker: "w0", Attempt: 1, At: e.now}); err != nil {
		t.Fatal(err)
	}
	if res := e.actuator(false).Handle(ctx, e.message(a)); res.Disposition != actuate.Retry || c.Attempts() != 0 {
		t.Fatalf("Handle within the lease = %+v; want retry without calls", res)
	}
	e.now = e.now.Add(11 * time.Minute)
	if res := e.actuator(false).Handle(ctx, e.message(a)); res.Status != domain.StatusApplied {
		t.Fatalf("Handle after the lease = %+v; want applied", res)
	}
}

func TestCrashAfterApplyBeforeRecordIsCompletedOnce(t *testing.T) {
	r := disk("vol-1")
	c := newFakeCloud(r)
	a := action(domain.ActionDeleteDisk, r, domain.ResourceState{State: domain.StateDeleted})
	e := setup(t, c, true, a)
	ctx := context.Background()
	// A worker claimed it, deleted the disk and crashed before recording.
	if _, err := e.lake.Transition(ctx, nil, domain.ActionState{Version: domain.ActionStateVersion, PlanID: a.PlanID, ActionID: a.ID,
		Status: domain.StatusApplying, Worker: "w0", Attempt: 1, At: t0}); err != nil {
		t.Fatal(err)
	}
	_ = c.Delete(ctx, a.Target, "crashed-run")
	before := len(c.Calls())
	res := e.actuator(false).Handle(ctx, e.message(a))
	if res.Status != domain.StatusApplied {
		t.Fatalf("recovery = %+v; want applied", res)
	}
	if len(c.Calls()) != before {
		t.Errorf("recovery made %d more effective calls; want none", len(c.Calls())-before)
	}
}

func TestTwoWorkersOneEffect(t *testing.T) {
	for round := range 20 {
		r := vm("i-1", "m5.2xlarge", domain.StateRunning)
		c := newFakeCloud(r)
		a := action(domain.ActionRightsize, r, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning})
		e := setup(t, c, true, a)
		msg := e.message(a)
		var wg sync.WaitGroup
		results := make([]actuate.Result, 2)
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				act := e.actuator(false)
				act.Worker = fmt.Sprintf("w%d", w)
				results[w] = act.Handle(context.Background(), msg)
			}()
		}
		wg.Wait()
		if n := len(c.Calls()); n != 3 {
			t.Fatalf("round %d: %d effective calls (%v); want exactly one stop, resize, start", round, n, c.Calls())
		}
		applied := 0
		for _, res := range results {
			if res.Status == domain.StatusApplied && res.Disposition == actuate.Ack {
				applied++
			}
		}
		if applied == 0 {
			t.Fatalf("round %d: no worker reported applied: %+v", round, results)
		}
	}
}

func TestActionStateReadErrorsAreRetried(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	e := setup(t, newFakeCloud(r), true, a)
	act := e.actuator(false)
	act.Records = failingStates{e.lake}
	if res := act.Handle(context.Background(), e.message(a)); res.Disposition != actuate.Retry {
		t.Fatalf("Handle with an unreadable state store = %+v; want retry", res)
	}
}

type failingStates struct{ *lake.Lake }

func (failingStates) ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error) {
	return domain.ActionState{}, errors.New("store unavailable")
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestDryRunThenApply(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	c := newFakeCloud(r)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	e := setup(t, c, true, a)
	msg := e.message(a)
	if res := e.actuator(true).Handle(context.Background(), msg); res.Status != domain.StatusDryRun {
		t.Fatalf("dry run = %+v", res)
	}
	if res := e.actuator(true).Handle(context.Background(), msg); res.Status != domain.StatusDryRun || c.Attempts() != 0 {
		t.Fatalf("second dry run = %+v, %d calls; want dry_run without calls", res, c.Attempts())
	}
	if res := e.actuator(false).Handle(context.Background(), msg); res.Status != domain.StatusApplied {
		t.Fatalf("apply after dry run = %+v; want applied", res)
	}
	if diff := cmp.Diff([]string{"stop i-1"}, c.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestBlastRadiusCapHoldsTheRest(t *testing.T) {
	r1, r2 := vm("i-1", "m5.large", domain.StateRunning), vm("i-2", "m5.large", domain.StateRunning)
	c := newFakeCloud(r1, r2)
	stopped := domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}
	a1, a2 := action(domain.ActionStop, r1, stopped), action(domain.ActionStop, r2, stopped)
	e := setup(t, c, true, a1, a2)
	ctx := context.Background()

	dry := e.actuator(true)
	dry.Budget = actuate.NewBudget(1)
	for _, a := range []domain.Action{a1, a2} {
		if res := dry.Handle(ctx, e.message(a)); res.Status != domain.StatusDryRun {
			t.Fatalf("dry run under a cap = %+v; want dry_run (a dry run changes nothing and uses no budget)", res)
		}
	}
	if dry.Budget.Left() != 1 {
		t.Fatalf("dry run used the budget: %d left", dry.Budget.Left())
	}

	run1 := e.actuator(false)
	run1.Budget = actuate.NewBudget(1)
	if res := run1.Handle(ctx, e.message(a1)); res.Status != domain.StatusApplied {
		t.Fatalf("first action = %+v; want applied", res)
	}
	res := run1.Handle(ctx, e.message(a2))
	if res.Disposition != actuate.Hold || !strings.Contains(res.Reason, "cap") {
		t.Fatalf("second action = %+v; want hold (cap reached)", res)
	}
	if diff := cmp.Diff([]string{"stop i-1"}, c.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if st := e.state(a2); st.Status != domain.StatusQueued {
		t.Errorf("held action state = %+v; want queued again for a later run", st)
	}
	for _, ev := range e.audit() {
		if ev.ActionID == a2.ID && ev.Type == domain.AuditApplyStart && !ev.DryRun {
			t.Errorf("held action has an apply_start audit event: %+v", ev)
		}
	}

	run2 := e.actuator(false)
	run2.Budget = actuate.NewBudget(1)
	if res := run2.Handle(ctx, e.message(a2)); res.Status != domain.StatusApplied {
		t.Fatalf("next run = %+v; want applied", res)
	}
}

func TestRunBudgetFailsClosed(t *testing.T) {
	tests := []struct {
		caps  domain.Caps
		fleet int
		want  int
	}{
		{domain.Caps{MaxActions: 200, MaxPercent: 20}, 72, 14},
		{domain.Caps{MaxActions: 10, MaxPercent: 20}, 1000, 10},
		{domain.Caps{MaxActions: 200, MaxPercent: 20}, 0, 0},
		{domain.Caps{MaxActions: 0, MaxPercent: 100}, 50, 0},
		{domain.Caps{MaxActions: 200, MaxPercent: 20}, 4, 0},
	}
	for _, tt := range tests {
		if got := actuate.RunBudget(tt.caps, tt.fleet).Left(); got != tt.want {
			t.Errorf("RunBudget(%+v, %d) = %d; want %d", tt.caps, tt.fleet, got, tt.want)
		}
	}
}
