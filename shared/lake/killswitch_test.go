package lake_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/lake/lakestest"
)

func memLake(t *testing.T) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestKillSwitchDocument(t *testing.T) {
	ctx := context.Background()
	l := memLake(t)
	if k, err := l.KillSwitch(ctx); err != nil || k.Engaged {
		t.Fatalf("KillSwitch() with no document = %+v, %v; want disengaged, nil", k, err)
	}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	want := domain.KillSwitch{Version: domain.KillSwitchVersion, Engaged: true, By: "oncall@example.com", Reason: "INC-1", At: at.UTC()}
	if err := l.SetKillSwitch(ctx, domain.KillSwitch{Engaged: true, By: "oncall@example.com", Reason: "INC-1", At: at}); err != nil {
		t.Fatal(err)
	}
	got, err := l.KillSwitch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("KillSwitch() (-want +got):\n%s", diff)
	}

	// The document as an operator writes it by hand.
	if err := l.Put(ctx, lake.KillSwitchKey, []byte(`{"engaged": true, "by": "me", "reason": "why", "at": "2026-11-23T08:00:00Z"}`), false); err != nil {
		t.Fatal(err)
	}
	if got, err := l.KillSwitch(ctx); err != nil || !got.Engaged || got.By != "me" {
		t.Errorf("KillSwitch() of a hand-written document = %+v, %v", got, err)
	}
	for _, tt := range []struct {
		doc  string
		want error
	}{
		{`{"engaged": "yes"}`, domain.ErrInvalid},
		{`not json`, domain.ErrInvalid},
		{`{"version": "cloudtrim.kill-switch/v9", "engaged": false}`, domain.ErrUnsupported},
	} {
		if err := l.Put(ctx, lake.KillSwitchKey, []byte(tt.doc), false); err != nil {
			t.Fatal(err)
		}
		if _, err := l.KillSwitch(ctx); !errors.Is(err, tt.want) {
			t.Errorf("KillSwitch() of %s = %v; want %v", tt.doc, err, tt.want)
		}
	}
}

func TestBreakerCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	l := memLake(t)
	b0, err := l.Breaker(ctx, domain.AWS)
	if err != nil || b0.Seq != 0 || b0.Failures != 0 {
		t.Fatalf("Breaker() never moved = %+v, %v", b0, err)
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	next := b0
	next.Failures, next.At = 1, now
	b1, err := l.SwapBreaker(ctx, b0, next)
	if err != nil || b1.Seq != 1 {
		t.Fatalf("SwapBreaker = %+v, %v; want seq 1", b1, err)
	}
	// A writer that read version 0 lost.
	if _, err := l.SwapBreaker(ctx, b0, next); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("stale SwapBreaker = %v; want ErrConflict", err)
	}
	if got, _ := l.Breaker(ctx, domain.AWS); got.Seq != 1 || got.Failures != 1 {
		t.Errorf("Breaker() = %+v; want seq 1 with 1 failure", got)
	}
	if got, _ := l.Breaker(ctx, domain.GCP); got.Seq != 0 {
		t.Errorf("GCP breaker = %+v; each cloud has its own", got)
	}

	// Concurrent increments, each retried on conflict, lose nothing.
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cur, err := l.Breaker(ctx, domain.AWS)
				if err != nil {
					t.Error(err)
					return
				}
				n := cur
				n.Failures++
				if _, err := l.SwapBreaker(ctx, cur, n); err == nil {
					return
				} else if !errors.Is(err, domain.ErrConflict) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got, _ := l.Breaker(ctx, domain.AWS); got.Failures != 11 {
		t.Errorf("after 10 concurrent increments Failures = %d; want 11", got.Failures)
	}
}

func TestOverrideDocuments(t *testing.T) {
	ctx := context.Background()
	l := memLake(t)
	until := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	azureID := "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/VM1"
	ref := domain.ResourceRef{Cloud: domain.Azure, Account: "0000", Region: "westeurope", Kind: domain.KindVM, ID: azureID}
	if _, err := l.Override(ctx, ref); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Override() with none = %v; want ErrNotFound", err)
	}
	o := domain.Override{Cloud: domain.Azure, ResourceID: azureID, Until: until, Who: "dev@example.com", Why: "demo", Kinds: []domain.ActionKind{domain.ActionSchedule}}
	if err := l.PutOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	// Azure IDs compare without case; the key escapes the slashes.
	ref.ID = "/SUBSCRIPTIONS/0000/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
	got, err := l.Override(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	o.Version = domain.OverrideVersion
	if diff := cmp.Diff(o, got); diff != "" {
		t.Errorf("Override() (-want +got):\n%s", diff)
	}
	if key := lake.OverrideKey(domain.AWS, "arn:aws:ec2:us-east-1:1:instance/i-0abc"); key != "overrides/aws/i-0abc.json" {
		t.Errorf("OverrideKey(aws ARN) = %q; want overrides/aws/i-0abc.json", key)
	}

	// A hand-written document may leave out what its key says.
	awsRef := domain.ResourceRef{Cloud: domain.AWS, ID: "i-1"}
	if err := l.Put(ctx, lake.OverrideKey(domain.AWS, "i-1"), []byte(`{"until": "2026-12-01T09:00:00Z", "who": "me", "why": "x"}`), false); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Override(ctx, awsRef); err != nil || got.ResourceID != "i-1" || !got.Until.Equal(until) {
		t.Errorf("Override() of a hand-written document = %+v, %v", got, err)
	}
	for _, doc := range []string{`{"who": "me"}`, `{"until": "2026-12-01T09:00:00Z"}`, `{"until": "soon", "who": "me"}`,
		`{"resource_id": "i-2", "until": "2026-12-01T09:00:00Z", "who": "me"}`} {
		if err := l.Put(ctx, lake.OverrideKey(domain.AWS, "i-1"), []byte(doc), false); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Override(ctx, awsRef); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Override() of %s = %v; want ErrInvalid", doc, err)
		}
	}
	if err := l.DeleteOverride(ctx, domain.AWS, "i-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Override(ctx, awsRef); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Override() after DeleteOverride = %v; want ErrNotFound", err)
	}
}

func TestCoverage(t *testing.T) {
	ctx := context.Background()
	l := memLake(t)
	ds := lakestest.Sample(domain.AWS, 8, 1)
	ds.Scopes = []lake.ScopeStatus{
		{Account: "111111111111", Region: "eu-west-1", Status: lake.ScopeOK, Resources: 4},
		{Account: "222222222222", Region: "eu-west-1", Status: lake.ScopePartial, Error: "utilization: throttled", Resources: 4},
		{Account: "222222222222", Region: "us-east-1", Status: lake.ScopePartial, Error: "describe volumes: throttled", Resources: 3},
		{Account: "222222222222", Region: "ap-south-1", Status: lake.ScopeFailed, Error: "AccessDenied"},
		{Account: "111111111111", Region: "costs", Status: lake.ScopeFailed, Error: "cost explorer: AccessDenied"},
	}
	if _, err := lakestest.Write(ctx, l, ds, "20261123T080000.000Z-00000001", nil); err != nil {
		t.Fatal(err)
	}
	s, err := l.OpenSnapshot(ctx, domain.AWS, "20261123T080000.000Z-00000001")
	if err != nil {
		t.Fatal(err)
	}
	cov, err := l.Coverage(ctx, []domain.SnapshotRef{s.Ref()})
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Coverage{Known: true, Resources: 11,
		Scopes: []domain.ScopeRef{{Cloud: domain.AWS, Account: "111111111111", Region: "eu-west-1"}, {Cloud: domain.AWS, Account: "222222222222", Region: "eu-west-1"}},
		Gaps: []domain.ScopeGap{
			{ScopeRef: domain.ScopeRef{Cloud: domain.AWS, Account: "222222222222", Region: "us-east-1"}, Status: lake.ScopePartial, Error: "describe volumes: throttled"},
			{ScopeRef: domain.ScopeRef{Cloud: domain.AWS, Account: "222222222222", Region: "ap-south-1"}, Status: lake.ScopeFailed, Error: "AccessDenied"},
		}}
	if diff := cmp.Diff(want, cov); diff != "" {
		t.Errorf("Coverage (-want +got):\n%s", diff)
	}
	if cov.Complete() {
		t.Error("Complete() = true with gaps")
	}

	bad := s.Ref()
	bad.Checksum = "sha256:" + fmt.Sprintf("%064d", 0)
	if _, err := l.Coverage(ctx, []domain.SnapshotRef{bad}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Coverage with a checksum that does not match = %v; want ErrInvalid", err)
	}
	gone := s.Ref()
	gone.RunID = "20200101T000000.000Z-00000000"
	if _, err := l.Coverage(ctx, []domain.SnapshotRef{gone}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Coverage of a snapshot that is gone = %v; want ErrNotFound", err)
	}
	if _, err := l.Coverage(ctx, nil); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Coverage of no snapshot = %v; want ErrNotFound", err)
	}
}

func TestActionDecisions(t *testing.T) {
	ctx := context.Background()
	l := memLake(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	put := func(action, id string, v domain.Verdict, at time.Time) domain.Decision {
		d := domain.Decision{Version: domain.DecisionVersion, ID: id, PlanID: "plan-1", ActionID: action, ActionHash: "sha256:x", Verdict: v, Approver: "a", Channel: "test", At: at}
		if err := l.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	rejected := put("act-1", "dec-2", domain.Rejected, at.Add(time.Minute))
	approved := put("act-1", "dec-1", domain.Approved, at)
	put("act-2", "dec-3", domain.Approved, at)
	got, err := l.ActionDecisions(ctx, "plan-1", "act-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]domain.Decision{approved, rejected}, got); diff != "" {
		t.Errorf("ActionDecisions (-want +got):\n%s", diff)
	}
	if got, err := l.ActionDecisions(ctx, "plan-1", "act-9"); err != nil || len(got) != 0 {
		t.Errorf("ActionDecisions of an undecided action = %v, %v; want none", got, err)
	}
	if _, err := l.ActionDecisions(ctx, "plan-1", "../x"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ActionDecisions with a bad ID = %v; want ErrInvalid", err)
	}
}
