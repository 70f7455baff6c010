package funcapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// PolicyKey is the lake key of the policy document; without it the
// default policy applies.
const PolicyKey = "config/policy.json"

// LoadPolicy reads the policy from the lake, or the default, with the
// opt-in tag a deployment sets (CLOUDTRIM_OPTIN_TAG) in place of the
// policy's when optInTag is not empty.
func LoadPolicy(ctx context.Context, l *lake.Lake, optInTag string) (domain.Policy, error) {
	pol := domain.DefaultPolicy()
	b, err := l.Get(ctx, PolicyKey)
	switch {
	case errors.Is(err, domain.ErrNotFound):
	case err != nil:
		return domain.Policy{}, fmt.Errorf("read policy %s: %w", PolicyKey, err)
	default:
		if pol, err = domain.ParsePolicy("lake "+PolicyKey, bytes.NewReader(b)); err != nil {
			return domain.Policy{}, err
		}
	}
	if optInTag != "" {
		pol.OptInTag = optInTag
		if err := pol.Validate(); err != nil {
			return domain.Policy{}, fmt.Errorf("CLOUDTRIM_OPTIN_TAG: %w", err)
		}
	}
	return pol, nil
}

// ParseApply reads CLOUDTRIM_APPLY: "true" lets the actuator change
// resources; "" and "false" keep it dry; anything else is refused.
func ParseApply(v string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("%w: CLOUDTRIM_APPLY=%q (want true or false)", domain.ErrInvalid, v)
}

// CheckReportURL checks CLOUDTRIM_REPORT_URL: empty, or an https URL
// without query or credentials.
func CheckReportURL(v string) error {
	if v == "" {
		return nil
	}
	if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%w: CLOUDTRIM_REPORT_URL=%q: want an https URL without query or credentials", domain.ErrInvalid, v)
	}
	return nil
}
