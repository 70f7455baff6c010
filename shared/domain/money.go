package domain

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MicrosPerUnit is the number of micro-units in one unit of a currency.
const MicrosPerUnit = 1_000_000

// HoursPerMonth is the average number of hours in a month (8760/12), the
// convention the clouds' own calculators use to turn hourly prices into
// monthly ones.
const HoursPerMonth = 730

// Money is an exact amount: an integer number of micro-units (1e-6) of a
// currency given by its ISO 4217 code. The zero Money has no currency and
// adds to any currency.
type Money struct {
	Micros   int64  `json:"micros"`
	Currency string `json:"currency,omitempty"`
}

// USD returns an amount of US dollars given in micro-dollars.
func USD(micros int64) Money { return Money{Micros: micros, Currency: "USD"} }

// FromFloat converts a decimal amount to Money, rounding half away from
// zero to the nearest micro-unit. It is for the edges of the system
// (price catalogs, statistics); never do arithmetic on float money.
func FromFloat(amount float64, currency string) Money {
	return Money{Micros: int64(math.Round(amount * MicrosPerUnit)), Currency: currency}
}

// ParseMoney reads a decimal string such as "12.345678" exactly.
// More than six decimals are rounded half away from zero.
func ParseMoney(s, currency string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Money{}, invalidf("parse money: empty amount")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s == "." || s[0] == '-' || s[0] == '+' {
		return Money{}, invalidf("parse money %q: not a decimal number", s)
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Money{}, invalidf("parse money %q: %v", s, err)
		}
		if f >= math.MaxInt64/MicrosPerUnit {
			return Money{}, invalidf("parse money %q: out of range", s)
		}
		m := FromFloat(f, currency)
		if neg {
			m.Micros = -m.Micros
		}
		return m, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return Money{}, invalidf("parse money %q: not a decimal number", s)
	}
	var micros int64
	roundUp := false
	for i, c := range frac {
		if c < '0' || c > '9' {
			return Money{}, invalidf("parse money %q: not a decimal number", s)
		}
		if i < 6 {
			micros = micros*10 + int64(c-'0')
		} else if i == 6 {
			roundUp = c >= '5'
		}
	}
	for i := len(frac); i < 6; i++ {
		micros *= 10
	}
	if roundUp {
		micros++
	}
	// The largest amount is MaxInt64 micro-units: check exactly, so that
	// every amount this returns reads back from its decimal form.
	if w > (math.MaxInt64-micros)/MicrosPerUnit {
		return Money{}, invalidf("parse money %q: out of range", s)
	}
	total := w*MicrosPerUnit + micros
	if neg {
		total = -total
	}
	return Money{Micros: total, Currency: currency}, nil
}

// IsZero reports whether m is an amount of zero.
func (m Money) IsZero() bool { return m.Micros == 0 }

// Add returns m+o. Adding amounts of two different currencies is a
// programming error reported by the second result being false.
func (m Money) Add(o Money) (Money, bool) {
	cur, ok := sameCurrency(m, o)
	return Money{Micros: m.Micros + o.Micros, Currency: cur}, ok
}

// Sub returns m-o with the same currency rule as Add.
func (m Money) Sub(o Money) (Money, bool) {
	cur, ok := sameCurrency(m, o)
	return Money{Micros: m.Micros - o.Micros, Currency: cur}, ok
}

// Plus is Add for callers that have already checked currencies; on a
// currency mismatch it keeps m unchanged.
func (m Money) Plus(o Money) Money {
	r, ok := m.Add(o)
	if !ok {
		return m
	}
	return r
}

// Minus is Sub for callers that have already checked currencies; on a
// currency mismatch it keeps m unchanged.
func (m Money) Minus(o Money) Money {
	r, ok := m.Sub(o)
	if !ok {
		return m
	}
	return r
}

// MulFloat scales m by f, rounding to the nearest micro-unit.
func (m Money) MulFloat(f float64) Money {
	return Money{Micros: int64(math.Round(float64(m.Micros) * f)), Currency: m.Currency}
}

// Float returns m in whole units, for statistics and display only.
func (m Money) Float() float64 { return float64(m.Micros) / MicrosPerUnit }

// String formats m with two decimals, e.g. "USD 1,234.50". Exact values
// are kept in Micros; this is for people.
func (m Money) String() string {
	cur := m.Currency
	if cur == "" {
		cur = "USD"
	}
	return cur + " " + FormatAmount(m.Micros, 2)
}

// Decimal formats m exactly with six decimals and no grouping, e.g.
// "1234.500000", the form used in machine-readable outputs.
func (m Money) Decimal() string {
	sign := ""
	v := m.Micros
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%06d", sign, v/MicrosPerUnit, v%MicrosPerUnit)
}

// FormatAmount formats micro-units with the given number of decimals
// (rounded half away from zero) and thousands separators.
func FormatAmount(micros int64, decimals int) string {
	neg := micros < 0
	if neg {
		micros = -micros
	}
	scale := int64(1)
	for i := 0; i < 6-decimals; i++ {
		scale *= 10
	}
	rounded := (micros + scale/2) / scale
	den := int64(1)
	for i := 0; i < decimals; i++ {
		den *= 10
	}
	whole, frac := rounded/den, rounded%den
	ws := strconv.FormatInt(whole, 10)
	var b strings.Builder
	if neg && rounded != 0 {
		b.WriteByte('-')
	}
	for i, c := range ws {
		if i > 0 && (len(ws)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if decimals > 0 {
		fmt.Fprintf(&b, ".%0*d", decimals, frac)
	}
	return b.String()
}

func sameCurrency(a, b Money) (string, bool) {
	switch {
	case a.Currency == b.Currency:
		return a.Currency, true
	case a.Currency == "" && a.Micros == 0:
		return b.Currency, true
	case b.Currency == "" && b.Micros == 0:
		return a.Currency, true
	}
	return a.Currency, false
}

// invalidError is an error of kind ErrInvalid whose message is exactly
// its text, for errors that name the input precisely.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

func invalidf(format string, a ...any) error { return &invalidError{fmt.Sprintf(format, a...)} }
