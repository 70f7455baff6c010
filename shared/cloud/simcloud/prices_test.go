package simcloud

import (
	"sort"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// fakePrices is a small price table shaped like the catalog of package
// pricing, with real on-demand list prices (USD) of a few SKUs.
type fakePrices struct {
	byKey map[priceKey]domain.Price
	vms   map[[2]string][]domain.Price
}

func (f *fakePrices) Lookup(c domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool) {
	p, ok := f.byKey[priceKey{c, region, sku, kind}]
	return p, ok
}

func (f *fakePrices) VMSizes(c domain.Cloud, region string) []domain.Price {
	return f.vms[[2]string{string(c), region}]
}

func testPrices() *fakePrices {
	f := &fakePrices{byKey: map[priceKey]domain.Price{}, vms: map[[2]string][]domain.Price{}}
	type vm struct {
		sku    string
		vcpu   int
		memGiB int64
		price  string
	}
	regions := map[domain.Cloud][]string{domain.AWS: {"us-east-1"}, domain.Azure: {"eastus", "westeurope"},
		domain.GCP: {"us-central1", "europe-west1"}}
	vms := map[domain.Cloud][]vm{
		domain.AWS: {{"m5.large", 2, 8, "0.096"}, {"m5.xlarge", 4, 16, "0.192"}, {"m5.2xlarge", 8, 32, "0.384"},
			{"m5.4xlarge", 16, 64, "0.768"}, {"m5.8xlarge", 32, 128, "1.536"}, {"c5.large", 2, 4, "0.085"},
			{"c5.xlarge", 4, 8, "0.17"}, {"c5.2xlarge", 8, 16, "0.34"}, {"r5.large", 2, 16, "0.126"},
			{"r5.xlarge", 4, 32, "0.252"}, {"r5.2xlarge", 8, 64, "0.504"}, {"t3.medium", 2, 4, "0.0416"}},
		domain.Azure: {{"Standard_D2s_v5", 2, 8, "0.096"}, {"Standard_D4s_v5", 4, 16, "0.192"},
			{"Standard_D8s_v5", 8, 32, "0.384"}, {"Standard_D16s_v5", 16, 64, "0.768"}, {"Standard_E2s_v5", 2, 16, "0.126"},
			{"Standard_E4s_v5", 4, 32, "0.252"}, {"Standard_E8s_v5", 8, 64, "0.504"}, {"Standard_F2s_v2", 2, 4, "0.0846"},
			{"Standard_F4s_v2", 4, 8, "0.169"}, {"Standard_F8s_v2", 8, 16, "0.338"}},
		domain.GCP: {{"n2-standard-2", 2, 8, "0.097118"}, {"n2-standard-4", 4, 16, "0.194236"},
			{"n2-standard-8", 8, 32, "0.388472"}, {"n2-standard-16", 16, 64, "0.776944"}, {"n2-highmem-2", 2, 16, "0.131014"},
			{"n2-highmem-4", 4, 32, "0.262028"}, {"n2-highcpu-8", 8, 8, "0.286976"}, {"e2-standard-2", 2, 8, "0.067006"},
			{"e2-standard-4", 4, 16, "0.134012"}, {"e2-standard-8", 8, 32, "0.268024"}},
	}
	other := map[domain.Cloud][]struct {
		kind  domain.Kind
		sku   string
		unit  string
		price string
	}{
		domain.AWS: {{domain.KindDisk, "gp3", domain.UnitGiBMonth, "0.08"}, {domain.KindDisk, "gp2", domain.UnitGiBMonth, "0.10"},
			{domain.KindDisk, "io1", domain.UnitGiBMonth, "0.125"}, {domain.KindDisk, "st1", domain.UnitGiBMonth, "0.045"},
			{domain.KindDisk, "sc1", domain.UnitGiBMonth, "0.015"}, {domain.KindSnapshot, "snapshot", domain.UnitGiBMonth, "0.05"},
			{domain.KindIP, "public-ipv4", domain.UnitHour, "0.005"}},
		domain.Azure: {{domain.KindDisk, "Premium_LRS", domain.UnitGiBMonth, "0.1352"}, {domain.KindDisk, "StandardSSD_LRS", domain.UnitGiBMonth, "0.075"},
			{domain.KindDisk, "Standard_LRS", domain.UnitGiBMonth, "0.04"}, {domain.KindSnapshot, "snapshot", domain.UnitGiBMonth, "0.05"},
			{domain.KindIP, "public-ipv4", domain.UnitHour, "0.005"}},
		domain.GCP: {{domain.KindDisk, "pd-standard", domain.UnitGiBMonth, "0.04"}, {domain.KindDisk, "pd-balanced", domain.UnitGiBMonth, "0.1"},
			{domain.KindDisk, "pd-ssd", domain.UnitGiBMonth, "0.17"}, {domain.KindSnapshot, "snapshot", domain.UnitGiBMonth, "0.026"},
			{domain.KindIP, "public-ipv4", domain.UnitHour, "0.005"}},
	}
	// Buckets' hot classes, where the embedded object storage table
	// prices them (not Azure's West Europe).
	for _, b := range []struct {
		cloud         domain.Cloud
		region, class string
		price         int64
	}{{domain.AWS, "us-east-1", "STANDARD", 23_000}, {domain.Azure, "eastus", "Hot_LRS", 18_400},
		{domain.GCP, "us-central1", "STANDARD", 20_000}, {domain.GCP, "europe-west1", "STANDARD", 20_000}} {
		f.byKey[priceKey{b.cloud, b.region, b.class, domain.KindBucket}] = domain.Price{Cloud: b.cloud, Region: b.region,
			Kind: domain.KindBucket, SKU: b.class, Unit: domain.UnitGiBMonth, Amount: domain.USD(b.price)}
	}
	for c, rs := range regions {
		for ri, region := range rs {
			for _, v := range vms[c] {
				m, err := domain.ParseMoney(v.price, "USD")
				if err != nil {
					panic(err)
				}
				if ri > 0 { // Europe is a little dearer
					m.Micros = m.Micros * 11 / 10
				}
				p := domain.Price{Cloud: c, Region: region, Kind: domain.KindVM, SKU: v.sku, VCPU: v.vcpu,
					MemoryMiB: v.memGiB * 1024, Arch: "x86_64", Unit: domain.UnitHour, Amount: m}
				f.byKey[priceKey{c, region, v.sku, domain.KindVM}] = p
				f.vms[[2]string{string(c), region}] = append(f.vms[[2]string{string(c), region}], p)
			}
			sort.SliceStable(f.vms[[2]string{string(c), region}], func(i, j int) bool {
				s := f.vms[[2]string{string(c), region}]
				return s[i].Amount.Micros < s[j].Amount.Micros
			})
			for _, o := range other[c] {
				m, err := domain.ParseMoney(o.price, "USD")
				if err != nil {
					panic(err)
				}
				f.byKey[priceKey{c, region, o.sku, o.kind}] = domain.Price{Cloud: c, Region: region, Kind: o.kind, SKU: o.sku,
					Unit: o.unit, Amount: m}
			}
		}
	}
	return f
}
