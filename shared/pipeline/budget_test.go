package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
)

func TestDayBudgetTakesOffWhatThePlanSpentToday(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	pol := domain.DefaultPolicy()
	pol.Caps = domain.Caps{MaxActions: 5, MaxPercent: 100}
	p := &pipeline.Pipeline{Lake: l, Policy: pol, Now: func() time.Time { return now }}
	plan := domain.Plan{ID: "20261123T060000.000Z-0a1b2c3d", Resources: 100}

	states := []struct {
		action string
		status domain.ActionStatus
		at     time.Time
		dryRun bool
	}{
		{"a1", domain.StatusApplied, now.Add(-time.Hour), false},        // counts
		{"a2", domain.StatusFailed, now.Add(-2 * time.Hour), false},     // counts: it may have changed something
		{"a3", domain.StatusApplying, now.Add(-time.Minute), false},     // counts: in flight
		{"a4", domain.StatusApplied, now.Add(-20 * time.Hour), false},   // yesterday: does not count
		{"a5", domain.StatusDryRun, now.Add(-time.Hour), true},          // dry run: does not count
		{"a6", domain.StatusSkipped, now.Add(-time.Hour), false},        // refused: no change
		{"a7", domain.StatusQueued, now.Add(-time.Hour), false},         // not started
		{"a8", domain.StatusRolledBack, now.Add(-3 * time.Hour), false}, // counts
	}
	for _, s := range states {
		if _, err := l.Transition(ctx, nil, domain.ActionState{PlanID: plan.ID, ActionID: s.action, Status: s.status, At: s.at, DryRun: s.dryRun}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.DayBudget(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Left(); got != 1 {
		t.Fatalf("budget left = %d, want 5 - 4 spent today = 1", got)
	}

	// The cap by percentage of the fleet still applies, and a budget
	// never goes negative.
	plan.Resources = 10
	pol.Caps.MaxPercent = 20
	p.Policy = pol
	if b, err = p.DayBudget(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if got := b.Left(); got != 0 {
		t.Fatalf("budget left = %d, want 0 (cap 2 of 10 resources, 4 spent)", got)
	}
}
