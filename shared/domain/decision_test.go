package domain_test

import (
	"testing"

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
