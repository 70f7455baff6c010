package local_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

// checkDemoPlacement checks the demo plan's placement section: the data
// and web teams' VMs are placed, every variant is consistent, and none
// of its migrations became an action.
func checkDemoPlacement(t *testing.T, plan domain.Plan) {
	t.Helper()
	pl := plan.Placement
	if pl == nil || pl.Workloads == 0 || len(pl.Variants) != 3 {
		t.Fatalf("demo plan placement = %+v; want three variants over the movable VMs", pl)
	}
	if len(pl.Variants[0].ResourceMigrations) == 0 || pl.Variants[0].CostSavings.Micros <= 0 {
		t.Errorf("max_savings = %+v; want migrations that save money", pl.Variants[0])
	}
	actions := map[string]bool{}
	for _, a := range plan.Actions {
		actions[a.ID] = true
	}
	for _, v := range pl.Variants {
		if len(v.ResourceMigrations) > pl.MaxMoves {
			t.Errorf("%s: %d migrations; the cap is %d", v.Name, len(v.ResourceMigrations), pl.MaxMoves)
		}
		for _, m := range v.ResourceMigrations {
			if team := m.Evidence.Notes; len(team) == 0 || !strings.HasPrefix(team[0], "tag team=") {
				t.Errorf("%s: migration of %s is not marked by the demo's team tags: %v", v.Name, m.Target.ID, m.Evidence.Notes)
			}
			for _, k := range domain.ActionKinds {
				if actions[domain.ActionID(k, m.Target)] && k != domain.ActionRightsize && k != domain.ActionSchedule {
					t.Errorf("%s: %s migrates and is also %s", v.Name, m.Target.ID, k)
				}
			}
		}
	}
}

// TestPlacementGolden pins the placement section of a plan made from a
// small generated estate (not the demo's), with the demo's policy.
// Regenerate with: go test ./shared/runtime/local -run TestPlacementGolden -update
func TestPlacementGolden(t *testing.T) {
	ctx := context.Background()
	rt, err := local.Open(ctx, local.Options{Dir: t.TempDir(), Now: func() time.Time { return demoNow },
		Policy: local.DemoPolicy(), Estate: local.EstateConfig{Seed: 7, Resources: 150}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Collect(ctx, domain.Clouds, 14, nil); err != nil {
		t.Fatal(err)
	}
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(plan.Placement, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "placement.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("placement differs from %s (-want +got); if intended, rerun with -update:\n%s", golden, diff)
	}
}

func TestDemoPolicy(t *testing.T) {
	pol := local.DemoPolicy()
	if err := pol.Validate(); err != nil {
		t.Fatalf("DemoPolicy().Validate() = %v", err)
	}
	want := domain.DefaultPolicy()
	want.Placement.Movable = []domain.TagSelector{{Key: "team", Value: "data"}, {Key: "team", Value: "web"}}
	want.Schedules.Default.Holidays = "US"
	if diff := cmp.Diff(want, pol); diff != "" {
		t.Errorf("DemoPolicy() differs from the default beyond its movable teams and holidays (-want +got):\n%s", diff)
	}
}
