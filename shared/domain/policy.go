package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path"
	"strings"
	"time"
)

// PolicyVersion is the schema version of policy documents.
const PolicyVersion = "cloudtrim.policy/v1"

// Policy tells the optimizer what to look for and the actuator what it
// may touch. The zero values of its fields are replaced by defaults by
// DefaultPolicy and ParsePolicy.
type Policy struct {
	Version  string `json:"version"`
	Currency string `json:"currency"`

	// OptInTag is the tag key (with value "true") a resource must carry
	// for the actuator to change it. ProtectTags are tag keys that exclude
	// a resource from every action whatever their value; they always win.
	OptInTag    string   `json:"opt_in_tag"`
	ProtectTags []string `json:"protect_tags"`

	Rightsize RightsizePolicy `json:"rightsize"`
	Idle      IdlePolicy      `json:"idle"`
	Orphans   OrphanPolicy    `json:"orphans"`
	Schedules SchedulePolicy  `json:"schedules"`

	// MinMonthlySavings drops actions that save less than this (in
	// Currency units, e.g. 1.5).
	MinMonthlySavings float64 `json:"min_monthly_savings"`

	// Caps bound what one actuation run may change; both fail closed.
	Caps Caps `json:"caps"`

	// Approvals says who may approve what. Its zero value (the default)
	// lets anyone who can sign a request approve anything, with one
	// approver. It is left out of the JSON when zero, so policies without
	// it keep their hash.
	Approvals ApprovalPolicy `json:"approvals,omitzero"`
}

// ApprovalPolicy says who may approve which actions, and which actions
// need two people.
type ApprovalPolicy struct {
	// Rules grant approvers the right to decide (approve or reject)
	// actions; a decision is allowed when any rule allows it. No rules:
	// every authenticated approver may decide every action.
	Rules []ApprovalRule `json:"rules,omitempty"`
	// TwoPersonAbove is a monthly saving (in the policy currency, e.g.
	// 500) above which an action needs approvals from two distinct
	// approvers before it is queued. Zero turns the rule off.
	TwoPersonAbove float64 `json:"two_person_above,omitempty"`
}

// ApprovalRule allows the approvers it names to decide actions of the
// given kinds on the given accounts up to a monthly saving.
type ApprovalRule struct {
	// Approvers are identities or patterns: an exact identity
	// ("ops@example.com", "slack:T0123ABCD/U0456EFGH"), "*@example.com"
	// (anyone at that domain), "slack:T0123ABCD/*" (anyone in that Slack
	// workspace) or "*" (anyone). A wildcard never matches "@" or "/".
	Approvers []string `json:"approvers"`
	// Accounts are account, subscription or project IDs or path.Match
	// globs ("1234*"); empty means every account.
	Accounts []string `json:"accounts,omitempty"`
	// Kinds are the action kinds allowed; empty means every kind.
	Kinds []ActionKind `json:"kinds,omitempty"`
	// MaxMonthlySavings caps the monthly saving of an action the rule
	// allows (in the policy currency); zero means no cap.
	MaxMonthlySavings float64 `json:"max_monthly_savings,omitempty"`
}

// ValidApproverPattern reports why an approver pattern is malformed: it
// must be an identity without "*", or "*", or "*@domain", or end in "/*".
func ValidApproverPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty approver", ErrInvalid)
	case strings.TrimSpace(p) != p || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: approver %q holds spaces or control characters", ErrInvalid, p)
	case p == "*":
		return nil
	}
	n := strings.Count(p, "*")
	switch {
	case n == 0:
		return nil
	case n == 1 && strings.HasPrefix(p, "*@") && len(p) > 2 && !strings.Contains(p[2:], "@"):
		return nil
	case n == 1 && strings.HasSuffix(p, "/*") && len(p) > 2:
		return nil
	}
	return fmt.Errorf("%w: approver %q is neither an identity nor a pattern like *@example.com or slack:T0123ABCD/*", ErrInvalid, p)
}

func (a ApprovalPolicy) validate(bad func(field, format string, args ...any) error) error {
	if !approvalAmount(a.TwoPersonAbove) {
		return bad("approvals.two_person_above", "%v is not an amount between 0 and %g", a.TwoPersonAbove, maxApprovalAmount)
	}
	known := map[ActionKind]bool{}
	for _, k := range ActionKinds {
		known[k] = true
	}
	for i, r := range a.Rules {
		field := fmt.Sprintf("approvals.rules[%d]", i)
		if len(r.Approvers) == 0 {
			return bad(field+".approvers", "must name at least one approver")
		}
		for j, p := range r.Approvers {
			if err := ValidApproverPattern(p); err != nil {
				return fmt.Errorf("%s.approvers[%d]: %w", field, j, err)
			}
		}
		for j, g := range r.Accounts {
			if _, err := path.Match(g, ""); g == "" || err != nil {
				return bad(fmt.Sprintf("%s.accounts[%d]", field, j), "%q is not an account ID or glob", g)
			}
		}
		for j, k := range r.Kinds {
			if !known[k] {
				return bad(fmt.Sprintf("%s.kinds[%d]", field, j), "%q is not an action kind (want one of %v)", k, ActionKinds)
			}
		}
		if !approvalAmount(r.MaxMonthlySavings) {
			return bad(field+".max_monthly_savings", "%v is not an amount between 0 and %g", r.MaxMonthlySavings, maxApprovalAmount)
		}
	}
	return nil
}

// maxApprovalAmount bounds the amounts of the approval policy so that
// they convert to Money exactly.
const maxApprovalAmount = 1e12

func approvalAmount(v float64) bool {
	return v >= 0 && v <= maxApprovalAmount && !math.IsNaN(v)
}

// RightsizePolicy configures rightsizing.
type RightsizePolicy struct {
	Enabled          bool    `json:"enabled"`
	CPUPercentile    float64 `json:"cpu_percentile"`
	MemoryPercentile float64 `json:"memory_percentile"`
	// TargetCPUPercent and TargetMemoryPercent are the utilization the
	// chosen size should see at the chosen percentile; the gap to 100 % is
	// the headroom.
	TargetCPUPercent    float64 `json:"target_cpu_percent"`
	TargetMemoryPercent float64 `json:"target_memory_percent"`
	MinDataHours        float64 `json:"min_data_hours"`
	// MinConfidence drops resizes whose confidence (0..1, from how much
	// of the window was observed and whether memory was measured) is
	// lower.
	MinConfidence float64 `json:"min_confidence"`
}

// IdlePolicy configures idle shutdown.
type IdlePolicy struct {
	Enabled       bool    `json:"enabled"`
	CPUPercentile float64 `json:"cpu_percentile"`
	MaxCPUPercent float64 `json:"max_cpu_percent"`
	MinDays       float64 `json:"min_days"`
}

// OrphanPolicy configures orphan cleanup.
type OrphanPolicy struct {
	Enabled            bool    `json:"enabled"`
	MinDiskAgeDays     float64 `json:"min_disk_age_days"`
	SnapshotMaxAgeDays float64 `json:"snapshot_max_age_days"`
}

// SchedulePolicy configures off-hours schedules for non-production
// resources, recognised by a tag key and a set of values.
type SchedulePolicy struct {
	Enabled        bool     `json:"enabled"`
	EnvironmentTag string   `json:"environment_tag"`
	NonProdValues  []string `json:"non_prod_values"`
	Default        Schedule `json:"default"`
}

// Caps are blast-radius limits per actuation run.
type Caps struct {
	MaxActions int     `json:"max_actions"`
	MaxPercent float64 `json:"max_percent"`
}

// DefaultPolicy returns the policy used when none is given.
func DefaultPolicy() Policy {
	return Policy{
		Version:     PolicyVersion,
		Currency:    "USD",
		OptInTag:    "cloudtrim-optin",
		ProtectTags: []string{"cloudtrim-protect", "do-not-touch"},
		Rightsize: RightsizePolicy{Enabled: true, CPUPercentile: 95, MemoryPercentile: 99,
			TargetCPUPercent: 70, TargetMemoryPercent: 80, MinDataHours: 30, MinConfidence: 0.5},
		Idle:    IdlePolicy{Enabled: true, CPUPercentile: 95, MaxCPUPercent: 5, MinDays: 7},
		Orphans: OrphanPolicy{Enabled: true, MinDiskAgeDays: 7, SnapshotMaxAgeDays: 90},
		Schedules: SchedulePolicy{Enabled: true, EnvironmentTag: "env",
			NonProdValues: []string{"dev", "test", "qa", "staging", "sandbox"},
			Default:       Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}},
		MinMonthlySavings: 1,
		Caps:              Caps{MaxActions: 200, MaxPercent: 20},
	}
}

// ParsePolicy reads a policy document strictly: unknown fields, a wrong
// version and out-of-range values are errors naming the field. Fields
// left out take their default values.
func ParsePolicy(name string, r io.Reader) (Policy, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Policy{}, fmt.Errorf("read policy %s: %w", name, err)
	}
	p := DefaultPolicy()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: policy %s: %v", ErrInvalid, name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, fmt.Errorf("%w: policy %s: trailing data after the JSON object", ErrInvalid, name)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", name, err)
	}
	return p, nil
}

// Validate reports the first field of p that is out of range.
func (p Policy) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, a...))
	}
	pct := func(field string, v float64) error {
		if v <= 0 || v > 100 {
			return bad(field, "%v is not a percentage in (0, 100]", v)
		}
		return nil
	}
	if p.Version != PolicyVersion {
		return fmt.Errorf("%w: version %q is not supported (want %q)", ErrUnsupported, p.Version, PolicyVersion)
	}
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency {
		return bad("currency", "%q is not an ISO 4217 code", p.Currency)
	}
	if strings.TrimSpace(p.OptInTag) == "" {
		return bad("opt_in_tag", "must not be empty")
	}
	for _, check := range []struct {
		field string
		v     float64
	}{
		{"rightsize.cpu_percentile", p.Rightsize.CPUPercentile},
		{"rightsize.memory_percentile", p.Rightsize.MemoryPercentile},
		{"rightsize.target_cpu_percent", p.Rightsize.TargetCPUPercent},
		{"rightsize.target_memory_percent", p.Rightsize.TargetMemoryPercent},
		{"idle.cpu_percentile", p.Idle.CPUPercentile},
		{"idle.max_cpu_percent", p.Idle.MaxCPUPercent},
		{"caps.max_percent", p.Caps.MaxPercent},
	} {
		if err := pct(check.field, check.v); err != nil {
			return err
		}
	}
	if p.Rightsize.MinDataHours < 1 {
		return bad("rightsize.min_data_hours", "%v is below 1 hour", p.Rightsize.MinDataHours)
	}
	if p.Rightsize.MinConfidence < 0 || p.Rightsize.MinConfidence > 1 {
		return bad("rightsize.min_confidence", "%v is outside 0..1", p.Rightsize.MinConfidence)
	}
	if p.Idle.MinDays <= 0 {
		return bad("idle.min_days", "%v is not positive", p.Idle.MinDays)
	}
	if p.Orphans.MinDiskAgeDays < 0 || p.Orphans.SnapshotMaxAgeDays <= 0 {
		return bad("orphans", "ages must be positive")
	}
	if p.MinMonthlySavings < 0 {
		return bad("min_monthly_savings", "%v is negative", p.MinMonthlySavings)
	}
	if p.Caps.MaxActions < 0 {
		return bad("caps.max_actions", "%d is negative", p.Caps.MaxActions)
	}
	if err := p.Approvals.validate(bad); err != nil {
		return err
	}
	if p.Schedules.Enabled {
		if p.Schedules.EnvironmentTag == "" {
			return bad("schedules.environment_tag", "must not be empty")
		}
		if err := p.Schedules.Default.Validate(); err != nil {
			return fmt.Errorf("schedules.default: %w", err)
		}
	}
	return nil
}

// Protected reports whether tags carry one of the policy's protection
// tags, and which.
func (p Policy) Protected(tags map[string]string) (string, bool) {
	for _, k := range p.ProtectTags {
		for tk := range tags {
			if strings.EqualFold(tk, k) {
				return tk, true
			}
		}
	}
	return "", false
}

// OptedIn reports whether tags carry the opt-in tag with value "true".
func (p Policy) OptedIn(tags map[string]string) bool {
	for k, v := range tags {
		if strings.EqualFold(k, p.OptInTag) && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// Hash returns a stable digest of the policy, recorded in each plan.
func (p Policy) Hash() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Schedule is a weekly running window in a time zone: the resource runs
// on Days between Start and Stop (local time) and is stopped otherwise.
type Schedule struct {
	TimeZone string `json:"time_zone"`
	Days     string `json:"days"`  // "Mon-Fri", "Mon,Wed,Fri", "Sat-Sun"
	Start    string `json:"start"` // "08:00"
	Stop     string `json:"stop"`  // "20:00"
}

// Validate reports a malformed schedule.
func (s Schedule) Validate() error {
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		return fmt.Errorf("%w: time zone %q: %v", ErrInvalid, s.TimeZone, err)
	}
	if _, err := s.days(); err != nil {
		return err
	}
	start, err := clock(s.Start)
	if err != nil {
		return err
	}
	stop, err := clock(s.Stop)
	if err != nil {
		return err
	}
	if stop <= start {
		return fmt.Errorf("%w: stop %s is not after start %s", ErrInvalid, s.Stop, s.Start)
	}
	return nil
}

// Running reports whether the schedule wants the resource running at t.
func (s Schedule) Running(t time.Time) bool {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return true // an invalid schedule never stops anything
	}
	days, err := s.days()
	if err != nil {
		return true
	}
	start, err1 := clock(s.Start)
	stop, err2 := clock(s.Stop)
	if err1 != nil || err2 != nil || stop <= start {
		return true
	}
	lt := t.In(loc)
	if !days[lt.Weekday()] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= start && m < stop
}

// RunningFraction returns the share of a week the schedule keeps a
// resource running.
func (s Schedule) RunningFraction() float64 {
	if s.Validate() != nil {
		return 1 // an invalid schedule never stops anything
	}
	days, _ := s.days()
	start, _ := clock(s.Start)
	stop, _ := clock(s.Stop)
	n := 0
	for _, on := range days {
		if on {
			n++
		}
	}
	return float64(n*(stop-start)) / float64(7*24*60)
}

func (s Schedule) String() string {
	return fmt.Sprintf("%s %s-%s %s", s.Days, s.Start, s.Stop, s.TimeZone)
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func (s Schedule) days() ([7]bool, error) {
	var out [7]bool
	if strings.TrimSpace(s.Days) == "" {
		return out, fmt.Errorf("%w: schedule days are empty", ErrInvalid)
	}
	for _, part := range strings.Split(s.Days, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := weekdays[a]
		to := from
		ok2 := true
		if isRange {
			to, ok2 = weekdays[b]
		}
		if !ok1 || !ok2 {
			return out, fmt.Errorf("%w: schedule days %q: %q is not a day or a range like Mon-Fri", ErrInvalid, s.Days, part)
		}
		for d := from; ; d = (d + 1) % 7 {
			out[d] = true
			if d == to {
				break
			}
		}
	}
	return out, nil
}

func clock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%w: time of day %q is not HH:MM", ErrInvalid, s)
	}
	return t.Hour()*60 + t.Minute(), nil
}
