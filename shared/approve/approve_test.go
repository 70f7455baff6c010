package approve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

var (
	t0      = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	secret  = []byte("0123456789abcdef0123456789abcdef")
	rotated = []byte("fedcba9876543210fedcba9876543210")
)

type queueRec struct {
	mu   sync.Mutex
	msgs map[domain.Cloud][][]byte
}

func (q *queueRec) Enqueue(ctx context.Context, c domain.Cloud, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.msgs == nil {
		q.msgs = map[domain.Cloud][][]byte{}
	}
	q.msgs[c] = append(q.msgs[c], body)
	return nil
}

func (q *queueRec) count() int {
	n := 0
	for _, m := range q.msgs {
		n += len(m)
	}
	return n
}

func testPlan() domain.Plan {
	p := domain.Plan{Version: domain.PlanVersion, ID: "plan-20261123T090000Z-aaaa", CreatedAt: t0, Currency: "USD"}
	for i, c := range []domain.Cloud{domain.AWS, domain.Azure, domain.GCP} {
		ref := domain.ResourceRef{Cloud: c, Account: "acct", Region: "r1", Kind: domain.KindVM, ID: "vm-" + strconv.Itoa(i)}
		p.Actions = append(p.Actions, domain.Action{ID: domain.ActionID(domain.ActionStop, ref), PlanID: p.ID, Kind: domain.ActionStop,
			Target: ref, Before: domain.ResourceState{SKU: "m5.large", State: "running"}, After: domain.ResourceState{SKU: "m5.large", State: "stopped"},
			MonthlySavings: domain.USD(int64(i+1) * 10_000_000)})
	}
	return p
}

type fixture struct {
	svc  *approve.Service
	lake *lake.Lake
	q    *queueRec
	plan domain.Plan
	now  time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	l, err := lake.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	plan := testPlan()
	if err := l.PutPlan(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	f := &fixture{lake: l, q: &queueRec{}, plan: plan, now: t0}
	f.svc = &approve.Service{Plans: l, Records: l, Queue: f.q, Secrets: [][]byte{secret, rotated}, Now: func() time.Time { return f.now }}
	return f
}

func signed(key []byte, at time.Time, body []byte) approve.Request {
	ts, sig := approve.Sign(key, at, body)
	return approve.Request{Timestamp: ts, Signature: sig, Body: body}
}

func TestApproveWholePlan(t *testing.T) {
	f := newFixture(t)
	body, _ := approve.NewBody(&f.plan, "ops@example.com")
	res, err := f.svc.Handle(context.Background(), signed(secret, t0, body))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(res.Approved) != 3 || res.Enqueued != 3 || f.q.count() != 3 {
		t.Fatalf("result %+v, %d queued; want 3 approved and queued", res, f.q.count())
	}
	for _, c := range domain.Clouds {
		if len(f.q.msgs[c]) != 1 {
			t.Errorf("queue of %s has %d messages; want 1 (each action goes to its cloud's queue)", c, len(f.q.msgs[c]))
		}
	}
	ds, _ := f.lake.Decisions(context.Background(), f.plan.ID)
	if len(ds) != 3 {
		t.Fatalf("%d decisions recorded; want 3", len(ds))
	}
	for _, d := range ds {
		a, _ := f.plan.Action(d.ActionID)
		if d.ActionHash != a.Hash() || d.Approver != "ops@example.com" || d.Verdict != domain.Approved {
			t.Errorf("decision %+v not bound to action %s", d, a.ID)
		}
		st, err := f.lake.ActionState(context.Background(), f.plan.ID, d.ActionID)
		if err != nil || st.Status != domain.StatusQueued {
			t.Errorf("state of %s = %+v, %v; want queued", d.ActionID, st, err)
		}
	}
	var qa domain.QueuedAction
	if err := json.Unmarshal(f.q.msgs[domain.AWS][0], &qa); err != nil || qa.Action.Hash() != f.plan.Actions[0].Hash() {
		t.Errorf("queued message %s does not carry the planned action", f.q.msgs[domain.AWS][0])
	}
}

func TestApproveSubsetAndReject(t *testing.T) {
	f := newFixture(t)
	a0, a1 := f.plan.Actions[0], f.plan.Actions[1]
	body, _ := json.Marshal(approve.Body{PlanID: f.plan.ID, Approver: "lead@example.com", Decisions: []approve.ActionChoice{
		{ActionID: a0.ID, ActionHash: a0.Hash(), Verdict: domain.Approved},
		{ActionID: a1.ID, ActionHash: a1.Hash(), Verdict: domain.Rejected},
	}})
	res, err := f.svc.Handle(context.Background(), signed(rotated, t0, body))
	if err != nil {
		t.Fatalf("Handle with the second (rotated) secret: %v", err)
	}
	if len(res.Approved) != 1 || len(res.Rejected) != 1 || f.q.count() != 1 {
		t.Fatalf("result %+v; want 1 approved and queued, 1 rejected", res)
	}
	if _, err := f.lake.ActionState(context.Background(), f.plan.ID, a1.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("rejected action has a state (err %v); want none", err)
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	plan := testPlan()
	a0 := plan.Actions[0]
	good, _ := approve.NewBody(&plan, "ops@example.com")
	wrongHash, _ := json.Marshal(approve.Body{PlanID: plan.ID, Approver: "x", Decisions: []approve.ActionChoice{
		{ActionID: a0.ID, ActionHash: "sha256:beef", Verdict: domain.Approved}}})
	notInPlan, _ := json.Marshal(approve.Body{PlanID: plan.ID, Approver: "x", Decisions: []approve.ActionChoice{
		{ActionID: "act-0000000000000000", ActionHash: a0.Hash(), Verdict: domain.Approved}}})
	staleDigest, _ := json.Marshal(approve.Body{PlanID: plan.ID, Approver: "x", ApproveAll: &approve.ApproveAll{PlanDigest: "sha256:old"}})
	otherPlan, _ := json.Marshal(approve.Body{PlanID: "plan-missing", Approver: "x", ApproveAll: &approve.ApproveAll{PlanDigest: "sha256:x"}})
	noApprover, _ := json.Marshal(approve.Body{PlanID: plan.ID, ApproveAll: &approve.ApproveAll{PlanDigest: plan.Digest()}})
	badVerdict, _ := json.Marshal(approve.Body{PlanID: plan.ID, Approver: "x", Decisions: []approve.ActionChoice{
		{ActionID: a0.ID, ActionHash: a0.Hash(), Verdict: "maybe"}}})
	tampered := bytes.Replace(good, []byte("ops@"), []byte("evil"), 1)

	tests := []struct {
		name string
		req  func() approve.Request
		kind error
	}{
		{"unsigned", func() approve.Request { return approve.Request{Body: good} }, domain.ErrPermission},
		{"expired", func() approve.Request { return signed(secret, t0.Add(-6*time.Minute), good) }, domain.ErrPermission},
		{"from the future", func() approve.Request { return signed(secret, t0.Add(6*time.Minute), good) }, domain.ErrPermission},
		{"tampered body", func() approve.Request {
			r := signed(secret, t0, good)
			r.Body = tampered
			return r
		}, domain.ErrPermission},
		{"wrong secret", func() approve.Request { return signed([]byte("not-the-secret-at-all-0000000000"), t0, good) }, domain.ErrPermission},
		{"malformed signature", func() approve.Request {
			r := signed(secret, t0, good)
			r.Signature = "v1=zz"
			return r
		}, domain.ErrPermission},
		{"other scheme", func() approve.Request {
			r := signed(secret, t0, good)
			r.Signature = "v0=" + r.Signature[3:]
			return r
		}, domain.ErrPermission},
		{"malformed json", func() approve.Request { return signed(secret, t0, []byte("{")) }, domain.ErrInvalid},
		{"unknown field", func() approve.Request { return signed(secret, t0, []byte(`{"plan_id":"p","approver":"a","all":true}`)) }, domain.ErrInvalid},
		{"no approver", func() approve.Request { return signed(secret, t0, noApprover) }, domain.ErrInvalid},
		{"bad verdict", func() approve.Request { return signed(secret, t0, badVerdict) }, domain.ErrInvalid},
		{"unknown plan", func() approve.Request { return signed(secret, t0, otherPlan) }, domain.ErrNotFound},
		{"action not in plan", func() approve.Request { return signed(secret, t0, notInPlan) }, domain.ErrNotFound},
		{"action changed since shown", func() approve.Request { return signed(secret, t0, wrongHash) }, domain.ErrConflict},
		{"plan changed since shown", func() approve.Request { return signed(secret, t0, staleDigest) }, domain.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.Handle(context.Background(), tt.req())
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Handle = %v; want an error wrapping %v", err, tt.kind)
			}
			if f.q.count() != 0 {
				t.Errorf("a refused request enqueued %d messages", f.q.count())
			}
			if ds, _ := f.lake.Decisions(context.Background(), f.plan.ID); len(ds) != 0 {
				t.Errorf("a refused request recorded %d decisions", len(ds))
			}
		})
	}
}

func TestReplayIsRefused(t *testing.T) {
	f := newFixture(t)
	body, _ := approve.NewBody(&f.plan, "ops@example.com")
	req := signed(secret, t0, body)
	if _, err := f.svc.Handle(context.Background(), req); err != nil {
		t.Fatalf("first Handle: %v", err)
	}
	f.now = t0.Add(time.Minute)
	_, err := f.svc.Handle(context.Background(), req)
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("replayed Handle = %v; want ErrConflict", err)
	}
	if f.q.count() != 3 {
		t.Errorf("queue holds %d messages after a replay; want the 3 of the first request", f.q.count())
	}
}

func TestNoSecretConfiguredRefusesEverything(t *testing.T) {
	f := newFixture(t)
	f.svc.Secrets = nil
	body, _ := approve.NewBody(&f.plan, "ops@example.com")
	if _, err := f.svc.Handle(context.Background(), signed(secret, t0, body)); !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("Handle without secrets = %v; want ErrPermission", err)
	}
}

// TestSampleEventsDecode keeps the sample bodies in events/local in the
// shape the webhook accepts.
func TestSampleEventsDecode(t *testing.T) {
	files, _ := filepath.Glob("../../events/local/*.json")
	if len(files) < 2 {
		t.Fatalf("found %d sample bodies in events/local; want at least 2", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var b approve.Body
		if err := dec.Decode(&b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if b.PlanID == "" || b.Approver == "" || (b.ApproveAll == nil && len(b.Decisions) == 0) {
			t.Errorf("%s: incomplete body %+v", f, b)
		}
	}
}

// failingRecords fails the n-th write of any kind, as a crash between
// two writes would leave things.
type failingRecords struct {
	*lake.Lake
	n, writes int
}

func (f *failingRecords) fail() error {
	f.writes++
	if f.writes == f.n {
		return errors.New("injected store failure")
	}
	return nil
}

func (f *failingRecords) PutDecision(ctx context.Context, d domain.Decision) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Lake.PutDecision(ctx, d)
}

func (f *failingRecords) AppendAudit(ctx context.Context, ev domain.AuditEvent) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Lake.AppendAudit(ctx, ev)
}

func (f *failingRecords) Transition(ctx context.Context, prev *domain.ActionState, next domain.ActionState) (domain.ActionState, error) {
	if err := f.fail(); err != nil {
		return domain.ActionState{}, err
	}
	return f.Lake.Transition(ctx, prev, next)
}

// TestFailureMidwayThenRetry fails each write of an approval in turn; a
// new signed request from the approver then completes the approval with
// one decision and one queued state per action, whatever had been
// written before the failure.
func TestFailureMidwayThenRetry(t *testing.T) {
	for n := 1; n <= 9; n++ {
		t.Run(fmt.Sprint("write ", n), func(t *testing.T) {
			f := newFixture(t)
			rec := &failingRecords{Lake: f.lake, n: n}
			f.svc.Records = rec
			body, _ := approve.NewBody(&f.plan, "ops@example.com")
			if _, err := f.svc.Handle(context.Background(), signed(secret, t0, body)); err == nil {
				t.Fatalf("Handle with write %d failing succeeded", n)
			}
			f.now = t0.Add(30 * time.Second)
			res, err := f.svc.Handle(context.Background(), signed(secret, f.now, body))
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if len(res.Approved) != 3 {
				t.Fatalf("retry approved %d; want 3", len(res.Approved))
			}
			ds, _ := f.lake.Decisions(context.Background(), f.plan.ID)
			if len(ds) != 3 {
				t.Errorf("%d decisions after the retry; want exactly 3 (decision IDs are deterministic)", len(ds))
			}
			for _, a := range f.plan.Actions {
				st, err := f.lake.ActionState(context.Background(), f.plan.ID, a.ID)
				if err != nil || st.Status != domain.StatusQueued || st.Seq != 1 {
					t.Errorf("state of %s = %+v, %v; want one queued state", a.ID, st, err)
				}
			}
		})
	}
}
