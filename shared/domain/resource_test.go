package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestResourceStateDiff(t *testing.T) {
	approved := domain.ResourceState{SKU: "m5.xlarge", State: domain.StateRunning, SizeGiB: 100, AttachedTo: "i-1"}
	tests := []struct {
		name     string
		approved domain.ResourceState
		live     domain.ResourceState
		want     []string // the field each difference starts with
	}{
		{"identical", approved, approved, nil},
		{"both empty", domain.ResourceState{}, domain.ResourceState{}, nil},
		{"sku", approved, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning, SizeGiB: 100, AttachedTo: "i-1"}, []string{"sku"}},
		{"state", approved, domain.ResourceState{SKU: "m5.xlarge", State: domain.StateStopped, SizeGiB: 100, AttachedTo: "i-1"}, []string{"state"}},
		{"size", approved, domain.ResourceState{SKU: "m5.xlarge", State: domain.StateRunning, SizeGiB: 200, AttachedTo: "i-1"}, []string{"size"}},
		{"attachment", approved, domain.ResourceState{SKU: "m5.xlarge", State: domain.StateRunning, SizeGiB: 100, AttachedTo: "i-2"}, []string{"attached"}},
		{"everything, in field order", approved, domain.ResourceState{SKU: "t3.micro", State: domain.StateStopped, SizeGiB: 8}, []string{"sku", "state", "size", "attached"}},
		{"live lost its sku", approved, domain.ResourceState{State: domain.StateRunning, SizeGiB: 100, AttachedTo: "i-1"}, []string{"sku"}},
		{
			"empty approved sku, state and size are not compared",
			domain.ResourceState{AttachedTo: "i-1"},
			domain.ResourceState{SKU: "m5.large", State: domain.StateStopped, SizeGiB: 50, AttachedTo: "i-1"},
			nil,
		},
		{
			"an unattached disk that got attached",
			domain.ResourceState{State: domain.StateAvailable},
			domain.ResourceState{State: domain.StateAvailable, AttachedTo: "i-7"},
			[]string{"attached"},
		},
		{
			"an attached disk that got detached",
			domain.ResourceState{AttachedTo: "i-7"},
			domain.ResourceState{},
			[]string{"attached"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.approved.Diff(tt.live)
			if tt.want == nil && d != nil {
				t.Fatalf("%+v.Diff(%+v) = %q; want nil", tt.approved, tt.live, d)
			}
			var fields []string
			for _, s := range d {
				field, _, _ := strings.Cut(s, " ")
				fields = append(fields, field)
			}
			if diff := cmp.Diff(tt.want, fields); diff != "" {
				t.Errorf("%+v.Diff(%+v) = %q; fields mismatch (-want +got):\n%s", tt.approved, tt.live, d, diff)
			}
		})
	}
}

func TestResourceStateDiffMessage(t *testing.T) {
	approved := domain.ResourceState{SKU: "m5.xlarge"}
	got := approved.Diff(domain.ResourceState{SKU: "m5.large"})
	want := []string{`sku "m5.large", approved "m5.xlarge"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff mismatch (-want +got):\n%s", diff)
	}
}

func validResource() domain.Resource {
	return domain.Resource{
		Cloud: domain.Azure, Account: "sub-1", Region: "westeurope", Kind: domain.KindDisk, ID: "/subscriptions/sub-1/disks/d1",
		Name: "d1", SKU: "Premium_LRS", State: domain.StateInUse, SizeGiB: 128, AttachedTo: "vm-1",
		Tags: map[string]string{"env": "dev"}, CreatedAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
	}
}

func TestResourceValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*domain.Resource)
		wantErr error
	}{
		{"valid", func(*domain.Resource) {}, nil},
		{"valid without region, name or state", func(r *domain.Resource) { r.Region, r.Name, r.State = "", "", "" }, nil},
		{"each cloud: aws", func(r *domain.Resource) { r.Cloud = domain.AWS }, nil},
		{"each cloud: gcp", func(r *domain.Resource) { r.Cloud = domain.GCP }, nil},
		{"no id", func(r *domain.Resource) { r.ID = "" }, domain.ErrInvalid},
		{"no cloud", func(r *domain.Resource) { r.Cloud = "" }, domain.ErrInvalid},
		{"unknown cloud", func(r *domain.Resource) { r.Cloud = "oracle" }, domain.ErrInvalid},
		{"cloud in upper case", func(r *domain.Resource) { r.Cloud = "AWS" }, domain.ErrInvalid},
		{"no account", func(r *domain.Resource) { r.Account = "" }, domain.ErrInvalid},
		{"no kind", func(r *domain.Resource) { r.Kind = "" }, domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validResource()
			tt.mutate(&r)
			if err := r.Validate(); !errors.Is(err, tt.wantErr) {
				t.Errorf("Validate() = %v; want %v", err, tt.wantErr)
			}
		})
	}
}

func TestResourceRefAndObserved(t *testing.T) {
	r := validResource()
	wantRef := domain.ResourceRef{Cloud: domain.Azure, Account: "sub-1", Region: "westeurope", Kind: domain.KindDisk, ID: "/subscriptions/sub-1/disks/d1"}
	if diff := cmp.Diff(wantRef, r.Ref()); diff != "" {
		t.Errorf("Ref() mismatch (-want +got):\n%s", diff)
	}
	wantState := domain.ResourceState{SKU: "Premium_LRS", State: domain.StateInUse, SizeGiB: 128, AttachedTo: "vm-1"}
	if diff := cmp.Diff(wantState, r.Observed()); diff != "" {
		t.Errorf("Observed() mismatch (-want +got):\n%s", diff)
	}
	if d := r.Observed().Diff(r.Observed()); d != nil {
		t.Errorf("Observed().Diff(Observed()) = %q; want nil", d)
	}
	ref := domain.ResourceRef{Cloud: domain.AWS, Account: "1111", Region: "us-east-1", Kind: domain.KindVM, ID: "i-1"}
	if got, want := ref.String(), "aws/1111/us-east-1/i-1"; got != want {
		t.Errorf("%#v.String() = %q; want %q", ref, got, want)
	}
}

func TestParseCloud(t *testing.T) {
	tests := []struct {
		in      string
		want    domain.Cloud
		wantErr error
	}{
		{"aws", domain.AWS, nil},
		{"azure", domain.Azure, nil},
		{"gcp", domain.GCP, nil},
		{"AWS", domain.AWS, nil},
		{"Azure", domain.Azure, nil},
		{" gcp\n", domain.GCP, nil},
		{"", "", domain.ErrInvalid},
		{"oracle", "", domain.ErrInvalid},
		{"google", "", domain.ErrInvalid},
		{"aws,gcp", "", domain.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := domain.ParseCloud(tt.in)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseCloud(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
	for _, c := range domain.Clouds {
		if got, err := domain.ParseCloud(string(c)); got != c || err != nil {
			t.Errorf("ParseCloud(%q) = %q, %v; want %q, nil", c, got, err, c)
		}
	}
}

func TestPriceMonthlyFor(t *testing.T) {
	tests := []struct {
		p      domain.Price
		size   int64
		want   domain.Money
		wantOK bool
	}{
		{domain.Price{Unit: domain.UnitHour, Amount: domain.USD(96_000)}, 0, domain.USD(70_080_000), true},
		{domain.Price{Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)}, 100, domain.USD(8_000_000), true},
		{domain.Price{Unit: domain.UnitGiBMonth, Amount: domain.USD(80_000)}, 0, domain.Money{}, false},
		{domain.Price{Unit: domain.UnitMonth, Amount: domain.USD(3_650_000)}, 0, domain.USD(3_650_000), true},
		{domain.Price{Unit: "Requests", Amount: domain.USD(1)}, 0, domain.Money{}, false},
	}
	for _, tt := range tests {
		got, ok := tt.p.MonthlyFor(tt.size)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%+v.MonthlyFor(%d) = %v, %v; want %v, %v", tt.p, tt.size, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestResourceKey(t *testing.T) {
	for _, tt := range []struct {
		cloud   domain.Cloud
		id, key string
	}{
		{domain.AWS, "i-0abc", "i-0abc"},
		{domain.AWS, "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc", "i-0abc"},
		{domain.AWS, "arn:aws:ec2:us-east-1:111111111111:volume/vol-1", "vol-1"},
		{domain.AWS, "arn:aws:s3:::my-bucket", "my-bucket"},
		{domain.Azure, "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1", "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"},
		{domain.GCP, "//compute.googleapis.com/projects/p/zones/z/instances/vm", "projects/p/zones/z/instances/vm"},
		{domain.GCP, "https://www.googleapis.com/compute/v1/projects/p/zones/z/disks/d", "projects/p/zones/z/disks/d"},
		{domain.GCP, "projects/p/zones/z/instances/vm", "projects/p/zones/z/instances/vm"},
	} {
		if got := domain.ResourceKey(tt.cloud, tt.id); got != tt.key {
			t.Errorf("ResourceKey(%s, %q) = %q; want %q", tt.cloud, tt.id, got, tt.key)
		}
	}
}

func TestKnownCurrency(t *testing.T) {
	for code, want := range map[string]bool{"USD": true, "EUR": true, "JPY": true, "usd": false, "XYZ": false, "": false, "MC": false} {
		if got := domain.KnownCurrency(code); got != want {
			t.Errorf("KnownCurrency(%q) = %v; want %v", code, got, want)
		}
	}
}

func TestTieringDiffAndRule(t *testing.T) {
	approved := domain.ResourceState{SKU: "STANDARD", State: domain.StateAvailable, Tiering: domain.TieringNone}
	if d := approved.Diff(domain.ResourceState{SKU: "STANDARD", State: domain.StateAvailable, Tiering: domain.TieringCustom}); len(d) != 1 || !strings.Contains(d[0], "lifecycle transitions") {
		t.Errorf("Diff with owners' transitions added = %q; want one lifecycle difference", d)
	}
	if d := (domain.ResourceState{SKU: "gp2"}).Diff(domain.ResourceState{SKU: "gp2", Tiering: "x"}); d != nil {
		t.Errorf("Diff of a state without tiering = %q; want none", d)
	}
	r, err := domain.ParseTierRule("GLACIER_IR@30d")
	if err != nil || r != (domain.TierRule{Class: "GLACIER_IR", AfterDays: 30}) || r.String() != "GLACIER_IR@30d" {
		t.Errorf("domain.ParseTierRule(GLACIER_IR@30d) = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "none", "@30d", "COOL@30", "COOL@-1d", "CO OL@3d", "COOL@99999d"} {
		if _, err := domain.ParseTierRule(bad); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("domain.ParseTierRule(%q) = %v; want domain.ErrInvalid", bad, err)
		}
	}
}
