package actuate_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

// TestLocalHostStopsOnTheKillSwitch runs the local runtime's Actuate
// with CLOUDTRIM_KILL_SWITCH=1, then with the lake's kill switch
// document engaged, then released: while engaged the run stops with
// ErrStopped, every message stays on its queue, none is dead-lettered
// and the simulated estate is unchanged.
func TestLocalHostStopsOnTheKillSwitch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(env string) *local.Runtime {
		rt, err := local.Open(ctx, local.Options{Dir: dir, Now: func() time.Time { return benchNow },
			Getenv: func(k string) string {
				if k == actuate.KillSwitchEnv {
					return env
				}
				return ""
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close() })
		return rt
	}
	rt := open("1")
	if _, err := rt.Collect(ctx, domain.Clouds, 14, nil); err != nil {
		t.Fatal(err)
	}
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(rt *local.Runtime) {
		for _, a := range plan.Actions {
			d := domain.Decision{Version: domain.DecisionVersion, ID: "dec-" + a.ID, PlanID: plan.ID, ActionID: a.ID, ActionHash: a.Hash(),
				Verdict: domain.Approved, Approver: "ops@example.com", Channel: "test", At: benchNow.Add(-time.Hour)}
			if err := rt.Pipeline.Lake.PutDecision(ctx, d); err != nil && !errors.Is(err, domain.ErrConflict) {
				t.Fatal(err)
			}
			body, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
			if err := rt.Enqueue(ctx, a.Target.Cloud, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	queued := func(rt *local.Runtime) (n, dead int) {
		for _, q := range rt.Queues {
			n += q.Len()
			d, _ := q.DeadLetters(ctx)
			dead += len(d)
		}
		return n, dead
	}
	stopped := func(rt *local.Runtime, want string) {
		t.Helper()
		before := rt.Sim.Estate.Resources()
		sum, err := rt.Actuate(ctx, false, nil)
		if !errors.Is(err, actuate.ErrStopped) {
			t.Fatalf("Actuate = %v; want ErrStopped", err)
		}
		if sum.Stopped == "" || sum.Deferred == 0 || len(sum.Results) != 0 {
			t.Errorf("summary = %+v; want deferrals only", sum)
		}
		if n, dead := queued(rt); n != len(plan.Actions) || dead != 0 {
			t.Errorf("%d messages queued, %d dead letters; want %d and 0", n, dead, len(plan.Actions))
		}
		after := rt.Sim.Estate.Resources()
		if len(after) != len(before) {
			t.Fatalf("%d resources after, %d before: something was deleted under the kill switch", len(after), len(before))
		}
		for i := range before {
			if before[i].State != after[i].State || before[i].SKU != after[i].SKU {
				t.Fatalf("%s changed under the kill switch: %+v → %+v", before[i].ID, before[i], after[i])
			}
		}
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("error %v; want it to say %q", err, want)
		}
	}
	enqueue(rt)
	stopped(rt, "CLOUDTRIM_KILL_SWITCH")
	rt.Close()

	rt = open("")
	if err := rt.Pipeline.Lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: true, By: "oncall", Reason: "INC-1"}); err != nil {
		t.Fatal(err)
	}
	enqueue(rt)
	stopped(rt, "kill switch engaged by oncall")

	if err := rt.Pipeline.Lake.SetKillSwitch(ctx, domain.KillSwitch{Engaged: false}); err != nil {
		t.Fatal(err)
	}
	sum, err := rt.Actuate(ctx, false, nil)
	if err != nil || sum.Counts[domain.StatusApplied] == 0 {
		t.Fatalf("Actuate after release = %+v, %v; want changes applied", sum, err)
	}
}
