package focus

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// focusHeader is the FOCUS 1.0 sample's header, cut to the columns the
// bad-input cases need.
const focusHeader = "BillingAccountId,SubAccountId,ProviderName,BillingCurrency,BilledCost,EffectiveCost,ListCost,ContractedCost,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,BillingPeriodStart,BillingPeriodEnd,ResourceId,ServiceName,Tags\n"

func focusLine(cur, billed, start, end string) string {
	return "111,222,AWS," + cur + "," + billed + "," + billed + "," + billed + "," + billed + ",Usage," + start + "," + end + ",2024-09-01,2024-10-01,i-1,Amazon EC2,\n"
}

func bytesInput(name string, b []byte) Input {
	return Input{Name: name, Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

func readAll(t *testing.T, in Input) (*Summary, []domain.CostRow, error) {
	t.Helper()
	var rows []domain.CostRow
	sum, err := Read(context.Background(), in, Options{BatchSize: 3}, func(b []domain.CostRow) error {
		rows = append(rows, b...)
		return nil
	})
	return sum, rows, err
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestUnreadableFiles checks that every file that cannot be read fails
// with an error naming the file and where it broke, and no summary.
func TestUnreadableFiles(t *testing.T) {
	good := []byte(focusHeader + focusLine("USD", "1.5", "2024-09-18T22:00:00Z", "2024-09-18T23:00:00Z"))
	var many bytes.Buffer
	many.WriteString(focusHeader)
	for range 2000 {
		many.WriteString(focusLine("USD", "1.5", "2024-09-18T22:00:00Z", "2024-09-18T23:00:00Z"))
	}
	full := gz(t, many.Bytes())
	var wrongSchema bytes.Buffer
	pw := parquet.NewGenericWriter[struct {
		Host string  `parquet:"host"`
		CPU  float64 `parquet:"cpu"`
	}](&wrongSchema)
	pw.Write([]struct {
		Host string  `parquet:"host"`
		CPU  float64 `parquet:"cpu"`
	}{{"a", 1}})
	pw.Close()

	for _, tt := range []struct {
		name string
		data []byte
		want []string
		kind error
	}{
		{"truncated.csv.gz", full[:len(full)/2], []string{"truncated.csv.gz", "gzip"}, nil},
		{"broken-quote.csv", []byte(focusHeader + `111,222,AWS,USD,"1.5,1.5,1.5,1.5,Usage,2024-09-18T22:00:00Z` + "\n"), []string{"broken-quote.csv", "line 2", "quot"}, domain.ErrInvalid},
		{"bare-quote.csv", []byte(focusHeader + `111,222,AW"S,USD,1.5,1.5,1.5,1.5,Usage,2024-09-18T22:00:00Z,2024-09-18T23:00:00Z,2024-09-01,2024-10-01,i-1,EC2,` + "\n"), []string{"bare-quote.csv", "line 2", "column"}, domain.ErrInvalid},
		{"too-many-fields.csv", []byte(focusHeader + strings.TrimSuffix(focusLine("USD", "1", "2024-09-18", "2024-09-19"), "\n") + ",extra\n"), []string{"too-many-fields.csv", "line 2", "17 fields"}, domain.ErrInvalid},
		{"wrong-schema.parquet", wrongSchema.Bytes(), []string{"wrong-schema.parquet", "host", "cpu"}, domain.ErrUnsupported},
		{"not-parquet.parquet", append([]byte("PAR1"), good...), []string{"not-parquet.parquet", "Parquet"}, domain.ErrInvalid},
		{"empty.csv", nil, []string{"empty.csv", "empty"}, domain.ErrInvalid},
		// Found by FuzzRead: an unclosed quote on the first data line once
		// made the reader panic instead of failing.
		{"quote-after-header.csv", []byte(focusHeader + "\""), []string{"quote-after-header.csv", "line 2"}, domain.ErrInvalid},
		{"hostile.jsonl", []byte(`{"usage_start_time": "2024-09-01"` + "\n"), []string{"hostile.jsonl", "line 1"}, domain.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sum, rows, err := readAll(t, bytesInput(tt.name, tt.data))
			if err == nil {
				t.Fatalf("Read(%s) = %d rows, %+v; want an error", tt.name, len(rows), sum)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Read(%s) error %q does not say %q", tt.name, err, w)
				}
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("Read(%s) error %v is not %v", tt.name, err, tt.kind)
			}
			if sum != nil {
				t.Errorf("Read(%s) returned a summary with its error", tt.name)
			}
		})
	}
}

// TestMessyValues checks the real world's spellings: thousands
// separators, NULL strings, several timestamp layouts in one file, a
// currency change mid-file; and that rows breaking a rule are counted per
// rule with the file, line and column, and left out of both the rows
// and the kept totals.
func TestMessyValues(t *testing.T) {
	csv := focusHeader +
		focusLine("USD", `"1,234.50"`, "2024-09-18T22:00:00Z", "2024-09-18T23:00:00Z") + // 2
		focusLine("USD", "NULL", "2024-09-18 22:00:00", "2024-09-18 23:00:00") + // 3: NULL cost reads as zero
		focusLine("EUR", "2.25", "09/18/2024", "09/19/2024") + // 4: another currency mid-file
		focusLine("EUR", "0.75", "2024-09-18T22:00:00.000+02:00", "2024-09-18T21:00:00Z") + // 5
		focusLine("USD", "abc", "2024-09-18", "2024-09-19") + // 6: non-numeric
		focusLine("USD", "5", "2024-09-19", "2024-09-18") + // 7: start after end
		focusLine("XYZ", "5", "2024-09-18", "2024-09-19") + // 8: unknown currency
		focusLine("USD", "5", "18.09.2024 noon", "2024-09-19") + // 9: bad timestamp
		focusLine("USD", `"1.234,50"`, "2024-09-18", "2024-09-19") + // 10: decimal comma is not guessed
		"\n" // a trailing blank line is not a row
	sum, rows, err := readAll(t, bytesInput("messy.csv", []byte(csv)))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 9 || sum.Kept != 4 || sum.Rejected != 5 {
		t.Fatalf("Read(messy.csv) rows/kept/rejected = %d/%d/%d; want 9/4/5", sum.Rows, sum.Kept, sum.Rejected)
	}
	wantRules := map[Rule]int64{RuleNonNumeric: 2, RulePeriodOrder: 1, RuleUnknownCurrency: 1, RuleBadTime: 1}
	if diff := cmp.Diff(wantRules, sum.ByRule); diff != "" {
		t.Errorf("rejected rows per rule (-want +got):\n%s", diff)
	}
	gotAt := map[int64]string{}
	for _, p := range sum.Examples {
		if p.File != "messy.csv" {
			t.Errorf("problem %v names file %q", p, p.File)
		}
		if _, seen := gotAt[p.Line]; !seen {
			gotAt[p.Line] = string(p.Rule) + " " + p.Column
		}
	}
	wantAt := map[int64]string{6: "non_numeric BilledCost", 7: "start_after_end ChargePeriodStart", 8: "unknown_currency BillingCurrency",
		9: "bad_timestamp ChargePeriodStart", 10: "non_numeric BilledCost"}
	if diff := cmp.Diff(wantAt, gotAt); diff != "" {
		t.Errorf("problems by line (-want +got):\n%s", diff)
	}
	type got struct {
		Billed     domain.Money
		Start, End time.Time
	}
	var g []got
	for _, r := range rows {
		g = append(g, got{r.BilledCost, r.ChargePeriodStart, r.ChargePeriodEnd})
	}
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	want := []got{
		{domain.Money{Micros: 1_234_500_000, Currency: "USD"}, at("2024-09-18T22:00:00Z"), at("2024-09-18T23:00:00Z")},
		{domain.Money{Micros: 0, Currency: "USD"}, at("2024-09-18T22:00:00Z"), at("2024-09-18T23:00:00Z")},
		{domain.Money{Micros: 2_250_000, Currency: "EUR"}, at("2024-09-18T00:00:00Z"), at("2024-09-19T00:00:00Z")},
		{domain.Money{Micros: 750_000, Currency: "EUR"}, at("2024-09-18T20:00:00Z"), at("2024-09-18T21:00:00Z")},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("kept rows (-want +got):\n%s", diff)
	}
	if sum.Totals["USD"].Kept[0] != 1_234_500_000 || sum.Totals["EUR"].Kept[0] != 3_000_000 {
		t.Errorf("kept BilledCost per currency: USD %d, EUR %d micros", sum.Totals["USD"].Kept[0], sum.Totals["EUR"].Kept[0])
	}
	if sum.Totals["USD"].Rejected[0] != 10_000_000 || sum.Totals["XYZ"].Rejected[0] != 5_000_000 {
		t.Errorf("rejected BilledCost: USD %d, XYZ %d micros; want the rows that parsed counted", sum.Totals["USD"].Rejected[0], sum.Totals["XYZ"].Rejected[0])
	}
	if err := sum.Reconcile(); err != nil {
		t.Error(err)
	}
}

// TestReconcileCatchesLostRows checks that Reconcile can fail: a summary
// whose kept and rejected totals do not add up to what was mapped, or
// whose mapped total differs from the source column's, is reported.
func TestReconcileCatchesLostRows(t *testing.T) {
	s := &Summary{File: "x.csv", Totals: map[string]*Totals{"USD": {In: Amounts{5, 5, 5, 5}, Kept: Amounts{4, 5, 5, 5}}}}
	if err := s.Reconcile(); err == nil || !strings.Contains(err.Error(), "USD BilledCost") {
		t.Errorf("Reconcile(lost row) = %v; want an error naming USD BilledCost", err)
	}
	s = &Summary{File: "x.csv", Totals: map[string]*Totals{"EUR": {In: Amounts{5}, Kept: Amounts{5}, Source: Amounts{6}, HasSrc: [4]bool{true}}}}
	if err := s.Reconcile(); err == nil || !strings.Contains(err.Error(), "source column") {
		t.Errorf("Reconcile(source differs) = %v; want an error", err)
	}
}

// TestGzipAndPlainReadAlike checks that compression changes nothing but
// the bytes read.
func TestGzipAndPlainReadAlike(t *testing.T) {
	data := []byte(focusHeader + focusLine("USD", "1.5", "2024-09-18T22:00:00Z", "2024-09-18T23:00:00Z") + focusLine("USD", "2", "2024-09-18T23:00:00Z", "2024-09-19T00:00:00Z"))
	dir := t.TempDir()
	plain, zipped := filepath.Join(dir, "a.csv"), filepath.Join(dir, "a.csv.gz")
	os.WriteFile(plain, data, 0o644)
	os.WriteFile(zipped, gz(t, data), 0o644)
	s1, r1, err1 := readAll(t, FileInput(plain))
	s2, r2, err2 := readAll(t, FileInput(zipped))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if diff := cmp.Diff(r1, r2); diff != "" {
		t.Errorf("gzip rows differ (-plain +gzip):\n%s", diff)
	}
	if s1.Bytes != int64(len(data)) || s2.Bytes >= s1.Bytes+64 || s1.Kept != 2 || s2.Kept != 2 {
		t.Errorf("bytes read: plain %d, gzip %d; kept %d, %d", s1.Bytes, s2.Bytes, s1.Kept, s2.Kept)
	}
}

func TestStripNumber(t *testing.T) {
	for in, want := range map[string]string{
		"1,234.50": "1234.50", "$1,013.79": "1013.79", "(12.5)": "-12.5", "-$3": "-3", "1,234,567": "1234567",
		"1.234,50": "", "12,34": "", "abc": "", "": "", "$": "",
	} {
		got, ok := stripNumber(in)
		if (want == "") == ok || got != want {
			t.Errorf("stripNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
