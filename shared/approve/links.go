package approve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ErrGone marks an approval link that expired or was used already. It
// is wrapped together with domain.ErrPermission (expired) or
// domain.ErrConflict (used).
var ErrGone = errors.New("link expired or already used")

// MaxLinkToken is the longest link token accepted.
const MaxLinkToken = 4096

// linkMACPrefix separates link MACs from webhook MACs ("v1:…"), so one
// secret may sign both without a signature of one being valid for the
// other.
const linkMACPrefix = "cloudtrim-link.v1:"

// b64 encodes tokens; decoding is strict so that each token has exactly
// one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Link is what a signed approval link approves: one action bound to its
// hash, or (ActionID empty) every action of a plan bound to the plan's
// digest, by Approver, until Expires. Nonce makes it single use.
type Link struct {
	PlanID   string
	ActionID string
	Hash     string
	Approver string
	Expires  time.Time
	Nonce    string
}

// linkPayload is a link's signed JSON.
type linkPayload struct {
	Version  int    `json:"v"`
	PlanID   string `json:"plan_id"`
	ActionID string `json:"action_id,omitempty"`
	Hash     string `json:"hash"`
	Approver string `json:"approver"`
	Expires  int64  `json:"exp"`
	Nonce    string `json:"nonce"`
}

// NewLink returns the token of a single-use link by which approver
// approves action actionID of plan planID bound to its hash, or with
// actionID "" every action bound to hash, the plan's digest, until
// expiresAt (whole seconds). The token is base64url(JSON payload) + "." +
// base64url(HMAC-SHA256(secret, "cloudtrim-link.v1:" + payload part)).
// Missing fields and a "slack:" approver are domain.ErrInvalid.
func NewLink(secret []byte, planID, actionID, hash, approver string, expiresAt time.Time) (string, error) {
	switch {
	case len(secret) == 0:
		return "", fmt.Errorf("new link: %w: no link secret", domain.ErrInvalid)
	case planID == "" || hash == "" || strings.TrimSpace(approver) == "":
		return "", fmt.Errorf("new link: %w: plan ID, hash and approver are required", domain.ErrInvalid)
	case hasSlackPrefix(approver):
		return "", fmt.Errorf("new link: %w: approver %q: the %s prefix is kept for identities Slack asserts", domain.ErrInvalid, approver, slackPrefix)
	}
	var n [16]byte
	_, _ = rand.Read(n[:]) // crypto/rand.Read never fails
	b, err := json.Marshal(linkPayload{Version: 1, PlanID: planID, ActionID: actionID, Hash: hash, Approver: approver,
		Expires: expiresAt.Unix(), Nonce: hex.EncodeToString(n[:])})
	if err != nil {
		return "", fmt.Errorf("new link: %w", err)
	}
	payload := b64.EncodeToString(b)
	if len(payload)+44 > MaxLinkToken {
		return "", fmt.Errorf("new link: %w: token longer than %d bytes", domain.ErrInvalid, MaxLinkToken)
	}
	return payload + "." + b64.EncodeToString(linkMAC(secret, payload)), nil
}

// LinkURL returns the approval page of token under baseURL, the public
// URL the approval routes are served at.
func LinkURL(baseURL, token string) string {
	return strings.TrimSuffix(baseURL, "/") + "/approve/link?token=" + url.QueryEscape(token)
}

func linkMAC(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(linkMACPrefix))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// VerifyLink checks a link token's signature against every secret (two
// may be active while one is rotated) in constant time, then its
// expiry against now. It does not consume the link: Service.ApplyLink
// claims its nonce. Errors wrap domain.ErrPermission (no secret,
// malformed or tampered token, wrong secret; with ErrGone when expired),
// domain.ErrInvalid (a token longer than MaxLinkToken, or signed but
// malformed) or domain.ErrUnsupported (unknown version).
func VerifyLink(secrets [][]byte, token string, now time.Time) (Link, error) {
	if len(secrets) == 0 {
		return Link{}, fmt.Errorf("%w: no link secret is configured", domain.ErrPermission)
	}
	if token == "" {
		return Link{}, fmt.Errorf("%w: no link token", domain.ErrPermission)
	}
	if len(token) > MaxLinkToken {
		return Link{}, fmt.Errorf("%w: link token longer than %d bytes", domain.ErrInvalid, MaxLinkToken)
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || strings.Contains(sig, ".") {
		return Link{}, fmt.Errorf("%w: link token is not payload.signature", domain.ErrPermission)
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return Link{}, fmt.Errorf("%w: link signature is not base64url", domain.ErrPermission)
	}
	valid := false
	for _, s := range secrets {
		if hmac.Equal(got, linkMAC(s, payload)) {
			valid = true
		}
	}
	if !valid {
		return Link{}, fmt.Errorf("%w: link signature does not match (tampered or wrong secret)", domain.ErrPermission)
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return Link{}, fmt.Errorf("%w: link payload is not base64url", domain.ErrInvalid)
	}
	var p linkPayload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Link{}, fmt.Errorf("%w: link payload: %v", domain.ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Link{}, fmt.Errorf("%w: link payload: trailing data", domain.ErrInvalid)
	}
	switch {
	case p.Version != 1:
		return Link{}, fmt.Errorf("%w: link version %d (want 1)", domain.ErrUnsupported, p.Version)
	case p.PlanID == "" || p.Hash == "" || strings.TrimSpace(p.Approver) == "":
		return Link{}, fmt.Errorf("%w: link payload: plan_id, hash and approver are required", domain.ErrInvalid)
	case len(p.Nonce) != 32 || strings.Trim(p.Nonce, "0123456789abcdef") != "":
		return Link{}, fmt.Errorf("%w: link payload: nonce is not 32 hex digits", domain.ErrInvalid)
	}
	l := Link{PlanID: p.PlanID, ActionID: p.ActionID, Hash: p.Hash, Approver: p.Approver, Expires: time.Unix(p.Expires, 0).UTC(), Nonce: p.Nonce}
	if !now.Before(l.Expires) {
		return Link{}, fmt.Errorf("%w: %w: link expired at %s", domain.ErrPermission, ErrGone, l.Expires.Format(time.RFC3339))
	}
	return l, nil
}

func (s *Service) linkSecrets() [][]byte {
	if len(s.LinkSecrets) > 0 {
		return s.LinkSecrets
	}
	return s.Secrets
}

// LinkPreview is what an approval link would do, for the confirmation
// page shown before anything is decided.
type LinkPreview struct {
	Link    Link
	PlanID  string
	Actions []domain.Action
	// Savings is the monthly savings of Actions.
	Savings domain.Money
	// TwoPerson lists the actions that need a second approver.
	TwoPerson []string
}

// PreviewLink verifies a link token and checks it against the current
// plan and the approval policy without writing anything: link scanners
// fetch links before people click them. It cannot tell whether the link
// was used; ApplyLink does. Errors are ApplyLink's, except that a used
// link previews fine.
func (s *Service) PreviewLink(ctx context.Context, token string) (LinkPreview, error) {
	l, err := VerifyLink(s.linkSecrets(), token, s.now())
	if err != nil {
		return LinkPreview{}, fmt.Errorf("approval link: %w", err)
	}
	plan, err := s.Plans.GetPlan(ctx, l.PlanID)
	if err != nil {
		return LinkPreview{}, fmt.Errorf("approval link: plan %s: %w", l.PlanID, err)
	}
	p := LinkPreview{Link: l, PlanID: plan.ID, Savings: domain.Money{Currency: plan.Currency}}
	if l.ActionID == "" {
		if l.Hash != plan.Digest() {
			return LinkPreview{}, fmt.Errorf("approval link: plan %s: %w: the plan changed since the link was made", plan.ID, domain.ErrConflict)
		}
		p.Actions = plan.Actions
	} else {
		a, ok := plan.Action(l.ActionID)
		if !ok {
			return LinkPreview{}, fmt.Errorf("approval link: plan %s: %w: action %s is not in the plan", plan.ID, domain.ErrNotFound, l.ActionID)
		}
		if l.Hash != a.Hash() {
			return LinkPreview{}, fmt.Errorf("approval link: plan %s action %s: %w: the action changed since the link was made", plan.ID, a.ID, domain.ErrConflict)
		}
		p.Actions = []domain.Action{a}
	}
	for _, a := range p.Actions {
		if err := s.Authz.Allow(l.Approver, a); err != nil {
			return LinkPreview{}, fmt.Errorf("approval link: plan %s action %s: %w", plan.ID, a.ID, err)
		}
		if s.Authz.NeedsTwo(a) {
			p.TwoPerson = append(p.TwoPerson, a.ID)
		}
		p.Savings = p.Savings.Plus(a.MonthlySavings)
	}
	return p, nil
}

// ApplyLink verifies a link token, claims its nonce so it works once,
// and approves what it names exactly as Handle would, with the link's
// approver and channel "link".
//
// Errors wrap ErrGone with domain.ErrPermission (expired) or
// domain.ErrConflict (used before); otherwise they are Handle's. On any
// of them nothing is recorded or enqueued but an approval_refused audit
// event, and a link refused for another reason than its use is not
// consumed.
func (s *Service) ApplyLink(ctx context.Context, token string) (Result, error) {
	now := s.now()
	res, err := s.applyLink(ctx, token, now)
	if err != nil {
		planID, claimed := claimedByToken(token)
		s.refused(ctx, Refusal{Channel: "link", Claimed: claimed, PlanID: planID, Reason: err})
	}
	return res, err
}

func (s *Service) applyLink(ctx context.Context, token string, now time.Time) (Result, error) {
	l, err := VerifyLink(s.linkSecrets(), token, now)
	if err != nil {
		return Result{}, fmt.Errorf("approval link: %w", err)
	}
	in := intent{channel: "link", approver: l.Approver, planID: l.PlanID, nonceScope: "link", nonceID: l.Nonce}
	if l.ActionID == "" {
		in.approveAll = &ApproveAll{PlanDigest: l.Hash}
	} else {
		in.choices = []ActionChoice{{ActionID: l.ActionID, ActionHash: l.Hash, Verdict: domain.Approved}}
	}
	res, err := s.decide(ctx, in, now)
	if errors.Is(err, errReplay) {
		return res, fmt.Errorf("approval link: %w: %w", ErrGone, err)
	}
	if err != nil {
		return res, fmt.Errorf("approval link: %w", err)
	}
	return res, nil
}

// claimedByToken returns the plan and the approver an unverified link
// token names, for the audit of a refused request.
func claimedByToken(token string) (planID, approver string) {
	payload, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", ""
	}
	var p linkPayload
	_ = json.Unmarshal(raw, &p) // best effort
	return p.PlanID, p.Approver
}
