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
	GetPlan(ctx context.Context, planID string) (domain.Plan, error)
	// Decisions lists the decisions recorded for a plan.
	Decisions(ctx context.Context, planID string) ([]domain.Decision, error)
	// ActionState returns the latest state; domain.ErrNotFound if none.
	ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error)
	// Transition writes the state after prev (nil: the first state);
	// domain.ErrConflict when another writer moved first.
	Transition(ctx context.Context, prev *domain.ActionState, next domain.ActionState) (domain.ActionState, error)
	// AppendAudit appends an audit event.
	AppendAudit(ctx context.Context, ev domain.AuditEvent) error
}

// Disposition tells the queue what to do with a message.
type Disposition string

// Dispositions.
const (
	Ack        Disposition = "ack"         // done (applied, skipped, dry run, or already done)
	Retry      Disposition = "retry"       // try again later (transient failure, another worker holds it)
	DeadLetter Disposition = "dead_letter" // never going to work: malformed or not approved
	Hold       Disposition = "hold"        // keep for a later run: this run's blast-radius cap is spent
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
// unknown fleet size (0) allows no change.
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
	Budget *Budget
	// Lease is how long another worker's claim is respected before it is
	// taken over as crashed; default 10 minutes.
	Lease time.Duration
	// MaxApprovalAge is how long an approval stays valid; default 7 days.
	MaxApprovalAge time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
}

// Handle processes one queued message. It never returns an error: the
// Result says whether the message is done, should be retried or belongs
// in the dead-letter queue, and why.
func (a *Actuator) Handle(ctx context.Context, body []byte) Result {
	var msg domain.QueuedAction
	if err := json.Unmarshal(body, &msg); err != nil {
		return Result{Disposition: DeadLetter, Reason: fmt.Sprintf("malformed message: %v", err)}
	}
	if msg.Version != domain.QueueMessageVersion {
		return Result{Disposition: DeadLetter, Reason: fmt.Sprintf("message version %q is not supported (want %q)", msg.Version, domain.QueueMessageVersion)}
	}
	res := a.handle(ctx, msg)
	res.PlanID, res.ActionID = msg.Action.PlanID, msg.Action.ID
	log := a.logger().With("plan_id", res.PlanID, "action_id", res.ActionID, "dry_run", a.DryRun)
	log.InfoContext(ctx, "action handled", "disposition", res.Disposition, "status", res.Status, "reason", res.Reason)
	return res
}

func (a *Actuator) handle(ctx context.Context, msg domain.QueuedAction) Result {
	now := a.now()
	plan, err := a.Records.GetPlan(ctx, msg.Action.PlanID)
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
	// enabled applies the action.
	if prev != nil && prev.Status.Terminal() && !(prev.Status == domain.StatusDryRun && !a.DryRun) {
		return Result{Disposition: Ack, Status: prev.Status, Reason: "already " + string(prev.Status)}
	}
	recovering := prev != nil && prev.Status == domain.StatusApplying
	if recovering && prev.Worker != a.Worker && now.Sub(prev.At) < a.lease() {
		return Result{Disposition: Retry, Status: prev.Status, Reason: "another worker is applying it: " + prev.Worker}
	}
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

	status, reason, live, err := a.apply(ctx, prov, act, recovering, now)
	if errors.Is(err, errCapReached) {
		// Give the claim back: a later run applies it.
		if _, terr := a.Records.Transition(ctx, &claimed, domain.ActionState{
			Version: domain.ActionStateVersion, PlanID: act.PlanID, ActionID: act.ID,
			Status: domain.StatusQueued, Worker: a.Worker, Attempt: claimed.Attempt, At: a.now(), Reason: err.Error(),
		}); terr != nil {
			return Result{Disposition: Retry, Status: domain.StatusApplying, Reason: fmt.Sprintf("release claim: %v", terr)}
		}
		return Result{Disposition: Hold, Status: domain.StatusQueued, Reason: err.Error()}
	}
	if err != nil {
		// Transient: leave the claim; the retry takes it over.
		return Result{Disposition: Retry, Status: domain.StatusApplying, Reason: err.Error()}
	}
	if err := a.finish(ctx, act, &claimed, status, reason, live); err != nil {
		return Result{Disposition: Retry, Status: status, Reason: fmt.Sprintf("record outcome: %v", err)}
	}
	return Result{Disposition: Ack, Status: status, Reason: reason}
}

// approved returns a non-empty reason when act may not be applied.
func (a *Actuator) approved(ctx context.Context, act domain.Action, decisionID string, now time.Time) (string, error) {
	ds, err := a.Records.Decisions(ctx, act.PlanID)
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

// apply re-reads the live resource, checks it, and (unless dry-run)
// reconciles it towards the action's After state. A returned error is
// transient; everything else is an outcome.
func (a *Actuator) apply(ctx context.Context, prov Resources, act domain.Action, recovering bool, now time.Time) (domain.ActionStatus, string, domain.ResourceState, error) {
	live, err := prov.Get(ctx, act.Target)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			if recovering && deletes(act.Kind) {
				return domain.StatusApplied, "already gone: completed by an earlier attempt", domain.ResourceState{State: domain.StateDeleted}, nil
			}
			return domain.StatusSkipped, "resource no longer exists", domain.ResourceState{}, nil
		}
		if errors.Is(err, domain.ErrPermission) {
			return domain.StatusFailed, "cannot read the live resource: " + err.Error(), domain.ResourceState{}, nil
		}
		return "", "", domain.ResourceState{}, fmt.Errorf("re-read %s: %w", act.Target, err)
	}
	obs := live.Observed()
	if live.Incomplete != "" {
		return domain.StatusSkipped, "live resource could not be read completely: " + live.Incomplete, obs, nil
	}
	if tag, ok := a.Policy.Protected(live.Tags); ok {
		return domain.StatusSkipped, "protected by tag " + tag, obs, nil
	}
	if !a.Policy.OptedIn(live.Tags) {
		return domain.StatusSkipped, "not opted in: tag " + a.Policy.OptInTag + "=true is missing", obs, nil
	}
	if diff := act.Before.Diff(obs); len(diff) > 0 && !(recovering && inProgress(act, obs)) {
		return domain.StatusSkipped, "drift: live " + strings.Join(diff, "; "), obs, nil
	}

	if !a.DryRun && a.Budget != nil && !recovering && !a.Budget.take() {
		return "", "", obs, errCapReached
	}
	if err := a.audit(ctx, act, domain.AuditApplyStart, obs, domain.ResourceState{}, ""); err != nil {
		return "", "", obs, fmt.Errorf("audit before change: %w", err)
	}
	if a.DryRun {
		return domain.StatusDryRun, "dry run: would " + describe(act), obs, nil
	}
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
			return domain.StatusFailed, "schedule action without a schedule", obs, nil
		}
		if err := prov.Tag(ctx, act.Target, map[string]string{ScheduleTag: act.Schedule.String()}, token+"/tag"); err != nil {
			return outcomeOf(err, "tag schedule")
		}
		if !act.Schedule.Running(now) && obs.State == domain.StateRunning {
			if err := prov.Stop(ctx, act.Target, token+"/stop"); err != nil {
				return outcomeOf(err, "stop outside the schedule")
			}
		}
		return a.verify(ctx, prov, act, func(r domain.Resource) bool { return r.Tags[ScheduleTag] == act.Schedule.String() })
	case domain.ActionDeleteDisk:
		if _, err := prov.Snapshot(ctx, act.Target, map[string]string{"cloudtrim-action": act.ID, "cloudtrim-plan": act.PlanID}, token+"/snapshot"); err != nil {
			return outcomeOf(err, "snapshot before delete")
		}
		if err := prov.Delete(ctx, act.Target, token+"/delete"); err != nil {
			return outcomeOf(err, "delete disk")
		}
		return a.verifyGone(ctx, prov, act)
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
	return domain.StatusFailed, fmt.Sprintf("action kind %q is not supported", act.Kind), obs, nil
}

// rightsize moves a VM to the new size: stop, resize, start, verify;
// on failure it restores the previous size and restarts the VM.
func (a *Actuator) rightsize(ctx context.Context, prov Resources, act domain.Action, token string) (domain.ActionStatus, string, domain.ResourceState, error) {
	want := act.After.SKU
	for step := 0; step < 6; step++ {
		live, err := prov.Get(ctx, act.Target)
		if err != nil {
			return a.rollback(ctx, prov, act, token, fmt.Errorf("re-read: %w", err))
		}
		switch {
		case live.SKU == want && live.State == domain.StateRunning:
			return domain.StatusApplied, "resized to " + want + " and verified running", live.Observed(), nil
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

func (a *Actuator) rollback(ctx context.Context, prov Resources, act domain.Action, token string, cause error) (domain.ActionStatus, string, domain.ResourceState, error) {
	old := act.Before.SKU
	for step := 0; step < 6; step++ {
		live, err := prov.Get(ctx, act.Target)
		if err != nil {
			break
		}
		switch {
		case live.SKU == old && live.State == domain.StateRunning:
			_ = a.audit(ctx, act, domain.AuditRollback, act.Before, live.Observed(), "rolled back: "+cause.Error())
			return domain.StatusRolledBack, "rolled back to " + old + " after: " + cause.Error(), live.Observed(), nil
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
	return domain.StatusFailed, "failed and could not roll back: " + cause.Error(), domain.ResourceState{}, nil
}

func (a *Actuator) verify(ctx context.Context, prov Resources, act domain.Action, ok func(domain.Resource) bool) (domain.ActionStatus, string, domain.ResourceState, error) {
	live, err := prov.Get(ctx, act.Target)
	if err != nil {
		return domain.StatusFailed, "verify: " + err.Error(), domain.ResourceState{}, nil
	}
	if !ok(live) {
		return domain.StatusFailed, fmt.Sprintf("verify: resource is %s after the change", live.State), live.Observed(), nil
	}
	return domain.StatusApplied, describe(act) + ": done and verified", live.Observed(), nil
}

func (a *Actuator) verifyGone(ctx context.Context, prov Resources, act domain.Action) (domain.ActionStatus, string, domain.ResourceState, error) {
	_, err := prov.Get(ctx, act.Target)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.StatusApplied, describe(act) + ": done and verified", domain.ResourceState{State: domain.StateDeleted}, nil
	}
	if err != nil {
		return domain.StatusFailed, "verify: " + err.Error(), domain.ResourceState{}, nil
	}
	return domain.StatusFailed, "verify: resource still exists", domain.ResourceState{}, nil
}

// outcomeOf turns a provider error into an outcome: state conflicts and
// refusals are final; throttling and unknown errors are retried.
func outcomeOf(err error, op string) (domain.ActionStatus, string, domain.ResourceState, error) {
	switch {
	case errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrPermission),
		errors.Is(err, domain.ErrUnsupported), errors.Is(err, domain.ErrNotFound):
		return domain.StatusFailed, op + ": " + err.Error(), domain.ResourceState{}, nil
	}
	return "", "", domain.ResourceState{}, fmt.Errorf("%s: %w", op, err)
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
	ev := domain.AuditEvent{
		Version: domain.AuditVersion, At: a.now(), Type: typ, Actor: "actuator:" + a.Worker,
		PlanID: act.PlanID, ActionID: act.ID, ActionHash: act.Hash(), ActionKind: act.Kind, Target: act.Target,
		Before: before, After: after, DryRun: a.DryRun, Outcome: outcome,
	}
	if typ == domain.AuditApplyDone {
		ev.Savings = act.MonthlySavings
	}
	return a.Records.AppendAudit(ctx, ev)
}

// inProgress reports whether obs is a state an interrupted earlier
// attempt of act can have left behind.
func inProgress(act domain.Action, obs domain.ResourceState) bool {
	switch act.Kind {
	case domain.ActionRightsize:
		return obs.SKU == act.Before.SKU || obs.SKU == act.After.SKU
	case domain.ActionStop, domain.ActionSchedule:
		return obs.SKU == act.Before.SKU
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
