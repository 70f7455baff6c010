package actuate_test

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// fakeCloud is a hand-written, in-memory cloud for the actuator's
// Resources interface: it keeps resources, honours idempotency tokens,
// records every mutating call and can be told to fail.
type fakeCloud struct {
	mu        sync.Mutex
	resources map[string]domain.Resource
	tokens    map[string]bool
	calls     []string // "op id" for every mutating call that changed something
	attempts  int      // mutating calls made, including repeats
	failOn    map[string]error
	snapshots int
	// stuck ops answer success and change nothing (a start that never
	// boots), for verification failures.
	stuck map[string]bool
	// tried lists "op id token" for every mutating call, repeats included.
	tried []string
	// onGet and onMutate, when set, run before every Get and mutating
	// call, outside the lock.
	onGet    func(ref domain.ResourceRef)
	onMutate func(op string, ref domain.ResourceRef)
}

func newFakeCloud(rs ...domain.Resource) *fakeCloud {
	f := &fakeCloud{resources: map[string]domain.Resource{}, tokens: map[string]bool{}, failOn: map[string]error{}, stuck: map[string]bool{}}
	for _, r := range rs {
		r.Tags = maps.Clone(r.Tags) // Tag changes the cloud's copy only
		f.resources[r.ID] = r
	}
	return f
}

func (f *fakeCloud) Cloud() domain.Cloud { return domain.AWS }

func (f *fakeCloud) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	if f.onGet != nil {
		f.onGet(ref)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.resources[ref.ID]
	if !ok {
		return domain.Resource{}, fmt.Errorf("get %s: %w", ref.ID, domain.ErrNotFound)
	}
	r.Tags = maps.Clone(r.Tags)
	return r, nil
}

// mutate runs change once per token, after the failure hook.
func (f *fakeCloud) mutate(op string, ref domain.ResourceRef, token string, change func(*domain.Resource) error) error {
	if f.onMutate != nil {
		f.onMutate(op, ref)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	f.tried = append(f.tried, op+" "+ref.ID+" "+token)
	if err, ok := f.failOn[op]; ok {
		delete(f.failOn, op)
		return err
	}
	if f.tokens[token] {
		return nil
	}
	if f.stuck[op] {
		f.tokens[token] = true
		return nil
	}
	r, ok := f.resources[ref.ID]
	if !ok {
		return fmt.Errorf("%s %s: %w", op, ref.ID, domain.ErrNotFound)
	}
	if err := change(&r); err != nil {
		return err
	}
	f.tokens[token] = true
	f.calls = append(f.calls, op+" "+ref.ID)
	if r.State == domain.StateDeleted {
		delete(f.resources, ref.ID)
	} else {
		f.resources[ref.ID] = r
	}
	return nil
}

func (f *fakeCloud) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	return f.mutate("stop", ref, token, func(r *domain.Resource) error {
		r.State = domain.StateStopped
		return nil
	})
}

func (f *fakeCloud) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	return f.mutate("start", ref, token, func(r *domain.Resource) error {
		r.State = domain.StateRunning
		return nil
	})
}

func (f *fakeCloud) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	return f.mutate("resize", ref, token, func(r *domain.Resource) error {
		if r.State != domain.StateStopped {
			return fmt.Errorf("resize %s: %w: vm is %s", ref.ID, domain.ErrConflict, r.State)
		}
		r.SKU = sku
		return nil
	})
}

func (f *fakeCloud) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	return f.mutate("retype", ref, token, func(r *domain.Resource) error {
		if r.Kind != domain.KindDisk {
			return fmt.Errorf("retype %s: %w: not a disk", ref.ID, domain.ErrInvalid)
		}
		r.SKU = sku
		return nil
	})
}

func (f *fakeCloud) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	return f.mutate("tier", ref, token, func(r *domain.Resource) error {
		if r.Kind != domain.KindBucket {
			return fmt.Errorf("tier %s: %w: not a bucket", ref.ID, domain.ErrInvalid)
		}
		r.Tiering = domain.TieringNone
		if !rule.IsZero() {
			r.Tiering = rule.String()
		}
		return nil
	})
}

func (f *fakeCloud) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	err := f.mutate("snapshot", ref, token, func(r *domain.Resource) error {
		f.snapshots++
		return nil
	})
	return "snap-" + ref.ID, err
}

func (f *fakeCloud) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	return f.mutate("delete", ref, token, func(r *domain.Resource) error {
		if r.Kind == domain.KindDisk && r.AttachedTo != "" {
			return fmt.Errorf("delete %s: %w: attached", ref.ID, domain.ErrConflict)
		}
		r.State = domain.StateDeleted
		return nil
	})
}

func (f *fakeCloud) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	return f.mutate("release", ref, token, func(r *domain.Resource) error {
		r.State = domain.StateDeleted
		return nil
	})
}

func (f *fakeCloud) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	return f.mutate("tag", ref, token, func(r *domain.Resource) error {
		if r.Tags == nil {
			r.Tags = map[string]string{}
		}
		maps.Copy(r.Tags, tags)
		return nil
	})
}

func (f *fakeCloud) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeCloud) Attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

// Tried returns every mutating call made, "op id token", repeats
// included.
func (f *fakeCloud) Tried() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tried...)
}

// Resource returns a resource as the cloud holds it.
func (f *fakeCloud) Resource(id string) (domain.Resource, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.resources[id]
	return r, ok
}

// Set replaces a resource.
func (f *fakeCloud) Set(r domain.Resource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Tags = maps.Clone(r.Tags)
	f.resources[r.ID] = r
}
