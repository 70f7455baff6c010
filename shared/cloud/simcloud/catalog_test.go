package simcloud

import (
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// priceSources returns the test price table and the real embedded catalog.
func priceSources(t *testing.T) map[string]Prices {
	t.Helper()
	c, err := pricing.Embedded()
	if err != nil {
		t.Fatalf("pricing.Embedded() = %v", err)
	}
	return map[string]Prices{"test-table": testPrices(), "embedded-catalog": c}
}

// TestDemoOnTheEmbeddedCatalog builds the demo estate on the real price
// catalog, as make demo does, and checks that it holds every finding and
// prices every resource.
func TestDemoOnTheEmbeddedCatalog(t *testing.T) {
	c, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	c = pricing.WithObjectStorage(c) // as the demo builds it
	e, err := New(Demo(testNow), c)
	if err != nil {
		t.Fatalf("New(Demo) on the embedded catalog = %v", err)
	}
	checkFindings(t, findings(e, testNow))
	objects := pricing.EmbeddedObjectClasses()
	pricedBuckets := map[domain.Cloud]int{}
	for _, r := range e.Resources() {
		if r.Kind == domain.KindBucket {
			// Buckets are priced by the object storage table, which
			// leaves some regions out on purpose (a "no price" finding).
			for _, oc := range objects.Classes(r.Cloud, r.Region) {
				if oc.Hot && oc.Class == r.SKU {
					pricedBuckets[r.Cloud]++
				}
			}
			continue
		}
		p, ok := c.Lookup(r.Cloud, r.Region, r.Kind, r.SKU)
		if !ok {
			t.Errorf("%s %s %s: SKU %q is not in the catalog", r.Cloud, r.Kind, r.ID, r.SKU)
			continue
		}
		if r.Kind == domain.KindVM {
			a, _ := e.Archetype(r.ID)
			m := archetypeMix[archetypeByName(a)]
			if p.VCPU < m.minCPU || p.VCPU > m.maxCPU || p.GPUs > 0 || p.Arch == "arm64" {
				t.Errorf("%s VM %s is a %s (%d vCPU, %d GPUs, %s); want %d..%d x86 vCPU", a, r.ID, r.SKU, p.VCPU, p.GPUs, p.Arch, m.minCPU, m.maxCPU)
			}
		}
	}
	for _, cl := range domain.Clouds {
		if pricedBuckets[cl] < 2 {
			t.Errorf("%d %s buckets have a priced hot class; want at least 2", pricedBuckets[cl], cl)
		}
		t.Logf("demo monthly run rate %s: %s", cl, e.MonthlyRunRate(cl))
	}
}

func archetypeByName(name string) archetype {
	for a, n := range archetypeNames {
		if n == name {
			return archetype(a)
		}
	}
	return archBusy
}
