package domain_test

import (
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// stopNights is a 19:00–07:00 weekday stop window: running 07:00–19:00
// local time, Monday to Friday; stopped otherwise.
func stopNights(zone string) domain.Schedule {
	return domain.Schedule{TimeZone: zone, Days: "Mon-Fri", Start: "07:00", Stop: "19:00"}
}

func z(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestScheduleAcrossDaylightSavingChanges checks the window on both
// sides of the 2026 changes in Berlin (29 March, 25 October) and New York
// (8 March, 1 November), at instants given in UTC: the same UTC time is
// inside the window on one side of a change and outside on the other.
func TestScheduleAcrossDaylightSavingChanges(t *testing.T) {
	berlin, newYork := stopNights("Europe/Berlin"), stopNights("America/New_York")
	tests := []struct {
		name string
		s    domain.Schedule
		at   string
		want bool
	}{
		// Berlin, spring forward on Sunday 29 March: CET (+01) → CEST (+02).
		{"Berlin Mon before, 06:59 CET", berlin, "2026-03-23T05:59:00Z", false},
		{"Berlin Mon before, 07:00 CET", berlin, "2026-03-23T06:00:00Z", true},
		{"Berlin Fri before, 18:59 CET", berlin, "2026-03-27T17:59:00Z", true},
		{"Berlin Fri before, 19:00 CET", berlin, "2026-03-27T18:00:00Z", false},
		{"Berlin Sun of the change, 03:30 CEST", berlin, "2026-03-29T01:30:00Z", false},
		{"Berlin Mon after, 06:59 CEST", berlin, "2026-03-30T04:59:00Z", false},
		{"Berlin Mon after, 07:00 CEST", berlin, "2026-03-30T05:00:00Z", true},
		{"Berlin Mon after, 18:59 CEST", berlin, "2026-03-30T16:59:00Z", true},
		{"Berlin Mon after, 19:00 CEST", berlin, "2026-03-30T17:00:00Z", false},
		{"Berlin 05:30 UTC before spring is 06:30 CET", berlin, "2026-03-23T05:30:00Z", false},
		{"Berlin 05:30 UTC after spring is 07:30 CEST", berlin, "2026-03-30T05:30:00Z", true},
		// Berlin, fall back on Sunday 25 October: CEST (+02) → CET (+01).
		{"Berlin Fri before, 18:59 CEST", berlin, "2026-10-23T16:59:00Z", true},
		{"Berlin Fri before, 19:00 CEST", berlin, "2026-10-23T17:00:00Z", false},
		{"Berlin Sun 02:30 CEST (first)", berlin, "2026-10-25T00:30:00Z", false},
		{"Berlin Sun 02:30 CET (second)", berlin, "2026-10-25T01:30:00Z", false},
		{"Berlin Mon after, 06:59 CET", berlin, "2026-10-26T05:59:00Z", false},
		{"Berlin Mon after, 07:00 CET", berlin, "2026-10-26T06:00:00Z", true},
		{"Berlin Mon after, 18:59 CET", berlin, "2026-10-26T17:59:00Z", true},
		{"Berlin Mon after, 19:00 CET", berlin, "2026-10-26T18:00:00Z", false},
		{"Berlin 05:30 UTC before autumn is 07:30 CEST", berlin, "2026-10-19T05:30:00Z", true},
		{"Berlin 05:30 UTC after autumn is 06:30 CET", berlin, "2026-10-26T05:30:00Z", false},
		// New York, spring forward on Sunday 8 March: EST (-05) → EDT (-04).
		{"New York Mon before, 06:59 EST", newYork, "2026-03-02T11:59:00Z", false},
		{"New York Mon before, 07:00 EST", newYork, "2026-03-02T12:00:00Z", true},
		{"New York Fri before, 18:59 EST", newYork, "2026-03-06T23:59:00Z", true},
		{"New York Fri before, 19:00 EST", newYork, "2026-03-07T00:00:00Z", false},
		{"New York Mon after, 06:59 EDT", newYork, "2026-03-09T10:59:00Z", false},
		{"New York Mon after, 07:00 EDT", newYork, "2026-03-09T11:00:00Z", true},
		{"New York Mon after, 18:59 EDT", newYork, "2026-03-09T22:59:00Z", true},
		{"New York Mon after, 19:00 EDT", newYork, "2026-03-09T23:00:00Z", false},
		{"New York 11:30 UTC before spring is 06:30 EST", newYork, "2026-03-02T11:30:00Z", false},
		{"New York 11:30 UTC after spring is 07:30 EDT", newYork, "2026-03-09T11:30:00Z", true},
		// New York, fall back on Sunday 1 November: EDT (-04) → EST (-05).
		{"New York Fri before, 18:59 EDT", newYork, "2026-10-30T22:59:00Z", true},
		{"New York Fri before, 19:00 EDT", newYork, "2026-10-30T23:00:00Z", false},
		{"New York Sun 01:30 EDT (first)", newYork, "2026-11-01T05:30:00Z", false},
		{"New York Sun 01:30 EST (second)", newYork, "2026-11-01T06:30:00Z", false},
		{"New York Mon after, 06:59 EST", newYork, "2026-11-02T11:59:00Z", false},
		{"New York Mon after, 07:00 EST", newYork, "2026-11-02T12:00:00Z", true},
		{"New York Mon after, 18:59 EST", newYork, "2026-11-02T23:59:00Z", true},
		{"New York Mon after, 19:00 EST", newYork, "2026-11-03T00:00:00Z", false},
		{"New York 11:30 UTC before autumn is 07:30 EDT", newYork, "2026-10-26T11:30:00Z", true},
		{"New York 11:30 UTC after autumn is 06:30 EST", newYork, "2026-11-02T11:30:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Running(z(tt.at)); got != tt.want {
				t.Errorf("%v.Running(%s) = %v; want %v", tt.s, tt.at, got, tt.want)
			}
		})
	}
}

// TestScheduleWeekendAcrossDaylightSavingChanges measures, minute by
// minute in real time, how long the window keeps a VM stopped from
// Friday 19:00 to Monday 07:00 local time: 60 hours on an ordinary
// weekend, 59 when the clocks go forward, 61 when they go back.
func TestScheduleWeekendAcrossDaylightSavingChanges(t *testing.T) {
	tests := []struct {
		zone   string
		friday string // a Friday noon, UTC
		hours  int
	}{
		{"Europe/Berlin", "2026-03-20T12:00:00Z", 60},
		{"Europe/Berlin", "2026-03-27T12:00:00Z", 59},
		{"Europe/Berlin", "2026-10-23T12:00:00Z", 61},
		{"America/New_York", "2026-03-06T17:00:00Z", 59},
		{"America/New_York", "2026-10-30T17:00:00Z", 61},
		{"America/New_York", "2026-11-06T17:00:00Z", 60},
	}
	for _, tt := range tests {
		s := stopNights(tt.zone)
		start := z(tt.friday)
		stopped := 0
		for m := 0; m < 4*24*60; m++ { // Friday noon to Tuesday noon
			at := start.Add(time.Duration(m) * time.Minute)
			if !s.Running(at) {
				stopped++
			}
		}
		// Monday and Tuesday nights 19:00–07:00 are 12 hours each; the
		// Monday night before Tuesday noon counts from 19:00 to 07:00.
		if want := (tt.hours + 12) * 60; stopped != want {
			t.Errorf("%s weekend from %s: stopped %d minutes (%.2f h); want %d h + the Monday night",
				tt.zone, tt.friday, stopped, float64(stopped)/60, tt.hours)
		}
	}
}
