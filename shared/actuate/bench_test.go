package actuate_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

// benchNow is a Monday 10:00 UTC, inside the default schedule.
var benchNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// benchEstate is larger than the demo estate, for a plan of a few hundred actions.
var benchEstate = local.EstateConfig{Seed: 7, Resources: 3000}

// benchWorld opens a local runtime on the simulated demo estate,
// collects every cloud, plans with caps that let every action through,
// approves every action and returns the runtime and the queue messages.
func benchWorld(b *testing.B, lakeURL, dir string) (*local.Runtime, [][]byte) {
	b.Helper()
	ctx := context.Background()
	pol := domain.DefaultPolicy()
	pol.Caps = domain.Caps{MaxActions: 1_000_000, MaxPercent: 100}
	rt, err := local.Open(ctx, local.Options{Dir: dir, LakeURL: lakeURL, Policy: pol, Now: func() time.Time { return benchNow }, Estate: benchEstate,
		Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := rt.Collect(ctx, domain.Clouds, 14, nil); err != nil {
		b.Fatal(err)
	}
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var msgs [][]byte
	for _, a := range plan.Actions {
		d := domain.Decision{Version: domain.DecisionVersion, ID: "dec-" + a.ID, PlanID: plan.ID, ActionID: a.ID, ActionHash: a.Hash(),
			Verdict: domain.Approved, Approver: "bench@example.com", Channel: "bench", At: benchNow.Add(-time.Hour)}
		if err := rt.Pipeline.Lake.PutDecision(ctx, d); err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, body)
	}
	return rt, msgs
}

// BenchmarkHandle handles every action of a plan over the simulated
// demo estate, changes enabled, with the whole exactly-once bookkeeping
// (claim, audit, state, kill switch, breaker and coverage reads) in a
// lake in memory and in a directory, and reports actions handled per
// second. Building the estate, the plan and the approvals is not timed.
func BenchmarkHandle(b *testing.B) {
	for _, backend := range []string{"mem", "file"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			handled, applied := 0, 0
			for b.Loop() {
				b.StopTimer()
				url, dir := "mem://", ""
				if backend == "file" {
					url, dir = "", b.TempDir()
				}
				rt, msgs := benchWorld(b, url, dir)
				providers := map[domain.Cloud]actuate.Resources{}
				for _, c := range domain.Clouds {
					providers[c] = rt.Sim.Resources(c)
				}
				act := rt.Pipeline.Actuator(providers, false, "bench")
				act.Budget = actuate.RunBudget(rt.Pipeline.Policy.Caps, len(msgs)*100)
				b.StartTimer()
				for _, m := range msgs {
					res := act.Handle(ctx, m)
					if res.Disposition != actuate.Ack {
						b.Fatalf("Handle = %+v; want ack", res)
					}
					handled++
					if res.Status == domain.StatusApplied {
						applied++
					}
				}
				b.StopTimer()
				rt.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(handled)/b.Elapsed().Seconds(), "actions/s")
			b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "applied/s")
			b.ReportMetric(float64(handled)/float64(b.N), "actions/op")
		})
	}
}
