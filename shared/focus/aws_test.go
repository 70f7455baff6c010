package focus

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/parquet-go/parquet-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var updateAWS = flag.Bool("update-aws", false, "rewrite testdata/aws/golden/*.json from the current mapping")

// awsSample is one sample file of testdata/aws and what reading it must
// give.
type awsSample struct {
	file      string
	format    Format
	rows      int64
	rejected  map[Rule]int64
	container string // how the independent check reads it: csv, hive, parquet
	billed    string // the source's billed cost column, as spelled
	currency  string // the source's currency column, as spelled
}

var awsSamples = []awsSample{
	{file: "cur-legacy-focus-converters.csv", format: Format{FamilyAWSCUR, "legacy", ContainerCSV}, rows: 300,
		container: "csv", billed: "lineItem/UnblendedCost", currency: "lineItem/CurrencyCode"},
	{file: "koku-2022-07-01-alt-columns.csv", format: Format{FamilyAWSCUR, "legacy", ContainerCSV}, rows: 2,
		container: "csv", billed: "line_item_unblended_cost", currency: "line_item_currency_code"},
	{file: "koku-2023-06-01.csv", format: Format{FamilyAWSCUR, "legacy", ContainerCSV}, rows: 3,
		container: "csv", billed: "lineItem/UnblendedCost", currency: "lineItem/CurrencyCode"},
	{file: "koku-2023-06-01-not-final.csv", format: Format{FamilyAWSCUR, "legacy", ContainerCSV}, rows: 3,
		container: "csv", billed: "lineItem/UnblendedCost", currency: "lineItem/CurrencyCode"},
	{file: "koku-test_cur.csv", format: Format{FamilyAWSCUR, "legacy", ContainerCSV}, rows: 19,
		container: "csv", billed: "lineItem/UnblendedCost", currency: "lineItem/CurrencyCode"},
	{file: "step1cur-hive-slice.gz", format: Format{FamilyAWSCUR, "legacy", ContainerCSV}, rows: 500,
		container: "hive", billed: "line_item_unblended_cost", currency: "line_item_currency_code"},
	{file: "workshopcur-nov2018-slice.snappy.parquet", format: Format{FamilyAWSCUR, "legacy", ContainerParquet}, rows: 2000,
		container: "parquet", billed: "line_item_unblended_cost", currency: "line_item_currency_code"},
	{file: "workshopcur-dec2018-slice.snappy.parquet", format: Format{FamilyAWSCUR, "legacy", ContainerParquet}, rows: 300,
		container: "parquet", billed: "line_item_unblended_cost", currency: "line_item_currency_code"},
	// The constructed CUR 2.0 sample has one line item without a currency
	// code, which must be rejected.
	{file: "cur2-constructed.csv", format: Format{FamilyAWSCUR, "2.0", ContainerCSV}, rows: 18,
		rejected:  map[Rule]int64{RuleMissingValue: 1},
		container: "csv", billed: "line_item_unblended_cost", currency: "line_item_currency_code"},
}

// readAWS reads one file through Read and returns its summary and rows.
func readAWS(t testing.TB, path string) (*Summary, []domain.CostRow) {
	t.Helper()
	var rows []domain.CostRow
	sum, err := Read(context.Background(), FileInput(path), Options{BatchSize: 97}, func(b []domain.CostRow) error {
		rows = append(rows, b...)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%s) = %v", path, err)
	}
	return sum, rows
}

func TestCURSamples(t *testing.T) {
	for _, s := range awsSamples {
		t.Run(s.file, func(t *testing.T) {
			path := filepath.Join("testdata", "aws", s.file)
			sum, rows := readAWS(t, path)
			if sum.Format != s.format {
				t.Errorf("Read(%s).Format = %v; want %v", s.file, sum.Format, s.format)
			}
			var wantRejected int64
			for _, n := range s.rejected {
				wantRejected += n
			}
			if sum.Rows != s.rows || sum.Kept != s.rows-wantRejected || sum.Rejected != wantRejected {
				t.Errorf("Read(%s) rows/kept/rejected = %d/%d/%d; want %d/%d/%d", s.file, sum.Rows, sum.Kept, sum.Rejected, s.rows, s.rows-wantRejected, wantRejected)
			}
			if int64(len(rows)) != sum.Kept {
				t.Errorf("Read(%s) emitted %d rows; want %d", s.file, len(rows), sum.Kept)
			}
			gotRules := map[Rule]int64{}
			for r, n := range sum.ByRule {
				if n > 0 {
					gotRules[r] = n
				}
			}
			if diff := cmp.Diff(s.rejected, gotRules, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Read(%s).ByRule mismatch (-want +got):\n%s", s.file, diff)
			}
			if err := sum.Reconcile(); err != nil {
				t.Errorf("Read(%s).Reconcile() = %v; want nil", s.file, err)
			}

			// Independent check: the billed cost column summed per currency
			// straight from the file equals what was mapped.
			want := independentBilled(t, path, s)
			got := map[string]int64{}
			for cur, tot := range sum.Totals {
				got[cur] = tot.Kept[0] + tot.Rejected[0]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("billed cost per currency of %s (-source +mapped):\n%s", s.file, diff)
			}

			for i := range rows {
				checkAWSRow(t, s.file, &rows[i])
			}
			golden(t, s.file, rows)
		})
	}
}

// checkAWSRow checks what every mapped CUR row must have.
func checkAWSRow(t *testing.T, file string, r *domain.CostRow) {
	t.Helper()
	if r.XCloud != domain.AWS || r.ProviderName != "AWS" || r.XSourceFormat == "" {
		t.Errorf("%s: row %q: XCloud/ProviderName/XSourceFormat = %q/%q/%q", file, r.XChargeType, r.XCloud, r.ProviderName, r.XSourceFormat)
	}
	if r.InvoiceIssuerName == "" || r.PublisherName == "" || r.ServiceName == "" || r.ServiceCategory == "" || r.ChargeFrequency == "" {
		t.Errorf("%s: row %q lacks InvoiceIssuerName/PublisherName/ServiceName/ServiceCategory/ChargeFrequency: %q/%q/%q/%q/%q",
			file, r.XChargeType, r.InvoiceIssuerName, r.PublisherName, r.ServiceName, r.ServiceCategory, r.ChargeFrequency)
	}
	if !focusServiceCategories[r.ServiceCategory] {
		t.Errorf("%s: ServiceCategory %q is not a FOCUS 1.2 value", file, r.ServiceCategory)
	}
	for _, m := range []domain.Money{r.BilledCost, r.EffectiveCost, r.ListCost, r.ContractedCost, r.ListUnitPrice, r.ContractedUnitPrice} {
		if m.Currency != r.BillingCurrency {
			t.Errorf("%s: row %q has a %s amount in a %s row", file, r.XChargeType, m.Currency, r.BillingCurrency)
		}
	}
	switch r.PricingCategory {
	case "", "Standard", "Committed", "Dynamic", "Other":
	default:
		t.Errorf("%s: PricingCategory %q is not a FOCUS value", file, r.PricingCategory)
	}
}

var focusServiceCategories = map[string]bool{
	"AI and Machine Learning": true, "Analytics": true, "Business Applications": true, "Compute": true,
	"Databases": true, "Developer Tools": true, "Multicloud": true, "Identity": true, "Integration": true,
	"Internet of Things": true, "Management and Governance": true, "Media": true, "Migration": true,
	"Mobile": true, "Networking": true, "Security": true, "Storage": true, "Web": true, "Other": true,
}

// golden compares the first five mapped rows with testdata/aws/golden.
func golden(t *testing.T, file string, rows []domain.CostRow) {
	t.Helper()
	if len(rows) > 5 {
		rows = rows[:5]
	}
	path := filepath.Join("testdata", "aws", "golden", strings.TrimSuffix(strings.TrimSuffix(file, filepath.Ext(file)), ".snappy")+".json")
	got, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateAWS {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update-aws to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Map(first rows of %s) differ from %s (-want +got):\n%s", file, path, diff)
	}
}

// independentBilled sums the billed cost column of a sample per currency
// without the package's readers: encoding/csv (gzip for Hive text) or
// parquet-go directly, each amount rounded to micro-units half away from
// zero.
func independentBilled(t *testing.T, path string, s awsSample) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	add := func(cur, v string) {
		if v == "" || v == `\N` {
			return
		}
		out[cur] += decimalMicros(t, v)
	}
	switch s.container {
	case "csv", "hive":
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		var r io.Reader = fh
		if s.container == "hive" {
			zr, err := gzip.NewReader(fh)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		if s.container == "hive" {
			cr.Comma, cr.LazyQuotes = '\x01', true
		}
		recs, err := cr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		bi, ci := indexOf(recs[0], s.billed), indexOf(recs[0], s.currency)
		if bi < 0 || ci < 0 {
			t.Fatalf("%s lacks %s or %s", path, s.billed, s.currency)
		}
		for _, rec := range recs[1:] {
			add(field(rec, ci), field(rec, bi))
		}
	case "parquet":
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		st, _ := fh.Stat()
		pf, err := parquet.OpenFile(fh, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		bi, ci := -1, -1
		for i, p := range pf.Schema().Columns() {
			switch p[0] {
			case s.billed:
				bi = i
			case s.currency:
				ci = i
			}
		}
		for _, rg := range pf.RowGroups() {
			rows := rg.Rows()
			buf := make([]parquet.Row, 128)
			for {
				n, err := rows.ReadRows(buf)
				for _, row := range buf[:n] {
					add(row[ci].String(), strconv.FormatFloat(row[bi].Double(), 'f', -1, 64))
				}
				if err != nil {
					break
				}
			}
			rows.Close()
		}
	}
	return out
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if strings.TrimPrefix(n, "\ufeff") == name {
			return i
		}
	}
	return -1
}

func field(rec []string, i int) string {
	if i < len(rec) {
		return rec[i]
	}
	return ""
}

// decimalMicros reads a decimal (exponent allowed) exactly and rounds it
// to micro-units half away from zero.
func decimalMicros(t *testing.T, s string) int64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		t.Fatalf("not a number: %q", s)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	neg := r.Sign() < 0
	r.Abs(r)
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q.Int64()
}

// TestCURAmortization checks EffectiveCost, ContractedCost and the
// commitment columns on rows worked out by hand from the source values.
func TestCURAmortization(t *testing.T) {
	usd := func(micros int64) domain.Money { return domain.USD(micros) }
	type want struct {
		billed, effective, list, contracted domain.Money
		category, status, commitmentType    string
	}
	_, nov := readAWS(t, filepath.Join("testdata", "aws", "workshopcur-nov2018-slice.snappy.parquet"))
	_, cur2 := readAWS(t, filepath.Join("testdata", "aws", "cur2-constructed.csv"))
	first := func(rows []domain.CostRow, typ string) *domain.CostRow {
		for i := range rows {
			if rows[i].XChargeType == typ {
				return &rows[i]
			}
		}
		t.Fatalf("no %s row", typ)
		return nil
	}
	tests := []struct {
		name string
		row  *domain.CostRow
		want want
	}{
		// Parquet row 1: RIFee c4.large, unblended 21.6 (720 h × 0.03);
		// unused amortized upfront 21.61643836 + unused recurring 21.6.
		{"workshop RIFee", first(nov, "RIFee"), want{usd(21_600_000), usd(21_616_438 + 21_600_000), usd(0), usd(21_600_000),
			domain.ChargePurchase, "Unused", "Reserved Instance"}},
		// Parquet row 24: DiscountedUsage t2.micro, unblended 0,
		// reservation_effective_cost 0.0118, public on-demand 0.0162.
		{"workshop DiscountedUsage", first(nov, "DiscountedUsage"), want{usd(0), usd(11_800), usd(16_200), usd(16_200),
			domain.ChargeUsage, "Used", "Reserved Instance"}},
		{"CUR 2.0 SavingsPlanCoveredUsage", first(cur2, "SavingsPlanCoveredUsage"), want{usd(136_000), usd(95_200), usd(136_000), usd(136_000),
			domain.ChargeUsage, "Used", "Savings Plan"}},
		{"CUR 2.0 SavingsPlanNegation", first(cur2, "SavingsPlanNegation"), want{usd(-136_000), usd(0), usd(0), usd(0),
			domain.ChargeCredit, "", "Savings Plan"}},
		// total commitment 0.10 − used 0.0952.
		{"CUR 2.0 SavingsPlanRecurringFee", first(cur2, "SavingsPlanRecurringFee"), want{usd(100_000), usd(4_800), usd(0), usd(100_000),
			domain.ChargePurchase, "Unused", "Savings Plan"}},
		{"CUR 2.0 SavingsPlanUpfrontFee", first(cur2, "SavingsPlanUpfrontFee"), want{usd(876_000_000), usd(0), usd(0), usd(876_000_000),
			domain.ChargePurchase, "", "Savings Plan"}},
		{"CUR 2.0 DiscountedUsage", first(cur2, "DiscountedUsage"), want{usd(0), usd(57_500), usd(96_000), usd(96_000),
			domain.ChargeUsage, "Used", "Reserved Instance"}},
		// unused amortized upfront 2.75 + unused recurring 3.00.
		{"CUR 2.0 RIFee", first(cur2, "RIFee"), want{usd(22_320_000), usd(5_750_000), usd(0), usd(22_320_000),
			domain.ChargePurchase, "Unused", "Reserved Instance"}},
		{"CUR 2.0 RI upfront Fee", first(cur2, "Fee"), want{usd(240_900_000), usd(0), usd(0), usd(240_900_000),
			domain.ChargePurchase, "", "Reserved Instance"}},
		{"CUR 2.0 Tax", first(cur2, "Tax"), want{usd(12_340_000), usd(12_340_000), usd(0), usd(12_340_000),
			domain.ChargeTax, "", ""}},
		{"CUR 2.0 Credit", first(cur2, "Credit"), want{usd(-25_000_000), usd(-25_000_000), usd(0), usd(-25_000_000),
			domain.ChargeCredit, "", ""}},
		{"CUR 2.0 EdpDiscount", first(cur2, "EdpDiscount"), want{usd(-4_800), usd(-4_800), usd(0), usd(-4_800),
			domain.ChargeCredit, "", ""}},
		{"CUR 2.0 SppDiscount (not in the known list)", first(cur2, "SppDiscount"), want{usd(-1_900), usd(-1_900), usd(0), usd(-1_900),
			domain.ChargeCredit, "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.row
			got := want{r.BilledCost, r.EffectiveCost, r.ListCost, r.ContractedCost, r.ChargeCategory, r.CommitmentDiscountStatus, r.CommitmentDiscountType}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("Map(%s) mismatch (-want +got):\n%s", tc.name, diff)
			}
		})
	}

	// The spot line is Dynamic, the reservation-covered line Committed,
	// on-demand Standard.
	for _, r := range cur2 {
		if r.XUsageType == "USE1-SpotUsage:c5.large" && r.PricingCategory != "Dynamic" {
			t.Errorf("Map(spot usage).PricingCategory = %q; want Dynamic", r.PricingCategory)
		}
		if r.XUsageType == "BoxUsage:m6i.large" && r.XChargeType == "Usage" && r.PricingCategory != "Standard" {
			t.Errorf("Map(on-demand usage).PricingCategory = %q; want Standard", r.PricingCategory)
		}
	}
}

// TestCUR2Fields checks the columns only CUR 2.0 has: account names, the
// product map and the resource_tags map.
func TestCUR2Fields(t *testing.T) {
	_, rows := readAWS(t, filepath.Join("testdata", "aws", "cur2-constructed.csv"))
	r := rows[0]
	got := map[string]any{
		"BillingAccountName": r.BillingAccountName, "SubAccountName": r.SubAccountName, "ServiceName": r.ServiceName,
		"RegionId": r.RegionID, "Tags": r.Tags, "ChargePeriodStart": r.ChargePeriodStart, "SkuPriceId": r.SkuPriceID,
	}
	want := map[string]any{
		"BillingAccountName": "Example Corp Management", "SubAccountName": "example-prod", "ServiceName": "Amazon Elastic Compute Cloud",
		"RegionId": "us-east-1", "Tags": map[string]string{"team": "payments", "Environment": "prod", "aws:createdBy": "IAMUser:AIDAEXAMPLE:deploy"},
		"ChargePeriodStart": time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC), "SkuPriceId": "4NA7Y494T4ZZ4BBE.JRTCKXETXF.6YS6EN2CT7",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map(first CUR 2.0 row) mismatch (-want +got):\n%s", diff)
	}
	for _, r := range rows {
		if r.ServiceName == "Example Firewall (BYOL)" {
			if r.PublisherName != "Example ISV, Inc." || r.ServiceCategory != "Other" {
				t.Errorf("Map(marketplace row) PublisherName/ServiceCategory = %q/%q; want Example ISV, Inc./Other", r.PublisherName, r.ServiceCategory)
			}
		}
	}
}

// TestCURHeaderVariants maps the same line items written the ways other
// CUR versions and tools write them, and expects the same rows.
func TestCURHeaderVariants(t *testing.T) {
	src := filepath.Join("testdata", "aws", "cur-legacy-focus-converters.csv")
	recs := readCSVFile(t, src)[:41] // header + 40 line items (12 Tax, 28 Usage)
	// Give the rows resource tags, one column per tag as legacy CUR does.
	tagged := addColumns(recs, []string{"resourceTags/user:team", "resourceTags/aws:createdBy"}, func(i int) []string {
		if i%3 == 0 {
			return []string{"", ""}
		}
		return []string{fmt.Sprintf("team-%d", i%4), "AssumedRole:AROAEXAMPLE:ci"}
	})
	_, base := mapRecords(t, tagged)

	variants := map[string][][]string{
		"snake_case names": renameColumns(tagged, snakeCase),
		"reversed column order": reorder(tagged, func(n int) []int {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = n - 1 - i
			}
			return idx
		}),
		"extra unknown columns": addColumns(tagged, []string{"x_custom/Owner", "lineItem/NewFieldFrom2030", "product/someNewAttribute"}, func(i int) []string {
			return []string{"finops", "42", "yes"}
		}),
	}
	// Snake_case names lose the case and punctuation of tag keys
	// ("aws:createdBy" becomes "aws:created_by"); compare keys without them.
	tagKeys := cmp.Transformer("tagKeys", func(m map[string]string) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[strings.ReplaceAll(strings.ToLower(k), "_", "")] = v
		}
		return out
	})
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			_, got := mapRecords(t, v)
			if diff := cmp.Diff(base, got, tagKeys); diff != "" {
				t.Errorf("Map(%s) mismatch (-want +got):\n%s", name, diff)
			}
		})
	}

	// Tags as the CUR 2.0 resource_tags map instead of one column per tag.
	t.Run("tags as a JSON map", func(t *testing.T) {
		untagged := reorder(tagged, func(n int) []int {
			idx := make([]int, n-2)
			for i := range idx {
				idx[i] = i
			}
			return idx
		})
		asMap := addColumns(untagged, []string{"resource_tags"}, func(i int) []string {
			tags := map[string]string{}
			if v := tagged[i][len(tagged[i])-2]; v != "" {
				tags["user_team"] = v
			}
			if v := tagged[i][len(tagged[i])-1]; v != "" {
				tags["aws_createdBy"] = v
			}
			if len(tags) == 0 {
				return []string{""}
			}
			b, _ := json.Marshal(tags)
			return []string{string(b)}
		})
		format, got := mapRecords(t, asMap)
		if format.Version != "2.0" {
			t.Errorf("Format(header with resource_tags).Version = %q; want 2.0", format.Version)
		}
		ignoreFormat := cmpopts.IgnoreFields(domain.CostRow{}, "XSourceFormat")
		if diff := cmp.Diff(base, got, ignoreFormat); diff != "" {
			t.Errorf("Map(tags as JSON) mismatch (-want +got):\n%s", diff)
		}
	})

	// CUR 2.0 as Parquet, its map columns real Parquet MAPs, maps to the
	// same rows as the CSV delivery of the same export.
	t.Run("CUR 2.0 parquet with MAP columns", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cur2.parquet")
		writeCUR2Parquet(t, readCSVFile(t, filepath.Join("testdata", "aws", "cur2-constructed.csv")), path)
		sum, got := readAWS(t, path)
		_, want := readAWS(t, filepath.Join("testdata", "aws", "cur2-constructed.csv"))
		if sum.Format != (Format{FamilyAWSCUR, "2.0", ContainerParquet}) || sum.Rejected != 1 {
			t.Errorf("Read(cur2.parquet) format/rejected = %v/%d; want aws-cur 2.0 (parquet)/1", sum.Format, sum.Rejected)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Map(CUR 2.0 parquet) mismatch (-csv +parquet):\n%s", diff)
		}
	})
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// mapRecords writes records as CSV and reads them back through Read.
func mapRecords(t *testing.T, recs [][]string) (Format, []domain.CostRow) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	in := Input{Name: "variant.csv", Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
	var rows []domain.CostRow
	sum, err := Read(context.Background(), in, Options{}, func(b []domain.CostRow) error {
		rows = append(rows, b...)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(variant) = %v", err)
	}
	if sum.Rejected != 0 {
		t.Fatalf("Read(variant) rejected %d rows: %v", sum.Rejected, sum.Examples)
	}
	if err := sum.Reconcile(); err != nil {
		t.Fatal(err)
	}
	return sum.Format, rows
}

func addColumns(recs [][]string, names []string, values func(i int) []string) [][]string {
	out := make([][]string, len(recs))
	for i, r := range recs {
		row := append([]string(nil), r...)
		if i == 0 {
			row = append(row, names...)
		} else {
			row = append(row, values(i)...)
		}
		out[i] = row
	}
	return out
}

func renameColumns(recs [][]string, rename func(string) string) [][]string {
	out := append([][]string(nil), recs...)
	out[0] = make([]string, len(recs[0]))
	for i, n := range recs[0] {
		out[0][i] = rename(n)
	}
	return out
}

func reorder(recs [][]string, order func(n int) []int) [][]string {
	idx := order(len(recs[0]))
	out := make([][]string, len(recs))
	for i, r := range recs {
		row := make([]string, len(idx))
		for j, k := range idx {
			if k < len(r) {
				row[j] = r[k]
			}
		}
		out[i] = row
	}
	return out
}

// snakeCase spells a legacy CUR column the way the Athena/Parquet CUR
// does: "lineItem/UnblendedCost" → "line_item_unblended_cost",
// "resourceTags/user:team" → "resource_tags_user_team".
func snakeCase(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == '/' || r == ':':
			b.WriteByte('_')
		case unicode.IsUpper(r):
			if i > 0 && name[i-1] != '/' && name[i-1] != ':' && !unicode.IsUpper(rune(name[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeCUR2Parquet writes CUR 2.0 records as Parquet the way Data Exports
// does: every column an optional string, except the product,
// resource_tags, cost_category and discount maps.
func writeCUR2Parquet(t *testing.T, recs [][]string, path string) {
	t.Helper()
	header := recs[0]
	isMap := map[string]bool{"product": true, "resource_tags": true, "cost_category": true, "discount": true}
	fields := make([]reflect.StructField, len(header))
	for i, n := range header {
		f := reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: reflect.TypeFor[string](), Tag: reflect.StructTag(`parquet:"` + n + `,optional"`)}
		if isMap[n] {
			f.Type = reflect.TypeFor[map[string]string]()
			f.Tag = reflect.StructTag(`parquet:"` + n + `"`)
		}
		fields[i] = f
	}
	typ := reflect.StructOf(fields)
	schema := parquet.SchemaOf(reflect.New(typ).Elem().Interface())
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	w := parquet.NewWriter(fh, schema, parquet.Compression(&parquet.Snappy))
	for _, rec := range recs[1:] {
		v := reflect.New(typ).Elem()
		for i, n := range header {
			if isMap[n] {
				m := map[string]string{}
				if rec[i] != "" {
					if err := json.Unmarshal([]byte(rec[i]), &m); err != nil {
						t.Fatalf("column %s: %v", n, err)
					}
				}
				v.Field(i).Set(reflect.ValueOf(m))
				continue
			}
			v.Field(i).SetString(rec[i])
		}
		if err := w.Write(v.Interface()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCURDetect(t *testing.T) {
	legacy := []string{"identity/LineItemId", "bill/PayerAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
		"lineItem/UsageEndDate", "lineItem/UnblendedCost", "lineItem/CurrencyCode"}
	tests := []struct {
		name    string
		cols    []string
		version string
		err     bool
	}{
		{"legacy slash", legacy, "legacy", false},
		{"athena snake_case", []string{"identity_line_item_id", "bill_payer_account_id", "line_item_line_item_type",
			"line_item_usage_start_date", "line_item_usage_end_date", "line_item_unblended_cost", "line_item_currency_code",
			"resource_tags_user_name"}, "legacy", false},
		{"CUR 2.0 by account name", append(append([]string(nil), legacy...), "line_item_usage_account_name"), "2.0", false},
		{"CUR 2.0 by map column", append(append([]string(nil), legacy...), "product"), "2.0", false},
		{"time interval instead of usage dates", []string{"identity_time_interval", "bill_payer_account_id",
			"line_item_line_item_type", "line_item_unblended_cost", "line_item_currency_code"}, "legacy", false},
		{"no currency", []string{"bill/PayerAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate",
			"lineItem/UsageEndDate", "lineItem/UnblendedCost"}, "legacy", true},
		{"no dates", []string{"bill/PayerAccountId", "lineItem/LineItemType", "lineItem/UnblendedCost", "lineItem/CurrencyCode"}, "legacy", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHeader(tc.cols)
			if s := matchCUR(h); s <= 0 {
				t.Fatalf("matchCUR(%v) = %d; want > 0", tc.cols, s)
			}
			m, err := Detect(h)
			if tc.err {
				if !errors.Is(err, domain.ErrInvalid) {
					t.Errorf("Detect(%v) = %v; want an ErrInvalid naming the missing column", tc.cols, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Detect(%v) = %v", tc.cols, err)
			}
			if got := m.Format(); got != (Format{Family: FamilyAWSCUR, Version: tc.version}) {
				t.Errorf("Detect(%v).Format() = %v; want aws-cur %s", tc.cols, got, tc.version)
			}
		})
	}
	if s := matchCUR(NewHeader([]string{"BilledCost", "ChargePeriodStart", "ProviderName"})); s != 0 {
		t.Errorf("matchCUR(FOCUS header) = %d; want 0", s)
	}
}

func TestLineItemTypes(t *testing.T) {
	tests := []struct {
		typ, category string
	}{
		{"Usage", domain.ChargeUsage},
		{"DiscountedUsage", domain.ChargeUsage},
		{"SavingsPlanCoveredUsage", domain.ChargeUsage},
		{"SavingsPlanNegation", domain.ChargeCredit},
		{"Fee", domain.ChargePurchase},
		{"RIFee", domain.ChargePurchase},
		{"SavingsPlanRecurringFee", domain.ChargePurchase},
		{"SavingsPlanUpfrontFee", domain.ChargePurchase},
		{"Tax", domain.ChargeTax},
		{"Credit", domain.ChargeCredit},
		{"Refund", domain.ChargeCredit},
		{"Discount", domain.ChargeCredit},
		{"BundledDiscount", domain.ChargeCredit},
		{"EdpDiscount", domain.ChargeCredit},
		{"PrivateRateDiscount", domain.ChargeCredit},
		{"DistributorDiscount", domain.ChargeCredit},
		{"SomeTypeFrom2030", domain.ChargeUsage},
	}
	header := []string{"bill/PayerAccountId", "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
		"lineItem/UnblendedCost", "lineItem/CurrencyCode"}
	h := NewHeader(header)
	m, err := newCURMapper(h)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		f := &Fields{rec: []string{"123456789012", tc.typ, "2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z", "1.5", "USD"}, header: h, layouts: &timeLayouts{}}
		var row domain.CostRow
		m.Map(f, &row)
		check(f, &row)
		if row.ChargeCategory != tc.category || row.XChargeType != tc.typ || len(f.problems) != 0 {
			t.Errorf("Map(LineItemType %s) = category %q, XChargeType %q, problems %v; want %q, %q, none",
				tc.typ, row.ChargeCategory, row.XChargeType, f.problems, tc.category, tc.typ)
		}
	}
}

func TestAWSCategoryTable(t *testing.T) {
	if n := len(awsCategories()); n < 300 {
		t.Errorf("len(awsCategories()) = %d; want the whole embedded table (over 300 keys)", n)
	}
	for _, tc := range []struct {
		codes []string
		want  string
	}{
		{[]string{"AmazonEC2"}, "Compute"},
		{[]string{"AmazonS3"}, "Storage"},
		{[]string{"amazons3"}, "Storage"},
		{[]string{"awskms"}, "Security"},
		{[]string{"AWSDataTransfer"}, "Networking"},
		{[]string{"", "AmazonRDS"}, "Databases"},
		{[]string{"prodview-unknown", ""}, "Other"},
		{[]string{"Amazon EC2 Spot Instances"}, "Compute"},
	} {
		if got := awsServiceCategory(tc.codes...); got != tc.want {
			t.Errorf("awsServiceCategory(%q) = %q; want %q", tc.codes, got, tc.want)
		}
	}
}

func TestAWSResourceType(t *testing.T) {
	for id, want := range map[string]string{
		"i-0a1b2c3d4e5f67890": "instance",
		"vol-0123":            "volume",
		"arn:aws:ec2:us-east-1:589173575009:instance/i-055386473d0b3fc65": "instance",
		"arn:aws:lambda:us-east-1:123456789012:function:my-fn":            "function",
		"arn:aws:s3:::bucket": "",
		"example-logs-bucket": "",
		"":                    "",
	} {
		if got := awsResourceType(id); got != want {
			t.Errorf("awsResourceType(%q) = %q; want %q", id, got, want)
		}
	}
}

func TestJSONStringField(t *testing.T) {
	for _, tc := range []struct{ obj, key, want string }{
		{`{"product_name":"Amazon S3","region":"us-east-1"}`, "product_name", "Amazon S3"},
		{`{"region": "eu-west-1", "product_name" : "AWS Lambda"}`, "product_name", "AWS Lambda"},
		{`{"x":"product_name","product_name":"A \"quoted\" name"}`, "product_name", `A "quoted" name`},
		{`{"vcpu":"2"}`, "product_name", ""},
		{`{"product_name":2}`, "product_name", ""},
		{`{"product_name":"unterminated`, "product_name", ""},
	} {
		if got := jsonStringField(tc.obj, tc.key); got != tc.want {
			t.Errorf("jsonStringField(%s, %q) = %q; want %q", tc.obj, tc.key, got, tc.want)
		}
	}
}

// BenchmarkCURMap maps one realistic legacy CUR line item (an EC2
// reservation-covered hour from the WorkshopCUR Parquet slice, read as
// text) per iteration; ns/op is ns per row.
func BenchmarkCURMap(b *testing.B) {
	path := filepath.Join("testdata", "aws", "workshopcur-nov2018-slice.snappy.parquet")
	fh, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	src, cleanup, err := openRecords(context.Background(), path, fh, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	h := NewHeader(src.header())
	var rec []string
	for {
		r, _, err := src.next()
		if err != nil {
			b.Fatal(err)
		}
		if field(r, h.Index("line_item_line_item_type")) == "DiscountedUsage" {
			rec = append([]string(nil), r...)
			break
		}
	}
	m, err := newCURMapper(h)
	if err != nil {
		b.Fatal(err)
	}
	f := &Fields{rec: rec, header: h, layouts: &timeLayouts{}}
	var row domain.CostRow
	b.ReportAllocs()
	for b.Loop() {
		f.problems = f.problems[:0]
		row = domain.CostRow{}
		m.Map(f, &row)
	}
	if len(f.problems) != 0 || row.EffectiveCost.Micros == 0 {
		b.Fatalf("Map(benchmark row) = %+v, problems %v", row, f.problems)
	}
}

// TestCURTimeInterval reads the charge period from identity/TimeInterval
// when the usage dates are absent or empty.
func TestCURTimeInterval(t *testing.T) {
	h := NewHeader([]string{"bill_payer_account_id", "line_item_line_item_type", "line_item_unblended_cost",
		"line_item_currency_code", "identity_time_interval", "line_item_usage_start_date", "line_item_usage_end_date"})
	m, err := newCURMapper(h)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rec        []string
		start, end time.Time
		rule       Rule
	}{
		{[]string{"1", "Usage", "1", "USD", "2024-03-05T10:00:00Z/2024-03-05T11:00:00Z", "", ""},
			time.Date(2024, 3, 5, 10, 0, 0, 0, time.UTC), time.Date(2024, 3, 5, 11, 0, 0, 0, time.UTC), ""},
		{[]string{"1", "Usage", "1", "USD", "2024-03-05T10:00:00Z/2024-03-05T11:00:00Z", "2024-03-05 10:30:00", "2024-03-05 10:45:00"},
			time.Date(2024, 3, 5, 10, 30, 0, 0, time.UTC), time.Date(2024, 3, 5, 10, 45, 0, 0, time.UTC), ""},
		{[]string{"1", "Usage", "1", "USD", "2024-03-05T10:00:00Z", "", ""}, time.Time{}, time.Time{}, RuleBadTime},
	}
	for _, tc := range tests {
		f := &Fields{rec: tc.rec, header: h, layouts: &timeLayouts{}}
		var row domain.CostRow
		m.Map(f, &row)
		var rule Rule
		if len(f.problems) > 0 {
			rule = f.problems[0].Rule
		}
		if !row.ChargePeriodStart.Equal(tc.start) || !row.ChargePeriodEnd.Equal(tc.end) || rule != tc.rule {
			t.Errorf("Map(%q) charge period = %v – %v, problem %q; want %v – %v, %q", tc.rec, row.ChargePeriodStart, row.ChargePeriodEnd, rule, tc.start, tc.end, tc.rule)
		}
	}
}
