package approve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Plans reads plans.
type Plans interface {
	// GetPlan returns a plan; domain.ErrNotFound when there is none.
	GetPlan(ctx context.Context, planID string) (domain.Plan, error)
}

// Records stores what approval decides.
type Records interface {
	// ClaimNonce records that a request was seen; domain.ErrConflict
	// when it was seen before.
	ClaimNonce(ctx context.Context, scope, id string, at time.Time) error
	// PutDecision stores a decision; domain.ErrConflict when a decision
	// with the same ID exists.
	PutDecision(ctx context.Context, d domain.Decision) error
	// AppendAudit appends an audit event.
	AppendAudit(ctx context.Context, ev domain.AuditEvent) error
	// Decisions returns every decision recorded for a plan in time order;
	// none is an empty result, not an error.
	Decisions(ctx context.Context, planID string) ([]domain.Decision, error)
	// ActionState returns the latest state; domain.ErrNotFound if none.
	ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error)
	// Transition writes the state after prev (nil: the first state);
	// domain.ErrConflict when another writer moved first.
	Transition(ctx context.Context, prev *domain.ActionState, next domain.ActionState) (domain.ActionState, error)
}

// Enqueuer puts a body on the action queue of a cloud.
type Enqueuer interface {
	Enqueue(ctx context.Context, cloud domain.Cloud, body []byte) error
}

// Request is a signed approval request as it arrived.
type Request struct {
	Timestamp string
	Signature string
	Body      []byte
}

// Body is the JSON an approver signs.
//
//	{"plan_id": "...", "approver": "ops@example.com",
//	 "approve_all": {"plan_digest": "sha256:..."},
//	 "decisions": [{"action_id": "act-...", "action_hash": "sha256:...", "verdict": "approved"}]}
//
// approve_all approves every action of the plan as long as the plan's
// digest is still the one the approver saw; decisions approve or reject
// single actions bound to their hashes.
type Body struct {
	PlanID     string         `json:"plan_id"`
	Approver   string         `json:"approver"`
	ApproveAll *ApproveAll    `json:"approve_all,omitempty"`
	Decisions  []ActionChoice `json:"decisions,omitempty"`
}

// ApproveAll approves a whole plan bound to its digest.
type ApproveAll struct {
	PlanDigest string `json:"plan_digest"`
}

// ActionChoice is one approver's verdict on one action.
type ActionChoice struct {
	ActionID   string         `json:"action_id"`
	ActionHash string         `json:"action_hash"`
	Verdict    domain.Verdict `json:"verdict"`
}

// Result says what a request decided.
type Result struct {
	PlanID   string   `json:"plan_id"`
	Approved []string `json:"approved"`
	Rejected []string `json:"rejected"`
	// Pending lists approved actions that wait for a second approver
	// under the two-person rule; they are recorded, not queued.
	Pending   []string          `json:"pending,omitempty"`
	Enqueued  int               `json:"enqueued"`
	Decisions []domain.Decision `json:"decisions"`
}

// Service is the approval core.
type Service struct {
	Plans   Plans
	Records Records
	Queue   Enqueuer
	// Secrets are the active HMAC secrets (two during rotation).
	Secrets [][]byte
	// SlackSecrets are the Slack app's active signing secrets (two during
	// rotation); none refuses every Slack request.
	SlackSecrets [][]byte
	// SlackReplies, when set, tells the person who clicked a Slack
	// button what came of it (see SlackReplier).
	SlackReplies SlackReplier
	// LinkSecrets sign approval links (two during rotation); none means
	// Secrets. Link MACs are domain-separated from webhook MACs.
	LinkSecrets [][]byte
	// Authz says who may decide what; its zero value allows every
	// authenticated approver everything.
	Authz   Authz
	Window  time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Channel string
}

// errReplay is the conflict of a request whose nonce was claimed before.
var errReplay = fmt.Errorf("%w: request was already used (replay)", domain.ErrConflict)

// intent is an authenticated request to decide on actions of a plan,
// whatever channel it came through.
type intent struct {
	channel    string
	approver   string
	planID     string
	approveAll *ApproveAll
	choices    []ActionChoice
	// nonceScope and nonceID make the request single use.
	nonceScope, nonceID string
}

// Handle authenticates req, checks every decision against the current
// plan and the approval policy, records the decisions and enqueues the
// approved actions.
//
// Errors wrap domain.ErrPermission (unsigned, expired, tampered; with
// ErrNotAuthorized when the policy does not let the approver decide an
// action), domain.ErrConflict (replayed request, action or plan changed
// since it was shown), domain.ErrNotFound (no such plan or action) or
// domain.ErrInvalid (malformed body). On any of those nothing is
// recorded or enqueued but an approval_refused audit event.
func (s *Service) Handle(ctx context.Context, req Request) (Result, error) {
	now := s.now()
	res, err := s.handleWebhook(ctx, req, now)
	if err != nil {
		planID, claimed := claimedByBody(req.Body)
		s.refused(ctx, Refusal{Channel: s.channel(), Claimed: claimed, PlanID: planID, Reason: err})
	}
	return res, err
}

func (s *Service) handleWebhook(ctx context.Context, req Request, now time.Time) (Result, error) {
	if err := Verify(s.Secrets, req.Timestamp, req.Signature, req.Body, now, s.window()); err != nil {
		return Result{}, fmt.Errorf("approve: %w", err)
	}
	var body Body
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return Result{}, fmt.Errorf("approve: %w: body: %v", domain.ErrInvalid, err)
	}
	if body.PlanID == "" {
		return Result{}, fmt.Errorf("approve: %w: body: plan_id is required", domain.ErrInvalid)
	}
	if strings.TrimSpace(body.Approver) == "" {
		return Result{}, fmt.Errorf("approve: %w: body: approver is required", domain.ErrInvalid)
	}
	if hasSlackPrefix(body.Approver) {
		return Result{}, fmt.Errorf("approve: %w: body: approver %q: the %s prefix is kept for identities Slack asserts", domain.ErrInvalid, body.Approver, slackPrefix)
	}
	if body.ApproveAll == nil && len(body.Decisions) == 0 {
		return Result{}, fmt.Errorf("approve: %w: body: neither approve_all nor decisions given", domain.ErrInvalid)
	}
	sum := sha256.Sum256([]byte(req.Signature))
	return s.decide(ctx, intent{
		channel: s.channel(), approver: body.Approver, planID: body.PlanID, approveAll: body.ApproveAll, choices: body.Decisions,
		nonceScope: "approve", nonceID: hex.EncodeToString(sum[:16]),
	}, now)
}

// decide checks an authenticated intent against the plan and the
// approval policy, claims its nonce, records the decisions and enqueues
// the approved actions. Nothing is written before every check passed.
func (s *Service) decide(ctx context.Context, in intent, now time.Time) (Result, error) {
	plan, err := s.Plans.GetPlan(ctx, in.planID)
	if err != nil {
		return Result{}, fmt.Errorf("approve plan %s: %w", in.planID, err)
	}

	// Check everything before writing anything.
	choices := map[string]domain.Verdict{}
	var order []string
	if in.approveAll != nil {
		if in.approveAll.PlanDigest != plan.Digest() {
			return Result{}, fmt.Errorf("approve plan %s: %w: plan digest %q is not the plan's current digest: the plan changed since it was shown", plan.ID, domain.ErrConflict, in.approveAll.PlanDigest)
		}
		for _, a := range plan.Actions {
			choices[a.ID] = domain.Approved
			order = append(order, a.ID)
		}
	}
	for _, c := range in.choices {
		a, ok := plan.Action(c.ActionID)
		if !ok {
			return Result{}, fmt.Errorf("approve plan %s: %w: action %s is not in the plan", plan.ID, domain.ErrNotFound, c.ActionID)
		}
		if c.ActionHash != a.Hash() {
			return Result{}, fmt.Errorf("approve plan %s action %s: %w: action hash %q does not match: the action changed since it was shown", plan.ID, a.ID, domain.ErrConflict, c.ActionHash)
		}
		if c.Verdict != domain.Approved && c.Verdict != domain.Rejected {
			return Result{}, fmt.Errorf("approve plan %s action %s: %w: verdict %q (want approved or rejected)", plan.ID, a.ID, domain.ErrInvalid, c.Verdict)
		}
		if _, seen := choices[a.ID]; !seen {
			order = append(order, a.ID)
		}
		choices[a.ID] = c.Verdict
	}
	for _, id := range order {
		a, _ := plan.Action(id)
		if err := s.Authz.Allow(in.approver, a); err != nil {
			return Result{}, fmt.Errorf("approve plan %s action %s: %w", plan.ID, a.ID, err)
		}
	}
	var earlier []domain.Decision
	for _, id := range order {
		a, _ := plan.Action(id)
		if choices[id] == domain.Approved && s.Authz.NeedsTwo(a) {
			if earlier, err = s.Records.Decisions(ctx, plan.ID); err != nil {
				return Result{}, fmt.Errorf("approve plan %s: read decisions: %w", plan.ID, err)
			}
			break
		}
	}

	if err := s.Records.ClaimNonce(ctx, in.nonceScope, in.nonceID, now); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return Result{}, fmt.Errorf("approve plan %s: %w", plan.ID, errReplay)
		}
		return Result{}, fmt.Errorf("approve plan %s: record request: %w", plan.ID, err)
	}

	res := Result{PlanID: plan.ID, Approved: []string{}, Rejected: []string{}}
	var pending []domain.Action
	for _, id := range order {
		a, _ := plan.Action(id)
		verdict, at := choices[id], now
		if verdict == domain.Approved && s.Authz.NeedsTwo(a) {
			verdict, at = secondApproval(earlier, a, in.approver, now)
		}
		d, err := s.record(ctx, plan, a, verdict, in, at)
		if err != nil {
			return res, err
		}
		res.Decisions = append(res.Decisions, d)
		switch verdict {
		case domain.Rejected:
			res.Rejected = append(res.Rejected, a.ID)
		case Pending:
			pending = append(pending, a)
		default:
			res.Approved = append(res.Approved, a.ID)
			if err := s.enqueue(ctx, a, d, now); err != nil {
				return res, err
			}
			res.Enqueued++
		}
	}
	if len(pending) > 0 {
		// Another approver may have approved at the same time, each seeing
		// no approval before its own: whoever sees the other's after
		// writing its own completes the approval.
		again, err := s.Records.Decisions(ctx, plan.ID)
		if err != nil {
			return res, fmt.Errorf("approve plan %s: read decisions: %w", plan.ID, err)
		}
		for _, a := range pending {
			verdict, at := secondApproval(again, a, in.approver, now)
			if verdict != domain.Approved {
				res.Pending = append(res.Pending, a.ID)
				continue
			}
			d, err := s.record(ctx, plan, a, verdict, in, at)
			if err != nil {
				return res, err
			}
			res.Decisions = append(res.Decisions, d)
			res.Approved = append(res.Approved, a.ID)
			if err := s.enqueue(ctx, a, d, now); err != nil {
				return res, err
			}
			res.Enqueued++
		}
	}
	s.logger().InfoContext(ctx, "plan decided", "plan_id", plan.ID, "approver", in.approver, "channel", in.channel,
		"approved", len(res.Approved), "rejected", len(res.Rejected), "pending", len(res.Pending))
	return res, nil
}

// record stores one decision and its audit event. A decision that is
// already stored (the same verdict by the same approver on the same
// action version) is not an error: retries complete what a failure left.
func (s *Service) record(ctx context.Context, plan domain.Plan, a domain.Action, verdict domain.Verdict, in intent, at time.Time) (domain.Decision, error) {
	d := domain.Decision{
		Version: domain.DecisionVersion, PlanID: plan.ID, ActionID: a.ID, ActionHash: a.Hash(),
		Verdict: verdict, Approver: in.approver, Channel: in.channel, RequestID: in.nonceID, At: at,
	}
	d.ID = decisionID(d)
	if err := s.Records.PutDecision(ctx, d); err != nil && !errors.Is(err, domain.ErrConflict) {
		return d, fmt.Errorf("approve plan %s action %s: record decision: %w", plan.ID, a.ID, err)
	}
	if err := s.Records.AppendAudit(ctx, domain.AuditEvent{
		Version: domain.AuditVersion, At: at, Type: domain.AuditDecision, Actor: in.approver,
		PlanID: plan.ID, ActionID: a.ID, ActionHash: d.ActionHash, ActionKind: a.Kind, Target: a.Target,
		Before: a.Before, After: a.After, Outcome: string(verdict), Savings: a.MonthlySavings,
		Detail: "decision " + d.ID + " via " + d.Channel,
	}); err != nil {
		return d, fmt.Errorf("approve plan %s action %s: audit: %w", plan.ID, a.ID, err)
	}
	return d, nil
}

// enqueue marks an approved action queued and puts it on its cloud's
// queue with the decision that approved it.
func (s *Service) enqueue(ctx context.Context, a domain.Action, d domain.Decision, now time.Time) error {
	if err := s.markQueued(ctx, a, now); err != nil {
		return err
	}
	msg, err := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
	if err != nil {
		return fmt.Errorf("approve plan %s action %s: encode: %w", a.PlanID, a.ID, err)
	}
	if err := s.Queue.Enqueue(ctx, a.Target.Cloud, msg); err != nil {
		return fmt.Errorf("approve plan %s action %s: enqueue on %s: %w", a.PlanID, a.ID, a.Target.Cloud, err)
	}
	return nil
}

// markQueued writes the first state of an approved action, unless it
// already has one (approved before, or further along).
func (s *Service) markQueued(ctx context.Context, a domain.Action, now time.Time) error {
	_, err := s.Records.ActionState(ctx, a.PlanID, a.ID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("approve action %s: read state: %w", a.ID, err)
	}
	_, err = s.Records.Transition(ctx, nil, domain.ActionState{
		Version: domain.ActionStateVersion, PlanID: a.PlanID, ActionID: a.ID, Status: domain.StatusQueued, At: now,
	})
	if err != nil && !errors.Is(err, domain.ErrConflict) {
		return fmt.Errorf("approve action %s: write state: %w", a.ID, err)
	}
	return nil
}

func decisionID(d domain.Decision) string {
	sum := sha256.Sum256([]byte(d.PlanID + "\x00" + d.ActionID + "\x00" + d.ActionHash + "\x00" + string(d.Verdict) + "\x00" + d.Approver))
	return "dec-" + hex.EncodeToString(sum[:8])
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) window() time.Duration {
	if s.Window > 0 {
		return s.Window
	}
	return DefaultWindow
}

func (s *Service) channel() string {
	if s.Channel != "" {
		return s.Channel
	}
	return "webhook"
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// NewBody builds the signed body that approves every action of plan, as
// a chat tool or the CLI would send it.
func NewBody(plan *domain.Plan, approver string) ([]byte, error) {
	return json.Marshal(Body{PlanID: plan.ID, Approver: approver, ApproveAll: &ApproveAll{PlanDigest: plan.Digest()}})
}

// claimedByBody returns the plan and the approver a webhook body names,
// unverified, for the audit of a refused request.
func claimedByBody(body []byte) (planID, approver string) {
	var b struct {
		PlanID   string `json:"plan_id"`
		Approver string `json:"approver"`
	}
	_ = json.Unmarshal(body, &b) // best effort: whatever decoded
	return b.PlanID, b.Approver
}
