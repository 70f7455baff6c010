package offhours

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func mustLoad(t testing.TB, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// synth builds a CPU series starting at local midnight of first (a
// "2006-01-02" date in loc) over days days at step, with f giving the
// value of each point from its local start time.
func synth(t testing.TB, loc *time.Location, first string, days int, step time.Duration, f func(lt time.Time, i int) float32) domain.Series {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, first, loc)
	if err != nil {
		t.Fatal(err)
	}
	start := d.UTC()
	n := int(time.Duration(days) * 24 * time.Hour / step)
	s := domain.Series{ResourceID: "vm-1", Metric: domain.MetricCPU, Start: start, Step: step, Values: make([]float32, n)}
	for i := range s.Values {
		s.Values[i] = f(start.Add(time.Duration(i)*step).In(loc), i)
	}
	return s
}

func weekdayOf(lt time.Time) bool {
	return lt.Weekday() != time.Saturday && lt.Weekday() != time.Sunday
}

// office is busy 09:00–18:00 local, Monday to Friday, and nearly idle
// otherwise.
func office(lt time.Time, i int) float32 {
	if weekdayOf(lt) && lt.Hour() >= 9 && lt.Hour() < 18 {
		return 35 + float32((i*7)%11)
	}
	return 1 + float32(i%3)*0.5
}

var officeWindow = domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "19:00"}

// recount counts the active hours of s and those outside w.Schedule with
// Schedule.Running, independently of Detect: hourly means by local clock
// hour, the threshold from the p95 of those means, and Running at the
// first point of each hour.
func recount(t testing.TB, s domain.Series, loc *time.Location, opt Options, sched domain.Schedule) (active, outside int) {
	t.Helper()
	type hour struct {
		at  time.Time
		sum float64
		n   int
	}
	var hours []hour
	lastKey := ""
	for i, v := range s.Values {
		at := s.Start.Add(time.Duration(i) * s.Step)
		lt := at.In(loc)
		_, off := lt.Zone()
		key := lt.Format("2006-01-02 15") + " " + time.Duration(off*int(time.Second)).String()
		if key != lastKey {
			hours = append(hours, hour{at: at})
			lastKey = key
		}
		if !domain.IsMissing(v) {
			hours[len(hours)-1].sum += float64(v)
			hours[len(hours)-1].n++
		}
	}
	var means []float64
	for _, h := range hours {
		if h.n > 0 {
			means = append(means, float64(float32(h.sum/float64(h.n))))
		}
	}
	slices.Sort(means)
	o, err := opt.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	threshold := math.Max(o.ActivePercent, o.RelativeToPeak*domain.Percentile(means, 95))
	for _, h := range hours {
		if h.n == 0 || float64(float32(h.sum/float64(h.n))) < threshold {
			continue
		}
		active++
		if sched.Days != "" && !sched.Running(h.at) {
			outside++
		}
	}
	return active, outside
}

func TestDetectOfficeHours(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	s := synth(t, paris, "2026-01-05", 21, time.Hour, office)
	w, reason, ok := Detect(s, paris, Options{})
	if !ok || reason != "" {
		t.Fatalf("Detect: %q, %v", reason, ok)
	}
	if w.Schedule != officeWindow {
		t.Errorf("schedule %+v, want %+v", w.Schedule, officeWindow)
	}
	if err := w.Schedule.Validate(); err != nil {
		t.Error(err)
	}
	if w.ActiveHours != 3*5*9 || w.ActiveHoursOutside != 0 || w.ObservedWeeks != 3 {
		t.Errorf("active %d, outside %d, weeks %v; want 135, 0, 3", w.ActiveHours, w.ActiveHoursOutside, w.ObservedWeeks)
	}
	if want := 1 - 5.0*11/168; math.Abs(w.OffShare-want) > 1e-12 || math.Abs(w.OffShare-(1-w.Schedule.RunningFraction())) > 1e-12 {
		t.Errorf("OffShare %v, want %v", w.OffShare, want)
	}
	if w.Profile[time.Monday][9] != 1 || w.Profile[time.Friday][17] != 1 || w.Profile[time.Monday][8] != 0 ||
		w.Profile[time.Monday][18] != 0 || w.Profile[time.Saturday][12] != 0 {
		t.Errorf("profile Mon 8-10 %v, Fri 17 %v, Sat 12 %v", w.Profile[time.Monday][8:11], w.Profile[time.Friday][17], w.Profile[time.Saturday][12])
	}
	active, outside := recount(t, s, paris, Options{}, w.Schedule)
	if active != w.ActiveHours || outside != w.ActiveHoursOutside {
		t.Errorf("recount %d active, %d outside; Detect %d, %d", active, outside, w.ActiveHours, w.ActiveHoursOutside)
	}
	again, _, _ := Detect(s, paris, Options{})
	if again != w {
		t.Error("Detect is not deterministic")
	}
}

func TestDetectMargins(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	s := synth(t, paris, "2026-01-05", 21, time.Hour, office)
	for _, tt := range []struct {
		margin      int
		start, stop string
	}{{-1, "09:00", "18:00"}, {2, "07:00", "20:00"}, {9, "00:00", "23:59"}} {
		w, reason, ok := Detect(s, paris, Options{MarginHours: tt.margin})
		if !ok || w.Schedule.Start != tt.start || w.Schedule.Stop != tt.stop || w.Schedule.Days != "Mon-Fri" {
			t.Errorf("margin %d: %+v, %q, %v; want Mon-Fri %s-%s", tt.margin, w.Schedule, reason, ok, tt.start, tt.stop)
		}
	}
}

// TestDetectAcrossDaylightSaving: office hours keep their local times
// while the UTC hours move by one at the change, so the window in local
// time is the same as without a change.
func TestDetectAcrossDaylightSaving(t *testing.T) {
	for _, tt := range []struct{ zone, first string }{
		{"Europe/Paris", "2026-03-16"},     // spring forward on 29 March
		{"Europe/Paris", "2026-10-12"},     // fall back on 25 October
		{"America/New_York", "2026-02-23"}, // spring forward on 8 March
		{"America/New_York", "2026-10-19"}, // fall back on 1 November
	} {
		loc := mustLoad(t, tt.zone)
		s := synth(t, loc, tt.first, 21, time.Hour, office)
		w, reason, ok := Detect(s, loc, Options{})
		want := officeWindow
		want.TimeZone = tt.zone
		if !ok || w.Schedule != want || w.ActiveHoursOutside != 0 || w.ActiveHours != 135 {
			t.Errorf("%s from %s: %+v (outside %d of %d), %q, %v; want %+v", tt.zone, tt.first, w.Schedule,
				w.ActiveHoursOutside, w.ActiveHours, reason, ok, want)
		}
		// The fixture does move in UTC: the first busy hour of the first
		// and the last Monday differ.
		firstBusy := func(day int) int {
			for i := day * 24; i < day*24+24; i++ {
				if s.Values[i] > 30 {
					return s.Start.Add(time.Duration(i) * time.Hour).UTC().Hour()
				}
			}
			return -1
		}
		if a, b := firstBusy(0), firstBusy(14); a == b {
			t.Errorf("%s from %s: busy from %02d:00 UTC both weeks; the fixture does not cross a change", tt.zone, tt.first, a)
		}
	}
	// Bucketed in UTC, the same data need a wider window.
	paris := mustLoad(t, "Europe/Paris")
	s := synth(t, paris, "2026-03-16", 21, time.Hour, office)
	w, _, ok := Detect(s, time.UTC, Options{})
	if want := (domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "06:00", Stop: "18:00"}); !ok || w.Schedule != want {
		t.Errorf("in UTC: %+v, %v; want %+v", w.Schedule, ok, want)
	}
}

func TestDetectWeekendBatch(t *testing.T) {
	loc := mustLoad(t, "Europe/Berlin")
	s := synth(t, loc, "2026-05-04", 28, time.Hour, func(lt time.Time, i int) float32 {
		if !weekdayOf(lt) && lt.Hour() >= 1 && lt.Hour() < 5 {
			return 90
		}
		return 2
	})
	w, reason, ok := Detect(s, loc, Options{})
	want := domain.Schedule{TimeZone: "Europe/Berlin", Days: "Sat-Sun", Start: "00:00", Stop: "06:00"}
	if !ok || w.Schedule != want || w.ActiveHours != 4*2*4 || w.ActiveHoursOutside != 0 {
		t.Fatalf("%+v (outside %d of %d), %q, %v; want %+v", w.Schedule, w.ActiveHoursOutside, w.ActiveHours, reason, ok, want)
	}
	if math.Abs(w.OffShare-(1-12.0/168)) > 1e-12 {
		t.Errorf("OffShare %v", w.OffShare)
	}
}

func TestDetectAroundTheClock(t *testing.T) {
	loc := mustLoad(t, "Europe/Paris")
	for name, f := range map[string]func(time.Time, int) float32{
		"flat":  func(_ time.Time, i int) float32 { return 55 + float32(i%7) },
		"swing": func(lt time.Time, _ int) float32 { return float32(30 + 60*(lt.Hour()/12)) }, // 30% at night, 90% by day
	} {
		s := synth(t, loc, "2026-01-05", 21, time.Hour, f)
		w, reason, ok := Detect(s, loc, Options{})
		if ok || !strings.Contains(reason, "around the clock") {
			t.Errorf("%s: %+v, %q, %v; want refused as around the clock", name, w.Schedule, reason, ok)
		}
		if w.ActiveHours != 21*24 || w.ObservedWeeks != 3 {
			t.Errorf("%s: evidence %d active hours over %v weeks", name, w.ActiveHours, w.ObservedWeeks)
		}
	}
}

func TestDetectSavesTooLittle(t *testing.T) {
	loc := mustLoad(t, "Europe/Paris")
	// Busy 05:00–22:00 every day: the window keeps the VM off 6 hours a
	// day, 25% — 0.3 asks for more.
	s := synth(t, loc, "2026-01-05", 21, time.Hour, func(lt time.Time, _ int) float32 {
		if lt.Hour() >= 5 && lt.Hour() < 22 {
			return 60
		}
		return 1
	})
	w, reason, ok := Detect(s, loc, Options{MinSavingsShare: 0.3})
	if ok || !strings.Contains(reason, "less than 30.0%") || w.Schedule.Days != "Mon-Sun" || w.Schedule.Start != "04:00" {
		t.Errorf("%+v, %q, %v", w.Schedule, reason, ok)
	}
	if _, reason, ok := Detect(s, loc, Options{MinSavingsShare: 0.2}); !ok {
		t.Errorf("at 20%%: %q", reason)
	}
}

func TestDetectTooFewWeeks(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	s := synth(t, paris, "2026-01-05", 10, time.Hour, office)
	w, reason, ok := Detect(s, paris, Options{})
	if ok || !strings.Contains(reason, "weeks observed") || math.Abs(w.ObservedWeeks-10.0/7) > 1e-9 {
		t.Errorf("%q, %v, %v weeks", reason, ok, w.ObservedWeeks)
	}
	if _, reason, ok := Detect(s, paris, Options{MinWeeks: 1}); !ok {
		t.Errorf("with MinWeeks 1: %q", reason)
	}
}

func TestDetectGaps(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	base := synth(t, paris, "2026-01-05", 21, time.Hour, office)

	// The Wednesday of week two is missing, the nights of week one, and
	// every 13th hour.
	s := base
	s.Values = slices.Clone(base.Values)
	for i := range s.Values {
		lt := s.Start.Add(time.Duration(i) * time.Hour).In(paris)
		if (i/168 == 1 && lt.Weekday() == time.Wednesday) || (i < 168 && lt.Hour() < 7) || i%13 == 0 {
			s.Values[i] = domain.Missing
		}
	}
	w, reason, ok := Detect(s, paris, Options{})
	if !ok || w.Schedule != officeWindow || w.ActiveHoursOutside != 0 {
		t.Fatalf("%+v, %q, %v", w.Schedule, reason, ok)
	}
	active, _ := recount(t, s, paris, Options{}, w.Schedule)
	if w.ActiveHours != active || active >= 135-9 {
		t.Errorf("active %d, recount %d; missing hours must not count", w.ActiveHours, active)
	}
	if want := float64(s.Present()) / 168; w.ObservedWeeks != want {
		t.Errorf("ObservedWeeks %v, want %v", w.ObservedWeeks, want)
	}

	// A VM stopped every weekend has no data then; four weeks of
	// weekdays are 2.9 observed weeks.
	s.Values = slices.Clone(base.Values)
	s = synth(t, paris, "2026-01-05", 28, time.Hour, func(lt time.Time, i int) float32 {
		if !weekdayOf(lt) {
			return domain.Missing
		}
		return office(lt, i)
	})
	w, reason, ok = Detect(s, paris, Options{})
	if !ok || w.Schedule != officeWindow || w.Profile[time.Saturday] != [24]float64{} {
		t.Errorf("weekends missing: %+v, %q, %v", w.Schedule, reason, ok)
	}

	// All missing.
	s.Values = make([]float32, 21*24)
	for i := range s.Values {
		s.Values[i] = domain.Missing
	}
	if _, reason, ok := Detect(s, paris, Options{}); ok || !strings.Contains(reason, "0.0 weeks observed") {
		t.Errorf("all missing: %q, %v", reason, ok)
	}
}

func TestDetectFineSteps(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	// Five-minute points, busy 09:00–17:40, every 7th point missing.
	s := synth(t, paris, "2026-01-05", 21, 5*time.Minute, func(lt time.Time, i int) float32 {
		switch {
		case i%7 == 0:
			return domain.Missing
		case weekdayOf(lt) && lt.Hour() >= 9 && (lt.Hour() < 17 || lt.Hour() == 17 && lt.Minute() < 40):
			return 60
		}
		return 2
	})
	w, reason, ok := Detect(s, paris, Options{})
	if !ok || w.Schedule != officeWindow || w.ActiveHours != 135 || w.ObservedWeeks != 3 {
		t.Fatalf("5 min: %+v, %d active, %v weeks, %q, %v", w.Schedule, w.ActiveHours, w.ObservedWeeks, reason, ok)
	}
	if active, outside := recount(t, s, paris, Options{}, w.Schedule); active != w.ActiveHours || outside != w.ActiveHoursOutside {
		t.Errorf("recount %d, %d; Detect %d, %d", active, outside, w.ActiveHours, w.ActiveHoursOutside)
	}

	// Half-hour points in a zone half an hour off UTC: the points fall on
	// local :00 and :30 and are averaged to local clock hours.
	kolkata := mustLoad(t, "Asia/Kolkata")
	s = synth(t, kolkata, "2026-01-05", 21, 30*time.Minute, func(lt time.Time, i int) float32 {
		return office(lt, i/2)
	})
	if s.Start.Minute() != 30 {
		t.Fatalf("fixture starts at %v", s.Start)
	}
	w, reason, ok = Detect(s, kolkata, Options{})
	want := officeWindow
	want.TimeZone = "Asia/Kolkata"
	if !ok || w.Schedule != want || w.ActiveHours != 135 {
		t.Errorf("30 min in Kolkata: %+v, %d active, %q, %v", w.Schedule, w.ActiveHours, reason, ok)
	}
}

func TestDetectRefusesBadInput(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	ok6h := synth(t, paris, "2026-01-05", 21, 6*time.Hour, func(time.Time, int) float32 { return 50 })
	memory := synth(t, paris, "2026-01-05", 21, time.Hour, office)
	memory.Metric = domain.MetricMemory
	zero := synth(t, paris, "2026-01-05", 21, time.Hour, office)
	zero.Step = 0
	hourly := synth(t, paris, "2026-01-05", 21, time.Hour, office)
	tests := []struct {
		name string
		s    domain.Series
		loc  *time.Location
		opt  Options
		want string
	}{
		{"6-hour step", ok6h, paris, Options{}, "6h0m0s is coarser than an hour"},
		{"no step", zero, paris, Options{}, "step 0s is not positive"},
		{"memory", memory, paris, Options{}, "metric memory_percent"},
		{"coverage", hourly, paris, Options{Coverage: 1.5}, "Coverage 1.5"},
		{"negative threshold", hourly, paris, Options{ActivePercent: -1}, "ActivePercent -1"},
		{"savings", hourly, paris, Options{MinSavingsShare: 1}, "MinSavingsShare 1"},
		{"margin", hourly, paris, Options{MarginHours: 30}, "MarginHours 30"},
		{"fixed zone", hourly, time.FixedZone("CET-ish", 3600), Options{}, `"CET-ish"`},
	}
	for _, tt := range tests {
		w, reason, ok := Detect(tt.s, tt.loc, tt.opt)
		if ok || !strings.Contains(reason, tt.want) || w.Schedule != (domain.Schedule{}) {
			t.Errorf("%s: %+v, %q, %v; want refused naming %s", tt.name, w.Schedule, reason, ok, tt.want)
		}
	}
	// A nil location is UTC.
	w, reason, ok := Detect(hourly, nil, Options{})
	if !ok || w.Schedule.TimeZone != "UTC" {
		t.Errorf("nil location: %+v, %q, %v", w.Schedule, reason, ok)
	}
}

func TestDetectNoise(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	rng := rand.New(rand.NewPCG(7, 11))

	// Nearly idle: noise up to 4.9%, below ActivePercent, never active.
	idle := synth(t, paris, "2026-01-05", 21, time.Hour, func(time.Time, int) float32 { return 4.9 * rng.Float32() })
	w, reason, ok := Detect(idle, paris, Options{})
	if ok || w.ActiveHours != 0 || !strings.Contains(reason, "idle") {
		t.Errorf("idle: %d active, %q, %v", w.ActiveHours, reason, ok)
	}

	// Office hours over night noise below the thresholds.
	s := synth(t, paris, "2026-01-05", 21, time.Hour, func(lt time.Time, i int) float32 {
		if v := office(lt, i); v > 30 {
			return v
		}
		return 4.9 * rng.Float32()
	})
	if w, reason, ok := Detect(s, paris, Options{}); !ok || w.Schedule != officeWindow {
		t.Errorf("office with noise: %+v, %q, %v", w.Schedule, reason, ok)
	}

	// Nights at 8% are above ActivePercent but below a quarter of the
	// 80% days: idle by the relative threshold, busy without it.
	s = synth(t, paris, "2026-01-05", 21, time.Hour, func(lt time.Time, i int) float32 {
		if office(lt, i) > 30 {
			return 80
		}
		return 7 + 2*rng.Float32()
	})
	if w, reason, ok := Detect(s, paris, Options{}); !ok || w.Schedule != officeWindow {
		t.Errorf("8%% nights: %+v, %q, %v", w.Schedule, reason, ok)
	}
	if _, reason, ok := Detect(s, paris, Options{RelativeToPeak: 0.05}); ok || !strings.Contains(reason, "around the clock") {
		t.Errorf("8%% nights, relative threshold 4%%: %q, %v", reason, ok)
	}

	// A rare busy hour outside office hours fits within the 2% the
	// window may leave out, and is counted.
	s = synth(t, paris, "2026-01-05", 21, time.Hour, office)
	s.Values[2*24+22] = 70 // Wednesday 22:00 of week one
	w, reason, ok = Detect(s, paris, Options{})
	if !ok || w.Schedule != officeWindow || w.ActiveHoursOutside != 1 || w.ActiveHours != 136 {
		t.Errorf("one late hour: %+v, outside %d of %d, %q, %v", w.Schedule, w.ActiveHoursOutside, w.ActiveHours, reason, ok)
	}
	// With full coverage the window must reach it.
	w, _, ok = Detect(s, paris, Options{Coverage: 1})
	if !ok || w.ActiveHoursOutside != 0 || w.Schedule.Stop != "23:59" {
		t.Errorf("full coverage: %+v, outside %d, %v", w.Schedule, w.ActiveHoursOutside, ok)
	}
}

// TestDetectProperties runs random weekly patterns and checks, against an
// independent recount with Schedule.Running, that ActiveHours and
// ActiveHoursOutside are exact and that a reported window holds at least
// Coverage of the active hours and saves at least MinSavingsShare.
func TestDetectProperties(t *testing.T) {
	zones := []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "Asia/Tokyo"}
	rng := rand.New(rand.NewPCG(2026, 5))
	iterations := 120
	if testing.Short() {
		iterations = 30
	}
	oks := 0
	for it := range iterations {
		loc := mustLoad(t, zones[rng.IntN(len(zones))])
		first := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		step := []time.Duration{time.Hour, time.Hour, 30 * time.Minute, 15 * time.Minute}[rng.IntN(4)]
		days := 10 + rng.IntN(25)
		var on [7]bool
		for d := range on {
			on[d] = rng.IntN(3) > 0
		}
		from := rng.IntN(23)
		to := from + 1 + rng.IntN(24-from)
		pBusy, pNoise, pMissing := 0.4+0.6*rng.Float64(), 0.03*rng.Float64(), 0.1*rng.Float64()
		s := synth(t, loc, first, days, step, func(lt time.Time, _ int) float32 {
			switch {
			case rng.Float64() < pMissing:
				return domain.Missing
			case on[lt.Weekday()] && lt.Hour() >= from && lt.Hour() < to && rng.Float64() < pBusy,
				rng.Float64() < pNoise:
				return float32(15 + 80*rng.Float64())
			}
			return float32(4 * rng.Float64())
		})
		opt := Options{MarginHours: rng.IntN(4) - 1}
		if rng.IntN(2) == 0 {
			opt.Coverage = 0.8 + 0.2*rng.Float64()
		}
		if rng.IntN(2) == 0 {
			opt.MinSavingsShare = 0.05 + 0.5*rng.Float64()
		}
		o, _ := opt.withDefaults()

		w, reason, ok := Detect(s, loc, opt)
		active, outside := recount(t, s, loc, opt, w.Schedule)
		if w.ObservedWeeks >= o.MinWeeks && w.ActiveHours != active {
			t.Fatalf("#%d: ActiveHours %d, recount %d", it, w.ActiveHours, active)
		}
		if w.Schedule.Days != "" && w.ActiveHoursOutside != outside {
			t.Fatalf("#%d: %+v: ActiveHoursOutside %d, recount with Running %d", it, w.Schedule, w.ActiveHoursOutside, outside)
		}
		if !ok {
			if reason == "" {
				t.Fatalf("#%d: refused without a reason", it)
			}
			continue
		}
		oks++
		if err := w.Schedule.Validate(); err != nil {
			t.Fatalf("#%d: %v", it, err)
		}
		if cov := float64(active-outside) / float64(active); cov < o.Coverage-1e-12 {
			t.Fatalf("#%d: %+v holds %.4f of the active hours, want %.4f", it, w.Schedule, cov, o.Coverage)
		}
		if w.OffShare < o.MinSavingsShare || math.Abs(w.OffShare-(1-w.Schedule.RunningFraction())) > 1e-12 {
			t.Fatalf("#%d: OffShare %v, RunningFraction %v, MinSavingsShare %v", it, w.OffShare, w.Schedule.RunningFraction(), o.MinSavingsShare)
		}
	}
	t.Logf("%d of %d gave a window", oks, iterations)
	if oks < iterations/4 {
		t.Errorf("only %d of %d random patterns gave a window; the test exercises too little", oks, iterations)
	}
}

// TestFormatDays checks every set of days against Schedule.Running.
func TestFormatDays(t *testing.T) {
	examples := map[[7]bool]string{
		{false, true, true, true, true, true, false}:     "Mon-Fri",
		{false, true, false, true, false, true, false}:   "Mon,Wed,Fri",
		{true, false, false, false, false, false, true}:  "Sat-Sun",
		{true, true, false, false, false, true, true}:    "Fri-Mon",
		{true, true, true, true, true, true, true}:       "Mon-Sun",
		{true, false, false, false, false, false, false}: "Sun",
		{true, true, false, true, false, false, false}:   "Sun-Mon,Wed",
		{true, false, false, true, false, false, false}:  "Wed,Sun",
	}
	for on, want := range examples {
		if got := formatDays(on); got != want {
			t.Errorf("formatDays(%v) = %q, want %q", on, got, want)
		}
	}
	monday := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	for mask := 1; mask < 128; mask++ {
		var on [7]bool
		for d := range on {
			on[d] = mask&(1<<d) != 0
		}
		s := domain.Schedule{TimeZone: "UTC", Days: formatDays(on), Start: "00:00", Stop: "23:59"}
		if err := s.Validate(); err != nil {
			t.Fatalf("%v: %v", on, err)
		}
		for i := range 7 {
			at := monday.AddDate(0, 0, i)
			if s.Running(at) != on[at.Weekday()] {
				t.Fatalf("%v as %q: Running on %s = %v", on, s.Days, at.Weekday(), s.Running(at))
			}
		}
	}
}

func BenchmarkDetect(b *testing.B) {
	paris := mustLoad(b, "Europe/Paris")
	s := synth(b, paris, "2026-03-16", 14, time.Hour, office)
	if _, reason, ok := Detect(s, paris, Options{}); !ok {
		b.Fatal(reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		Detect(s, paris, Options{})
	}
}
