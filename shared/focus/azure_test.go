package focus

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var updateAzure = flag.Bool("update-azure", false, "rewrite testdata/azure/golden/*.json from the current mapping")

// azureSample is one file of testdata/azure (see SOURCES.md there) and
// what reading it must give.
type azureSample struct {
	file string
	// version is the Version Read reports: it is fixed from the header
	// before any row is read. evidence is the Version the mapper reports
	// once it has seen every row.
	version, evidence       string
	rows, kept, rejected    int64
	byRule                  map[Rule]int64
	currencies              []string
	billed, effective, list map[string]int64 // mapped totals, kept + rejected, in micro-units
}

var azureSamples = []azureSample{
	{file: "ea-actual-finops-toolkit.csv", version: "ea-v2 (actual or amortized: unknown)", evidence: "ea-v2 (actual)",
		rows: 11, kept: 11, currencies: []string{"USD"},
		billed: map[string]int64{"USD": 8_545_008}, effective: map[string]int64{"USD": 5_295_008}, list: map[string]int64{"USD": 5_295_008}},
	{file: "ea-amortized-finops-toolkit.csv", version: "ea-v2 (actual or amortized: unknown)", evidence: "ea-v2 (amortized)",
		rows: 28, kept: 28, currencies: []string{"USD"},
		billed: map[string]int64{"USD": 15_797_782}, effective: map[string]int64{"USD": 16_296_934}, list: map[string]int64{"USD": 15_811_130}},
	{file: "ea-focus-converters.csv", version: "ea-v2 (actual or amortized: unknown)", evidence: "ea-v2 (actual or amortized: unknown)",
		rows: 27, kept: 27, currencies: []string{"CAD"},
		billed: map[string]int64{"CAD": 1_261_368}, effective: map[string]int64{"CAD": 1_261_368}, list: map[string]int64{"CAD": 591_597}},
	// koku's v2 test file bills in "MC", not an ISO 4217 code: every row
	// is rightly rejected, its amounts still counted.
	{file: "koku-v2.csv", version: "ea-v2 (actual or amortized: unknown)", evidence: "ea-v2 (actual or amortized: unknown)",
		rows: 5, kept: 0, rejected: 5, byRule: map[Rule]int64{RuleUnknownCurrency: 5}, currencies: []string{"MC"},
		billed: map[string]int64{"MC": 19_998_414}, effective: map[string]int64{"MC": 19_998_414}, list: map[string]int64{"MC": 0}},
	{file: "koku-v2-camelcase-mca.csv", version: "mca-v2 (actual or amortized: unknown)", evidence: "mca-v2 (actual or amortized: unknown)",
		rows: 4, kept: 4, currencies: []string{"USD"},
		billed: map[string]int64{"USD": 26}, effective: map[string]int64{"USD": 26}, list: map[string]int64{"USD": 26}},
	{file: "koku-v1-camelcase.csv", version: "v1", evidence: "v1",
		rows: 3, kept: 3, currencies: []string{"USD"},
		billed: map[string]int64{"USD": 110}, effective: map[string]int64{"USD": 110}, list: map[string]int64{"USD": 0}},
	{file: "koku-costreport.csv", version: "costreport", evidence: "costreport",
		rows: 3, kept: 3, currencies: []string{"USD"},
		billed: map[string]int64{"USD": 110}, effective: map[string]int64{"USD": 110}, list: map[string]int64{"USD": 0}},
}

func azurePath(file string) string { return filepath.Join("testdata", "azure", file) }

// azureRead reads a file through Read and returns its summary and kept rows.
func azureRead(t testing.TB, in Input) (*Summary, []domain.CostRow) {
	t.Helper()
	var rows []domain.CostRow
	sum, err := Read(context.Background(), in, Options{}, func(b []domain.CostRow) error {
		rows = append(rows, b...)
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%s) = %v", in.Name, err)
	}
	return sum, rows
}

// azureCSV reads a CSV file with encoding/csv: its header (byte-order mark
// removed) and records.
func azureCSV(t testing.TB, path string) ([]string, [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return recs[0], recs[1:]
}

// azureCol returns the position of the first of names in header, compared
// case-insensitively, or -1.
func azureCol(header []string, names ...string) int {
	for _, n := range names {
		for i, h := range header {
			if strings.EqualFold(h, n) {
				return i
			}
		}
	}
	return -1
}

// azureMicros reads a decimal ("0.000011139", "5.64902E-05") exactly and
// rounds it to micro-units, half away from zero.
func azureMicros(t testing.TB, s string) int64 {
	t.Helper()
	if s == "" {
		return 0
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("not a decimal: %q", s)
	}
	r.Mul(r, big.NewRat(1_000_000, 1))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Abs(rem).Lsh(rem, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(r.Sign())))
	}
	return q.Int64()
}

// azureIndependent sums a sample's cost column per currency straight from
// the CSV, apart from the package: all rows (the cost column as written),
// the billed rows (all but commitment-covered usage and unused
// commitment, which the commitment's purchase paid for) and the effective
// rows (all but commitment purchases and refunds, which are amortized).
func azureIndependent(t *testing.T, file string) (all, billed, effective map[string]int64) {
	t.Helper()
	header, recs := azureCSV(t, azurePath(file))
	cost := azureCol(header, "CostInBillingCurrency", "Cost", "PreTaxCost")
	cur := azureCol(header, "BillingCurrency", "BillingCurrencyCode", "Currency")
	ct, pm := azureCol(header, "ChargeType"), azureCol(header, "PricingModel")
	if cost < 0 || cur < 0 {
		t.Fatalf("%s: no cost or currency column", file)
	}
	get := func(rec []string, i int) string {
		if i < 0 {
			return ""
		}
		return rec[i]
	}
	all, billed, effective = map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, rec := range recs {
		c, v := rec[cur], azureMicros(t, rec[cost])
		all[c] += v
		commitment := get(rec, pm) == "Reservation" || get(rec, pm) == "SavingsPlan"
		switch typ := get(rec, ct); {
		case strings.HasPrefix(typ, "Unused"), commitment && typ == "Usage":
			billed[c] += 0
			effective[c] += v
		case commitment && (typ == "Purchase" || typ == "Refund"):
			billed[c] += v
			effective[c] += 0
		default:
			billed[c] += v
			effective[c] += v
		}
	}
	return all, billed, effective
}

var azureFOCUSCategories = map[string]bool{
	"AI and Machine Learning": true, "Analytics": true, "Business Applications": true, "Compute": true,
	"Databases": true, "Developer Tools": true, "Multicloud": true, "Identity": true, "Integration": true,
	"Internet of Things": true, "Management and Governance": true, "Media": true, "Migration": true,
	"Mobile": true, "Networking": true, "Security": true, "Storage": true, "Web": true, "Other": true,
}

func TestAzureSamples(t *testing.T) {
	for _, s := range azureSamples {
		t.Run(s.file, func(t *testing.T) {
			sum, rows := azureRead(t, FileInput(azurePath(s.file)))
			// The summary reports what the rows showed (actual or amortized).
			if want := (Format{FamilyAzure, s.evidence, ContainerCSV}); sum.Format != want {
				t.Errorf("Read(%s).Format = %v; want %v", s.file, sum.Format, want)
			}
			if sum.Rows != s.rows || sum.Kept != s.kept || sum.Rejected != s.rejected {
				t.Errorf("Read(%s) rows/kept/rejected = %d/%d/%d; want %d/%d/%d", s.file,
					sum.Rows, sum.Kept, sum.Rejected, s.rows, s.kept, s.rejected)
			}
			wantRules := s.byRule
			if wantRules == nil {
				wantRules = map[Rule]int64{}
			}
			if diff := cmp.Diff(wantRules, sum.ByRule); diff != "" {
				t.Errorf("Read(%s).ByRule mismatch (-want +got):\n%s", s.file, diff)
			}
			if err := sum.Reconcile(); err != nil {
				t.Errorf("Read(%s).Reconcile() = %v; want nil", s.file, err)
			}
			if got := sortedKeys(sum.Totals); !cmp.Equal(got, s.currencies) {
				t.Errorf("Read(%s) currencies = %v; want %v", s.file, got, s.currencies)
			}

			// The independent check: the cost column summed per currency
			// by encoding/csv and big.Rat.
			all, billed, effective := azureIndependent(t, s.file)
			for cur, tot := range sum.Totals {
				if got := tot.Kept[0] + tot.Rejected[0]; got != billed[cur] {
					t.Errorf("%s %s BilledCost kept+rejected = %d; the source's billed rows sum to %d", s.file, cur, got, billed[cur])
				}
				if got := tot.Kept[1] + tot.Rejected[1]; got != effective[cur] {
					t.Errorf("%s %s EffectiveCost kept+rejected = %d; the source's effective rows sum to %d", s.file, cur, got, effective[cur])
				}
				if got := tot.In[0]; got != s.billed[cur] {
					t.Errorf("%s %s BilledCost = %d; want %d", s.file, cur, got, s.billed[cur])
				}
				if got := tot.In[1]; got != s.effective[cur] {
					t.Errorf("%s %s EffectiveCost = %d; want %d", s.file, cur, got, s.effective[cur])
				}
				if got := tot.In[2]; got != s.list[cur] {
					t.Errorf("%s %s ListCost = %d; want %d", s.file, cur, got, s.list[cur])
				}
			}
			// In an actual export covered usage costs 0, so the cost
			// column is the billed cost; in the amortized one it is the
			// effective cost.
			switch s.evidence {
			case "ea-v2 (actual)":
				if !cmp.Equal(all, billed) {
					t.Errorf("%s: cost column %v; billed rows %v: an actual export's cost column is what was billed", s.file, all, billed)
				}
			case "ea-v2 (amortized)":
				if !cmp.Equal(all, effective) {
					t.Errorf("%s: cost column %v; effective rows %v: an amortized export's cost column is the effective cost", s.file, all, effective)
				}
			}

			for i := range rows {
				azureCheckRow(t, s.file, &rows[i])
			}
			azureGolden(t, s)
		})
	}
}

// azureCheckRow checks what every kept Azure row must have.
func azureCheckRow(t *testing.T, file string, r *domain.CostRow) {
	t.Helper()
	switch {
	case r.XCloud != domain.Azure || r.ProviderName != "Microsoft" || r.InvoiceIssuerName == "":
		t.Errorf("%s: row cloud/provider/issuer = %q/%q/%q; want azure/Microsoft/set", file, r.XCloud, r.ProviderName, r.InvoiceIssuerName)
	case r.BillingPeriodStart.IsZero() || !r.BillingPeriodEnd.After(r.BillingPeriodStart) || r.BillingPeriodStart.Day() != 1:
		t.Errorf("%s: billing period %v - %v; want a calendar month", file, r.BillingPeriodStart, r.BillingPeriodEnd)
	case r.ChargePeriodEnd.Sub(r.ChargePeriodStart) != 24*time.Hour:
		t.Errorf("%s: charge period %v - %v; want one day", file, r.ChargePeriodStart, r.ChargePeriodEnd)
	case !azureFOCUSCategories[r.ServiceCategory]:
		t.Errorf("%s: ServiceCategory %q is not a FOCUS 1.2 value", file, r.ServiceCategory)
	case r.SubAccountID == "" || r.BillingAccountID == "":
		t.Errorf("%s: SubAccountId %q, BillingAccountId %q; want both", file, r.SubAccountID, r.BillingAccountID)
	}
	for _, m := range []domain.Money{r.BilledCost, r.EffectiveCost, r.ListCost, r.ContractedCost, r.ListUnitPrice, r.ContractedUnitPrice} {
		if m.Currency != r.BillingCurrency {
			t.Errorf("%s: amount %v in a %s row", file, m, r.BillingCurrency)
		}
	}
}

// azureMapped is one record mapped without Read: the row and the problems
// the rules found, so rejected rows can be inspected too.
type azureMapped struct {
	Row      domain.CostRow `json:"row"`
	Problems []Problem      `json:"problems,omitempty"`
}

// azureMapFile maps every record of a file with the mapper its header is
// detected as and returns the mapper (whose Format has seen every row).
func azureMapFile(t testing.TB, path string) (Mapper, []azureMapped) {
	t.Helper()
	header, recs := azureCSV(t, path)
	h := NewHeader(header)
	m, err := Detect(h)
	if err != nil {
		t.Fatalf("Detect(%s) = %v", path, err)
	}
	f := &Fields{header: h, layouts: &timeLayouts{}}
	out := make([]azureMapped, len(recs))
	for i, rec := range recs {
		f.rec, f.problems = rec, nil
		m.Map(f, &out[i].Row)
		check(f, &out[i].Row)
		out[i].Problems = f.problems
	}
	return m, out
}

// azureGolden compares the first five records of a sample, mapped and
// checked, with testdata/azure/golden/<file>.json.
func azureGolden(t *testing.T, s azureSample) {
	t.Helper()
	m, mapped := azureMapFile(t, azurePath(s.file))
	if got := m.Format().Version; got != s.evidence {
		t.Errorf("Format() after mapping every row of %s = %q; want %q", s.file, got, s.evidence)
	}
	if len(mapped) > 5 {
		mapped = mapped[:5]
	}
	got, err := json.MarshalIndent(mapped, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "azure", "golden", strings.TrimSuffix(s.file, ".csv")+".json")
	if *updateAzure {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update-azure to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Map(first rows of %s) = got; want %s (-want +got):\n%s", s.file, path, diff)
	}
}

// TestAzureActualAmortized checks the actual and amortized exports of the
// same EA enrollment and month (September 2023) against each other.
//
// The two files are small slices, not whole exports: the actual one has
// 11 rows, the amortized one 28. Ten rows are in both, identical in every
// column (on-demand usage). The actual file's 11th row is a monthly
// reservation payment (Purchase, 3.25 USD); amortized exports have no
// purchase rows, and the slice holds no usage of that reservation. The
// amortized file's other 18 rows (among them usage covered by a
// reservation and by a savings plan) are not in the actual slice.
//
// So what the data lets the two agree on: the ten shared rows map to the
// same costs in both; the purchase is billed but has no effective cost
// (it is amortized over what it covers); hence the actual file's total
// EffectiveCost equals the amortized file's EffectiveCost over the shared
// rows. The whole-file totals differ (5.295008 against 16.296934 USD)
// only because the slices differ; over a whole month they would differ
// too, by the amortized commitment cost an actual export cannot show.
func TestAzureActualAmortized(t *testing.T) {
	_, actual := azureRead(t, FileInput(azurePath("ea-actual-finops-toolkit.csv")))
	_, amortized := azureRead(t, FileInput(azurePath("ea-amortized-finops-toolkit.csv")))

	type key struct {
		resource, sku string
		day           time.Time
		qty           float64
	}
	keyOf := func(r *domain.CostRow) key { return key{r.ResourceID, r.SkuID, r.ChargePeriodStart, r.PricingQuantity} }
	inAmortized := map[key]*domain.CostRow{}
	for i := range amortized {
		inAmortized[keyOf(&amortized[i])] = &amortized[i]
	}
	var shared, purchases int
	var actualEffective, sharedEffective, sharedBilled, actualBilledUsage int64
	for i := range actual {
		r := &actual[i]
		actualEffective += r.EffectiveCost.Micros
		a, ok := inAmortized[keyOf(r)]
		if !ok {
			if r.ChargeCategory != domain.ChargePurchase || r.CommitmentDiscountType != "Reservation" {
				t.Errorf("actual row %s (%s) is not in the amortized file and is not a reservation purchase", r.ResourceID, r.ChargeCategory)
			}
			purchases++
			continue
		}
		shared++
		if diff := cmp.Diff(r, a, cmpopts.IgnoreFields(domain.CostRow{}, "XSourceFormat")); diff != "" {
			t.Errorf("shared row %s maps differently (-actual +amortized):\n%s", r.ResourceID, diff)
		}
		sharedEffective += a.EffectiveCost.Micros
		sharedBilled += a.BilledCost.Micros
		actualBilledUsage += r.BilledCost.Micros
	}
	if shared != 10 || purchases != 1 {
		t.Fatalf("actual rows shared with the amortized file / purchases = %d/%d; want 10/1", shared, purchases)
	}
	if actualEffective != sharedEffective || actualEffective != 5_295_008 {
		t.Errorf("EffectiveCost: actual file %d, amortized file over the shared rows %d; want both 5295008", actualEffective, sharedEffective)
	}
	if actualBilledUsage != sharedBilled {
		t.Errorf("BilledCost of the shared rows: actual %d, amortized %d; want equal", actualBilledUsage, sharedBilled)
	}

	// Hand-checked rows.
	usd := func(m int64) domain.Money { return domain.USD(m) }
	purchase := actual[0] // Purchase, Recurring, Reservation: Cost 3.25, UnitPrice 3.25, PayGPrice 0, Quantity 1
	covered := amortized[0]
	// Usage, Reservation: Quantity 8, EffectivePrice 0.061644, Cost 0.493152, UnitPrice 0.146, PayGPrice 0
	savingsPlan := amortized[1]
	// Usage, SavingsPlan: Quantity 0.32085564, Cost 0.006000000468, UnitPrice = PayGPrice 0.0416
	for _, c := range []struct {
		name                                string
		row                                 domain.CostRow
		billed, effective, list, contracted domain.Money
		category, status, typ, cdCategory   string
		pricing                             string
	}{
		{"reservation purchase", purchase, usd(3_250_000), usd(0), usd(0), usd(3_250_000),
			domain.ChargePurchase, "", "Reservation", "Usage", "Standard"},
		{"reservation-covered usage", covered, usd(0), usd(493_152), usd(0), usd(1_168_000),
			domain.ChargeUsage, "Used", "Reservation", "Usage", "Committed"},
		// 0.32085564 × 0.0416 = 0.013347594624 → 0.013348
		{"savings-plan-covered usage", savingsPlan, usd(0), usd(6_000), usd(13_348), usd(13_348),
			domain.ChargeUsage, "Used", "Savings Plan", "Spend", "Committed"},
	} {
		r := c.row
		got := []any{r.BilledCost, r.EffectiveCost, r.ListCost, r.ContractedCost, r.ChargeCategory,
			r.CommitmentDiscountStatus, r.CommitmentDiscountType, r.CommitmentDiscountCategory, r.PricingCategory}
		want := []any{c.billed, c.effective, c.list, c.contracted, c.category, c.status, c.typ, c.cdCategory, c.pricing}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Map(%s) billed, effective, list, contracted, category, status, type, commitment category, pricing = got; want want (-want +got):\n%s", c.name, diff)
		}
		if r.CommitmentDiscountID == "" {
			t.Errorf("Map(%s).CommitmentDiscountId is empty", c.name)
		}
	}
}

// azureVariant writes header and records as CSV and reads them through
// Read, checking that nothing is rejected and the totals reconcile.
func azureVariant(t *testing.T, name string, header []string, recs [][]string) (Format, []domain.CostRow) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	in := Input{Name: name, Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	sum, rows := azureRead(t, in)
	if sum.Rejected != 0 {
		t.Fatalf("Read(%s) rejected %d rows: %v", name, sum.Rejected, sum.Examples)
	}
	if err := sum.Reconcile(); err != nil {
		t.Fatalf("Read(%s).Reconcile() = %v", name, err)
	}
	return sum.Format, rows
}

// azureTransform renames, reorders and adds columns: rename maps an old
// name to a new one, order lists the old positions in their new order
// (nil keeps them), extra columns are appended with their value.
func azureTransform(header []string, recs [][]string, rename func(string) string, order []int, extra map[string]func(rec []string) string) ([]string, [][]string) {
	if order == nil {
		order = make([]int, len(header))
		for i := range order {
			order[i] = i
		}
	}
	extraNames := make([]string, 0, len(extra))
	for n := range extra {
		extraNames = append(extraNames, n)
	}
	sort.Strings(extraNames)
	var h []string
	for _, i := range order {
		n := header[i]
		if rename != nil {
			n = rename(n)
		}
		h = append(h, n)
	}
	h = append(h, extraNames...)
	out := make([][]string, len(recs))
	for r, rec := range recs {
		for _, i := range order {
			out[r] = append(out[r], rec[i])
		}
		for _, n := range extraNames {
			out[r] = append(out[r], extra[n](rec))
		}
	}
	return h, out
}

func azureReversed(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = n - 1 - i
	}
	return o
}

func azureWithout(header []string, col int) []int {
	var o []int
	for i := range header {
		if i != col {
			o = append(o, i)
		}
	}
	return o
}

func TestAzureHeaderVariants(t *testing.T) {
	ignoreSource := cmpopts.IgnoreFields(domain.CostRow{}, "XSourceFormat")
	camel := func(s string) string { return strings.ToLower(s[:1]) + s[1:] }
	pascal := func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
	constant := func(v string) func([]string) string { return func([]string) string { return v } }

	// EA: camelCase names, reversed order, unknown columns; the other
	// spellings of the cost and currency columns.
	header, recs := azureCSV(t, azurePath("ea-actual-finops-toolkit.csv"))
	_, want := azureVariant(t, "ea.csv", header, recs)
	renameEA := map[string]string{"Cost": "CostInBillingCurrency", "BillingCurrency": "BillingCurrencyCode"}
	for _, v := range []struct {
		name   string
		rename func(string) string
		order  []int
		extra  map[string]func([]string) string
	}{
		{"camelCase", camel, nil, nil},
		{"reversed with unknown columns", nil, azureReversed(len(header)),
			map[string]func([]string) string{"x_Unknown": constant("1"), "ServiceInfo3": constant("")}},
		{"CostInBillingCurrency and BillingCurrencyCode", func(s string) string {
			if n, ok := renameEA[s]; ok {
				return n
			}
			return s
		}, nil, nil},
	} {
		h, r := azureTransform(header, recs, v.rename, v.order, v.extra)
		format, got := azureVariant(t, v.name, h, r)
		if format.Version != "ea-v2 (actual)" {
			t.Errorf("Read(EA %s).Format.Version = %q; want ea-v2 (actual), as the rows show", v.name, format.Version)
		}
		if diff := cmp.Diff(want, got, ignoreSource); diff != "" {
			t.Errorf("Map(EA %s) = got; want the original rows (-want +got):\n%s", v.name, diff)
		}
	}

	// Tags: the brace-less list of the EA export, a JSON object, and one
	// column per tag ("tags.<key>", as JSON lines flatten an object).
	tagsCol := azureCol(header, "Tags")
	jsonTags := func(rec []string) string {
		if rec[tagsCol] == "" {
			return ""
		}
		return "{" + rec[tagsCol] + "}"
	}
	h, r := azureTransform(header, recs, nil, azureWithout(header, tagsCol), map[string]func([]string) string{"Tags": jsonTags})
	if _, got := azureVariant(t, "json tags", h, r); !cmp.Equal(want, got, ignoreSource) {
		t.Errorf("Map(EA, tags as a JSON object) = got; want the original rows:\n%s", cmp.Diff(want, got, ignoreSource))
	}
	perTag := map[string]func([]string) string{}
	for _, row := range want {
		for k := range row.Tags {
			perTag["tags."+k] = func(rec []string) string {
				var m map[string]string
				if s := jsonTags(rec); s != "" {
					if err := json.Unmarshal([]byte(s), &m); err != nil {
						t.Fatal(err)
					}
				}
				return m[k]
			}
		}
	}
	if len(perTag) == 0 {
		t.Fatal("the EA sample has no tags")
	}
	// A column per tag cannot tell a tag with an empty value from an
	// absent one: empty values are left out.
	wantNonEmpty := make([]domain.CostRow, len(want))
	for i, row := range want {
		wantNonEmpty[i] = row
		wantNonEmpty[i].Tags = nil
		for k, v := range row.Tags {
			if v == "" {
				continue
			}
			if wantNonEmpty[i].Tags == nil {
				wantNonEmpty[i].Tags = map[string]string{}
			}
			wantNonEmpty[i].Tags[k] = v
		}
	}
	h, r = azureTransform(header, recs, nil, azureWithout(header, tagsCol), perTag)
	if _, got := azureVariant(t, "column tags", h, r); !cmp.Equal(wantNonEmpty, got, ignoreSource) {
		t.Errorf("Map(EA, one column per tag) = got; want the original rows:\n%s", cmp.Diff(wantNonEmpty, got, ignoreSource))
	}

	// MCA: koku's camelCase headers against PascalCase.
	header, recs = azureCSV(t, azurePath("koku-v2-camelcase-mca.csv"))
	_, want = azureVariant(t, "mca.csv", header, recs)
	h, r = azureTransform(header, recs, pascal, azureReversed(len(header)), nil)
	if format, got := azureVariant(t, "mca pascal", h, r); format.Version != "mca-v2 (actual or amortized: unknown)" || !cmp.Equal(want, got, ignoreSource) {
		t.Errorf("Map(MCA PascalCase reversed) version %q = got; want mca-v2 and the camelCase rows:\n%s", format.Version, cmp.Diff(want, got, ignoreSource))
	}

	// Legacy: the costreport spelling renamed to the v1 one.
	header, recs = azureCSV(t, azurePath("koku-costreport.csv"))
	_, want = azureVariant(t, "costreport.csv", header, recs)
	v1 := map[string]string{"InstanceId": "resourceId", "UsageQuantity": "quantity"}
	h, r = azureTransform(header, recs, func(s string) string {
		if n, ok := v1[s]; ok {
			return n
		}
		return camel(s)
	}, azureReversed(len(header)), nil)
	if format, got := azureVariant(t, "v1", h, r); format.Version != "v1" || !cmp.Equal(want, got, ignoreSource) {
		t.Errorf("Map(costreport renamed to v1) version %q = got; want v1 and the costreport rows:\n%s", format.Version, cmp.Diff(want, got, ignoreSource))
	}
}

// azureConstructedHeader is an EA v2 header cut to the columns the
// constructed rows below use.
var azureConstructedHeader = []string{"BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate",
	"SubscriptionId", "SubscriptionName", "Date", "ProductName", "MeterId", "MeterCategory", "MeterName", "Quantity",
	"EffectivePrice", "CostInBillingCurrency", "UnitPrice", "PayGPrice", "BillingCurrencyCode", "ResourceLocation",
	"ConsumedService", "ResourceId", "Tags", "ChargeType", "Frequency", "PricingModel", "benefitId", "benefitName",
	"PublisherType", "PublisherName", "AccountOwnerId", "PartNumber", "Term"}

// TestAzureChargeTypes maps constructed rows for the charge types the
// public samples lack. Values follow the Cost Management documentation.
func TestAzureChargeTypes(t *testing.T) {
	const (
		ri = "/providers/Microsoft.Capacity/reservationOrders/o1/reservations/r1"
		sp = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/o2/savingsPlans/s2"
	)
	row := func(chargeType, frequency, pricingModel, benefit, cost, publisherType, publisher string) []string {
		return []string{"100", "Contoso", "2024-05-01", "2024-05-31", "sub-1", "Dev", "2024-05-07", "Product", "meter-1",
			"Virtual Machines", "D2s v3", "24", "0.05", cost, "0.08", "0.1", "EUR", "westeurope", "Microsoft.Compute",
			"/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1", "", chargeType,
			frequency, pricingModel, benefit, "name", publisherType, publisher, "owner@example.com", "AAA-1", ""}
	}
	recs := [][]string{
		row("UnusedReservation", "UsageBased", "Reservation", ri, "1.5", "Azure", ""),
		row("UnusedSavingsPlan", "UsageBased", "SavingsPlan", sp, "2.5", "Azure", ""),
		row("Refund", "OneTime", "Reservation", ri, "-100", "Azure", ""),
		row("Tax", "OneTime", "", "", "3", "Azure", ""),
		row("RoundingAdjustment", "OneTime", "", "", "0.01", "Azure", ""),
		row("Purchase", "Recurring", "", "", "50", "Marketplace", "Contoso SaaS"),
		row("Purchase", "OneTime", "SavingsPlan", sp, "876", "Azure", ""),
	}
	type out struct {
		Category, Class, Status, Type, Frequency, Pricing, Publisher string
		Billed, Effective                                            int64
	}
	want := []out{
		{"Usage", "", "Unused", "Reservation", "Usage-Based", "Committed", "Microsoft", 0, 1_500_000},
		{"Usage", "", "Unused", "Savings Plan", "Usage-Based", "Committed", "Microsoft", 0, 2_500_000},
		{"Purchase", "Correction", "", "Reservation", "One-Time", "Standard", "Microsoft", -100_000_000, 0},
		{"Tax", "", "", "", "One-Time", "", "Microsoft", 3_000_000, 3_000_000},
		{"Adjustment", "", "", "", "One-Time", "", "Microsoft", 10_000, 10_000},
		{"Purchase", "", "", "", "Recurring", "", "Contoso SaaS", 50_000_000, 50_000_000},
		{"Purchase", "", "", "Savings Plan", "One-Time", "Standard", "Microsoft", 876_000_000, 0},
	}
	format, rows := azureVariant(t, "constructed.csv", azureConstructedHeader, recs)
	if format.Version != "ea-v2 (actual or amortized: unknown)" {
		t.Errorf("Read(constructed).Format.Version = %q", format.Version)
	}
	var got []out
	for _, r := range rows {
		got = append(got, out{r.ChargeCategory, r.ChargeClass, r.CommitmentDiscountStatus, r.CommitmentDiscountType,
			r.ChargeFrequency, r.PricingCategory, r.PublisherName, r.BilledCost.Micros, r.EffectiveCost.Micros})
		if r.BillingPeriodEnd != time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) || r.RegionID != "westeurope" {
			t.Errorf("Map(%s) period end %v, region %q; want 2024-06-01 and westeurope", r.XChargeType, r.BillingPeriodEnd, r.RegionID)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map(constructed charge types) = got; want want (-want +got):\n%s", diff)
	}

	// Rows that show the export kind: an unused row makes it amortized,
	// a commitment purchase actual, both unknown.
	h := NewHeader(azureConstructedHeader)
	for _, c := range []struct {
		rows []int
		want string
	}{
		{[]int{3, 4, 5}, "ea-v2 (actual or amortized: unknown)"},
		{[]int{0}, "ea-v2 (amortized)"},
		{[]int{6}, "ea-v2 (actual)"},
		{[]int{0, 6}, "ea-v2 (actual or amortized: unknown)"},
	} {
		m, err := newAzureMapper(h)
		if err != nil {
			t.Fatal(err)
		}
		f := &Fields{header: h, layouts: &timeLayouts{}}
		for _, i := range c.rows {
			f.rec, f.problems = recs[i], nil
			m.Map(f, &domain.CostRow{})
		}
		if got := m.Format().Version; got != c.want {
			t.Errorf("Format() after rows %v = %q; want %q", c.rows, got, c.want)
		}
	}

	// An unknown charge type is rejected, its amount reported.
	bad := row("Bonus", "OneTime", "", "", "7", "Azure", "")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(azureConstructedHeader)
	_ = w.Write(bad)
	w.Flush()
	data := buf.Bytes()
	sum, _ := azureRead(t, Input{Name: "bad.csv", Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
	if sum.ByRule[RuleUnknownCategory] != 1 || sum.Totals["EUR"].Rejected[0] != 7_000_000 {
		t.Errorf("Read(ChargeType Bonus) by rule %v, rejected %v; want one unknown_charge_category of 7 EUR", sum.ByRule, sum.Totals["EUR"].Rejected)
	}
}

// TestAzureMCAPrices checks MCA prices in another currency than the bill:
// they are converted with ExchangeRatePricingToBilling, and left zero
// without a rate.
func TestAzureMCAPrices(t *testing.T) {
	header := []string{"billingAccountId", "billingProfileId", "billingProfileName", "invoiceId", "ProductId", "date",
		"meterId", "meterCategory", "subscriptionId", "quantity", "costInBillingCurrency", "billingCurrency",
		"pricingCurrency", "exchangeRatePricingToBilling", "unitPrice", "payGPrice", "chargeType", "pricingModel"}
	recs := [][]string{
		{"acct:1", "BP-1", "Profile", "INV-1", "P1", "2024-05-07", "m1", "Storage", "sub-1", "10", "0.9", "EUR", "USD", "0.9", "0.1", "0.125", "Usage", "OnDemand"},
		{"acct:1", "BP-1", "Profile", "INV-1", "P1", "2024-05-07", "m1", "Storage", "sub-1", "10", "0.9", "EUR", "USD", "", "0.1", "0.125", "Usage", "OnDemand"},
	}
	format, rows := azureVariant(t, "mca.csv", header, recs)
	if format.Version != "mca-v2 (actual or amortized: unknown)" {
		t.Errorf("Read(MCA).Format.Version = %q; want mca-v2", format.Version)
	}
	eur := func(m int64) domain.Money { return domain.Money{Micros: m, Currency: "EUR"} }
	want := [][]domain.Money{
		{eur(90_000), eur(900_000), eur(112_500), eur(1_125_000)},
		{eur(0), eur(0), eur(0), eur(0)},
	}
	for i, r := range rows {
		got := []domain.Money{r.ContractedUnitPrice, r.ContractedCost, r.ListUnitPrice, r.ListCost}
		if diff := cmp.Diff(want[i], got); diff != "" {
			t.Errorf("Map(MCA row %d) contracted price, cost, list price, cost = got; want want (-want +got):\n%s", i, diff)
		}
		if r.BillingAccountID != "BP-1" || r.BillingAccountName != "Profile" || r.InvoiceID != "INV-1" {
			t.Errorf("Map(MCA row %d) billing account %q %q, invoice %q; want the billing profile BP-1 and INV-1", i, r.BillingAccountID, r.BillingAccountName, r.InvoiceID)
		}
		if r.BillingPeriodStart != time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC) || r.BillingPeriodEnd != time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) {
			t.Errorf("Map(MCA row %d) billing period %v - %v; want May 2024 from the charge date", i, r.BillingPeriodStart, r.BillingPeriodEnd)
		}
	}
}

func TestAzureDetect(t *testing.T) {
	for _, s := range azureSamples {
		header, _ := azureCSV(t, azurePath(s.file))
		h := NewHeader(header)
		for _, d := range Detectors() {
			if d.Family != FamilyAzure && d.Match(h) > 0 {
				t.Errorf("%s detector matches %s", d.Family, s.file)
			}
		}
		m, err := Detect(h)
		if err != nil || m.Format().Family != FamilyAzure {
			t.Errorf("Detect(%s) = %v, %v; want an azure-cost mapper", s.file, m, err)
		}
	}
	// A FOCUS header is not an Azure one.
	if n := matchAzure(NewHeader([]string{"BilledCost", "ChargePeriodStart", "BillingCurrency", "x_SkuMeterCategory", "x_SkuMeterId"})); n != 0 {
		t.Errorf("matchAzure(FOCUS header) = %d; want 0", n)
	}
	// Without a currency column the file cannot be read.
	_, err := Detect(NewHeader([]string{"SubscriptionId", "Date", "MeterCategory", "Cost", "ChargeType"}))
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "BillingCurrency") {
		t.Errorf("Detect(no currency column) = %v; want an ErrInvalid naming BillingCurrency", err)
	}
}

func TestAzureTables(t *testing.T) {
	if n := len(azureRegions()); n < 400 {
		t.Errorf("azureRegions() has %d spellings; want the ~500 of Regions.csv", n)
	}
	for _, loc := range []string{"US East 2", "eastus2", "EastUS2", "East US 2", "east-us-2"} {
		if r, ok := azureLookupRegion(loc); !ok || r != (azureRegion{"eastus2", "East US 2"}) {
			t.Errorf("azureLookupRegion(%q) = %v, %v; want eastus2, East US 2", loc, r, ok)
		}
	}
	tab := azureServices()
	if len(tab.byPair) < 390 || len(tab.categories) < 90 {
		t.Errorf("services table: %d pairs, %d categories; want Services.csv and azure_category_mapping.csv", len(tab.byPair), len(tab.categories))
	}
	for _, c := range []struct {
		consumed, typ string
		want          azureService
	}{
		{"microsoft.compute", "microsoft.compute/virtualmachines", azureService{"Virtual Machines", "Compute", "Virtual Machines"}},
		{"microsoft.machinelearningservices", "microsoft.machinelearningservices/workspaces", azureService{"Azure Machine Learning", "AI and Machine Learning", "Machine Learning"}},
		{"", "microsoft.storage/storageaccounts", azureService{"Storage Accounts", "Storage", "Storage Platforms"}},
		{"microsoft.compute", "", azureService{"", "Compute", ""}}, // the consumed service alone: one category, many services
		{"microsoft.portal", "", azureService{"", "Other", ""}},    // focus_converters only
		{"microsoft.keyvault", "", azureService{"Key Vault", "Security", "Secret Management"}},
	} {
		if got, ok := tab.lookup(c.consumed, c.typ); !ok || got != c.want {
			t.Errorf("lookup(%q, %q) = %v, %v; want %v", c.consumed, c.typ, got, ok, c.want)
		}
	}
	for _, s := range tab.byPair {
		if !azureFOCUSCategories[s.category] {
			t.Errorf("Services.csv category %q is not a FOCUS 1.2 ServiceCategory", s.category)
		}
	}
	for k, c := range tab.categories {
		if !azureFOCUSCategories[c] {
			t.Errorf("azure_category_mapping.csv %s: %q is not a FOCUS 1.2 ServiceCategory", k, c)
		}
	}
}

func TestAzureARMType(t *testing.T) {
	for _, c := range []struct{ id, typ, name string }{
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1", "microsoft.compute/virtualmachines", "vm1"},
		{"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV", "microsoft.keyvault/vaults", "KV"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/capacityReservationGroups/g/capacityReservations/c", "microsoft.compute/capacityreservationgroups/capacityreservations", "c"},
		{"/providers/Microsoft.Capacity/reservationOrders/o/reservations/", "microsoft.capacity/reservationorders/reservations", ""},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Insights/diagnosticSettings/d", "microsoft.insights/diagnosticsettings", "d"},
		{"/subscriptions/<guid>/resourceGroups/<rg name>/providers/<arm provider>/<serviceName>/<deployedResourceName>", "", ""},
		{"/subscriptions/rsid1", "", ""},
		{"", "", ""},
	} {
		buf, name := azureARMType(nil, c.id)
		if string(buf) != c.typ || name != c.name {
			t.Errorf("azureARMType(%q) = %q, %q; want %q, %q", c.id, buf, name, c.typ, c.name)
		}
	}
}

func TestAzureProduct(t *testing.T) {
	for _, c := range []struct {
		a, b, c string
		want    int64
	}{
		{"0.146", "8", "1", 1_168_000},
		{"0.0005", "0.001", "1", 1},         // exactly half a micro-unit: away from zero
		{"-0.0005", "0.001", "1", -1},       // likewise below zero
		{"0.0000333344", "5.748", "1", 192}, // 191.606...
		{"0.125", "10", "0.9", 1_125_000},
		{"0.1", "0.0004", "1", 40},
	} {
		var fs [3]float64
		for i, s := range []string{c.a, c.b, c.c} {
			r, _ := new(big.Rat).SetString(s)
			fs[i], _ = r.Float64()
		}
		if got := azureProduct(fs[0], fs[1], fs[2], c.a, c.b, c.c); got != c.want {
			t.Errorf("azureProduct(%s × %s × %s) = %d; want %d", c.a, c.b, c.c, got, c.want)
		}
	}
}

// BenchmarkAzureMap maps one realistic record: reservation-covered VM
// usage from the amortized EA sample, with tags and a resource ID.
func BenchmarkAzureMap(b *testing.B) {
	header, recs := azureCSV(b, azurePath("ea-amortized-finops-toolkit.csv"))
	h := NewHeader(header)
	m, err := Detect(h)
	if err != nil {
		b.Fatal(err)
	}
	noTags := append([]string(nil), recs[0]...)
	noTags[azureCol(header, "Tags")] = ""
	for _, c := range []struct {
		name string
		rec  []string
	}{{"with 11 tags", recs[0]}, {"without tags", noTags}} {
		b.Run(c.name, func(b *testing.B) {
			f := &Fields{header: h, layouts: &timeLayouts{}, rec: c.rec}
			var row domain.CostRow
			b.ReportAllocs()
			for b.Loop() {
				f.problems = f.problems[:0]
				row = domain.CostRow{}
				m.Map(f, &row)
			}
			if len(f.problems) > 0 {
				b.Fatal(f.problems)
			}
		})
	}
}
