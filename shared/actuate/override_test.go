package actuate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// TestSelfServiceOverrides: a cloudtrim-skip-until tag or an override
// document skips the action until its time, by the injected clock, and
// the skip is audited with the reason; an expired one is ignored.
func TestSelfServiceOverrides(t *testing.T) {
	now := t0.Add(time.Hour) // the env's clock
	sched := domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "12:00", Stop: "20:00"}
	tests := []struct {
		name     string
		kind     domain.ActionKind
		tag      string
		doc      *domain.Override
		kinds    []domain.ActionKind // Actuator.OverrideKinds
		wantSkip string              // "" means applied
	}{
		{name: "tag in force", kind: domain.ActionSchedule, tag: now.Add(2 * time.Hour).Format(time.RFC3339),
			wantSkip: "tag cloudtrim-skip-until skips it until 2026-11-23T13:00:00Z"},
		{name: "tag with an offset", kind: domain.ActionStop, tag: "2026-11-23T14:00:00+02:00", wantSkip: "until 2026-11-23T12:00:00Z"},
		{name: "tag expired", kind: domain.ActionSchedule, tag: now.Add(-time.Minute).Format(time.RFC3339)},
		{name: "tag expiring this instant", kind: domain.ActionStop, tag: now.Add(time.Millisecond).Format(time.RFC3339)},
		{name: "malformed tag is honoured", kind: domain.ActionStop, tag: "next friday", wantSkip: "until its tag is fixed"},
		{name: "document in force", kind: domain.ActionStop,
			doc:      &domain.Override{Until: now.Add(24 * time.Hour), Who: "dev@example.com", Why: "load test tonight"},
			wantSkip: "self-service override by dev@example.com until 2026-11-24T11:00:00Z: load test tonight"},
		{name: "document expired", kind: domain.ActionStop,
			doc: &domain.Override{Until: now.Add(-time.Hour), Who: "dev@example.com", Why: "over"}},
		{name: "document for other kinds", kind: domain.ActionStop,
			doc: &domain.Override{Until: now.Add(time.Hour), Who: "dev@example.com", Why: "keep the schedule off", Kinds: []domain.ActionKind{domain.ActionSchedule}}},
		{name: "document for this kind", kind: domain.ActionSchedule,
			doc:      &domain.Override{Until: now.Add(time.Hour), Who: "dev@example.com", Why: "demo", Kinds: []domain.ActionKind{domain.ActionSchedule}},
			wantSkip: "by dev@example.com"},
		{name: "kind the operator does not let overrides skip", kind: domain.ActionStop, kinds: []domain.ActionKind{domain.ActionSchedule},
			tag: now.Add(time.Hour).Format(time.RFC3339)},
		{name: "kind the operator lets overrides skip", kind: domain.ActionSchedule, kinds: []domain.ActionKind{domain.ActionSchedule, domain.ActionStop},
			tag: now.Add(time.Hour).Format(time.RFC3339), wantSkip: "skip-until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := vm("i-1", "m5.large", domain.StateRunning)
			a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
			if tt.kind == domain.ActionSchedule {
				a = action(domain.ActionSchedule, r, domain.ResourceState{SKU: "m5.large", State: domain.StateScheduled})
				a.Schedule = &sched
			}
			live := r
			if tt.tag != "" {
				live.Tags = map[string]string{"cloudtrim-optin": "true", "Cloudtrim-Skip-Until": tt.tag}
			}
			c := newFakeCloud(live)
			e := setup(t, c, true, a)
			if tt.doc != nil {
				doc := *tt.doc
				doc.Cloud, doc.ResourceID = domain.AWS, r.ID
				if err := e.lake.PutOverride(context.Background(), doc); err != nil {
					t.Fatal(err)
				}
			}
			act := e.actuator(false)
			act.OverrideKinds = tt.kinds
			res := act.Handle(context.Background(), e.message(a))
			if tt.wantSkip == "" {
				if res.Status != domain.StatusApplied {
					t.Fatalf("Handle = %+v; want applied", res)
				}
				return
			}
			if res.Status != domain.StatusSkipped || res.Disposition != actuate.Ack || !strings.Contains(res.Reason, tt.wantSkip) {
				t.Fatalf("Handle = %+v; want ack/skipped saying %q", res, tt.wantSkip)
			}
			if c.Attempts() != 0 {
				t.Errorf("%d mutating calls under an override", c.Attempts())
			}
			found := false
			for _, ev := range e.audit() {
				found = found || (ev.Type == domain.AuditSkip && strings.Contains(ev.Outcome, tt.wantSkip))
			}
			if !found {
				t.Errorf("no skip audit event with the reason %q", tt.wantSkip)
			}
		})
	}
}

// TestOverrideFollowsTheInjectedClock: the same override skips before
// its time and lets a later run (a new plan's action) apply after it.
func TestOverrideFollowsTheInjectedClock(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	c := newFakeCloud(r)
	e := setup(t, c, true, a)
	until := e.now.Add(30 * time.Minute)
	if err := e.lake.PutOverride(context.Background(), domain.Override{Cloud: domain.AWS, ResourceID: r.ID, Until: until, Who: "dev", Why: "debugging"}); err != nil {
		t.Fatal(err)
	}
	if res := e.actuator(true).Handle(context.Background(), e.message(a)); res.Status != domain.StatusSkipped {
		t.Fatalf("dry run before the override ends = %+v; want skipped", res)
	}
	e.advance(31 * time.Minute)
	// The dry run's skip does not use up the approval.
	if res := e.actuator(false).Handle(context.Background(), e.message(a)); res.Status != domain.StatusApplied {
		t.Fatalf("after the override ended = %+v; want applied", res)
	}
}

// brokenOverrides is a lake whose override documents cannot be read
// just now.
type brokenOverrides struct{ *lake.Lake }

func (brokenOverrides) Override(context.Context, domain.ResourceRef) (domain.Override, error) {
	return domain.Override{}, errors.New("503 slow down")
}

func TestOverrideReadErrorIsRetried(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	c := newFakeCloud(r)
	e := setup(t, c, true, a)
	act := e.actuator(false)
	act.Records = brokenOverrides{e.lake}
	if res := act.Handle(context.Background(), e.message(a)); res.Disposition != actuate.Retry || c.Attempts() != 0 {
		t.Fatalf("Handle = %+v; want retry without calls", res)
	}
}

func TestMalformedOverrideDocumentIsHonoured(t *testing.T) {
	r := vm("i-1", "m5.large", domain.StateRunning)
	a := action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
	c := newFakeCloud(r)
	e := setup(t, c, true, a)
	if err := e.lake.Put(context.Background(), lake.OverrideKey(domain.AWS, r.ID), []byte(`{"until": "tomorrow"}`), false); err != nil {
		t.Fatal(err)
	}
	res := e.actuator(false).Handle(context.Background(), e.message(a))
	if res.Status != domain.StatusSkipped || !strings.Contains(res.Reason, "until its document is fixed") || c.Attempts() != 0 {
		t.Fatalf("Handle = %+v; want skipped (document honoured until fixed)", res)
	}
}
