package domain_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cur  string
		want domain.Money
	}{
		{"integer", "12", "USD", domain.USD(12_000_000)},
		{"zero", "0", "USD", domain.USD(0)},
		{"six decimals", "12.345678", "USD", domain.USD(12_345_678)},
		{"one micro", "0.000001", "USD", domain.USD(1)},
		{"fewer decimals are padded", "1.5", "USD", domain.USD(1_500_000)},
		{"seventh decimal below half rounds down", "1.2345674", "USD", domain.USD(1_234_567)},
		{"seventh decimal half rounds up", "1.2345675", "USD", domain.USD(1_234_568)},
		{"only the seventh decimal decides", "1.23456749999", "USD", domain.USD(1_234_567)},
		{"rounding carries into the units", "1.9999995", "USD", domain.USD(2_000_000)},
		{"half micro rounds up", "0.0000005", "USD", domain.USD(1)},
		{"negative", "-12.5", "USD", domain.USD(-12_500_000)},
		{"negative rounds half away from zero", "-1.2345675", "USD", domain.USD(-1_234_568)},
		{"negative half micro", "-0.0000005", "USD", domain.USD(-1)},
		{"negative below half micro is zero", "-0.0000004", "USD", domain.USD(0)},
		{"leading plus", "+3.25", "USD", domain.USD(3_250_000)},
		{"no whole part", ".5", "USD", domain.USD(500_000)},
		{"negative without whole part", "-.5", "USD", domain.USD(-500_000)},
		{"surrounding spaces", "  7.25\t", "USD", domain.USD(7_250_000)},
		{"scientific notation", "1.5e-3", "USD", domain.USD(1_500)},
		{"scientific notation upper case negative", "-2E2", "USD", domain.USD(-200_000_000)},
		{"scientific notation with plus", "+1e0", "USD", domain.USD(1_000_000)},
		{"largest accepted amount", "9223372036853.999999", "USD", domain.USD(9_223_372_036_853_999_999)},
		{"largest accepted negative amount", "-9223372036853.999999", "USD", domain.USD(-9_223_372_036_853_999_999)},
		{"currency is kept", "1", "EUR", domain.Money{Micros: 1_000_000, Currency: "EUR"}},
		{"no currency", "1", "", domain.Money{Micros: 1_000_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParseMoney(tt.in, tt.cur)
			if err != nil {
				t.Fatalf("ParseMoney(%q, %q) error = %v; want nil", tt.in, tt.cur, err)
			}
			if got != tt.want {
				t.Errorf("ParseMoney(%q, %q) = %#v; want %#v", tt.in, tt.cur, got, tt.want)
			}
		})
	}
}

func TestParseMoneyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only spaces", "   "},
		{"garbage after digits", "12a"},
		{"letters", "abc"},
		{"garbage in decimals", "1.2x"},
		{"two points", "1.2.3"},
		{"thousands separator", "1,000"},
		{"sign only", "-"},
		{"plus only", "+"},
		{"point only", "."},
		{"sign and point only", "-."},
		{"double sign", "--5"},
		{"mixed double sign", "+-1.5"},
		{"space after sign", "- 5"},
		{"overflow by one micro-unit", "9223372036854.775808"},
		{"overflow by one unit", "9223372036855"},
		{"negative overflow", "-9223372036855"},
		{"overflow beyond int64", "99999999999999999999"},
		{"scientific overflow", "1e13"},
		{"negative scientific overflow", "-1e13"},
		{"scientific beyond float64", "1e400"},
		{"exponent without mantissa", "e5"},
		{"double sign in scientific notation", "--1e3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParseMoney(tt.in, "USD")
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("ParseMoney(%q) = %#v, %v; want an error wrapping ErrInvalid", tt.in, got, err)
			}
			if got != (domain.Money{}) {
				t.Errorf("ParseMoney(%q) = %#v with an error; want the zero Money", tt.in, got)
			}
		})
	}
}

func TestFromFloat(t *testing.T) {
	nineteen99 := 19.99 // not exact in binary: 19.98999...
	tests := []struct {
		in   float64
		cur  string
		want domain.Money
	}{
		{0, "USD", domain.USD(0)},
		{1.5, "USD", domain.USD(1_500_000)},
		{nineteen99, "USD", domain.USD(19_990_000)},
		{12.3456789, "USD", domain.USD(12_345_679)},
		{0.0000004, "USD", domain.USD(0)},
		{0.0000005, "USD", domain.USD(1)},
		{0.0000025, "USD", domain.USD(3)},
		{-0.0000005, "USD", domain.USD(-1)},
		{-0.0000025, "USD", domain.USD(-3)},
		{1e12, "USD", domain.USD(1_000_000_000_000_000_000)},
		{2.5, "EUR", domain.Money{Micros: 2_500_000, Currency: "EUR"}},
	}
	for _, tt := range tests {
		if got := domain.FromFloat(tt.in, tt.cur); got != tt.want {
			t.Errorf("FromFloat(%v, %q) = %#v; want %#v", tt.in, tt.cur, got, tt.want)
		}
	}
}

func TestMoneyAddSub(t *testing.T) {
	eur := func(micros int64) domain.Money { return domain.Money{Micros: micros, Currency: "EUR"} }
	tests := []struct {
		name       string
		a, b       domain.Money
		sum, diff  domain.Money
		sameCurncy bool
	}{
		{"same currency", domain.USD(5), domain.USD(3), domain.USD(8), domain.USD(2), true},
		{"negative result", domain.USD(3), domain.USD(5), domain.USD(8), domain.USD(-2), true},
		{"zero value on the left adopts the currency", domain.Money{}, domain.USD(3), domain.USD(3), domain.USD(-3), true},
		{"zero value on the right keeps the currency", domain.USD(3), domain.Money{}, domain.USD(3), domain.USD(3), true},
		{"zero value with another currency", domain.Money{}, eur(2), eur(2), eur(-2), true},
		{"two zero values", domain.Money{}, domain.Money{}, domain.Money{}, domain.Money{}, true},
		{"zero amount of a currency with a zero value", domain.USD(0), domain.Money{}, domain.USD(0), domain.USD(0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := tt.a.Add(tt.b); got != tt.sum || !ok {
				t.Errorf("%#v.Add(%#v) = %#v, %v; want %#v, true", tt.a, tt.b, got, ok, tt.sum)
			}
			if got, ok := tt.a.Sub(tt.b); got != tt.diff || !ok {
				t.Errorf("%#v.Sub(%#v) = %#v, %v; want %#v, true", tt.a, tt.b, got, ok, tt.diff)
			}
			if got := tt.a.Plus(tt.b); got != tt.sum {
				t.Errorf("%#v.Plus(%#v) = %#v; want %#v", tt.a, tt.b, got, tt.sum)
			}
			if got := tt.a.Minus(tt.b); got != tt.diff {
				t.Errorf("%#v.Minus(%#v) = %#v; want %#v", tt.a, tt.b, got, tt.diff)
			}
		})
	}
}

func TestMoneyCurrencyMismatch(t *testing.T) {
	eur := domain.Money{Micros: 3_000_000, Currency: "EUR"}
	tests := []struct {
		name string
		a, b domain.Money
	}{
		{"USD and EUR", domain.USD(5_000_000), eur},
		{"EUR and USD", eur, domain.USD(5_000_000)},
		{"non-zero amount without currency", domain.USD(5_000_000), domain.Money{Micros: 1}},
		{"non-zero amount without currency on the left", domain.Money{Micros: 1}, domain.USD(5_000_000)},
		{"zero amount of another currency", domain.USD(5_000_000), domain.Money{Currency: "EUR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := tt.a.Add(tt.b); ok {
				t.Errorf("%#v.Add(%#v) reports ok; want false", tt.a, tt.b)
			}
			if _, ok := tt.a.Sub(tt.b); ok {
				t.Errorf("%#v.Sub(%#v) reports ok; want false", tt.a, tt.b)
			}
			if got := tt.a.Plus(tt.b); got != tt.a {
				t.Errorf("%#v.Plus(%#v) = %#v; want m unchanged", tt.a, tt.b, got)
			}
			if got := tt.a.Minus(tt.b); got != tt.a {
				t.Errorf("%#v.Minus(%#v) = %#v; want m unchanged", tt.a, tt.b, got)
			}
		})
	}
}

func TestMoneyMulFloat(t *testing.T) {
	tests := []struct {
		m    domain.Money
		f    float64
		want domain.Money
	}{
		{domain.USD(1_000_000), 0.5, domain.USD(500_000)},
		{domain.USD(1_000_000), 0, domain.USD(0)},
		{domain.USD(1_000_000), -2, domain.USD(-2_000_000)},
		{domain.USD(3), 0.5, domain.USD(2)},   // 1.5 rounds away from zero
		{domain.USD(-3), 0.5, domain.USD(-2)}, // -1.5 rounds away from zero
		{domain.USD(168_000_000), 60.0 / 168, domain.USD(60_000_000)},
		{domain.Money{Micros: 10, Currency: "EUR"}, 1.26, domain.Money{Micros: 13, Currency: "EUR"}},
	}
	for _, tt := range tests {
		if got := tt.m.MulFloat(tt.f); got != tt.want {
			t.Errorf("%#v.MulFloat(%v) = %#v; want %#v", tt.m, tt.f, got, tt.want)
		}
	}
}

func TestMoneyString(t *testing.T) {
	tests := []struct {
		m    domain.Money
		want string
	}{
		{domain.USD(1_234_500_000), "USD 1,234.50"},
		{domain.USD(-1_234_500_000), "USD -1,234.50"},
		{domain.USD(0), "USD 0.00"},
		{domain.Money{}, "USD 0.00"},
		{domain.Money{Micros: 5_000_000}, "USD 5.00"},
		{domain.Money{Micros: 10_000, Currency: "EUR"}, "EUR 0.01"},
		{domain.USD(4_999), "USD 0.00"},
		{domain.USD(5_000), "USD 0.01"},
		{domain.USD(-5_000), "USD -0.01"},
		{domain.USD(-4_999), "USD 0.00"}, // never "-0.00"
		{domain.USD(999_995_000), "USD 1,000.00"},
		{domain.USD(1_234_567_890_000_000), "USD 1,234,567,890.00"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%#v.String() = %q; want %q", tt.m, got, tt.want)
		}
	}
}

func TestMoneyDecimal(t *testing.T) {
	tests := []struct {
		m    domain.Money
		want string
	}{
		{domain.USD(0), "0.000000"},
		{domain.USD(1), "0.000001"},
		{domain.USD(-1), "-0.000001"},
		{domain.USD(1_234_500_000), "1234.500000"},
		{domain.USD(-1_234_567_891), "-1234.567891"},
		{domain.USD(1_000_000_000_000), "1000000.000000"},
		{domain.USD(math.MaxInt64), "9223372036854.775807"},
	}
	for _, tt := range tests {
		if got := tt.m.Decimal(); got != tt.want {
			t.Errorf("%#v.Decimal() = %q; want %q", tt.m, got, tt.want)
		}
	}
}

func TestMoneyDecimalRoundTrip(t *testing.T) {
	for _, micros := range []int64{0, 1, -1, 999_999, -1_000_001, 1_234_567_891, -9_223_372_036_853_999_999} {
		m := domain.USD(micros)
		got, err := domain.ParseMoney(m.Decimal(), "USD")
		if err != nil || got != m {
			t.Errorf("ParseMoney(%q) = %#v, %v; want %#v, nil", m.Decimal(), got, err, m)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		micros   int64
		decimals int
		want     string
	}{
		{0, 2, "0.00"},
		{0, 0, "0"},
		{999_000_000, 2, "999.00"},
		{1_000_000_000, 2, "1,000.00"},
		{12_345_000_000, 2, "12,345.00"},
		{123_456_000_000, 2, "123,456.00"},
		{1_234_567_000_000, 2, "1,234,567.00"},
		{123_456_789_000_000, 0, "123,456,789"},
		{-1_234_567_000_000, 2, "-1,234,567.00"},
		{1_234_567, 2, "1.23"},
		{1_235_000, 2, "1.24"}, // half rounds away from zero
		{-1_235_000, 2, "-1.24"},
		{1_234_999, 2, "1.23"},
		{1_999_999, 2, "2.00"},
		{1_500_000, 0, "2"},
		{-1_500_000, 0, "-2"},
		{1_499_999, 0, "1"},
		{-400_000, 0, "0"},
		{999_999_500_000, 0, "1,000,000"},
		{1_234_567, 6, "1.234567"},
		{-1_234_567, 6, "-1.234567"},
		{1_234_567, 3, "1.235"},
		{50_000, 1, "0.1"},
	}
	for _, tt := range tests {
		if got := domain.FormatAmount(tt.micros, tt.decimals); got != tt.want {
			t.Errorf("FormatAmount(%d, %d) = %q; want %q", tt.micros, tt.decimals, got, tt.want)
		}
	}
}

func TestMoneyIsZeroAndFloat(t *testing.T) {
	tests := []struct {
		m     domain.Money
		zero  bool
		float float64
	}{
		{domain.Money{}, true, 0},
		{domain.USD(0), true, 0},
		{domain.USD(1), false, 0.000001},
		{domain.USD(-2_500_000), false, -2.5},
	}
	for _, tt := range tests {
		if got := tt.m.IsZero(); got != tt.zero {
			t.Errorf("%#v.IsZero() = %v; want %v", tt.m, got, tt.zero)
		}
		if got := tt.m.Float(); got != tt.float {
			t.Errorf("%#v.Float() = %v; want %v", tt.m, got, tt.float)
		}
	}
}

func TestPriceMonthly(t *testing.T) {
	tests := []struct {
		name string
		p    domain.Price
		want domain.Money
	}{
		{"hourly price times 730 hours", domain.Price{Unit: domain.UnitHour, Amount: domain.USD(96_000)}, domain.USD(70_080_000)},
		{"per GiB-month is already monthly", domain.Price{Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)}, domain.USD(80_000)},
		{"per month is already monthly", domain.Price{Unit: domain.UnitMonth, Amount: domain.USD(3_650_000)}, domain.USD(3_650_000)},
		{"currency is kept", domain.Price{Unit: domain.UnitHour, Amount: domain.Money{Micros: 1, Currency: "EUR"}}, domain.Money{Micros: 730, Currency: "EUR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Monthly(); got != tt.want {
				t.Errorf("Price{Unit: %q, Amount: %v}.Monthly() = %#v; want %#v", tt.p.Unit, tt.p.Amount, got, tt.want)
			}
		})
	}
}
