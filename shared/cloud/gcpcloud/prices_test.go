package gcpcloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/type/money"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// telemetryNow is the clock of the simulated estates of these tests.
var telemetryNow = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

// telemetryProvider returns a provider whose Compute Engine clients go
// nowhere (these tests make no Compute Engine call), retrying every
// millisecond, logging to log when it is not nil.
func telemetryProvider(t *testing.T, cfg gcpcloud.Config, log *bytes.Buffer) *gcpcloud.Provider {
	t.Helper()
	cfg.Options = append(cfg.Options, option.WithoutAuthentication())
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Millisecond
	}
	if log != nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(log, nil))
	}
	p, err := gcpcloud.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func startCatalog(t *testing.T, skus ...*billingpb.Sku) *gcpfake.Catalog {
	t.Helper()
	c := gcpfake.NewCatalog()
	t.Cleanup(c.Close)
	c.AddSKUs(gcpfake.ComputeEngineService, skus...)
	return c
}

func telemetryEstate(t *testing.T) (*simcloud.Estate, *pricing.Catalog) {
	t.Helper()
	base, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Config{Seed: 5, Resources: 400, Now: telemetryNow, Days: 14}, base)
	if err != nil {
		t.Fatal(err)
	}
	return est, base
}

// logRecord returns the fields of the first log record with message msg.
func logRecord(t *testing.T, log *bytes.Buffer, msg string) map[string]any {
	t.Helper()
	for _, line := range bytes.Split(log.Bytes(), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["msg"] == msg {
			return rec
		}
	}
	t.Fatalf("no log record %q in %s", msg, log)
	return nil
}

// TestPricesReadTheSimulatedCatalog proves the round trip: the prices
// read from the catalog the simulated estate's prices make are the
// embedded prices, shape included, of every machine type of a mapped
// series in every region of the estate, and of the disks, snapshots and
// addresses there, whatever the page size.
func TestPricesReadTheSimulatedCatalog(t *testing.T) {
	est, base := telemetryEstate(t)
	skus, err := gcpfake.SimSKUs(est, base)
	if err != nil {
		t.Fatal(err)
	}
	var regions []string
	present := map[[3]string]bool{} // region, kind, SKU of the estate
	for _, r := range est.Resources() {
		if r.Cloud != domain.GCP {
			continue
		}
		if !slices.Contains(regions, r.Region) {
			regions = append(regions, r.Region)
		}
		present[[3]string{r.Region, string(r.Kind), r.SKU}] = true
	}
	for _, pageSize := range []int{0, 40} {
		cat := startCatalog(t, skus...)
		if pageSize > 0 {
			cat.SetMaxPageSize(pageSize)
		}
		var log bytes.Buffer
		p := telemetryProvider(t, gcpcloud.Config{CatalogOptions: cat.ClientOptions()}, &log)
		got, err := p.Prices(context.Background(), regions)
		if err != nil {
			t.Fatal(err)
		}
		read := pricing.New(got)
		for k := range present {
			if _, ok := read.Lookup(domain.GCP, k[0], domain.Kind(k[1]), k[2]); !ok {
				t.Errorf("page size %d: no price of %s %s in %s, which the estate uses", pageSize, k[1], k[2], k[0])
			}
		}
		// Every embedded price of the regions is read back as it is.
		// (A machine type the embedded catalog has in another region
		// only is priced too: its series is priced here.)
		for _, want := range base.All() {
			if want.Cloud != domain.GCP || !slices.Contains(regions, want.Region) {
				continue
			}
			got, _ := read.Lookup(domain.GCP, want.Region, want.Kind, want.SKU)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("page size %d: price of %s %s in %s (-embedded +read):\n%s", pageSize, want.Kind, want.SKU, want.Region, diff)
			}
		}
		if n := len(cat.Requests()); (pageSize == 0 && n != 1) || (pageSize > 0 && n != (len(skus)+pageSize-1)/pageSize) {
			t.Errorf("page size %d: %d requests for %d SKUs", pageSize, n, len(skus))
		}
		rec := logRecord(t, &log, "billing catalog prices read")
		if rec["skipped_malformed"] != 0.0 || rec["skipped_not_on_demand"] == 0.0 || rec["skipped_product"] == 0.0 {
			t.Errorf("skips logged %v; want the decoys skipped and nothing malformed", rec)
		}
	}
}

// tier is one tier of a hand-made SKU.
type tier struct {
	start    float64
	units    int64
	nanos    int32
	currency string
}

func usdTier(nanos int32) tier { return tier{currency: "USD", nanos: nanos} }

func handSKU(desc, usage, unit string, regions []string, tiers ...tier) *billingpb.Sku {
	expr := &billingpb.PricingExpression{UsageUnit: unit, DisplayQuantity: 1}
	for _, tr := range tiers {
		expr.TieredRates = append(expr.TieredRates, &billingpb.PricingExpression_TierRate{StartUsageAmount: tr.start,
			UnitPrice: &money.Money{CurrencyCode: tr.currency, Units: tr.units, Nanos: tr.nanos}})
	}
	return &billingpb.Sku{SkuId: desc + "/" + usage + "/" + strings.Join(regions, ","), Description: desc,
		Category:       &billingpb.Category{ServiceDisplayName: "Compute Engine", UsageType: usage},
		ServiceRegions: regions, PricingInfo: []*billingpb.PricingInfo{{PricingExpression: expr, CurrencyConversionRate: 1}}}
}

// handSKUs price N1, N2 and E2 in us-central1 at their real rates, and
// around them what Prices must skip.
func handSKUs() []*billingpb.Sku {
	us := []string{"us-central1", "us-east1"}
	return []*billingpb.Sku{
		handSKU("N1 Predefined Instance Core running in Americas", "OnDemand", "h", us, usdTier(31_611_000)),
		handSKU("N1 Predefined Instance Ram running in Americas", "OnDemand", "GiBy.h", us, usdTier(4_237_000)),
		handSKU("N2 Instance Core running in Americas", "OnDemand", "h", us, usdTier(31_611_000)),
		handSKU("N2 Instance Ram running in Americas", "OnDemand", "GiBy.h", us, usdTier(4_237_000)),
		handSKU("E2 Instance Core running in Americas", "OnDemand", "h", us, usdTier(21_811_590)),
		handSKU("E2 Instance Ram running in Americas", "OnDemand", "GiBy.h", us, usdTier(2_923_530)),
		// A second N2 core price of us-central1: the first is kept.
		handSKU("N2 Instance Core running in Iowa", "OnDemand", "h", []string{"us-central1"}, usdTier(99_000_000)),
		// Not on demand.
		handSKU("Spot Preemptible N2 Instance Core running in Americas", "Preemptible", "h", us, usdTier(7_000_000)),
		handSKU("Commitment v1: N2 Cpu in Americas for 1 Year", "Commit1Yr", "h", us, usdTier(19_000_000)),
		// Not mapped.
		handSKU("N2 Custom Instance Core running in Americas", "OnDemand", "h", us, usdTier(33_000_000)),
		handSKU("Licensing Fee for Windows Server 2019 Datacenter Edition (CPU cost)", "OnDemand", "h", []string{"global"}, usdTier(46_000_000)),
		// Malformed: a negative price, no tier, no pricing info, no region.
		handSKU("Balanced PD Capacity", "OnDemand", "GiBy.mo", us, usdTier(-5)),
		handSKU("SSD backed PD Capacity", "OnDemand", "GiBy.mo", us),
		{SkuId: "no-pricing", Description: "Storage PD Capacity", Category: &billingpb.Category{UsageType: "OnDemand"}, ServiceRegions: us},
		handSKU("Storage PD Capacity in Frankfurt", "OnDemand", "GiBy.mo", nil, usdTier(48_000_000)),
		// Free: no paid tier.
		handSKU("Storage PD Capacity", "OnDemand", "GiBy.mo", []string{"europe-west1"}, usdTier(0)),
		// A free allowance, then the price.
		handSKU("Storage PD Snapshot", "OnDemand", "GiBy.mo", us, usdTier(0), tier{start: 5, nanos: 50_000_000, currency: "USD"}),
		// Another currency, another unit.
		handSKU("Static Ip Charge", "OnDemand", "h", us, tier{currency: "EUR", nanos: 9_000_000}),
		handSKU("External IP Charge on a Standard VM", "OnDemand", "GiBy.mo", us, usdTier(4_000_000)),
		// A global price, and a regional one of europe-west1.
		handSKU("External IP Charge on a Standard VM", "OnDemand", "h", []string{"global"}, usdTier(5_000_000)),
		handSKU("External IP Charge on a Standard VM in Belgium", "OnDemand", "h", []string{"europe-west1"}, usdTier(7_000_000)),
	}
}

func TestPricesMapAndSkip(t *testing.T) {
	cat := startCatalog(t, handSKUs()...)
	var log bytes.Buffer
	p := telemetryProvider(t, gcpcloud.Config{CatalogOptions: cat.ClientOptions()}, &log)
	got, err := p.Prices(context.Background(), []string{"us-central1", " Europe-West1 ", "asia-east2", ""})
	if err != nil {
		t.Fatal(err)
	}
	base, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var others []domain.Price
	vms := map[string]domain.Price{}
	for _, pr := range got {
		if pr.Kind == domain.KindVM && pr.Region == "us-central1" {
			vms[pr.SKU] = pr
		} else {
			others = append(others, pr)
		}
	}
	other := func(region string, kind domain.Kind, sku, unit string, micros int64) domain.Price {
		return domain.Price{Cloud: domain.GCP, Region: region, Kind: kind, SKU: sku, Unit: unit, Amount: domain.USD(micros)}
	}
	want := []domain.Price{
		other("asia-east2", domain.KindIP, gcpcloud.IPSKU, domain.UnitHour, 5000),
		other("europe-west1", domain.KindIP, gcpcloud.IPSKU, domain.UnitHour, 7000),
		other("us-central1", domain.KindIP, gcpcloud.IPSKU, domain.UnitHour, 5000),
		other("us-central1", domain.KindSnapshot, gcpcloud.SnapshotSKU, domain.UnitGiBMonth, 50_000),
	}
	if diff := cmp.Diff(want, others); diff != "" {
		t.Errorf("Prices other than us-central1 VMs (-want +got):\n%s", diff)
	}
	// Every N1, N2 and E2 machine type of the embedded catalog, at the
	// embedded price (which Google's rates make): n1-highcpu-2 has 1.8
	// GiB, e2-micro a quarter of a vCPU.
	n := 0
	for _, pr := range base.VMSizes(domain.GCP, "us-central1") {
		series, _, _ := strings.Cut(pr.SKU, "-")
		if series != "n1" && series != "n2" && series != "e2" {
			if _, ok := vms[pr.SKU]; ok {
				t.Errorf("a price of %s, whose series has no SKU", pr.SKU)
			}
			continue
		}
		n++
		if diff := cmp.Diff(pr, vms[pr.SKU]); diff != "" {
			t.Errorf("price of %s (-embedded +read):\n%s", pr.SKU, diff)
		}
	}
	if n != len(vms) || vms["n1-highcpu-2"].Amount.Micros == 0 || !vms["e2-micro"].Burstable {
		t.Errorf("%d VM prices read, %d N1, N2 and E2 types embedded", len(vms), n)
	}
	rec := logRecord(t, &log, "billing catalog prices read")
	wantSkips := map[string]float64{"skipped_not_on_demand": 2, "skipped_product": 2, "skipped_malformed": 4, "skipped_zero": 1,
		"skipped_not_usd": 1, "skipped_unit": 1, "skipped_duplicate": 1, "skipped": 12}
	for k, v := range wantSkips {
		if rec[k] != v {
			t.Errorf("log %s = %v; want %v", k, rec[k], v)
		}
	}
}

func TestPriceCatalogLaysOverTheEmbeddedOne(t *testing.T) {
	skus := handSKUs()
	skus[2] = handSKU("N2 Instance Core running in Americas", "OnDemand", "h", []string{"us-central1"}, usdTier(40_000_000))
	cat := startCatalog(t, skus...)
	p := telemetryProvider(t, gcpcloud.Config{CatalogOptions: cat.ClientOptions()}, nil)
	live, err := p.PriceCatalog(context.Background(), []string{"us-central1"})
	if err != nil {
		t.Fatal(err)
	}
	base, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	merged := base.Merge(live.All())
	// n2-standard-4: 4 × 0.04 + 16 × 0.004237.
	if got, _ := merged.Lookup(domain.GCP, "us-central1", domain.KindVM, "n2-standard-4"); got.Amount != domain.USD(227_792) || got.VCPU != 4 {
		t.Errorf("merged n2-standard-4 = %+v; want 0.227792 USD with 4 vCPUs", got)
	}
	embedded, _ := base.Lookup(domain.GCP, "europe-west4", domain.KindVM, "n2-standard-4")
	if got, ok := merged.Lookup(domain.GCP, "europe-west4", domain.KindVM, "n2-standard-4"); !ok || got != embedded {
		t.Errorf("merged europe-west4 n2-standard-4 = %+v; want the embedded %+v", got, embedded)
	}
}

func TestPricesThrottled(t *testing.T) {
	cat := startCatalog(t, handSKUs()...)
	p := telemetryProvider(t, gcpcloud.Config{CatalogOptions: cat.ClientOptions(), MaxRetries: 2}, nil)
	cat.Throttle(3)
	if _, err := p.Prices(context.Background(), []string{"us-central1"}); !errors.Is(err, domain.ErrThrottled) {
		t.Errorf("Prices throttled past the retries = %v; want ErrThrottled", err)
	}
	cat.Throttle(2)
	if got, err := p.Prices(context.Background(), []string{"us-central1"}); err != nil || len(got) == 0 {
		t.Errorf("Prices throttled within the retries = %d prices, %v; want prices", len(got), err)
	}
	before := len(cat.Requests())
	if got, err := p.Prices(context.Background(), []string{" "}); err != nil || got != nil || len(cat.Requests()) != before {
		t.Errorf("Prices(no region) = %v, %v after %d calls; want nothing and no call", got, err, len(cat.Requests())-before)
	}
}
