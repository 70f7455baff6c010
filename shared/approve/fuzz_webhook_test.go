package approve_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// webhookMAC is the webhook's documented signature, computed here rather
// than by the code under test: HMAC-SHA256(secret, "v1:" + timestamp +
// ":" + body).
func webhookMAC(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1:" + timestamp + ":"))
	m.Write(body)
	return m.Sum(nil)
}

// webhookSeedBodies are real approval bodies: the CLI's approve-all
// body, the samples of events/local, and the body of the Function URL
// sample.
func webhookSeedBodies(f *testing.F) [][]byte {
	f.Helper()
	plan := testPlan()
	all, err := approve.NewBody(&plan, "ops@example.com")
	if err != nil {
		f.Fatal(err)
	}
	bodies := [][]byte{all}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "events", "local", "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "events", "aws", "approve.function-url.json")); err == nil {
		var ev struct{ Body string }
		if json.Unmarshal(b, &ev) == nil && ev.Body != "" {
			bodies = append(bodies, []byte(ev.Body))
		}
	}
	return bodies
}

// FuzzVerify: Verify never panics and accepts exactly the requests signed
// with one of the configured secrets whose timestamp is within the
// window; every refusal is domain.ErrPermission. Seeds are real bodies
// signed with approve.Sign, and the same with one thing changed.
func FuzzVerify(f *testing.F) {
	forger := []byte("not-the-webhook-secret-000000000")
	for _, body := range webhookSeedBodies(f) {
		ts, sig := approve.Sign(secret, t0, body)
		f.Add(ts, sig, body)
		_, rsig := approve.Sign(rotated, t0, body)
		f.Add(ts, rsig, body)
		tampered := append([]byte(nil), body...)
		tampered[len(tampered)/2] ^= 0x20
		f.Add(ts, sig, tampered)
		f.Add(ts, "v1="+strings.ToUpper(strings.TrimPrefix(sig, "v1=")), body)
		f.Add(ts, sig[:len(sig)-1]+"0", body)
		f.Add("+"+ts, sig, body)
		f.Add(strconv.FormatInt(t0.Unix()+1, 10), sig, body)
		_, fsig := approve.Sign(forger, t0, body)
		f.Add(ts, fsig, body)
		old, osig := approve.Sign(secret, t0.Add(-approve.DefaultWindow-time.Second), body)
		f.Add(old, osig, body)
		edge, esig := approve.Sign(secret, t0.Add(approve.DefaultWindow), body)
		f.Add(edge, esig, body)
	}
	f.Add("", "", []byte{})
	f.Add("9223372036854775807", "v1=", []byte("{}"))
	f.Add("-9223372036854775808", "v0=00", []byte("{}"))
	secrets := [][]byte{secret, rotated}
	f.Fuzz(func(t *testing.T, timestamp, signature string, body []byte) {
		err := approve.Verify(secrets, timestamp, signature, body, t0, approve.DefaultWindow)
		isSigned := false
		if hexSig, ok := strings.CutPrefix(signature, "v1="); ok {
			if got, derr := hex.DecodeString(hexSig); derr == nil {
				for _, s := range secrets {
					isSigned = isSigned || hmac.Equal(got, webhookMAC(s, timestamp, body))
				}
			}
		}
		secs, perr := strconv.ParseInt(timestamp, 10, 64)
		window := int64(approve.DefaultWindow / time.Second)
		fresh := perr == nil && secs >= t0.Unix()-window && secs <= t0.Unix()+window
		switch {
		case err == nil && !isSigned:
			t.Fatalf("Verify accepted %q at %q over %q, which no configured secret signed", signature, timestamp, body)
		case err == nil && !fresh:
			t.Fatalf("Verify accepted timestamp %q, outside the window of %v around %d", timestamp, approve.DefaultWindow, t0.Unix())
		case err != nil && isSigned && fresh:
			t.Fatalf("Verify refused a request signed with a configured secret within the window: %v", err)
		case err != nil && !errors.Is(err, domain.ErrPermission):
			t.Fatalf("Verify = %v; want an error wrapping ErrPermission", err)
		}
		if err != nil {
			for _, s := range secrets {
				if strings.Contains(err.Error(), string(s)) {
					t.Fatalf("Verify's error reveals a secret: %v", err)
				}
			}
		}
	})
}

// FuzzWebhookEffects signs arbitrary bodies, with the webhook secret or
// with one nobody configured, and sends each to a fresh approval core
// over a mem:// lake with a plan. Whatever the body, a refused request
// records no decision, no action state and queues nothing (refusals are
// only audited); an accepted one queues exactly the approved actions of
// the plan, each bound to its current hash and to a recorded approval,
// with a decision audit record naming the approver.
func FuzzWebhookEffects(f *testing.F) {
	for _, body := range webhookSeedBodies(f) {
		f.Add(body, false)
		f.Add(body, true)
	}
	plan := testPlan()
	var some approve.Body
	some.PlanID, some.Approver = plan.ID, "ops@example.com"
	for i, a := range plan.Actions {
		v := domain.Approved
		if i == 1 {
			v = domain.Rejected
		}
		some.Decisions = append(some.Decisions, approve.ActionChoice{ActionID: a.ID, ActionHash: a.Hash(), Verdict: v})
	}
	b, _ := json.Marshal(some)
	f.Add(b, false)
	f.Add([]byte(`{"plan_id": "`+plan.ID+`", "approver": " ", "approve_all": {"plan_digest": "`+plan.Digest()+`"}}`), false)
	forger := []byte("not-the-webhook-secret-000000000")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte, forged bool) {
		if len(body) > 1<<20 {
			t.Skip("larger than the webhook accepts")
		}
		fx := newFixture(t)
		key := secret
		if forged {
			key = forger
		}
		res, err := fx.svc.Handle(ctx, signed(key, t0, body))
		if forged && (err == nil || !errors.Is(err, domain.ErrPermission)) {
			t.Fatalf("Handle(forged %q) = %+v, %v; want ErrPermission", body, res, err)
		}
		ds, derr := fx.lake.Decisions(ctx, fx.plan.ID)
		states, serr := fx.lake.ActionStates(ctx, fx.plan.ID)
		evs, aerr := fx.lake.Audit(ctx, time.Time{}, time.Time{})
		if derr != nil || serr != nil || aerr != nil {
			t.Fatalf("read back: %v, %v, %v", derr, serr, aerr)
		}
		if err != nil {
			if len(ds) > 0 || len(states) > 0 || fx.q.count() > 0 {
				t.Fatalf("refused request (%v) left %d decisions, %d action states and %d queued messages", err, len(ds), len(states), fx.q.count())
			}
			for _, ev := range evs {
				if ev.Type == domain.AuditDecision {
					t.Fatalf("refused request (%v) has a decision audit record: %+v", err, ev)
				}
			}
			return
		}
		recorded := map[string]domain.Decision{}
		for _, d := range ds {
			a, ok := fx.plan.Action(d.ActionID)
			if !ok || d.ActionHash != a.Hash() || d.Approver == "" {
				t.Fatalf("decision %+v is not bound to an action of the plan, or names no approver", d)
			}
			recorded[d.ID] = d
			audited := false
			for _, ev := range evs {
				audited = audited || (ev.Type == domain.AuditDecision && ev.ActionID == d.ActionID && ev.Actor == d.Approver)
			}
			if !audited {
				t.Fatalf("decision %+v has no audit record naming its approver", d)
			}
		}
		queued := 0
		for cloud, msgs := range fx.q.msgs {
			for _, m := range msgs {
				queued++
				var qa domain.QueuedAction
				if err := json.Unmarshal(m, &qa); err != nil || qa.Version != domain.QueueMessageVersion {
					t.Fatalf("queued message %q: %v", m, err)
				}
				a, ok := fx.plan.Action(qa.Action.ID)
				d, approved := recorded[qa.DecisionID]
				if !ok || a.Hash() != qa.Action.Hash() || a.Target.Cloud != cloud {
					t.Fatalf("queued action %s is not the plan's action on the %s queue", qa.Action.ID, cloud)
				}
				if !approved || d.Verdict != domain.Approved || d.ActionID != a.ID {
					t.Fatalf("queued action %s names decision %q, not a recorded approval of it", a.ID, qa.DecisionID)
				}
			}
		}
		if queued != res.Enqueued {
			t.Fatalf("Handle reports %d queued; %d messages were", res.Enqueued, queued)
		}
	})
}
