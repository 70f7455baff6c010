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
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/holiday"
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
	// Storage configures disk type changes; Commitments the advisory
	// commitment purchases (savings plans, reservations, committed use).
	Storage     StoragePolicy    `json:"storage,omitzero"`
	Commitments CommitmentPolicy `json:"commitments,omitzero"`

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

	// Placement configures the advisory placement variants: where the
	// movable workloads could run instead, across clouds, regions and
	// instance types. A policy whose placement section is the default
	// keeps the hash it had before the section existed (see Hash).
	Placement PlacementPolicy `json:"placement"`
}

// PlacementPolicy says which VMs may move and under which rules the
// optimizer looks for cheaper or faster places for them. Moving is never
// assumed: only a VM that carries an explicit marker (MovableTag set to
// "true", or a tag matching one of Movable) is a workload. The plan's
// placement variants are advisory; they never become actions.
type PlacementPolicy struct {
	Enabled bool `json:"enabled"`
	// MovableTag is a tag key: a VM whose tag of that key (compared
	// without case) reads "true" may move. Empty: no tag key marks VMs.
	MovableTag string `json:"movable_tag"`
	// Movable lists further markers: a VM carrying any of these tags
	// with that value (both compared without case) may move.
	Movable []TagSelector `json:"movable,omitempty"`
	// MaxMovePercent caps how many of the movable workloads one variant
	// moves, as a percentage (0-100) rounded down: 20 % of 12 is 2.
	MaxMovePercent float64 `json:"max_move_percent"`
	// Clouds and Regions are a compliance allow-list of where workloads
	// may run; empty means every cloud, or every region the price
	// catalog and the placement model know. A workload that runs outside
	// the allow-list today must move in every variant.
	Clouds  []Cloud  `json:"clouds,omitempty"`
	Regions []string `json:"regions,omitempty"`
	// SameContinent keeps each workload on the continent it runs on now
	// (data residency).
	SameContinent bool `json:"same_continent,omitempty"`
	// MaxLatencyMS, when positive, bounds the estimated round trip
	// between a workload's current region and its new one, where its
	// users are assumed to be.
	MaxLatencyMS float64 `json:"max_latency_ms,omitempty"`
	// MaxVCPUsPerLocation, when positive, is the quota of vCPUs the
	// variants may add to one instance type in one region, beyond those
	// of the movable workloads that run there now; zero means no limit.
	MaxVCPUsPerLocation float64 `json:"max_vcpus_per_location,omitempty"`
	// AmortizeMonths spreads the one-off cost of copying a workload's
	// data over this many months when the solver weighs a move.
	AmortizeMonths float64 `json:"amortize_months"`
	// TimeLimitSeconds bounds the solver's wall time for all variants;
	// GapTarget stops it once the proven relative gap is at most this
	// (0.0001 is 0.01 %).
	TimeLimitSeconds float64 `json:"time_limit_seconds"`
	GapTarget        float64 `json:"gap_target"`
}

// TagSelector matches the resources that carry tag Key with value Value.
type TagSelector struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s TagSelector) String() string { return s.Key + "=" + s.Value }

// DefaultPlacementPolicy returns the placement section of the default
// policy: enabled, with the tag cloudtrim-movable=true as the only
// marker, so that nothing moves until someone tags it.
func DefaultPlacementPolicy() PlacementPolicy {
	return PlacementPolicy{Enabled: true, MovableTag: "cloudtrim-movable", MaxMovePercent: 20,
		AmortizeMonths: 12, TimeLimitSeconds: 10, GapTarget: 1e-4}
}

// Limits of the placement section.
const (
	maxAmortizeMonths   = 120
	maxPlacementSeconds = 900 // the longest a Lambda function runs
)

func (pp PlacementPolicy) validate(bad func(field, format string, args ...any) error) error {
	if !pp.Enabled {
		return nil
	}
	if k := pp.MovableTag; k != strings.TrimSpace(k) {
		return bad("placement.movable_tag", "%q has surrounding spaces", k)
	}
	for i, s := range pp.Movable {
		field := fmt.Sprintf("placement.movable[%d]", i)
		if strings.TrimSpace(s.Key) == "" || strings.TrimSpace(s.Value) == "" {
			return bad(field, "needs both a key and a value, got %q=%q", s.Key, s.Value)
		}
	}
	if !(pp.MaxMovePercent >= 0 && pp.MaxMovePercent <= 100) {
		return bad("placement.max_move_percent", "%v is not a percentage in 0..100", pp.MaxMovePercent)
	}
	for i, c := range pp.Clouds {
		if pc, err := ParseCloud(string(c)); err != nil || pc != c {
			return bad(fmt.Sprintf("placement.clouds[%d]", i), "%q is not a cloud (want one of %v)", c, Clouds)
		}
	}
	for i, r := range pp.Regions {
		if r == "" || r != strings.TrimSpace(r) || strings.ContainsAny(r, " \t/") {
			return bad(fmt.Sprintf("placement.regions[%d]", i), "%q is not a region name", r)
		}
	}
	if !(pp.MaxLatencyMS >= 0) || math.IsInf(pp.MaxLatencyMS, 0) {
		return bad("placement.max_latency_ms", "%v is not a duration of at least 0 ms", pp.MaxLatencyMS)
	}
	if !(pp.MaxVCPUsPerLocation >= 0) || math.IsInf(pp.MaxVCPUsPerLocation, 0) {
		return bad("placement.max_vcpus_per_location", "%v is not a number of vCPUs of at least 0", pp.MaxVCPUsPerLocation)
	}
	if !(pp.AmortizeMonths > 0 && pp.AmortizeMonths <= maxAmortizeMonths) {
		return bad("placement.amortize_months", "%v is not a number of months in (0, %d]", pp.AmortizeMonths, maxAmortizeMonths)
	}
	if !(pp.TimeLimitSeconds > 0 && pp.TimeLimitSeconds <= maxPlacementSeconds) {
		return bad("placement.time_limit_seconds", "%v is not a number of seconds in (0, %d]", pp.TimeLimitSeconds, maxPlacementSeconds)
	}
	if !(pp.GapTarget > 0 && pp.GapTarget < 1) {
		return bad("placement.gap_target", "%v is not a relative gap in (0, 1)", pp.GapTarget)
	}
	return nil
}

// MovableBy returns the marker that makes a VM with tags movable
// ("cloudtrim-movable=true", "team=data"), and false when none does.
// When several match, MovableTag wins, then the first of Movable, so
// the answer does not depend on map order.
func (pp PlacementPolicy) MovableBy(tags map[string]string) (string, bool) {
	if pp.MovableTag != "" {
		for k, v := range tags {
			if strings.EqualFold(k, pp.MovableTag) && strings.EqualFold(strings.TrimSpace(v), "true") {
				return pp.MovableTag + "=true", true
			}
		}
	}
	for _, s := range pp.Movable {
		for k, v := range tags {
			if strings.EqualFold(k, s.Key) && strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(s.Value)) {
				return s.String(), true
			}
		}
	}
	return "", false
}

// Markers describes what marks a VM movable, for messages: "tag
// cloudtrim-movable=true or team=data", or "" when nothing does.
func (pp PlacementPolicy) Markers() string {
	var ms []string
	if pp.MovableTag != "" {
		ms = append(ms, pp.MovableTag+"=true")
	}
	for _, s := range pp.Movable {
		ms = append(ms, s.String())
	}
	if len(ms) == 0 {
		return ""
	}
	return "tag " + strings.Join(ms, " or ")
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
	// StableRuns is the stability gate: a resize is proposed only when
	// the same new size is chosen on the windows of this many
	// consecutive runs, RunIntervalHours apart (the current window and
	// the ones ending one, two, ... intervals earlier), each with enough
	// data. 1 turns the gate off.
	StableRuns       int     `json:"stable_runs,omitzero"`
	RunIntervalHours float64 `json:"run_interval_hours,omitzero"`
	// SameFamily keeps a resize within the VM's family (m5 stays m5);
	// otherwise a cheaper family of the same architecture may be chosen
	// when no size of its own family fits.
	SameFamily bool `json:"same_family,omitempty"`
}

// StoragePolicy configures disk type downgrades and object storage
// class changes.
type StoragePolicy struct {
	Enabled bool `json:"enabled"`
	// MaxThroughputPercent is the share of the cheaper type's baseline
	// throughput the observed p99 may use; the rest is headroom.
	MaxThroughputPercent float64 `json:"max_throughput_percent"`
	// Tiering configures lifecycle transitions of buckets to cheaper
	// storage classes.
	Tiering TieringPolicy `json:"tiering"`
}

// TieringPolicy configures object storage class changes: a lifecycle
// rule moving a bucket's objects older than AfterDays from its hot class
// to the cheaper online class that its observed reads make cheapest.
type TieringPolicy struct {
	Enabled bool `json:"enabled"`
	// AfterDays is the age at which objects move (30).
	AfterDays int `json:"after_days"`
	// MinDays is how many days of stored-bytes and read-request metrics a
	// bucket needs before a change is proposed (7): without them its
	// access pattern is not known.
	MinDays int `json:"min_days"`
	// AmortizeMonths spreads the one-off transition charges over this
	// many months of savings (12).
	AmortizeMonths int `json:"amortize_months"`
	// MaxShrinkPercent: a bucket whose hot bytes fell by more than this
	// over the window deletes objects, and moved objects deleted before
	// the cheaper class's minimum duration are charged for the rest of
	// it; such a bucket is left alone (5).
	MaxShrinkPercent float64 `json:"max_shrink_percent"`
}

// CommitmentPolicy configures the advisory commitment purchases made
// from the steady baseline of VM usage left after the plan's actions.
type CommitmentPolicy struct {
	Enabled bool `json:"enabled"`
	// TermMonths are the terms compared (12 and 36).
	TermMonths []int `json:"term_months"`
	// LadderSteps splits a recommended commitment into this many equal
	// purchases, LadderIntervalMonths apart, each re-checked against the
	// baseline of its day before it is made.
	LadderSteps          int `json:"ladder_steps"`
	LadderIntervalMonths int `json:"ladder_interval_months"`
	// MinUtilizationPercent refuses a commitment whose expected
	// utilization over the observed hours is lower.
	MinUtilizationPercent float64 `json:"min_utilization_percent"`
	// Discounts are negotiated or published rates that override or fill
	// in the embedded catalog's, per cloud, optional family ("" for
	// every family) and term.
	Discounts []CommitmentDiscount `json:"discounts,omitempty"`
}

// CommitmentDiscount is a known commitment rate: Percent off the
// on-demand price for TermMonths.
type CommitmentDiscount struct {
	Cloud      Cloud   `json:"cloud"`
	Family     string  `json:"family,omitempty"`
	TermMonths int     `json:"term_months"`
	Percent    float64 `json:"percent"`
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
	// Default is the schedule of a VM whose CPU series shows no weekly
	// running window. Otherwise the optimizer proposes the window the
	// series shows (the smallest weekly window holding 98 % of its busy
	// hours, an hour of margin each side), unless FixedOnly is set.
	Default   Schedule `json:"default"`
	FixedOnly bool     `json:"fixed_only,omitempty"`
}

// HolidaysTag is the tag that names the public holiday calendar of a
// scheduled VM (cloudtrim-holidays=FR), overriding the policy's.
const HolidaysTag = "cloudtrim-holidays"

func (c CommitmentPolicy) validate(bad func(field, format string, args ...any) error) error {
	if !c.Enabled {
		return nil
	}
	if len(c.TermMonths) == 0 {
		return bad("commitments.term_months", "must name at least one term")
	}
	seen := map[int]bool{}
	for i, t := range c.TermMonths {
		if t != 12 && t != 36 {
			return bad(fmt.Sprintf("commitments.term_months[%d]", i), "%d is not a term the clouds sell (12 or 36)", t)
		}
		if seen[t] {
			return bad(fmt.Sprintf("commitments.term_months[%d]", i), "%d is listed twice", t)
		}
		seen[t] = true
	}
	if c.LadderSteps < 1 || c.LadderSteps > 12 {
		return bad("commitments.ladder_steps", "%d is not a number of purchases in 1..12", c.LadderSteps)
	}
	if c.LadderIntervalMonths < 1 || c.LadderIntervalMonths > 12 {
		return bad("commitments.ladder_interval_months", "%d is not a number of months in 1..12", c.LadderIntervalMonths)
	}
	if !(c.MinUtilizationPercent >= 0 && c.MinUtilizationPercent <= 100) {
		return bad("commitments.min_utilization_percent", "%v is not a percentage in 0..100", c.MinUtilizationPercent)
	}
	type key struct {
		cloud  Cloud
		family string
		term   int
	}
	dup := map[key]int{}
	for i, d := range c.Discounts {
		field := fmt.Sprintf("commitments.discounts[%d]", i)
		if pc, err := ParseCloud(string(d.Cloud)); err != nil || pc != d.Cloud {
			return bad(field+".cloud", "%q is not a cloud (want one of %v)", d.Cloud, Clouds)
		}
		if d.TermMonths != 12 && d.TermMonths != 36 {
			return bad(field+".term_months", "%d is not a term the clouds sell (12 or 36)", d.TermMonths)
		}
		if !(d.Percent > 0 && d.Percent < 100) {
			return bad(field+".percent", "%v is not a discount in (0, 100)", d.Percent)
		}
		k := key{d.Cloud, strings.ToLower(d.Family), d.TermMonths}
		if j, ok := dup[k]; ok {
			return bad(field, "contradicts commitments.discounts[%d]: both give a rate for %s family %q over %d months", j, d.Cloud, d.Family, d.TermMonths)
		}
		dup[k] = i
	}
	return nil
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
			TargetCPUPercent: 70, TargetMemoryPercent: 80, MinDataHours: 30, MinConfidence: 0.5,
			StableRuns: 3, RunIntervalHours: 24},
		Storage: StoragePolicy{Enabled: true, MaxThroughputPercent: 80,
			Tiering: TieringPolicy{Enabled: true, AfterDays: 30, MinDays: 7, AmortizeMonths: 12, MaxShrinkPercent: 5}},
		Commitments: CommitmentPolicy{Enabled: true, TermMonths: []int{12, 36}, LadderSteps: 3,
			LadderIntervalMonths: 1, MinUtilizationPercent: 90},
		Idle:    IdlePolicy{Enabled: true, CPUPercentile: 95, MaxCPUPercent: 5, MinDays: 7},
		Orphans: OrphanPolicy{Enabled: true, MinDiskAgeDays: 7, SnapshotMaxAgeDays: 90},
		Schedules: SchedulePolicy{Enabled: true, EnvironmentTag: "env",
			NonProdValues: []string{"dev", "test", "qa", "staging", "sandbox"},
			Default:       Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}},
		MinMonthlySavings: 1,
		Caps:              Caps{MaxActions: 200, MaxPercent: 20},
		Placement:         DefaultPlacementPolicy(),
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
	if p.Rightsize.StableRuns < 1 || p.Rightsize.StableRuns > 30 {
		return bad("rightsize.stable_runs", "%d is not a number of runs in 1..30", p.Rightsize.StableRuns)
	}
	if !(p.Rightsize.RunIntervalHours >= 1 && p.Rightsize.RunIntervalHours <= 24*7) {
		return bad("rightsize.run_interval_hours", "%v is not a number of hours in 1..168", p.Rightsize.RunIntervalHours)
	}
	if err := pct("storage.max_throughput_percent", p.Storage.MaxThroughputPercent); err != nil {
		return err
	}
	if t := p.Storage.Tiering; t.Enabled {
		switch {
		case t.AfterDays < 1 || t.AfterDays > 3650:
			return bad("storage.tiering.after_days", "%d is not a number of days in 1..3650", t.AfterDays)
		case t.MinDays < 1 || t.MinDays > 90:
			return bad("storage.tiering.min_days", "%d is not a number of days in 1..90", t.MinDays)
		case t.AmortizeMonths < 1 || t.AmortizeMonths > 60:
			return bad("storage.tiering.amortize_months", "%d is not a number of months in 1..60", t.AmortizeMonths)
		}
		if err := pct("storage.tiering.max_shrink_percent", t.MaxShrinkPercent); err != nil {
			return err
		}
	}
	if err := p.Commitments.validate(bad); err != nil {
		return err
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
	if err := p.Placement.validate(bad); err != nil {
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
// Every field counts, except that sections and fields added after the
// first version of the schema are left out while they equal their
// defaults: the placement, storage and commitments sections, and the
// rightsize section's stability gate and family rule. Policies written
// before those existed keep their hash.
func (p Policy) Hash() string {
	// policyFields has Policy's fields without its methods; the outer
	// Placement field shadows the embedded one in the JSON.
	type policyFields Policy
	def := DefaultPolicy()
	q := p
	if q.Rightsize.StableRuns == def.Rightsize.StableRuns && q.Rightsize.RunIntervalHours == def.Rightsize.RunIntervalHours {
		q.Rightsize.StableRuns, q.Rightsize.RunIntervalHours = 0, 0 // omitzero
	}
	if sameJSON(q.Storage, def.Storage) {
		q.Storage = StoragePolicy{}
	}
	if sameJSON(q.Commitments, def.Commitments) {
		q.Commitments = CommitmentPolicy{}
	}
	v := struct {
		policyFields
		Placement *PlacementPolicy `json:"placement,omitempty"`
	}{policyFields: policyFields(q)}
	if !p.Placement.isDefault() {
		v.Placement = &p.Placement
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// sameJSON reports whether a and b have the same JSON, so that an empty
// list equals a missing one.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// isDefault reports whether pp says what DefaultPlacementPolicy says;
// lists compare by their JSON, so an empty list equals a missing one.
func (pp PlacementPolicy) isDefault() bool {
	a, _ := json.Marshal(pp)
	b, _ := json.Marshal(DefaultPlacementPolicy())
	return bytes.Equal(a, b)
}

// zones caches the time zones schedules name: time.LoadLocation reads
// the zone database on every call (tens of microseconds), and a
// schedule is asked about every hour of a window. Only zones that load
// are kept, so the cache is bounded by the database.
var zones sync.Map // name → *time.Location

func loadZone(name string) (*time.Location, error) {
	if v, ok := zones.Load(name); ok {
		return v.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// Schedule is a weekly running window in a time zone: the resource runs
// on Days between Start and Stop (local time) and is stopped otherwise.
type Schedule struct {
	TimeZone string `json:"time_zone"`
	Days     string `json:"days"`  // "Mon-Fri", "Mon,Wed,Fri", "Sat-Sun"
	Start    string `json:"start"` // "08:00"
	Stop     string `json:"stop"`  // "20:00"
	// Holidays names a public holiday calendar (an ISO 3166 country
	// code such as "US" or "FR", see holiday.Calendars): on its holidays
	// the resource stays stopped all day. Empty: no holidays.
	Holidays string `json:"holidays,omitempty"`
}

// Validate reports a malformed schedule.
func (s Schedule) Validate() error {
	if _, err := loadZone(s.TimeZone); err != nil {
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
	if s.Holidays != "" {
		if _, err := holiday.Holidays(s.Holidays, 2026); err != nil {
			return fmt.Errorf("%w: schedule holidays: %v", ErrInvalid, err)
		}
	}
	return nil
}

// Running reports whether the schedule wants the resource running at t.
func (s Schedule) Running(t time.Time) bool {
	loc, err := loadZone(s.TimeZone)
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
	if s.Holidays != "" {
		if _, off := holiday.On(s.Holidays, lt); off {
			return false
		}
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
	n := 0
	for _, on := range days {
		if on {
			n++
		}
	}
	return float64(n*s.DayMinutes()) / float64(7*24*60)
}

// DayMinutes returns how long the schedule keeps a resource running on
// each of its days, in minutes; 0 for a malformed schedule.
func (s Schedule) DayMinutes() int {
	start, err1 := clock(s.Start)
	stop, err2 := clock(s.Stop)
	if err1 != nil || err2 != nil || stop <= start {
		return 0
	}
	return stop - start
}

func (s Schedule) String() string {
	if s.Holidays != "" {
		return fmt.Sprintf("%s %s-%s %s, off on %s holidays", s.Days, s.Start, s.Stop, s.TimeZone, s.Holidays)
	}
	return fmt.Sprintf("%s %s-%s %s", s.Days, s.Start, s.Stop, s.TimeZone)
}

// HolidaysOff returns how many of the schedule's running days in the
// year before now are holidays of its calendar: days it stays off.
func (s Schedule) HolidaysOff(now time.Time) int {
	if s.Holidays == "" || s.Validate() != nil {
		return 0
	}
	loc, _ := loadZone(s.TimeZone)
	days, _ := s.days()
	from := now.In(loc).AddDate(-1, 0, 0)
	n := 0
	for y := from.Year(); y <= now.In(loc).Year(); y++ {
		hs, err := holiday.Holidays(s.Holidays, y)
		if err != nil {
			continue
		}
		seen := map[holiday.Date]bool{}
		for _, h := range hs {
			t := h.Date.In(loc)
			if seen[h.Date] || t.Before(from) || !t.Before(now) || !days[t.Weekday()] {
				continue
			}
			seen[h.Date] = true
			n++
		}
	}
	return n
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
