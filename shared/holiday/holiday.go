package holiday

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrInvalid is wrapped by the errors of an unknown calendar or a year
// out of range.
var ErrInvalid = errors.New("invalid holiday calendar")

// The years Holidays accepts.
const (
	firstYear = 1970
	lastYear  = 2200
)

// Date is a civil date: a day of the calendar with neither a time of day
// nor a time zone. A holiday is a local date; Date.In gives the instant
// it starts in a time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String formats d as "2006-01-02".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return weekday(dayNumber(d)) }

// In returns the instant d begins (00:00 local time) in loc; a nil loc
// means UTC.
func (d Date) In(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Holiday is one public holiday of a calendar, or the day off given in
// its place when it falls on a weekend (its Name then ends with a suffix
// such as "(observed)" or "(substitute day)").
type Holiday struct {
	Date Date
	Name string
}

// Calendars lists the supported calendar codes (ISO 3166-1 alpha-2, upper
// case), sorted.
func Calendars() []string {
	out := make([]string, 0, len(calendars))
	for code := range calendars {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

// Holidays returns the public holidays of calendar code in year, sorted by
// date (and by name on the same date). The code is matched without regard
// to case. An unknown code or a year outside 1970..2200 (for JP:
// 1970..2150, the range of its equinox formula) is an error naming it.
// The returned slice is the caller's.
func Holidays(code string, year int) ([]Holiday, error) {
	hs, err := holidays(code, year)
	if err != nil {
		return nil, err
	}
	return slices.Clone(hs), nil
}

// On reports whether the local calendar date of t (t already in the right
// location: the date is taken in t.Location()) is a holiday of code, and
// its name; several holidays on one date are joined with ", ". An unknown
// code or an unsupported year is never a holiday.
func On(code string, t time.Time) (string, bool) {
	y, m, d := t.Date()
	hs, err := holidays(code, y)
	if err != nil {
		return "", false
	}
	want := Date{y, m, d}
	var names []string
	for _, h := range hs {
		if h.Date == want {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return "", false
	}
	return strings.Join(names, ", "), true
}

// cacheKey names one computed year of one calendar.
type cacheKey struct {
	code string
	year int
}

// cache holds computed years; there are at most
// len(calendars) × (lastYear-firstYear+1) entries.
var cache sync.Map // cacheKey → []Holiday

func holidays(code string, year int) ([]Holiday, error) {
	norm := strings.ToUpper(strings.TrimSpace(code))
	c, ok := calendars[norm]
	if !ok {
		return nil, fmt.Errorf("%w: holiday calendar %q is not supported (supported: %s)",
			ErrInvalid, code, strings.Join(Calendars(), ", "))
	}
	first, last := firstYear, lastYear
	if c.last != 0 {
		last = c.last
	}
	if year < first || year > last {
		return nil, fmt.Errorf("%w: holiday calendar %s: year %d is outside %d..%d",
			ErrInvalid, norm, year, first, last)
	}
	key := cacheKey{norm, year}
	if v, ok := cache.Load(key); ok {
		return v.([]Holiday), nil
	}
	hs := c.compute(year)
	cache.Store(key, hs)
	return hs, nil
}

// entry is a holiday while a calendar is computed.
type entry struct {
	day  int // days since 1970-01-01
	name string
	move bool // gets a substitute day off by the calendar's rule when it falls on a weekend
}

// calendar is the rule set of one country.
type calendar struct {
	last int // last supported year when earlier than lastYear
	// rules returns the holidays of year y on their own dates.
	rules func(y int) []entry
	// observe returns the substitute days off for base, the holidays of
	// three consecutive years sorted by day; nil when there are none.
	observe func(base []entry) []entry
}

// compute returns the holidays of year y: the rules of the year before
// and after take part so that a substitute day may cross a year's end
// (the US observe New Year's Day on Friday 31 December when 1 January is
// a Saturday).
func (c calendar) compute(y int) []Holiday {
	var base []entry
	for yy := y - 1; yy <= y+1; yy++ {
		base = append(base, c.rules(yy)...)
	}
	slices.SortStableFunc(base, func(a, b entry) int { return a.day - b.day })
	all := base
	if c.observe != nil {
		all = append(slices.Clip(base), c.observe(base)...)
	}
	var out []Holiday
	for _, e := range all {
		if d := civil(e.day); d.Year == y {
			out = append(out, Holiday{Date: d, Name: e.name})
		}
	}
	slices.SortStableFunc(out, func(a, b Holiday) int {
		if c := dayNumber(a.Date) - dayNumber(b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

var calendars = map[string]calendar{
	"AU": {rules: australia, observe: nextWorkday(" (observed)")},
	"BE": {rules: belgium},
	"BR": {rules: brazil},
	"CA": {rules: canada, observe: nextWorkday(" (observed)")},
	"DE": {rules: germany},
	"ES": {rules: spain},
	"FR": {rules: france},
	"GB": {rules: britain, observe: nextWorkday(" (substitute day)")},
	"IE": {rules: ireland, observe: nextWorkday(" (observed)")},
	"IN": {rules: india},
	"IT": {rules: italy},
	"JP": {rules: japan, observe: japanObserve, last: 2150},
	"NL": {rules: netherlands},
	"PL": {rules: poland},
	"US": {rules: unitedStates, observe: usObserve},
}

// ---- substitute-day rules

// usObserve is the US federal rule (5 U.S.C. 6103(b), Executive Order
// 11582): a holiday on a Saturday is observed the Friday before, one on a
// Sunday the Monday after.
func usObserve(base []entry) []entry {
	var out []entry
	for _, e := range base {
		if !e.move {
			continue
		}
		switch weekday(e.day) {
		case time.Saturday:
			out = append(out, entry{day: e.day - 1, name: e.name + " (observed)"})
		case time.Sunday:
			out = append(out, entry{day: e.day + 1, name: e.name + " (observed)"})
		}
	}
	return out
}

// nextWorkday is the substitute rule of the United Kingdom, Ireland,
// Canada and Australia: a holiday that falls on a Saturday or Sunday gives
// a day off on the next weekday that is not already a holiday or a
// substitute day, taken in date order (so Christmas on a Saturday and
// Boxing Day on a Sunday give Monday 27 and Tuesday 28 December).
func nextWorkday(suffix string) func([]entry) []entry {
	return func(base []entry) []entry {
		taken := make(map[int]bool, len(base))
		for _, e := range base {
			taken[e.day] = true
		}
		var out []entry
		for _, e := range base {
			if !e.move || !weekend(e.day) {
				continue
			}
			d := e.day + 1
			for weekend(d) || taken[d] {
				d++
			}
			taken[d] = true
			out = append(out, entry{day: d, name: e.name + suffix})
		}
		return out
	}
}

// ---- the calendars

// unitedStates holds the federal holidays (5 U.S.C. 6103): the days off
// of federal employees, which most employers follow. Inauguration Day
// (Washington, D.C. area only) is left out.
func unitedStates(y int) []entry {
	es := []entry{fixed(y, 1, 1, "New Year's Day", true)}
	if y >= 1986 {
		es = append(es, nth(y, 1, time.Monday, 3, "Martin Luther King Jr. Day"))
	}
	if y >= 1971 { // Uniform Monday Holiday Act
		es = append(es,
			nth(y, 2, time.Monday, 3, "Washington's Birthday"),
			nth(y, 5, time.Monday, -1, "Memorial Day"),
			nth(y, 10, time.Monday, 2, "Columbus Day"))
	} else {
		es = append(es,
			fixed(y, 2, 22, "Washington's Birthday", true),
			fixed(y, 5, 30, "Memorial Day", true),
			fixed(y, 10, 12, "Columbus Day", true))
	}
	if y >= 2021 {
		es = append(es, fixed(y, 6, 19, "Juneteenth National Independence Day", true))
	}
	es = append(es,
		fixed(y, 7, 4, "Independence Day", true),
		nth(y, 9, time.Monday, 1, "Labor Day"))
	if y >= 1971 && y <= 1977 {
		es = append(es, nth(y, 10, time.Monday, 4, "Veterans Day"))
	} else {
		es = append(es, fixed(y, 11, 11, "Veterans Day", true))
	}
	return append(es,
		nth(y, 11, time.Thursday, 4, "Thanksgiving Day"),
		fixed(y, 12, 25, "Christmas Day", true))
}

// britain holds the bank holidays of England and Wales with their
// substitute days. Scotland and Northern Ireland have other bank holidays
// and are not covered.
func britain(y int) []entry {
	e := easter(y)
	var es []entry
	if y >= 1974 {
		es = append(es, fixed(y, 1, 1, "New Year's Day", true))
	}
	es = append(es,
		entry{day: e - 2, name: "Good Friday"},
		entry{day: e + 1, name: "Easter Monday"})
	if y >= 1978 {
		es = append(es, nth(y, 5, time.Monday, 1, "Early May bank holiday"))
	}
	return append(es,
		nth(y, 5, time.Monday, -1, "Spring bank holiday"),
		nth(y, 8, time.Monday, -1, "Summer bank holiday"),
		fixed(y, 12, 25, "Christmas Day", true),
		fixed(y, 12, 26, "Boxing Day", true))
}

// ireland holds the Irish public holidays. Good Friday is not a public
// holiday and is left out. When a public holiday falls on a weekend the
// law grants an equivalent day; in practice (banks, the public sector,
// most employers) it is the next weekday, which the calendar lists.
func ireland(y int) []entry {
	es := []entry{fixed(y, 1, 1, "New Year's Day", true)}
	if y >= 2023 {
		// The first Monday of February, or 1 February when it is a Friday.
		d := dayNumber(Date{y, time.February, 1})
		if weekday(d) != time.Friday {
			d = nth(y, 2, time.Monday, 1, "").day
		}
		es = append(es, entry{day: d, name: "St Brigid's Day"})
	}
	es = append(es,
		fixed(y, 3, 17, "St Patrick's Day", true),
		entry{day: easter(y) + 1, name: "Easter Monday"},
		nth(y, 5, time.Monday, 1, "May bank holiday"),
		nth(y, 6, time.Monday, 1, "June bank holiday"),
		nth(y, 8, time.Monday, 1, "August bank holiday"),
		nth(y, 10, time.Monday, -1, "October bank holiday"),
		fixed(y, 12, 25, "Christmas Day", true),
		fixed(y, 12, 26, "St Stephen's Day", true))
	return es
}

// germany holds the holidays observed in every German state. Holidays of
// some states only (Epiphany, Corpus Christi, Reformation Day, All
// Saints' Day and others) are left out, and so is the one-off nationwide
// Reformation Day of 2017. Before 1991 the calendar is that of the
// Federal Republic.
func germany(y int) []entry {
	e := easter(y)
	es := []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		{day: e - 2, name: "Good Friday"},
		{day: e + 1, name: "Easter Monday"},
		fixed(y, 5, 1, "Labour Day", false),
		{day: e + 39, name: "Ascension Day"},
		{day: e + 50, name: "Whit Monday"},
	}
	if y <= 1990 {
		es = append(es, fixed(y, 6, 17, "Day of German Unity (17 June)", false))
	}
	if y >= 1990 {
		es = append(es, fixed(y, 10, 3, "Day of German Unity", false))
	}
	if y <= 1994 {
		// Day of Repentance and Prayer: the Wednesday before 23 November.
		es = append(es, entry{day: onOrBefore(dayNumber(Date{y, 11, 22}), time.Wednesday), name: "Day of Repentance and Prayer"})
	}
	return append(es,
		fixed(y, 12, 25, "Christmas Day", false),
		fixed(y, 12, 26, "Second Day of Christmas", false))
}

// france holds the jours fériés of the Code du travail (art. L3133-1).
// Good Friday and St Stephen's Day (Alsace-Moselle only) are left out.
// Whit Monday is kept: it is a public holiday, though since 2005 some
// employers use it as the "journée de solidarité".
func france(y int) []entry {
	e := easter(y)
	es := []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		{day: e + 1, name: "Easter Monday"},
		fixed(y, 5, 1, "Labour Day", false),
	}
	if y >= 1982 {
		es = append(es, fixed(y, 5, 8, "Victory in Europe Day", false))
	}
	return append(es,
		entry{day: e + 39, name: "Ascension Day"},
		entry{day: e + 50, name: "Whit Monday"},
		fixed(y, 7, 14, "Bastille Day", false),
		fixed(y, 8, 15, "Assumption Day", false),
		fixed(y, 11, 1, "All Saints' Day", false),
		fixed(y, 11, 11, "Armistice Day", false),
		fixed(y, 12, 25, "Christmas Day", false))
}

// netherlands holds the Dutch holidays that are generally days off.
// Good Friday and Liberation Day (5 May; a day off for most employees
// only in lustrum years, by collective agreement) are left out, as are
// Easter Sunday and Whit Sunday.
func netherlands(y int) []entry {
	e := easter(y)
	es := []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		{day: e + 1, name: "Easter Monday"},
	}
	switch {
	case y >= 2014: // King's Day, 27 April; 26 April when the 27th is a Sunday
		d := dayNumber(Date{y, 4, 27})
		if weekday(d) == time.Sunday {
			d--
		}
		es = append(es, entry{day: d, name: "King's Day"})
	default: // Queen's Day, 30 April; moved off a Sunday
		d := dayNumber(Date{y, 4, 30})
		if weekday(d) == time.Sunday {
			if y >= 1980 {
				d-- // Saturday 29 April
			} else {
				d++ // Monday 1 May
			}
		}
		es = append(es, entry{day: d, name: "Queen's Day"})
	}
	return append(es,
		entry{day: e + 39, name: "Ascension Day"},
		entry{day: e + 50, name: "Whit Monday"},
		fixed(y, 12, 25, "Christmas Day", false),
		fixed(y, 12, 26, "Second Day of Christmas", false))
}

// belgium holds the ten Belgian public holidays. When one falls on a
// Sunday the employer sets a replacement day, which is not the same for
// everyone and so is not listed.
func belgium(y int) []entry {
	e := easter(y)
	return []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		{day: e + 1, name: "Easter Monday"},
		fixed(y, 5, 1, "Labour Day", false),
		{day: e + 39, name: "Ascension Day"},
		{day: e + 50, name: "Whit Monday"},
		fixed(y, 7, 21, "National Day", false),
		fixed(y, 8, 15, "Assumption Day", false),
		fixed(y, 11, 1, "All Saints' Day", false),
		fixed(y, 11, 11, "Armistice Day", false),
		fixed(y, 12, 25, "Christmas Day", false),
	}
}

// spain holds the national holidays of Spain. Maundy Thursday, Easter
// Monday, regional days and the Mondays that regions give in place of a
// holiday on a Sunday are left out.
func spain(y int) []entry {
	return []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		fixed(y, 1, 6, "Epiphany", false),
		{day: easter(y) - 2, name: "Good Friday"},
		fixed(y, 5, 1, "Labour Day", false),
		fixed(y, 8, 15, "Assumption Day", false),
		fixed(y, 10, 12, "National Day of Spain", false),
		fixed(y, 11, 1, "All Saints' Day", false),
		fixed(y, 12, 6, "Constitution Day", false),
		fixed(y, 12, 8, "Immaculate Conception", false),
		fixed(y, 12, 25, "Christmas Day", false),
	}
}

// italy holds the national holidays of Italy; local patron saints' days
// and Easter Sunday are left out. St Francis of Assisi (4 October) is a
// national holiday again from 2026.
func italy(y int) []entry {
	e := easter(y)
	es := []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		fixed(y, 1, 6, "Epiphany", false),
		{day: e + 1, name: "Easter Monday"},
		fixed(y, 4, 25, "Liberation Day", false),
		fixed(y, 5, 1, "Labour Day", false),
	}
	if y >= 2001 {
		es = append(es, fixed(y, 6, 2, "Republic Day", false))
	}
	es = append(es, fixed(y, 8, 15, "Assumption Day", false))
	if y >= 2026 {
		es = append(es, fixed(y, 10, 4, "St Francis of Assisi", false))
	}
	return append(es,
		fixed(y, 11, 1, "All Saints' Day", false),
		fixed(y, 12, 8, "Immaculate Conception", false),
		fixed(y, 12, 25, "Christmas Day", false),
		fixed(y, 12, 26, "St Stephen's Day", false))
}

// poland holds the statutory days off of Poland, except Easter Sunday and
// Whit Sunday. For a holiday on a Saturday the employer grants another
// day off of its choosing, which is not listed.
func poland(y int) []entry {
	e := easter(y)
	es := []entry{fixed(y, 1, 1, "New Year's Day", false)}
	if y >= 2011 {
		es = append(es, fixed(y, 1, 6, "Epiphany", false))
	}
	es = append(es,
		entry{day: e + 1, name: "Easter Monday"},
		fixed(y, 5, 1, "Labour Day", false))
	if y >= 1990 {
		es = append(es, fixed(y, 5, 3, "Constitution Day", false))
	}
	es = append(es, entry{day: e + 60, name: "Corpus Christi"})
	if y <= 1989 {
		es = append(es, fixed(y, 7, 22, "National Day of the Rebirth of Poland", false))
	}
	if y >= 1989 {
		es = append(es, fixed(y, 8, 15, "Assumption Day", false))
	}
	es = append(es, fixed(y, 11, 1, "All Saints' Day", false))
	if y >= 1989 {
		es = append(es, fixed(y, 11, 11, "Independence Day", false))
	}
	if y >= 2025 {
		es = append(es, fixed(y, 12, 24, "Christmas Eve", false))
	}
	return append(es,
		fixed(y, 12, 25, "Christmas Day", false),
		fixed(y, 12, 26, "Second Day of Christmas", false))
}

// canada holds the general holidays of the Canada Labour Code (federally
// regulated employers). Easter Monday and the Civic Holiday (days off in
// the federal public service and some provinces) and all provincial days
// are left out. A holiday on a weekend gives the next weekday off, as in
// the federal public service.
func canada(y int) []entry {
	es := []entry{
		fixed(y, 1, 1, "New Year's Day", true),
		{day: easter(y) - 2, name: "Good Friday"},
		// Victoria Day: the Monday before 25 May.
		{day: onOrBefore(dayNumber(Date{y, 5, 24}), time.Monday), name: "Victoria Day"},
		fixed(y, 7, 1, "Canada Day", true),
		nth(y, 9, time.Monday, 1, "Labour Day"),
	}
	if y >= 2021 {
		es = append(es, fixed(y, 9, 30, "National Day for Truth and Reconciliation", true))
	}
	return append(es,
		nth(y, 10, time.Monday, 2, "Thanksgiving Day"),
		fixed(y, 11, 11, "Remembrance Day", true),
		fixed(y, 12, 25, "Christmas Day", true),
		fixed(y, 12, 26, "Boxing Day", true))
}

// australia holds the holidays observed in every Australian state and
// territory. Easter Saturday and Easter Sunday (not in every state), the
// King's Birthday and Labour Day (dates differ by state) are left out,
// and Anzac Day gets no substitute day because only some states give
// one.
func australia(y int) []entry {
	e := easter(y)
	return []entry{
		fixed(y, 1, 1, "New Year's Day", true),
		fixed(y, 1, 26, "Australia Day", true),
		{day: e - 2, name: "Good Friday"},
		{day: e + 1, name: "Easter Monday"},
		fixed(y, 4, 25, "Anzac Day", false),
		fixed(y, 12, 25, "Christmas Day", true),
		fixed(y, 12, 26, "Boxing Day", true),
	}
}

// india holds the three national holidays of India; the many gazetted and
// restricted holidays depend on the state and the religion calendar and
// are left out.
func india(y int) []entry {
	return []entry{
		fixed(y, 1, 26, "Republic Day", false),
		fixed(y, 8, 15, "Independence Day", false),
		fixed(y, 10, 2, "Gandhi Jayanti", false),
	}
}

// brazil holds the national holidays of Brazil. Carnival (Monday and
// Tuesday before Ash Wednesday) and Corpus Christi are optional days
// ("ponto facultativo"), not national holidays, and are left out.
func brazil(y int) []entry {
	es := []entry{
		fixed(y, 1, 1, "New Year's Day", false),
		{day: easter(y) - 2, name: "Good Friday"},
		fixed(y, 4, 21, "Tiradentes' Day", false),
		fixed(y, 5, 1, "Labour Day", false),
		fixed(y, 9, 7, "Independence Day", false),
	}
	if y >= 1980 {
		es = append(es, fixed(y, 10, 12, "Our Lady of Aparecida", false))
	}
	es = append(es,
		fixed(y, 11, 2, "All Souls' Day", false),
		fixed(y, 11, 15, "Republic Proclamation Day", false))
	if y >= 2024 {
		es = append(es, fixed(y, 11, 20, "Black Consciousness Day", false))
	}
	return append(es, fixed(y, 12, 25, "Christmas Day", false))
}

// japan holds the national holidays of Japan (the Act on National
// Holidays). Substitute holidays and citizens' holidays are added by
// japanObserve.
func japan(y int) []entry {
	es := []entry{fixed(y, 1, 1, "New Year's Day", true)}
	if y >= 2000 {
		es = append(es, nth(y, 1, time.Monday, 2, "Coming of Age Day"))
	} else {
		es = append(es, fixed(y, 1, 15, "Coming of Age Day", true))
	}
	es = append(es, fixed(y, 2, 11, "National Foundation Day", true))
	switch {
	case y >= 2020:
		es = append(es, fixed(y, 2, 23, "Emperor's Birthday", true))
	case y >= 1989 && y <= 2018:
		es = append(es, fixed(y, 12, 23, "Emperor's Birthday", true))
	}
	es = append(es, entry{day: dayNumber(Date{y, 3, vernalEquinox(y)}), name: "Vernal Equinox Day", move: true})
	switch {
	case y >= 2007:
		es = append(es, fixed(y, 4, 29, "Showa Day", true))
	case y >= 1989:
		es = append(es, fixed(y, 4, 29, "Greenery Day", true))
	default:
		es = append(es, fixed(y, 4, 29, "Emperor's Birthday", true))
	}
	es = append(es, fixed(y, 5, 3, "Constitution Memorial Day", true))
	if y >= 2007 {
		es = append(es, fixed(y, 5, 4, "Greenery Day", true))
	}
	es = append(es, fixed(y, 5, 5, "Children's Day", true))
	switch {
	case y >= 2003:
		es = append(es, nth(y, 7, time.Monday, 3, "Marine Day"))
	case y >= 1996:
		es = append(es, fixed(y, 7, 20, "Marine Day", true))
	}
	if y >= 2016 {
		es = append(es, fixed(y, 8, 11, "Mountain Day", true))
	}
	if y >= 2003 {
		es = append(es, nth(y, 9, time.Monday, 3, "Respect for the Aged Day"))
	} else {
		es = append(es, fixed(y, 9, 15, "Respect for the Aged Day", true))
	}
	es = append(es, entry{day: dayNumber(Date{y, 9, autumnalEquinox(y)}), name: "Autumnal Equinox Day", move: true})
	switch {
	case y >= 2020:
		es = append(es, nth(y, 10, time.Monday, 2, "Sports Day"))
	case y >= 2000:
		es = append(es, nth(y, 10, time.Monday, 2, "Health and Sports Day"))
	default:
		es = append(es, fixed(y, 10, 10, "Health and Sports Day", true))
	}
	return append(es,
		fixed(y, 11, 3, "Culture Day", true),
		fixed(y, 11, 23, "Labour Thanksgiving Day", true))
}

// japanObserve adds the two kinds of "holiday" (休日) of the Act on
// National Holidays:
//   - substitute holiday (振替休日, from 12 April 1973): a national holiday
//     on a Sunday makes the next day that is not a national holiday a
//     holiday (before 2007, only the Monday, when it was not a national
//     holiday itself);
//   - citizens' holiday (国民の休日, from 27 December 1985): a day that is
//     not a national holiday but lies between two national holidays is a
//     holiday (a Sunday is a day off anyway and is not listed).
func japanObserve(base []entry) []entry {
	national := make(map[int]bool, len(base))
	for _, e := range base {
		national[e.day] = true
	}
	taken := make(map[int]bool)
	var out []entry
	substituteFrom := dayNumber(Date{1973, 4, 12})
	for _, e := range base {
		if e.day < substituteFrom || weekday(e.day) != time.Sunday {
			continue
		}
		d := e.day + 1
		if civil(e.day).Year >= 2007 {
			for national[d] {
				d++
			}
		} else if national[d] {
			continue
		}
		if !taken[d] {
			taken[d] = true
			out = append(out, entry{day: d, name: "Substitute holiday"})
		}
	}
	citizensFrom := dayNumber(Date{1985, 12, 27})
	for i := 1; i < len(base); i++ {
		a, b := base[i-1].day, base[i].day
		m := a + 1
		if b-a != 2 || m < citizensFrom || national[m] || taken[m] || weekday(m) == time.Sunday {
			continue
		}
		taken[m] = true
		out = append(out, entry{day: m, name: "Citizens' holiday"})
	}
	return out
}

// vernalEquinox returns the March day of the vernal equinox in Japan by
// the standard formula (valid 1900–2150; the Japanese government fixes
// the date each February for the next year from the same astronomy).
func vernalEquinox(y int) int {
	return equinox(y, 20.8357, 20.8431, 21.8510)
}

// autumnalEquinox returns the September day of the autumnal equinox in
// Japan by the standard formula (valid 1900–2150).
func autumnalEquinox(y int) int {
	return equinox(y, 23.2588, 23.2488, 24.2488)
}

// equinox evaluates day = int(c + 0.242194*(y-1980) - int((y-b)/4)) with
// the constant c of the period: before 1980 (b = 1983), 1980–2099 and
// from 2100 (b = 1980). Go's integer division truncates toward zero, as
// the formula requires for the years before 1983.
func equinox(y int, c1900, c1980, c2100 float64) int {
	switch {
	case y < 1980:
		return int(c1900 + 0.242194*float64(y-1980) - float64((y-1983)/4))
	case y < 2100:
		return int(c1980 + 0.242194*float64(y-1980) - float64((y-1980)/4))
	default:
		return int(c2100 + 0.242194*float64(y-1980) - float64((y-1980)/4))
	}
}

// ---- date arithmetic on day numbers (days since 1970-01-01)

// easter returns Easter Sunday of year y in the Gregorian calendar by the
// anonymous Gregorian computus (Meeus/Jones/Butcher).
func easter(y int) int {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return dayNumber(Date{y, time.Month(month), day})
}

// fixed is the holiday on month/day of year y.
func fixed(y int, month time.Month, day int, name string, move bool) entry {
	return entry{day: dayNumber(Date{y, month, day}), name: name, move: move}
}

// nth is the n-th wd of month in year y; n = -1 is the last one.
func nth(y int, month time.Month, wd time.Weekday, n int, name string) entry {
	if n < 0 {
		var last int
		if month == time.December {
			last = dayNumber(Date{y, time.December, 31})
		} else {
			last = dayNumber(Date{y, month + 1, 1}) - 1
		}
		return entry{day: onOrBefore(last, wd), name: name}
	}
	first := dayNumber(Date{y, month, 1})
	d := first + (int(wd)-int(weekday(first))+7)%7
	return entry{day: d + 7*(n-1), name: name}
}

// onOrBefore returns the last day on or before d that is a wd.
func onOrBefore(d int, wd time.Weekday) int {
	return d - (int(weekday(d))-int(wd)+7)%7
}

func weekend(d int) bool {
	wd := weekday(d)
	return wd == time.Saturday || wd == time.Sunday
}

// weekday of day number d; 1970-01-01 was a Thursday.
func weekday(d int) time.Weekday {
	return time.Weekday(((d % 7) + 7 + int(time.Thursday)) % 7)
}

// dayNumber returns the days from 1970-01-01 to d in the proleptic
// Gregorian calendar (days_from_civil); d must be a valid date.
func dayNumber(d Date) int {
	y, m := d.Year, int(d.Month)
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d.Day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civil is the inverse of dayNumber (civil_from_days).
func civil(n int) Date {
	n += 719468
	era := floorDiv(n, 146097)
	doe := n - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return Date{y, time.Month(m), day}
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
