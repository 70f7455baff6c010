package optimize

import (
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// officeHours is busy Mon-Fri 09:00-18:00 Paris time, idle otherwise.
func officeHours(n int) func(int) float32 {
	paris, _ := time.LoadLocation("Europe/Paris")
	start := windowEnd.Add(-time.Duration(n) * time.Hour)
	return func(i int) float32 {
		t := start.Add(time.Duration(i) * time.Hour).In(paris)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday && t.Hour() >= 9 && t.Hour() < 18 {
			return 45
		}
		return 1
	}
}

func TestObservedScheduleAndHolidays(t *testing.T) {
	const n = 21 * 24
	dev := with(optIn, "env", "dev", "tz", "Europe/Paris")
	tests := []struct {
		name      string
		tags      map[string]string
		cpu       func(int) float32
		pol       func(*domain.Policy)
		want      domain.Schedule
		wantNotes []string
	}{
		{name: "the observed window", tags: dev, cpu: officeHours(n),
			want:      domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "19:00"},
			wantNotes: []string{"its CPU series over 3 weeks shows it busy 08:00-19:00 on Mon-Fri (Europe/Paris): 135 of its 135 busy hours fall inside, 0 outside"}},
		{name: "off on the holidays of its calendar", tags: with(dev, "cloudtrim-holidays", "fr"), cpu: officeHours(n),
			want: domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "19:00", Holidays: "FR"},
			wantNotes: []string{"running Mon-Fri 08:00-19:00 Europe/Paris, off on FR holidays keeps it up 32.74% of the week",
				"9 FR public holidays of the last year fell on its running days: 99 h more off a year"}},
		{name: "an unknown calendar keeps the policy's", tags: with(dev, "cloudtrim-holidays", "XX"), cpu: officeHours(n),
			want:      domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "19:00"},
			wantNotes: []string{`holiday tag "XX" is not a supported calendar; the policy's "" is used`}},
		{name: "busy around the clock: the default", tags: dev, cpu: flat(40),
			want:      domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"},
			wantNotes: []string{"no weekly running window observed ("}},
		{name: "fixed only", tags: dev, cpu: officeHours(n), pol: func(p *domain.Policy) { p.Schedules.FixedOnly = true },
			want: domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}},
	}
	var plain domain.Money
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			pol.Idle.Enabled = false
			if tt.pol != nil {
				tt.pol(&pol)
			}
			plan := optimize(t, pol, &fakeSnapshot{ref: ref(), resources: []domain.Resource{vm("i-1", "m5.2xlarge", tt.tags)},
				series: []domain.Series{hourly("i-1", domain.MetricCPU, n, tt.cpu)}})
			if len(plan.Actions) != 1 || plan.Actions[0].Schedule == nil {
				t.Fatalf("actions = %+v; want one schedule", briefs(plan))
			}
			a := plan.Actions[0]
			if *a.Schedule != tt.want {
				t.Errorf("schedule = %+v; want %+v", *a.Schedule, tt.want)
			}
			for _, w := range tt.wantNotes {
				found := false
				for _, n := range a.Evidence.Notes {
					found = found || strings.HasPrefix(n, w)
				}
				if !found {
					t.Errorf("notes = %q; want one starting %q", a.Evidence.Notes, w)
				}
			}
			switch tt.name {
			case "the observed window":
				plain = a.MonthlySavings
			case "off on the holidays of its calendar":
				// 99 more hours off a year at 0.384 an hour: 3.17 a month.
				if d := a.MonthlySavings.Micros - plain.Micros; plain.Micros == 0 || d < 3_100_000 || d > 3_200_000 {
					t.Errorf("savings %s; want about USD 3.17 more than without holidays (%s)", a.MonthlySavings, plain)
				}
			}
		})
	}
}
