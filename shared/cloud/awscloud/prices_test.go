package awscloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// realProduct is a real GetProducts product document (see testdata/README.md).
func realProduct(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/getproducts_m5_large.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParsePriceItemRealDocument parses the real m5.large product
// document into exactly the embedded catalog's price of m5.large, and
// counts its reserved terms as skipped.
func TestParsePriceItemRealDocument(t *testing.T) {
	doc := realProduct(t)
	var skips awscloud.PriceSkips
	got, ok := awscloud.ParsePriceItem(doc, "us-east-1", &skips)
	if !ok {
		t.Fatalf("ParsePriceItem(m5.large) found no price; skips %+v", skips)
	}
	cat, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	want, ok := cat.Lookup(domain.AWS, "us-east-1", domain.KindVM, "m5.large")
	if !ok {
		t.Fatal("the embedded catalog has no m5.large")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParsePriceItem(m5.large) (-catalog +parsed):\n%s", diff)
	}
	var raw struct {
		Terms map[string]map[string]json.RawMessage `json:"terms"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		t.Fatal(err)
	}
	if want := (awscloud.PriceSkips{NotOnDemand: len(raw.Terms["Reserved"])}); skips != want || want.NotOnDemand < 5 {
		t.Errorf("skips = %+v, want %+v", skips, want)
	}
}

// TestParsePriceItemSkips feeds variants of the real document: what is
// not a price Prices keeps is skipped and counted, never a crash.
func TestParsePriceItemSkips(t *testing.T) {
	doc := realProduct(t)
	onDemand := `"pricePerUnit": {
              "USD": "0.0960000000"
            }`
	if !strings.Contains(doc, onDemand) {
		t.Fatal("the fixture's on-demand price is not where the test expects it")
	}
	reserved := 0
	{
		var s awscloud.PriceSkips
		awscloud.ParsePriceItem(doc, "us-east-1", &s)
		reserved = s.NotOnDemand
	}
	for _, tt := range []struct {
		name string
		doc  string
		want awscloud.PriceSkips
		ok   bool
	}{
		{"not USD", strings.Replace(doc, onDemand, `"pricePerUnit": {"CNY": "0.66"}`, 1), awscloud.PriceSkips{NotUSD: 1}, false},
		{"zero", strings.Replace(doc, onDemand, `"pricePerUnit": {"USD": "0.0000000000"}`, 1), awscloud.PriceSkips{Zero: 1}, false},
		{"not a number", strings.Replace(doc, onDemand, `"pricePerUnit": {"USD": "n/a"}`, 1), awscloud.PriceSkips{Malformed: 1}, false},
		{"unknown unit", strings.Replace(doc, `"unit": "Hrs",
            "endRange": "Inf",
            "description": "$0.096`, `"unit": "Quantity",
            "endRange": "Inf",
            "description": "$0.096`, 1), awscloud.PriceSkips{Unit: 1}, false},
		{"other product", strings.Replace(doc, `"productFamily": "Compute Instance"`, `"productFamily": "Dedicated Host"`, 1), awscloud.PriceSkips{Product: 1}, true},
		{"capacity block", strings.Replace(doc, `"operation": "RunInstances"`, `"operation": "RunInstances", "marketoption": "CapacityBlock"`, 1), awscloud.PriceSkips{Product: 1}, true},
		{"not JSON", doc[:200], awscloud.PriceSkips{Malformed: 1}, true},
		{"no product", `{"terms": {}}`, awscloud.PriceSkips{Malformed: 1}, true},
		{"empty", ``, awscloud.PriceSkips{Malformed: 1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got awscloud.PriceSkips
			if _, ok := awscloud.ParsePriceItem(tt.doc, "us-east-1", &got); ok {
				t.Fatalf("a price was found")
			}
			if !tt.ok { // the reserved terms are counted too
				tt.want.NotOnDemand = reserved
			}
			if got != tt.want {
				t.Errorf("skips = %+v, want %+v", got, tt.want)
			}
		})
	}
	// A regionCode in the document wins over the region asked.
	withRegion := strings.Replace(doc, `"location": "US East (N. Virginia)"`, `"location": "US East (Ohio)", "regionCode": "us-east-2"`, 1)
	var s awscloud.PriceSkips
	if p, ok := awscloud.ParsePriceItem(withRegion, "us-east-1", &s); !ok || p.Region != "us-east-2" {
		t.Errorf("regionCode us-east-2: region %q, %v", p.Region, ok)
	}
}

// awsPrices returns the embedded catalog's AWS prices.
func awsPrices(t *testing.T) []domain.Price {
	t.Helper()
	cat, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.Price
	for _, p := range cat.All() {
		if p.Cloud == domain.AWS {
			out = append(out, p)
		}
	}
	return out
}

// TestPricesEqualTheCatalog reads every price of us-east-1 through the
// SDK and the Price List fake, which serves product documents generated
// from the embedded catalog beside the Windows, dedicated, SQL Server
// and unused-reservation products the filters must leave out, in pages
// of 25: the prices read are the catalog's, shapes included.
func TestPricesEqualTheCatalog(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{PricePageSize: 25})
	p := newDataProvider(t, srv, est.Accounts(domain.AWS)[0], 2, false)
	got, err := p.Prices(context.Background(), []string{"us-east-1", "eu-west-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := awsPrices(t)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Prices (-catalog +read):\n%s", diff)
	}
	if n := countCalls(srv, "pricing", "GetProducts", ""); n < len(want)/25 {
		t.Errorf("%d GetProducts calls for %d prices in pages of 25", n, len(want))
	}

	cat, err := p.PriceCatalog(context.Background(), []string{"us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, cat.All()); diff != "" {
		t.Errorf("PriceCatalog (-catalog +read):\n%s", diff)
	}
	embedded, _ := pricing.Embedded()
	if diff := cmp.Diff(embedded.All(), embedded.Merge(cat.All()).All()); diff != "" {
		t.Errorf("the embedded catalog merged with the live one changed (-embedded +merged):\n%s", diff)
	}
}

// TestPricesOfSomeInstanceTypes asks for two instance types: their
// prices and the storage and address prices, nothing else.
func TestPricesOfSomeInstanceTypes(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	p := newDataProvider(t, srv, est.Accounts(domain.AWS)[0], 2, false)
	srv.Fail("pricing", "GetProducts", "", 1, "ThrottlingException", http.StatusBadRequest)
	got, err := p.Prices(context.Background(), []string{"us-east-1"}, []string{"m5.large", "t3.micro"})
	if err != nil {
		t.Fatal(err)
	}
	var want []domain.Price
	for _, pr := range awsPrices(t) {
		if pr.Kind != domain.KindVM || pr.SKU == "m5.large" || pr.SKU == "t3.micro" {
			want = append(want, pr)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Prices(m5.large, t3.micro) (-want +got):\n%s", diff)
	}
	if n := countCalls(srv, "pricing", "GetProducts", "ThrottlingException"); n != 1 {
		t.Errorf("%d throttled calls, want 1 retried", n)
	}
	srv.Fail("pricing", "GetProducts", "", 1, "AccessDeniedException", http.StatusBadRequest)
	if _, err := p.Prices(context.Background(), []string{"us-east-1"}, nil); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("denied: err = %v, want permission", err)
	}
}
