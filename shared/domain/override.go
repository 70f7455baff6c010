package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// OverrideVersion is the schema version of override documents.
const OverrideVersion = "cloudtrim.override/v1"

// SkipUntilTag is the tag a resource's owner sets to keep cloudtrim's
// hands off it until a time: cloudtrim-skip-until=2026-12-01T09:00:00Z.
const SkipUntilTag = "cloudtrim-skip-until"

// Override is a self-service request to leave one resource alone until
// a time, kept in the lake beside the plans. Who and Why are recorded
// with every skip it causes; Kinds, when not empty, limits it to those
// action kinds.
type Override struct {
	Version    string       `json:"version,omitempty"`
	Cloud      Cloud        `json:"cloud"`
	ResourceID string       `json:"resource_id"`
	Until      time.Time    `json:"until"`
	Who        string       `json:"who"`
	Why        string       `json:"why"`
	Kinds      []ActionKind `json:"kinds,omitempty"`
}

// Validate reports a missing or malformed field.
func (o Override) Validate() error {
	switch {
	case o.Version != "" && o.Version != OverrideVersion:
		return fmt.Errorf("%w: override schema version %q (want %q)", ErrUnsupported, o.Version, OverrideVersion)
	case o.ResourceID == "":
		return fmt.Errorf("%w: override names no resource", ErrInvalid)
	case o.Until.IsZero():
		return fmt.Errorf("%w: override of %s has no until time", ErrInvalid, o.ResourceID)
	case strings.TrimSpace(o.Who) == "":
		return fmt.Errorf("%w: override of %s does not say who asked for it", ErrInvalid, o.ResourceID)
	}
	if _, err := ParseCloud(string(o.Cloud)); err != nil {
		return fmt.Errorf("override of %s: %w", o.ResourceID, err)
	}
	return nil
}

// Covers reports whether the override applies to an action of kind k
// at now: it has not expired and names k or no kind at all.
func (o Override) Covers(k ActionKind, now time.Time) bool {
	return now.Before(o.Until) && (len(o.Kinds) == 0 || slices.Contains(o.Kinds, k))
}

// SkipUntil reads the SkipUntilTag from tags (the key in any case). ok
// is false when the tag is absent; err is set when it is present but not
// an RFC 3339 time.
func SkipUntil(tags map[string]string) (until time.Time, ok bool, err error) {
	for k, v := range tags {
		if !strings.EqualFold(k, SkipUntilTag) {
			continue
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			return time.Time{}, true, fmt.Errorf("%w: tag %s=%q is not an RFC 3339 time", ErrInvalid, k, v)
		}
		return t, true, nil
	}
	return time.Time{}, false, nil
}
