package simcloud

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Call records one mutating call made to the estate.
type Call struct {
	Cloud domain.Cloud       `json:"cloud"`
	Op    string             `json:"op"`
	Ref   domain.ResourceRef `json:"ref"`
	Token string             `json:"token"`
	Args  string             `json:"args,omitempty"` // "sku=m5.large", "tags=a=1,b=2"
	// Repeat is true when the token had already been applied: the first
	// result was returned and nothing changed.
	Repeat bool      `json:"repeat,omitempty"`
	Err    string    `json:"err,omitempty"`
	At     time.Time `json:"at"`
}

// Calls returns every mutating call made so far, in order, including the
// ones that failed and the repeats of a token.
func (e *Estate) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

type tokenResult struct {
	op     string
	ref    domain.ResourceRef
	args   string
	result string
}

// mutate runs one mutating call: the failure hook, the idempotency
// token, the permission and existence checks, then apply, and logs it.
func (c *Cloud) mutate(ctx context.Context, op string, ref domain.ResourceRef, token, args string, apply func(r *resource) (string, error)) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	call := Call{Cloud: c.cloud, Op: op, Ref: ref, Token: token, Args: args, At: e.now}
	result, err := c.mutateLocked(&call, apply)
	if err != nil {
		err = fmt.Errorf("%s %s: %w", op, ref, err)
		call.Err = err.Error()
	}
	e.calls = append(e.calls, call)
	return result, err
}

func (c *Cloud) mutateLocked(call *Call, apply func(r *resource) (string, error)) (string, error) {
	e := c.e
	if err := e.takeFailure(call.Op); err != nil {
		return "", err
	}
	if call.Token == "" {
		return "", fmt.Errorf("%w: an idempotency token is required", domain.ErrInvalid)
	}
	key := string(c.cloud) + "\x00" + call.Token
	if prev, ok := e.tokens[key]; ok {
		if prev.op != call.Op || prev.ref != call.Ref || prev.args != call.Args {
			return "", fmt.Errorf("%w: token %q was used for %s %s %s", domain.ErrConflict, call.Token, prev.op, prev.ref, prev.args)
		}
		call.Repeat = true
		return prev.result, nil
	}
	if e.denied[scopeKey{c.cloud, call.Ref.Account, call.Ref.Region}] {
		return "", fmt.Errorf("%w (simulated)", domain.ErrPermission)
	}
	r, err := c.findLocked(call.Ref)
	if err != nil {
		return "", err
	}
	result, err := apply(r)
	if err != nil {
		return "", err
	}
	e.tokens[key] = tokenResult{op: call.Op, ref: call.Ref, args: call.Args, result: result}
	return result, nil
}

func wantKind(r *resource, kinds ...domain.Kind) error {
	if slices.Contains(kinds, r.kind) {
		return nil
	}
	return fmt.Errorf("%w: %s is a %s", domain.ErrInvalid, r.id, r.kind)
}

// setLocked moves r to a new state and SKU, keeping the old ones in its
// history so that cost rows and series before now stay as they were.
func (e *Estate) setLocked(r *resource, state, sku string) {
	r.hist = append(r.hist, span{until: e.now, state: r.state, sku: r.sku})
	r.state, r.sku = state, sku
}

// Stop stops (deallocates) a running VM. A VM that is not running is a
// conflict; a resource that is not a VM is invalid.
func (c *Cloud) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	_, err := c.mutate(ctx, OpStop, ref, token, "", func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindVM); err != nil {
			return "", err
		}
		if r.state != domain.StateRunning {
			return "", fmt.Errorf("%w: vm is %s, not running", domain.ErrConflict, r.state)
		}
		c.e.setLocked(r, domain.StateStopped, r.sku)
		return "", nil
	})
	return err
}

// Start starts a stopped VM. A VM that is not stopped is a conflict.
func (c *Cloud) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	_, err := c.mutate(ctx, OpStart, ref, token, "", func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindVM); err != nil {
			return "", err
		}
		if r.state != domain.StateStopped {
			return "", fmt.Errorf("%w: vm is %s, not stopped", domain.ErrConflict, r.state)
		}
		c.e.setLocked(r, domain.StateRunning, r.sku)
		return "", nil
	})
	return err
}

// Resize changes a stopped VM's size. A running VM is a conflict; a size
// the price catalog does not offer in the VM's region is invalid.
func (c *Cloud) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	_, err := c.mutate(ctx, OpResize, ref, token, "sku="+sku, func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindVM); err != nil {
			return "", err
		}
		if r.state != domain.StateStopped {
			return "", fmt.Errorf("%w: vm is %s; stop it before resizing", domain.ErrConflict, r.state)
		}
		if _, ok := c.e.priceLocked(r.cloud, r.region, domain.KindVM, sku); !ok {
			return "", fmt.Errorf("%w: size %q is not offered in %s %s", domain.ErrInvalid, sku, r.cloud, r.region)
		}
		if sku != r.sku {
			c.e.setLocked(r, r.state, sku)
		}
		return "", nil
	})
	return err
}

// Retype changes a disk's type in place; its data and attachment stay.
// A type the price catalog does not offer in the disk's region is
// invalid.
func (c *Cloud) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	_, err := c.mutate(ctx, OpRetype, ref, token, "sku="+sku, func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindDisk); err != nil {
			return "", err
		}
		if _, ok := c.e.priceLocked(r.cloud, r.region, domain.KindDisk, sku); !ok {
			return "", fmt.Errorf("%w: disk type %q is not offered in %s %s", domain.ErrInvalid, sku, r.cloud, r.region)
		}
		if sku != r.sku {
			c.e.setLocked(r, r.state, sku)
		}
		return "", nil
	})
	return err
}

// Snapshot takes a snapshot of a disk, tagged with tags, and returns the
// new snapshot's ID.
func (c *Cloud) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	return c.mutate(ctx, OpSnapshot, ref, token, "tags="+formatTags(tags), func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindDisk); err != nil {
			return "", err
		}
		e := c.e
		d := *r // r points into e.res, which the append below may move
		acct := e.accounts[d.acct].id
		name := fmt.Sprintf("%s-snap-%06x", shortName(d.name), e.rng.Uint32()&0xffffff)
		var id string
		switch d.cloud {
		case domain.AWS:
			id = fmt.Sprintf("snap-0%016x", e.rng.Uint64())
		case domain.Azure:
			id = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/snapshots/%s", acct, azureRG(d.app, d.env), name)
		default:
			id = fmt.Sprintf("projects/%s/global/snapshots/%s", acct, name)
		}
		if _, taken := e.byID[id]; taken {
			return "", fmt.Errorf("%w: snapshot %s exists", domain.ErrConflict, id)
		}
		s := resource{cloud: d.cloud, acct: d.acct, kind: domain.KindSnapshot, region: d.region, id: id, name: name,
			sku: SnapshotSKU, state: domain.StateAvailable, created: e.now, sizeGiB: d.sizeGiB, attachedTo: d.id,
			extraTags: maps.Clone(tags)}
		e.res = append(e.res, s)
		i := int32(len(e.res) - 1)
		e.byID[id] = i
		k := scopeKey{d.cloud, acct, d.region}
		e.byScope[k] = append(e.byScope[k], i)
		return id, nil
	})
}

func shortName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// Delete deletes an unattached disk or a snapshot. An attached disk is a
// conflict; other kinds are invalid.
func (c *Cloud) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	_, err := c.mutate(ctx, OpDelete, ref, token, "", func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindDisk, domain.KindSnapshot); err != nil {
			return "", err
		}
		if r.kind == domain.KindDisk && (r.attachedTo != "" || r.state != domain.StateAvailable) {
			return "", fmt.Errorf("%w: disk is %s, attached to %q", domain.ErrConflict, r.state, r.attachedTo)
		}
		c.e.setLocked(r, domain.StateDeleted, r.sku)
		return "", nil
	})
	return err
}

// Release releases an unassociated address. An associated one is a
// conflict; other kinds are invalid.
func (c *Cloud) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	_, err := c.mutate(ctx, OpRelease, ref, token, "", func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindIP); err != nil {
			return "", err
		}
		if r.attachedTo != "" {
			return "", fmt.Errorf("%w: address is associated with %s", domain.ErrConflict, r.attachedTo)
		}
		c.e.setLocked(r, domain.StateReleased, r.sku)
		return "", nil
	})
	return err
}

// Tag merges tags into the resource's tags. Like the actuator's role in
// a real deployment, the simulated identity may not set the opt-in tag
// (domain.ErrPermission) nor tag a resource whose tags it cannot read.
func (c *Cloud) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	_, err := c.mutate(ctx, OpTag, ref, token, "tags="+formatTags(tags), func(r *resource) (string, error) {
		if len(tags) == 0 {
			return "", fmt.Errorf("%w: no tags", domain.ErrInvalid)
		}
		for k := range tags {
			if strings.EqualFold(k, TagOptIn) {
				return "", fmt.Errorf("%w: the opt-in tag %q cannot be changed (simulated)", domain.ErrPermission, k)
			}
		}
		if r.incomplete != "" {
			return "", fmt.Errorf("%w: tags cannot be read or written (simulated)", domain.ErrPermission)
		}
		if r.extraTags == nil {
			r.extraTags = make(map[string]string, len(tags))
		}
		maps.Copy(r.extraTags, tags)
		return "", nil
	})
	return err
}

func formatTags(tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + tags[k])
	}
	return b.String()
}
