package actuate

import (
	"context"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Resources is what the actuator needs from a cloud: a live read and
// the mutating calls. Every mutating call takes an idempotency token:
// a second call with the same token and arguments must not change the
// resource again and must return the first call's result. Errors wrap
// the domain error kinds (ErrNotFound, ErrConflict, ErrPermission,
// ErrThrottled, ErrUnsupported); a call that fails with ErrThrottled or
// a context error may or may not have happened, and the caller must
// re-read before retrying.
type Resources interface {
	// Cloud names the cloud the provider changes.
	Cloud() domain.Cloud
	// Get re-reads one resource live. A resource that no longer exists
	// returns an error wrapping domain.ErrNotFound.
	Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error)
	// Stop stops (deallocates) a VM so that it no longer bills compute.
	Stop(ctx context.Context, ref domain.ResourceRef, token string) error
	// Start starts a stopped VM.
	Start(ctx context.Context, ref domain.ResourceRef, token string) error
	// Resize changes a stopped VM's size.
	Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error
	// Retype changes a disk's type (its SKU: gp3, StandardSSD_LRS) in
	// place, keeping its data and attachment. A cloud that cannot change
	// the type of a disk in place returns an error wrapping
	// domain.ErrUnsupported.
	Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error
	// SetTiering sets cloudtrim's lifecycle rule (domain.TierRuleID) on
	// a bucket: objects of its hot class older than rule.AfterDays move
	// to rule.Class. Every other lifecycle rule of the bucket is kept as
	// it is. A zero rule removes cloudtrim's rule. Get reports the
	// result in Resource.Tiering.
	SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error
	// Snapshot takes a snapshot of a disk, tagged with tags, and returns
	// its ID.
	Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error)
	// Delete deletes a disk or a snapshot.
	Delete(ctx context.Context, ref domain.ResourceRef, token string) error
	// Release releases an address.
	Release(ctx context.Context, ref domain.ResourceRef, token string) error
	// Tag merges tags into the resource's tags.
	Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error
}
