package actuate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Records is the state the actuator reads and writes.
type Records interface {
	// GetPlan returns a plan; domain.ErrNotFound when there is none.
	// Plans never change once written: the Actuator keeps those it read.
	GetPlan(ctx context.Context, planID string) (domain.Plan, error)
	// ActionDecisions lists the decisions recorded for one action of a
	// plan.
	ActionDecisions(ctx context.Context, planID, actionID string) ([]domain.Decision, error)
	// ActionState returns the latest state; domain.ErrNotFound if none.
	ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error)
	// Transition writes the state after prev (nil: the first state);
	// domain.ErrConflict when another writer moved first.
	Transition(ctx context.Context, prev *domain.ActionState, next domain.ActionState) (domain.ActionState, error)
	// AppendAudit appends an audit event.
	AppendAudit(ctx context.Context, ev domain.AuditEvent) error
	// KillSwitch reads the kill switch document; a zero (disengaged)
	// KillSwitch when there is none. The actuator treats any error as
	// engaged.
	KillSwitch(ctx context.Context) (domain.KillSwitch, error)
	// Breaker reads the circuit breaker of a cloud; a zero Breaker with
	// Seq 0 when it never moved.
	Breaker(ctx context.Context, cloud domain.Cloud) (domain.Breaker, error)
	// SwapBreaker writes next after prev (as read); domain.ErrConflict
	// when another writer moved first.
	SwapBreaker(ctx context.Context, prev, next domain.Breaker) (domain.Breaker, error)
	// Override reads a resource's self-service override;
	// domain.ErrNotFound when there is none, domain.ErrInvalid or
	// domain.ErrUnsupported when it cannot be read as one.
	Override(ctx context.Context, ref domain.ResourceRef) (domain.Override, error)
	// Coverage reports how completely the snapshots a plan was made from
	// read the inventory. domain.ErrNotFound, domain.ErrInvalid and
	// domain.ErrUnsupported say it can never be known; other errors are
	// transient.
	Coverage(ctx context.Context, snaps []domain.SnapshotRef) (domain.Coverage, error)
}

// Disposition tells the queue what to do with a message.
type Disposition string

// Dispositions.
const (
	Ack        Disposition = "ack"         // done (applied, skipped, dry run, or already done)
	Retry      Disposition = "retry"       // try again later (transient failure, another worker holds it)
	DeadLetter Disposition = "dead_letter" // never going to work: malformed or not approved
	Hold       Disposition = "hold"        // keep for a later run: this run's blast-radius cap is spent
	// Defer leaves the message for later without using up one of its
	// attempts (send it again, delayed, and delete this delivery; or stop
	// receiving): the kill switch is engaged or the cloud's circuit
	// breaker is open. A host should stop taking messages when it sees it.
	Defer Disposition = "defer"
)

// Budget is the number of changes one actuation run may still make (a
// blast-radius cap). It is safe for concurrent use; a nil Budget is
// unlimited.
type Budget struct {
	mu   sync.Mutex
	left int
}

// NewBudget returns a budget of n changes; n <= 0 allows none.
func NewBudget(n int) *Budget { return &Budget{left: max(n, 0)} }

// Left returns the changes still allowed.
func (b *Budget) Left() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}

func (b *Budget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left <= 0 {
		return false
	}
	b.left--
	return true
}

// RunBudget is the cap of one run under the policy: at most MaxActions
// changes and at most MaxPercent of the fleet. It fails closed: an
// unknown fleet size (0) allows no change. Give it the resources the
// plan's inventory actually read (Plan.Resources): on a partial
// inventory that is less than the real fleet, so the cap can only come
// out smaller; the Actuator refuses, besides, every change in a scope
// whose inventory was not read whole (see Actuator.Budget).
func RunBudget(caps domain.Caps, fleet int) *Budget {
	byPercent := int(caps.MaxPercent / 100 * float64(fleet))
	return NewBudget(min(caps.MaxActions, byPercent))
}

// Result is what handling one message came to.
type Result struct {
	PlanID      string              `json:"plan_id,omitempty"`
	ActionID    string              `json:"action_id,omitempty"`
	Disposition Disposition         `json:"disposition"`
	Status      domain.ActionStatus `json:"status,omitempty"`
	Reason      string              `json:"reason,omitempty"`
}

// ScheduleTag is the tag that carries an applied schedule.
const ScheduleTag = "cloudtrim-schedule"

// TagEncoder is implemented by a provider whose cloud keeps tag keys and
// values in a restricted alphabet (Google Cloud labels: lower-case
// letters, digits, _ and -): it returns the key and value a tag set by
// Tag reads back as, so that the actuator compares what the cloud holds.
type TagEncoder interface {
	StoredTag(key, value string) (string, string)
}

// storedTag is the key and value the tag key=value reads back as on
// prov.
func storedTag(prov Resources, key, value string) (string, string) {
	if enc, ok := prov.(TagEncoder); ok {
		return enc.StoredTag(key, value)
	}
	return key, value
}

// Actuator is the actuation core.
type Actuator struct {
	Records   Records
	Providers map[domain.Cloud]Resources
	Policy    domain.Policy
	// DryRun, the default, records what would be done and makes no
	// mutating call.
	DryRun bool
	// Worker names this worker in action states.
	Worker string
	// Budget caps the changes of this run; nil is unlimited. A dry run
	// uses none, and neither does an action that is refused or skipped.
	// With a Budget the cap also fails closed on partial inventory: an
	// action is refused (skipped) when the plan's snapshots cannot be
	// read, or recorded that its target's scope was failed or partial.
	Budget *Budget
	// KillSwitch, set by the host from CLOUDTRIM_KILL_SWITCH=1, stops all
	// actuation like an engaged kill switch document in the lake: every
	// message is deferred, nothing is applied.
	KillSwitch bool
	// BreakerThreshold is how many failed applies in a row on one cloud
	// open its circuit breaker (default 5); BreakerCoolDown is how long
	// it then stops changes (default 15 minutes).
	BreakerThreshold int
	BreakerCoolDown  time.Duration
	// OverrideKinds are the action kinds a self-service override (the
	// cloudtrim-skip-until tag or an override document) may skip; nil
	// means every kind.
	OverrideKinds []domain.ActionKind
	// Lease is how long another worker's claim is respected before it is
	// taken over as crashed; default 10 minutes.
	Lease time.Duration
	// MaxApprovalAge is how long an approval stays valid; default 7 days.
	MaxApprovalAge time.Duration
	Now            func() time.Time
	Logger         *slog.Logger

	mu       sync.Mutex
	plans    map[string]domain.Plan    // by ID: plans are immutable
	coverage map[string]coverageResult // by plan ID
}

// plan reads a plan once per Actuator.
func (a *Actuator) plan(ctx context.Context, id string) (domain.Plan, error) {
	a.mu.Lock()
	p, ok := a.plans[id]
	a.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := a.Records.GetPlan(ctx, id)
	if err != nil {
		return p, err
	}
	a.mu.Lock()
	if a.plans == nil || len(a.plans) >= 64 {
		a.plans = map[string]domain.Plan{}
	}
	a.plans[id] = p
	a.mu.Unlock()
	return p, nil
}

// Handle processes one queued message. It never returns an error: the
// Result says whether the message is done, should be retried or belongs
// in the dead-letter queue, and why.
func (a *Actuator) Handle(ctx context.Context, body []byte) Result {
	res := a.handleBody(ctx, body)
	log := a.logger().With("plan_id", res.PlanID, "action_id", res.ActionID, "dry_run", a.DryRun)
	log.InfoContext(ctx, "action handled", "disposition", res.Disposition, "status", res.Status, "reason", res.Reason)
	return res
}

func (a *Actuator) handleBody(ctx context.Context, body []byte) Result {
	var msg domain.QueuedAction
	perr := json.Unmarshal(body, &msg)
	// The kill switch comes first: while it is engaged no message is
	// acked or dead-lettered, not even a malformed one.
	if res, halted := a.halted(ctx, msg.Action); halted {
		return res
	}
	if perr != nil {
		return Result{Disposition: DeadLetter, Reason: fmt.Sprintf("malformed message: %v", perr)}
	}
	if msg.Version != domain.QueueMessageVersion {
		return Result{PlanID: msg.Action.PlanID, ActionID: msg.Action.ID, Disposition: DeadLetter,
			Reason: fmt.Sprintf("message version %q is not supported (want %q)", msg.Version, domain.QueueMessageVersion)}
	}
	res := a.handle(ctx, msg)
	res.PlanID, res.ActionID = msg.Action.PlanID, msg.Action.ID
	return res
}

// Halted reports whether the kill switch (the KillSwitch field or the
// lake's document) stops actuation now and, if so, returns the Defer
// result for the message in body, having audited it. Handle checks it
// itself; a host calls it first when it may settle a message on its own
// (dead-letter it, say) before Handle.
func (a *Actuator) Halted(ctx context.Context, body []byte) (Result, bool) {
	var msg domain.QueuedAction
	_ = json.Unmarshal(body, &msg) // a malformed message is deferred all the same
	return a.halted(ctx, msg.Action)
}

func (a *Actuator) handle(ctx context.Context, msg domain.QueuedAction) Result {
	now := a.now()
	plan, err := a.plan(ctx, msg.Action.PlanID)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrUnsupported) || errors.Is(err, domain.ErrInvalid) {
			return Result{Disposition: DeadLetter, Reason: fmt.Sprintf("plan: %v", err)}
		}
		return Result{Disposition: Retry, Reason: fmt.Sprintf("read plan: %v", err)}
	}
	// Never trust the queue: the action must be the plan's action, unchanged.
	act, ok := plan.Action(msg.Action.ID)
	if !ok {
		return Result{Disposition: DeadLetter, Reason: "action is not in its plan"}
	}
	if act.Hash() != msg.Action.Hash() {
		return Result{Disposition: DeadLetter, Reason: "queued action differs from the planned action (tampered message)"}
	}
	if reason, err := a.approved(ctx, act, msg.DecisionID, now); err != nil {
		return Result{Disposition: Retry, Reason: fmt.Sprintf("read decisions: %v", err)}
	} else if reason != "" {
		// Not approved: audit the refusal and dead-letter the message. No
		// state is written, so a later genuine approval still counts.
		if err := a.audit(ctx, act, domain.AuditSkip, act.Before, domain.ResourceState{}, "refused: "+reason); err != nil {
			return Result{Disposition: Retry, Reason: fmt.Sprintf("audit refusal: %v", err)}
		}
		return Result{Disposition: DeadLetter, Status: domain.StatusSkipped, Reason: reason}
	}

	prov, ok := a.Providers[act.Target.Cloud]
	if !ok {
		return Result{Disposition: DeadLetter, Reason: fmt.Sprintf("no provider for cloud %q", act.Target.Cloud)}
	}
	refusal := ""
	if a.Budget != nil {
		if refusal, err = a.coverageRefusal(ctx, plan, act); err != nil {
			return Result{Disposition: Retry, Reason: fmt.Sprintf("read the plan's inventory coverage: %v", err)}
		}
	}
	if reason := a.breakerOpen(ctx, act.Target.Cloud, now); reason != "" {
		return a.deferred(ctx, act, reason)
	}

	// Claim the action with a conditional write.
	st, err := a.Records.ActionState(ctx, act.PlanID, act.ID)
	var prev *domain.ActionState
	switch {
	case err == nil:
		prev = &st
	case errors.Is(err, domain.ErrNotFound):
	default:
		return Result{Disposition: Retry, Reason: fmt.Sprintf("read state: %v", err)}
	}
	// A dry run does not use up an approval: a later run with changes
	// enabled applies the action, whatever the dry run recorded.
	if prev != nil && prev.Status.Terminal() && !(prev.DryRun && !a.DryRun) {
		return Result{Disposition: Ack, Status: prev.Status, Reason: "already " + string(prev.Status)}
	}
	if prev != nil && prev.Status == domain.StatusApplying && prev.Worker != a.Worker && now.Sub(prev.At) < a.lease() {
		return Result{Disposition: Retry, Status: prev.Status, Reason: "another worker is applying it: " + prev.Worker}
	}
	// Only a claim that could change something can have left a change
	// half done.
	recovering := prev != nil && prev.Status == domain.StatusApplying && !prev.DryRun
	attempt := 1
	if prev != nil {
		attempt = prev.Attempt + 1
	}
	claimed, err := a.Records.Transition(ctx, prev, domain.ActionState{
		Version: domain.ActionStateVersion, PlanID: act.PlanID, ActionID: act.ID,
		Status: domain.StatusApplying, Worker: a.Worker, Attempt: attempt, At: now, DryRun: a.DryRun,
	})
	if err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return Result{Disposition: Retry, Reason: "another worker claimed it first"}
		}
		return Result{Disposition: Retry, Reason: fmt.Sprintf("claim: %v", err)}
	}

	out := a.apply(ctx, prov, act, recovering, refusal, now)
	var d *deferral
	if errors.Is(out.err, errCapReached) || errors.As(out.err, &d) {
		disp := Hold
		if d != nil {
			disp = Defer
		}
		if recovering {
			// An interrupted change is never handed back as queued: its
			// drift check would then refuse the half-done state. The
			// claim stays, and the next delivery takes it over.
			return Result{Disposition: disp, Status: domain.StatusApplying, Reason: out.err.Error()}
		}
		// Give the claim back: a later run applies it.
		if _, terr := a.Records.Transition(ctx, &claimed, domain.ActionState{
			Version: domain.ActionStateVersion, PlanID: act.PlanID, ActionID: act.ID,
			Status: domain.StatusQueued, Worker: a.Worker, Attempt: claimed.Attempt, At: a.now(), Reason: out.err.Error(),
		}); terr != nil {
			return Result{Disposition: Retry, Status: domain.StatusApplying, Reason: fmt.Sprintf("release claim: %v", terr)}
		}
		return Result{Disposition: disp, Status: domain.StatusQueued, Reason: out.err.Error()}
	}
	a.recordBreaker(ctx, act, out)
	if out.err != nil {
		// Transient: leave the claim; the retry takes it over.
		return Result{Disposition: Retry, Status: domain.StatusApplying, Reason: out.err.Error()}
	}
	if err := a.finish(ctx, act, &claimed, out.status, out.reason, out.live); err != nil {
		return Result{Disposition: Retry, Status: out.status, Reason: fmt.Sprintf("record outcome: %v", err)}
	}
	return Result{Disposition: Ack, Status: out.status, Reason: out.reason}
}

// approved returns a non-empty reason when act may not be applied.
func (a *Actuator) approved(ctx context.Context, act domain.Action, decisionID string, now time.Time) (string, error) {
	ds, err := a.Records.ActionDecisions(ctx, act.PlanID, act.ID)
	if err != nil {
		return "", err
	}
	last, ok := domain.LatestDecisions(ds)[act.ID]
	if !ok {
		return "not approved: no decision recorded for this action", nil
	}
	switch {
	case last.Verdict != domain.Approved:
		return "not approved: latest decision " + last.ID + " is " + string(last.Verdict), nil
	case last.ActionHash != act.Hash():
		return "not approved: the approval is bound to a different version of the action", nil
	case now.Sub(last.At) > a.maxApprovalAge():
		return fmt.Sprintf("approval %s expired: given %v ago, valid for %v", last.ID, now.Sub(last.At).Round(time.Minute), a.maxApprovalAge()), nil
	}
	found := false
	for _, d := range ds {
		found = found || (d.ActionID == act.ID && d.ID == decisionID)
	}
	if !found {
		return "not approved: the message names decision " + decisionID + ", which is not recorded", nil
	}
	return "", nil
}

// errCapReached says the run's blast-radius cap is spent.
var errCapReached = errors.New("blast-radius cap of this run reached: held for a later run")

// outcome is what applying an action came to. A non-nil err is
// transient (the retry re-reads), errCapReached or a *deferral; mutated
// says a mutating call was made, for the circuit breaker.
type outcome struct {
	status  domain.ActionStatus
	reason  string
	live    domain.ResourceState
	err     error
	mutated bool
}

// apply re-reads the live resource, checks it, and (unless dry-run)
// reconciles it towards the action's After state.
func (a *Actuator) apply(ctx context.Context, prov Resources, act domain.Action, recovering bool, refusal string, now time.Time) outcome {
	if refusal != "" {
		return outcome{status: domain.StatusSkipped, reason: refusal}
	}
	live, err := prov.Get(ctx, act.Target)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			if recovering && deletes(act.Kind) {
				return outcome{status: domain.StatusApplied, reason: "already gone: completed by an earlier attempt", live: domain.ResourceState{State: domain.StateDeleted}}
			}
			return outcome{status: domain.StatusSkipped, reason: "resource no longer exists"}
		}
		if errors.Is(err, domain.ErrPermission) {
			return outcome{status: domain.StatusFailed, reason: "cannot read the live resource: " + err.Error()}
		}
		return outcome{err: fmt.Errorf("re-read %s: %w", act.Target, err)}
	}
	obs := live.Observed()
	skip := func(reason string) outcome { return outcome{status: domain.StatusSkipped, reason: reason, live: obs} }
	if reason, err := a.leaveAlone(ctx, act, live, now); err != nil {
		return outcome{err: err, live: obs}
	} else if reason != "" {
		return skip(reason)
	}
	if diff := act.Before.Diff(obs); len(diff) > 0 && !(recovering && inProgress(act, obs)) {
		return skip("drift: live " + strings.Join(diff, "; "))
	}

	// Checked again right before the change, not once per batch: a switch
	// engaged, or a breaker opened by another worker, while this message
	// was being checked stops it here.
	if res, halted := a.halted(ctx, act); halted {
		return outcome{err: &deferral{res.Reason}, live: obs}
	}
	if reason := a.breakerOpen(ctx, act.Target.Cloud, a.now()); reason != "" {
		a.auditDeferral(ctx, act, reason)
		return outcome{err: &deferral{reason}, live: obs}
	}
	if !a.DryRun && a.Budget != nil && !recovering && !a.Budget.take() {
		return outcome{err: errCapReached, live: obs}
	}
	if err := a.audit(ctx, act, domain.AuditApplyStart, obs, domain.ResourceState{}, ""); err != nil {
		return outcome{err: fmt.Errorf("audit before change: %w", err), live: obs}
	}
	if a.DryRun {
		return outcome{status: domain.StatusDryRun, reason: "dry run: would " + describe(act), live: obs}
	}
	t := &tracker{Resources: prov}
	out := a.change(ctx, t, act, live, now)
	out.mutated = t.mutated
	return out
}

// leaveAlone says why the live resource must not be changed: it could
// not be read completely, a protection tag is on it, the opt-in tag is
// not, or its owner's override covers the action. An error is an
// override that could not be read.
func (a *Actuator) leaveAlone(ctx context.Context, act domain.Action, live domain.Resource, now time.Time) (string, error) {
	if live.Incomplete != "" {
		return "live resource could not be read completely: " + live.Incomplete, nil
	}
	if tag, ok := a.Policy.Protected(live.Tags); ok {
		return "protected by tag " + tag, nil
	}
	if !a.Policy.OptedIn(live.Tags) {
		return "not opted in: tag " + a.Policy.OptInTag + "=true is missing", nil
	}
	reason, err := a.overridden(ctx, act, live, now)
	if err != nil {
		return "", fmt.Errorf("read override of %s: %w", act.Target, err)
	}
	return reason, nil
}

// change makes the action's mutating calls and verifies them. Every
// call is skipped when the live resource shows it is not needed, and
// carries a token derived from the action, so a redelivery after a crash
// changes nothing twice.
func (a *Actuator) change(ctx context.Context, prov Resources, act domain.Action, live domain.Resource, now time.Time) outcome {
	obs := live.Observed()
	token := act.PlanID + "/" + act.ID
	switch act.Kind {
	case domain.ActionRightsize:
		return a.rightsize(ctx, prov, act, token)
	case domain.ActionStop:
		if obs.State != domain.StateStopped {
			if err := prov.Stop(ctx, act.Target, token+"/stop"); err != nil {
				return outcomeOf(err, "stop")
			}
		}
		return a.verify(ctx, prov, act, func(r domain.Resource) bool { return r.State == domain.StateStopped })
	case domain.ActionSchedule:
		if act.Schedule == nil {
			return outcome{status: domain.StatusFailed, reason: "schedule action without a schedule", live: obs}
		}
		want := act.Schedule.String()
		key, stored := storedTag(prov, ScheduleTag, want)
		if live.Tags[key] != stored {
			if err := prov.Tag(ctx, act.Target, map[string]string{ScheduleTag: want}, token+"/tag"); err != nil {
				return outcomeOf(err, "tag schedule")
			}
		}
		if !act.Schedule.Running(now) && obs.State == domain.StateRunning {
			if err := prov.Stop(ctx, act.Target, token+"/stop"); err != nil {
				return outcomeOf(err, "stop outside the schedule")
			}
		}
		return a.verify(ctx, prov, act, func(r domain.Resource) bool { return r.Tags[key] == stored })
	case domain.ActionDeleteDisk:
		if _, err := prov.Snapshot(ctx, act.Target, map[string]string{"cloudtrim-action": act.ID, "cloudtrim-plan": act.PlanID}, token+"/snapshot"); err != nil {
			return outcomeOf(err, "snapshot before delete")
		}
		if err := prov.Delete(ctx, act.Target, token+"/delete"); err != nil {
			return outcomeOf(err, "delete disk")
		}
		return a.verifyGone(ctx, prov, act)
	case domain.ActionRetypeDisk:
		return a.retype(ctx, prov, act, live, token)
	case domain.ActionTierStorage:
		return a.tier(ctx, prov, act, live, token)
	case domain.ActionDeleteSnapshot:
		if err := prov.Delete(ctx, act.Target, token+"/delete"); err != nil {
			return outcomeOf(err, "delete snapshot")
		}
		return a.verifyGone(ctx, prov, act)
	case domain.ActionReleaseIP:
		if err := prov.Release(ctx, act.Target, token+"/release"); err != nil {
			return outcomeOf(err, "release address")
		}
		return a.verifyGone(ctx, prov, act)
	}
	return outcome{status: domain.StatusFailed, reason: fmt.Sprintf("action kind %q is not supported", act.Kind), live: obs}
}

// rightsize moves a VM to the new size: stop, resize, start, verify;
// on failure it restores the previous size and restarts the VM.
func (a *Actuator) rightsize(ctx context.Context, prov Resources, act domain.Action, token string) outcome {
	want := act.After.SKU
	for step := 0; step < 6; step++ {
		live, err := prov.Get(ctx, act.Target)
		if err != nil {
			return a.rollback(ctx, prov, act, token, fmt.Errorf("re-read: %w", err))
		}
		switch {
		case live.SKU == want && live.State == domain.StateRunning:
			return outcome{status: domain.StatusApplied, reason: "resized to " + want + " and verified running", live: live.Observed()}
		case live.State == domain.StateRunning:
			err = prov.Stop(ctx, act.Target, token+"/stop")
		case live.SKU != want:
			err = prov.Resize(ctx, act.Target, want, token+"/resize")
		default:
			err = prov.Start(ctx, act.Target, token+"/start")
		}
		if err != nil {
			return a.rollback(ctx, prov, act, token, err)
		}
	}
	return a.rollback(ctx, prov, act, token, errors.New("did not reach the new size"))
}

// retype changes a disk's type in place and verifies it; the disk's
// data and attachment stay. A disk already of the new type is done.
func (a *Actuator) retype(ctx context.Context, prov Resources, act domain.Action, live domain.Resource, token string) outcome {
	want := act.After.SKU
	if want == "" {
		return outcome{status: domain.StatusFailed, reason: "retype action without a new disk type", live: live.Observed()}
	}
	if live.SKU != want {
		if err := prov.Retype(ctx, act.Target, want, token+"/retype"); err != nil {
			return outcomeOf(err, "change disk type")
		}
	}
	return a.verify(ctx, prov, act, func(r domain.Resource) bool { return r.SKU == want })
}

// tier sets cloudtrim's lifecycle rule on a bucket and verifies that the
// bucket reports it; a bucket that already has it is done.
func (a *Actuator) tier(ctx context.Context, prov Resources, act domain.Action, live domain.Resource, token string) outcome {
	rule, err := domain.ParseTierRule(act.After.Tiering)
	if err != nil || rule.IsZero() {
		return outcome{status: domain.StatusFailed, reason: fmt.Sprintf("tier_storage action without a lifecycle rule: %v", err), live: live.Observed()}
	}
	want := rule.String()
	if live.Tiering != want {
		if err := prov.SetTiering(ctx, act.Target, rule, token+"/tier"); err != nil {
			return outcomeOf(err, "set lifecycle rule")
		}
	}
	return a.verify(ctx, prov, act, func(r domain.Resource) bool { return r.Tiering == want })
}

func (a *Actuator) rollback(ctx context.Context, prov Resources, act domain.Action, token string, cause error) outcome {
	old := act.Before.SKU
	for step := 0; step < 6; step++ {
		live, err := prov.Get(ctx, act.Target)
		if err != nil {
			break
		}
		switch {
		case live.SKU == old && live.State == domain.StateRunning:
			_ = a.audit(ctx, act, domain.AuditRollback, act.Before, live.Observed(), "rolled back: "+cause.Error())
			return outcome{status: domain.StatusRolledBack, reason: "rolled back to " + old + " after: " + cause.Error(), live: live.Observed()}
		case live.SKU != old && live.State == domain.StateRunning:
			err = prov.Stop(ctx, act.Target, token+"/rollback-stop")
		case live.SKU != old:
			err = prov.Resize(ctx, act.Target, old, token+"/rollback-resize")
		default:
			err = prov.Start(ctx, act.Target, token+"/rollback-start")
		}
		if err != nil {
			break
		}
	}
	return outcome{status: domain.StatusFailed, reason: "failed and could not roll back: " + cause.Error()}
}

func (a *Actuator) verify(ctx context.Context, prov Resources, act domain.Action, ok func(domain.Resource) bool) outcome {
	live, err := prov.Get(ctx, act.Target)
	if err != nil {
		return outcome{status: domain.StatusFailed, reason: "verify: " + err.Error()}
	}
	if !ok(live) {
		return outcome{status: domain.StatusFailed, reason: fmt.Sprintf("verify: resource is %s after the change", live.State), live: live.Observed()}
	}
	return outcome{status: domain.StatusApplied, reason: describe(act) + ": done and verified", live: live.Observed()}
}

func (a *Actuator) verifyGone(ctx context.Context, prov Resources, act domain.Action) outcome {
	_, err := prov.Get(ctx, act.Target)
	if errors.Is(err, domain.ErrNotFound) {
		return outcome{status: domain.StatusApplied, reason: describe(act) + ": done and verified", live: domain.ResourceState{State: domain.StateDeleted}}
	}
	if err != nil {
		return outcome{status: domain.StatusFailed, reason: "verify: " + err.Error()}
	}
	return outcome{status: domain.StatusFailed, reason: "verify: resource still exists"}
}

// outcomeOf turns a provider error into an outcome: state conflicts and
// refusals are final; throttling and unknown errors are retried.
func outcomeOf(err error, op string) outcome {
	switch {
	case errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrPermission),
		errors.Is(err, domain.ErrUnsupported), errors.Is(err, domain.ErrNotFound):
		return outcome{status: domain.StatusFailed, reason: op + ": " + err.Error()}
	}
	return outcome{err: fmt.Errorf("%s: %w", op, err)}
}

func (a *Actuator) finish(ctx context.Context, act domain.Action, prev *domain.ActionState, status domain.ActionStatus, reason string, live domain.ResourceState) error {
	next := domain.ActionState{
		Version: domain.ActionStateVersion, PlanID: act.PlanID, ActionID: act.ID, Status: status,
		Worker: a.Worker, At: a.now(), Reason: reason, DryRun: a.DryRun, Live: live,
	}
	if prev != nil {
		next.Attempt = prev.Attempt
	}
	if status == domain.StatusApplied {
		next.RealizedMonthlySavings = act.MonthlySavings
	}
	typ := domain.AuditApplyDone
	switch status {
	case domain.StatusSkipped, domain.StatusDryRun:
		typ = domain.AuditSkip
	case domain.StatusFailed:
		typ = domain.AuditFail
	}
	// The audit record of the outcome comes first: a crash between the two
	// writes leaves an action that is retried, never an unaudited change.
	if err := a.audit(ctx, act, typ, act.Before, live, string(status)+": "+reason); err != nil {
		return err
	}
	if _, err := a.Records.Transition(ctx, prev, next); err != nil {
		return err
	}
	return nil
}

func (a *Actuator) audit(ctx context.Context, act domain.Action, typ domain.AuditType, before, after domain.ResourceState, outcome string) error {
	ev := a.auditEvent("actuator:", act, typ, before, after, outcome)
	if typ == domain.AuditApplyDone {
		ev.Savings = act.MonthlySavings
	}
	return a.Records.AppendAudit(ctx, ev)
}

// auditEvent is the audit record of act by this worker, in the role
// named by actor ("actuator:", "scheduler:").
func (a *Actuator) auditEvent(actor string, act domain.Action, typ domain.AuditType, before, after domain.ResourceState, outcome string) domain.AuditEvent {
	return domain.AuditEvent{
		Version: domain.AuditVersion, At: a.now(), Type: typ, Actor: actor + a.Worker,
		PlanID: act.PlanID, ActionID: act.ID, ActionHash: act.Hash(), ActionKind: act.Kind, Target: act.Target,
		Before: before, After: after, DryRun: a.DryRun, Outcome: outcome,
	}
}

// inProgress reports whether obs is a state an interrupted earlier
// attempt of act can have left behind.
func inProgress(act domain.Action, obs domain.ResourceState) bool {
	switch act.Kind {
	case domain.ActionRightsize, domain.ActionRetypeDisk:
		return obs.SKU == act.Before.SKU || obs.SKU == act.After.SKU
	case domain.ActionStop, domain.ActionSchedule:
		return obs.SKU == act.Before.SKU
	case domain.ActionTierStorage:
		return obs.Tiering == act.Before.Tiering || obs.Tiering == act.After.Tiering
	}
	return false
}

func deletes(k domain.ActionKind) bool {
	return k == domain.ActionDeleteDisk || k == domain.ActionDeleteSnapshot || k == domain.ActionReleaseIP
}

func describe(act domain.Action) string {
	switch act.Kind {
	case domain.ActionRightsize:
		return "resize " + act.Target.ID + " from " + act.Before.SKU + " to " + act.After.SKU
	case domain.ActionStop:
		return "stop " + act.Target.ID
	case domain.ActionSchedule:
		s := ""
		if act.Schedule != nil {
			s = " (" + act.Schedule.String() + ")"
		}
		return "schedule " + act.Target.ID + s
	case domain.ActionDeleteDisk:
		return "snapshot and delete disk " + act.Target.ID
	case domain.ActionReleaseIP:
		return "release address " + act.Target.ID
	case domain.ActionDeleteSnapshot:
		return "delete snapshot " + act.Target.ID
	case domain.ActionRetypeDisk:
		return "change disk " + act.Target.ID + " from " + act.Before.SKU + " to " + act.After.SKU
	case domain.ActionTierStorage:
		return "set lifecycle rule " + act.After.Tiering + " on bucket " + act.Target.ID
	}
	return string(act.Kind) + " " + act.Target.ID
}

func (a *Actuator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Actuator) lease() time.Duration {
	if a.Lease > 0 {
		return a.Lease
	}
	return 10 * time.Minute
}

func (a *Actuator) maxApprovalAge() time.Duration {
	if a.MaxApprovalAge > 0 {
		return a.MaxApprovalAge
	}
	return 7 * 24 * time.Hour
}

func (a *Actuator) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.DiscardHandler)
}
