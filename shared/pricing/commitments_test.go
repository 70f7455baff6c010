package pricing

import (
	"errors"
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const commitHeader = "cloud,region,sku,term_months,payment,discount,usd_per_hour,source\n"

func TestCommitmentsEmbedded(t *testing.T) {
	cs, err := Commitments()
	if err != nil {
		t.Fatalf("Commitments() error: %v", err)
	}
	prices, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded() error: %v", err)
	}
	perCloud := map[domain.Cloud]int{}
	for _, c := range cs {
		perCloud[c.Cloud]++
		if !(c.Discount > 0 && c.Discount < 1) {
			t.Errorf("%s %s %s %d months: discount %v; want one in (0, 1)", c.Cloud, c.Region, c.SKU, c.TermMonths, c.Discount)
		}
		if c.TermMonths != 12 && c.TermMonths != 36 {
			t.Errorf("%s %s %s: term of %d months; want 12 or 36", c.Cloud, c.Region, c.SKU, c.TermMonths)
		}
		switch c.Cloud {
		case domain.GCP:
			if c.Payment != PaymentMonthly || c.Hourly.Currency != "USD" || c.Hourly.Micros <= 0 {
				t.Errorf("gcp %s %s: payment %q, hourly %+v; want monthly and a positive USD rate", c.Region, c.SKU, c.Payment, c.Hourly)
				continue
			}
			// Every GCP rate belongs to a VM size of the price catalog, is
			// below its on-demand rate and agrees with the discount (up to
			// the rate's rounding to the micro-dollar).
			p, ok := prices.Lookup(c.Cloud, c.Region, domain.KindVM, c.SKU)
			if !ok {
				t.Errorf("gcp %s %s: no on-demand price", c.Region, c.SKU)
				continue
			}
			od := float64(p.Amount.Micros)
			if want := 1 - float64(c.Hourly.Micros)/od; math.Abs(want-c.Discount) > 1e-6+1/od {
				t.Errorf("gcp %s %s %d months: discount %v; 1 − %v / %v = %v", c.Region, c.SKU, c.TermMonths, c.Discount, c.Hourly, p.Amount, want)
			}
		case domain.AWS:
			if c.Payment != PaymentAllUpfront || !c.Hourly.IsZero() || c.Region != "us-east-1" {
				t.Errorf("aws %s %s: payment %q, hourly %+v; want all_upfront in us-east-1 with no absolute rate", c.Region, c.SKU, c.Payment, c.Hourly)
			}
		}
	}
	if perCloud[domain.GCP] < 3000 || perCloud[domain.AWS] == 0 || perCloud[domain.Azure] != 0 {
		t.Errorf("commitments per cloud = %v; want over 3000 for gcp, some for aws, none for azure", perCloud)
	}

	// Spot checks against the sources, looked up by hand:
	//   pricing.yml, n2-standard-4, us-central1: hour 0.194236,
	//   month_1y 89.32572, month_3y 63.81076; / 730 = 0.122364 and 0.087412;
	//   1 − 0.122364 / 0.194236 = 0.370024, 1 − 0.087412 / 0.194236 = 0.54997.
	//   pricing.yml, e2-micro, us-central1: hour 0.0083764275, month_1y
	//   3.8523182225; / 730 = 0.00527714825, exactly 37% off.
	//   7_day_EC2_RI_Rec.csv line 2, m4.large: 2 instances, Upfront Cost
	//   1014 for a year (0.0578767 an hour each), at the on-demand 0.10 the
	//   export's savings imply: 1 − 0.0578767 / 0.1 = 0.421233.
	x := NewCommitmentIndex(cs)
	checks := []struct {
		cloud    domain.Cloud
		region   string
		sku      string
		term     int
		discount float64
		micros   int64
		payment  string
	}{
		{domain.GCP, "us-central1", "n2-standard-4", 12, 0.370024, 122_364, PaymentMonthly},
		{domain.GCP, "us-central1", "n2-standard-4", 36, 0.54997, 87_412, PaymentMonthly},
		{domain.GCP, "us-central1", "e2-micro", 12, 0.37, 5_277, PaymentMonthly},
		{domain.AWS, "us-east-1", "m4.large", 12, 0.421233, 0, PaymentAllUpfront},
	}
	for _, c := range checks {
		got, ok := x.Best(c.cloud, c.region, c.sku, c.term)
		if !ok || got.Discount != c.discount || got.Hourly.Micros != c.micros || got.Payment != c.payment {
			t.Errorf("Best(%s, %s, %s, %d) = %+v, %t; want discount %v, %d micro-dollars an hour, %s",
				c.cloud, c.region, c.sku, c.term, got, ok, c.discount, c.micros, c.payment)
		}
	}
	if _, ok := x.Best(domain.GCP, "us-central1", "t2a-standard-4", 12); ok {
		t.Error("Best(t2a-standard-4) found a commitment; pricing.yml has none")
	}
	if d, ok := x.FamilyDiscount(domain.GCP, "us-central1", "n2-standard", 36); !ok || d < 0.5 || d > 0.6 {
		t.Errorf("FamilyDiscount(n2-standard, 36) = %v, %t; want about 0.55", d, ok)
	}

	// The slice is the caller's.
	cs[0].SKU = "changed"
	again, err := Commitments()
	if err != nil || again[0].SKU == "changed" {
		t.Errorf("Commitments() returned a shared slice: %v, %v", again[0].SKU, err)
	}
}

// The price loader leaves the commitments file alone, and the price
// catalog still loads.
func TestLoadSkipsCommitments(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/aws.csv":         {Data: []byte(testHeader + "aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,0.08,,\n")},
		"catalog/commitments.csv": {Data: []byte(commitHeader + "gcp,us-central1,e2-micro,12,monthly,0.37,,src\n")},
	}
	c, err := load(fsys, "catalog/*.csv")
	if err != nil || len(c.All()) != 1 {
		t.Fatalf("load() = %v, %v; want the one price of aws.csv", c, err)
	}
}

func TestParseCommitments(t *testing.T) {
	good := commitHeader +
		"aws,us-east-1,m4.large,12,all_upfront,0.421233,,billing/x.csv:2\n" +
		"gcp,us-central1,e2-micro,12,monthly,0.37,0.00527714825,pricing.yml\n" +
		"gcp,us-central1,e2-micro,36,monthly,0.55,0.003769,pricing.yml\n"
	want := []Commitment{
		{Cloud: domain.AWS, Region: "us-east-1", SKU: "m4.large", TermMonths: 12, Payment: PaymentAllUpfront, Discount: 0.421233, Source: "billing/x.csv:2"},
		{Cloud: domain.GCP, Region: "us-central1", SKU: "e2-micro", TermMonths: 12, Payment: PaymentMonthly, Discount: 0.37, Hourly: domain.USD(5_277), Source: "pricing.yml"},
		{Cloud: domain.GCP, Region: "us-central1", SKU: "e2-micro", TermMonths: 36, Payment: PaymentMonthly, Discount: 0.55, Hourly: domain.USD(3_769), Source: "pricing.yml"},
	}
	got, err := ParseCommitments("good.csv", strings.NewReader(good))
	if err != nil {
		t.Fatalf("ParseCommitments(good.csv) error: %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseCommitments(good.csv) mismatch (-want +got):\n%s", d)
	}
	reordered := "source,discount,cloud,region,sku,term_months,payment,usd_per_hour\nsrc,0.5,aws,us-east-1,m5.large,36,no_upfront,\n"
	got, err = ParseCommitments("reordered.csv", strings.NewReader(reordered))
	if err != nil || len(got) != 1 || got[0].Discount != 0.5 || got[0].TermMonths != 36 || got[0].Payment != PaymentNoUpfront {
		t.Errorf("ParseCommitments(reordered.csv) = %+v, %v; want one 36-month no_upfront row at 0.5", got, err)
	}

	row := func(s string) string { return commitHeader + s + "\n" }
	bad := []struct {
		name, in, want string // want: the start of the error after "invalid: "
	}{
		{"empty file", "", "bad.csv:1:1: empty file"},
		{"missing column", "cloud,region,sku,term_months,payment,discount,source\n", `bad.csv:1: missing column "usd_per_hour"`},
		{"unknown column", strings.TrimSuffix(commitHeader, "\n") + ",kind\n", `bad.csv:1:9: unknown column "kind"`},
		{"duplicate column", "sku," + commitHeader, `bad.csv:1:4: column "sku" appears twice`},
		{"price-file header", testHeader, `bad.csv:1:3: unknown column "kind"`},
		{"unknown cloud", row("oci,us-ashburn-1,VM.Standard3,12,monthly,0.3,,src"), `bad.csv:2:1: cloud: unknown cloud "oci"`},
		{"upper-case cloud", row("GCP,us-central1,e2-micro,12,monthly,0.37,,src"), `bad.csv:2:1: cloud: unknown cloud "GCP"`},
		{"empty region", row("gcp,,e2-micro,12,monthly,0.37,,src"), "bad.csv:2:5: region: empty"},
		{"spaced sku", row("gcp,us-central1, e2-micro,12,monthly,0.37,,src"), `bad.csv:2:17: sku: " e2-micro" has spaces around it`},
		{"term in years", row("gcp,us-central1,e2-micro,1y,monthly,0.37,,src"), `bad.csv:2:26: term_months: "1y" is not a whole number of months`},
		{"zero term", row("gcp,us-central1,e2-micro,0,monthly,0.37,,src"), `bad.csv:2:26: term_months: "0" is not a whole number`},
		{"unknown payment", row("aws,us-east-1,m5.large,12,All_Upfront,0.4,,src"), `bad.csv:2:27: payment: unknown payment "All_Upfront"`},
		{"discount as percent", row("gcp,us-central1,e2-micro,12,monthly,37,,src"), `bad.csv:2:37: discount: "37" is not a decimal above 0 and below 1`},
		{"discount of one", row("gcp,us-central1,e2-micro,12,monthly,1.0,,src"), `bad.csv:2:37: discount: "1.0" is not a decimal above 0`},
		{"zero discount", row("gcp,us-central1,e2-micro,12,monthly,0.000000,,src"), `bad.csv:2:37: discount: "0.000000" is not above 0`},
		{"negative discount", row("gcp,us-central1,e2-micro,12,monthly,-0.1,,src"), `bad.csv:2:37: discount: "-0.1" is not a decimal`},
		{"seven places", row("gcp,us-central1,e2-micro,12,monthly,0.3700001,,src"), `bad.csv:2:37: discount: "0.3700001" is not a decimal`},
		{"empty discount", row("gcp,us-central1,e2-micro,12,monthly,,,src"), `bad.csv:2:37: discount: "" is not a decimal`},
		{"bad rate", row("gcp,us-central1,e2-micro,12,monthly,0.37,0.005x,src"), `bad.csv:2:42: usd_per_hour: "0.005x" is not a decimal amount`},
		{"rate with exponent", row("gcp,us-central1,e2-micro,12,monthly,0.37,5e-3,src"), `bad.csv:2:42: usd_per_hour: "5e-3" is not a decimal amount`},
		{"zero rate", row("gcp,us-central1,e2-micro,12,monthly,0.37,0.0000001,src"), `bad.csv:2:42: usd_per_hour: "0.0000001" is not a positive amount`},
		{"no source", row("gcp,us-central1,e2-micro,12,monthly,0.37,0.005,"), "bad.csv:2:48: source: empty"},
		{"short row", row("gcp,us-central1,e2-micro,12,monthly,0.37,0.005"), "bad.csv:2:1: wrong number of fields"},
		{"duplicate", commitHeader + "gcp,us-central1,e2-micro,12,monthly,0.37,,a\ngcp,US-CENTRAL1,E2-MICRO,12,monthly,0.38,,b\n",
			`bad.csv:3:17: sku: gcp US-CENTRAL1 "E2-MICRO" 12 months monthly is listed twice (first on line 2)`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommitments("bad.csv", strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("ParseCommitments(%q) = %v, nil; want an error starting %q", tc.in, got, tc.want)
			}
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("ParseCommitments error %v does not wrap domain.ErrInvalid", err)
			}
			if msg := strings.TrimPrefix(err.Error(), "invalid: "); !strings.HasPrefix(msg, tc.want) {
				t.Errorf("ParseCommitments error = %q; want it to start %q", msg, tc.want)
			}
		})
	}
}

func TestCommitmentIndexBest(t *testing.T) {
	c := func(cloud domain.Cloud, region, sku string, term int, payment string, discount float64) Commitment {
		return Commitment{Cloud: cloud, Region: region, SKU: sku, TermMonths: term, Payment: payment, Discount: discount, Source: payment}
	}
	x := NewCommitmentIndex([]Commitment{
		c(domain.AWS, "us-east-1", "m5.large", 12, PaymentAllUpfront, 0.42),
		c(domain.AWS, "us-east-1", "m5.large", 12, PaymentPartialUpfront, 0.40),
		c(domain.AWS, "us-east-1", "m5.large", 12, PaymentNoUpfront, 0.37),
		// A tie: the payment with less up front wins, whatever the order.
		c(domain.AWS, "us-east-1", "c5.large", 12, PaymentAllUpfront, 0.40),
		c(domain.AWS, "us-east-1", "c5.large", 12, PaymentPartialUpfront, 0.40),
		c(domain.AWS, "us-east-1", "c5.large", 36, PaymentPartialUpfront, 0.60),
		c(domain.AWS, "us-east-1", "c5.large", 36, PaymentNoUpfront, 0.60),
		c(domain.AWS, "us-east-1", "c5.large", 36, PaymentAllUpfront, 0.60),
		c(domain.GCP, "us-central1", "n2-standard-4", 12, PaymentMonthly, 0.37),
	})
	tests := []struct {
		cloud       domain.Cloud
		region, sku string
		term        int
		payment     string // "" for none
	}{
		{domain.AWS, "us-east-1", "m5.large", 12, PaymentAllUpfront},
		{domain.AWS, "US-EAST-1", "M5.LARGE", 12, PaymentAllUpfront},
		{domain.AWS, "us-east-1", "c5.large", 12, PaymentPartialUpfront},
		{domain.AWS, "us-east-1", "c5.large", 36, PaymentNoUpfront},
		{domain.GCP, "us-central1", "n2-standard-4", 12, PaymentMonthly},
		{domain.GCP, "us-central1", "n2-standard-4", 36, ""},
		{domain.GCP, "us-east1", "n2-standard-4", 12, ""},
		{domain.AWS, "us-central1", "n2-standard-4", 12, ""},
		{domain.AWS, "us-east-1", "m5.xlarge", 12, ""},
	}
	for _, tc := range tests {
		got, ok := x.Best(tc.cloud, tc.region, tc.sku, tc.term)
		if ok != (tc.payment != "") || got.Payment != tc.payment {
			t.Errorf("Best(%s, %s, %s, %d) = %+v, %t; want payment %q", tc.cloud, tc.region, tc.sku, tc.term, got, ok, tc.payment)
		}
	}
	if NewCommitmentIndex(nil) == nil {
		t.Error("NewCommitmentIndex(nil) = nil; want an empty index")
	}
}

func TestCommitmentIndexFamilyDiscount(t *testing.T) {
	c := func(cloud domain.Cloud, region, sku string, term int, payment string, discount float64) Commitment {
		return Commitment{Cloud: cloud, Region: region, SKU: sku, TermMonths: term, Payment: payment, Discount: discount}
	}
	x := NewCommitmentIndex([]Commitment{
		// Three sizes of m5: median 0.40. m5.xlarge counts once, with its best.
		c(domain.AWS, "us-east-1", "m5.large", 12, PaymentAllUpfront, 0.42),
		c(domain.AWS, "us-east-1", "m5.xlarge", 12, PaymentNoUpfront, 0.10),
		c(domain.AWS, "us-east-1", "m5.xlarge", 12, PaymentAllUpfront, 0.40),
		c(domain.AWS, "us-east-1", "m5.2xlarge", 12, PaymentAllUpfront, 0.30),
		// Two sizes of Dsv5: the mean of the middle two.
		c(domain.Azure, "eastus", "Standard_D2s_v5", 36, PaymentAllUpfront, 0.60),
		c(domain.Azure, "eastus", "Standard_D4s_v5", 36, PaymentAllUpfront, 0.50),
		c(domain.GCP, "us-central1", "n2-standard-4", 12, PaymentMonthly, 0.37),
		c(domain.GCP, "us-central1", "e2-micro", 12, PaymentMonthly, 0.30),
	})
	tests := []struct {
		cloud          domain.Cloud
		region, family string
		term           int
		want           float64
		ok             bool
	}{
		{domain.AWS, "us-east-1", "m5", 12, 0.40, true},
		{domain.AWS, "us-east-1", "M5", 12, 0.40, true},
		{domain.AWS, "us-east-1", "m5", 36, 0, false},
		{domain.AWS, "us-east-1", "c5", 12, 0, false},
		{domain.Azure, "eastus", "Dsv5", 36, 0.55, true},
		{domain.Azure, "EastUS", "dsv5", 36, 0.55, true},
		{domain.Azure, "westus2", "Dsv5", 36, 0, false},
		{domain.GCP, "us-central1", "n2-standard", 12, 0.37, true},
		{domain.GCP, "us-central1", "e2-shared-core", 12, 0.30, true},
		{domain.GCP, "us-central1", "e2-standard", 12, 0, false},
	}
	for _, tc := range tests {
		got, ok := x.FamilyDiscount(tc.cloud, tc.region, tc.family, tc.term)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("FamilyDiscount(%s, %s, %s, %d) = %v, %t; want %v, %t", tc.cloud, tc.region, tc.family, tc.term, got, ok, tc.want, tc.ok)
		}
	}
}
