package domain

import (
	"fmt"
	"strings"
	"time"
)

// Schema versions of the actuation safety documents.
const (
	KillSwitchVersion = "cloudtrim.kill-switch/v1"
	BreakerVersion    = "cloudtrim.breaker/v1"
)

// Audit event types of the actuation safety controls.
const (
	// AuditDeferred records a message left for later because the kill
	// switch is engaged or a circuit breaker is open.
	AuditDeferred AuditType = "deferred"
	// AuditBreakerOpen records a circuit breaker opening after
	// consecutive failed applies.
	AuditBreakerOpen AuditType = "breaker_open"
	// AuditBreakerReset records a success closing an open breaker.
	AuditBreakerReset AuditType = "breaker_reset"
)

// KillSwitch is the document that stops all actuation at once while
// Engaged. Operators write it by hand, so Version may be empty.
type KillSwitch struct {
	Version string    `json:"version,omitempty"`
	Engaged bool      `json:"engaged"`
	By      string    `json:"by,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// String says who engaged the switch, when and why.
func (k KillSwitch) String() string {
	var b strings.Builder
	b.WriteString("kill switch engaged")
	if k.By != "" {
		b.WriteString(" by " + k.By)
	}
	if !k.At.IsZero() {
		b.WriteString(" at " + k.At.UTC().Format(time.RFC3339))
	}
	if k.Reason != "" {
		b.WriteString(": " + k.Reason)
	}
	return b.String()
}

// Breaker is one version of a circuit breaker's state: the failed
// applies in a row on one cloud and, once they reached the threshold,
// the time until which no change is applied. Seq grows by one on every
// version; 0 is a breaker that never moved.
type Breaker struct {
	Version  string `json:"version"`
	Cloud    Cloud  `json:"cloud"`
	Seq      int64  `json:"seq"`
	Failures int    `json:"failures"`
	// OpenUntil is the end of the cool-down; zero when the breaker never
	// opened since the last success.
	OpenUntil time.Time `json:"open_until,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Worker    string    `json:"worker,omitempty"`
	At        time.Time `json:"at,omitzero"`
}

// Open reports whether the breaker stops changes at now.
func (b Breaker) Open(now time.Time) bool { return now.Before(b.OpenUntil) }

// Coverage is what the snapshots a plan was made from say about how
// completely the inventory was read. A zero Coverage is unknown.
type Coverage struct {
	// Known is true when every snapshot the plan names was found and
	// matched its checksum.
	Known bool `json:"known"`
	// Resources counts the resources the snapshots hold.
	Resources int `json:"resources"`
	// Scopes lists the account and region pairs whose inventory was read
	// completely.
	Scopes []ScopeRef `json:"scopes,omitempty"`
	// Gaps lists the scopes whose inventory was not read completely, with
	// the collector's error.
	Gaps []ScopeGap `json:"gaps,omitempty"`
}

// ScopeRef names one account and region of one cloud.
type ScopeRef struct {
	Cloud   Cloud  `json:"cloud"`
	Account string `json:"account"`
	Region  string `json:"region"`
}

func (s ScopeRef) String() string { return fmt.Sprintf("%s/%s/%s", s.Cloud, s.Account, s.Region) }

// ScopeGap is a scope whose inventory was failed or partial.
type ScopeGap struct {
	ScopeRef
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Complete reports whether the whole inventory was read.
func (c Coverage) Complete() bool { return c.Known && len(c.Gaps) == 0 }

// Refusal returns why no change may be made to a resource in ref's
// scope under this coverage, or "" when it may: the coverage is unknown,
// the scope's inventory was not read completely, or the scope is not in
// the inventory at all.
func (c Coverage) Refusal(ref ResourceRef) string {
	if !c.Known {
		return "the plan's inventory coverage is unknown"
	}
	want := ScopeRef{Cloud: ref.Cloud, Account: ref.Account, Region: ref.Region}
	for _, g := range c.Gaps {
		if g.ScopeRef == want || (g.Cloud == ref.Cloud && g.Account == ref.Account && g.Region == "") {
			msg := "the inventory of scope " + g.ScopeRef.String() + " was " + g.Status
			if g.Error != "" {
				msg += " (" + g.Error + ")"
			}
			return msg
		}
	}
	for _, s := range c.Scopes {
		if s == want {
			return ""
		}
	}
	return "scope " + want.String() + " is not in the plan's inventory"
}

// Audit event types of the kill switch: who engaged or released it, when
// and why.
const (
	AuditKillSwitchOn  AuditType = "kill_switch_on"
	AuditKillSwitchOff AuditType = "kill_switch_off"
)
