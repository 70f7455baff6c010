package azurecloud_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// retailPages are the fixture pages (testdata/retail) of each query
// Prices makes in eastus, in the order of RetailFilters.
var retailPages = []string{"vm", "premium-ssd", "standard-ssd", "standard-hdd", "ip"}

// retailServer serves the fixture pages of the Retail Prices API.
type retailServer struct {
	*httptest.Server
	// nextHost, when set, is the host the page links point to.
	nextHost string
	// throttle answers that many requests 429 first.
	throttle int

	mu    sync.Mutex
	asked []string // "filter #page"
}

func newRetailServer(t *testing.T) *retailServer {
	t.Helper()
	rs := &retailServer{}
	rs.Server = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *retailServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rs.mu.Lock()
	throttled := rs.throttle > 0
	if throttled {
		rs.throttle--
	}
	rs.mu.Unlock()
	if throttled {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if q.Get("api-version") != "2023-01-01-preview" {
		http.Error(w, `{"Error":{"Code":"InvalidApiVersion"}}`, http.StatusBadRequest)
		return
	}
	filter := q.Get("$filter")
	i := slices.Index(azurecloud.RetailFilters("eastus"), filter)
	if i < 0 {
		http.Error(w, `{"Error":{"Code":"InvalidFilter"}}`, http.StatusBadRequest)
		return
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	page := skip / 100
	rs.mu.Lock()
	rs.asked = append(rs.asked, filter+" #"+strconv.Itoa(page))
	rs.mu.Unlock()
	b, err := os.ReadFile("testdata/retail/" + retailPages[i] + "-eastus-" + strconv.Itoa(page) + ".json")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	next := *r.URL
	next.Scheme, next.Host = "http", r.Host
	if rs.nextHost != "" {
		next.Host = rs.nextHost
	}
	q.Set("$skip", strconv.Itoa(skip+100))
	next.RawQuery = q.Encode()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(strings.ReplaceAll(string(b), "{{NEXT}}", next.String())))
}

// priceProvider returns a provider reading prices from rs, and the
// shapes of its VM sizes from a subscription of srv.
func priceProvider(t *testing.T, rs *retailServer, cfg azurecloud.Config) (*azurecloud.Provider, *azurefake.Server) {
	t.Helper()
	est := azurefake.NewEstate()
	est.AddSubscription(azurefake.NewSubscription(subA, "prod"))
	est.Sizes["eastus"] = append(slices.Clone(azurefake.SyntheticSizes),
		azurefake.VMSize{Name: "Standard_D2ps_v5", VCPUs: 2, MemoryMiB: 8192, Arch: "Arm64"},
		azurefake.VMSize{Name: "Standard_NC6s_v3", VCPUs: 6, MemoryMiB: 114688, GPUs: 1})
	srv := newServer(t, est, azurefake.Options{})
	cfg.RetailPricesURL = rs.URL + "/api/retail/prices"
	cfg.HTTPClient = rs.Client()
	return newProvider(t, srv, cfg), srv
}

func usd(s string) domain.Money {
	m, err := domain.ParseMoney(s, "USD")
	if err != nil {
		panic(err)
	}
	return m
}

func TestPricesReadsTheRetailPricesAPI(t *testing.T) {
	rs := newRetailServer(t)
	p, _ := priceProvider(t, rs, azurecloud.Config{})
	got, err := p.Prices(context.Background(), []string{"East US", ""})
	if err != nil {
		t.Fatal(err)
	}
	vm := func(sku, family string, vcpu int, mem int64, amount string, f func(*domain.Price)) domain.Price {
		p := domain.Price{Cloud: domain.Azure, Region: "eastus", Kind: domain.KindVM, SKU: sku, Family: family, Arch: "x86_64",
			VCPU: vcpu, MemoryMiB: mem, Unit: domain.UnitHour, Amount: usd(amount)}
		if f != nil {
			f(&p)
		}
		return p
	}
	other := func(kind domain.Kind, sku, unit, amount string) domain.Price {
		return domain.Price{Cloud: domain.Azure, Region: "eastus", Kind: kind, SKU: sku, Unit: unit, Amount: usd(amount)}
	}
	want := []domain.Price{
		other(domain.KindDisk, "Premium_LRS", domain.UnitGiBMonth, "0.132002"), // P30: 135.17 / 1024
		other(domain.KindDisk, "Premium_LRS/P10", domain.UnitMonth, "19.71"),
		other(domain.KindDisk, "Premium_LRS/P30", domain.UnitMonth, "135.17"),
		other(domain.KindDisk, "Premium_LRS/P4", domain.UnitMonth, "5.28"),
		other(domain.KindDisk, "Premium_ZRS", domain.UnitGiBMonth, "0.198008"), // P30 ZRS: 202.76 / 1024
		other(domain.KindDisk, "Premium_ZRS/P10", domain.UnitMonth, "29.57"),
		other(domain.KindDisk, "Premium_ZRS/P30", domain.UnitMonth, "202.76"),
		other(domain.KindDisk, "StandardSSD_LRS", domain.UnitGiBMonth, "0.075"),
		other(domain.KindDisk, "StandardSSD_LRS/E10", domain.UnitMonth, "9.6"),
		other(domain.KindDisk, "StandardSSD_LRS/E30", domain.UnitMonth, "76.8"),
		other(domain.KindDisk, "Standard_LRS", domain.UnitGiBMonth, "0.04"),
		other(domain.KindDisk, "Standard_LRS/S30", domain.UnitMonth, "40.96"),
		other(domain.KindDisk, "Standard_LRS/S4", domain.UnitMonth, "1.536"),
		other(domain.KindIP, azurecloud.IPSKU, domain.UnitHour, "0.005"),
		other(domain.KindIP, azurecloud.IPBasicSKU, domain.UnitHour, "0.0036"),
		other(domain.KindSnapshot, azurecloud.SnapshotSKU, domain.UnitGiBMonth, "0.05"),
		vm("Standard_B2ms", "Bs", 2, 8192, "0.0832", func(p *domain.Price) { p.Burstable = true }),
		vm("Standard_D2ps_v5", "Dpsv5", 2, 8192, "0.077", func(p *domain.Price) { p.Arch = "arm64" }),
		vm("Standard_D2s_v5", "Dsv5", 2, 8192, "0.096", nil), // the newer of two prices
		vm("Standard_D4s_v5", "Dsv5", 4, 16384, "0.192", nil),
		vm("Standard_E2s_v5", "Esv5", 2, 16384, "0.126", nil),
		vm("Standard_NC6s_v3", "NCsv3", 6, 114688, "3.06", func(p *domain.Price) { p.GPUs = 1 }),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Prices(eastus) (-want +got):\n%s", diff)
	}
	// Every query of RetailFilters, every page followed.
	var wantAsked []string
	for i, f := range azurecloud.RetailFilters("eastus") {
		wantAsked = append(wantAsked, f+" #0")
		if i < 2 {
			wantAsked = append(wantAsked, f+" #1")
		}
	}
	if diff := cmp.Diff(wantAsked, rs.asked); diff != "" {
		t.Errorf("queries asked (-want +got):\n%s", diff)
	}
}

func TestPriceCatalogLaysOverTheEmbeddedOne(t *testing.T) {
	rs := newRetailServer(t)
	p, _ := priceProvider(t, rs, azurecloud.Config{})
	live, err := p.PriceCatalog(context.Background(), []string{"eastus"})
	if err != nil {
		t.Fatal(err)
	}
	base, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	merged := base.Merge(live.All())
	for _, tc := range []struct {
		kind   domain.Kind
		sku    string
		amount string
	}{
		{domain.KindVM, "standard_d2s_v5", "0.096"},
		{domain.KindDisk, "Premium_LRS", "0.132002"},
		{domain.KindIP, azurecloud.IPSKU, "0.005"},
		{domain.KindSnapshot, azurecloud.SnapshotSKU, "0.05"},
	} {
		got, ok := merged.Lookup(domain.Azure, "eastus", tc.kind, tc.sku)
		if !ok || got.Amount != usd(tc.amount) {
			t.Errorf("merged Lookup(%s %s) = %v, %v; want %s USD", tc.kind, tc.sku, got.Amount, ok, tc.amount)
		}
	}
	if _, ok := merged.Lookup(domain.Azure, "westeurope", domain.KindVM, "Standard_D2s_v5"); !ok {
		t.Error("the merged catalog lost the embedded westeurope prices")
	}
}

func TestPricesWithoutShapesKeepTheEmbeddedOnes(t *testing.T) {
	rs := newRetailServer(t)
	p, srv := priceProvider(t, rs, azurecloud.Config{})
	srv.Deny(subA, "")
	live, err := p.Prices(context.Background(), []string{"eastus"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(live, func(pr domain.Price) bool { return pr.SKU == "Standard_D4s_v5" })
	if i < 0 || live[i].VCPU != 0 || live[i].Amount != usd("0.192") {
		t.Fatalf("Standard_D4s_v5 without ResourceSKUs = %+v; want its price without a shape", live)
	}
	base, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	embedded, _ := base.Lookup(domain.Azure, "eastus", domain.KindVM, "Standard_D4s_v5")
	got, _ := base.Merge(live).Lookup(domain.Azure, "eastus", domain.KindVM, "Standard_D4s_v5")
	if got.VCPU != embedded.VCPU || got.MemoryMiB != embedded.MemoryMiB || got.VCPU == 0 {
		t.Errorf("merged Standard_D4s_v5 = %d vCPU %d MiB; want the embedded shape %d vCPU %d MiB", got.VCPU, got.MemoryMiB, embedded.VCPU, embedded.MemoryMiB)
	}
}

func TestPricesRefusesAPageLinkToAnotherHost(t *testing.T) {
	rs := newRetailServer(t)
	rs.nextHost = "prices.example.com"
	p, _ := priceProvider(t, rs, azurecloud.Config{})
	_, err := p.Prices(context.Background(), []string{"eastus"})
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "prices.example.com") {
		t.Fatalf("Prices following a link to another host = %v; want ErrInvalid naming it", err)
	}
}

func TestPricesRetriesThrottling(t *testing.T) {
	rs := newRetailServer(t)
	rs.throttle = 2
	p, _ := priceProvider(t, rs, azurecloud.Config{MaxRetries: 3})
	if _, err := p.Prices(context.Background(), []string{"eastus"}); err != nil {
		t.Fatalf("Prices after two throttled answers = %v; want them retried", err)
	}
	rs.throttle = 100
	_, err := p.Prices(context.Background(), []string{"eastus"})
	if !errors.Is(err, domain.ErrThrottled) {
		t.Fatalf("Prices throttled for good = %v; want ErrThrottled", err)
	}
	if !strings.Contains(err.Error(), "retail prices serviceName eq 'Virtual Machines'") {
		t.Errorf("error %q does not name the retail prices query", err)
	}
}
