package actuate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestEnforceKeepsAVMOnItsSchedule applies a schedule, then runs the
// scheduler through a week: it starts the VM when its window opens,
// stops it when it closes, keeps it off on a public holiday, leaves it
// alone under an override until the override expires, and stops when
// the kill switch is engaged or the schedule's tag is taken off.
func TestEnforceKeepsAVMOnItsSchedule(t *testing.T) {
	ctx := context.Background()
	sched := domain.Schedule{TimeZone: "America/New_York", Days: "Mon-Fri", Start: "09:00", Stop: "17:00", Holidays: "US"}
	r := vm("i-1", "m5.large", domain.StateRunning)
	c := newFakeCloud(r)
	a := action(domain.ActionSchedule, r, domain.ResourceState{SKU: "m5.large", State: domain.StateScheduled})
	a.Schedule = &sched
	e := setup(t, c, true, a)
	// Monday 23 November 2026, 05:00 in New York: outside the window, so
	// applying the schedule stops the VM.
	if res := e.actuator(false).Handle(ctx, e.message(a)); res.Status != domain.StatusApplied {
		t.Fatalf("apply the schedule: %+v", res)
	}
	if got := c.resources["i-1"].State; got != domain.StateStopped {
		t.Fatalf("after applying, the VM is %s; want stopped", got)
	}
	schedules, err := actuate.AppliedSchedules(ctx, e.lake)
	if err != nil || len(schedules) != 1 || schedules[0].ID != a.ID {
		t.Fatalf("AppliedSchedules = %v, %v; want the applied schedule", schedules, err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 30, 0, 0, ny) }
	tick := func(when time.Time, dryRun bool) actuate.EnforceReport {
		t.Helper()
		e.mu.Lock()
		e.now = when
		e.mu.Unlock()
		rep, err := e.actuator(dryRun).Enforce(ctx, schedules)
		if err != nil {
			t.Fatalf("Enforce at %s: %v", when, err)
		}
		return rep
	}
	calls := func() int { return len(c.Calls()) }
	base := calls()

	steps := []struct {
		name    string
		when    time.Time
		dryRun  bool
		prepare func()
		want    actuate.EnforceReport
		state   string
		skipped string
	}{
		{name: "dry run at the window's opening", when: at(23, 9), dryRun: true,
			want: actuate.EnforceReport{DryRun: true}, state: domain.StateStopped, skipped: "dry run: would start"},
		{name: "the window opens", when: at(23, 9), want: actuate.EnforceReport{Started: 1}, state: domain.StateRunning},
		{name: "a retry in the same hour changes nothing", when: at(23, 10), want: actuate.EnforceReport{Unchanged: 1}, state: domain.StateRunning},
		{name: "the window closes", when: at(23, 17), want: actuate.EnforceReport{Stopped: 1}, state: domain.StateStopped},
		{name: "Thanksgiving stays off", when: at(26, 10), want: actuate.EnforceReport{Unchanged: 1}, state: domain.StateStopped},
		{name: "Friday opens", when: at(27, 9), want: actuate.EnforceReport{Started: 1}, state: domain.StateRunning},
		{name: "an override keeps it up tonight", when: at(27, 17), prepare: func() {
			o := domain.Override{Cloud: domain.AWS, ResourceID: "i-1", Until: at(27, 23), Who: "dev@example.com", Why: "release", Kinds: []domain.ActionKind{domain.ActionSchedule}}
			if err := e.lake.PutOverride(ctx, o); err != nil {
				t.Fatal(err)
			}
		}, want: actuate.EnforceReport{}, state: domain.StateRunning, skipped: "self-service override by dev@example.com"},
		{name: "the override expires", when: at(28, 0), want: actuate.EnforceReport{Stopped: 1}, state: domain.StateStopped},
		{name: "the kill switch stops everything", when: at(30, 9), prepare: func() {
			if err := e.lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: true, By: "ops@example.com", Reason: "incident", At: at(30, 8)}); err != nil {
				t.Fatal(err)
			}
		}, want: actuate.EnforceReport{Halted: "x"}, state: domain.StateStopped},
		{name: "the tag is taken off", when: at(30, 10), prepare: func() {
			if err := e.lake.SetKillSwitch(ctx, domain.KillSwitch{}); err != nil {
				t.Fatal(err)
			}
			res := c.resources["i-1"]
			delete(res.Tags, actuate.ScheduleTag)
			c.resources["i-1"] = res
		}, want: actuate.EnforceReport{}, state: domain.StateStopped, skipped: "the schedule was taken off"},
	}
	for _, s := range steps {
		if s.prepare != nil {
			s.prepare()
		}
		before := calls()
		rep := tick(s.when, s.dryRun)
		if s.want.Halted != "" {
			if !strings.Contains(rep.Halted, "incident") || calls() != before {
				t.Errorf("%s: report %+v, %d calls; want halted by the switch and no call", s.name, rep, calls()-before)
			}
			continue
		}
		got := rep
		got.Skipped, got.Failed = nil, nil
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s: report (-want +got):\n%s", s.name, diff)
		}
		if s.skipped != "" && (len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], s.skipped)) {
			t.Errorf("%s: skipped = %q; want one saying %q", s.name, rep.Skipped, s.skipped)
		}
		if len(rep.Failed) > 0 {
			t.Errorf("%s: failed = %q", s.name, rep.Failed)
		}
		if got := c.resources["i-1"].State; got != s.state {
			t.Errorf("%s: VM is %s; want %s", s.name, got, s.state)
		}
		if changed := rep.Started + rep.Stopped; calls()-before != changed {
			t.Errorf("%s: %d mutating calls; want %d", s.name, calls()-before, changed)
		}
	}
	if n := calls() - base; n != 4 {
		t.Errorf("the week made %d mutating calls; want 4 (two starts, two stops)", n)
	}
	var ticks int
	evs, err := e.lake.Audit(ctx, t0, t0.AddDate(0, 0, 10))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.HasPrefix(ev.Actor, "scheduler:") && ev.Type == domain.AuditApplyDone {
			ticks++
			if ev.Savings.Micros != 0 {
				t.Errorf("scheduled change audited with savings %s; want none (counted once when applied)", ev.Savings)
			}
		}
	}
	if ticks != 4 {
		t.Errorf("%d scheduled changes audited; want 4", ticks)
	}
}
