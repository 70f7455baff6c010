package gcpfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	billing "cloud.google.com/go/billing/apiv1"
	"cloud.google.com/go/billing/apiv1/billingpb"
	"github.com/google/go-cmp/cmp"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
)

func catalogClient(t *testing.T) (*gcpfake.Catalog, *billing.CloudCatalogClient) {
	t.Helper()
	cat := gcpfake.NewCatalog()
	t.Cleanup(cat.Close)
	c, err := billing.NewCloudCatalogRESTClient(context.Background(), cat.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return cat, c
}

func testSKU(i int) *billingpb.Sku {
	return &billingpb.Sku{
		SkuId:          fmt.Sprintf("0000-0000-%04d", i),
		Description:    fmt.Sprintf("N2 Instance Core running in Region %d", i),
		Category:       &billingpb.Category{ServiceDisplayName: "Compute Engine", ResourceFamily: "Compute", ResourceGroup: "CPU", UsageType: "OnDemand"},
		ServiceRegions: []string{fmt.Sprintf("region-%d", i)},
		PricingInfo: []*billingpb.PricingInfo{{CurrencyConversionRate: 1, PricingExpression: &billingpb.PricingExpression{
			UsageUnit: "h", DisplayQuantity: 1, TieredRates: []*billingpb.PricingExpression_TierRate{
				{UnitPrice: &money.Money{CurrencyCode: "USD", Units: int64(i), Nanos: 31_611_000}}}}}},
		GeoTaxonomy: &billingpb.GeoTaxonomy{Type: billingpb.GeoTaxonomy_REGIONAL, Regions: []string{fmt.Sprintf("region-%d", i)}},
	}
}

func TestCatalogListsServices(t *testing.T) {
	_, c := catalogClient(t)
	it := c.ListServices(context.Background(), &billingpb.ListServicesRequest{})
	s, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	if s.GetName() != "services/"+gcpfake.ComputeEngineService || s.GetDisplayName() != "Compute Engine" {
		t.Errorf("ListServices = %v; want Compute Engine", s)
	}
	if _, err := it.Next(); !errors.Is(err, iterator.Done) {
		t.Errorf("a second service: %v", err)
	}
}

func TestCatalogPagesSKUs(t *testing.T) {
	cat, c := catalogClient(t)
	var want []*billingpb.Sku
	for i := 1; i <= 7; i++ {
		want = append(want, testSKU(i))
	}
	cat.AddSKUs(gcpfake.ComputeEngineService, want...)
	cat.SetMaxPageSize(3)
	it := c.ListSkus(context.Background(), &billingpb.ListSkusRequest{Parent: "services/" + gcpfake.ComputeEngineService, CurrencyCode: "USD"})
	var got []*billingpb.Sku
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	for _, s := range want {
		s.Name = "services/" + gcpfake.ComputeEngineService + "/skus/" + s.SkuId
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("ListSkus (-want +got):\n%s", diff)
	}
	reqs := cat.Requests()
	if len(reqs) != 3 || !strings.Contains(reqs[1], "pageToken=page-3") || !strings.Contains(reqs[2], "pageToken=page-6") {
		t.Errorf("requests %q; want 3 pages of 3", reqs)
	}
}

func TestCatalogErrors(t *testing.T) {
	cat, c := catalogClient(t)
	next := func(parent, currency string) error {
		_, err := c.ListSkus(context.Background(), &billingpb.ListSkusRequest{Parent: parent, CurrencyCode: currency}).Next()
		return err
	}
	httpCode := func(err error) (int, string) {
		var ae *apierror.APIError
		if !errors.As(err, &ae) {
			return 0, ""
		}
		return ae.HTTPCode(), ae.Reason()
	}
	if code, _ := httpCode(next("services/0000-0000-0000", "")); code != http.StatusNotFound {
		t.Errorf("ListSkus(unknown service) = %d; want 404", code)
	}
	if code, _ := httpCode(next("services/"+gcpfake.ComputeEngineService, "EUR")); code != http.StatusBadRequest {
		t.Errorf("ListSkus(EUR) = %d; want 400", code)
	}
	cat.Throttle(1)
	if code, reason := httpCode(next("services/"+gcpfake.ComputeEngineService, "")); code != http.StatusTooManyRequests || reason != "RATE_LIMIT_EXCEEDED" {
		t.Errorf("ListSkus(throttled) = %d %s; want 429 RATE_LIMIT_EXCEEDED", code, reason)
	}
	if err := next("services/"+gcpfake.ComputeEngineService, ""); !errors.Is(err, iterator.Done) {
		t.Errorf("ListSkus after the throttling = %v; want no SKU and no error", err)
	}
}
