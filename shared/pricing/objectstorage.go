package pricing

import (
	"slices"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ObjectClasses is a table of object storage class prices; it is
// immutable and safe for concurrent use.
type ObjectClasses struct {
	by map[regionKey][]domain.ObjectClass
}

// NewObjectClasses indexes classes by cloud and region.
func NewObjectClasses(classes []domain.ObjectClass) *ObjectClasses {
	t := &ObjectClasses{by: map[regionKey][]domain.ObjectClass{}}
	for _, c := range classes {
		k := regionKey{cloud: c.Cloud, region: strings.ToLower(c.Region)}
		t.by[k] = append(t.by[k], c)
	}
	return t
}

// Classes returns the classes priced in a region, hot classes first,
// then by name.
func (t *ObjectClasses) Classes(cloud domain.Cloud, region string) []domain.ObjectClass {
	out := slices.Clone(t.by[regionKey{cloud: cloud, region: strings.ToLower(region)}])
	slices.SortStableFunc(out, func(a, b domain.ObjectClass) int {
		if a.Hot != b.Hot {
			if a.Hot {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Class, b.Class)
	})
	return out
}

// HotPrices returns the storage price of each hot class as a bucket
// price (kind bucket, SKU the class, per GiB-month), so that the catalog
// prices what a bucket's hot data costs, as it prices a disk.
func (t *ObjectClasses) HotPrices() []domain.Price {
	var out []domain.Price
	for _, cs := range t.by {
		for _, c := range cs {
			if c.Hot {
				out = append(out, domain.Price{Cloud: c.Cloud, Region: c.Region, Kind: domain.KindBucket, SKU: c.Class,
					Unit: domain.UnitGiBMonth, Amount: c.GiBMonth})
			}
		}
	}
	slices.SortFunc(out, func(a, b domain.Price) int {
		return strings.Compare(string(a.Cloud)+"/"+a.Region+"/"+a.SKU, string(b.Cloud)+"/"+b.Region+"/"+b.SKU)
	})
	return out
}

// WithObjectStorage returns c with the embedded hot object storage
// classes added as bucket prices: what a simulated estate needs to hold
// and bill buckets. The clouds' price APIs that refresh c do not price
// buckets, so deployments plan buckets from the object storage table and
// the bill instead.
func WithObjectStorage(c *Catalog) *Catalog {
	return c.Merge(EmbeddedObjectClasses().HotPrices())
}

// EmbeddedObjectClasses returns the embedded object storage prices:
// published list prices of the online classes a lifecycle rule can move
// objects to, in regions the embedded VM catalog also covers (Azure's
// West Europe is not priced yet: its buckets get a "no price" finding). Archive classes (S3 Glacier Flexible Retrieval and Deep
// Archive, Cloud Storage Archive, Azure Archive) are left out: reading
// from them takes hours, which no access pattern measured in request
// counts can vouch for. One Zone-IA is left out because it keeps one
// copy in one zone, which is not the same durability.
func EmbeddedObjectClasses() *ObjectClasses {
	var cs []domain.ObjectClass
	usd := func(v float64) domain.Money { return domain.FromFloat(v, "USD") }
	add := func(cloud domain.Cloud, regions []string, source string, rows ...domain.ObjectClass) {
		for _, region := range regions {
			for _, r := range rows {
				r.Cloud, r.Region, r.Source = cloud, region, source+", "+region
				cs = append(cs, r)
			}
		}
	}
	// Amazon S3, first 50 TB a month; GET per 1,000 ×10; lifecycle
	// transition requests per 1,000 ×10.
	add(domain.AWS, []string{"us-east-1"}, "published list price (Amazon S3 pricing page)",
		domain.ObjectClass{Class: "STANDARD", Hot: true, GiBMonth: usd(0.023), ReadsPer10k: usd(0.004)},
		domain.ObjectClass{Class: "STANDARD_IA", GiBMonth: usd(0.0125), RetrievalPerGiB: usd(0.01), ReadsPer10k: usd(0.01),
			TransitionPer10k: usd(0.1), MinDays: 30, MinObjectKiB: 128},
		domain.ObjectClass{Class: "GLACIER_IR", GiBMonth: usd(0.004), RetrievalPerGiB: usd(0.03), ReadsPer10k: usd(0.1),
			TransitionPer10k: usd(0.2), MinDays: 90, MinObjectKiB: 128},
	)
	// Cloud Storage, regional buckets; class B operations are reads; a
	// lifecycle SetStorageClass is a class A operation at the new class.
	add(domain.GCP, []string{"us-central1", "us-east1", "europe-west1"}, "published list price (Cloud Storage pricing page)",
		domain.ObjectClass{Class: "STANDARD", Hot: true, GiBMonth: usd(0.020), ReadsPer10k: usd(0.004)},
		domain.ObjectClass{Class: "NEARLINE", GiBMonth: usd(0.010), RetrievalPerGiB: usd(0.01), ReadsPer10k: usd(0.01),
			TransitionPer10k: usd(0.1), MinDays: 30},
		domain.ObjectClass{Class: "COLDLINE", GiBMonth: usd(0.004), RetrievalPerGiB: usd(0.02), ReadsPer10k: usd(0.1),
			TransitionPer10k: usd(0.2), MinDays: 90},
	)
	// Azure Blob Storage, general purpose v2, LRS, first 50 TB; a tier
	// change by a lifecycle policy is a write operation at the new tier.
	add(domain.Azure, []string{"eastus"}, "published list price (Azure Blob Storage pricing page)",
		domain.ObjectClass{Class: "Hot_LRS", Hot: true, GiBMonth: usd(0.0184), ReadsPer10k: usd(0.0044), RuleClass: "Hot"},
		domain.ObjectClass{Class: "Cool_LRS", GiBMonth: usd(0.01), RetrievalPerGiB: usd(0.01), ReadsPer10k: usd(0.01),
			TransitionPer10k: usd(0.1), MinDays: 30, RuleClass: "Cool"},
		domain.ObjectClass{Class: "Cold_LRS", GiBMonth: usd(0.0036), RetrievalPerGiB: usd(0.03), ReadsPer10k: usd(0.1),
			TransitionPer10k: usd(0.18), MinDays: 90, RuleClass: "Cold"},
	)
	return NewObjectClasses(cs)
}
