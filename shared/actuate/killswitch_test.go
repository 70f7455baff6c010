package actuate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/queue/memqueue"
)

func stopBatch(n int) ([]domain.Resource, []domain.Action) {
	var rs []domain.Resource
	var as []domain.Action
	for i := range n {
		r := vm(fmt.Sprintf("i-%d", i), "m5.large", domain.StateRunning)
		rs = append(rs, r)
		as = append(as, action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}))
	}
	return rs, as
}

func (e *env) deferrals() []domain.AuditEvent {
	var out []domain.AuditEvent
	for _, ev := range e.audit() {
		if ev.Type == domain.AuditDeferred {
			out = append(out, ev)
		}
	}
	return out
}

// TestKillSwitchEngagedMidBatch engages the lake's kill switch after the
// second of five messages: the other three are deferred (sent again,
// neither acked for good nor dead-lettered), nothing more reaches the
// cloud, and each deferral is audited with who engaged it and why. Once
// the switch is released, the same messages apply.
func TestKillSwitchEngagedMidBatch(t *testing.T) {
	rs, as := stopBatch(5)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	ctx := context.Background()
	clock := &queueClock{now: t0}
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second, MaxAttempts: 2, Now: clock.Now})
	for _, a := range as {
		if err := q.Send(ctx, e.message(a)); err != nil {
			t.Fatal(err)
		}
	}
	act := e.actuator(false)
	msgs, err := q.Receive(ctx, 10)
	if err != nil || len(msgs) != 5 {
		t.Fatalf("Receive = %d messages, %v; want 5", len(msgs), err)
	}
	var got []actuate.Disposition
	for i, m := range msgs {
		if i == 2 {
			if err := e.lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: true, By: "oncall@example.com", Reason: "INC-4711 stop everything", At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		res := act.Handle(ctx, m.Body)
		got = append(got, res.Disposition)
		settle(t, q, m, res)
	}
	if diff := cmp.Diff([]actuate.Disposition{actuate.Ack, actuate.Ack, actuate.Defer, actuate.Defer, actuate.Defer}, got); diff != "" {
		t.Errorf("dispositions (-want +got):\n%s", diff)
	}
	if n := len(c.Calls()); n != 2 {
		t.Errorf("%d changes made; want the 2 before the switch", n)
	}
	if q.Len() != 3 {
		t.Errorf("%d messages on the queue; want the 3 deferred", q.Len())
	}
	if dead, _ := q.DeadLetters(ctx); len(dead) != 0 {
		t.Errorf("dead letters %+v; the kill switch must not dead-letter anything", dead)
	}
	evs := e.deferrals()
	if len(evs) != 3 {
		t.Fatalf("%d deferral audit events; want 3", len(evs))
	}
	for _, ev := range evs {
		if !strings.Contains(ev.Outcome, "oncall@example.com") || !strings.Contains(ev.Outcome, "INC-4711") || ev.ActionID == "" {
			t.Errorf("deferral audit %+v; want who, why and the action", ev)
		}
	}

	// Deferring again and again never uses up the messages' attempts
	// (MaxAttempts is 2 here).
	for range 3 {
		drainUntilDefer(t, q, act)
	}
	if q.Len() != 3 || len(c.Calls()) != 2 {
		t.Fatalf("after more deferrals: %d queued, %d changes; want 3 and 2", q.Len(), len(c.Calls()))
	}

	if err := e.lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: false, By: "oncall@example.com", Reason: "resolved", At: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	drain(t, q, clock, act, 10)
	if q.Len() != 0 || len(c.Calls()) != 5 {
		t.Errorf("after release: %d queued, %d changes; want 0 and 5", q.Len(), len(c.Calls()))
	}
}

// drainUntilDefer handles what is visible until a message is deferred,
// then stops, as a host does.
func drainUntilDefer(t *testing.T, q *memqueue.Queue, act *actuate.Actuator) {
	t.Helper()
	msgs, err := q.Receive(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		res := act.Handle(context.Background(), m.Body)
		settle(t, q, m, res)
	}
}

// TestKillSwitchCheckedRightBeforeTheChange engages the switch while the
// actuator re-reads the live resource, after the check at the start of
// Handle: the change is still not made, the claim is handed back and the
// deferral audited.
func TestKillSwitchCheckedRightBeforeTheChange(t *testing.T) {
	rs, as := stopBatch(1)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	c.onGet = func(domain.ResourceRef) {
		if err := e.lake.SetKillSwitch(context.Background(), domain.KillSwitch{Engaged: true, By: "ops", Reason: "now"}); err != nil {
			t.Error(err)
		}
	}
	res := e.actuator(false).Handle(context.Background(), e.message(as[0]))
	if res.Disposition != actuate.Defer || !strings.Contains(res.Reason, "kill switch engaged by ops") {
		t.Fatalf("Handle = %+v; want defer (kill switch)", res)
	}
	if n := c.Attempts(); n != 0 {
		t.Errorf("%d mutating calls; want none", n)
	}
	if st := e.state(as[0]); st.Status != domain.StatusQueued {
		t.Errorf("state = %+v; want the claim handed back (queued)", st)
	}
	if n := len(e.deferrals()); n != 1 {
		t.Errorf("%d deferral audit events; want 1", n)
	}
}

// TestKillSwitchFromTheEnvironment: the host's flag stops everything,
// malformed messages included, without touching the lake's states.
func TestKillSwitchFromTheEnvironment(t *testing.T) {
	rs, as := stopBatch(2)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	act := e.actuator(false)
	act.KillSwitch = true
	for _, body := range [][]byte{e.message(as[0]), e.message(as[1]), []byte("{not json")} {
		res := act.Handle(context.Background(), body)
		if res.Disposition != actuate.Defer || !strings.Contains(res.Reason, "CLOUDTRIM_KILL_SWITCH") {
			t.Errorf("Handle(%.20q) = %+v; want defer naming CLOUDTRIM_KILL_SWITCH", body, res)
		}
	}
	if c.Attempts() != 0 {
		t.Errorf("%d mutating calls under the kill switch", c.Attempts())
	}
	if n := len(e.deferrals()); n != 3 {
		t.Errorf("%d deferral audit events; want 3", n)
	}
	states, err := e.lake.ActionStates(context.Background(), e.plan.ID)
	if err != nil || len(states) != 0 {
		t.Errorf("states %v (%v); want none written", states, err)
	}
	// Hosts that settle some messages themselves ask first.
	if res, halted := act.Halted(context.Background(), []byte("garbage")); !halted || res.Disposition != actuate.Defer {
		t.Errorf("Halted = %+v, %v; want defer, true", res, halted)
	}
	act.KillSwitch = false
	if _, halted := act.Halted(context.Background(), e.message(as[0])); halted {
		t.Error("Halted = true with the switch off")
	}
}

// TestKillSwitchUnreadableCountsAsEngaged: a kill switch document that
// cannot be read stops actuation (fail closed).
func TestKillSwitchUnreadableCountsAsEngaged(t *testing.T) {
	rs, as := stopBatch(1)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	if err := e.lake.Put(context.Background(), lake.KillSwitchKey, []byte(`{"engaged": "yes"}`), false); err != nil {
		t.Fatal(err)
	}
	res := e.actuator(false).Handle(context.Background(), e.message(as[0]))
	if res.Disposition != actuate.Defer || !strings.Contains(res.Reason, "cannot be read") || c.Attempts() != 0 {
		t.Fatalf("Handle with a malformed kill switch = %+v (%d calls); want defer without calls", res, c.Attempts())
	}
}
