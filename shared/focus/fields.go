package focus

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Fields gives a Mapper the values of the current record, parsed the
// same way for every format, and collects the problems found on the way.
// Positions come from Header lookups; a negative position is a column the
// source does not have and reads as empty.
type Fields struct {
	rec      []string
	header   *Header
	problems []Problem
	layouts  *timeLayouts
}

// Raw returns the value at position i exactly as read ("" when i < 0 or
// the record is short).
func (f *Fields) Raw(i int) string {
	if i < 0 || i >= len(f.rec) {
		return ""
	}
	return f.rec[i]
}

// Str returns the value at position i with surrounding spaces removed;
// the null spellings of exports ("NULL", "null", `\N`, "None", "<NA>")
// read as "".
func (f *Fields) Str(i int) string {
	s := f.Raw(i)
	if s == "" {
		return ""
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' || s[0] == '\t' || s[len(s)-1] == '\t' {
		s = strings.TrimSpace(s)
	}
	if isNull(s) {
		return ""
	}
	return s
}

func isNull(s string) bool {
	switch s {
	case "NULL", "null", "Null", `\N`, "None", "<NA>", "nil":
		return true
	}
	return false
}

// Problem records that the current record breaks rule in column (a name
// as the source spells it) with value; the row is rejected.
func (f *Fields) Problem(rule Rule, column, value string) {
	f.problems = append(f.problems, Problem{Rule: rule, Column: column, Value: clip(value)})
}

func (f *Fields) name(i int) string {
	if f.header != nil && i >= 0 && i < len(f.header.Names) {
		return f.header.Names[i]
	}
	return fmt.Sprintf("column %d", i+1)
}

// Money parses the amount at position i in currency. Empty reads as zero;
// anything that is not a decimal number (after removing thousands
// separators, a leading "$" and accounting parentheses) is a
// RuleNonNumeric problem.
func (f *Fields) Money(i int, currency string) domain.Money {
	s := f.Str(i)
	if s == "" {
		return domain.Money{Currency: currency}
	}
	m, ok := parseAmount(s, currency)
	if !ok {
		f.Problem(RuleNonNumeric, f.name(i), s)
	}
	return m
}

// RequiredMoney is Money for a column every row must fill: empty is a
// RuleMissingValue problem.
func (f *Fields) RequiredMoney(i int, currency string) domain.Money {
	if f.Str(i) == "" {
		f.Problem(RuleMissingValue, f.name(i), f.Raw(i))
		return domain.Money{Currency: currency}
	}
	return f.Money(i, currency)
}

// Float parses a quantity at position i; empty reads as zero and anything
// else that is not a number is a RuleNonNumeric problem.
func (f *Fields) Float(i int) float64 {
	s := f.Str(i)
	if s == "" {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		s2, ok := stripNumber(s)
		if ok {
			v, err = strconv.ParseFloat(s2, 64)
		}
		if !ok || err != nil {
			f.Problem(RuleNonNumeric, f.name(i), s)
			return 0
		}
	}
	return v
}

// Time parses a timestamp at position i in any of the layouts exports use
// (RFC 3339, "2006-01-02 15:04:05" with optional fraction and zone or
// " UTC", date only, US dates "01/02/2006"); values without a zone are
// UTC. Empty is the zero time; anything else unreadable is a RuleBadTime
// problem.
func (f *Fields) Time(i int) time.Time {
	s := f.Str(i)
	if s == "" {
		return time.Time{}
	}
	t, ok := parseTime(s, f.layouts)
	if !ok {
		f.Problem(RuleBadTime, f.name(i), s)
	}
	return t
}

// RequiredTime is Time for a column every row must fill.
func (f *Fields) RequiredTime(i int) time.Time {
	if f.Str(i) == "" {
		f.Problem(RuleMissingValue, f.name(i), f.Raw(i))
		return time.Time{}
	}
	return f.Time(i)
}

// Tags parses tags at position i written as a JSON object
// ({"k":"v"}), as an object without its braces ("k": "v", "k2": "v2", as
// older Azure exports write them), or as a list of {"key","value"}
// objects (Google Cloud labels). Non-string values are kept as their JSON
// text. Unreadable tags are a RuleBadTags problem.
func (f *Fields) Tags(i int) map[string]string {
	s := f.Str(i)
	if s == "" || s == "{}" || s == "[]" {
		return nil
	}
	tags, ok := parseTags(s)
	if !ok {
		f.Problem(RuleBadTags, f.name(i), s)
	}
	return tags
}

// ColumnTags collects the tags held one column per tag (resourceTags/user:k
// or resource_tags_user_k): Key of each column is the tag key. Empty
// values are left out.
func (f *Fields) ColumnTags(cols []Column, into map[string]string) map[string]string {
	for _, c := range cols {
		v := f.Str(c.Index)
		if v == "" {
			continue
		}
		if into == nil {
			into = make(map[string]string, len(cols))
		}
		into[c.Key] = v
	}
	return into
}

func parseTags(s string) (map[string]string, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "["):
		var list []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal([]byte(s), &list); err != nil {
			return nil, false
		}
		if len(list) == 0 {
			return nil, true
		}
		out := make(map[string]string, len(list))
		for _, kv := range list {
			out[kv.Key] = jsonText(kv.Value)
		}
		return out, true
	case !strings.HasPrefix(s, "{"):
		s = "{" + s + "}"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return nil, false
	}
	if len(obj) == 0 {
		return nil, true
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		out[k] = jsonText(v)
	}
	return out, true
}

func jsonText(v json.RawMessage) string {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// parseAmount reads a decimal amount exactly, accepting thousands
// separators ("1,234.50"), a leading "$" and accounting parentheses.
func parseAmount(s, currency string) (domain.Money, bool) {
	if m, err := domain.ParseMoney(s, currency); err == nil {
		return m, true
	}
	s2, ok := stripNumber(s)
	if !ok {
		return domain.Money{Currency: currency}, false
	}
	m, err := domain.ParseMoney(s2, currency)
	if err != nil {
		return domain.Money{Currency: currency}, false
	}
	return m, true
}

// stripNumber removes what spreadsheets add to numbers: a "$", accounting
// parentheses for negatives, and thousands separators placed every three
// digits. It reports false for anything else, such as a decimal comma.
func stripNumber(s string) (string, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		neg, s = true, strings.TrimSpace(s[1:len(s)-1])
	}
	if strings.HasPrefix(s, "-") {
		neg, s = !neg, strings.TrimSpace(s[1:])
	}
	s = strings.TrimSpace(strings.TrimPrefix(s, "$"))
	if strings.HasPrefix(s, "-") {
		neg, s = !neg, strings.TrimSpace(s[1:])
	}
	if s == "" {
		return "", false
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if strings.Contains(whole, ",") {
		groups := strings.Split(whole, ",")
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			return "", false
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return "", false
			}
		}
		whole = strings.Join(groups, "")
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	out := whole
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out, true
}

// timeLayouts remembers the layout that read the last timestamp, since a
// file writes all its timestamps alike.
type timeLayouts struct{ last string }

var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700 MST",
	"2006-01-02",
	"01/02/2006",
	"1/2/2006",
	"01/02/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006 3:04:05 PM",
	"2006/01/02",
	"2006/01/02 15:04:05",
	"20060102",
}

// parseTime reads s in the first layout that fits, the remembered one
// first. A "MM/DD/YYYY" date whose first number is above 12 is read as
// "DD/MM/YYYY".
func parseTime(s string, lay *timeLayouts) (time.Time, bool) {
	if lay != nil && lay.last != "" {
		if t, err := time.Parse(lay.last, s); err == nil {
			return fixZone(t, s), true
		}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			if lay != nil {
				lay.last = l
			}
			return fixZone(t, s), true
		}
	}
	if t, err := time.Parse("02/01/2006", s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2/1/2006", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// fixZone turns a zone abbreviation time.Parse could not place (it makes
// up a zero-offset zone for names it does not know) into UTC for "UTC"
// and "GMT", and keeps every time in UTC.
func fixZone(t time.Time, _ string) time.Time { return t.UTC() }

func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
