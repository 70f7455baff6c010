package actuate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Defaults of the circuit breaker.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerCoolDown  = 15 * time.Minute
)

// Environment variables a host reads into Actuator.BreakerThreshold and
// Actuator.BreakerCoolDown (see BreakerFromEnv).
const (
	BreakerThresholdEnv = "CLOUDTRIM_BREAKER_THRESHOLD"
	BreakerCoolDownEnv  = "CLOUDTRIM_BREAKER_COOLDOWN"
)

// BreakerFromEnv reads the circuit breaker's settings: the number of
// consecutive failed applies on one cloud that opens it (1 to 1000) and
// how long it stays open (a Go duration from 1m to 24h). Unset values
// are zero, which the Actuator reads as its defaults. A value out of
// range or unreadable is domain.ErrInvalid naming the variable: a host
// refuses to start rather than run with a breaker it was not given.
func BreakerFromEnv(getenv func(string) string) (threshold int, coolDown time.Duration, err error) {
	if v := strings.TrimSpace(getenv(BreakerThresholdEnv)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, 0, fmt.Errorf("%w: %s=%q: want a whole number of failures from 1 to 1000", domain.ErrInvalid, BreakerThresholdEnv, v)
		}
		threshold = n
	}
	if v := strings.TrimSpace(getenv(BreakerCoolDownEnv)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			return 0, 0, fmt.Errorf("%w: %s=%q: want a duration from 1m to 24h (for example 15m)", domain.ErrInvalid, BreakerCoolDownEnv, v)
		}
		coolDown = d
	}
	return threshold, coolDown, nil
}

// KillSwitchEnv is the environment variable a host reads into
// Actuator.KillSwitch; the core never reads the environment itself.
const KillSwitchEnv = "CLOUDTRIM_KILL_SWITCH"

// KillSwitchEngaged interprets a value of KillSwitchEnv. Empty, "0" and
// "false" are off; anything else ("1", "true", or a typo) is engaged,
// failing closed.
func KillSwitchEngaged(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false":
		return false
	}
	return true
}

// ErrStopped is what a host reports when it stopped taking messages
// because one was deferred: the kill switch is engaged or a circuit
// breaker is open.
var ErrStopped = errors.New("actuation stopped")

// deferral is the error that stops an action for the kill switch or an
// open breaker; its message is the reason.
type deferral struct{ reason string }

func (d *deferral) Error() string { return d.reason }

// killSwitch returns why the kill switch stops actuation, "" when it
// does not: the host's flag, then the lake's document. An unreadable
// document counts as engaged.
func (a *Actuator) killSwitch(ctx context.Context) string {
	if a.KillSwitch {
		return "kill switch engaged by the host's environment (CLOUDTRIM_KILL_SWITCH)"
	}
	ks, err := a.Records.KillSwitch(ctx)
	switch {
	case err != nil:
		return "kill switch state cannot be read, so it counts as engaged: " + err.Error()
	case ks.Engaged:
		return ks.String()
	}
	return ""
}

// halted checks the kill switch. When it stops act, the deferral is
// audited and the Defer result returned.
func (a *Actuator) halted(ctx context.Context, act domain.Action) (Result, bool) {
	reason := a.killSwitch(ctx)
	if reason == "" {
		return Result{}, false
	}
	return a.deferred(ctx, act, reason), true
}

// deferred audits that act is left for later and returns the result.
func (a *Actuator) deferred(ctx context.Context, act domain.Action, reason string) Result {
	a.auditDeferral(ctx, act, reason)
	return Result{PlanID: act.PlanID, ActionID: act.ID, Disposition: Defer, Reason: reason}
}

// auditDeferral records why act was not applied now. A failure to write
// it is logged: the message is deferred all the same, which is the safe
// side.
func (a *Actuator) auditDeferral(ctx context.Context, act domain.Action, reason string) {
	ev := domain.AuditEvent{
		Version: domain.AuditVersion, At: a.now(), Type: domain.AuditDeferred, Actor: "actuator:" + a.Worker,
		PlanID: act.PlanID, ActionID: act.ID, ActionKind: act.Kind, Target: act.Target, DryRun: a.DryRun, Outcome: "deferred: " + reason,
	}
	if act.ID != "" {
		ev.ActionHash = act.Hash()
	}
	if err := a.Records.AppendAudit(ctx, ev); err != nil {
		a.logger().WarnContext(ctx, "audit deferral", "plan_id", act.PlanID, "action_id", act.ID, "error", err)
	}
}

// breakerOpen returns why the cloud's breaker stops changes at now, or
// "". A breaker that cannot be read stops them. A dry run changes
// nothing and is never stopped.
func (a *Actuator) breakerOpen(ctx context.Context, cloud domain.Cloud, now time.Time) string {
	if a.DryRun {
		return ""
	}
	b, err := a.Records.Breaker(ctx, cloud)
	if err != nil {
		return fmt.Sprintf("circuit breaker of %s cannot be read, so it counts as open: %v", cloud, err)
	}
	if !b.Open(now) {
		return ""
	}
	return fmt.Sprintf("circuit breaker of %s open until %s after %d failed applies in a row (last: %s)",
		cloud, b.OpenUntil.UTC().Format(time.RFC3339), b.Failures, b.LastError)
}

// recordBreaker counts a failed apply (a mutating call or its
// verification failed) towards the cloud's breaker and resets it on a
// success. Refusals, skips, dry runs and transient errors before any
// mutating call do not count. The breaker is moved with a conditional
// write, retried when another worker moved it first; when it cannot be
// written the failure is logged, and the action's outcome stands.
func (a *Actuator) recordBreaker(ctx context.Context, act domain.Action, out outcome) {
	if a.DryRun {
		return
	}
	failed := out.mutated && (out.err != nil || out.status == domain.StatusFailed || out.status == domain.StatusRolledBack)
	success := out.err == nil && out.status == domain.StatusApplied
	if !failed && !success {
		return
	}
	cloud := act.Target.Cloud
	log := a.logger().With("cloud", cloud, "plan_id", act.PlanID, "action_id", act.ID)
	for range 8 {
		prev, err := a.Records.Breaker(ctx, cloud)
		if err != nil {
			log.WarnContext(ctx, "read circuit breaker", "error", err)
			return
		}
		now := a.now()
		next := prev
		next.Worker, next.At = a.Worker, now
		opened, reset := false, false
		if success {
			if prev.Failures == 0 && prev.OpenUntil.IsZero() {
				return
			}
			reset = !prev.OpenUntil.IsZero()
			next.Failures, next.OpenUntil, next.LastError = 0, time.Time{}, ""
		} else {
			next.Failures++
			next.LastError = out.reason
			if out.err != nil {
				next.LastError = out.err.Error()
			}
			if next.Failures >= a.breakerThreshold() && !prev.Open(now) {
				next.OpenUntil = now.Add(a.breakerCoolDown())
				opened = true
			}
		}
		moved, err := a.Records.SwapBreaker(ctx, prev, next)
		if errors.Is(err, domain.ErrConflict) {
			continue
		}
		if err != nil {
			log.WarnContext(ctx, "write circuit breaker", "error", err)
			return
		}
		switch {
		case opened:
			log.WarnContext(ctx, "circuit breaker opened", "failures", moved.Failures, "open_until", moved.OpenUntil)
			a.auditBreaker(ctx, act, domain.AuditBreakerOpen, fmt.Sprintf("circuit breaker of %s opened until %s after %d failed applies in a row; last: %s",
				cloud, moved.OpenUntil.UTC().Format(time.RFC3339), moved.Failures, moved.LastError))
		case reset:
			a.auditBreaker(ctx, act, domain.AuditBreakerReset, fmt.Sprintf("circuit breaker of %s closed by a successful apply", cloud))
		}
		return
	}
	log.WarnContext(ctx, "circuit breaker not updated: lost every race")
}

func (a *Actuator) auditBreaker(ctx context.Context, act domain.Action, typ domain.AuditType, detail string) {
	ev := domain.AuditEvent{
		Version: domain.AuditVersion, At: a.now(), Type: typ, Actor: "actuator:" + a.Worker,
		PlanID: act.PlanID, ActionID: act.ID, ActionHash: act.Hash(), ActionKind: act.Kind, Target: act.Target, Outcome: detail,
	}
	if err := a.Records.AppendAudit(ctx, ev); err != nil {
		a.logger().WarnContext(ctx, "audit circuit breaker", "cloud", act.Target.Cloud, "error", err)
	}
}

func (a *Actuator) breakerThreshold() int {
	if a.BreakerThreshold > 0 {
		return a.BreakerThreshold
	}
	return DefaultBreakerThreshold
}

func (a *Actuator) breakerCoolDown() time.Duration {
	if a.BreakerCoolDown > 0 {
		return a.BreakerCoolDown
	}
	return DefaultBreakerCoolDown
}

// coverageResult is a plan's coverage as read once: the coverage, or why
// it can never be known.
type coverageResult struct {
	cov     domain.Coverage
	unknown string
}

// coverageRefusal returns why the blast-radius cap allows no change to
// act's target under the plan's inventory coverage, or "". An error is
// transient.
func (a *Actuator) coverageRefusal(ctx context.Context, plan domain.Plan, act domain.Action) (string, error) {
	a.mu.Lock()
	cr, ok := a.coverage[plan.ID]
	a.mu.Unlock()
	if !ok {
		cov, err := a.Records.Coverage(ctx, plan.Snapshots)
		switch {
		case err == nil:
			cr = coverageResult{cov: cov}
		case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrUnsupported):
			cr = coverageResult{unknown: err.Error()}
		default:
			return "", err
		}
		a.mu.Lock()
		if a.coverage == nil {
			a.coverage = map[string]coverageResult{}
		}
		a.coverage[plan.ID] = cr
		a.mu.Unlock()
	}
	const prefix = "blast-radius cap fails closed: "
	if cr.unknown != "" {
		return prefix + "the fleet size is unknown, as the plan's inventory cannot be read (" + cr.unknown + ")", nil
	}
	if r := cr.cov.Refusal(act.Target); r != "" {
		return prefix + r + "; no change is made where the plan did not see the whole inventory", nil
	}
	return "", nil
}

// overridden returns why a self-service override skips act now, or "":
// the cloudtrim-skip-until tag on the live resource, then the override
// document in the lake. Expired overrides are ignored; a malformed tag
// or document is honoured (its owner meant to opt out) and the reason
// says so. An error reading the document is transient.
func (a *Actuator) overridden(ctx context.Context, act domain.Action, live domain.Resource, now time.Time) (string, error) {
	if a.OverrideKinds != nil && !slices.Contains(a.OverrideKinds, act.Kind) {
		return "", nil
	}
	until, ok, err := domain.SkipUntil(live.Tags)
	switch {
	case err != nil:
		return "self-service override honoured until its tag is fixed: " + err.Error(), nil
	case ok && now.Before(until):
		return fmt.Sprintf("self-service override: tag %s skips it until %s", domain.SkipUntilTag, until.UTC().Format(time.RFC3339)), nil
	}
	o, err := a.Records.Override(ctx, act.Target)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return "", nil
	case errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrUnsupported):
		return "self-service override honoured until its document is fixed: " + err.Error(), nil
	case err != nil:
		return "", err
	}
	if !o.Covers(act.Kind, now) {
		return "", nil
	}
	return fmt.Sprintf("self-service override by %s until %s: %s", o.Who, o.Until.UTC().Format(time.RFC3339), o.Why), nil
}

// tracker notes whether a mutating call was made through it.
type tracker struct {
	Resources
	mutated bool
}

// StoredTag passes the tracked provider's TagEncoder on.
func (t *tracker) StoredTag(key, value string) (string, string) {
	return storedTag(t.Resources, key, value)
}

func (t *tracker) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	t.mutated = true
	return t.Resources.Stop(ctx, ref, token)
}

func (t *tracker) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	t.mutated = true
	return t.Resources.Start(ctx, ref, token)
}

func (t *tracker) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	t.mutated = true
	return t.Resources.Resize(ctx, ref, sku, token)
}

func (t *tracker) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	t.mutated = true
	return t.Resources.Retype(ctx, ref, sku, token)
}

func (t *tracker) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	t.mutated = true
	return t.Resources.SetTiering(ctx, ref, rule, token)
}

func (t *tracker) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	t.mutated = true
	return t.Resources.Snapshot(ctx, ref, tags, token)
}

func (t *tracker) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	t.mutated = true
	return t.Resources.Delete(ctx, ref, token)
}

func (t *tracker) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	t.mutated = true
	return t.Resources.Release(ctx, ref, token)
}

func (t *tracker) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	t.mutated = true
	return t.Resources.Tag(ctx, ref, tags, token)
}
