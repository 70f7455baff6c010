package approve_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func newLink(t testing.TB, key []byte, plan *domain.Plan, actionID string, expires time.Time) string {
	t.Helper()
	hash := plan.Digest()
	if actionID != "" {
		a, _ := plan.Action(actionID)
		hash = a.Hash()
	}
	tok, err := approve.NewLink(key, plan.ID, actionID, hash, "ops@example.com", expires)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// flip changes the character at i of s to another one of the base64url
// alphabet.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// nonCanonical sets a padding bit of the token's last character: lax
// base64 decoding reads the same signature from it.
func nonCanonical(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[i^1])
}

func TestVerifyLink(t *testing.T) {
	plan := testPlan()
	a0 := plan.Actions[0]
	exp := t0.Add(time.Hour)
	good := newLink(t, secret, &plan, a0.ID, exp)
	payload, sig, _ := strings.Cut(good, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var fields map[string]any
	_ = json.Unmarshal(raw, &fields)
	fields["approver"] = "ceo@example.com"
	forged, _ := json.Marshal(fields)
	forgedPayload := base64.RawURLEncoding.EncodeToString(forged) + "." + sig

	tests := []struct {
		name  string
		token string
		now   time.Time
		kind  error // nil: valid
		gone  bool
	}{
		{"valid", good, t0, nil, false},
		{"second secret during rotation", newLink(t, rotated, &plan, a0.ID, exp), t0, nil, false},
		{"whole plan", newLink(t, secret, &plan, "", exp), t0, nil, false},
		{"wrong secret", newLink(t, []byte("not-the-link-secret-000000000000"), &plan, a0.ID, exp), t0, domain.ErrPermission, false},
		{"expired", good, exp, domain.ErrPermission, true},
		{"long expired", good, exp.Add(24 * time.Hour), domain.ErrPermission, true},
		{"payload changed", forgedPayload, t0, domain.ErrPermission, false},
		{"payload character flipped", flip(good, 10), t0, domain.ErrPermission, false},
		{"signature character flipped", flip(good, len(good)-5), t0, domain.ErrPermission, false},
		{"signature dropped", payload + ".", t0, domain.ErrPermission, false},
		{"no signature", payload, t0, domain.ErrPermission, false},
		{"two signatures", good + "." + sig, t0, domain.ErrPermission, false},
		{"signature truncated", good[:len(good)-3], t0, domain.ErrPermission, false},
		{"non-canonical base64", nonCanonical(good), t0, domain.ErrPermission, false},
		{"empty", "", t0, domain.ErrPermission, false},
		{"too long", strings.Repeat("a", approve.MaxLinkToken+1), t0, domain.ErrInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := approve.VerifyLink([][]byte{secret, rotated}, tt.token, tt.now)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("VerifyLink = %v; want nil", err)
				}
				if l.PlanID != plan.ID || l.Approver != "ops@example.com" || !l.Expires.Equal(exp) || len(l.Nonce) != 32 {
					t.Errorf("VerifyLink = %+v; want the link as made", l)
				}
				return
			}
			if !errors.Is(err, tt.kind) || errors.Is(err, approve.ErrGone) != tt.gone {
				t.Fatalf("VerifyLink = %v; want %v (gone: %v)", err, tt.kind, tt.gone)
			}
		})
	}
	if _, err := approve.VerifyLink(nil, good, t0); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("VerifyLink without secrets = %v; want ErrPermission", err)
	}
}

func TestNewLinkRefusesIncompleteLinks(t *testing.T) {
	for _, tt := range []struct{ name, plan, hash, approver string }{
		{"no plan", "", "sha256:x", "ops@example.com"},
		{"no hash", "plan-1", "", "ops@example.com"},
		{"no approver", "plan-1", "sha256:x", " "},
		{"slack identity", "plan-1", "sha256:x", "slack:T1/U1"},
	} {
		if _, err := approve.NewLink(secret, tt.plan, "", tt.hash, tt.approver, t0); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("NewLink(%s) = %v; want ErrInvalid", tt.name, err)
		}
	}
	if _, err := approve.NewLink(nil, "plan-1", "", "sha256:x", "ops@example.com", t0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("NewLink without a secret = %v; want ErrInvalid", err)
	}
	a, _ := approve.NewLink(secret, "plan-1", "", "sha256:x", "ops@example.com", t0.Add(time.Hour))
	b, _ := approve.NewLink(secret, "plan-1", "", "sha256:x", "ops@example.com", t0.Add(time.Hour))
	if a == b {
		t.Errorf("two links for the same approval are equal; want each its own nonce")
	}
}

func TestApplyLinkWorksOnce(t *testing.T) {
	f := newFixture(t)
	a0 := f.plan.Actions[0]
	tok := newLink(t, secret, &f.plan, a0.ID, t0.Add(time.Hour))
	res, err := f.svc.ApplyLink(context.Background(), tok)
	if err != nil {
		t.Fatalf("ApplyLink: %v", err)
	}
	if len(res.Approved) != 1 || res.Approved[0] != a0.ID || f.q.count() != 1 {
		t.Fatalf("ApplyLink = %+v; want %s approved and queued", res, a0.ID)
	}
	ds, _ := f.lake.Decisions(context.Background(), f.plan.ID)
	if len(ds) != 1 || ds[0].Channel != "link" || ds[0].Approver != "ops@example.com" || ds[0].ActionHash != a0.Hash() {
		t.Fatalf("decisions %+v; want one by ops@example.com via link", ds)
	}
	f.now = t0.Add(time.Minute)
	_, err = f.svc.ApplyLink(context.Background(), tok)
	if !errors.Is(err, approve.ErrGone) || !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("second ApplyLink = %v; want ErrGone (used)", err)
	}
	if f.q.count() != 1 {
		t.Errorf("a reused link enqueued again: %d messages", f.q.count())
	}
}

func TestApplyLinkWholePlanAndLinkSecrets(t *testing.T) {
	f := newFixture(t)
	linkKey := []byte("a-separate-link-secret-000000000")
	f.svc.LinkSecrets = [][]byte{linkKey}
	if _, err := f.svc.ApplyLink(context.Background(), newLink(t, secret, &f.plan, "", t0.Add(time.Hour))); !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("ApplyLink signed with the webhook secret while LinkSecrets is set = %v; want ErrPermission", err)
	}
	res, err := f.svc.ApplyLink(context.Background(), newLink(t, linkKey, &f.plan, "", t0.Add(time.Hour)))
	if err != nil || len(res.Approved) != 3 {
		t.Fatalf("ApplyLink(whole plan) = %+v, %v; want 3 approved", res, err)
	}
}

func TestApplyLinkRefusalsChangeNothing(t *testing.T) {
	plan := testPlan()
	a0 := plan.Actions[0]
	tests := []struct {
		name  string
		token func() string
		kind  error
		gone  bool
	}{
		{"expired", func() string { return newLink(t, secret, &plan, a0.ID, t0) }, domain.ErrPermission, true},
		{"tampered", func() string { return flip(newLink(t, secret, &plan, a0.ID, t0.Add(time.Hour)), 12) }, domain.ErrPermission, false},
		{"forged", func() string {
			return newLink(t, []byte("forger-forger-forger-forger-0000"), &plan, a0.ID, t0.Add(time.Hour))
		}, domain.ErrPermission, false},
		{"action changed", func() string {
			tok, _ := approve.NewLink(secret, plan.ID, a0.ID, "sha256:old", "ops@example.com", t0.Add(time.Hour))
			return tok
		}, domain.ErrConflict, false},
		{"plan changed", func() string {
			tok, _ := approve.NewLink(secret, plan.ID, "", "sha256:old", "ops@example.com", t0.Add(time.Hour))
			return tok
		}, domain.ErrConflict, false},
		{"unknown plan", func() string {
			tok, _ := approve.NewLink(secret, "plan-missing", "", "sha256:x", "ops@example.com", t0.Add(time.Hour))
			return tok
		}, domain.ErrNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.ApplyLink(context.Background(), tt.token())
			if !errors.Is(err, tt.kind) || errors.Is(err, approve.ErrGone) != tt.gone {
				t.Fatalf("ApplyLink = %v; want %v (gone: %v)", err, tt.kind, tt.gone)
			}
			assertNothingDecided(t, f)
			ev := assertRefusalAudited(t, f, "link")
			if tt.name != "tampered" && ev.Actor != "unverified:ops@example.com" {
				t.Errorf("refusal actor = %q; want the claimed approver, marked unverified", ev.Actor)
			}
		})
	}
}

// TestApplyLinkConcurrently posts one link from many goroutines: exactly
// one applies it, the others find it used.
func TestApplyLinkConcurrently(t *testing.T) {
	f := newFixture(t)
	tok := newLink(t, secret, &f.plan, "", t0.Add(time.Hour))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.svc.ApplyLink(context.Background(), tok) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, approve.ErrGone):
			t.Errorf("ApplyLink = %v; want success or ErrGone", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent ApplyLink calls succeeded; want exactly 1", ok, n)
	}
	if f.q.count() != 3 {
		t.Errorf("queue holds %d messages; want the plan's 3 actions once", f.q.count())
	}
}

func TestPreviewLinkHasNoSideEffect(t *testing.T) {
	f := newFixture(t)
	f.svc.Authz = approve.Authz{Policy: domain.ApprovalPolicy{TwoPersonAbove: 15}, Currency: "USD"}
	tok := newLink(t, secret, &f.plan, "", t0.Add(time.Hour))
	for range 3 {
		p, err := f.svc.PreviewLink(context.Background(), tok)
		if err != nil {
			t.Fatalf("PreviewLink: %v", err)
		}
		if len(p.Actions) != 3 || p.Savings != domain.USD(60_000_000) || len(p.TwoPerson) != 2 || p.Link.Approver != "ops@example.com" {
			t.Fatalf("PreviewLink = %+v; want 3 actions saving USD 60, 2 needing a second approver", p)
		}
	}
	assertNothingDecided(t, f)
	if evs, _ := f.lake.Audit(context.Background(), time.Time{}, time.Time{}); len(evs) != 0 {
		t.Errorf("previews wrote %d audit events; want none", len(evs))
	}
	if _, err := f.svc.ApplyLink(context.Background(), tok); err != nil {
		t.Fatalf("ApplyLink after previews: %v; want the link still unused", err)
	}
	if _, err := f.svc.PreviewLink(context.Background(), flip(tok, 8)); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("PreviewLink(tampered) = %v; want ErrPermission", err)
	}
}
