package domain

import "time"

// Document schema versions.
const (
	DecisionVersion     = "cloudtrim.decision/v1"
	ActionStateVersion  = "cloudtrim.action-state/v1"
	AuditVersion        = "cloudtrim.audit/v1"
	QueueMessageVersion = "cloudtrim.queued-action/v1"
)

// Verdict is what an approver decided.
type Verdict string

// Verdicts.
const (
	Approved Verdict = "approved"
	Rejected Verdict = "rejected"
)

// Decision records one approver's verdict on one action of one plan,
// bound to the action's hash at the time of approval.
type Decision struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	PlanID     string    `json:"plan_id"`
	ActionID   string    `json:"action_id"`
	ActionHash string    `json:"action_hash"`
	Verdict    Verdict   `json:"verdict"`
	Approver   string    `json:"approver"`
	Channel    string    `json:"channel"`
	RequestID  string    `json:"request_id"` // digest of the signed request, for replay detection
	At         time.Time `json:"at"`
}

// LatestDecisions returns the decision that stands for each action: the
// latest by time, ties broken by the greater decision ID, so every reader
// agrees on it.
func LatestDecisions(ds []Decision) map[string]Decision {
	latest := make(map[string]Decision, len(ds))
	for _, d := range ds {
		if cur, ok := latest[d.ActionID]; !ok || d.At.After(cur.At) || (d.At.Equal(cur.At) && d.ID > cur.ID) {
			latest[d.ActionID] = d
		}
	}
	return latest
}

// QueuedAction is the message put on a cloud's action queue when an
// action is approved. It carries the whole action so the actuator can
// check it against the approval without trusting the queue.
type QueuedAction struct {
	Version    string `json:"version"`
	DecisionID string `json:"decision_id"`
	Action     Action `json:"action"`
}

// ActionStatus is where an action is in its life.
type ActionStatus string

// Action statuses. An action moves queued → applying → one of the
// terminal statuses; every move is a conditional write.
const (
	StatusQueued     ActionStatus = "queued"
	StatusApplying   ActionStatus = "applying"
	StatusApplied    ActionStatus = "applied"
	StatusDryRun     ActionStatus = "dry_run"
	StatusSkipped    ActionStatus = "skipped"
	StatusFailed     ActionStatus = "failed"
	StatusRolledBack ActionStatus = "rolled_back"
)

// Terminal reports whether no further transition follows s.
func (s ActionStatus) Terminal() bool {
	switch s {
	case StatusApplied, StatusDryRun, StatusSkipped, StatusFailed, StatusRolledBack:
		return true
	}
	return false
}

// ActionState is one version of an action's state. Seq grows by one on
// every transition.
type ActionState struct {
	Version  string        `json:"version"`
	PlanID   string        `json:"plan_id"`
	ActionID string        `json:"action_id"`
	Seq      int           `json:"seq"`
	Status   ActionStatus  `json:"status"`
	Worker   string        `json:"worker,omitempty"`
	Attempt  int           `json:"attempt"`
	At       time.Time     `json:"at"`
	Reason   string        `json:"reason,omitempty"`
	DryRun   bool          `json:"dry_run"`
	Live     ResourceState `json:"live,omitzero"`
	// RealizedMonthlySavings is recorded when the action was applied and
	// verified.
	RealizedMonthlySavings Money `json:"realized_monthly_savings,omitzero"`
}

// AuditType says what an audit event records.
type AuditType string

// Audit event types.
const (
	AuditDecision   AuditType = "decision"
	AuditApplyStart AuditType = "apply_start"
	AuditApplyDone  AuditType = "apply_done"
	AuditSkip       AuditType = "skip"
	AuditFail       AuditType = "fail"
	AuditRollback   AuditType = "rollback"
)

// AuditEvent is an append-only record of something that was decided or
// changed. It never holds a secret.
type AuditEvent struct {
	Version    string        `json:"version"`
	ID         string        `json:"id"`
	At         time.Time     `json:"at"`
	Type       AuditType     `json:"type"`
	Actor      string        `json:"actor"`
	PlanID     string        `json:"plan_id"`
	ActionID   string        `json:"action_id"`
	ActionHash string        `json:"action_hash,omitempty"`
	ActionKind ActionKind    `json:"action_kind,omitempty"`
	Target     ResourceRef   `json:"target"`
	Before     ResourceState `json:"before,omitzero"`
	After      ResourceState `json:"after,omitzero"`
	DryRun     bool          `json:"dry_run"`
	Outcome    string        `json:"outcome,omitempty"`
	Detail     string        `json:"detail,omitempty"`
	Savings    Money         `json:"monthly_savings,omitzero"`
}
