package actuate_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestScheduleActionAcrossDaylightSaving applies a 19:00–07:00 weekday
// stop window at the same UTC time of day on the Mondays before and
// after a change, on the injected clock: the actuator stops the VM only
// when that instant is outside the local window.
func TestScheduleActionAcrossDaylightSaving(t *testing.T) {
	tests := []struct {
		zone     string
		at       string
		wantStop bool
	}{
		{"Europe/Berlin", "2026-03-23T05:30:00Z", true},     // 06:30 CET
		{"Europe/Berlin", "2026-03-30T05:30:00Z", false},    // 07:30 CEST
		{"Europe/Berlin", "2026-10-19T05:30:00Z", false},    // 07:30 CEST
		{"Europe/Berlin", "2026-10-26T05:30:00Z", true},     // 06:30 CET
		{"America/New_York", "2026-03-02T11:30:00Z", true},  // 06:30 EST
		{"America/New_York", "2026-03-09T11:30:00Z", false}, // 07:30 EDT
		{"America/New_York", "2026-10-26T11:30:00Z", false}, // 07:30 EDT
		{"America/New_York", "2026-11-02T11:30:00Z", true},  // 06:30 EST
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.at, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			sched := domain.Schedule{TimeZone: tt.zone, Days: "Mon-Fri", Start: "07:00", Stop: "19:00"}
			r := vm("i-1", "m5.large", domain.StateRunning)
			a := action(domain.ActionSchedule, r, domain.ResourceState{SKU: "m5.large", State: domain.StateScheduled})
			a.Schedule = &sched
			c := newFakeCloud(r)
			e := setup(t, c, false, a)
			e.now = at
			e.decide(a, domain.Approved, at.Add(-time.Hour))
			res := e.actuator(false).Handle(context.Background(), e.message(a))
			if res.Disposition != actuate.Ack || res.Status != domain.StatusApplied {
				t.Fatalf("Handle = %+v; want ack/applied", res)
			}
			want := []string{"tag i-1"}
			if tt.wantStop {
				want = append(want, "stop i-1")
			}
			if diff := cmp.Diff(want, c.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApprovalExpiryFollowsTheInjectedClock: an approval is valid for
// MaxApprovalAge on the injected clock, to the minute either side.
func TestApprovalExpiryFollowsTheInjectedClock(t *testing.T) {
	for _, tt := range []struct {
		age  time.Duration
		want actuate.Disposition
	}{{7*24*time.Hour - time.Minute, actuate.Ack}, {7*24*time.Hour + time.Minute, actuate.DeadLetter}} {
		r := vm("i-1", "m5.large", domain.StateRunning)
		a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
		e := setup(t, newFakeCloud(r), true, a)
		e.now = t0.Add(tt.age)
		if res := e.actuator(false).Handle(context.Background(), e.message(a)); res.Disposition != tt.want {
			t.Errorf("approval %v old: Handle = %+v; want %s", tt.age, res, tt.want)
		}
	}
}
