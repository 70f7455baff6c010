package pricing

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The regions the embedded snapshot covers.
var wantRegions = map[domain.Cloud][]string{
	domain.AWS:   {"us-east-1"},
	domain.Azure: {"eastus", "eastus2", "northeurope", "westeurope", "westus2"},
	domain.GCP:   {"asia-northeast1", "europe-west1", "europe-west4", "us-central1", "us-east1"},
}

// The disk, snapshot and address SKUs every region must price.
var wantSKUs = map[domain.Cloud][]struct {
	kind domain.Kind
	sku  string
}{
	domain.AWS: {{domain.KindDisk, "gp3"}, {domain.KindDisk, "gp2"}, {domain.KindDisk, "io1"}, {domain.KindDisk, "st1"},
		{domain.KindDisk, "sc1"}, {domain.KindSnapshot, "snapshot"}, {domain.KindIP, "public-ipv4"}},
	domain.Azure: {{domain.KindDisk, "Premium_LRS"}, {domain.KindDisk, "StandardSSD_LRS"}, {domain.KindDisk, "Standard_LRS"},
		{domain.KindSnapshot, "snapshot"}, {domain.KindIP, "public-ipv4"}},
	domain.GCP: {{domain.KindDisk, "pd-standard"}, {domain.KindDisk, "pd-balanced"}, {domain.KindDisk, "pd-ssd"},
		{domain.KindSnapshot, "snapshot"}, {domain.KindIP, "public-ipv4"}, {domain.KindIP, "public-ipv4-unused"}},
}

func TestEmbedded(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded() error: %v", err)
	}
	for _, cloud := range domain.Clouds {
		if got := c.Regions(cloud); !slices.Equal(got, wantRegions[cloud]) {
			t.Errorf("Regions(%s) = %v; want %v", cloud, got, wantRegions[cloud])
		}
		for _, region := range wantRegions[cloud] {
			vms := c.VMSizes(cloud, region)
			if len(vms) < 100 {
				t.Errorf("VMSizes(%s, %s) has %d sizes; want at least 100", cloud, region, len(vms))
			}
			for _, w := range wantSKUs[cloud] {
				if _, ok := c.Lookup(cloud, region, w.kind, w.sku); !ok {
					t.Errorf("Lookup(%s, %s, %s, %s) found nothing", cloud, region, w.kind, w.sku)
				}
			}
		}
	}
	for _, p := range c.All() {
		switch {
		case p.Amount.Currency != "USD" || p.Amount.Micros <= 0:
			t.Errorf("%s %s %s %s: amount %+v; want a positive USD amount", p.Cloud, p.Region, p.Kind, p.SKU, p.Amount)
		case p.Kind != domain.KindVM:
		case p.VCPU <= 0 || p.MemoryMiB <= 0 || p.Unit != domain.UnitHour:
			t.Errorf("VM %s %s %s: %d vCPU, %d MiB, unit %s; want vCPUs, memory and Hours", p.Cloud, p.Region, p.SKU, p.VCPU, p.MemoryMiB, p.Unit)
		case p.Arch != "x86_64" && p.Arch != "arm64":
			t.Errorf("VM %s %s %s: arch %q", p.Cloud, p.Region, p.SKU, p.Arch)
		case p.Family != Family(p.Cloud, p.SKU):
			t.Errorf("VM %s %s %s: family %q; Family() = %q", p.Cloud, p.Region, p.SKU, p.Family, Family(p.Cloud, p.SKU))
		}
	}
}

// TestEmbeddedPrices spot-checks prices against the source files, read by
// hand: prices/aws-karpenter/zz_generated.pricing_aws.go,
// prices/azure-karpenter/zz_generated.pricing.go and
// prices/gcp-cyclenerd/pricing.yml of the handbook's data directory.
func TestEmbeddedPrices(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded() error: %v", err)
	}
	tests := []struct {
		cloud      domain.Cloud
		region     string
		kind       domain.Kind
		sku        string
		micros     int64
		vcpu       int
		memMiB     int64
		arch       string
		burstable  bool
		gpus       int
		unitGiBMon bool
	}{
		// AWS us-east-1, "m5.large": 0.096000 and friends.
		{domain.AWS, "us-east-1", domain.KindVM, "m5.large", 96_000, 2, 8192, "x86_64", false, 0, false},
		{domain.AWS, "us-east-1", domain.KindVM, "t3.micro", 10_400, 2, 1024, "x86_64", true, 0, false},
		{domain.AWS, "us-east-1", domain.KindVM, "m7g.large", 81_600, 2, 8192, "arm64", false, 0, false},
		{domain.AWS, "us-east-1", domain.KindVM, "c6g.large", 68_000, 2, 4096, "arm64", false, 0, false},
		{domain.AWS, "us-east-1", domain.KindVM, "g4dn.8xlarge", 2_176_000, 32, 131072, "x86_64", false, 1, false},
		{domain.AWS, "us-east-1", domain.KindDisk, "gp3", 80_000, 0, 0, "", false, 0, true},
		{domain.AWS, "us-east-1", domain.KindIP, "public-ipv4", 5_000, 0, 0, "", false, 0, false},
		// Azure eastus "Standard_D2s_v3": 0.096000; westeurope 0.120000.
		{domain.Azure, "eastus", domain.KindVM, "Standard_D2s_v3", 96_000, 2, 8192, "x86_64", false, 0, false},
		{domain.Azure, "westeurope", domain.KindVM, "Standard_D2s_v3", 120_000, 2, 8192, "x86_64", false, 0, false},
		{domain.Azure, "eastus", domain.KindVM, "Standard_D4s_v5", 192_000, 4, 16384, "x86_64", false, 0, false},
		{domain.Azure, "eastus", domain.KindVM, "Standard_B2s", 41_600, 2, 4096, "x86_64", true, 0, false},
		{domain.Azure, "westeurope", domain.KindVM, "Standard_E4d_v5", 346_000, 4, 32768, "x86_64", false, 0, false},
		{domain.Azure, "eastus", domain.KindDisk, "Premium_LRS", 150_000, 0, 0, "", false, 0, true},
		// GCP n2-standard-2 us-central1 hour: 0.097118, europe-west1 0.106834;
		// e2-micro 0.0083764275 rounds to 0.008376; balanced disk month: 0.1.
		{domain.GCP, "us-central1", domain.KindVM, "n2-standard-2", 97_118, 2, 8192, "x86_64", false, 0, false},
		{domain.GCP, "europe-west1", domain.KindVM, "n2-standard-2", 106_834, 2, 8192, "x86_64", false, 0, false},
		{domain.GCP, "us-central1", domain.KindVM, "e2-micro", 8_376, 2, 1024, "x86_64", true, 0, false},
		{domain.GCP, "us-central1", domain.KindVM, "t2a-standard-1", 38_500, 1, 4096, "arm64", false, 0, false},
		{domain.GCP, "us-central1", domain.KindDisk, "pd-balanced", 100_000, 0, 0, "", false, 0, true},
		{domain.GCP, "us-central1", domain.KindIP, "public-ipv4-unused", 10_000, 0, 0, "", false, 0, false},
	}
	for _, tc := range tests {
		p, ok := c.Lookup(tc.cloud, tc.region, tc.kind, tc.sku)
		if !ok {
			t.Errorf("Lookup(%s, %s, %s, %s) found nothing", tc.cloud, tc.region, tc.kind, tc.sku)
			continue
		}
		unit := domain.UnitHour
		if tc.unitGiBMon {
			unit = domain.UnitGiBMonth
		}
		want := domain.Price{Cloud: tc.cloud, Region: tc.region, Kind: tc.kind, SKU: tc.sku, Arch: tc.arch,
			VCPU: tc.vcpu, MemoryMiB: tc.memMiB, GPUs: tc.gpus, Burstable: tc.burstable, Unit: unit, Amount: domain.USD(tc.micros)}
		if tc.kind == domain.KindVM {
			want.Family = Family(tc.cloud, tc.sku)
		}
		if d := cmp.Diff(want, p); d != "" {
			t.Errorf("Lookup(%s, %s, %s, %s) mismatch (-want +got):\n%s", tc.cloud, tc.region, tc.kind, tc.sku, d)
		}
	}
}

func TestEmbeddedConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	cats := make([]*Catalog, 8)
	for i := range cats {
		wg.Go(func() {
			c, err := Embedded()
			if err != nil {
				t.Errorf("Embedded() error: %v", err)
				return
			}
			c.VMSizes(domain.AWS, "us-east-1")
			cats[i] = c
		})
	}
	wg.Wait()
	for _, c := range cats[1:] {
		if c != cats[0] {
			t.Fatal("Embedded() returned different catalogs; want one parsed once")
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	fsys := fstest.MapFS{
		"catalog/aws.csv": {Data: []byte(testHeader + "aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,0.08,,\n")},
		"catalog/gcp.csv": {Data: []byte(testHeader + "gcp,us-central1,disk,pd-ssd,,,,,,,GiB-Mo,zero,,\n")},
	}
	_, err := load(fsys, "catalog/*.csv")
	if err == nil || !strings.Contains(err.Error(), "catalog/gcp.csv:2:") {
		t.Errorf("load() error = %v; want one naming catalog/gcp.csv:2", err)
	}
	if _, err := load(fstest.MapFS{}, "catalog/*.csv"); err == nil {
		t.Error("load() of no files succeeded; want an error")
	}
}

func vm(cloud domain.Cloud, region, sku string, micros int64, vcpu int) domain.Price {
	return domain.Price{Cloud: cloud, Region: region, Kind: domain.KindVM, SKU: sku, Family: Family(cloud, sku),
		Arch: "x86_64", VCPU: vcpu, MemoryMiB: int64(vcpu) * 4096, Unit: domain.UnitHour, Amount: domain.USD(micros)}
}

func TestCatalog(t *testing.T) {
	in := []domain.Price{
		vm(domain.AWS, "us-east-1", "m5.xlarge", 192_000, 4),
		vm(domain.AWS, "us-east-1", "m5.large", 96_000, 2),
		vm(domain.AWS, "us-east-1", "m5a.large", 86_000, 2),
		vm(domain.AWS, "us-east-1", "m6a.large", 86_000, 2),
		vm(domain.AWS, "us-west-2", "m5.large", 96_000, 2),
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindDisk, SKU: "gp3", Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)},
		vm(domain.Azure, "eastus", "Standard_D2s_v3", 96_000, 2),
	}
	c := New(in)
	in[0].Amount = domain.USD(1) // New keeps no reference to its input

	var skus []string
	for _, p := range c.VMSizes(domain.AWS, "US-East-1") {
		skus = append(skus, p.SKU)
	}
	if want := []string{"m5a.large", "m6a.large", "m5.large", "m5.xlarge"}; !slices.Equal(skus, want) {
		t.Errorf("VMSizes(aws, us-east-1) = %v; want %v (by price, then SKU)", skus, want)
	}
	if got := c.VMSizes(domain.GCP, "us-central1"); len(got) != 0 {
		t.Errorf("VMSizes(gcp, us-central1) = %v; want none", got)
	}
	if got, want := c.Regions(domain.AWS), []string{"us-east-1", "us-west-2"}; !slices.Equal(got, want) {
		t.Errorf("Regions(aws) = %v; want %v", got, want)
	}

	lookups := []struct {
		cloud  domain.Cloud
		region string
		kind   domain.Kind
		sku    string
		micros int64 // 0: not found
	}{
		{domain.AWS, "us-east-1", domain.KindVM, "m5.xlarge", 192_000},
		{domain.AWS, "us-east-1", domain.KindVM, "M5.XLarge", 192_000},
		{domain.Azure, "eastus", domain.KindVM, "standard_d2s_v3", 96_000},
		{domain.Azure, "EastUS", domain.KindVM, "STANDARD_D2S_V3", 96_000},
		{domain.AWS, "us-east-1", domain.KindDisk, "GP3", 80_000},
		{domain.AWS, "us-east-1", domain.KindDisk, "m5.large", 0},
		{domain.GCP, "us-east-1", domain.KindVM, "m5.large", 0},
		{domain.AWS, "eu-west-1", domain.KindVM, "m5.large", 0},
	}
	for _, tc := range lookups {
		p, ok := c.Lookup(tc.cloud, tc.region, tc.kind, tc.sku)
		if ok != (tc.micros != 0) || p.Amount.Micros != tc.micros {
			t.Errorf("Lookup(%s, %s, %s, %s) = %v, %t; want %d micros", tc.cloud, tc.region, tc.kind, tc.sku, p.Amount, ok, tc.micros)
		}
	}

	all := c.All()
	all[0].SKU = "changed"
	if c.All()[0].SKU == "changed" {
		t.Error("All() returned the catalog's own slice; want a copy")
	}
	sizes := c.VMSizes(domain.AWS, "us-east-1")
	sizes[0].SKU = "changed"
	if c.VMSizes(domain.AWS, "us-east-1")[0].SKU == "changed" {
		t.Error("VMSizes() returned the catalog's own slice; want a copy")
	}
}

func TestNewLaterWins(t *testing.T) {
	c := New([]domain.Price{vm(domain.AWS, "us-east-1", "m5.large", 96_000, 2), vm(domain.AWS, "us-east-1", "M5.LARGE", 90_000, 2)})
	if got := c.All(); len(got) != 1 || got[0].Amount.Micros != 90_000 || got[0].SKU != "M5.LARGE" {
		t.Errorf("New(two prices of one SKU).All() = %v; want only the later one", got)
	}
}

func TestMerge(t *testing.T) {
	old := New([]domain.Price{
		vm(domain.AWS, "us-east-1", "m5.large", 96_000, 2),
		vm(domain.AWS, "us-east-1", "m5.xlarge", 192_000, 4),
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindDisk, SKU: "gp3", Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)},
	})
	live := []domain.Price{
		// A live price with its shape replaces the embedded one whole.
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindVM, SKU: "m5.xlarge", Family: "m5", Arch: "x86_64",
			VCPU: 4, MemoryMiB: 16384, Unit: domain.UnitHour, Amount: domain.USD(190_000)},
		// A live price without a shape keeps the embedded shape.
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindVM, SKU: "M5.Large", Unit: domain.UnitHour, Amount: domain.USD(95_000)},
		// New region, new SKU.
		vm(domain.AWS, "eu-west-1", "m5.large", 107_000, 2),
	}
	merged := old.Merge(live)

	want := []domain.Price{
		vm(domain.AWS, "eu-west-1", "m5.large", 107_000, 2),
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindDisk, SKU: "gp3", Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)},
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindVM, SKU: "M5.Large", Family: "m5", Arch: "x86_64",
			VCPU: 2, MemoryMiB: 8192, Unit: domain.UnitHour, Amount: domain.USD(95_000)},
		vm(domain.AWS, "us-east-1", "m5.xlarge", 190_000, 4),
	}
	if d := cmp.Diff(want, merged.All()); d != "" {
		t.Errorf("Merge(live).All() mismatch (-want +got):\n%s", d)
	}
	if p, _ := old.Lookup(domain.AWS, "us-east-1", domain.KindVM, "m5.xlarge"); p.Amount.Micros != 192_000 {
		t.Errorf("after Merge the original catalog has m5.xlarge at %v; want it unchanged at 0.192", p.Amount)
	}
	if p, _ := merged.Lookup(domain.AWS, "us-east-1", domain.KindVM, "m5.large"); p.Amount.Micros != 95_000 {
		t.Errorf("merged Lookup(m5.large) = %v; want the live 0.095", p.Amount)
	}
}

func TestMergeOverEmbedded(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatalf("Embedded() error: %v", err)
	}
	n := len(c.All())
	merged := c.Merge([]domain.Price{{Cloud: domain.Azure, Region: "eastus", Kind: domain.KindVM, SKU: "Standard_D2s_v3",
		Unit: domain.UnitHour, Amount: domain.USD(99_000)}})
	p, ok := merged.Lookup(domain.Azure, "eastus", domain.KindVM, "Standard_D2s_v3")
	if !ok || p.Amount.Micros != 99_000 || p.VCPU != 2 || p.MemoryMiB != 8192 {
		t.Errorf("merged Lookup(Standard_D2s_v3) = %+v; want the live 0.099 with the embedded 2 vCPU, 8192 MiB", p)
	}
	if got := len(merged.All()); got != n {
		t.Errorf("merged catalog has %d prices; want %d", got, n)
	}
	if p, _ := c.Lookup(domain.Azure, "eastus", domain.KindVM, "Standard_D2s_v3"); p.Amount.Micros != 96_000 {
		t.Errorf("Embedded() changed by Merge: Standard_D2s_v3 at %v", p.Amount)
	}
}

func TestFamily(t *testing.T) {
	tests := []struct {
		cloud domain.Cloud
		sku   string
		want  string
	}{
		{domain.AWS, "m5.xlarge", "m5"},
		{domain.AWS, "M5.XLarge", "m5"},
		{domain.AWS, "m7i-flex.large", "m7i-flex"},
		{domain.AWS, "t4g.nano", "t4g"},
		{domain.AWS, "gp3", ""},
		{domain.AWS, ".large", ""},
		{domain.Azure, "Standard_D4s_v5", "Dsv5"},
		{domain.Azure, "Standard_D2s_v5", "Dsv5"},
		{domain.Azure, "standard_d4s_v5", "dsv5"},
		{domain.Azure, "Standard_D2_v3", "Dv3"},
		{domain.Azure, "Standard_DS2_v2", "DSv2"},
		{domain.Azure, "Standard_E4-2s_v5", "Esv5"},
		{domain.Azure, "Standard_D16plds_v5", "Dpldsv5"},
		{domain.Azure, "Standard_NC24ads_A100_v4", "NCadsA100v4"},
		{domain.Azure, "Standard_M8-2ms", "Mms"},
		{domain.Azure, "Standard_B1s", "Bs"},
		{domain.Azure, "Standard_B20ms", "Bs"},
		{domain.Azure, "Standard_B2ats_v2", "Batsv2"},
		{domain.Azure, "Standard_A0", "A"},
		{domain.Azure, "Dsv3_Type3", ""},
		{domain.Azure, "Premium_LRS", ""},
		{domain.Azure, "Standard_", ""},
		{domain.GCP, "n2-standard-8", "n2-standard"},
		{domain.GCP, "N2-Standard-8", "n2-standard"},
		{domain.GCP, "c3-standard-8-lssd", "c3-standard"},
		{domain.GCP, "c4-highmem-288-lssd-metal", "c4-highmem"},
		{domain.GCP, "a2-highgpu-1g", "a2-highgpu"},
		{domain.GCP, "e2-micro", "e2-shared-core"},
		{domain.GCP, "e2-medium", "e2-shared-core"},
		{domain.GCP, "n2-custom-4-16384", "n2-custom"},
		{domain.GCP, "pd-ssd", ""},
		{domain.GCP, "e2", ""},
		{domain.Cloud("oci"), "VM.Standard3.Flex", ""},
	}
	for _, tc := range tests {
		if got := Family(tc.cloud, tc.sku); got != tc.want {
			t.Errorf("Family(%s, %q) = %q; want %q", tc.cloud, tc.sku, got, tc.want)
		}
	}
}

// TestEmbeddedObjectClasses checks the object storage table: one hot
// class per region, every other class cheaper to store and dearer to
// read, and the catalog pricing buckets at their hot class.
func TestEmbeddedObjectClasses(t *testing.T) {
	tab := EmbeddedObjectClasses()
	base, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := base.Lookup(domain.AWS, "us-east-1", domain.KindBucket, "STANDARD"); ok {
		t.Error("the embedded catalog prices buckets; only WithObjectStorage should")
	}
	cat := WithObjectStorage(base)
	regions := map[domain.Cloud][]string{domain.AWS: {"us-east-1"}, domain.Azure: {"eastus"}, domain.GCP: {"us-central1", "us-east1", "europe-west1"}}
	for cloud, rs := range regions {
		for _, region := range rs {
			cs := tab.Classes(cloud, region)
			if len(cs) < 3 || !cs[0].Hot {
				t.Fatalf("%s %s: classes %+v; want a hot class first and two others", cloud, region, cs)
			}
			hot := cs[0]
			for _, c := range cs[1:] {
				if c.Hot || c.GiBMonth.Micros >= hot.GiBMonth.Micros || c.ReadsPer10k.Micros <= hot.ReadsPer10k.Micros ||
					c.RetrievalPerGiB.Micros <= 0 || c.TransitionPer10k.Micros <= 0 || c.MinDays < 30 || c.Source == "" {
					t.Errorf("%s %s %s: %+v is not a cheaper-to-store, dearer-to-read class with its charges", cloud, region, c.Class, c)
				}
			}
			p, ok := cat.Lookup(cloud, region, domain.KindBucket, hot.Class)
			if !ok || p.Amount != hot.GiBMonth || p.Unit != domain.UnitGiBMonth {
				t.Errorf("%s %s: catalog prices bucket %s at %+v, %v; want %v per GiB-month", cloud, region, hot.Class, p, ok, hot.GiBMonth)
			}
		}
	}
	if cs := tab.Classes(domain.Azure, "westeurope"); len(cs) != 0 {
		t.Errorf("westeurope has %d classes; the table leaves it out", len(cs))
	}
}
