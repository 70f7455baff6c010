package placement

import (
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// TestTypeTableFamilies checks that each scored type's family is the one
// the price catalog gives its SKU, that the catalog prices it, and that
// families sharing a processor key share a score: FamilyPerf relies on
// all three.
func TestTypeTableFamilies(t *testing.T) {
	cat := catalog(t)
	score := map[string]float64{}
	for _, tt := range typeTable {
		if got := pricing.Family(tt.cloud, tt.sku); got != tt.family {
			t.Errorf("typeTable %s %s: family %q; pricing.Family says %q", tt.cloud, tt.sku, tt.family, got)
		}
		found := false
		for _, r := range regionTable {
			if r.cloud != tt.cloud {
				continue
			}
			if p, ok := cat.Lookup(r.cloud, r.name, domain.KindVM, tt.sku); ok && p.Family == tt.family {
				found = true
			}
		}
		if !found {
			t.Errorf("typeTable %s %s: no region of the catalog prices it as family %s", tt.cloud, tt.sku, tt.family)
		}
		k := processorKey(tt.cloud, tt.family)
		if s, ok := score[k]; ok && s != tt.perf {
			t.Errorf("typeTable %s %s scores %v; another family with processor key %s scores %v", tt.cloud, tt.sku, tt.perf, k, s)
		}
		score[k] = tt.perf
	}
}

func TestFamilyPerf(t *testing.T) {
	tests := []struct {
		cloud  domain.Cloud
		family string
		want   float64
		ok     bool
	}{
		{domain.AWS, "m5", 1.00, true},
		{domain.AWS, "m5d", 1.00, true},
		{domain.AWS, "M6IN", 1.15, true},
		{domain.AWS, "c5", 1.05, true},
		{domain.AWS, "m5a", 0, false},
		{domain.Azure, "Dsv5", 1.15, true},
		{domain.Azure, "Dv5", 1.15, true},
		{domain.Azure, "Ddsv5", 1.15, true},
		{domain.Azure, "Edsv5", 1.15, true},
		{domain.Azure, "Eadsv5", 1.10, true},
		{domain.Azure, "Edv4", 1.05, true},
		{domain.Azure, "Fsv2", 1.05, true},
		{domain.Azure, "Eav4", 0, false},
		{domain.Azure, "DSv2", 0, false},
		{domain.GCP, "n2-highmem", 1.10, true},
		{domain.GCP, "e2-highcpu", 0.95, true},
		{domain.GCP, "n1-standard", 0.90, true},
		{domain.GCP, "a2-highgpu", 0, false},
		{domain.GCP, "", 0, false},
	}
	for _, tt := range tests {
		got, ok := FamilyPerf(tt.cloud, tt.family)
		if got != tt.want || ok != tt.ok {
			t.Errorf("FamilyPerf(%s, %q) = %v, %v; want %v, %v", tt.cloud, tt.family, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEgressPrice(t *testing.T) {
	rates := ListEgress()
	use1 := Region{Cloud: domain.AWS, Name: "us-east-1", Continent: "north-america"}
	usw := Region{Cloud: domain.AWS, Name: "us-west-2", Continent: "north-america"}
	euw := Region{Cloud: domain.Azure, Name: "westeurope", Continent: "europe"}
	use := Region{Cloud: domain.Azure, Name: "eastus", Continent: "north-america"}
	tests := []struct {
		name     string
		from, to Region
		want     domain.Money
	}{
		{"same region", use1, use1, domain.Money{}},
		{"same cloud and continent", use1, usw, domain.USD(20_000)},
		{"same cloud, another continent", euw, use, domain.USD(50_000)},
		{"another cloud: the sender's internet rate", use1, euw, domain.USD(90_000)},
		{"another cloud the other way", euw, use1, domain.USD(87_000)},
		{"unknown cloud charges nothing", Region{Cloud: "other", Name: "x"}, use1, domain.Money{}},
	}
	for _, tt := range tests {
		if got := EgressPrice(rates, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: EgressPrice(%s, %s) = %v; want %v", tt.name, tt.from.Name, tt.to.Name, got, tt.want)
		}
	}
	rates[domain.AWS] = EgressRates{}
	if ListEgress()[domain.AWS].Internet != domain.USD(90_000) {
		t.Errorf("ListEgress() shares its map between calls")
	}
}
