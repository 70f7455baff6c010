package awscloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// actionable reports whether the actuator may change r under the
// default policy: opted in, not protected, wholly read.
func actionable(r domain.Resource) bool {
	pol := domain.DefaultPolicy()
	_, protected := pol.Protected(r.Tags)
	return pol.OptedIn(r.Tags) && !protected && r.Incomplete == ""
}

// pick returns the first AWS resource of the estate that keep accepts.
func pick(t *testing.T, est *simcloud.Estate, keep func(domain.Resource) bool) domain.Resource {
	t.Helper()
	for _, r := range est.Resources() {
		if r.Cloud == domain.AWS && keep(r) {
			return r
		}
	}
	t.Fatal("the estate has no AWS resource for this test")
	return domain.Resource{}
}

func running(r domain.Resource) bool {
	return r.Kind == domain.KindVM && r.State == domain.StateRunning
}

func freeDisk(r domain.Resource) bool { return r.Kind == domain.KindDisk && r.AttachedTo == "" }

func estateGet(est *simcloud.Estate, ref domain.ResourceRef) (domain.Resource, error) {
	return est.Cloud(domain.AWS).Get(context.Background(), ref)
}

// otherSize returns an instance type the catalog offers in region other
// than sku.
func otherSize(t *testing.T, region, sku string) string {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"m5.large", "c5.large", "r5.large", "m5.xlarge"} {
		if _, ok := prices.Lookup(domain.AWS, region, domain.KindVM, s); ok && s != sku {
			return s
		}
	}
	t.Fatalf("the catalog offers no other size than %s in %s", sku, region)
	return ""
}

// codes lists the error codes of the EC2 calls of op so far ("" for a
// success).
func codes(srv *awsfake.Server, op string) []string {
	var out []string
	for _, c := range srv.Calls() {
		if c.Service == "ec2" && c.Op == op {
			out = append(out, c.Code)
		}
	}
	return out
}

var mutatingCalls = []string{"StopInstances", "StartInstances", "ModifyInstanceAttribute", "ModifyVolume", "CreateSnapshot", "DeleteVolume", "DeleteSnapshot", "ReleaseAddress", "CreateTags"}

func countMutating(srv *awsfake.Server) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Service == "ec2" && slices.Contains(mutatingCalls, c.Op) {
			n++
		}
	}
	return n
}

func TestGetMatchesTheEstate(t *testing.T) {
	est, srv := newFake(t)
	providers := map[string]*awscloud.Provider{}
	for _, r := range est.Resources() {
		if r.Cloud != domain.AWS {
			continue
		}
		p, ok := providers[r.Account]
		if !ok {
			p = newProvider(t, srv, r.Account)
			providers[r.Account] = p
		}
		ref := r.Ref()
		ref.Kind = "" // the ID's prefix says the kind
		got, err := p.Get(context.Background(), ref)
		if err != nil {
			t.Errorf("Get(%s) = %v", r.ID, err)
			continue
		}
		if diff := cmp.Diff(asEC2(r), got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Get(%s) (-estate +provider):\n%s", r.ID, diff)
		}
	}

	account := est.Accounts(domain.AWS)[0]
	p := providers[account]
	ref := func(kind domain.Kind, id string) domain.ResourceRef {
		return domain.ResourceRef{Cloud: domain.AWS, Account: account, Region: "us-east-1", Kind: kind, ID: id}
	}
	vm := pick(t, est, func(r domain.Resource) bool { return r.Account == account && r.Kind == domain.KindVM })
	for _, tc := range []struct {
		name string
		ref  domain.ResourceRef
		want error
	}{
		{"unknown instance", ref(domain.KindVM, "i-0123456789abcdef0"), domain.ErrNotFound},
		{"unknown volume", ref(domain.KindDisk, "vol-0123456789abcdef0"), domain.ErrNotFound},
		{"unknown address", ref(domain.KindIP, "eipalloc-0123456789abcdef0"), domain.ErrNotFound},
		{"unknown snapshot", ref(domain.KindSnapshot, "snap-0123456789abcdef0"), domain.ErrNotFound},
		{"instance in another region", domain.ResourceRef{Cloud: domain.AWS, Account: account, Region: "eu-west-1", Kind: domain.KindVM, ID: vm.ID}, domain.ErrNotFound},
		{"another account", domain.ResourceRef{Cloud: domain.AWS, Account: "999999999999", Region: "us-east-1", Kind: domain.KindVM, ID: vm.ID}, domain.ErrPermission},
		{"kind and ID disagree", ref(domain.KindDisk, vm.ID), domain.ErrInvalid},
		{"not an EC2 ID", ref("", "ami-0123456789abcdef0"), domain.ErrInvalid},
		{"another cloud", domain.ResourceRef{Cloud: domain.GCP, Account: account, Region: "us-east-1", Kind: domain.KindVM, ID: vm.ID}, domain.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Get(context.Background(), tc.ref); !errors.Is(err, tc.want) {
				t.Errorf("Get(%v) = %v, want %v", tc.ref, err, tc.want)
			}
		})
	}
}

func TestStopAndStart(t *testing.T) {
	est, srv := newFake(t)
	vm := pick(t, est, running)
	p := newProvider(t, srv, vm.Account)
	ctx := context.Background()
	ref := vm.Ref()

	reads := srv.CallCount("ec2", "DescribeInstances")
	if err := p.Stop(ctx, ref, "p/a/stop"); err != nil {
		t.Fatal(err)
	}
	if r, _ := estateGet(est, ref); r.State != domain.StateStopped {
		t.Fatalf("estate state after Stop: %s, want stopped", r.State)
	}
	// One read before, one that shows stopping, one that shows stopped.
	if n := srv.CallCount("ec2", "DescribeInstances") - reads; n != 3 {
		t.Errorf("Stop read the instance %d times, want 3 (state, stopping, stopped)", n)
	}
	if got, _ := p.Get(ctx, ref); got.State != domain.StateStopped {
		t.Errorf("Get after Stop: %s, want stopped", got.State)
	}

	// A stopped instance is left alone: no second StopInstances.
	if err := p.Stop(ctx, ref, "p/a/stop"); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if n := srv.CallCount("ec2", "StopInstances"); n != 1 {
		t.Errorf("%d StopInstances calls for two Stops, want 1", n)
	}

	srv.SetTransitions(4)
	reads = srv.CallCount("ec2", "DescribeInstances")
	if err := p.Start(ctx, ref, "p/a/start"); err != nil {
		t.Fatal(err)
	}
	if n := srv.CallCount("ec2", "DescribeInstances") - reads; n != 6 {
		t.Errorf("Start read the instance %d times, want 6 (state, 4 × pending, running)", n)
	}
	if err := p.Start(ctx, ref, "p/a/start"); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if n := srv.CallCount("ec2", "StartInstances"); n != 1 {
		t.Errorf("%d StartInstances calls for two Starts, want 1", n)
	}
	if r, _ := estateGet(est, ref); r.State != domain.StateRunning {
		t.Errorf("estate state after Start: %s, want running", r.State)
	}

	// Kinds other than a VM are refused before any call.
	disk := pick(t, est, func(r domain.Resource) bool { return r.Kind == domain.KindDisk && r.Account == vm.Account })
	if err := p.Stop(ctx, disk.Ref(), "p/b/stop"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Stop(disk) = %v, want invalid", err)
	}
}

func TestWaitsAreBounded(t *testing.T) {
	est, srv := newFake(t)
	vm := pick(t, est, running)
	p, err := awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(vm.Account), Poll: time.Millisecond, WaitTimeout: 20 * time.Millisecond, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetTransitions(1 << 30) // stopping for ever
	err = p.Stop(context.Background(), vm.Ref(), "p/a/stop")
	if err == nil {
		t.Fatal("Stop returned while the instance still read stopping")
	}
	for _, kind := range []error{domain.ErrConflict, domain.ErrInvalid, domain.ErrNotFound, domain.ErrPermission, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, kind) {
			t.Errorf("Stop past WaitTimeout = %v, want a transient error of no kind (not %v)", err, kind)
		}
	}
	if !strings.Contains(err.Error(), "still stopping") {
		t.Errorf("Stop past WaitTimeout = %v, want it to name the state it saw", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Start(ctx, vm.Ref(), "p/a/start"); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestResize(t *testing.T) {
	est, srv := newFake(t)
	vm := pick(t, est, running)
	p := newProvider(t, srv, vm.Account)
	ctx := context.Background()
	ref := vm.Ref()
	sku := otherSize(t, vm.Region, vm.SKU)

	if err := p.Resize(ctx, ref, sku, "p/a/resize"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Resize(running) = %v, want conflict", err)
	}
	if got := codes(srv, "ModifyInstanceAttribute"); !slices.Equal(got, []string{"IncorrectInstanceState"}) {
		t.Errorf("ModifyInstanceAttribute answers %q, want IncorrectInstanceState", got)
	}
	// The actuator's loop: stop, resize, start, verify.
	if err := p.Stop(ctx, ref, "p/a/stop"); err != nil {
		t.Fatal(err)
	}
	if err := p.Resize(ctx, ref, "m5.gigantic", "p/b/resize"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Resize to an unknown type = %v, want invalid", err)
	}
	if err := p.Resize(ctx, ref, sku, "p/a/resize"); err != nil {
		t.Fatal(err)
	}
	calls := srv.CallCount("ec2", "ModifyInstanceAttribute")
	if err := p.Resize(ctx, ref, sku, "p/a/resize"); err != nil {
		t.Fatalf("second Resize: %v", err)
	}
	if n := srv.CallCount("ec2", "ModifyInstanceAttribute"); n != calls {
		t.Errorf("a second Resize to the same type made %d calls, want none", n-calls)
	}
	if err := p.Start(ctx, ref, "p/a/start"); err != nil {
		t.Fatal(err)
	}
	got, err := p.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.SKU != sku || got.State != domain.StateRunning {
		t.Errorf("after resize: %s %s, want %s running", got.SKU, got.State, sku)
	}
	if r, _ := estateGet(est, ref); r.SKU != sku {
		t.Errorf("estate SKU %s, want %s", r.SKU, sku)
	}
}

func TestSnapshotIsIdempotent(t *testing.T) {
	est, srv := newFake(t)
	disk := pick(t, est, func(r domain.Resource) bool { return r.Kind == domain.KindDisk })
	p := newProvider(t, srv, disk.Account)
	ctx := context.Background()
	tags := map[string]string{"cloudtrim-plan": "plan-1", "cloudtrim-action": "act-1"}

	first, err := p.Snapshot(ctx, disk.Ref(), tags, "plan-1/act-1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Snapshot(ctx, disk.Ref(), tags, "plan-1/act-1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("second Snapshot with the same token = %s, want %s", again, first)
	}
	if n := srv.CallCount("ec2", "CreateSnapshot"); n != 1 {
		t.Errorf("%d CreateSnapshot calls for one token, want 1", n)
	}
	var taken []domain.Resource
	for _, r := range est.Resources() {
		if r.Kind == domain.KindSnapshot && r.AttachedTo == disk.ID && r.Tags[awscloud.TokenTag] != "" {
			taken = append(taken, r)
		}
	}
	if len(taken) != 1 || taken[0].ID != first {
		t.Fatalf("estate snapshots of %s with a token: %v, want %s alone", disk.ID, taken, first)
	}
	wantTags := map[string]string{"cloudtrim-plan": "plan-1", "cloudtrim-action": "act-1", awscloud.TokenTag: "plan-1/act-1/snapshot"}
	if diff := cmp.Diff(wantTags, taken[0].Tags); diff != "" {
		t.Errorf("snapshot tags (-want +got):\n%s", diff)
	}
	// Snapshot returned only once EC2 reported it completed.
	if got, err := p.Get(ctx, domain.ResourceRef{Cloud: domain.AWS, Account: disk.Account, Region: disk.Region, Kind: domain.KindSnapshot, ID: first}); err != nil || got.State != domain.StateAvailable {
		t.Errorf("Get(new snapshot) = %s, %v; want available", got.State, err)
	}

	other, err := p.Snapshot(ctx, disk.Ref(), tags, "plan-2/act-1/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if other == first {
		t.Error("a new token returned the old snapshot")
	}
	long := strings.Repeat("x", 300)
	a, err := p.Snapshot(ctx, disk.Ref(), nil, long)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := p.Snapshot(ctx, disk.Ref(), nil, long); err != nil || b != a {
		t.Errorf("Snapshot with a 300-character token twice: %s then %s, %v; want the same", a, b, err)
	}
	if n := srv.CallCount("ec2", "CreateSnapshot"); n != 3 {
		t.Errorf("%d CreateSnapshot calls for three tokens, want 3", n)
	}

	vm := pick(t, est, func(r domain.Resource) bool { return r.Kind == domain.KindVM && r.Account == disk.Account })
	if _, err := p.Snapshot(ctx, vm.Ref(), nil, "t"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Snapshot(vm) = %v, want invalid", err)
	}
	if _, err := p.Snapshot(ctx, disk.Ref(), nil, ""); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Snapshot without a token = %v, want invalid", err)
	}
}

func TestDeleteAndRelease(t *testing.T) {
	est, srv := newFake(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		keep     func(domain.Resource) bool
		call     func(p *awscloud.Provider, ref domain.ResourceRef) error
		op, gone string
	}{
		{"delete volume", freeDisk, func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Delete(ctx, ref, "p/a/delete") },
			"DeleteVolume", "InvalidVolume.NotFound"},
		{"delete snapshot", func(r domain.Resource) bool { return r.Kind == domain.KindSnapshot },
			func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Delete(ctx, ref, "p/b/delete") },
			"DeleteSnapshot", "InvalidSnapshot.NotFound"},
		{"release address", func(r domain.Resource) bool { return r.Kind == domain.KindIP && r.AttachedTo == "" },
			func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Release(ctx, ref, "p/c/release") },
			"ReleaseAddress", "InvalidAllocationID.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pick(t, est, tc.keep)
			p := newProvider(t, srv, r.Account)
			if err := tc.call(p, r.Ref()); err != nil {
				t.Fatal(err)
			}
			if _, err := estateGet(est, r.Ref()); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("estate Get(%s) = %v, want not found", r.ID, err)
			}
			if _, err := p.Get(ctx, r.Ref()); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("Get(%s) = %v, want not found", r.ID, err)
			}
			// A retry with the same token (EC2 takes none) finds it gone: success.
			if err := tc.call(p, r.Ref()); err != nil {
				t.Errorf("second call: %v, want success (already gone)", err)
			}
			if got := codes(srv, tc.op); !slices.Equal(got, []string{"", tc.gone}) {
				t.Errorf("%s answers %q, want success then %s", tc.op, got, tc.gone)
			}
		})
	}

	for _, tc := range []struct {
		name string
		keep func(domain.Resource) bool
		call func(p *awscloud.Provider, ref domain.ResourceRef) error
		want error
	}{
		{"delete attached volume", func(r domain.Resource) bool { return r.Kind == domain.KindDisk && r.AttachedTo != "" },
			func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Delete(ctx, ref, "p/d/delete") }, domain.ErrConflict},
		{"release associated address", func(r domain.Resource) bool { return r.Kind == domain.KindIP && r.AttachedTo != "" },
			func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Release(ctx, ref, "p/e/release") }, domain.ErrConflict},
		{"delete an instance", func(r domain.Resource) bool { return r.Kind == domain.KindVM },
			func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Delete(ctx, ref, "p/f/delete") }, domain.ErrInvalid},
		{"release a volume", func(r domain.Resource) bool { return r.Kind == domain.KindDisk },
			func(p *awscloud.Provider, ref domain.ResourceRef) error { return p.Release(ctx, ref, "p/g/release") }, domain.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pick(t, est, tc.keep)
			p := newProvider(t, srv, r.Account)
			if err := tc.call(p, r.Ref()); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			after, err := estateGet(est, r.Ref())
			if err != nil || after.State != r.State {
				t.Errorf("estate after a refused call: %s, %v; want %s as before", after.State, err, r.State)
			}
		})
	}
}

func TestTag(t *testing.T) {
	est, srv := newFake(t)
	ctx := context.Background()
	vm := pick(t, est, func(r domain.Resource) bool { return r.Kind == domain.KindVM && actionable(r) })
	p := newProvider(t, srv, vm.Account)
	if err := p.Tag(ctx, vm.Ref(), map[string]string{actuate.ScheduleTag: "Mon-Fri 08:00-20:00 UTC"}, "p/a/tag"); err != nil {
		t.Fatal(err)
	}
	got, err := p.Get(ctx, vm.Ref())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{actuate.ScheduleTag: "Mon-Fri 08:00-20:00 UTC"}
	for k, v := range vm.Tags {
		want[k] = v
	}
	if diff := cmp.Diff(want, got.Tags); diff != "" {
		t.Errorf("tags after Tag (-want +got):\n%s", diff)
	}
	if r, _ := estateGet(est, vm.Ref()); r.Tags[actuate.ScheduleTag] == "" {
		t.Error("the estate did not get the tag")
	}
	if err := p.Tag(ctx, vm.Ref(), map[string]string{"cloudtrim-optin": "true"}, "p/b/tag"); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Tag(opt-in) = %v, want permission (UnauthorizedOperation)", err)
	}
	if err := p.Tag(ctx, vm.Ref(), nil, "p/c/tag"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Tag(no tags) = %v, want invalid", err)
	}
	unread := pick(t, est, func(r domain.Resource) bool { return r.Incomplete != "" })
	q := newProvider(t, srv, unread.Account)
	if err := q.Tag(ctx, unread.Ref(), map[string]string{"k": "v"}, "p/d/tag"); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Tag(resource whose tags the estate cannot read) = %v, want permission", err)
	}
}

func TestUnknownResourcesAreNotFound(t *testing.T) {
	est, srv := newFake(t)
	account := est.Accounts(domain.AWS)[0]
	p := newProvider(t, srv, account)
	ctx := context.Background()
	ref := func(kind domain.Kind, id string) domain.ResourceRef {
		return domain.ResourceRef{Cloud: domain.AWS, Account: account, Region: "us-east-1", Kind: kind, ID: id}
	}
	vm, disk := ref(domain.KindVM, "i-0123456789abcdef0"), ref(domain.KindDisk, "vol-0123456789abcdef0")
	for name, call := range map[string]func() error{
		"Stop":     func() error { return p.Stop(ctx, vm, "t1") },
		"Start":    func() error { return p.Start(ctx, vm, "t2") },
		"Resize":   func() error { return p.Resize(ctx, vm, "m5.large", "t3") },
		"Tag":      func() error { return p.Tag(ctx, vm, map[string]string{"k": "v"}, "t4") },
		"Snapshot": func() error { _, err := p.Snapshot(ctx, disk, nil, "t5"); return err },
	} {
		if err := call(); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s(unknown) = %v, want not found", name, err)
		}
	}
	// Removing what is not there succeeds: the resource is gone.
	for name, call := range map[string]func() error{
		"Delete(volume)":   func() error { return p.Delete(ctx, disk, "t6") },
		"Delete(snapshot)": func() error { return p.Delete(ctx, ref(domain.KindSnapshot, "snap-0123456789abcdef0"), "t7") },
		"Release":          func() error { return p.Release(ctx, ref(domain.KindIP, "eipalloc-0123456789abcdef0"), "t8") },
	} {
		if err := call(); err != nil {
			t.Errorf("%s(unknown) = %v, want success", name, err)
		}
	}
}

// TestActuatorAppliesThroughTheProvider runs the actuator on the
// provider over the fake: rightsize, stop, snapshot-and-delete a disk,
// release an address, delete a snapshot and change a disk's type, each
// approved, applied, verified, and a no-op when the message is
// delivered again.
func TestActuatorAppliesThroughTheProvider(t *testing.T) {
	est, srv := newFake(t)
	ctx := context.Background()
	srv.SetTransitions(2)

	type planned struct {
		act   domain.Action
		check func(domain.Resource, error) bool
	}
	byAccount := map[string][]planned{}
	used := map[string]bool{}
	add := func(kind domain.ActionKind, keep func(domain.Resource) bool, after func(domain.Resource) domain.ResourceState, check func(domain.Resource, error) bool) {
		r := pick(t, est, func(r domain.Resource) bool { return !used[r.ID] && actionable(r) && keep(r) })
		used[r.ID] = true
		act := domain.Action{ID: domain.ActionID(kind, r.Ref()), PlanID: "plan-aws", Kind: kind, Target: r.Ref(), Before: r.Observed(),
			After: after(r), Tags: r.Tags, MonthlySavings: domain.USD(10_000_000)}
		byAccount[r.Account] = append(byAccount[r.Account], planned{act, check})
	}
	gone := func(_ domain.Resource, err error) bool { return errors.Is(err, domain.ErrNotFound) }
	var newSKU string
	add(domain.ActionRightsize, running, func(r domain.Resource) domain.ResourceState {
		newSKU = otherSize(t, r.Region, r.SKU)
		return domain.ResourceState{SKU: newSKU, State: domain.StateRunning}
	}, func(r domain.Resource, err error) bool {
		return err == nil && r.SKU == newSKU && r.State == domain.StateRunning
	})
	add(domain.ActionStop, running, func(domain.Resource) domain.ResourceState { return domain.ResourceState{State: domain.StateStopped} },
		func(r domain.Resource, err error) bool { return err == nil && r.State == domain.StateStopped })
	add(domain.ActionDeleteDisk, freeDisk, func(domain.Resource) domain.ResourceState { return domain.ResourceState{State: domain.StateDeleted} }, gone)
	add(domain.ActionReleaseIP, func(r domain.Resource) bool { return r.Kind == domain.KindIP && r.AttachedTo == "" },
		func(domain.Resource) domain.ResourceState { return domain.ResourceState{State: domain.StateReleased} }, gone)
	add(domain.ActionDeleteSnapshot, func(r domain.Resource) bool { return r.Kind == domain.KindSnapshot },
		func(domain.Resource) domain.ResourceState { return domain.ResourceState{State: domain.StateDeleted} }, gone)
	add(domain.ActionRetypeDisk, func(r domain.Resource) bool { return r.Kind == domain.KindDisk && r.SKU == "io1" },
		func(r domain.Resource) domain.ResourceState { return domain.ResourceState{SKU: "gp3", State: r.State} },
		func(r domain.Resource, err error) bool { return err == nil && r.SKU == "gp3" })

	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var all []domain.Action
	for _, ps := range byAccount {
		for _, pl := range ps {
			all = append(all, pl.act)
		}
	}
	if err := l.PutPlan(ctx, domain.Plan{Version: domain.PlanVersion, ID: "plan-aws", CreatedAt: demoNow, Currency: "USD", Actions: all}); err != nil {
		t.Fatal(err)
	}
	message := func(a domain.Action) []byte {
		d := domain.Decision{Version: domain.DecisionVersion, ID: "dec-" + a.ID, PlanID: a.PlanID, ActionID: a.ID, ActionHash: a.Hash(),
			Verdict: domain.Approved, Approver: "ops@example.com", Channel: "test", At: demoNow}
		if err := l.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	for account, ps := range byAccount {
		a := &actuate.Actuator{Records: l, Providers: map[domain.Cloud]actuate.Resources{domain.AWS: newProvider(t, srv, account)},
			Policy: domain.DefaultPolicy(), Worker: "w1", Now: func() time.Time { return demoNow.Add(time.Hour) }}
		for _, pl := range ps {
			msg := message(pl.act)
			res := a.Handle(ctx, msg)
			if res.Disposition != actuate.Ack || res.Status != domain.StatusApplied {
				t.Errorf("%s %s: %s %s (%s), want ack applied", pl.act.Kind, pl.act.Target.ID, res.Disposition, res.Status, res.Reason)
				continue
			}
			if r, err := estateGet(est, pl.act.Target); !pl.check(r, err) {
				t.Errorf("%s %s: estate reads %s %s (%v) after the change", pl.act.Kind, pl.act.Target.ID, r.SKU, r.State, err)
			}
			before := countMutating(srv)
			if again := a.Handle(ctx, msg); again.Disposition != actuate.Ack || again.Status != domain.StatusApplied {
				t.Errorf("%s redelivered: %s %s (%s), want ack applied", pl.act.Kind, again.Disposition, again.Status, again.Reason)
			}
			if n := countMutating(srv) - before; n != 0 {
				t.Errorf("%s redelivered made %d mutating EC2 calls, want none", pl.act.Kind, n)
			}
		}
	}
	// The disk was snapshotted before it was deleted.
	for _, ps := range byAccount {
		for _, pl := range ps {
			if pl.act.Kind != domain.ActionDeleteDisk {
				continue
			}
			found := false
			for _, r := range est.Resources() {
				found = found || (r.Kind == domain.KindSnapshot && r.AttachedTo == pl.act.Target.ID && r.Tags["cloudtrim-action"] == pl.act.ID)
			}
			if !found {
				t.Errorf("no snapshot of %s tagged with its action before deletion", pl.act.Target.ID)
			}
		}
	}
}
