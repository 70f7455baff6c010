package optimize

import (
	"slices"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func ds(sku, state string, gib int64, vm string) domain.ResourceState {
	return domain.ResourceState{SKU: sku, State: state, SizeGiB: gib, AttachedTo: vm}
}

func diskPrice(cloud domain.Cloud, sku, usd string) domain.Price {
	p := otherPrice(domain.KindDisk, sku, domain.UnitGiBMonth, usd)
	p.Cloud = cloud
	return p
}

// TestDiskRetype checks each way a disk type downgrade is proposed or
// refused: the target's baseline against the observed throughput, the
// size limits, and the clouds that cannot change a type in place or
// only while the VM is deallocated.
func TestDiskRetype(t *testing.T) {
	prices := append(slices.Clone(catalog),
		diskPrice(domain.AWS, "gp2", "0.10"),
		diskPrice(domain.Azure, "Premium_LRS", "0.15"), diskPrice(domain.Azure, "StandardSSD_LRS", "0.075"),
		diskPrice(domain.GCP, "pd-ssd", "0.17"), diskPrice(domain.GCP, "pd-balanced", "0.10"))
	disk := func(cloud domain.Cloud, id, sku string, gib int64, vmID string) domain.Resource {
		r := domain.Resource{Cloud: cloud, Account: "111111111111", Region: region, Kind: domain.KindDisk, ID: id,
			SKU: sku, SizeGiB: gib, State: domain.StateInUse, AttachedTo: vmID, Tags: optIn, CreatedAt: now.AddDate(0, 0, -3)}
		if vmID == "" {
			r.State = domain.StateAvailable
		}
		return r
	}
	onCloud := func(r domain.Resource, cloud domain.Cloud) domain.Resource { r.Cloud = cloud; return r }
	const twoWeeks = 336
	busyVM := vm("i-1", "m5.large", optIn) // m5.large at 10 % CPU: nothing to resize
	cpu := hourly("i-1", domain.MetricCPU, twoWeeks, flat(60))
	mbps := func(read, write float32) []domain.Series {
		return []domain.Series{cpu, hourly("i-1", domain.MetricDiskRead, twoWeeks, flat(read*1e6)), hourly("i-1", domain.MetricDiskWrite, twoWeeks, flat(write*1e6))}
	}
	tests := []struct {
		name      string
		cloud     domain.Cloud
		resources []domain.Resource
		series    []domain.Series
		want      []brief
		findings  []string
	}{
		{name: "small gp2 without a measurement: gp3 matches it anyway", cloud: domain.AWS,
			resources: []domain.Resource{busyVM, disk(domain.AWS, "vol-1", "gp2", 100, "i-1")}, series: []domain.Series{cpu},
			want: []brief{{domain.ActionRetypeDisk, "vol-1", ds("gp2", domain.StateInUse, 100, "i-1"), ds("gp3", domain.StateInUse, 100, "i-1"),
				usd("2.00"), domain.BasisListPrice, domain.RiskMedium}}},
		{name: "larger gp2 without a measurement is not proposed", cloud: domain.AWS,
			resources: []domain.Resource{busyVM, disk(domain.AWS, "vol-1", "gp2", 500, "i-1")}, series: []domain.Series{cpu},
			findings: []string{"vol-1: retype_disk: no disk throughput measured: VM i-1 has no disk series, and gp3 is proposed only where the load is known to fit (gp3 baseline: 3,000 IOPS and 125 MiB/s at any size)"}},
		{name: "larger gp2 whose VM's load fits gp3", cloud: domain.AWS,
			resources: []domain.Resource{busyVM, disk(domain.AWS, "vol-1", "gp2", 500, "i-1")}, series: mbps(30, 20),
			want: []brief{{domain.ActionRetypeDisk, "vol-1", ds("gp2", domain.StateInUse, 500, "i-1"), ds("gp3", domain.StateInUse, 500, "i-1"),
				usd("10.00"), domain.BasisListPrice, domain.RiskLow}}},
		{name: "larger gp2 whose VM's load does not fit gp3", cloud: domain.AWS,
			resources: []domain.Resource{busyVM, disk(domain.AWS, "vol-1", "gp2", 500, "i-1")}, series: mbps(80, 40),
			findings: []string{"vol-1: retype_disk: disk throughput too high: VM i-1 reads and writes 120 MB/s at p99, above 80% of gp3's 131 MB/s"}},
		{name: "gp2 above 1,000 GiB would need provisioned IOPS", cloud: domain.AWS,
			resources: []domain.Resource{busyVM, disk(domain.AWS, "vol-1", "gp2", 2000, "i-1")}, series: mbps(1, 1),
			findings: []string{"vol-1: retype_disk: needs provisioned performance: gp2 of 2000 GiB would need it on gp3 to match (gp3 baseline: 3,000 IOPS and 125 MiB/s at any size)"}},
		{name: "an old unattached gp2 disk is deleted, not retyped", cloud: domain.AWS,
			resources: []domain.Resource{func() domain.Resource {
				d := disk(domain.AWS, "vol-1", "gp2", 100, "")
				d.CreatedAt = now.AddDate(0, -2, 0)
				return d
			}()},
			want: []brief{{domain.ActionDeleteDisk, "vol-1", ds("gp2", domain.StateAvailable, 100, ""), domain.ResourceState{State: domain.StateDeleted},
				usd("10.00"), domain.BasisListPrice, domain.RiskLow}}},
		{name: "Azure Premium SSD of a running VM: only while deallocated", cloud: domain.Azure,
			resources: []domain.Resource{onCloud(busyVM, domain.Azure), disk(domain.Azure, "disk-1", "Premium_LRS", 256, "i-1")}, series: mbps(10, 10),
			findings: []string{"disk-1: retype_disk: only while deallocated: Premium_LRS to StandardSSD_LRS would save USD 19.20 a month, but azure changes a disk's type only while its VM is deallocated, and VM i-1 is running"}},
		{name: "Azure Premium SSD unattached and recent", cloud: domain.Azure,
			resources: []domain.Resource{disk(domain.Azure, "disk-1", "Premium_LRS", 256, "")},
			want: []brief{{domain.ActionRetypeDisk, "disk-1", ds("Premium_LRS", domain.StateAvailable, 256, ""), ds("StandardSSD_LRS", domain.StateAvailable, 256, ""),
				usd("19.20"), domain.BasisListPrice, domain.RiskLow}}},
		{name: "pd-ssd cannot change type in place", cloud: domain.GCP,
			resources: []domain.Resource{onCloud(busyVM, domain.GCP), disk(domain.GCP, "disk-1", "pd-ssd", 100, "i-1")}, series: mbps(10, 10),
			findings: []string{"disk-1: retype_disk: not in place: pd-ssd to pd-balanced would save USD 7.00 a month, but gcp cannot change a disk's type in place; create a pd-balanced disk from a snapshot and swap it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			pol.Rightsize.Enabled = false
			pol.Idle.Enabled = false
			r := ref()
			r.Cloud = tt.cloud
			plan := optimizeWith(t, pol, prices, &fakeSnapshot{ref: r, resources: tt.resources, series: tt.series})
			got := briefs(plan)
			if len(got) != len(tt.want) {
				t.Fatalf("actions = %+v; want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("action %d = %+v; want %+v", i, got[i], tt.want[i])
				}
			}
			if f := findings(plan); !slices.Equal(f, tt.findings) {
				t.Errorf("findings =\n%s\nwant\n%s", strings.Join(f, "\n"), strings.Join(tt.findings, "\n"))
			}
		})
	}
}
