package awscloud_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newRetypeFake serves a generated estate that holds gp2 volumes, small
// ones and one large enough for every EBS type.
func newRetypeFake(t *testing.T) (*simcloud.Estate, *awsfake.Server) {
	t.Helper()
	return newFakeWith(t, simcloud.Config{Seed: 11, Resources: 300, Now: demoNow}, awsfake.Options{})
}

// newRetypeProvider is newProvider with a short wait, so a volume that
// never reads its new type fails the test in seconds.
func newRetypeProvider(t *testing.T, srv *awsfake.Server, account string) *awscloud.Provider {
	t.Helper()
	p, err := awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(account), Poll: time.Millisecond, WaitTimeout: 2 * time.Second, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gp2Disk is a gp2 volume large enough for every EBS type.
func gp2Disk(r domain.Resource) bool {
	return r.Kind == domain.KindDisk && r.SKU == "gp2" && r.SizeGiB >= 125
}

// countEC2 counts the EC2 calls answered so far.
func countEC2(srv *awsfake.Server) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Service == "ec2" {
			n++
		}
	}
	return n
}

func TestRetype(t *testing.T) {
	est, srv := newRetypeFake(t)
	clock := &fakeClock{now: demoNow}
	srv.SetClock(clock.Now)
	disk := pick(t, est, gp2Disk)
	p := newRetypeProvider(t, srv, disk.Account)
	ctx := context.Background()
	ref := disk.Ref()

	// gp2 to gp3: one ModifyVolume (with no IOPS or throughput: the fake
	// refuses any parameter but the type), and Get reads gp3 at once.
	if err := p.Retype(ctx, ref, "gp3", "p/a/retype"); err != nil {
		t.Fatal(err)
	}
	if got := codes(srv, "ModifyVolume"); !slices.Equal(got, []string{""}) {
		t.Fatalf("ModifyVolume answers %q, want one success", got)
	}
	got, err := p.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.SKU != "gp3" || got.AttachedTo != disk.AttachedTo || got.SizeGiB != disk.SizeGiB {
		t.Errorf("Get after Retype: %s attached to %q, %d GiB; want gp3 attached to %q, %d GiB", got.SKU, got.AttachedTo, got.SizeGiB, disk.AttachedTo, disk.SizeGiB)
	}
	if r, _ := estateGet(est, ref); r.SKU != "gp3" {
		t.Errorf("estate SKU %s, want gp3", r.SKU)
	}

	// A redelivered action: the volume reads gp3, no second modification.
	before := countMutating(srv)
	if err := p.Retype(ctx, ref, "gp3", "p/a/retype"); err != nil {
		t.Fatalf("second Retype: %v", err)
	}
	if n := countMutating(srv) - before; n != 0 {
		t.Errorf("a second Retype to the same type made %d mutating calls, want none", n)
	}

	// While the gp3 modification optimizes, another type is a conflict,
	// refused without a ModifyVolume; the volume stays gp3.
	before = countMutating(srv)
	err = p.Retype(ctx, ref, "io1", "p/b/retype")
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Retype during a modification = %v, want conflict", err)
	}
	if !strings.Contains(err.Error(), disk.ID) || !strings.Contains(err.Error(), "gp3") {
		t.Errorf("conflict %q does not name the disk and the modification under way", err)
	}
	if n := countMutating(srv) - before; n != 0 {
		t.Errorf("Retype during a modification made %d mutating calls, want none", n)
	}
	if r, _ := estateGet(est, ref); r.SKU != "gp3" {
		t.Errorf("estate SKU after a refused Retype: %s, want gp3", r.SKU)
	}

	// Once the modification has completed, the volume takes another.
	clock.Advance(7 * time.Hour)
	if err := p.Retype(ctx, ref, "io1", "p/b/retype"); err != nil {
		t.Fatalf("Retype after the modification completed: %v", err)
	}
	if got, err := p.Get(ctx, ref); err != nil || got.SKU != "io1" {
		t.Errorf("Get after the second Retype: %s, %v; want io1", got.SKU, err)
	}
}

func TestRetypeRefusesBeforeAnyCall(t *testing.T) {
	est, srv := newRetypeFake(t)
	disk := pick(t, est, gp2Disk)
	p := newRetypeProvider(t, srv, disk.Account)
	ctx := context.Background()
	vm := pick(t, est, func(r domain.Resource) bool { return r.Kind == domain.KindVM && r.Account == disk.Account })
	foreign := disk.Ref()
	foreign.Account = "999999999999"
	for _, tc := range []struct {
		name string
		ref  domain.ResourceRef
		sku  string
		want error
	}{
		{"not an EBS type", disk.Ref(), "gp4", domain.ErrInvalid},
		{"an Azure type", disk.Ref(), "StandardSSD_LRS", domain.ErrInvalid},
		{"no type", disk.Ref(), "", domain.ErrInvalid},
		{"an instance", vm.Ref(), "gp3", domain.ErrInvalid},
		{"another account", foreign, "gp3", domain.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := countEC2(srv)
			err := p.Retype(ctx, tc.ref, tc.sku, "p/a/retype")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Retype(%s, %q) = %v, want %v", tc.ref.ID, tc.sku, err, tc.want)
			}
			if n := countEC2(srv) - calls; n != 0 {
				t.Errorf("Retype(%s, %q) made %d EC2 calls, want none", tc.ref.ID, tc.sku, n)
			}
			if tc.want == domain.ErrInvalid && tc.ref.ID == disk.ID && (!strings.Contains(err.Error(), disk.ID) || !strings.Contains(err.Error(), `"`+tc.sku+`"`)) {
				t.Errorf("error %q does not name the disk and the type", err)
			}
		})
	}
	if r, _ := estateGet(est, disk.Ref()); r.SKU != "gp2" {
		t.Errorf("estate SKU after refused calls: %s, want gp2", r.SKU)
	}
}

func TestRetypeMapsModificationErrors(t *testing.T) {
	est, srv := newRetypeFake(t)
	disk := pick(t, est, gp2Disk)
	p := newRetypeProvider(t, srv, disk.Account)
	ctx := context.Background()
	for _, tc := range []struct {
		code string
		want error
	}{
		{"IncorrectModificationState", domain.ErrConflict},
		{"VolumeModificationRateExceeded", domain.ErrThrottled},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv.Fail("ec2", "ModifyVolume", "", 1, tc.code, http.StatusBadRequest)
			err := p.Retype(ctx, disk.Ref(), "gp3", "p/a/retype")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Retype answered %s = %v, want %v", tc.code, err, tc.want)
			}
			if !strings.Contains(err.Error(), disk.ID) || !strings.Contains(err.Error(), "gp3") || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("error %q does not name the disk, the type and the code", err)
			}
			if r, _ := estateGet(est, disk.Ref()); r.SKU != "gp2" {
				t.Errorf("estate SKU after a refused modification: %s, want gp2", r.SKU)
			}
		})
	}
	// A type the volume's size does not allow is EC2's
	// InvalidParameterValue.
	small := pick(t, est, func(r domain.Resource) bool { return r.Kind == domain.KindDisk && r.SKU == "gp2" && r.SizeGiB < 125 })
	q := newRetypeProvider(t, srv, small.Account)
	if err := q.Retype(ctx, small.Ref(), "sc1", "p/b/retype"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Retype(%d GiB to sc1) = %v, want invalid", small.SizeGiB, err)
	}
}

func TestRetypeUnknownVolumeIsNotFound(t *testing.T) {
	est, srv := newRetypeFake(t)
	account := est.Accounts(domain.AWS)[0]
	p := newRetypeProvider(t, srv, account)
	ref := domain.ResourceRef{Cloud: domain.AWS, Account: account, Region: "us-east-1", Kind: domain.KindDisk, ID: "vol-0123456789abcdef0"}
	if err := p.Retype(context.Background(), ref, "gp3", "p/a/retype"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Retype(unknown volume) = %v, want not found", err)
	}
	if n := srv.CallCount("ec2", "ModifyVolume"); n != 0 {
		t.Errorf("%d ModifyVolume calls for an unknown volume, want none", n)
	}
}
