package azurefake_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

var fakeNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// fakeVMs is a client of one subscription's VMs on srv.
func fakeVMs(t *testing.T, srv *azurefake.Server, sub string) *armcompute.VirtualMachinesClient {
	t.Helper()
	c, err := armcompute.NewVirtualMachinesClient(sub, azurefake.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func firstSub(est *azurefake.Estate) string {
	est.Lock()
	defer est.Unlock()
	for _, s := range est.Subscriptions {
		return s.ID
	}
	return ""
}

func TestFromSimServesTheAzurePart(t *testing.T) {
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simcloud.New(simcloud.Demo(fakeNow), prices)
	if err != nil {
		t.Fatal(err)
	}
	est, err := azurefake.FromSim(context.Background(), sim, prices)
	if err != nil {
		t.Fatal(err)
	}
	want := map[domain.Kind]int{}
	for _, r := range sim.Resources() {
		if r.Cloud == domain.Azure {
			want[r.Kind]++
		}
	}
	est.Lock()
	got := map[domain.Kind]int{}
	costs := 0
	for _, s := range est.Subscriptions {
		got[domain.KindVM] += len(s.VMs)
		got[domain.KindDisk] += len(s.Disks)
		got[domain.KindIP] += len(s.PublicIPs)
		got[domain.KindSnapshot] += len(s.Snapshots)
		costs += len(s.Costs)
	}
	for _, r := range sim.Resources() {
		if r.Cloud != domain.Azure {
			continue
		}
		switch r.Kind {
		case domain.KindVM:
			vm := est.FindVM(r.ID)
			wantPower := azurefake.PowerRunning
			if r.State == domain.StateStopped {
				wantPower = azurefake.PowerDeallocated
			}
			if vm == nil || vm.PowerState != wantPower || vm.Size != r.SKU {
				t.Errorf("VM %s: %+v; want %s, %s", r.ID, vm, wantPower, r.SKU)
			} else if _, ok := est.FindSize(vm.Location, vm.Size); !ok {
				t.Errorf("VM %s: size %s of %s not in the sizes", r.ID, vm.Size, vm.Location)
			}
		case domain.KindDisk:
			d := est.FindDisk(r.ID)
			if d == nil || (r.AttachedTo == "") != (d.State == azurefake.DiskUnattached) || !strings.EqualFold(d.ManagedBy, r.AttachedTo) {
				t.Errorf("disk %s: %+v; want attached to %q", r.ID, d, r.AttachedTo)
			}
		case domain.KindIP:
			ip := est.FindPublicIP(r.ID)
			if ip == nil || (r.AttachedTo == "") != (ip.IPConfigurationID == "") {
				t.Errorf("address %s: %+v; want associated with %q", r.ID, ip, r.AttachedTo)
			}
		}
	}
	metrics := est.Metrics
	var vm string
	for _, s := range est.Subscriptions {
		for _, v := range s.VMs {
			if v.PowerState == azurefake.PowerRunning {
				vm = v.ID
			}
		}
	}
	est.Unlock()
	if got[domain.KindVM] != want[domain.KindVM] || got[domain.KindDisk] != want[domain.KindDisk] ||
		got[domain.KindIP] != want[domain.KindIP] || got[domain.KindSnapshot] != want[domain.KindSnapshot] {
		t.Errorf("resources by kind %v; want the simulated estate's %v", got, want)
	}
	if costs == 0 {
		t.Error("no cost entries")
	}
	cpu := metrics(vm, azurefake.MetricCPU, fakeNow.Add(-48*time.Hour).Truncate(time.Hour), time.Hour, 48)
	observed := 0
	for _, v := range cpu {
		if !math.IsNaN(v) {
			observed++
		}
	}
	if len(cpu) != 48 || observed == 0 {
		t.Errorf("CPU of running VM %s: %d points, %d observed; want 48 with data", vm, len(cpu), observed)
	}
	if net := metrics(vm, azurefake.MetricNetIn, fakeNow.Add(-48*time.Hour), time.Hour, 48); net != nil {
		t.Errorf("network of a simulated VM = %d points; want none: the simulated estate has no traffic", len(net))
	}
}

func TestSyntheticIsDeterministicAndShapedAsSaid(t *testing.T) {
	cfg := azurefake.SyntheticConfig{Seed: 1, Subscriptions: 2, VMsPerSubscription: 40, Now: fakeNow}
	a, b := azurefake.Synthetic(cfg), azurefake.Synthetic(cfg)
	if len(a.Subscriptions) != 2 {
		t.Fatalf("%d subscriptions; want 2", len(a.Subscriptions))
	}
	for k, s := range a.Subscriptions {
		o := b.Subscriptions[k]
		if o == nil || len(o.VMs) != len(s.VMs) || len(o.Costs) != len(s.Costs) {
			t.Fatalf("subscription %s differs between two generations", s.ID)
		}
		// Per VM an OS disk, one in four a data disk, one in ten an
		// unattached disk and a snapshot; one in five an address, one in
		// twenty a spare one.
		n := len(s.VMs)
		if len(s.Disks) != n+n/4+n/10 || len(s.Snapshots) != n/10 || len(s.PublicIPs) != n/5+n/20 {
			t.Errorf("subscription %s: %d VMs, %d disks, %d snapshots, %d addresses; want %d, %d, %d, %d",
				s.ID, n, len(s.Disks), len(s.Snapshots), len(s.PublicIPs), n, n+n/4+n/10, n/10, n/5+n/20)
		}
	}
}

func TestFaultsDenialAndCalls(t *testing.T) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Subscriptions: 1, VMsPerSubscription: 6, Now: fakeNow})
	sub := firstSub(est)
	srv := azurefake.New(est, azurefake.Options{PageSize: 2})
	vms := fakeVMs(t, srv, sub)
	list := func() (int, error) {
		n := 0
		pager := vms.NewListAllPager(nil)
		for pager.More() {
			page, err := pager.NextPage(context.Background())
			if err != nil {
				return n, err
			}
			n += len(page.Value)
		}
		return n, nil
	}
	srv.Fail(azurefake.Fault{API: "VirtualMachinesClient.", NextPagesOnly: true, Status: http.StatusConflict, Code: "Conflicted", Times: 1})
	if n, err := list(); n != 2 || err == nil {
		t.Fatalf("listing with its second page failing: %d VMs, %v; want the first page and an error", n, err)
	}
	var re *azcore.ResponseError
	if n, err := list(); n != 6 || err != nil {
		t.Fatalf("listing after the fault was used up: %d VMs, %v; want all 6", n, err)
	}
	srv.Deny(sub, "")
	if _, err := list(); !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" {
		t.Fatalf("listing a denied subscription = %v; want 403 AuthorizationFailed", err)
	}
	srv.Allow(sub)
	if n, err := list(); n != 6 || err != nil {
		t.Fatalf("listing after Allow: %d VMs, %v; want all 6", n, err)
	}
	if got := srv.CallCount("VirtualMachinesClient.NewListAllPager"); got != 2+3+1+3 {
		t.Errorf("%d VM listing calls recorded; want 9", got)
	}
}

// TestListingsOfOnePathDoNotSharePages interleaves two listings of the
// same subscription: each reads every VM once.
func TestListingsOfOnePathDoNotSharePages(t *testing.T) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Subscriptions: 1, VMsPerSubscription: 5, Now: fakeNow})
	srv := azurefake.New(est, azurefake.Options{PageSize: 2})
	vms := fakeVMs(t, srv, firstSub(est))
	a, b := vms.NewListAllPager(nil), vms.NewListAllPager(nil)
	seen := [2]map[string]bool{{}, {}}
	for a.More() || b.More() {
		for i, p := range []interface {
			More() bool
			NextPage(context.Context) (armcompute.VirtualMachinesClientListAllResponse, error)
		}{a, b} {
			if !p.More() {
				continue
			}
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page.Value {
				if seen[i][*v.ID] {
					t.Fatalf("listing %d read %s twice", i, *v.ID)
				}
				seen[i][*v.ID] = true
			}
		}
	}
	if len(seen[0]) != 5 || len(seen[1]) != 5 {
		t.Fatalf("the interleaved listings read %d and %d VMs; want 5 each", len(seen[0]), len(seen[1]))
	}
}

func TestMetricsQueryAnswersLikeAzureMonitor(t *testing.T) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Subscriptions: 1, VMsPerSubscription: 30, Regions: []string{"eastus"}, Now: fakeNow})
	sub := firstSub(est)
	srv := azurefake.New(est, azurefake.Options{})
	c, err := armmonitor.NewMetricsClient(sub, azurefake.Credential(), srv.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	query := func(top *int32, names string) (armmonitor.Response, error) {
		resp, err := c.ListAtSubscriptionScopePost(context.Background(), "eastus", &armmonitor.MetricsClientListAtSubscriptionScopePostOptions{
			Body: &armmonitor.SubscriptionScopeMetricsRequestBodyParameters{
				MetricNamespace: to.Ptr("Microsoft.Compute/virtualMachines"), MetricNames: to.Ptr(names),
				Aggregation: to.Ptr("average"), Interval: to.Ptr("PT1H"), Top: top,
				Timespan: to.Ptr(fakeNow.Add(-6*time.Hour).Format(time.RFC3339) + "/" + fakeNow.Format(time.RFC3339)),
				Filter:   to.Ptr("Microsoft.ResourceId eq '*'"),
			}})
		return resp.Response, err
	}
	resp, err := query(nil, azurefake.MetricCPU)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Value[0].Timeseries); n != azurefake.DefaultMetricTop {
		t.Errorf("a query without top answered %d series; want %d, as Azure Monitor does", n, azurefake.DefaultMetricTop)
	}
	resp, err = query(to.Ptr(int32(100)), azurefake.MetricCPU+","+azurefake.MetricAvailableMem)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.Value[0].Timeseries); n != 30 {
		t.Errorf("CPU of 30 VMs answered %d series; want 30", n)
	}
	// One VM in four reports no memory; VMs not running have no points.
	if n := len(resp.Value[1].Timeseries); n >= 30 || n == 0 {
		t.Errorf("memory answered %d series of 30 VMs; want those that report it", n)
	}
	var re *azcore.ResponseError
	if _, err := query(nil, strings.Repeat("Percentage CPU,", 20)+"Percentage CPU"); !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		t.Errorf("21 metric names = %v; want 400", err)
	}
}

// TestSlowPagesHonourTheCallersDeadline delays the later pages of a
// listing: a caller with time reads them all, one without gets its
// deadline, not a hang.
func TestSlowPagesHonourTheCallersDeadline(t *testing.T) {
	est := azurefake.Synthetic(azurefake.SyntheticConfig{Subscriptions: 1, VMsPerSubscription: 4, Now: fakeNow})
	srv := azurefake.New(est, azurefake.Options{PageSize: 1})
	srv.Fail(azurefake.Fault{API: "VirtualMachinesClient.NewListAllPager", NextPagesOnly: true, Delay: 30 * time.Millisecond})
	vms := fakeVMs(t, srv, firstSub(est))
	list := func(ctx context.Context) (int, error) {
		n := 0
		pager := vms.NewListAllPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return n, err
			}
			n += len(page.Value)
		}
		return n, nil
	}
	if n, err := list(context.Background()); n != 4 || err != nil {
		t.Fatalf("slow listing: %d VMs, %v; want all 4", n, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if n, err := list(ctx); !errors.Is(err, context.DeadlineExceeded) || n != 1 {
		t.Fatalf("slow listing past a deadline: %d VMs, %v; want the first page and DeadlineExceeded", n, err)
	}
}
