package simcloud

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// find returns the first live resource of e that matches.
func find(t testing.TB, e *Estate, match func(r domain.Resource, arch string) bool) domain.Resource {
	t.Helper()
	for _, r := range e.Resources() {
		a, _ := e.Archetype(r.ID)
		if match(r, a) {
			return r
		}
	}
	t.Fatal("no matching resource")
	return domain.Resource{}
}

func TestMutationRules(t *testing.T) {
	ctx := context.Background()
	e := newEstate(t, Config{Seed: 31, Resources: 300, Now: testNow})
	running := find(t, e, func(r domain.Resource, a string) bool {
		return r.Kind == domain.KindVM && r.State == domain.StateRunning && r.Cloud == domain.Azure && r.Incomplete == ""
	})
	stopped := find(t, e, func(r domain.Resource, a string) bool {
		return r.Kind == domain.KindVM && r.State == domain.StateStopped
	})
	attached := find(t, e, func(r domain.Resource, a string) bool { return r.Kind == domain.KindDisk && r.AttachedTo != "" })
	orphan := find(t, e, func(r domain.Resource, a string) bool { return r.Kind == domain.KindDisk && r.AttachedTo == "" })
	snap := find(t, e, func(r domain.Resource, a string) bool { return r.Kind == domain.KindSnapshot })
	assoc := find(t, e, func(r domain.Resource, a string) bool { return r.Kind == domain.KindIP && r.AttachedTo != "" })
	free := find(t, e, func(r domain.Resource, a string) bool { return r.Kind == domain.KindIP && r.AttachedTo == "" })
	unknown := running.Ref()
	unknown.ID += "-gone"
	wrongAccount := running.Ref()
	wrongAccount.Account = "00000000-0000-0000-0000-000000000000"
	p := func(r domain.Resource) *Cloud { return e.Cloud(r.Cloud) }
	otherSize := "Standard_D2s_v5"
	if running.SKU == otherSize {
		otherSize = "Standard_D4s_v5"
	}

	n := 0
	tok := func() string { n++; return fmt.Sprintf("tok-%d", n) }
	for _, tc := range []struct {
		name string
		do   func() error
		want error
	}{
		{"stop a disk", func() error { return p(attached).Stop(ctx, attached.Ref(), tok()) }, domain.ErrInvalid},
		{"stop unknown", func() error { return p(running).Stop(ctx, unknown, tok()) }, domain.ErrNotFound},
		{"stop in the wrong account", func() error { return p(running).Stop(ctx, wrongAccount, tok()) }, domain.ErrNotFound},
		{"stop without a token", func() error { return p(running).Stop(ctx, running.Ref(), "") }, domain.ErrInvalid},
		{"stop a stopped VM", func() error { return p(stopped).Stop(ctx, stopped.Ref(), tok()) }, domain.ErrConflict},
		{"start a running VM", func() error { return p(running).Start(ctx, running.Ref(), tok()) }, domain.ErrConflict},
		{"resize a running VM", func() error { return p(running).Resize(ctx, running.Ref(), otherSize, tok()) }, domain.ErrConflict},
		{"stop", func() error { return p(running).Stop(ctx, running.Ref(), tok()) }, nil},
		{"resize to an unknown size", func() error { return p(running).Resize(ctx, running.Ref(), "Standard_X99", tok()) }, domain.ErrInvalid},
		{"resize", func() error { return p(running).Resize(ctx, running.Ref(), otherSize, tok()) }, nil},
		{"start", func() error { return p(running).Start(ctx, running.Ref(), tok()) }, nil},
		{"delete an attached disk", func() error { return p(attached).Delete(ctx, attached.Ref(), tok()) }, domain.ErrConflict},
		{"delete a VM", func() error { return p(running).Delete(ctx, running.Ref(), tok()) }, domain.ErrInvalid},
		{"delete an orphan disk", func() error { return p(orphan).Delete(ctx, orphan.Ref(), tok()) }, nil},
		{"delete it again", func() error { return p(orphan).Delete(ctx, orphan.Ref(), tok()) }, domain.ErrNotFound},
		{"delete a snapshot", func() error { return p(snap).Delete(ctx, snap.Ref(), tok()) }, nil},
		{"release an associated IP", func() error { return p(assoc).Release(ctx, assoc.Ref(), tok()) }, domain.ErrConflict},
		{"release a disk", func() error { return p(attached).Release(ctx, attached.Ref(), tok()) }, domain.ErrInvalid},
		{"release", func() error { return p(free).Release(ctx, free.Ref(), tok()) }, nil},
		{"tag", func() error { return p(assoc).Tag(ctx, assoc.Ref(), map[string]string{"owner": "jane"}, tok()) }, nil},
		{"tag the opt-in tag", func() error {
			return p(assoc).Tag(ctx, assoc.Ref(), map[string]string{"Cloudtrim-Optin": "true"}, tok())
		}, domain.ErrPermission},
		{"snapshot a VM", func() error {
			_, err := p(running).Snapshot(ctx, running.Ref(), nil, tok())
			return err
		}, domain.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("%s = %v; want %v", tc.name, err, tc.want)
			}
		})
	}

	live, err := p(running).Get(ctx, running.Ref())
	if err != nil || live.SKU != otherSize || live.State != domain.StateRunning {
		t.Errorf("Get(resized VM) = %s %s, %v; want %s running", live.SKU, live.State, err, otherSize)
	}
	for _, gone := range []domain.Resource{orphan, snap, free} {
		if _, err := p(gone).Get(ctx, gone.Ref()); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Get(%s %s) after removal = %v; want ErrNotFound", gone.Kind, gone.ID, err)
		}
	}
	if live, _ := p(assoc).Get(ctx, assoc.Ref()); live.Tags["owner"] != "jane" || live.Tags[TagEnv] == "" {
		t.Errorf("tags after Tag = %v; want owner=jane merged into the old tags", live.Tags)
	}
	id, err := p(attached).Snapshot(ctx, attached.Ref(), map[string]string{"cloudtrim-action": "a1"}, tok())
	if err != nil {
		t.Fatal(err)
	}
	s, err := p(attached).Get(ctx, domain.ResourceRef{Cloud: attached.Cloud, Account: attached.Account, Region: attached.Region, Kind: domain.KindSnapshot, ID: id})
	if err != nil || s.AttachedTo != attached.ID || s.SizeGiB != attached.SizeGiB || s.Tags["cloudtrim-action"] != "a1" || !s.CreatedAt.Equal(testNow) {
		t.Errorf("new snapshot = %+v, %v; want a snapshot of %s tagged cloudtrim-action=a1", s, err, attached.ID)
	}
	if !idPatterns[s.Cloud][s.Kind].MatchString(s.ID) {
		t.Errorf("new snapshot id %q does not look like the cloud's", s.ID)
	}
	if got, want := len(e.Calls()), n+1; got != want { // n tokens and one call without
		t.Errorf("Calls() has %d calls; want %d", got, want)
	}
	for _, c := range e.Calls() {
		if c.Repeat {
			t.Errorf("call %+v marked as a repeat", c)
		}
	}
}

func TestIdempotentByToken(t *testing.T) {
	ctx := context.Background()
	e := newEstate(t, Config{Seed: 32, Resources: 100, Now: testNow})
	vm := find(t, e, func(r domain.Resource, a string) bool {
		return r.Kind == domain.KindVM && r.State == domain.StateRunning && r.Cloud == domain.GCP
	})
	disk := find(t, e, func(r domain.Resource, a string) bool { return r.Kind == domain.KindDisk && r.Cloud == domain.AWS })
	p := e.Cloud(vm.Cloud)
	for i := range 3 {
		if err := p.Stop(ctx, vm.Ref(), "action-1/stop"); err != nil {
			t.Fatalf("Stop #%d = %v; want nil", i+1, err)
		}
	}
	var ids []string
	for range 3 {
		id, err := e.Cloud(domain.AWS).Snapshot(ctx, disk.Ref(), map[string]string{"k": "v"}, "action-2/snap")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("three snapshots with one token returned %v; want one ID", ids)
	}
	snaps := 0
	for _, r := range e.Resources() {
		if r.Kind == domain.KindSnapshot && r.AttachedTo == disk.ID && r.CreatedAt.Equal(testNow) {
			snaps++
		}
	}
	if snaps != 1 {
		t.Errorf("three snapshot calls with one token made %d snapshots; want 1", snaps)
	}
	e.mu.Lock()
	changes := len(e.res[e.byID[vm.ID]].hist)
	e.mu.Unlock()
	if changes != 1 {
		t.Errorf("three stops with one token changed the VM %d times; want 1", changes)
	}
	calls := e.Calls()
	if len(calls) != 6 {
		t.Fatalf("Calls() = %d calls; want 6", len(calls))
	}
	for i, c := range calls {
		if want := i%3 != 0; c.Repeat != want || c.Err != "" {
			t.Errorf("call %d = %+v; want Repeat %v and no error", i, c, want)
		}
	}
	if calls[0].Op != OpStop || calls[0].Ref != vm.Ref() || calls[0].Token != "action-1/stop" || calls[3].Args != "tags=k=v" {
		t.Errorf("calls = %+v", calls)
	}
	// The same token for another call is refused.
	if err := p.Start(ctx, vm.Ref(), "action-1/stop"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Start with a used token = %v; want ErrConflict", err)
	}
}

func TestFailNext(t *testing.T) {
	ctx := context.Background()
	e := newEstate(t, Config{Seed: 33, Resources: 100, Now: testNow})
	vm := find(t, e, func(r domain.Resource, a string) bool {
		return r.Kind == domain.KindVM && r.State == domain.StateRunning
	})
	p := e.Cloud(vm.Cloud)
	boom := fmt.Errorf("stop instances: %w", domain.ErrThrottled)
	e.FailNext(OpStop, boom)
	if err := p.Stop(ctx, vm.Ref(), "t1"); !errors.Is(err, domain.ErrThrottled) {
		t.Errorf("Stop after FailNext = %v; want ErrThrottled", err)
	}
	if live, _ := p.Get(ctx, vm.Ref()); live.State != domain.StateRunning {
		t.Errorf("a failed Stop left the VM %s; want running", live.State)
	}
	if err := p.Stop(ctx, vm.Ref(), "t1"); err != nil {
		t.Errorf("retried Stop = %v; want nil", err)
	}
	calls := e.Calls()
	if len(calls) != 2 || calls[0].Err == "" || calls[1].Err != "" || calls[1].Repeat {
		t.Errorf("calls = %+v; want a failed call then an effective one", calls)
	}
	e.FailNext(OpGet, domain.ErrNotFound)
	if _, err := p.Get(ctx, vm.Ref()); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get after FailNext = %v; want ErrNotFound", err)
	}
}

func TestDryRunReadsMakeNoCalls(t *testing.T) {
	e := newEstate(t, Config{Seed: 34, Resources: 300, Now: testNow})
	read(t, e)
	for _, r := range e.Resources() {
		if _, err := e.Cloud(r.Cloud).Get(context.Background(), r.Ref()); err != nil {
			t.Fatal(err)
		}
	}
	if calls := e.Calls(); len(calls) != 0 {
		t.Errorf("reading the estate logged %d mutating calls; want 0", len(calls))
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	e := newEstate(t, Config{Seed: 35, Resources: 500, Now: testNow})
	var wg sync.WaitGroup
	for _, r := range e.Resources() {
		if r.Kind != domain.KindVM || r.State != domain.StateRunning {
			continue
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = e.Cloud(r.Cloud).Stop(ctx, r.Ref(), "stop-"+r.ID)
		}()
		go func() {
			defer wg.Done()
			w := collect.Window{Start: testNow.Add(-24 * time.Hour), End: testNow}
			_ = e.Cloud(r.Cloud).Series(ctx, collect.Scope{Account: r.Account, Region: r.Region}, []string{r.ID}, w, time.Hour,
				func(domain.Series) error { return nil })
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		read(t, e)
	}()
	wg.Wait()
	for _, r := range e.Resources() {
		if r.Kind == domain.KindVM && r.State == domain.StateRunning {
			t.Errorf("VM %s still running after a concurrent stop", r.ID)
		}
	}
}
