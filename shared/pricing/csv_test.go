package pricing

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const testHeader = "cloud,region,kind,sku,family,arch,vcpu,memory_mib,gpus,burstable,unit,usd_per_unit,shape_source,price_source\n"

func TestParse(t *testing.T) {
	good := testHeader +
		"aws,us-east-1,vm,m5.large,m5,x86_64,2,8192,0,false,Hours,0.096000,fixture,src\n" +
		"aws,us-east-1,vm,t4g.nano,t4g,arm64,2,512,0,true,Hours,0.0042,rule,src\n" +
		`aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,0.08,,"published list price (AWS pricing page), us-east-1"` + "\n" +
		"gcp,us-central1,vm,e2-micro,e2-shared-core,x86_64,2,1024,0,true,Hours,0.0083764275,pricing.yml+rule,src\n"
	want := []domain.Price{
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindVM, SKU: "m5.large", Family: "m5", Arch: "x86_64",
			VCPU: 2, MemoryMiB: 8192, Unit: domain.UnitHour, Amount: domain.USD(96_000)},
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindVM, SKU: "t4g.nano", Family: "t4g", Arch: "arm64",
			VCPU: 2, MemoryMiB: 512, Burstable: true, Unit: domain.UnitHour, Amount: domain.USD(4_200)},
		{Cloud: domain.AWS, Region: "us-east-1", Kind: domain.KindDisk, SKU: "gp3", Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)},
		{Cloud: domain.GCP, Region: "us-central1", Kind: domain.KindVM, SKU: "e2-micro", Family: "e2-shared-core", Arch: "x86_64",
			VCPU: 2, MemoryMiB: 1024, Burstable: true, Unit: domain.UnitHour, Amount: domain.USD(8_376)},
	}
	got, err := Parse("good.csv", strings.NewReader(good))
	if err != nil {
		t.Fatalf("Parse(good.csv) error: %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Parse(good.csv) mismatch (-want +got):\n%s", d)
	}

	// Columns in another order are found by name.
	reordered := "usd_per_unit,cloud,region,kind,sku,family,arch,vcpu,memory_mib,gpus,burstable,unit,shape_source,price_source\n" +
		"0.08,aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,,\n"
	got, err = Parse("reordered.csv", strings.NewReader(reordered))
	if err != nil || len(got) != 1 || got[0].Amount != domain.USD(80_000) {
		t.Errorf("Parse(reordered.csv) = %v, %v; want one gp3 price of 0.08", got, err)
	}

	row := func(s string) string { return testHeader + s + "\n" }
	bad := []struct {
		name, in, want string // want: the start of the error after "invalid: "
	}{
		{"bad number", row("aws,us-east-1,vm,m5.large,m5,x86_64,2,8192,0,false,Hours,0.09x,,"),
			`bad.csv:2:58: usd_per_unit: parse money "0.09x": not a decimal number`},
		{"negative price", row("aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,-1,,"), `bad.csv:2:37: usd_per_unit: negative price "-1"`},
		{"empty price", row("aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,,,"), "bad.csv:2:37: usd_per_unit: parse money: empty amount"},
		{"missing column", strings.Replace(testHeader, ",usd_per_unit", "", 1) + "aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,,\n",
			`bad.csv:1: missing column "usd_per_unit"`},
		{"unknown column", strings.TrimSuffix(testHeader, "\n") + ",colour\n", `bad.csv:1:15: unknown column "colour"`},
		{"duplicate column", "cloud," + testHeader, `bad.csv:1:2: column "cloud" appears twice`},
		{"unknown kind", row("aws,us-east-1,bucket,b1,,,,,,,GiB-Mo,0.023,,"),
			`bad.csv:2:15: kind: unknown kind "bucket" (want vm, disk, ip or snapshot)`},
		{"unknown cloud", row("oci,us-ashburn-1,disk,block,,,,,,,GiB-Mo,0.0255,,"), `bad.csv:2:1: cloud: unknown cloud "oci"`},
		{"upper-case cloud", row("AWS,us-east-1,disk,gp3,,,,,,,GiB-Mo,0.08,,"), `bad.csv:2:1: cloud: unknown cloud "AWS"`},
		{"unknown unit", row("aws,us-east-1,disk,gp3,,,,,,,GB-Mo,0.08,,"), `bad.csv:2:30: unit: unknown unit "GB-Mo"`},
		{"unknown arch", row("aws,us-east-1,vm,m5.large,m5,amd64,2,8192,0,false,Hours,0.096,,"), `bad.csv:2:30: arch: unknown architecture "amd64"`},
		{"bad vcpu", row("aws,us-east-1,vm,m5.large,m5,x86_64,two,8192,0,false,Hours,0.096,,"), `bad.csv:2:37: vcpu: "two" is not a whole number`},
		{"bad burstable", row("aws,us-east-1,vm,m5.large,m5,x86_64,2,8192,0,yes,Hours,0.096,,"), `bad.csv:2:46: burstable: "yes" is not true`},
		{"vm without vcpu", row("aws,us-east-1,vm,m5.large,m5,x86_64,,8192,0,false,Hours,0.096,,"), "bad.csv:2:37: vcpu: a vm needs vCPUs"},
		{"vm without memory", row("aws,us-east-1,vm,m5.large,m5,x86_64,2,,0,false,Hours,0.096,,"), "bad.csv:2:39: memory_mib: a vm needs memory"},
		{"vm by the GiB", row("aws,us-east-1,vm,m5.large,m5,x86_64,2,8192,0,false,GiB-Mo,0.096,,"), "bad.csv:2:52: unit: a vm is priced in Hours"},
		{"empty sku", row("aws,us-east-1,disk,,,,,,,,GiB-Mo,0.08,,"), "bad.csv:2:20: sku: empty"},
		{"short row", row("aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,0.08,"), "bad.csv:2:1: wrong number of fields"},
		{"bare quote", row(`aws,us-east-1,disk,g"p3,,,,,,,GiB-Mo,0.08,,`), `bad.csv:2:21: bare " in non-quoted-field`},
		{"duplicate price", testHeader + "aws,us-east-1,disk,gp3,,,,,,,GiB-Mo,0.08,,\naws,US-EAST-1,disk,GP3,,,,,,,GiB-Mo,0.09,,\n",
			`bad.csv:3:20: sku: aws US-EAST-1 disk "GP3" is priced twice (first on line 2)`},
		{"empty file", "", "bad.csv:1:1: empty file"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("bad.csv", strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %v, nil; want an error starting %q", tc.in, got, tc.want)
			}
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("Parse error %v does not wrap domain.ErrInvalid", err)
			}
			if msg := strings.TrimPrefix(err.Error(), "invalid: "); !strings.HasPrefix(msg, tc.want) {
				t.Errorf("Parse error = %q; want it to start %q", msg, tc.want)
			}
		})
	}
}
