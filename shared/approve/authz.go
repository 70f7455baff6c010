package approve

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ErrNotAuthorized marks a request from an authenticated approver whom
// the approval policy does not allow to decide an action. It is always
// wrapped together with domain.ErrPermission.
var ErrNotAuthorized = errors.New("not authorized by the approval policy")

// Pending is the verdict recorded for the first approval of an action
// that needs two approvers: the action is not queued until a second,
// distinct approver approves the same version of it.
const Pending domain.Verdict = "pending"

// AuditRefused is the audit event type of a refused approval attempt.
const AuditRefused domain.AuditType = "approval_refused"

// Authz decides who may decide (approve or reject) which actions. Its
// zero value allows every authenticated approver everything with a
// single approval, which is how approvals worked before the policy had
// an approvals section.
type Authz struct {
	Policy domain.ApprovalPolicy
	// Currency is the policy currency the policy's amounts are in.
	Currency string
}

// Allow returns nil when a rule of the policy lets approver decide a,
// or the policy has no rules. Otherwise the error wraps
// domain.ErrPermission and ErrNotAuthorized.
func (z Authz) Allow(approver string, a domain.Action) error {
	if len(z.Policy.Rules) == 0 {
		return nil
	}
	for _, r := range z.Policy.Rules {
		if z.allows(r, approver, a) {
			return nil
		}
	}
	return fmt.Errorf("%w: %w: no approval rule lets %q decide %s on %s account %s saving %s a month",
		domain.ErrPermission, ErrNotAuthorized, approver, a.Kind, a.Target.Cloud, a.Target.Account, a.MonthlySavings)
}

func (z Authz) allows(r domain.ApprovalRule, approver string, a domain.Action) bool {
	who := false
	for _, p := range r.Approvers {
		who = who || MatchApprover(p, approver)
	}
	if !who {
		return false
	}
	if len(r.Accounts) > 0 {
		ok := false
		for _, g := range r.Accounts {
			m, err := path.Match(g, a.Target.Account)
			ok = ok || (m && err == nil)
		}
		if !ok {
			return false
		}
	}
	if len(r.Kinds) > 0 {
		ok := false
		for _, k := range r.Kinds {
			ok = ok || k == a.Kind
		}
		if !ok {
			return false
		}
	}
	if r.MaxMonthlySavings > 0 {
		limit, ok := z.amount(r.MaxMonthlySavings, a.MonthlySavings)
		if !ok || a.MonthlySavings.Micros > limit {
			return false
		}
	}
	return true
}

// NeedsTwo reports whether approving a needs two distinct approvers: its
// monthly savings exceed the policy's two_person_above, or are in
// another currency than the policy's (fail closed).
func (z Authz) NeedsTwo(a domain.Action) bool {
	if z.Policy.TwoPersonAbove <= 0 {
		return false
	}
	limit, ok := z.amount(z.Policy.TwoPersonAbove, a.MonthlySavings)
	return !ok || a.MonthlySavings.Micros > limit
}

// amount converts a policy amount to micro-units; false when m is in
// another currency than the policy's.
func (z Authz) amount(v float64, m domain.Money) (int64, bool) {
	cur := z.Currency
	if cur == "" {
		cur = m.Currency
	}
	if m.Currency != cur && !(m.Currency == "" && m.Micros == 0) {
		return 0, false
	}
	return domain.FromFloat(v, cur).Micros, true
}

// MatchApprover reports whether identity matches pattern: "*" matches
// anyone; "*@example.com" anyone at that domain; "slack:T0123/*" anyone
// in that Slack workspace; anything else that identity exactly. A
// wildcard never matches an empty string, "@" or "/". ASCII letters
// compare case-insensitively; other characters exactly.
func MatchApprover(pattern, identity string) bool {
	if identity == "" || domain.ValidApproverPattern(pattern) != nil {
		return false
	}
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*@"):
		suffix := pattern[1:]
		n := len(identity) - len(suffix)
		return n > 0 && sameIdentity(identity[n:], suffix) && wildcardPart(identity[:n])
	case strings.HasSuffix(pattern, "/*"):
		prefix := pattern[:len(pattern)-1]
		n := len(prefix)
		return len(identity) > n && sameIdentity(identity[:n], prefix) && wildcardPart(identity[n:])
	}
	return sameIdentity(pattern, identity)
}

func wildcardPart(s string) bool {
	return s != "" && !strings.ContainsAny(s, "@/")
}

// sameIdentity compares identities, ignoring the case of ASCII letters
// only: Unicode case folding would let "\u212A" (Kelvin) stand for "k".
func sameIdentity(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
			if x != y {
				return false
			}
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// secondApproval returns the verdict to record for approver's approval
// of a, an action that needs two approvers, given the plan's recorded
// decisions: approved when another approver approved (or is pending on)
// the same version of the action since its last rejection, or when the
// decision that stands is already an approval; pending otherwise. The
// time returned is now, or just after the action's latest decision, so
// that the new decision is the one that stands.
func secondApproval(ds []domain.Decision, a domain.Action, approver string, now time.Time) (domain.Verdict, time.Time) {
	var mine []domain.Decision
	for _, d := range ds {
		if d.ActionID == a.ID {
			mine = append(mine, d)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool {
		if !mine[i].At.Equal(mine[j].At) {
			return mine[i].At.Before(mine[j].At)
		}
		return mine[i].ID < mine[j].ID
	})
	hash, at, other := a.Hash(), now, false
	for _, d := range mine {
		if !at.After(d.At) {
			at = d.At.Add(time.Nanosecond)
		}
		if d.ActionHash != hash {
			continue
		}
		switch d.Verdict {
		case domain.Rejected:
			other = false
		case domain.Approved, Pending:
			other = other || !sameIdentity(d.Approver, approver)
		}
	}
	standing := len(mine) > 0 && mine[len(mine)-1].Verdict == domain.Approved && mine[len(mine)-1].ActionHash == hash
	if other || standing {
		return domain.Approved, at
	}
	return Pending, at
}

// Refusal is a refused approval attempt as the audit records it.
type Refusal struct {
	// Channel is where the attempt came from: webhook, slack or link.
	Channel string
	// Claimed is the identity the client claimed and PlanID the plan it
	// named; neither is verified.
	Claimed string
	PlanID  string
	// Reason is why it was refused. Its text never holds a secret or a
	// signature.
	Reason error
}

// RecordRefusal appends an approval_refused audit event for r: the
// actor is "unverified:" and the claimed identity, the outcome the kind
// of refusal, the detail the channel and the reason. Claimed values are
// cut short and stripped of control characters. The error is the
// store's.
func (s *Service) RecordRefusal(ctx context.Context, r Refusal) error {
	ev := domain.AuditEvent{
		Version: domain.AuditVersion, At: s.now(), Type: AuditRefused,
		Actor:   "unverified:" + clean(r.Claimed, 200),
		Outcome: refusalKind(r.Reason),
		Detail:  clean(r.Channel, 20) + ": " + clean(fmt.Sprint(r.Reason), 1000),
	}
	if id := clean(r.PlanID, 200); id == r.PlanID && !strings.Contains(id, "/") {
		ev.PlanID = id
	}
	if err := s.Records.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("audit refused approval: %w", err)
	}
	return nil
}

// refused records a refusal the core itself decided; a failure to record
// it is logged, the refusal stands.
func (s *Service) refused(ctx context.Context, r Refusal) {
	if refusalKind(r.Reason) == "internal" {
		return
	}
	if err := s.RecordRefusal(ctx, r); err != nil {
		s.logger().WarnContext(ctx, "refused approval not audited", "channel", r.Channel, "error", err)
	}
}

// refusalKind names the kind of a refusal for the audit.
func refusalKind(err error) string {
	for _, k := range []struct {
		kind error
		name string
	}{
		{ErrTooLarge, "too_large"},
		{ErrGone, "gone"},
		{ErrNotAuthorized, "not_authorized"},
		{domain.ErrPermission, "permission"},
		{domain.ErrInvalid, "invalid"},
		{domain.ErrConflict, "conflict"},
		{domain.ErrNotFound, "not_found"},
		{domain.ErrUnsupported, "unsupported"},
	} {
		if errors.Is(err, k.kind) {
			return k.name
		}
	}
	return "internal"
}

// ErrTooLarge marks a request body larger than an adapter accepts; it
// wraps domain.ErrInvalid.
var ErrTooLarge = fmt.Errorf("%w: request body too large", domain.ErrInvalid)

// clean keeps at most n bytes of s, valid UTF-8 without control
// characters, for audit fields filled from client input.
func clean(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
