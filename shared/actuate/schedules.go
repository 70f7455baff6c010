package actuate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Applying a schedule action tags the VM and stops it when it is outside
// its window; from then on Enforce keeps it on its schedule, starting it
// when its window opens and stopping it when the window closes or a
// holiday of its calendar comes. Enforce runs on a timer (every 15
// minutes is enough for windows on the hour).

// ScheduleSource is where the applied schedules are found: the lake's
// plans and action states.
type ScheduleSource interface {
	ListPlans(ctx context.Context) ([]string, error)
	GetPlan(ctx context.Context, planID string) (domain.Plan, error)
	ActionStates(ctx context.Context, planID string) (map[string]domain.ActionState, error)
}

// AppliedSchedules returns the schedule actions that were applied, the
// newest plan's for each VM, in a stable order. A schedule applied by an
// older plan stays in force until a newer plan's schedule of the same VM
// is applied.
func AppliedSchedules(ctx context.Context, src ScheduleSource) ([]domain.Action, error) {
	ids, err := src.ListPlans(ctx)
	if err != nil {
		return nil, fmt.Errorf("applied schedules: list plans: %w", err)
	}
	ids = slices.Clone(ids)
	slices.Sort(ids) // plan IDs start with their creation time
	byTarget := map[string]domain.Action{}
	for _, id := range ids {
		plan, err := src.GetPlan(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("applied schedules: plan %s: %w", id, err)
		}
		var states map[string]domain.ActionState
		for _, a := range plan.Actions {
			if a.Kind != domain.ActionSchedule || a.Schedule == nil {
				continue
			}
			if states == nil {
				if states, err = src.ActionStates(ctx, id); err != nil {
					return nil, fmt.Errorf("applied schedules: states of plan %s: %w", id, err)
				}
			}
			if st, ok := states[a.ID]; ok && st.Status == domain.StatusApplied && !st.DryRun {
				byTarget[a.Target.String()] = a
			}
		}
	}
	out := make([]domain.Action, 0, len(byTarget))
	for _, a := range byTarget {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b domain.Action) int { return cmp.Compare(a.Target.String(), b.Target.String()) })
	return out, nil
}

// EnforceReport is what one Enforce run did.
type EnforceReport struct {
	Started   int `json:"started"`
	Stopped   int `json:"stopped"`
	Unchanged int `json:"unchanged"`
	// Halted is the kill switch's reason when it stopped the run.
	Halted string `json:"halted,omitempty"`
	// Skipped and Failed say, per VM, why it was left alone or what went
	// wrong ("<id>: <reason>").
	Skipped []string `json:"skipped,omitempty"`
	Failed  []string `json:"failed,omitempty"`
	// DryRun says the changes were only reported.
	DryRun bool `json:"dry_run"`
}

// Enforce starts the scheduled VMs whose window is open and stops those
// whose window is closed, at the Actuator's clock. Each VM is re-read
// first and left alone when it is gone, protected, not opted in, under a
// self-service override of schedules (which is how someone keeps a VM
// up for a night: the override expires on its own and the schedule
// resumes), or no longer carries the schedule's tag (someone took it off).
// The kill switch stops the whole run. Every change is audited before and
// after and carries a token of the VM's action and the hour, so a retried
// run changes nothing twice; a dry run makes no change.
func (a *Actuator) Enforce(ctx context.Context, schedules []domain.Action) (EnforceReport, error) {
	rep := EnforceReport{DryRun: a.DryRun}
	if rep.Halted = a.killSwitch(ctx); rep.Halted != "" {
		return rep, nil
	}
	now := a.now()
	for _, act := range schedules {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		why, err := a.enforce(ctx, act, now, &rep)
		switch {
		case err != nil:
			rep.Failed = append(rep.Failed, act.Target.ID+": "+err.Error())
		case why != "":
			rep.Skipped = append(rep.Skipped, act.Target.ID+": "+why)
		}
	}
	return rep, nil
}

// enforce keeps one VM on its schedule; it returns why it left the VM
// alone, or the error of a change.
func (a *Actuator) enforce(ctx context.Context, act domain.Action, now time.Time, rep *EnforceReport) (string, error) {
	if act.Kind != domain.ActionSchedule || act.Schedule == nil {
		return "not a schedule action", nil
	}
	prov := a.Providers[act.Target.Cloud]
	if prov == nil {
		return "no provider for " + string(act.Target.Cloud), nil
	}
	live, err := prov.Get(ctx, act.Target)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return "the VM no longer exists", nil
	case err != nil:
		return "", fmt.Errorf("re-read: %w", err)
	}
	if reason, err := a.leaveAlone(ctx, act, live, now); err != nil || reason != "" {
		return reason, err
	}
	key, stored := storedTag(prov, ScheduleTag, act.Schedule.String())
	if live.Tags[key] != stored {
		return fmt.Sprintf("tag %s no longer reads %q: the schedule was taken off", key, stored), nil
	}
	want := act.Schedule.Running(now)
	var op string
	switch {
	case want && live.State == domain.StateStopped:
		op = "start"
	case !want && live.State == domain.StateRunning:
		op = "stop"
	default:
		rep.Unchanged++
		return "", nil
	}
	if a.DryRun {
		return "dry run: would " + op + " (" + act.Schedule.String() + ")", nil
	}
	after := domain.ResourceState{SKU: live.SKU, State: domain.StateRunning}
	if op == "stop" {
		after.State = domain.StateStopped
	}
	outcome := fmt.Sprintf("scheduled %s: %s", op, act.Schedule)
	if err := a.auditTick(ctx, act, domain.AuditApplyStart, live.Observed(), domain.ResourceState{}, outcome); err != nil {
		return "", fmt.Errorf("audit before change: %w", err)
	}
	token := act.PlanID + "/" + act.ID + "/enforce/" + now.UTC().Format("2006-01-02T15") + "/" + op
	if op == "start" {
		err = prov.Start(ctx, act.Target, token)
	} else {
		err = prov.Stop(ctx, act.Target, token)
	}
	if err != nil {
		_ = a.auditTick(ctx, act, domain.AuditFail, live.Observed(), domain.ResourceState{}, outcome+": "+err.Error())
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := a.auditTick(ctx, act, domain.AuditApplyDone, live.Observed(), after, outcome); err != nil {
		return "", fmt.Errorf("audit after change: %w", err)
	}
	if op == "start" {
		rep.Started++
	} else {
		rep.Stopped++
	}
	return "", nil
}

// auditTick records one scheduled start or stop. It carries no savings:
// the schedule's savings were recorded once, when it was applied.
func (a *Actuator) auditTick(ctx context.Context, act domain.Action, typ domain.AuditType, before, after domain.ResourceState, outcome string) error {
	return a.Records.AppendAudit(ctx, a.auditEvent("scheduler:", act, typ, before, after, outcome))
}
