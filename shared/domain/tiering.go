package domain

import (
	"fmt"
	"strconv"
	"strings"
)

// Values of Resource.Tiering besides a TierRule.
const (
	// TieringNone is a bucket whose lifecycle configuration moves no
	// object to another class.
	TieringNone = "none"
	// TieringCustom is a bucket whose lifecycle configuration already
	// moves objects by rules cloudtrim did not set (or by Autoclass,
	// Intelligent-Tiering as the default class): its owners manage it.
	TieringCustom = "custom"
)

// TierRuleID names the lifecycle rule cloudtrim sets on a bucket.
// Providers keep every other rule of the bucket as it is.
const TierRuleID = "cloudtrim-tiering"

// TierRule is the lifecycle transition cloudtrim sets on a bucket:
// objects of the bucket's hot class older than AfterDays move to Class
// (the cloud's name: STANDARD_IA, NEARLINE, Cool).
type TierRule struct {
	Class     string `json:"class"`
	AfterDays int    `json:"after_days"`
}

// String is the rule as Resource.Tiering holds it: "CLASS@30d".
func (t TierRule) String() string {
	return t.Class + "@" + strconv.Itoa(t.AfterDays) + "d"
}

// IsZero reports whether t is no rule (the removal of cloudtrim's rule).
func (t TierRule) IsZero() bool { return t == TierRule{} }

// ParseTierRule reads the form String writes.
func ParseTierRule(s string) (TierRule, error) {
	class, days, ok := strings.Cut(s, "@")
	n, err := strconv.Atoi(strings.TrimSuffix(days, "d"))
	switch {
	case !ok || !strings.HasSuffix(days, "d") || err != nil:
		return TierRule{}, fmt.Errorf("%w: tiering %q: want CLASS@<days>d", ErrInvalid, s)
	case class == "" || strings.ContainsAny(class, " @"):
		return TierRule{}, fmt.Errorf("%w: tiering %q: no storage class", ErrInvalid, s)
	case n < 0 || n > 36500:
		return TierRule{}, fmt.Errorf("%w: tiering %q: %d days is out of range 0 to 36500", ErrInvalid, s, n)
	}
	return TierRule{Class: class, AfterDays: n}, nil
}
