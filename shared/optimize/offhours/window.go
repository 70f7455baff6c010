package offhours

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Options tunes Detect. Zero values take the defaults in brackets.
type Options struct {
	// ActivePercent: an hour is active when its CPU average is at least
	// this (5) ...
	ActivePercent float64
	// RelativeToPeak: ... or at least this share of the p95 of the
	// series' hourly CPU averages (0.25), whichever threshold is higher.
	// This keeps a busy-all-the-time VM from looking idle and a nearly
	// idle VM from looking busy.
	RelativeToPeak float64
	// MinWeeks is the number of observed weeks needed (2): the observed
	// hours divided by 168.
	MinWeeks float64
	// Coverage is the share of the active hours the window must contain
	// (0.98), in (0, 1].
	Coverage float64
	// MarginHours is added before the first and after the last active
	// hour of a day (1). Zero takes the default; a negative value means
	// no margin.
	MarginHours int
	// MinSavingsShare is the share of the week the window must keep the
	// VM off (0.25), or there is no useful schedule.
	MinSavingsShare float64
}

// Defaults of Options.
const (
	defaultActivePercent   = 5
	defaultRelativeToPeak  = 0.25
	defaultMinWeeks        = 2
	defaultCoverage        = 0.98
	defaultMarginHours     = 1
	defaultMinSavingsShare = 0.25
)

// withDefaults fills zero fields and checks the others.
func (o Options) withDefaults() (Options, error) {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.ActivePercent, defaultActivePercent)
	def(&o.RelativeToPeak, defaultRelativeToPeak)
	def(&o.MinWeeks, defaultMinWeeks)
	def(&o.Coverage, defaultCoverage)
	def(&o.MinSavingsShare, defaultMinSavingsShare)
	switch {
	case o.MarginHours == 0:
		o.MarginHours = defaultMarginHours
	case o.MarginHours < 0:
		o.MarginHours = 0
	}
	bad := func(name string, v float64, want string) error {
		return fmt.Errorf("%w: options: %s %v is not %s", domain.ErrInvalid, name, v, want)
	}
	switch {
	case !(o.ActivePercent > 0 && o.ActivePercent <= 100):
		return o, bad("ActivePercent", o.ActivePercent, "in (0, 100]")
	case !(o.RelativeToPeak > 0 && o.RelativeToPeak <= 1):
		return o, bad("RelativeToPeak", o.RelativeToPeak, "in (0, 1]")
	case !(o.MinWeeks > 0 && o.MinWeeks <= 520):
		return o, bad("MinWeeks", o.MinWeeks, "in (0, 520]")
	case !(o.Coverage > 0 && o.Coverage <= 1):
		return o, bad("Coverage", o.Coverage, "in (0, 1]")
	case !(o.MinSavingsShare > 0 && o.MinSavingsShare < 1):
		return o, bad("MinSavingsShare", o.MinSavingsShare, "in (0, 1)")
	case o.MarginHours > 23:
		return o, bad("MarginHours", float64(o.MarginHours), "at most 23")
	}
	return o, nil
}

// Window is a detected weekly running window and its evidence.
type Window struct {
	// Schedule holds the chosen Days and Start/Stop in whole local hours
	// ("HH:00"), with TimeZone = loc.String(). A window that runs to the
	// end of the day stops at "23:59", because a Schedule's Stop must be
	// an "HH:MM" after Start; the VM is then off for the last minute of
	// each running day.
	Schedule domain.Schedule
	// Profile is the share of the observations of each local (weekday,
	// hour) that were active — for an hourly series, the share of the
	// observed weeks in which that hour was active; index
	// [time.Weekday][hour].
	Profile [7][24]float64
	// ObservedWeeks is the number of observed (not missing) hours divided
	// by 168.
	ObservedWeeks float64
	// ActiveHoursOutside counts the active hours observed outside the
	// window: the cost of the schedule in lost availability.
	ActiveHoursOutside int
	// ActiveHours counts all active hours observed.
	ActiveHours int
	// OffShare is the share of the week the window keeps the VM off.
	OffShare float64
}

// Detect finds the smallest weekly window (one set of days, one
// Start–Stop per day, Stop after Start, same hours every chosen day) that
// contains at least Coverage of the series' active hours, in location
// loc (nil means UTC). It reports false with a reason when the data are
// too few, the VM is idle or active around the clock, no window saves at
// least MinSavingsShare, or the input is unusable (an option out of
// range, a step that is not positive or is coarser than an hour, a
// metric other than CPU, a location that cannot be loaded by name); on
// success the reason is empty.
//
// s is a CPU series (Metric cpu_percent, or unset). Points are bucketed
// by the local clock hour of loc their start falls in, so a daylight
// saving change moves the UTC hours of the window, not its local hours.
// A step below an hour is averaged to clock hours (an hour with no
// observed point is missing); a step above an hour is too coarse and is
// refused. Missing points are neither active nor idle.
//
// The search is exact on the hourly buckets: for every Start–Stop pair it
// takes the fewest days (those with the most active hours, ties in
// Monday-to-Sunday order) that reach Coverage, and keeps the window
// smallest after margins, then the one with the most active hours inside,
// then the earliest. The margins are added to that window, clamped to the
// day. Coverage is then checked again by counting every active hour
// against the returned Schedule at the start of its local clock hour,
// which is how Schedule.Running would judge it, and ActiveHoursOutside is
// that count. When ok is false, Window still holds the evidence gathered
// before the refusal: Profile, ObservedWeeks and ActiveHours once the
// series was read, and Schedule, ActiveHoursOutside and OffShare when a
// window was found but is all week or saves too little.
func Detect(s domain.Series, loc *time.Location, opt Options) (Window, string, bool) {
	var w Window
	o, err := opt.withDefaults()
	if err != nil {
		return w, err.Error(), false
	}
	if loc == nil {
		loc = time.UTC
	}
	what := "series"
	if s.ResourceID != "" {
		what += " " + s.ResourceID
	}
	if s.Metric != "" && s.Metric != domain.MetricCPU {
		return w, fmt.Sprintf("%s: metric %s is not %s", what, s.Metric, domain.MetricCPU), false
	}
	switch {
	case s.Step <= 0:
		return w, fmt.Sprintf("%s: step %v is not positive", what, s.Step), false
	case s.Step > time.Hour:
		return w, fmt.Sprintf("%s: step %v is coarser than an hour; an hourly or finer series is needed to find a running window", what, s.Step), false
	}
	if !loadable(loc.String()) {
		return w, fmt.Sprintf("%s: time zone %q cannot be loaded by name, so no schedule can use it", what, loc.String()), false
	}

	hours := toHours(s, loc)
	threshold := o.ActivePercent
	if p := p95(hours); o.RelativeToPeak*p > threshold {
		threshold = o.RelativeToPeak * p
	}
	var obs, act [7][24]int
	observed := 0
	for _, h := range hours {
		if !h.ok {
			continue
		}
		observed++
		obs[h.wd][h.hour]++
		if float64(h.v) >= threshold {
			act[h.wd][h.hour]++
			w.ActiveHours++
		}
	}
	for d := range 7 {
		for hr := range 24 {
			if obs[d][hr] > 0 {
				w.Profile[d][hr] = float64(act[d][hr]) / float64(obs[d][hr])
			}
		}
	}
	w.ObservedWeeks = float64(observed) / 168
	if w.ObservedWeeks < o.MinWeeks {
		return w, fmt.Sprintf("%s: %.1f weeks observed (%d hours), %.1f needed", what, w.ObservedWeeks, observed, o.MinWeeks), false
	}
	if w.ActiveHours == 0 {
		return w, fmt.Sprintf("%s: no active hour (CPU never reached %.1f%%): the VM looks idle, which calls for a stop, not a schedule", what, threshold), false
	}

	need := max(1, int(math.Ceil(o.Coverage*float64(w.ActiveHours)-1e-9)))
	days, start, stop := search(&act, need, o.MarginHours)
	start = max(0, start-o.MarginHours)
	stop = min(24, stop+o.MarginHours)
	w.Schedule = domain.Schedule{TimeZone: loc.String(), Days: formatDays(days), Start: fmt.Sprintf("%02d:00", start), Stop: clockHour(stop)}

	// The exact check, on the Schedule as written.
	on, startMin, stopMin, err := parseSchedule(w.Schedule)
	if err != nil {
		return w, fmt.Sprintf("%s: window %s is malformed: %v", what, w.Schedule, err), false
	}
	inside := 0
	for _, h := range hours {
		if h.ok && float64(h.v) >= threshold {
			if m := int(h.hour) * 60; on[h.wd] && m >= startMin && m < stopMin {
				inside++
			}
		}
	}
	w.ActiveHoursOutside = w.ActiveHours - inside
	chosen := 0
	for _, b := range on {
		if b {
			chosen++
		}
	}
	w.OffShare = 1 - float64(chosen*(stopMin-startMin))/float64(7*24*60)
	if inside < need {
		return w, fmt.Sprintf("%s: window %s holds %d of %d active hours, less than %.1f%%", what, w.Schedule, inside, w.ActiveHours, 100*o.Coverage), false
	}
	if chosen == 7 && start == 0 && stop == 24 {
		return w, fmt.Sprintf("%s: active around the clock: holding %.1f%% of the %d active hours takes every day, all day", what, 100*o.Coverage, w.ActiveHours), false
	}
	if w.OffShare < o.MinSavingsShare {
		return w, fmt.Sprintf("%s: the smallest window, %s, keeps the VM off %.1f%% of the week, less than %.1f%%", what, w.Schedule, 100*w.OffShare, 100*o.MinSavingsShare), false
	}
	return w, "", true
}

// hourPoint is one local clock hour of a series.
type hourPoint struct {
	v    float32 // mean of the observed points of the hour
	wd   uint8   // time.Weekday
	hour uint8   // 0..23, local
	ok   bool    // at least one point was observed
}

// toHours groups the points of s by the local clock hour of loc their
// start falls in (two hours with the same local clock time on the day
// daylight saving time ends stay apart) and averages the observed ones.
func toHours(s domain.Series, loc *time.Location) []hourPoint {
	out := make([]hourPoint, 0, int(time.Duration(len(s.Values))*s.Step/time.Hour)+2)
	var z zoneCache
	z.loc = loc
	curKey := int64(math.MinInt64)
	var sum float64
	n := 0
	flush := func() {
		if len(out) == 0 {
			return
		}
		if n > 0 {
			out[len(out)-1].v = float32(sum / float64(n))
			out[len(out)-1].ok = true
		}
	}
	for i, v := range s.Values {
		t := s.Start.Add(time.Duration(i) * s.Step)
		sec := t.Unix()
		off := z.offset(t, sec)
		hourIdx := floorDiv64(sec+off, 3600)
		if key := hourIdx*3600 - off; key != curKey {
			flush()
			curKey, sum, n = key, 0, 0
			day := floorDiv64(hourIdx, 24)
			out = append(out, hourPoint{
				wd:   uint8(weekday(int(day))),
				hour: uint8(hourIdx - day*24),
			})
		}
		if !domain.IsMissing(v) {
			sum += float64(v)
			n++
		}
	}
	flush()
	return out
}

// zoneCache remembers the offset of loc over the zone period around the
// last instant asked, so most points need no zone lookup.
type zoneCache struct {
	loc        *time.Location
	from, to   int64 // [from, to) in Unix seconds
	off        int64
	configured bool
}

func (z *zoneCache) offset(t time.Time, sec int64) int64 {
	if z.configured && sec >= z.from && sec < z.to {
		return z.off
	}
	lt := t.In(z.loc)
	_, off := lt.Zone()
	start, end := lt.ZoneBounds()
	z.from, z.to = math.MinInt64, math.MaxInt64
	if !start.IsZero() {
		z.from = start.Unix()
	}
	if !end.IsZero() {
		z.to = end.Unix()
	}
	z.off, z.configured = int64(off), true
	return z.off
}

// p95 returns the nearest-rank 95th percentile of the observed hourly
// averages, or 0 when there are none.
func p95(hours []hourPoint) float64 {
	vals := make([]float64, 0, len(hours))
	for _, h := range hours {
		if h.ok {
			vals = append(vals, float64(h.v))
		}
	}
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	return domain.Percentile(vals, 95)
}

// search returns the smallest window (after margins) holding at least
// need of the active hours counted in act: the days (by time.Weekday) and
// the core hours [start, stop) before margins. need is at most the total
// of act, so the whole week always qualifies.
func search(act *[7][24]int, need, margin int) (days [7]bool, start, stop int) {
	var pre [7][25]int
	for d := range 7 {
		for h := range 24 {
			pre[d][h+1] = pre[d][h] + act[d][h]
		}
	}
	bestSize, bestCover := math.MaxInt, -1
	for a := range 24 {
		for b := a + 1; b <= 24; b++ {
			// Hours in [a, b) per day, Monday first.
			var c [7]int
			total := 0
			for j := range 7 {
				c[j] = pre[(j+1)%7][b] - pre[(j+1)%7][a]
				total += c[j]
			}
			if total < need {
				continue
			}
			// Days by count, most first; ties keep Monday-first order.
			order := [7]int{0, 1, 2, 3, 4, 5, 6}
			for i := 1; i < 7; i++ {
				for k := i; k > 0 && c[order[k]] > c[order[k-1]]; k-- {
					order[k], order[k-1] = order[k-1], order[k]
				}
			}
			cover, k := 0, 0
			for cover < need {
				cover += c[order[k]]
				k++
			}
			size := k * (min(24, b+margin) - max(0, a-margin))
			if size < bestSize || (size == bestSize && cover > bestCover) {
				bestSize, bestCover, start, stop = size, cover, a, b
				days = [7]bool{}
				for _, j := range order[:k] {
					days[(j+1)%7] = true
				}
			}
		}
	}
	return days, start, stop
}

// formatDays writes a set of weekdays as Schedule.Days: runs of
// consecutive days as ranges, "Mon-Fri", "Sat-Sun", joined by commas,
// "Mon,Wed,Fri", in Monday-to-Sunday order; a run through Sunday into
// Monday wraps around the week and comes first: "Fri-Mon,Wed".
func formatDays(on [7]bool) string {
	names := [7]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	in := func(j int) bool { return on[((j%7+7)%7+1)%7] } // j: 0 = Monday
	if on == [7]bool{true, true, true, true, true, true, true} {
		return "Mon-Sun"
	}
	first := 0
	for in(first) && in(first-1) {
		first--
	}
	var parts []string
	for j := first; j < first+7; j++ {
		if !in(j) || in(j-1) {
			continue
		}
		end := j
		for in(end + 1) {
			end++
		}
		if end == j {
			parts = append(parts, names[(j+7)%7])
		} else {
			parts = append(parts, names[(j+7)%7]+"-"+names[(end+7)%7])
		}
	}
	return strings.Join(parts, ",")
}

// clockHour writes hour h as a Schedule time; 24 is "23:59".
func clockHour(h int) string {
	if h >= 24 {
		return "23:59"
	}
	return fmt.Sprintf("%02d:00", h)
}

// parseSchedule reads back the days and the minutes of the day of a
// Schedule Detect wrote, with the meaning Schedule.Running gives them.
func parseSchedule(s domain.Schedule) (on [7]bool, start, stop int, err error) {
	idx := map[string]time.Weekday{"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday,
		"Wed": time.Wednesday, "Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday}
	for part := range strings.SplitSeq(s.Days, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := idx[a]
		to, ok2 := from, true
		if isRange {
			to, ok2 = idx[b]
		}
		if !ok1 || !ok2 {
			return on, 0, 0, fmt.Errorf("days %q: %q is not a day or a range", s.Days, part)
		}
		for d := from; ; d = (d + 1) % 7 {
			on[d] = true
			if d == to {
				break
			}
		}
	}
	clock := func(v string) (int, error) {
		t, err := time.Parse("15:04", v)
		if err != nil {
			return 0, fmt.Errorf("time of day %q is not HH:MM", v)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if start, err = clock(s.Start); err != nil {
		return on, 0, 0, err
	}
	if stop, err = clock(s.Stop); err != nil {
		return on, 0, 0, err
	}
	if stop <= start {
		return on, 0, 0, fmt.Errorf("stop %s is not after start %s", s.Stop, s.Start)
	}
	return on, start, stop, nil
}

// loadable reports whether time.LoadLocation accepts name, as a Schedule
// needs; the answers are cached because loading a zone reads a file.
func loadable(name string) bool {
	if v, ok := loadableZones.Load(name); ok {
		return v.(bool)
	}
	_, err := time.LoadLocation(name)
	loadableZones.Store(name, err == nil)
	return err == nil
}

var loadableZones sync.Map // zone name → bool

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// weekday returns the day of the week of day d counted from 1970-01-01,
// a Thursday.
func weekday(d int) time.Weekday {
	return time.Weekday(((d % 7) + 7 + int(time.Thursday)) % 7)
}
