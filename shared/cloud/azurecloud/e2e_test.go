package azurecloud_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// TestCollectOptimizeApproveActuate runs the pipeline's cores over the
// Azure part of the simulated demo estate served by azurefake: the
// collector through this provider into a file-backed lake, the
// optimizer on that snapshot, an approval of every Azure action, and the
// actuation core through the Actuator. The actions applied must show in
// the fake's estate, and the manifest's scopes must be what the
// actuator's coverage check accepts.
func TestCollectOptimizeApproveActuate(t *testing.T) {
	ctx := context.Background()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simcloud.New(simcloud.Demo(now), prices)
	if err != nil {
		t.Fatal(err)
	}
	est, err := azurefake.FromSim(ctx, sim, prices)
	if err != nil {
		t.Fatal(err)
	}
	srv := azurefake.New(est, azurefake.Options{PageSize: 5, Register: []func(*azurefake.Server){
		func(s *azurefake.Server) { azurefake.ServeActions(s) },
	}})
	p := newProvider(t, srv, azurecloud.Config{})
	l, err := lake.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pl := &pipeline.Pipeline{Lake: l, Prices: prices, Policy: domain.DefaultPolicy(), Now: func() time.Time { return now }}

	// Collect and optimize.
	if _, err := pl.Collect(ctx, p, 14, now, nil); err != nil {
		t.Fatal(err)
	}
	plan, err := pl.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var actions []domain.Action
	kinds := map[domain.ActionKind]int{}
	for _, a := range plan.Actions {
		if a.Target.Cloud == domain.Azure {
			actions = append(actions, a)
			kinds[a.Kind]++
		}
	}
	if len(actions) == 0 {
		t.Fatalf("the plan of the Azure snapshot has no Azure action (%d actions in all)", len(plan.Actions))
	}
	t.Logf("Azure actions by kind: %v", kinds)

	// Approve every Azure action and actuate it.
	act, err := azurecloud.NewActuator(azurecloud.ActuatorConfig{Credential: azurefake.Credential(), Subscriptions: sim.Accounts(domain.Azure),
		ClientOptions: srv.ClientOptions(), PollFrequency: time.Millisecond, WaitTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	core := pl.Actuator(map[domain.Cloud]actuate.Resources{domain.Azure: act}, false, "e2e")
	applied := map[domain.ActionKind]int{}
	for _, a := range actions {
		d := domain.Decision{Version: domain.DecisionVersion, ID: "dec-" + a.ID, PlanID: plan.ID, ActionID: a.ID, ActionHash: a.Hash(),
			Verdict: domain.Approved, Approver: "finops@example.com", Channel: "test", At: now}
		if err := l.PutDecision(ctx, d); err != nil {
			t.Fatal(err)
		}
		msg, err := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
		if err != nil {
			t.Fatal(err)
		}
		res := core.Handle(ctx, msg)
		switch {
		case res.Status == domain.StatusApplied:
			applied[a.Kind]++
			checkApplied(t, est, a)
		case res.Disposition == actuate.DeadLetter || res.Status == domain.StatusFailed:
			t.Errorf("action %s (%s of %s): %s %s: %s", a.ID, a.Kind, a.Target.ID, res.Disposition, res.Status, res.Reason)
		default:
			t.Logf("action %s (%s of %s) %s %s: %s", a.ID, a.Kind, a.Target.ID, res.Disposition, res.Status, res.Reason)
		}
	}
	if len(applied) == 0 {
		t.Fatalf("no Azure action applied of %v", kinds)
	}
	t.Logf("applied by kind: %v", applied)
}

// checkApplied checks the fake's estate shows an applied action.
func checkApplied(t *testing.T, est *azurefake.Estate, a domain.Action) {
	t.Helper()
	est.Lock()
	defer est.Unlock()
	id := a.Target.ID
	switch a.Kind {
	case domain.ActionDeleteDisk:
		if est.FindDisk(id) != nil {
			t.Errorf("disk %s still there after %s was applied", id, a.ID)
		}
	case domain.ActionReleaseIP:
		if est.FindPublicIP(id) != nil {
			t.Errorf("address %s still there after %s was applied", id, a.ID)
		}
	case domain.ActionDeleteSnapshot:
		if est.FindSnapshot(id) != nil {
			t.Errorf("snapshot %s still there after %s was applied", id, a.ID)
		}
	case domain.ActionStop:
		if vm := est.FindVM(id); vm == nil || vm.PowerState != azurefake.PowerDeallocated {
			t.Errorf("VM %s not deallocated after %s was applied: %+v", id, a.ID, vm)
		}
	case domain.ActionRightsize:
		if vm := est.FindVM(id); vm == nil || vm.Size != a.After.SKU {
			t.Errorf("VM %s not resized to %s after %s was applied: %+v", id, a.After.SKU, a.ID, vm)
		}
	}
}
