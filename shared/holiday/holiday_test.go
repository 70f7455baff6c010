package holiday

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// published holds the published days off of each calendar for 2025–2027
// as "MM-DD", including the weekend dates of holidays and the weekdays
// given in their place.
var published = map[string]map[int][]string{
	"US": {
		2025: {"01-01", "01-20", "02-17", "05-26", "06-19", "07-04", "09-01", "10-13", "11-11", "11-27", "12-25"},
		2026: {"01-01", "01-19", "02-16", "05-25", "06-19", "07-03", "07-04", "09-07", "10-12", "11-11", "11-26", "12-25"},
		2027: {"01-01", "01-18", "02-15", "05-31", "06-18", "06-19", "07-04", "07-05", "09-06", "10-11", "11-11", "11-25", "12-24", "12-25", "12-31"},
	},
	"GB": {
		2025: {"01-01", "04-18", "04-21", "05-05", "05-26", "08-25", "12-25", "12-26"},
		2026: {"01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-26", "12-28"},
		2027: {"01-01", "03-26", "03-29", "05-03", "05-31", "08-30", "12-25", "12-26", "12-27", "12-28"},
	},
	"IE": {
		2025: {"01-01", "02-03", "03-17", "04-21", "05-05", "06-02", "08-04", "10-27", "12-25", "12-26"},
		2026: {"01-01", "02-02", "03-17", "04-06", "05-04", "06-01", "08-03", "10-26", "12-25", "12-26", "12-28"},
		2027: {"01-01", "02-01", "03-17", "03-29", "05-03", "06-07", "08-02", "10-25", "12-25", "12-26", "12-27", "12-28"},
	},
	"DE": {
		2025: {"01-01", "04-18", "04-21", "05-01", "05-29", "06-09", "10-03", "12-25", "12-26"},
		2026: {"01-01", "04-03", "04-06", "05-01", "05-14", "05-25", "10-03", "12-25", "12-26"},
		2027: {"01-01", "03-26", "03-29", "05-01", "05-06", "05-17", "10-03", "12-25", "12-26"},
	},
	"FR": {
		2025: {"01-01", "04-21", "05-01", "05-08", "05-29", "06-09", "07-14", "08-15", "11-01", "11-11", "12-25"},
		2026: {"01-01", "04-06", "05-01", "05-08", "05-14", "05-25", "07-14", "08-15", "11-01", "11-11", "12-25"},
		2027: {"01-01", "03-29", "05-01", "05-06", "05-08", "05-17", "07-14", "08-15", "11-01", "11-11", "12-25"},
	},
	"NL": {
		2025: {"01-01", "04-21", "04-26", "05-29", "06-09", "12-25", "12-26"},
		2026: {"01-01", "04-06", "04-27", "05-14", "05-25", "12-25", "12-26"},
		2027: {"01-01", "03-29", "04-27", "05-06", "05-17", "12-25", "12-26"},
	},
	"BE": {
		2025: {"01-01", "04-21", "05-01", "05-29", "06-09", "07-21", "08-15", "11-01", "11-11", "12-25"},
		2026: {"01-01", "04-06", "05-01", "05-14", "05-25", "07-21", "08-15", "11-01", "11-11", "12-25"},
		2027: {"01-01", "03-29", "05-01", "05-06", "05-17", "07-21", "08-15", "11-01", "11-11", "12-25"},
	},
	"ES": {
		2025: {"01-01", "01-06", "04-18", "05-01", "08-15", "10-12", "11-01", "12-06", "12-08", "12-25"},
		2026: {"01-01", "01-06", "04-03", "05-01", "08-15", "10-12", "11-01", "12-06", "12-08", "12-25"},
		2027: {"01-01", "01-06", "03-26", "05-01", "08-15", "10-12", "11-01", "12-06", "12-08", "12-25"},
	},
	"IT": {
		2025: {"01-01", "01-06", "04-21", "04-25", "05-01", "06-02", "08-15", "11-01", "12-08", "12-25", "12-26"},
		2026: {"01-01", "01-06", "04-06", "04-25", "05-01", "06-02", "08-15", "10-04", "11-01", "12-08", "12-25", "12-26"},
		2027: {"01-01", "01-06", "03-29", "04-25", "05-01", "06-02", "08-15", "10-04", "11-01", "12-08", "12-25", "12-26"},
	},
	"PL": {
		2025: {"01-01", "01-06", "04-21", "05-01", "05-03", "06-19", "08-15", "11-01", "11-11", "12-24", "12-25", "12-26"},
		2026: {"01-01", "01-06", "04-06", "05-01", "05-03", "06-04", "08-15", "11-01", "11-11", "12-24", "12-25", "12-26"},
		2027: {"01-01", "01-06", "03-29", "05-01", "05-03", "05-27", "08-15", "11-01", "11-11", "12-24", "12-25", "12-26"},
	},
	"CA": {
		2025: {"01-01", "04-18", "05-19", "07-01", "09-01", "09-30", "10-13", "11-11", "12-25", "12-26"},
		2026: {"01-01", "04-03", "05-18", "07-01", "09-07", "09-30", "10-12", "11-11", "12-25", "12-26", "12-28"},
		2027: {"01-01", "03-26", "05-24", "07-01", "09-06", "09-30", "10-11", "11-11", "12-25", "12-26", "12-27", "12-28"},
	},
	"AU": {
		2025: {"01-01", "01-26", "01-27", "04-18", "04-21", "04-25", "12-25", "12-26"},
		2026: {"01-01", "01-26", "04-03", "04-06", "04-25", "12-25", "12-26", "12-28"},
		2027: {"01-01", "01-26", "03-26", "03-29", "04-25", "12-25", "12-26", "12-27", "12-28"},
	},
	"JP": {
		2025: {"01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
			"07-21", "08-11", "09-15", "09-23", "10-13", "11-03", "11-23", "11-24"},
		2026: {"01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
			"07-20", "08-11", "09-21", "09-22", "09-23", "10-12", "11-03", "11-23"},
		2027: {"01-01", "01-11", "02-11", "02-23", "03-21", "03-22", "04-29", "05-03", "05-04", "05-05",
			"07-19", "08-11", "09-20", "09-23", "10-11", "11-03", "11-23"},
	},
	"IN": {
		2025: {"01-26", "08-15", "10-02"},
		2026: {"01-26", "08-15", "10-02"},
		2027: {"01-26", "08-15", "10-02"},
	},
	"BR": {
		2025: {"01-01", "04-18", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20", "12-25"},
		2026: {"01-01", "04-03", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20", "12-25"},
		2027: {"01-01", "03-26", "04-21", "05-01", "09-07", "10-12", "11-02", "11-15", "11-20", "12-25"},
	},
}

func TestHolidaysMatchPublishedDates(t *testing.T) {
	if got, want := len(published), len(Calendars()); got != want {
		t.Fatalf("published dates cover %d calendars, Calendars lists %d", got, want)
	}
	for code, years := range published {
		for year, want := range years {
			hs, err := Holidays(code, year)
			if err != nil {
				t.Errorf("Holidays(%s, %d): %v", code, year, err)
				continue
			}
			var got []string
			for _, h := range hs {
				if h.Date.Year != year {
					t.Errorf("Holidays(%s, %d) holds %s of another year", code, year, h.Date)
				}
				got = append(got, h.Date.String()[5:])
			}
			if !slices.Equal(got, want) {
				t.Errorf("Holidays(%s, %d)\n got  %v\n want %v", code, year, got, want)
			}
		}
	}
}

// TestHolidayNames checks the names of notable days, substitute days
// among them.
func TestHolidayNames(t *testing.T) {
	tests := []struct {
		code string
		date Date
		want string
	}{
		{"US", Date{2026, 7, 3}, "Independence Day (observed)"},
		{"US", Date{2026, 7, 4}, "Independence Day"},
		{"US", Date{2027, 12, 31}, "New Year's Day (observed)"},
		{"US", Date{2027, 6, 18}, "Juneteenth National Independence Day (observed)"},
		{"US", Date{2026, 11, 26}, "Thanksgiving Day"},
		{"GB", Date{2027, 12, 27}, "Christmas Day (substitute day)"},
		{"GB", Date{2027, 12, 28}, "Boxing Day (substitute day)"},
		{"GB", Date{2026, 8, 31}, "Summer bank holiday"},
		{"IE", Date{2026, 2, 2}, "St Brigid's Day"},
		{"JP", Date{2026, 3, 20}, "Vernal Equinox Day"},
		{"JP", Date{2026, 9, 22}, "Citizens' holiday"},
		{"JP", Date{2026, 5, 6}, "Substitute holiday"},
		{"JP", Date{2027, 3, 22}, "Substitute holiday"},
		{"DE", Date{2026, 4, 6}, "Easter Monday"},
		{"NL", Date{2025, 4, 26}, "King's Day"},
		{"AU", Date{2025, 1, 27}, "Australia Day (observed)"},
		{"CA", Date{2026, 12, 28}, "Boxing Day (observed)"},
		{"IN", Date{2026, 10, 2}, "Gandhi Jayanti"},
		{"BR", Date{2026, 11, 20}, "Black Consciousness Day"},
		{"PL", Date{2026, 12, 24}, "Christmas Eve"},
		{"IT", Date{2026, 10, 4}, "St Francis of Assisi"},
	}
	for _, tt := range tests {
		name, ok := On(tt.code, tt.date.In(time.UTC).Add(12*time.Hour))
		if !ok || name != tt.want {
			t.Errorf("On(%s, %s) = %q, %v; want %q", tt.code, tt.date, name, ok, tt.want)
		}
	}
}

// TestHolidaysOtherYears checks rules the 2025–2027 tables do not reach:
// substitutes across a year's end and after a Sunday Christmas, the
// Japanese rules before 2007, and introduction years.
func TestHolidaysOtherYears(t *testing.T) {
	tests := []struct {
		code string
		date Date
		want string // "" means no holiday
	}{
		{"US", Date{2021, 12, 31}, "New Year's Day (observed)"}, // 1 January 2022 is a Saturday
		{"US", Date{2021, 6, 18}, "Juneteenth National Independence Day (observed)"},
		{"US", Date{2020, 6, 19}, ""}, // before Juneteenth
		{"US", Date{1985, 1, 21}, ""}, // before Martin Luther King Jr. Day
		{"US", Date{1986, 1, 20}, "Martin Luther King Jr. Day"},
		{"GB", Date{2022, 12, 27}, "Christmas Day (substitute day)"}, // Christmas on a Sunday
		{"GB", Date{2021, 12, 28}, "Boxing Day (substitute day)"},
		{"GB", Date{2022, 1, 3}, "New Year's Day (substitute day)"},
		{"AU", Date{2022, 12, 27}, "Christmas Day (observed)"},
		{"AU", Date{2022, 1, 3}, "New Year's Day (observed)"},
		{"IE", Date{2024, 2, 5}, "St Brigid's Day"},
		{"IE", Date{2030, 2, 1}, "St Brigid's Day"}, // 1 February 2030 is a Friday
		{"IE", Date{2022, 2, 7}, ""},                // before St Brigid's Day
		{"JP", Date{2009, 9, 22}, "Citizens' holiday"},
		{"JP", Date{2015, 9, 22}, "Citizens' holiday"},
		{"JP", Date{2005, 5, 4}, "Citizens' holiday"}, // before Greenery Day moved to 4 May
		{"JP", Date{2008, 5, 6}, "Substitute holiday"},
		{"JP", Date{2019, 12, 23}, ""}, // no Emperor's Birthday in 2019
		{"JP", Date{2018, 12, 24}, "Substitute holiday"},
		{"NL", Date{2006, 4, 29}, "Queen's Day"},
		{"NL", Date{2013, 4, 30}, "Queen's Day"},
		{"DE", Date{2008, 5, 1}, "Ascension Day, Labour Day"},
		{"DE", Date{1989, 10, 3}, ""},
		{"PL", Date{2024, 12, 24}, ""}, // Christmas Eve is a day off from 2025
		{"CA", Date{2023, 7, 3}, "Canada Day (observed)"},
		{"IT", Date{2025, 10, 4}, ""}, // St Francis of Assisi is a holiday again from 2026
		{"BR", Date{2023, 11, 20}, ""},
	}
	for _, tt := range tests {
		name, ok := On(tt.code, tt.date.In(time.UTC))
		if ok != (tt.want != "") || name != tt.want {
			t.Errorf("On(%s, %s) = %q, %v; want %q", tt.code, tt.date, name, ok, tt.want)
		}
	}
}

func TestEaster(t *testing.T) {
	// Gregorian Easter Sunday, 2000–2030.
	known := []string{
		"2000-04-23", "2001-04-15", "2002-03-31", "2003-04-20", "2004-04-11", "2005-03-27", "2006-04-16",
		"2007-04-08", "2008-03-23", "2009-04-12", "2010-04-04", "2011-04-24", "2012-04-08", "2013-03-31",
		"2014-04-20", "2015-04-05", "2016-03-27", "2017-04-16", "2018-04-01", "2019-04-21", "2020-04-12",
		"2021-04-04", "2022-04-17", "2023-04-09", "2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28",
		"2028-04-16", "2029-04-01", "2030-04-21",
		// The earliest and latest dates and a few others.
		"1818-03-22", "1943-04-25", "2038-04-25", "2285-03-22", "1970-03-29", "1981-04-19", "1999-04-04",
	}
	for _, s := range known {
		want, _ := time.Parse(time.DateOnly, s)
		got := civil(easter(want.Year()))
		if got.String() != s {
			t.Errorf("easter(%d) = %s, want %s", want.Year(), got, s)
		}
		if got.Weekday() != time.Sunday {
			t.Errorf("easter(%d) = %s is a %s", want.Year(), got, got.Weekday())
		}
	}
}

func TestJapaneseEquinoxes(t *testing.T) {
	// Days announced by the National Astronomical Observatory of Japan.
	tests := []struct{ year, vernal, autumnal int }{
		{1970, 21, 23}, {1980, 20, 23}, {2000, 20, 23}, {2012, 20, 22}, {2016, 20, 22},
		{2019, 21, 23}, {2020, 20, 22}, {2021, 20, 23}, {2022, 21, 23}, {2023, 21, 23},
		{2024, 20, 22}, {2025, 20, 23}, {2026, 20, 23}, {2027, 21, 23}, {2028, 20, 22},
	}
	for _, tt := range tests {
		if v, a := vernalEquinox(tt.year), autumnalEquinox(tt.year); v != tt.vernal || a != tt.autumnal {
			t.Errorf("%d: equinoxes on %d March and %d September, want %d March and %d September", tt.year, v, a, tt.vernal, tt.autumnal)
		}
	}
}

func TestHolidaysErrors(t *testing.T) {
	tests := []struct {
		code string
		year int
		want string // in the error
	}{
		{"XX", 2026, `"XX"`},
		{"", 2026, `""`},
		{"UK", 2026, `"UK"`},
		{"US", 1969, "1969"},
		{"US", 2201, "2201"},
		{"JP", 2151, "2151"},
		{"DE", -5, "-5"},
	}
	for _, tt := range tests {
		hs, err := Holidays(tt.code, tt.year)
		if err == nil {
			t.Errorf("Holidays(%q, %d) = %v, want an error", tt.code, tt.year, hs)
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Holidays(%q, %d) error %q: want ErrInvalid naming %s", tt.code, tt.year, err, tt.want)
		}
	}
	if _, ok := On("XX", time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("On with an unknown calendar reported a holiday")
	}
	if _, err := Holidays("us", 2026); err != nil {
		t.Errorf("a lower-case code: %v", err)
	}
}

// TestCalendarsEveryYear checks every calendar over its whole range:
// sorted, inside the year, no entry twice, every name set, and the
// caller's copy is its own.
func TestCalendarsEveryYear(t *testing.T) {
	codes := Calendars()
	if !slices.IsSorted(codes) || len(codes) != 15 {
		t.Fatalf("Calendars() = %v, want 15 sorted codes", codes)
	}
	for _, code := range codes {
		last := lastYear
		if c := calendars[code]; c.last != 0 {
			last = c.last
		}
		for y := firstYear; y <= last; y++ {
			hs, err := Holidays(code, y)
			if err != nil {
				t.Fatalf("Holidays(%s, %d): %v", code, y, err)
			}
			if len(hs) < 3 {
				t.Fatalf("Holidays(%s, %d) has %d days", code, y, len(hs))
			}
			for i, h := range hs {
				if h.Date.Year != y || h.Name == "" {
					t.Fatalf("Holidays(%s, %d)[%d] = %+v", code, y, i, h)
				}
				if civil(dayNumber(h.Date)) != h.Date {
					t.Fatalf("Holidays(%s, %d)[%d] = %+v is not a valid date", code, y, i, h)
				}
				if i > 0 && (dayNumber(h.Date) < dayNumber(hs[i-1].Date) || h == hs[i-1]) {
					t.Fatalf("Holidays(%s, %d) is not sorted or repeats %+v", code, y, h)
				}
			}
		}
	}
	hs, _ := Holidays("US", 2026)
	hs[0].Name = "changed"
	if again, _ := Holidays("US", 2026); again[0].Name == "changed" {
		t.Error("Holidays returned the cached slice itself")
	}
}

func TestOnUsesTheLocalDate(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	instant := time.Date(2026, 7, 3, 23, 30, 0, 0, time.UTC)
	if name, ok := On("US", instant.In(ny)); !ok || name != "Independence Day (observed)" {
		t.Errorf("19:30 on 3 July in New York: %q, %v", name, ok)
	}
	if name, ok := On("US", instant.In(tokyo)); !ok || name != "Independence Day" {
		t.Errorf("08:30 on 4 July in Tokyo: %q, %v", name, ok)
	}
	if _, ok := On("US", time.Date(2026, 7, 6, 0, 0, 0, 0, ny)); ok {
		t.Error("6 July 2026 reported as a holiday")
	}
}

func TestDateAndDayNumbers(t *testing.T) {
	for n := dayNumber(Date{1900, 1, 1}); n <= dayNumber(Date{2300, 12, 31}); n += 37 {
		d := civil(n)
		tm := time.Unix(int64(n)*86400, 0).UTC()
		if d != (Date{tm.Year(), tm.Month(), tm.Day()}) || d.Weekday() != tm.Weekday() || dayNumber(d) != n {
			t.Fatalf("day %d: civil %v (%s), time %v (%s)", n, d, d.Weekday(), tm, tm.Weekday())
		}
	}
	if got := (Date{2026, 7, 3}).In(nil); !got.Equal(time.Date(2026, 7, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Date.In(nil) = %v", got)
	}
}
