package focus

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var updateGCP = flag.Bool("update-gcp", false, "rewrite the golden files and constructed JSON lines under testdata/gcp")

const (
	gcpDir        = "testdata/gcp"
	gcpStandard   = "202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08_2020-11-11.csv"
	gcpDetailed   = "2022-08-01_5.csv"
	gcpStandardJS = "202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08_2020-11-11.jsonl"
	gcpDetailedJS = "2022-08-01_5.jsonl"
)

// gcpAmountRE finds the amounts in a credits list, written as JSON or as
// a Python literal; the test's own reading, apart from the mapper's.
var gcpAmountRE = regexp.MustCompile(`['"]amount['"]\s*:\s*(-?[0-9][0-9.eE+-]*)`)

func TestGCPSamples(t *testing.T) {
	tests := []struct {
		file, version string
		rows          int64
		credits       int64 // micro-USD, the credits' total
	}{
		{gcpStandard, "standard", 25, -32}, // a free trial credits every cost: 32 - 32
		{gcpDetailed, "detailed", 9, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(gcpDir, tt.file)
			rows, sum := focusReadFile(t, path)
			if want := (Format{Family: FamilyGCP, Version: tt.version, Container: ContainerCSV}); sum.Format != want {
				t.Errorf("Read(%s).Format = %v; want %v", tt.file, sum.Format, want)
			}
			if sum.Rows != tt.rows || sum.Kept != tt.rows || sum.Rejected != 0 {
				t.Errorf("Read(%s) rows/kept/rejected = %d/%d/%d; want %d/%d/0 (examples %v)", tt.file,
					sum.Rows, sum.Kept, sum.Rejected, tt.rows, tt.rows, sum.Examples)
			}
			if err := sum.Reconcile(); err != nil {
				t.Errorf("Reconcile() = %v; want nil", err)
			}
			if d := cmp.Diff(map[domain.Cloud]int64{domain.GCP: tt.rows}, sum.Clouds); d != "" {
				t.Errorf("Read(%s).Clouds (-want +got):\n%s", tt.file, d)
			}

			// Independently: cost and the credits' amounts per currency,
			// read with encoding/csv and a regexp.
			header, recs := focusCSV(t, path)
			costCol, curCol := focusColumn(t, header, "cost"), focusColumn(t, header, "currency")
			credCol := focusColumn(t, header, "credits")
			cost, credits := map[string]int64{}, map[string]int64{}
			for _, rec := range recs {
				cost[rec[curCol]] += focusMicros(t, rec[costCol])
				for _, m := range gcpAmountRE.FindAllStringSubmatch(rec[credCol], -1) {
					credits[rec[curCol]] += focusMicros(t, m[1])
				}
			}
			t.Logf("%s: cost %v, credits %v (micro-units)", tt.file, cost, credits)
			if credits["USD"] != tt.credits {
				t.Errorf("credits total = %d micro-USD; want %d", credits["USD"], tt.credits)
			}
			for cur, tot := range sum.Totals {
				got := func(i int) int64 { return tot.Kept[i] + tot.Rejected[i] }
				if b := got(0); b != cost[cur]+credits[cur] {
					t.Errorf("%s BilledCost = %d; want cost %d + credits %d", cur, b, cost[cur], credits[cur])
				}
				if got(1) != got(0) {
					t.Errorf("%s EffectiveCost = %d; want BilledCost %d", cur, got(1), got(0))
				}
				if got(2) != cost[cur] || got(3) != cost[cur] {
					t.Errorf("%s ListCost, ContractedCost = %d, %d; want cost %d", cur, got(2), got(3), cost[cur])
				}
			}
			if len(sum.Totals) != len(cost) {
				t.Errorf("Totals currencies = %v; want those of %v", sum.Totals, cost)
			}
			focusGolden(t, filepath.Join(gcpDir, "golden", strings.TrimSuffix(tt.file, ".csv")+".json"), rows[:min(5, len(rows))], *updateGCP)
		})
	}
}

// gcpKV is one field of a JSON object written in schema order.
type gcpKV struct {
	k string
	v any
}

type gcpObject []gcpKV

func (o gcpObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// gcpConstructJSON writes the records of a flattened CSV export as
// BigQuery writes the table as JSON lines: nested records as objects,
// repeated records (labels, credits) as lists, TIMESTAMP as
// "2006-01-02 15:04:05 UTC", numbers as numbers, null fields left out.
func gcpConstructJSON(t testing.TB, csvFile string) []byte {
	t.Helper()
	header, recs := focusCSV(t, filepath.Join(gcpDir, csvFile))
	py := strings.NewReplacer("'", `"`, "None", "null")
	var out bytes.Buffer
	for _, rec := range recs {
		var top gcpObject
		nested := map[string]*gcpObject{}
		for i, name := range header {
			v := rec[i]
			if v == "" || name == "partition_date" { // partition_date is the CSV writer's, not a table field
				continue
			}
			var val any = v
			switch name {
			case "labels", "system_labels", "project.labels", "credits":
				var list []json.RawMessage
				if err := json.Unmarshal([]byte(py.Replace(v)), &list); err != nil {
					t.Fatalf("%s %q: %v", name, v, err)
				}
				if list == nil {
					list = []json.RawMessage{}
				}
				val = list
			case "usage_start_time", "usage_end_time", "export_time":
				ts, err := time.Parse("2006-01-02 15:04:05.999999Z07:00", v)
				if err != nil {
					t.Fatal(err)
				}
				val = ts.UTC().Format("2006-01-02 15:04:05.999999") + " UTC"
			case "cost", "currency_conversion_rate", "usage.amount", "usage.amount_in_pricing_units":
				val = json.RawMessage(v)
			}
			parent, leaf, ok := strings.Cut(name, ".")
			if !ok {
				top = append(top, gcpKV{name, val})
				continue
			}
			o := nested[parent]
			if o == nil {
				o = &gcpObject{}
				nested[parent] = o
				top = append(top, gcpKV{parent, o})
			}
			*o = append(*o, gcpKV{leaf, val})
		}
		line, err := json.Marshal(top)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// The JSON lines samples are BigQuery's JSON form of the CSV samples,
// and map to exactly the same rows.
func TestGCPJSONLines(t *testing.T) {
	for _, tt := range []struct{ csv, jsonl string }{{gcpStandard, gcpStandardJS}, {gcpDetailed, gcpDetailedJS}} {
		t.Run(tt.jsonl, func(t *testing.T) {
			path := filepath.Join(gcpDir, tt.jsonl)
			construct := gcpConstructJSON(t, tt.csv)
			if *updateGCP {
				if err := os.WriteFile(path, construct, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update-gcp)", err)
			}
			if !bytes.Equal(committed, construct) {
				t.Errorf("%s is not the JSON form of %s; rerun with -update-gcp", tt.jsonl, tt.csv)
			}
			want, wantSum := focusReadFile(t, filepath.Join(gcpDir, tt.csv))
			got, sum := focusReadFile(t, path)
			// The JSON reader adds every column the mapper reads to the
			// header, resource.name included, so a JSON lines export
			// always reads as "detailed" (see docs/focus/gcp-billing.md).
			if want := (Format{Family: FamilyGCP, Version: "detailed", Container: ContainerJSONLines}); sum.Format != want {
				t.Errorf("Read(%s).Format = %v; want %v", tt.jsonl, sum.Format, want)
			}
			if err := sum.Reconcile(); err != nil {
				t.Errorf("Reconcile() = %v", err)
			}
			if sum.Rows != wantSum.Rows || sum.Kept != wantSum.Kept {
				t.Errorf("Read(%s) rows/kept = %d/%d; want %d/%d", tt.jsonl, sum.Rows, sum.Kept, wantSum.Rows, wantSum.Kept)
			}
			for cur, tot := range wantSum.Totals {
				if g := sum.Totals[cur]; g == nil || g.Kept != tot.Kept {
					t.Errorf("Read(%s).Totals[%s] = %+v; want kept %v", tt.jsonl, cur, g, tot.Kept)
				}
			}
			if d := cmp.Diff(want, got, cmpopts.IgnoreFields(domain.CostRow{}, "XSourceFormat")); d != "" {
				t.Errorf("Map(%s) = got; want the CSV rows (-csv +jsonl):\n%s", tt.jsonl, d)
			}
		})
	}
}

func TestGCPHeaderVariants(t *testing.T) {
	for _, file := range []string{gcpStandard, gcpDetailed} {
		header, recs := focusCSV(t, filepath.Join(gcpDir, file))
		want, wantSum := focusReadFile(t, filepath.Join(gcpDir, file))
		dir := t.TempDir()
		under := make([]string, len(header))
		for i, h := range header {
			under[i] = strings.ReplaceAll(h, ".", "_")
		}
		reverse := func(s []string) []string {
			out := make([]string, len(s))
			for i := range s {
				out[len(s)-1-i] = s[i]
			}
			return out
		}
		var reversed, extra, jsonLists [][]string
		py := strings.NewReplacer("'", `"`, "None", "null")
		for _, r := range recs {
			reversed = append(reversed, reverse(r))
			extra = append(extra, append(append([]string(nil), r...), "x", "42"))
			j := append([]string(nil), r...)
			for _, c := range []string{"labels", "system_labels", "project.labels", "credits"} {
				i := focusColumn(t, header, c)
				j[i] = py.Replace(j[i])
			}
			jsonLists = append(jsonLists, j)
		}
		tests := []struct {
			name   string
			header []string
			recs   [][]string
		}{
			{"underscores", under, recs},
			{"reordered", reverse(header), reversed},
			{"extra columns", append(append([]string(nil), header...), "subscription.instance_id", "tags"), extra},
			{"lists as JSON", header, jsonLists},
		}
		for _, tt := range tests {
			t.Run(file+"/"+tt.name, func(t *testing.T) {
				path := focusWriteVariant(t, dir, strings.ReplaceAll(tt.name, " ", "_"), tt.header, tt.recs)
				got, sum := focusReadFile(t, path)
				if sum.Format != wantSum.Format {
					t.Errorf("Read(%s).Format = %v; want %v", tt.name, sum.Format, wantSum.Format)
				}
				if err := sum.Reconcile(); err != nil {
					t.Errorf("Reconcile() = %v", err)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("Map(%s) = got; want the rows of the export's header (-want +got):\n%s", tt.name, d)
				}
			})
		}
	}
}

// gcpMapRecord maps one record of header through the GCP mapper and the
// shared checks.
func gcpMapRecord(t *testing.T, header, rec []string) (domain.CostRow, []Problem) {
	t.Helper()
	h := NewHeader(header)
	m, err := Detect(h)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format().Family != FamilyGCP {
		t.Fatalf("Detect = %v; want gcp", m.Format())
	}
	f := &Fields{rec: rec, header: h, layouts: &timeLayouts{}}
	var row domain.CostRow
	m.Map(f, &row)
	check(f, &row)
	return row, f.problems
}

// The charge kinds the samples lack, on a real row of the detailed
// sample with cost_type, sku, cost, credits and the newer columns
// changed.
func TestGCPChargeKinds(t *testing.T) {
	header, recs := focusCSV(t, filepath.Join(gcpDir, gcpDetailed))
	header = append(append([]string(nil), header...), "cost_at_list", "price.effective_price", "price.list_price",
		"price.pricing_unit_quantity", "seller_name", "adjustment_info.id", "adjustment_info.description")
	base := append(append([]string(nil), recs[8]...), "", "", "", "", "", "", "")
	with := func(set map[string]string) []string {
		r := append([]string(nil), base...)
		for k, v := range set {
			r[focusColumn(t, header, k)] = v
		}
		return r
	}
	usd := domain.USD
	cudCredit := `[{"name": "Committed Usage Discount: CPU", "amount": -1.0, "full_name": "Committed use discount: CPU", "id": "CommittedUsageDiscount:1234", "type": "COMMITTED_USAGE_DISCOUNT"}]`
	type kind struct {
		Category, Class, Frequency, Pricing string
		Billed, Effective, List, Contracted domain.Money
		CDType, CDCategory, CDStatus, CDID  string
		CDName, Publisher, Description      string
		ListUnit, ContractedUnit            domain.Money
	}
	tests := []struct {
		name  string
		rec   []string
		want  kind
		rules []Rule
	}{
		{"regular", base, kind{Category: "Usage", Frequency: "Usage-Based", Pricing: "Standard", Billed: usd(10), Effective: usd(10),
			List: usd(10), Contracted: usd(10), Description: "Network Internet Egress from Americas to China"}, nil},
		{"tax", with(map[string]string{"cost_type": "tax", "cost": "1.5"}), kind{Category: "Tax", Frequency: "One-Time",
			Billed: usd(1_500_000), Effective: usd(1_500_000), List: usd(1_500_000), Contracted: usd(1_500_000),
			Description: "Network Internet Egress from Americas to China"}, nil},
		{"adjustment", with(map[string]string{"cost_type": "adjustment", "cost": "-2", "adjustment_info.id": "adj-1",
			"adjustment_info.description": "Credit for outage"}), kind{Category: "Adjustment", Class: "Correction", Frequency: "One-Time",
			Billed: usd(-2_000_000), Effective: usd(-2_000_000), List: usd(-2_000_000), Contracted: usd(-2_000_000), Description: "Credit for outage"}, nil},
		{"rounding error", with(map[string]string{"cost_type": "rounding_error", "cost": "0.000001"}), kind{Category: "Adjustment",
			Frequency: "One-Time", Billed: usd(1), Effective: usd(1), List: usd(1), Contracted: usd(1),
			Description: "Network Internet Egress from Americas to China"}, nil},
		{"commitment fee", with(map[string]string{"sku.description": "Commitment v1: Cpu in Americas for 1 Year", "cost": "10.5"}),
			kind{Category: "Purchase", Frequency: "Recurring", Pricing: "Standard", Billed: usd(10_500_000), Effective: usd(10_500_000),
				List: usd(10_500_000), Contracted: usd(10_500_000), CDType: "Committed Use Discount", CDCategory: "Usage",
				Description: "Commitment v1: Cpu in Americas for 1 Year"}, nil},
		{"flexible commitment fee", with(map[string]string{"sku.description": "Commitment - dollar based v1: GCE for 3 years", "cost": "3"}),
			kind{Category: "Purchase", Frequency: "Recurring", Pricing: "Standard", Billed: usd(3_000_000), Effective: usd(3_000_000),
				List: usd(3_000_000), Contracted: usd(3_000_000), CDType: "Committed Use Discount", CDCategory: "Spend",
				Description: "Commitment - dollar based v1: GCE for 3 years"}, nil},
		{"usage covered by a CUD", with(map[string]string{"cost": "1.25", "credits": cudCredit}), kind{Category: "Usage",
			Frequency: "Usage-Based", Pricing: "Committed", Billed: usd(250_000), Effective: usd(250_000), List: usd(1_250_000),
			Contracted: usd(1_250_000), CDType: "Committed Use Discount", CDCategory: "Usage", CDStatus: "Used",
			CDID: "CommittedUsageDiscount:1234", CDName: "Committed use discount: CPU", Description: "Network Internet Egress from Americas to China"}, nil},
		{"credit only", with(map[string]string{"cost": "0", "credits": `[{'name': 'Promo', 'amount': -0.5, 'full_name': None, 'id': 'p1', 'type': 'PROMOTION'}]`}),
			kind{Category: "Credit", Frequency: "Usage-Based", Billed: usd(-500_000), Effective: usd(-500_000), List: usd(0), Contracted: usd(0),
				Description: "Network Internet Egress from Americas to China"}, nil},
		{"spot", with(map[string]string{"sku.description": "Spot Preemptible N2 Instance Core running in Americas"}), kind{Category: "Usage",
			Frequency: "Usage-Based", Pricing: "Dynamic", Billed: usd(10), Effective: usd(10), List: usd(10), Contracted: usd(10),
			Description: "Spot Preemptible N2 Instance Core running in Americas"}, nil},
		{"newer columns", with(map[string]string{"cost_at_list": "0.00002", "price.effective_price": "0.08", "price.list_price": "0.12",
			"price.pricing_unit_quantity": "1", "seller_name": "Example Marketplace Seller"}), kind{Category: "Usage", Frequency: "Usage-Based",
			Pricing: "Standard", Billed: usd(10), Effective: usd(10), List: usd(20), Contracted: usd(10), Publisher: "Example Marketplace Seller",
			ListUnit: usd(120_000), ContractedUnit: usd(80_000), Description: "Network Internet Egress from Americas to China"}, nil},
		{"prices per thousand units", with(map[string]string{"price.effective_price": "0.08", "price.list_price": "0.12",
			"price.pricing_unit_quantity": "1000"}), kind{Category: "Usage", Frequency: "Usage-Based", Pricing: "Standard",
			Billed: usd(10), Effective: usd(10), List: usd(10), Contracted: usd(10), Description: "Network Internet Egress from Americas to China"}, nil},
		{"unknown cost_type", with(map[string]string{"cost_type": "surcharge"}), kind{Category: "surcharge", Billed: usd(10),
			Effective: usd(10), List: usd(10), Contracted: usd(10), Description: "Network Internet Egress from Americas to China"}, []Rule{RuleUnknownCategory}},
		{"unreadable credits", with(map[string]string{"credits": `[{'amount': 'abc'}]`}), kind{Category: "Usage", Frequency: "Usage-Based",
			Pricing: "Standard", Billed: usd(10), Effective: usd(10), List: usd(10), Contracted: usd(10),
			Description: "Network Internet Egress from Americas to China"}, []Rule{RuleNonNumeric}},
		{"unreadable invoice month", with(map[string]string{"invoice.month": "2022-08"}), kind{Category: "Usage", Frequency: "Usage-Based",
			Pricing: "Standard", Billed: usd(10), Effective: usd(10), List: usd(10), Contracted: usd(10),
			Description: "Network Internet Egress from Americas to China"}, []Rule{RuleBadTime}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, problems := gcpMapRecord(t, header, tt.rec)
			if tt.want.Publisher == "" {
				tt.want.Publisher = "Google Cloud"
			}
			for _, m := range []*domain.Money{&tt.want.ListUnit, &tt.want.ContractedUnit} {
				if m.Currency == "" {
					m.Currency = "USD"
				}
			}
			got := kind{r.ChargeCategory, r.ChargeClass, r.ChargeFrequency, r.PricingCategory, r.BilledCost, r.EffectiveCost, r.ListCost,
				r.ContractedCost, r.CommitmentDiscountType, r.CommitmentDiscountCategory, r.CommitmentDiscountStatus,
				r.CommitmentDiscountID, r.CommitmentDiscountName, r.PublisherName, r.ChargeDescription, r.ListUnitPrice, r.ContractedUnitPrice}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Map(%s) = got; want want (-want +got):\n%s", tt.name, d)
			}
			var rules []Rule
			for _, p := range problems {
				rules = append(rules, p.Rule)
			}
			if d := cmp.Diff(tt.rules, rules); d != "" {
				t.Errorf("Map(%s) problems = %v; want rules %v", tt.name, problems, tt.rules)
			}
		})
	}
}

func TestGCPTags(t *testing.T) {
	header, recs := focusCSV(t, filepath.Join(gcpDir, gcpStandard))
	rec := append([]string(nil), recs[3]...) // a Stackdriver Logging row with a label
	rec[focusColumn(t, header, "project.labels")] = `[{"key": "team", "value": "billing"}]`
	rec[focusColumn(t, header, "system_labels")] = `[{'key': 'compute.googleapis.com/cores', 'value': '2'}, {'key': 'it\'s', 'value': 'caf\u00e9 \"x\"'}]`
	r, problems := gcpMapRecord(t, header, rec)
	if len(problems) > 0 {
		t.Fatalf("Map = problems %v", problems)
	}
	want := map[string]string{"goog-resource-type": "bigquery_resource", "project:team": "billing",
		"compute.googleapis.com/cores": "2", "it's": `café "x"`}
	if d := cmp.Diff(want, r.Tags); d != "" {
		t.Errorf("Map(labels).Tags = got; want want (-want +got):\n%s", d)
	}
	rec[focusColumn(t, header, "labels")] = `[{'key': 'a'`
	if _, problems := gcpMapRecord(t, header, rec); len(problems) != 1 || problems[0].Rule != RuleBadTags {
		t.Errorf("Map(broken labels) problems = %v; want one bad_tags", problems)
	}
}

func TestGCPServiceCategory(t *testing.T) {
	allowed := map[string]bool{}
	for _, c := range []string{"AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
		"Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
		"Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other"} {
		allowed[c] = true
	}
	table := gcpCategories()
	if len(table) < 125 {
		t.Errorf("gcpCategories() has %d services; want the 125 of the mapping file and more", len(table))
	}
	for svc, c := range table {
		if !allowed[c] {
			t.Errorf("gcpServiceCategory(%q) = %q; not a FOCUS 1.2 ServiceCategory", svc, c)
		}
	}
	for in, want := range map[string]string{"Compute Engine": "Compute", "BigQuery": "Databases", "Security Command Center": "Security",
		"Stackdriver Logging": "Management and Governance", "compute engine": "Compute", "Some New Service": "Other", "": ""} {
		if got := gcpServiceCategory(in); got != want {
			t.Errorf("gcpServiceCategory(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestEachListField(t *testing.T) {
	type field struct {
		Obj      int
		Key, Val string
	}
	tests := []struct {
		in   string
		want []field
		ok   bool
	}{
		{`[]`, nil, true},
		{` [ ] `, nil, true},
		{`[{"key":"a","value":"b"},{"key":"c","value":null}]`, []field{{0, "key", "a"}, {0, "value", "b"}, {1, "key", "c"}, {1, "value", ""}}, true},
		{`[{'name': 'x', 'amount': -5e-06, 'full_name': None, 'flag': True}]`, []field{{0, "name", "x"}, {0, "amount", "-5e-06"}, {0, "full_name", ""}, {0, "flag", "true"}}, true},
		{`[{"a": {"b": [1, "]"]}, "c": "\u00e9\n"}]`, []field{{0, "a", `{"b": [1, "]"]}`}, {0, "c", "é\n"}}, true},
		{`[{}]`, nil, true},
		{`[{"a": 1}`, []field{{0, "a", "1"}}, false},
		{`{"a": 1}`, nil, false},
		{`[{"a" 1}]`, nil, false},
		{`[{"a": "x}]`, nil, false},
		{`[{"a": 1}] x`, []field{{0, "a", "1"}}, false},
	}
	for _, tt := range tests {
		var got []field
		ok := eachListField(tt.in, func(obj int, k, v string) { got = append(got, field{obj, k, v}) })
		if ok != tt.ok {
			t.Errorf("eachListField(%s) ok = %v; want %v", tt.in, ok, tt.ok)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("eachListField(%s) = got; want want (-want +got):\n%s", tt.in, d)
		}
	}
}

// Every dotted column the mapper reads is in gcpJSONColumns, so the JSON
// reader always offers it.
func TestGCPJSONColumnsComplete(t *testing.T) {
	h := NewHeader(gcpJSONColumns)
	m, err := newGCP(h)
	if err != nil {
		t.Fatal(err)
	}
	g := m.(*gcpMapper)
	for name, i := range map[string]int{"billing_account_id": g.billingAccount, "project.id": g.project, "project.name": g.projectName,
		"project.labels": g.projectLabels, "labels": g.labels, "system_labels": g.systemLabels, "invoice.month": g.invoiceMonth,
		"cost_type": g.costType, "adjustment_info.id": g.adjustmentID, "adjustment_info.description": g.adjustmentDescription,
		"service.description": g.serviceName, "sku.id": g.skuID, "sku.description": g.skuDescription, "usage_start_time": g.start,
		"usage_end_time": g.end, "location.location": g.location, "location.region": g.region, "location.zone": g.zone,
		"cost": g.cost, "currency": g.currency, "cost_at_list": g.costAtList, "credits": g.credits, "usage.amount": g.usageAmount,
		"usage.unit": g.usageUnit, "usage.amount_in_pricing_units": g.pricingAmount, "usage.pricing_unit": g.pricingUnit,
		"price.effective_price": g.effectivePrice, "price.list_price": g.listPrice, "price.pricing_unit_quantity": g.priceQuantity,
		"resource.name": g.resourceName, "resource.global_name": g.resourceGlobalName, "seller_name": g.seller} {
		if i < 0 {
			t.Errorf("newGCP(gcpJSONColumns) did not find %s", name)
		}
	}
}

// BenchmarkGCPMap maps a real row with a free-trial credit (a Python
// literal list) and a label.
func BenchmarkGCPMap(b *testing.B) {
	header, recs := focusCSV(b, filepath.Join(gcpDir, gcpStandard))
	h := NewHeader(header)
	m, err := newGCP(h)
	if err != nil {
		b.Fatal(err)
	}
	rec := append([]string(nil), recs[0]...)
	rec[focusColumn(b, header, "labels")] = `[{'key': 'goog-resource-type', 'value': 'bigquery_resource'}]`
	f := &Fields{header: h, layouts: &timeLayouts{}}
	var row domain.CostRow
	b.ReportAllocs()
	for b.Loop() {
		f.rec, f.problems = rec, f.problems[:0]
		row = domain.CostRow{}
		m.Map(f, &row)
	}
	if len(f.problems) > 0 {
		b.Fatal(f.problems)
	}
}
