package simcloud

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var (
	_ collect.Provider  = (*Cloud)(nil)
	_ actuate.Resources = (*Cloud)(nil)
)

// Operation names, for FailNext and Call.Op.
const (
	OpScopes    = "scopes"
	OpResources = "resources"
	OpSeries    = "series"
	OpCostRows  = "cost_rows"
	OpGet       = "get"
	OpStop      = "stop"
	OpStart     = "start"
	OpResize    = "resize"
	OpRetype    = "retype"
	OpSnapshot  = "snapshot"
	OpDelete    = "delete"
	OpRelease   = "release"
	OpTag       = "tag"
	OpTier      = "tier"
)

// Cloud is one cloud of an estate. It implements collect.Provider and
// actuate.Resources over the estate's state.
type Cloud struct {
	e     *Estate
	cloud domain.Cloud
}

// Cloud names the cloud.
func (c *Cloud) Cloud() domain.Cloud { return c.cloud }

// Scopes lists every account/region pair of the cloud that holds
// resources, including the ones configured as denied.
func (c *Cloud) Scopes(ctx context.Context) ([]collect.Scope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.takeFailure(OpScopes); err != nil {
		return nil, fmt.Errorf("list %s scopes: %w", c.cloud, err)
	}
	return append([]collect.Scope(nil), e.scopes[c.cloud]...), nil
}

func (c *Cloud) checkScope(op string, scope collect.Scope) (scopeKey, error) {
	k := scopeKey{c.cloud, scope.Account, scope.Region}
	if err := c.e.takeFailure(op); err != nil {
		return k, fmt.Errorf("%s %s %s/%s: %w", op, c.cloud, scope.Account, scope.Region, err)
	}
	if c.e.denied[k] {
		return k, fmt.Errorf("%s %s %s/%s: %w (simulated)", op, c.cloud, scope.Account, scope.Region, domain.ErrPermission)
	}
	return k, nil
}

// Resources calls fn with pages of at most PageSize live resources of
// scope, in a stable order (creation order). A denied scope returns an
// error wrapping domain.ErrPermission; an unknown scope lists nothing.
func (c *Cloud) Resources(ctx context.Context, scope collect.Scope, fn func([]domain.Resource) error) error {
	e := c.e
	e.mu.Lock()
	k, err := c.checkScope(OpResources, scope)
	e.mu.Unlock()
	if err != nil {
		return err
	}
	for pos := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		e.mu.Lock()
		idx := e.byScope[k]
		page := make([]domain.Resource, 0, min(PageSize, len(idx)-pos))
		for ; pos < len(idx) && len(page) < PageSize; pos++ {
			if r := &e.res[idx[pos]]; r.live() {
				page = append(page, e.resourceLocked(r))
			}
		}
		done := pos >= len(idx)
		e.mu.Unlock()
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// Series calls fn with the CPU series of each VM of vmIDs in scope and,
// for VMs with a memory agent, its memory series, over window at step (a
// whole number of hours). The series start at window.Start truncated to
// the step and end at the estate's clock truncated to the hour or at
// window.End, whichever is earlier. Points before the VM was created,
// before the retained history, while it was stopped or during an outage
// are domain.Missing. IDs that are not VMs of scope are skipped.
func (c *Cloud) Series(ctx context.Context, scope collect.Scope, vmIDs []string, window collect.Window, step time.Duration, fn func(domain.Series) error) error {
	e := c.e
	if step <= 0 || step%time.Hour != 0 {
		return fmt.Errorf("%w: series step %v: the simulated cloud keeps hourly data", domain.ErrUnsupported, step)
	}
	if !window.End.After(window.Start) {
		return fmt.Errorf("%w: series window %v..%v is empty", domain.ErrInvalid, window.Start, window.End)
	}
	e.mu.Lock()
	k, err := c.checkScope(OpSeries, scope)
	nowHour := e.now.Unix() / 3600
	e.mu.Unlock()
	if err != nil {
		return err
	}
	stepHours := int(step / time.Hour)
	start := window.Start.UTC().Truncate(step).Unix() / 3600
	end := min(nowHour, window.End.Unix()/3600)
	n := int(end-start) / stepHours
	if n <= 0 {
		return nil
	}
	var scratch []float64
	for _, id := range vmIDs {
		if err := ctx.Err(); err != nil {
			return err
		}
		e.mu.Lock()
		v, ok := e.viewLocked(k, id)
		e.mu.Unlock()
		if !ok {
			continue
		}
		cpu, mem, s := v.series(e.traces, e.refHour, start, n, stepHours, scratch)
		scratch = s
		if err := fn(cpu); err != nil {
			return err
		}
		if mem != nil {
			if err := fn(*mem); err != nil {
				return err
			}
		}
		if v.p.disks > 0 {
			read, write := v.diskSeries(cpu)
			if err := fn(read); err != nil {
				return err
			}
			if err := fn(write); err != nil {
				return err
			}
		}
	}
	return nil
}

// viewLocked copies what the series of VM id in scope k needs.
func (e *Estate) viewLocked(k scopeKey, id string) (vmView, bool) {
	i, ok := e.byID[id]
	if !ok {
		return vmView{}, false
	}
	r := &e.res[i]
	if r.vm == nil || r.cloud != k.cloud || r.region != k.region || e.accounts[r.acct].id != k.account {
		return vmView{}, false
	}
	nowHour := e.now.Unix() / 3600
	v := vmView{id: r.id, p: r.vm, created: ceilHour(r.created), hist: append([]span(nil), r.hist...),
		state: r.state, sku: r.sku, nowHour: nowHour, histFrom: nowHour - int64(e.days)*24}
	skus := []string{r.sku}
	for _, s := range r.hist {
		skus = append(skus, s.sku)
	}
	for _, sku := range skus {
		p, ok := e.priceLocked(r.cloud, r.region, domain.KindVM, sku)
		if !ok || sku == "" || (p.VCPU == int(r.vm.origVCPU) && p.MemoryMiB == r.vm.origMemMiB) {
			continue
		}
		f := skuFactor{sku: sku, cpu: 1, mem: 1}
		if p.VCPU > 0 {
			f.cpu = float32(r.vm.origVCPU) / float32(p.VCPU)
		}
		if p.MemoryMiB > 0 && r.vm.origMemMiB > 0 {
			f.mem = float32(r.vm.origMemMiB) / float32(p.MemoryMiB)
		}
		v.factors = append(v.factors, f)
	}
	return v, true
}

// Get re-reads one resource. A resource that does not exist, was
// deleted or released, or is not where ref says returns an error
// wrapping domain.ErrNotFound.
func (c *Cloud) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	if err := ctx.Err(); err != nil {
		return domain.Resource{}, err
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.takeFailure(OpGet); err != nil {
		return domain.Resource{}, fmt.Errorf("get %s: %w", ref, err)
	}
	if e.denied[scopeKey{c.cloud, ref.Account, ref.Region}] {
		return domain.Resource{}, fmt.Errorf("get %s: %w (simulated)", ref, domain.ErrPermission)
	}
	r, err := c.findLocked(ref)
	if err != nil {
		return domain.Resource{}, fmt.Errorf("get %s: %w", ref, err)
	}
	return e.resourceLocked(r), nil
}

// findLocked returns the live resource ref names.
func (c *Cloud) findLocked(ref domain.ResourceRef) (*resource, error) {
	e := c.e
	i, ok := e.byID[ref.ID]
	if !ok {
		return nil, domain.ErrNotFound
	}
	r := &e.res[i]
	if r.cloud != c.cloud || ref.Cloud != c.cloud || e.accounts[r.acct].id != ref.Account || r.region != ref.Region || !r.live() {
		return nil, domain.ErrNotFound
	}
	if ref.Kind != "" && ref.Kind != r.kind {
		return nil, fmt.Errorf("%w: %s is a %s, not a %s", domain.ErrInvalid, ref.ID, r.kind, ref.Kind)
	}
	return r, nil
}
