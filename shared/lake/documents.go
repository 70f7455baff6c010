package lake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// NonceVersion is the schema version of nonce documents.
const NonceVersion = "cloudtrim.nonce/v1"

func planKey(planID string) string { return "plans/" + planID + "/plan.json" }

// PutPlan validates a plan and stores it at plans/<id>/plan.json. Plans
// are immutable: storing a plan ID twice is domain.ErrConflict. A plan
// that does not validate is domain.ErrInvalid or, for an unknown schema
// version, domain.ErrUnsupported.
func (l *Lake) PutPlan(ctx context.Context, p domain.Plan) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("put plan %s: %w", p.ID, err)
	}
	if err := checkSegment("plan id", p.ID); err != nil {
		return fmt.Errorf("put plan %s: %w", p.ID, err)
	}
	if err := l.putJSON(ctx, planKey(p.ID), p, true); err != nil {
		return fmt.Errorf("put plan %s: %w", p.ID, err)
	}
	return nil
}

// GetPlan reads a plan: domain.ErrNotFound when there is none,
// domain.ErrInvalid naming the key when it is not valid JSON or not
// consistent, domain.ErrUnsupported naming the version when its schema
// version is unknown.
func (l *Lake) GetPlan(ctx context.Context, planID string) (domain.Plan, error) {
	if err := checkSegment("plan id", planID); err != nil {
		return domain.Plan{}, fmt.Errorf("get plan %s: %w", planID, err)
	}
	key := planKey(planID)
	var p domain.Plan
	if err := l.getJSON(ctx, key, &p); err != nil {
		return domain.Plan{}, fmt.Errorf("get plan %s: %w", planID, err)
	}
	if err := p.Validate(); err != nil {
		return domain.Plan{}, fmt.Errorf("get plan %s: %s: %w", planID, key, err)
	}
	if p.ID != planID {
		return domain.Plan{}, fmt.Errorf("get plan %s: %w: %s holds plan %q", planID, domain.ErrInvalid, key, p.ID)
	}
	return p, nil
}

// ListPlans returns the IDs of the stored plans in lexical order, which
// is oldest first for time-sortable IDs such as "plan-" + NewRunID(now).
func (l *Lake) ListPlans(ctx context.Context) ([]string, error) {
	keys, err := l.st.List(ctx, "plans/", "")
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	var ids []string
	for _, k := range keys {
		rest := strings.TrimPrefix(k, "plans/")
		if id, ok := strings.CutSuffix(rest, "/plan.json"); ok && !strings.Contains(id, "/") {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// PutArtifact stores a file derived from a plan (report.md,
// report.html, ...) at plans/<planID>/<name>, replacing an earlier one of
// that name: artifacts can be regenerated from the plan. The name
// "plan.json" and names with a slash are domain.ErrInvalid.
func (l *Lake) PutArtifact(ctx context.Context, planID, name string, data []byte) error {
	if err := checkArtifact(planID, name); err != nil {
		return fmt.Errorf("put artifact %s/%s: %w", planID, name, err)
	}
	key := "plans/" + planID + "/" + name
	if err := l.st.Put(ctx, key, data, false); err != nil {
		return fmt.Errorf("put artifact %s: %w", key, err)
	}
	return nil
}

// GetArtifact reads a plan's artifact; domain.ErrNotFound when there is
// none.
func (l *Lake) GetArtifact(ctx context.Context, planID, name string) ([]byte, error) {
	if err := checkArtifact(planID, name); err != nil {
		return nil, fmt.Errorf("get artifact %s/%s: %w", planID, name, err)
	}
	key := "plans/" + planID + "/" + name
	b, err := l.st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get artifact %s: %w", key, err)
	}
	return b, nil
}

func checkArtifact(planID, name string) error {
	if err := checkSegment("plan id", planID); err != nil {
		return err
	}
	if err := checkSegment("artifact name", name); err != nil {
		return err
	}
	if name == "plan.json" {
		return fmt.Errorf("%w: artifact name plan.json is the plan itself", domain.ErrInvalid)
	}
	return nil
}

// PutDecision stores a decision at
// decisions/<planID>/<actionID>/<decisionID>.json. Decisions are
// immutable: a second decision with the same ID is domain.ErrConflict.
// An empty Version is set to domain.DecisionVersion; another version is
// domain.ErrUnsupported; missing IDs are domain.ErrInvalid.
func (l *Lake) PutDecision(ctx context.Context, d domain.Decision) error {
	if d.Version == "" {
		d.Version = domain.DecisionVersion
	}
	if d.Version != domain.DecisionVersion {
		return fmt.Errorf("put decision %s: %w: schema version %q (want %q)", d.ID, domain.ErrUnsupported, d.Version, domain.DecisionVersion)
	}
	for _, f := range []struct{ what, v string }{{"plan id", d.PlanID}, {"action id", d.ActionID}, {"decision id", d.ID}} {
		if err := checkSegment(f.what, f.v); err != nil {
			return fmt.Errorf("put decision %s: %w", d.ID, err)
		}
	}
	key := "decisions/" + d.PlanID + "/" + d.ActionID + "/" + d.ID + ".json"
	if err := l.putJSON(ctx, key, d, true); err != nil {
		return fmt.Errorf("put decision %s: %w", d.ID, err)
	}
	return nil
}

// Decisions returns every decision recorded for a plan, ordered by time
// and then ID; none is an empty result. A stored decision that is not
// valid JSON is domain.ErrInvalid naming its key; one of an unknown
// version is domain.ErrUnsupported.
func (l *Lake) Decisions(ctx context.Context, planID string) ([]domain.Decision, error) {
	if err := checkSegment("plan id", planID); err != nil {
		return nil, fmt.Errorf("decisions of plan %s: %w", planID, err)
	}
	keys, err := l.st.List(ctx, "decisions/"+planID+"/", "")
	if err != nil {
		return nil, fmt.Errorf("decisions of plan %s: %w", planID, err)
	}
	keys = withSuffix(keys, ".json")
	bodies, err := l.getMany(ctx, keys, true)
	if err != nil {
		return nil, fmt.Errorf("decisions of plan %s: %w", planID, err)
	}
	out := make([]domain.Decision, 0, len(keys))
	for i, b := range bodies {
		if b == nil {
			continue
		}
		var d domain.Decision
		if err := decodeJSON(keys[i], b, &d); err != nil {
			return nil, fmt.Errorf("decisions of plan %s: %w", planID, err)
		}
		if d.Version != domain.DecisionVersion {
			return nil, fmt.Errorf("decisions of plan %s: %w: %s has schema version %q (want %q)", planID, domain.ErrUnsupported, keys[i], d.Version, domain.DecisionVersion)
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ClaimNonce records that a request was seen, at nonces/<scope>/<id>.
// Claiming the same scope and id again is domain.ErrConflict: a replay.
func (l *Lake) ClaimNonce(ctx context.Context, scope, id string, at time.Time) error {
	if err := checkSegment("nonce scope", scope); err != nil {
		return fmt.Errorf("claim nonce %s/%s: %w", scope, id, err)
	}
	if err := checkSegment("nonce id", id); err != nil {
		return fmt.Errorf("claim nonce %s/%s: %w", scope, id, err)
	}
	doc := struct {
		Version string    `json:"version"`
		Scope   string    `json:"scope"`
		ID      string    `json:"id"`
		At      time.Time `json:"at"`
	}{NonceVersion, scope, id, at.UTC()}
	if err := l.putJSON(ctx, "nonces/"+scope+"/"+id, doc, true); err != nil {
		return fmt.Errorf("claim nonce %s/%s: %w", scope, id, err)
	}
	return nil
}

func statePrefix(planID, actionID string) string { return "states/" + planID + "/" + actionID + "/" }

func stateKey(planID, actionID string, seq int) string {
	return fmt.Sprintf("%s%010d.json", statePrefix(planID, actionID), seq)
}

// ActionState returns the latest state of an action; domain.ErrNotFound
// when it has none. A state document that is not valid JSON is
// domain.ErrInvalid naming its key; an unknown version is
// domain.ErrUnsupported.
func (l *Lake) ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error) {
	if err := checkIDs(planID, actionID); err != nil {
		return domain.ActionState{}, fmt.Errorf("action state %s/%s: %w", planID, actionID, err)
	}
	prefix := statePrefix(planID, actionID)
	keys, err := l.st.List(ctx, prefix, "")
	if err != nil {
		return domain.ActionState{}, fmt.Errorf("action state %s/%s: %w", planID, actionID, err)
	}
	latest := -1
	for _, k := range keys {
		if n, ok := parseSeq(strings.TrimPrefix(k, prefix), 10); ok && int(n) > latest {
			latest = int(n)
		}
	}
	if latest < 0 {
		return domain.ActionState{}, fmt.Errorf("action state %s/%s: %w: no state recorded", planID, actionID, domain.ErrNotFound)
	}
	key := stateKey(planID, actionID, latest)
	b, err := l.st.Get(ctx, key)
	if err != nil {
		return domain.ActionState{}, fmt.Errorf("action state %s/%s: read %s: %w", planID, actionID, key, err)
	}
	st, err := decodeState(key, b)
	if err != nil {
		return domain.ActionState{}, fmt.Errorf("action state %s/%s: %w", planID, actionID, err)
	}
	return st, nil
}

func decodeState(key string, b []byte) (domain.ActionState, error) {
	var st domain.ActionState
	if err := decodeJSON(key, b, &st); err != nil {
		return domain.ActionState{}, err
	}
	if st.Version != domain.ActionStateVersion {
		return domain.ActionState{}, fmt.Errorf("%w: %s has schema version %q (want %q)", domain.ErrUnsupported, key, st.Version, domain.ActionStateVersion)
	}
	return st, nil
}

func checkIDs(planID, actionID string) error {
	if err := checkSegment("plan id", planID); err != nil {
		return err
	}
	return checkSegment("action id", actionID)
}

// Transition records the state that follows prev (nil: the action's
// first state) and returns it with Seq set to prev.Seq+1 (1 for the
// first). It is a compare-and-swap over create-if-absent: exactly one of
// any number of writers moving from the same prev succeeds; the others
// get domain.ErrConflict and should re-read the state. A prev that is not
// a stored state is domain.ErrConflict too. An empty Version is set to
// domain.ActionStateVersion; another version is domain.ErrUnsupported; a
// next for another plan or action than prev is domain.ErrInvalid.
func (l *Lake) Transition(ctx context.Context, prev *domain.ActionState, next domain.ActionState) (domain.ActionState, error) {
	op := fmt.Sprintf("transition %s/%s", next.PlanID, next.ActionID)
	if err := checkIDs(next.PlanID, next.ActionID); err != nil {
		return domain.ActionState{}, fmt.Errorf("%s: %w", op, err)
	}
	if next.Version == "" {
		next.Version = domain.ActionStateVersion
	}
	if next.Version != domain.ActionStateVersion {
		return domain.ActionState{}, fmt.Errorf("%s: %w: schema version %q (want %q)", op, domain.ErrUnsupported, next.Version, domain.ActionStateVersion)
	}
	next.Seq = 1
	if prev != nil && prev.Seq > 0 {
		if prev.PlanID != next.PlanID || prev.ActionID != next.ActionID {
			return domain.ActionState{}, fmt.Errorf("%s: %w: previous state is of %s/%s", op, domain.ErrInvalid, prev.PlanID, prev.ActionID)
		}
		ok, err := l.st.Exists(ctx, stateKey(prev.PlanID, prev.ActionID, prev.Seq))
		if err != nil {
			return domain.ActionState{}, fmt.Errorf("%s: %w", op, err)
		}
		if !ok {
			return domain.ActionState{}, fmt.Errorf("%s: %w: previous state %d is not stored", op, domain.ErrConflict, prev.Seq)
		}
		next.Seq = prev.Seq + 1
	}
	if err := l.putJSON(ctx, stateKey(next.PlanID, next.ActionID, next.Seq), next, true); err != nil {
		return domain.ActionState{}, fmt.Errorf("%s to seq %d: %w", op, next.Seq, err)
	}
	return next, nil
}

// ActionStates returns the latest state of every action of a plan that
// has one, by action ID, with the error kinds of ActionState.
func (l *Lake) ActionStates(ctx context.Context, planID string) (map[string]domain.ActionState, error) {
	if err := checkSegment("plan id", planID); err != nil {
		return nil, fmt.Errorf("action states of plan %s: %w", planID, err)
	}
	prefix := "states/" + planID + "/"
	keys, err := l.st.List(ctx, prefix, "")
	if err != nil {
		return nil, fmt.Errorf("action states of plan %s: %w", planID, err)
	}
	latest := map[string]int64{}
	for _, k := range keys {
		action, file, ok := strings.Cut(strings.TrimPrefix(k, prefix), "/")
		if !ok {
			continue
		}
		if n, ok := parseSeq(file, 10); ok {
			if cur, seen := latest[action]; !seen || n > cur {
				latest[action] = n
			}
		}
	}
	want := make([]string, 0, len(latest))
	for action, n := range latest {
		want = append(want, stateKey(planID, action, int(n)))
	}
	sort.Strings(want)
	bodies, err := l.getMany(ctx, want, false)
	if err != nil {
		return nil, fmt.Errorf("action states of plan %s: %w", planID, err)
	}
	out := make(map[string]domain.ActionState, len(want))
	for i, b := range bodies {
		st, err := decodeState(want[i], b)
		if err != nil {
			return nil, fmt.Errorf("action states of plan %s: %w", planID, err)
		}
		out[st.ActionID] = st
	}
	return out, nil
}

// auditTimeLayout is the sortable time at the start of an audit key.
const auditTimeLayout = "20060102T150405.000000000Z"

// AppendAudit stores an audit event at
// audit/<YYYY>/<MM>/<DD>/<time>-<id>.json, never replacing one. An empty
// ID is generated and an empty Version set to domain.AuditVersion; a zero
// At or another version is domain.ErrInvalid or domain.ErrUnsupported.
// Appending the same event (time and ID) twice is domain.ErrConflict.
func (l *Lake) AppendAudit(ctx context.Context, ev domain.AuditEvent) error {
	if ev.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		ev.ID = "aud-" + hex.EncodeToString(b[:])
	}
	if ev.Version == "" {
		ev.Version = domain.AuditVersion
	}
	if ev.Version != domain.AuditVersion {
		return fmt.Errorf("append audit %s: %w: schema version %q (want %q)", ev.ID, domain.ErrUnsupported, ev.Version, domain.AuditVersion)
	}
	if ev.At.IsZero() {
		return fmt.Errorf("append audit %s: %w: event has no time", ev.ID, domain.ErrInvalid)
	}
	if err := checkSegment("audit id", ev.ID); err != nil {
		return fmt.Errorf("append audit %s: %w", ev.ID, err)
	}
	ev.At = ev.At.UTC()
	key := "audit/" + ev.At.Format("2006/01/02") + "/" + ev.At.Format(auditTimeLayout) + "-" + ev.ID + ".json"
	if err := l.putJSON(ctx, key, ev, true); err != nil {
		return fmt.Errorf("append audit %s: %w", ev.ID, err)
	}
	return nil
}

// Audit returns the audit events with from <= At < to in time order
// (then by ID). A zero from or to leaves that end open. A stored event
// that is not valid JSON is domain.ErrInvalid naming its key; an unknown
// version is domain.ErrUnsupported.
func (l *Lake) Audit(ctx context.Context, from, to time.Time) ([]domain.AuditEvent, error) {
	from, to = from.UTC(), to.UTC()
	var prefixes []string
	const day = 24 * time.Hour
	if !from.IsZero() && !to.IsZero() && to.Sub(from) <= 400*day {
		for d := from.Truncate(day); d.Before(to); d = d.Add(day) {
			prefixes = append(prefixes, "audit/"+d.Format("2006/01/02")+"/")
		}
	} else {
		prefixes = []string{"audit/"}
	}
	var keys []string
	for _, p := range prefixes {
		ks, err := l.st.List(ctx, p, "")
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", p, err)
		}
		for _, k := range ks {
			base := k[strings.LastIndexByte(k, '/')+1:]
			if !strings.HasSuffix(base, ".json") || len(base) < len(auditTimeLayout) {
				continue
			}
			at, err := time.Parse(auditTimeLayout, base[:len(auditTimeLayout)])
			if err != nil {
				continue
			}
			if (!from.IsZero() && at.Before(from)) || (!to.IsZero() && !at.Before(to)) {
				continue
			}
			keys = append(keys, k)
		}
	}
	bodies, err := l.getMany(ctx, keys, true)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	out := make([]domain.AuditEvent, 0, len(keys))
	for i, b := range bodies {
		if b == nil {
			continue
		}
		var ev domain.AuditEvent
		if err := decodeJSON(keys[i], b, &ev); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if ev.Version != domain.AuditVersion {
			return nil, fmt.Errorf("audit: %w: %s has schema version %q (want %q)", domain.ErrUnsupported, keys[i], ev.Version, domain.AuditVersion)
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func withSuffix(keys []string, suffix string) []string {
	out := keys[:0]
	for _, k := range keys {
		if strings.HasSuffix(k, suffix) {
			out = append(out, k)
		}
	}
	return out
}
