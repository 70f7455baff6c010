package domain_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// 2026-03-02 is a Monday.
func utc(day, hour, minute int) time.Time {
	return time.Date(2026, time.March, day, hour, minute, 0, 0, time.UTC)
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		name    string
		s       domain.Schedule
		wantErr error
	}{
		{"weekdays", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}, nil},
		{"weekend", domain.Schedule{TimeZone: "Europe/Berlin", Days: "Sat-Sun", Start: "00:00", Stop: "23:59"}, nil},
		{"list", domain.Schedule{TimeZone: "America/New_York", Days: "Mon,Wed,Fri", Start: "09:30", Stop: "17:45"}, nil},
		{"list with spaces", domain.Schedule{TimeZone: "UTC", Days: "Mon, Wed , Fri", Start: "09:00", Stop: "17:00"}, nil},
		{"wrap-around range", domain.Schedule{TimeZone: "UTC", Days: "Fri-Mon", Start: "08:00", Stop: "20:00"}, nil},
		{"single day", domain.Schedule{TimeZone: "UTC", Days: "Wed", Start: "08:00", Stop: "08:01"}, nil},
		{"any case", domain.Schedule{TimeZone: "UTC", Days: "mon-FRI", Start: "08:00", Stop: "20:00"}, nil},
		{"unknown time zone", domain.Schedule{TimeZone: "Mars/Olympus_Mons", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"empty days", domain.Schedule{TimeZone: "UTC", Days: " ", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"unknown day", domain.Schedule{TimeZone: "UTC", Days: "Mon-Funday", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"full day names", domain.Schedule{TimeZone: "UTC", Days: "Monday-Friday", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"wrong separator", domain.Schedule{TimeZone: "UTC", Days: "Mon;Fri", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"empty list item", domain.Schedule{TimeZone: "UTC", Days: "Mon,,Fri", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"open range", domain.Schedule{TimeZone: "UTC", Days: "Mon-", Start: "08:00", Stop: "20:00"}, domain.ErrInvalid},
		{"bad start", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "8am", Stop: "20:00"}, domain.ErrInvalid},
		{"empty start", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "", Stop: "20:00"}, domain.ErrInvalid},
		{"hour 25", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "25:00"}, domain.ErrInvalid},
		{"minute 60", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:60", Stop: "20:00"}, domain.ErrInvalid},
		{"start equals stop", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "08:00"}, domain.ErrInvalid},
		{"start after stop", domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "20:00", Stop: "08:00"}, domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Validate(); !errors.Is(err, tt.wantErr) {
				t.Errorf("%+v.Validate() = %v; want %v", tt.s, err, tt.wantErr)
			}
		})
	}
}

func TestScheduleRunning(t *testing.T) {
	weekdays := domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	weekend := domain.Schedule{TimeZone: "UTC", Days: "Sat-Sun", Start: "08:00", Stop: "20:00"}
	list := domain.Schedule{TimeZone: "UTC", Days: "Mon,Wed,Fri", Start: "08:00", Stop: "20:00"}
	wrap := domain.Schedule{TimeZone: "UTC", Days: "Fri-Mon", Start: "08:00", Stop: "20:00"}
	tokyo := domain.Schedule{TimeZone: "Asia/Tokyo", Days: "Mon-Fri", Start: "09:00", Stop: "17:00"}
	newYork := domain.Schedule{TimeZone: "America/New_York", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    domain.Schedule
		at   time.Time
		want bool
	}{
		{"weekday before start", weekdays, utc(2, 7, 59), false},
		{"weekday at start", weekdays, utc(2, 8, 0), true},
		{"weekday inside hours", weekdays, utc(4, 12, 0), true},
		{"weekday last minute", weekdays, utc(6, 19, 59), true},
		{"weekday at stop", weekdays, utc(6, 20, 0), false},
		{"weekday at midnight", weekdays, utc(3, 0, 0), false},
		{"saturday inside hours", weekdays, utc(7, 12, 0), false},
		{"sunday inside hours", weekdays, utc(8, 12, 0), false},
		{"seconds count within the minute", weekdays, utc(2, 7, 59).Add(59 * time.Second), false},
		{"instant given in another zone", weekdays, utc(2, 12, 0).In(berlin), true},

		{"Sat-Sun on saturday", weekend, utc(7, 12, 0), true},
		{"Sat-Sun on sunday", weekend, utc(8, 12, 0), true},
		{"Sat-Sun on sunday after hours", weekend, utc(8, 21, 0), false},
		{"Sat-Sun on friday", weekend, utc(6, 12, 0), false},
		{"Sat-Sun on monday", weekend, utc(9, 12, 0), false},

		{"list on monday", list, utc(2, 12, 0), true},
		{"list on tuesday", list, utc(3, 12, 0), false},
		{"list on wednesday", list, utc(4, 12, 0), true},
		{"list on thursday", list, utc(5, 12, 0), false},
		{"list on friday", list, utc(6, 12, 0), true},
		{"list on saturday", list, utc(7, 12, 0), false},

		{"Fri-Mon on friday", wrap, utc(6, 12, 0), true},
		{"Fri-Mon on saturday", wrap, utc(7, 12, 0), true},
		{"Fri-Mon on sunday", wrap, utc(8, 12, 0), true},
		{"Fri-Mon on monday", wrap, utc(9, 12, 0), true},
		{"Fri-Mon on tuesday", wrap, utc(10, 12, 0), false},
		{"Fri-Mon on wednesday", wrap, utc(11, 12, 0), false},
		{"Fri-Mon on thursday", wrap, utc(12, 12, 0), false},

		// Tokyo is UTC+9 all year: the local day, not the UTC day, counts.
		{"Tokyo monday 09:00 is sunday in UTC", tokyo, utc(2, 0, 0), true},
		{"Tokyo monday 08:30 is sunday in UTC", tokyo, utc(1, 23, 30), false},
		{"Tokyo saturday 08:00 is friday in UTC", tokyo, utc(6, 23, 0), false},
		{"Tokyo friday 16:59", tokyo, utc(6, 7, 59), true},
		{"Tokyo friday 17:00", tokyo, utc(6, 8, 0), false},

		// Daylight saving starts on Sunday 2026-03-08: 08:00 local is
		// 13:00 UTC on the Friday before and 12:00 UTC on the Monday after.
		{"New York before DST 07:59 EST", newYork, utc(6, 12, 59), false},
		{"New York before DST 08:00 EST", newYork, utc(6, 13, 0), true},
		{"New York before DST 19:59 EST", newYork, time.Date(2026, 3, 7, 0, 59, 0, 0, time.UTC), true},
		{"New York before DST 20:00 EST", newYork, time.Date(2026, 3, 7, 1, 0, 0, 0, time.UTC), false},
		{"New York after DST 07:59 EDT", newYork, utc(9, 11, 59), false},
		{"New York after DST 08:00 EDT", newYork, utc(9, 12, 0), true},
		{"New York after DST 08:30 EDT", newYork, utc(9, 12, 30), true},
		{"New York after DST 19:59 EDT", newYork, utc(9, 23, 59), true},
		{"New York after DST 20:00 EDT", newYork, utc(10, 0, 0), false},
		// Daylight saving ends on Sunday 2026-11-01: 08:00 local is
		// 12:00 UTC on the Friday before and 13:00 UTC on the Monday after.
		{"New York before DST end 07:59 EDT", newYork, time.Date(2026, 10, 30, 11, 59, 0, 0, time.UTC), false},
		{"New York before DST end 08:00 EDT", newYork, time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC), true},
		{"New York after DST end 07:30 EST", newYork, time.Date(2026, 11, 2, 12, 30, 0, 0, time.UTC), false},
		{"New York after DST end 08:00 EST", newYork, time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC), true},
		{"New York after DST end 19:59 EST", newYork, time.Date(2026, 11, 3, 0, 59, 0, 0, time.UTC), true},
		{"New York after DST end 20:00 EST", newYork, time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC), false},
		{"New York sunday of the change", newYork, time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Running(tt.at); got != tt.want {
				t.Errorf("%v.Running(%v) = %v; want %v", tt.s, tt.at.UTC().Format(time.RFC3339+" Mon"), got, tt.want)
			}
		})
	}
}

func TestScheduleInvalidNeverStops(t *testing.T) {
	valid := domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	tests := []struct {
		name   string
		mutate func(*domain.Schedule)
	}{
		{"unknown time zone", func(s *domain.Schedule) { s.TimeZone = "Mars/Olympus_Mons" }},
		{"empty days", func(s *domain.Schedule) { s.Days = "" }},
		{"unknown day", func(s *domain.Schedule) { s.Days = "Mon-Funday" }},
		{"bad start", func(s *domain.Schedule) { s.Start = "8am" }},
		{"bad stop", func(s *domain.Schedule) { s.Stop = "24:00" }},
		{"start equals stop", func(s *domain.Schedule) { s.Start, s.Stop = "08:00", "08:00" }},
		{"start after stop", func(s *domain.Schedule) { s.Start, s.Stop = "20:00", "08:00" }},
	}
	// A weekday inside and outside hours, and the weekend.
	times := []time.Time{utc(2, 12, 0), utc(2, 3, 0), utc(2, 21, 0), utc(7, 12, 0), utc(8, 0, 0)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid
			tt.mutate(&s)
			if s.Validate() == nil {
				t.Fatalf("%+v.Validate() = nil; the test needs an invalid schedule", s)
			}
			for _, at := range times {
				if !s.Running(at) {
					t.Errorf("%+v.Running(%v) = false; want true: an invalid schedule never stops anything", s, at.Format(time.RFC3339+" Mon"))
				}
			}
			if got := s.RunningFraction(); got != 1 {
				t.Errorf("%+v.RunningFraction() = %v; want 1 for an invalid schedule", s, got)
			}
		})
	}
}

func TestScheduleRunningFraction(t *testing.T) {
	const week = 7 * 24 * 60.0
	tests := []struct {
		s    domain.Schedule
		want float64
	}{
		{domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}, 60.0 / 168},
		{domain.Schedule{TimeZone: "America/New_York", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}, 60.0 / 168},
		{domain.Schedule{TimeZone: "UTC", Days: "Sat-Sun", Start: "08:00", Stop: "20:00"}, 24.0 / 168},
		{domain.Schedule{TimeZone: "UTC", Days: "Mon,Wed,Fri", Start: "09:00", Stop: "17:00"}, 24.0 / 168},
		{domain.Schedule{TimeZone: "UTC", Days: "Fri-Mon", Start: "08:00", Stop: "20:00"}, 48.0 / 168},
		{domain.Schedule{TimeZone: "UTC", Days: "Sun-Sat", Start: "00:00", Stop: "23:59"}, 7 * 1439 / week},
		{domain.Schedule{TimeZone: "UTC", Days: "Mon,Mon-Tue", Start: "08:00", Stop: "20:00"}, 24.0 / 168}, // overlapping days count once
		{domain.Schedule{TimeZone: "UTC", Days: "Wed", Start: "08:00", Stop: "08:30"}, 30 / week},
	}
	for _, tt := range tests {
		if got := tt.s.RunningFraction(); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%v.RunningFraction() = %v; want %v", tt.s, got, tt.want)
		}
	}
}

// TestScheduleRunningFractionMatchesRunning samples every minute of a week
// and checks that RunningFraction agrees with Running.
func TestScheduleRunningFractionMatchesRunning(t *testing.T) {
	for _, s := range []domain.Schedule{
		{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"},
		{TimeZone: "Asia/Kolkata", Days: "Fri-Mon", Start: "07:15", Stop: "19:45"},
		{TimeZone: "UTC", Days: "Mon,Wed,Fri", Start: "00:00", Stop: "23:59"},
	} {
		running := 0
		for m := range 7 * 24 * 60 {
			if s.Running(utc(2, 0, 0).Add(time.Duration(m) * time.Minute)) {
				running++
			}
		}
		if got, want := s.RunningFraction(), float64(running)/(7*24*60); math.Abs(got-want) > 1e-12 {
			t.Errorf("%v.RunningFraction() = %v; want %v (share of minutes Running reports)", s, got, want)
		}
	}
}

func TestScheduleString(t *testing.T) {
	s := domain.Schedule{TimeZone: "Europe/Berlin", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	if got, want := s.String(), "Mon-Fri 08:00-20:00 Europe/Berlin"; got != want {
		t.Errorf("%#v.String() = %q; want %q", s, got, want)
	}
}
