package domain_test

import (
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestActionStatusTerminal(t *testing.T) {
	tests := []struct {
		s    domain.ActionStatus
		want bool
	}{
		{domain.StatusQueued, false},
		{domain.StatusApplying, false},
		{domain.StatusApplied, true},
		{domain.StatusDryRun, true},
		{domain.StatusSkipped, true},
		{domain.StatusFailed, true},
		{domain.StatusRolledBack, true},
		{"", false},
		{"APPLIED", false},
		{"unknown", false},
	}
	for _, tt := range tests {
		if got := tt.s.Terminal(); got != tt.want {
			t.Errorf("ActionStatus(%q).Terminal() = %v; want %v", tt.s, got, tt.want)
		}
	}
}

func TestLatestDecisions(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ds := []domain.Decision{
		{ID: "dec-b", ActionID: "a1", Verdict: domain.Approved, At: t0},
		{ID: "dec-a", ActionID: "a1", Verdict: domain.Rejected, At: t0.Add(time.Minute)},
		{ID: "dec-c", ActionID: "a2", Verdict: domain.Rejected, At: t0},
		{ID: "dec-d", ActionID: "a2", Verdict: domain.Approved, At: t0}, // same time: greater ID stands
	}
	got := domain.LatestDecisions(ds)
	if got["a1"].ID != "dec-a" || got["a2"].ID != "dec-d" || len(got) != 2 {
		t.Errorf("LatestDecisions = %+v; want a1 → dec-a (later), a2 → dec-d (tie, greater ID)", got)
	}
}
