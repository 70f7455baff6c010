package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// demoNow is a fixed Monday 10:00 UTC, inside the default schedule.
var demoNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// openRuntime opens the runtime in dir with the demo's policy, as the
// demo command does.
func openRuntime(t *testing.T, dir string) *local.Runtime {
	t.Helper()
	rt, err := local.Open(context.Background(), local.Options{Dir: dir, Now: func() time.Time { return demoNow }, Policy: local.DemoPolicy()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// TestDemoEndToEnd runs the whole pipeline in process on the demo estate
// and checks every step's effect, not only its output.
func TestDemoEndToEnd(t *testing.T) {
	ctx := context.Background()
	rt := openRuntime(t, t.TempDir())
	before := map[string]domain.Resource{}
	for _, r := range rt.Sim.Estate.Resources() {
		before[r.ID] = r
	}
	var out bytes.Buffer
	if err := local.Demo(ctx, rt, &out, io.Discard); err != nil {
		t.Fatalf("Demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"1. collect", "2. ingest the bills", "3. plan", "placement (advice, not actions)", "- max savings: saves",
		"- balanced: ", "- performance first: ", "4. approve", "5. actuate", "6. collect again", "summary", "report.html"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}

	plan, err := rt.Pipeline.LatestPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkDemoBilling(t, rt, plan)
	checkDemoPlacement(t, plan)
	kinds := map[domain.ActionKind]int{}
	for _, a := range plan.Actions {
		kinds[a.Kind]++
	}
	for _, k := range domain.ActionKinds {
		if kinds[k] == 0 {
			t.Errorf("the demo plan has no %s action; kinds: %v", k, kinds)
		}
	}
	states, err := rt.Pipeline.Lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The blast-radius cap (20 % of the fleet a run) held some actions
	// back: none beyond the cap was applied, and the rest wait, queued.
	capacity := actuate.RunBudget(domain.DefaultPolicy().Caps, plan.Resources).Left()
	first, held := 0, 0
	for _, st := range states {
		switch {
		case st.Status == domain.StatusApplied:
			first++
		case st.Status == domain.StatusQueued && strings.Contains(st.Reason, "cap"):
			held++
		}
	}
	if first != capacity || held == 0 {
		t.Fatalf("first run applied %d and held %d; want exactly the cap (%d) applied and the rest held", first, held, capacity)
	}
	// Later runs apply the rest, a cap's worth at a time.
	for run := 2; run <= 5; run++ {
		sum, err := rt.Actuate(ctx, false, nil)
		if err != nil {
			t.Fatalf("actuation run %d: %v", run, err)
		}
		if sum.Counts[domain.StatusApplied] > capacity {
			t.Fatalf("run %d applied %d; the cap is %d", run, sum.Counts[domain.StatusApplied], capacity)
		}
		if sum.Held == 0 {
			break
		}
	}
	if states, err = rt.Pipeline.Lake.ActionStates(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	applied := 0
	after := map[string]domain.Resource{}
	for _, r := range rt.Sim.Estate.Resources() {
		after[r.ID] = r
	}
	pol := domain.DefaultPolicy()
	for _, a := range plan.Actions {
		st, ok := states[a.ID]
		if !ok || !st.Status.Terminal() {
			t.Errorf("action %s (%s) ended in state %+v; want a terminal state", a.ID, a.Kind, st)
			continue
		}
		if st.Status == domain.StatusApplied {
			applied++
		}
		r := before[a.Target.ID]
		if !pol.OptedIn(r.Tags) && st.Status == domain.StatusApplied {
			t.Errorf("action %s applied to %s, which is not opted in", a.ID, a.Target.ID)
		}
		if st.Status != domain.StatusApplied {
			continue
		}
		switch a.Kind {
		case domain.ActionRightsize:
			if got := after[a.Target.ID]; got.SKU != a.After.SKU || got.State != domain.StateRunning {
				t.Errorf("rightsized %s is %s %s; want %s running", a.Target.ID, got.SKU, got.State, a.After.SKU)
			}
		case domain.ActionStop:
			if got := after[a.Target.ID]; got.State != domain.StateStopped {
				t.Errorf("stopped %s is %s", a.Target.ID, got.State)
			}
		case domain.ActionDeleteDisk, domain.ActionDeleteSnapshot, domain.ActionReleaseIP:
			if got, ok := after[a.Target.ID]; ok && got.State != domain.StateDeleted && got.State != domain.StateReleased {
				t.Errorf("%s %s still exists as %s", a.Kind, a.Target.ID, got.State)
			}
		}
	}
	if applied == 0 {
		t.Fatal("the demo applied nothing")
	}
	// Protected and unreadable resources are never touched.
	for id, r := range before {
		_, protected := pol.Protected(r.Tags)
		if !protected && r.Incomplete == "" {
			continue
		}
		a, ok := after[id]
		if !ok || a.SKU != r.SKU || a.State != r.State {
			t.Errorf("protected/incomplete resource %s changed: %+v → %+v", id, r.Observed(), a.Observed())
		}
	}
	// The second collection sees a cheaper estate.
	rates, err := rt.Pipeline.RunRates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != 3 {
		t.Fatalf("run rates for %d clouds; want 3", len(rates))
	}
	// Every applied change has an audit record before and after.
	evs, err := rt.Pipeline.Lake.Audit(ctx, demoNow.Add(-24*time.Hour), demoNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	starts, dones := 0, 0
	for _, ev := range evs {
		switch ev.Type {
		case domain.AuditApplyStart:
			starts++
		case domain.AuditApplyDone:
			dones++
		}
	}
	if dones != applied || starts < applied {
		t.Errorf("audit has %d apply_start and %d apply_done events for %d applied actions", starts, dones, applied)
	}
	for _, name := range []string{"report.md", "report.html"} {
		b, err := rt.Pipeline.Lake.Get(ctx, "plans/"+plan.ID+"/"+name)
		if err != nil || len(b) < 500 {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
}

// TestDemoPlanGolden pins the plan made from the committed demo estate.
// Regenerate with: go test ./shared/runtime/local -run TestDemoPlanGolden -update
func TestDemoPlanGolden(t *testing.T) {
	ctx := context.Background()
	rt := openRuntime(t, t.TempDir())
	if _, err := rt.Collect(ctx, domain.Clouds, 14, nil); err != nil {
		t.Fatal(err)
	}
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := normalize(t, plan)
	golden := filepath.Join("testdata", "demo-plan.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("demo plan differs from %s (-want +got); if intended, rerun with -update:\n%s", golden, diff)
	}
}

// normalize replaces the run-specific identifiers (plan and run IDs
// carry random suffixes) so the golden file holds only what the
// optimizer decided.
func normalize(t *testing.T, plan domain.Plan) []byte {
	t.Helper()
	plan.ID = "PLAN"
	for i := range plan.Actions {
		plan.Actions[i].PlanID = "PLAN"
	}
	for i := range plan.Snapshots {
		plan.Snapshots[i].RunID = "RUN"
		plan.Snapshots[i].Manifest = "MANIFEST"
		plan.Snapshots[i].Checksum = ""
	}
	b, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestStepByStepCommands drives the cloudtrim command as a user would,
// one process-like call per step, sharing state only through the data
// directory.
func TestStepByStepCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := local.Main(ctx, append(args, "--dir", dir), &out, &errb)
		return out.String() + errb.String(), code
	}
	if out, code := run("collect"); code != 0 {
		t.Fatalf("collect: exit %d\n%s", code, out)
	}
	// The real FOCUS 1.0 sample (FinOps Foundation, CC-BY-4.0).
	sample := filepath.Join("..", "..", "focus", "testdata", "focus", "focus-1.0-sample-slice.csv")
	if out, code := run("ingest", sample); code != 0 || !strings.Contains(out, "173 rows") || !strings.Contains(out, "unsupported_provider") ||
		!strings.Contains(out, "committed billing aws") || !strings.Contains(out, "committed billing azure") {
		t.Fatalf("ingest: exit %d\n%s", code, out)
	}
	if out, code := run("plan"); code != 0 || !strings.Contains(out, "total") {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	out, code := run("report", "--format", "json")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, out)
	}
	var plan domain.Plan
	if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan.Actions) == 0 {
		t.Fatalf("report --format json: %v\n%.300s", err, out)
	}
	var target domain.Action
	for _, a := range plan.Actions {
		if a.Kind == domain.ActionRightsize && domain.DefaultPolicy().OptedIn(a.Tags) {
			target = a
			break
		}
	}
	if target.ID == "" {
		t.Fatal("no opted-in rightsize action in the demo plan")
	}
	if out, code := run("approve", "--action", target.ID); code != 0 || !strings.Contains(out, "1 approved") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	// A dry run changes nothing.
	if out, code := run("actuate"); code != 0 || !strings.Contains(out, "1 dry_run") {
		t.Fatalf("actuate (dry run): exit %d\n%s", code, out)
	}
	rt := openRuntime(t, dir)
	live, err := rt.Sim.Estate.Cloud(target.Target.Cloud).Get(ctx, target.Target)
	if err != nil || live.SKU != target.Before.SKU {
		t.Fatalf("after a dry run %s is %s (%v); want unchanged %s", target.Target.ID, live.SKU, err, target.Before.SKU)
	}
	rt.Close()
	// A dry run does not use up the approval: --apply applies it.
	if out, code := run("actuate", "--apply"); code != 0 || !strings.Contains(out, "1 applied") {
		t.Fatalf("actuate --apply: exit %d\n%s", code, out)
	}
	rt = openRuntime(t, dir)
	live, err = rt.Sim.Estate.Cloud(target.Target.Cloud).Get(ctx, target.Target)
	if err != nil || live.SKU != target.After.SKU {
		t.Fatalf("after --apply in a new process %s is %s (%v); want %s", target.Target.ID, live.SKU, err, target.After.SKU)
	}
}

func TestCommandErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bad := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(bad, []byte(`{"version":"cloudtrim.policy/v1","idle":{"max_cpu_percent":250}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		wantCode int
		wantMsg  string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"plan", "--dir", dir}, 1, "no committed snapshot"},
		{[]string{"collect", "--dir", dir, "--clouds", "oracle"}, 2, "unknown cloud"},
		{[]string{"plan", "--dir", dir, "--policy", bad}, 1, "idle.max_cpu_percent"},
		{[]string{"report", "--dir", dir, "--plan", "plan-nope"}, 1, "plan-nope"},
		{[]string{"collect", "--help"}, 0, "Usage: cloudtrim collect"},
		{[]string{"actuate", "--dir", dir, "stray"}, 2, "unexpected arguments"},
		{[]string{"ingest", "--dir", dir}, 2, "name at least one file"},
		{[]string{"ingest", "--dir", dir, filepath.Join(dir, "missing.csv")}, 1, "missing.csv"},
		{[]string{"ingest", "--dir", dir, bad}, 1, "no billing format has the columns"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := local.Main(ctx, tt.args, &out, &out)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantMsg) {
				t.Errorf("Main(%v) = %d, %q; want %d and a message containing %q", tt.args, code, out.String(), tt.wantCode, tt.wantMsg)
			}
		})
	}
}

// checkDemoBilling checks what the ingested bills did to the plan: every
// cloud priced from its billing export, the account-level resources only
// the bill knows found, forecasts with a backtest, and the two events the
// simulated bills carry flagged with the right contributors.
func checkDemoBilling(t *testing.T, rt *local.Runtime, plan domain.Plan) {
	t.Helper()
	ctx := context.Background()
	if len(plan.BillChecks) != 3 {
		t.Fatalf("plan has %d bill checks; want one per cloud", len(plan.BillChecks))
	}
	for _, bc := range plan.BillChecks {
		if bc.Source != "billing export" || !bc.ResourceRows {
			t.Errorf("%s bill check = %+v; want resource rows from the billing export", bc.Cloud, bc)
		}
		if bc.InventoryNotBilled != 0 {
			t.Errorf("%s: %d inventoried resources not billed; the export bills every one: %v", bc.Cloud, bc.InventoryNotBilled, bc.ExamplesInventoryNotBilled)
		}
	}
	aws := plan.BillChecks[0]
	found := map[string]bool{}
	for _, b := range aws.TopBilledNotInInventory {
		switch {
		case strings.HasPrefix(b.ResourceID, "nat-"):
			found["nat"] = true
		case strings.Contains(b.ResourceID, ":notebook-instance/"):
			found["sagemaker"] = true
		}
	}
	if aws.Cloud != domain.AWS || !found["nat"] || !found["sagemaker"] {
		t.Errorf("aws billed-not-inventoried = %+v; want the NAT gateways and the SageMaker notebook", aws.TopBilledNotInInventory)
	}
	in, err := rt.Pipeline.ReportInput(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	sp := in.Spend
	if sp == nil {
		t.Fatal("the plan has no spend forecast")
	}
	clouds := map[domain.Cloud]bool{}
	for _, f := range sp.Forecasts {
		if f.Key.Level == forecast.LevelCloud && f.HorizonDays == 30 {
			clouds[f.Key.Cloud] = true
			if f.MAPE == nil || *f.MAPE > 0.25 || f.HistoryDays < 60 {
				t.Errorf("%s forecast: MAPE %v over %d days of history; want a backtested forecast over the 90 days ingested", f.Key.Cloud, f.MAPE, f.HistoryDays)
			}
		}
	}
	if len(clouds) != 3 {
		t.Errorf("30-day cloud forecasts for %v; want all three clouds", clouds)
	}
	var newService, natSpike bool
	today := rt.Sim.Estate.Now().UTC().Truncate(24 * time.Hour)
	for _, a := range sp.Anomalies {
		if a.Kind == forecast.KindNewService && a.Key.Service == simcloud.NewServiceName {
			newService = true
		}
		if a.Kind == forecast.KindSpike && a.Key.Level == forecast.LevelService && a.Key.Service == "Amazon Virtual Private Cloud" &&
			a.Day.Equal(today.AddDate(0, 0, -simcloud.SpikeDaysAgo)) && len(a.Top) > 0 && strings.HasPrefix(a.Top[0].Name, "nat-") {
			natSpike = true
		}
	}
	if !newService || !natSpike {
		t.Errorf("anomalies found: new service %v, NAT spike %v; want both:\n%+v", newService, natSpike, sp.Anomalies)
	}
}
