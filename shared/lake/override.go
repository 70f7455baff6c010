package lake

import (
	"context"
	"fmt"
	"net/url"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// OverrideKey returns the key of the override document of a resource:
// overrides/<cloud>/<resource key>.json, the resource key as
// domain.ResourceKey gives it with any byte that cannot stand in a key
// segment (a slash of an Azure ID, say) percent-encoded.
func OverrideKey(cloud domain.Cloud, resourceID string) string {
	return "overrides/" + string(cloud) + "/" + url.PathEscape(domain.ResourceKey(cloud, resourceID)) + ".json"
}

// Override reads the override document of a resource: domain.ErrNotFound
// when there is none, domain.ErrInvalid when it is not valid JSON, names
// another resource or fails Validate, domain.ErrUnsupported for another
// schema version. The document may leave out the cloud and resource ID,
// which its key gives.
func (l *Lake) Override(ctx context.Context, ref domain.ResourceRef) (domain.Override, error) {
	key := OverrideKey(ref.Cloud, ref.ID)
	if err := checkKey(key); err != nil {
		return domain.Override{}, fmt.Errorf("read override %s: %w", ref, err)
	}
	var o domain.Override
	if err := l.getJSON(ctx, key, &o); err != nil {
		return domain.Override{}, fmt.Errorf("read override %s: %w", ref, err)
	}
	// The key names the resource; a document may leave it out.
	if o.Cloud == "" {
		o.Cloud = ref.Cloud
	}
	if o.ResourceID == "" {
		o.ResourceID = ref.ID
	}
	if o.Cloud != ref.Cloud || domain.ResourceKey(o.Cloud, o.ResourceID) != domain.ResourceKey(ref.Cloud, ref.ID) {
		return domain.Override{}, fmt.Errorf("read override %s: %w: %s names %s %s", ref, domain.ErrInvalid, key, o.Cloud, o.ResourceID)
	}
	if err := o.Validate(); err != nil {
		return domain.Override{}, fmt.Errorf("read override %s: %s: %w", ref, key, err)
	}
	return o, nil
}

// PutOverride writes a resource's override document, replacing an
// earlier one. An override that fails Validate is domain.ErrInvalid.
func (l *Lake) PutOverride(ctx context.Context, o domain.Override) error {
	if o.Version == "" {
		o.Version = domain.OverrideVersion
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("put override: %w", err)
	}
	o.Until = o.Until.UTC()
	key := OverrideKey(o.Cloud, o.ResourceID)
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put override %s: %w", o.ResourceID, err)
	}
	if err := l.putJSON(ctx, key, o, false); err != nil {
		return fmt.Errorf("put override %s: %w", o.ResourceID, err)
	}
	return nil
}

// DeleteOverride removes a resource's override document;
// domain.ErrNotFound when there is none.
func (l *Lake) DeleteOverride(ctx context.Context, cloud domain.Cloud, resourceID string) error {
	key := OverrideKey(cloud, resourceID)
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete override %s: %w", resourceID, err)
	}
	if err := l.st.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete override %s: %w", key, err)
	}
	return nil
}
