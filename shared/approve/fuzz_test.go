package approve_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The fuzz targets check two things of every verifier: it never panics,
// and it never accepts an input that was not signed with one of the
// configured secrets. The oracle computes each scheme's MAC itself, as
// documented, rather than calling the code under test.

func hmacOf(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// checkBound fails when res holds a decision that is not bound to an
// action of the plan by its current hash.
func checkBound(t *testing.T, plan *domain.Plan, res approve.Result) {
	t.Helper()
	for _, d := range res.Decisions {
		a, ok := plan.Action(d.ActionID)
		if !ok || d.PlanID != plan.ID || d.ActionHash != a.Hash() {
			t.Fatalf("decision %+v is not bound to an action of plan %s", d, plan.ID)
		}
	}
}

func FuzzSlackVerify(f *testing.F) {
	body := slackBody("T0001", "U0001")
	for _, key := range [][]byte{slackSecret, slackRotated, secret} {
		ts, sig := approve.SignSlack(key, t0, body)
		f.Add(ts, sig, body)
	}
	ts, sig := approve.SignSlack(slackSecret, t0.Add(-time.Hour), body)
	f.Add(ts, sig, body)
	f.Add("", "", []byte{})
	f.Add("1795000000", "v0=", []byte("payload="))
	f.Add("-9223372036854775808", "v0=00", []byte("x"))
	f.Add("+1795000000", "v0=zz", []byte("payload=%7B%7D"))
	secrets := [][]byte{slackSecret, slackRotated}
	f.Fuzz(func(t *testing.T, timestamp, signature string, body []byte) {
		err := approve.VerifySlack(secrets, timestamp, signature, body, t0, approve.DefaultWindow)
		isSigned := false
		for _, s := range secrets {
			want := "v0=" + hex.EncodeToString(hmacOf(s, "v0:", timestamp, ":", string(body)))
			isSigned = isSigned || signature == want
		}
		if err == nil && !isSigned {
			t.Fatalf("VerifySlack accepted %q over %q, which no signing secret signed", signature, body)
		}
		if err != nil && !errors.Is(err, domain.ErrPermission) {
			t.Fatalf("VerifySlack = %v; want nil or ErrPermission", err)
		}
	})
}

func FuzzSlackPayload(f *testing.F) {
	fx := slackFixture(f)
	for _, b := range buttons(f, &fx.plan) {
		f.Add(slackBody("T0001", "U0001", b))
	}
	if raw, err := os.ReadFile("testdata/slack/block_actions.json"); err == nil {
		f.Add([]byte("payload=" + string(raw)))
	}
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%7D"))
	f.Add([]byte("payload=null"))
	f.Add([]byte("payload=%5B%5D&payload=1"))
	f.Add([]byte(""))
	ctx := context.Background()
	forger := []byte("forged-slack-secret-000000000000")
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := approve.ParseSlackPayload(body); err != nil && !errors.Is(err, domain.ErrInvalid) && !errors.Is(err, domain.ErrUnsupported) {
			t.Fatalf("ParseSlackPayload = %v; want nil, ErrInvalid or ErrUnsupported", err)
		}
		// Signed with a secret nobody configured: always refused.
		res, err := fx.svc.HandleSlack(ctx, signedSlack(forger, t0, body))
		if err == nil || !errors.Is(err, domain.ErrPermission) || len(res.Decisions) != 0 {
			t.Fatalf("HandleSlack(forged) = %+v, %v; want ErrPermission and no decision", res, err)
		}
		// Properly signed: whatever it decides is bound to the plan.
		res, err = fx.svc.HandleSlack(ctx, signedSlack(slackSecret, t0, body))
		if err == nil {
			checkBound(t, &fx.plan, res)
			for _, d := range res.Decisions {
				if !strings.HasPrefix(d.Approver, "slack:") || d.Channel != "slack" {
					t.Fatalf("Slack decision %+v not by a Slack identity", d)
				}
			}
		}
	})
}

func FuzzLink(f *testing.F) {
	fx := newFixture(f)
	a0 := fx.plan.Actions[0]
	for _, tok := range []string{
		newLink(f, secret, &fx.plan, a0.ID, t0.Add(time.Hour)),
		newLink(f, rotated, &fx.plan, "", t0.Add(time.Hour)),
		newLink(f, secret, &fx.plan, "", t0),
		newLink(f, []byte("forged-link-secret-0000000000000"), &fx.plan, "", t0.Add(time.Hour)),
	} {
		f.Add(tok)
		f.Add(flip(tok, 5))
		f.Add(nonCanonical(tok))
	}
	f.Add("")
	f.Add(".")
	f.Add("e30.")
	f.Add("e30.AAAA")
	secrets := [][]byte{secret, rotated}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		payload, _, _ := strings.Cut(token, ".")
		isSigned := false
		for _, s := range secrets {
			isSigned = isSigned || token == payload+"."+base64.RawURLEncoding.EncodeToString(hmacOf(s, "cloudtrim-link.v1:", payload))
		}
		_, verr := approve.VerifyLink(secrets, token, t0)
		if verr == nil && !isSigned {
			t.Fatalf("VerifyLink accepted %q, which no secret signed", token)
		}
		if _, err := fx.svc.PreviewLink(ctx, token); err == nil && !isSigned {
			t.Fatalf("PreviewLink accepted %q, which no secret signed", token)
		}
		res, err := fx.svc.ApplyLink(ctx, token)
		if err == nil {
			if !isSigned {
				t.Fatalf("ApplyLink applied %q, which no secret signed", token)
			}
			checkBound(t, &fx.plan, res)
		}
	})
}

func FuzzWebhookBody(f *testing.F) {
	fx := newFixture(f)
	good, _ := approve.NewBody(&fx.plan, "ops@example.com")
	for _, key := range [][]byte{secret, rotated, slackSecret} {
		ts, sig := approve.Sign(key, t0, good)
		f.Add(good, ts, sig)
	}
	samples, _ := filepath.Glob("../../events/local/*.json")
	for _, s := range samples {
		if b, err := os.ReadFile(s); err == nil {
			ts, sig := approve.Sign(secret, t0, b)
			f.Add(b, ts, sig)
		}
	}
	f.Add([]byte(`{"plan_id":"p","approver":"slack:T1/U1","approve_all":{"plan_digest":"x"}}`), "1795000000", "v1=00")
	f.Add([]byte("{"), "", "")
	f.Add([]byte(`{"decisions":[{"verdict":"pending"}]}`), "x", "v1=zz")
	secrets := [][]byte{secret, rotated}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte, timestamp, signature string) {
		isSigned := false
		if hexSig, ok := strings.CutPrefix(signature, "v1="); ok {
			if got, err := hex.DecodeString(hexSig); err == nil {
				for _, s := range secrets {
					isSigned = isSigned || hmac.Equal(got, hmacOf(s, "v1:", timestamp, ":", string(body)))
				}
			}
		}
		_, err := fx.svc.Handle(ctx, approve.Request{Timestamp: timestamp, Signature: signature, Body: body})
		if err == nil && !isSigned {
			t.Fatalf("Handle accepted %q signed %q at %q, which no secret signed", body, signature, timestamp)
		}
		// The same body properly signed: whatever it decides is bound.
		res, err := fx.svc.Handle(ctx, signed(secret, t0, body))
		if err == nil {
			checkBound(t, &fx.plan, res)
			for _, d := range res.Decisions {
				if d.Verdict != domain.Approved && d.Verdict != domain.Rejected && d.Verdict != approve.Pending {
					t.Fatalf("decision with verdict %q", d.Verdict)
				}
			}
		}
	})
}
