package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var (
	created   = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	generated = time.Date(2026, 11, 23, 6, 5, 0, 0, time.UTC)
	windowEnd = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
)

func usd(s string) domain.Money {
	m, err := domain.ParseMoney(s, "USD")
	if err != nil {
		panic(err)
	}
	return m
}

func target(cloud domain.Cloud, account, region string, kind domain.Kind, id string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: cloud, Account: account, Region: region, Kind: kind, ID: id}
}

func action(kind domain.ActionKind, ref domain.ResourceRef, name string, savings, cost string) domain.Action {
	return domain.Action{ID: domain.ActionID(kind, ref), PlanID: "plan-2026-11-23", Kind: kind, Target: ref, Name: name,
		MonthlySavings: usd(savings), MonthlyCost: usd(cost), SavingsBasis: domain.BasisListPrice, Risk: domain.RiskLow, Confidence: 1,
		Tags: map[string]string{"cloudtrim-optin": "true"}}
}

// fixedPlan is a hand-made plan with one action of every kind on two
// clouds and three accounts, and findings of several reasons.
func fixedPlan() domain.Plan {
	optIn := map[string]string{"cloudtrim-optin": "true", "team": "web"}
	web := target(domain.AWS, "111111111111", "us-east-1", domain.KindVM, "i-0a1b2c3d4e5f")
	rs := action(domain.ActionRightsize, web, "web-1", "109.50", "146.00")
	rs.Before = domain.ResourceState{SKU: "m5.2xlarge", State: "running"}
	rs.After = domain.ResourceState{SKU: "m5.large", State: "running"}
	rs.SavingsBasis = domain.BasisEffectiveCost
	rs.Risk, rs.Confidence = domain.RiskMedium, 0.86
	rs.Tags = optIn
	rs.Summary = "Resize web-1 from m5.2xlarge (8 vCPU, 32 GiB) to m5.large (2 vCPU, 8 GiB): CPU p95 9.9%"
	rs.Undo = "resize back to m5.2xlarge"
	rs.Evidence = domain.Evidence{
		WindowStart: windowEnd.Add(-14 * 24 * time.Hour), WindowEnd: windowEnd,
		CPU:    &domain.Stats{Points: 312, Hours: 312, Mean: 5.2, Max: 10, P50: 5, P95: 9.9, P99: 10},
		Memory: &domain.Stats{Points: 336, Hours: 336, Mean: 18.5, Max: 21, P50: 18, P95: 20, P99: 20.5},
		VCPU:   8, MemoryMiB: 32768, NewVCPU: 2, NewMemoryMiB: 8192,
		DailyPeakCPU: []float64{9.5, 10, 8.2, 7.7, -1, 9.9, 6.1, 9.2, 9.8, 10, 4.4, 3.9, 9.7, 9.6},
		Notes: []string{"CPU p95 is 9.9% of 8 vCPU: needs 1.1 vCPU at the 70% target",
			"bill: USD 67.20 effective cost over 336 h of charge periods (336 rows) = USD 146.00 a month"},
	}

	batch := target(domain.AWS, "222222222222", "eu-west-1", domain.KindVM, "i-0batch")
	stop := action(domain.ActionStop, batch, "batch-old", "280.32", "280.32")
	stop.Before = domain.ResourceState{SKU: "m5.2xlarge", State: "running"}
	stop.After = domain.ResourceState{SKU: "m5.2xlarge", State: "stopped"}
	stop.Risk, stop.Confidence = domain.RiskMedium, 1
	stop.Tags = map[string]string{"team": "batch"}
	stop.Summary = "Stop idle VM batch-old (m5.2xlarge): CPU p95 0.8% over 14 days (not opted in: tag cloudtrim-optin=true missing, the actuator will refuse it)"
	stop.Undo = "start the VM again"
	stop.Evidence = domain.Evidence{WindowStart: windowEnd.Add(-14 * 24 * time.Hour), WindowEnd: windowEnd,
		CPU:          &domain.Stats{Points: 336, Hours: 336, Mean: 0.4, Max: 1.2, P50: 0.3, P95: 0.8, P99: 1.1},
		DailyPeakCPU: []float64{1.2, 0.9, 0.8, 1, 0.7, 0.9, 1.1, 0.6, 0.8, 0.9, 1, 1.2, 0.5, 0.7}}

	dev := target(domain.GCP, "shop-dev", "europe-west1", domain.KindVM, "1234567890")
	sched := action(domain.ActionSchedule, dev, "dev-api", "180.21", "280.32")
	sched.Before = domain.ResourceState{SKU: "n2-standard-8", State: "running"}
	sched.After = domain.ResourceState{SKU: "n2-standard-8", State: "scheduled"}
	sched.Schedule = &domain.Schedule{TimeZone: "Europe/Paris", Days: "Mon-Fri", Start: "08:00", Stop: "20:00"}
	sched.Confidence = 0.9
	sched.Summary = "Run non-production VM dev-api (env=dev) only Mon-Fri 08:00-20:00 Europe/Paris"
	sched.Undo = "remove the schedule and start the VM"
	sched.Evidence.Notes = []string{"tag env=dev marks it non-production"}

	disk := target(domain.AWS, "111111111111", "us-east-1", domain.KindDisk, "vol-0f00")
	del := action(domain.ActionDeleteDisk, disk, "", "8.00", "8.00")
	del.Before = domain.ResourceState{SKU: "gp3", State: "available", SizeGiB: 100}
	del.After = domain.ResourceState{State: "deleted"}
	del.Summary = "Delete unattached disk vol-0f00 (100 GiB gp3), created 40 days ago"
	del.Undo = "restore from the snapshot taken before deletion"
	del.Evidence = domain.Evidence{AgeDays: 40.25, Notes: []string{"list price: USD 0.08 per GiB-month × 100 GiB"}}

	ip := target(domain.GCP, "shop-prod", "europe-west1", domain.KindIP, "35.1.2.3")
	rel := action(domain.ActionReleaseIP, ip, "", "3.65", "3.65")
	rel.Before = domain.ResourceState{State: "available"}
	rel.After = domain.ResourceState{State: "released"}
	rel.Risk = domain.RiskMedium
	rel.Summary = "Release unassociated address 35.1.2.3"
	rel.Undo = "allocate a new address: the released address cannot be got back"

	snap := target(domain.AWS, "222222222222", "eu-west-1", domain.KindSnapshot, "snap-0123")
	ds := action(domain.ActionDeleteSnapshot, snap, "nightly-2026-01", "2.50", "2.50")
	ds.Before = domain.ResourceState{State: "available", SizeGiB: 50, AttachedTo: "vol-0abc"}
	ds.After = domain.ResourceState{State: "deleted"}
	ds.Risk = domain.RiskMedium
	ds.Summary = "Delete snapshot nightly-2026-01 (50 GiB), 320 days old"
	ds.Undo = "none: a deleted snapshot cannot be restored"
	ds.Evidence.AgeDays = 320

	actions := []domain.Action{rs, stop, sched, del, rel, ds}
	domain.SortActions(actions)

	var skipped []domain.Finding
	for i, h := range []string{"12", "0", "29", "3", "7", "18", "22"} {
		skipped = append(skipped, domain.Finding{Target: target(domain.AWS, "111111111111", "us-east-1", domain.KindVM, "i-short"+string(rune('a'+i))),
			Kind: domain.ActionRightsize, Reason: "insufficient data: " + h + " h observed, need 30 h"})
	}
	skipped = append(skipped,
		domain.Finding{Target: target(domain.AWS, "111111111111", "us-east-1", domain.KindVM, "i-db"), Reason: "protected by tag do-not-touch"},
		domain.Finding{Target: target(domain.GCP, "shop-prod", "europe-west1", domain.KindVM, "42"), Reason: "tags or state could not be read: labels: permission denied"},
	)
	return domain.Plan{
		Version: domain.PlanVersion, ID: "plan-2026-11-23", CreatedAt: created, Currency: "USD", PolicyHash: "94ffc4549719f53c",
		OptInTag: "cloudtrim-optin",
		Snapshots: []domain.SnapshotRef{
			{Cloud: domain.AWS, RunID: "run-aws-20261123T0000", Manifest: "aws/run-aws-20261123T0000/manifest.json", At: windowEnd},
			{Cloud: domain.GCP, RunID: "run-gcp-20261123T0010", Manifest: "gcp/run-gcp-20261123T0010/manifest.json", At: windowEnd.Add(10 * time.Minute)},
		},
		Resources: 1234, Actions: actions, Skipped: skipped,
	}
}

func fixedOutcomes(p domain.Plan) map[string]Outcome {
	out := map[string]Outcome{}
	for _, a := range p.Actions {
		switch a.Kind {
		case domain.ActionRightsize:
			out[a.ID] = Outcome{ActionID: a.ID, Status: domain.StatusApplied, Realized: usd("104.12")}
		case domain.ActionDeleteDisk:
			out[a.ID] = Outcome{ActionID: a.ID, Status: domain.StatusApplied, Realized: usd("8.00")}
		case domain.ActionSchedule:
			out[a.ID] = Outcome{ActionID: a.ID, Status: domain.StatusDryRun, DryRun: true}
		case domain.ActionStop:
			out[a.ID] = Outcome{ActionID: a.ID, Status: domain.StatusSkipped, Reason: "resource is not opted in"}
		case domain.ActionReleaseIP:
			out[a.ID] = Outcome{ActionID: a.ID, Status: domain.StatusFailed, Reason: "permission denied: compute.addresses.delete"}
		}
	}
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./shared/report -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got; go test ./shared/report -update to accept):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	plan := fixedPlan()
	tests := []struct {
		name string
		in   Input
	}{
		{"plan", Input{Plan: plan, GeneratedAt: generated}},
		{"outcomes", Input{Plan: plan, Outcomes: fixedOutcomes(plan), GeneratedAt: generated}},
		{"empty", Input{Plan: domain.Plan{Version: domain.PlanVersion, ID: "plan-empty", CreatedAt: created, Currency: "EUR"}, GeneratedAt: generated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name+".md", Markdown(tt.in))
			page, err := HTML(tt.in)
			if err != nil {
				t.Fatalf("HTML() error: %v", err)
			}
			golden(t, tt.name+".html", page)
		})
	}
}

func TestSummary(t *testing.T) {
	plan := fixedPlan()
	got := Summary(Input{Plan: plan, Outcomes: fixedOutcomes(plan)})
	z := domain.Money{Currency: "USD"}
	want := Totals{
		Currency: "USD", Actions: 6, MonthlySavings: usd("584.18"), AnnualSavings: usd("7010.16"),
		ByCloud: []Group{
			{Cloud: domain.AWS, Actions: 4, MonthlySavings: usd("400.32"), Applied: 2, Realized: usd("112.12")},
			{Cloud: domain.GCP, Actions: 2, MonthlySavings: usd("183.86"), Realized: z},
		},
		ByAccount: []Group{
			{Cloud: domain.AWS, Account: "222222222222", Actions: 2, MonthlySavings: usd("282.82"), Realized: z},
			{Cloud: domain.GCP, Account: "shop-dev", Actions: 1, MonthlySavings: usd("180.21"), Realized: z},
			{Cloud: domain.AWS, Account: "111111111111", Actions: 2, MonthlySavings: usd("117.5"), Applied: 2, Realized: usd("112.12")},
			{Cloud: domain.GCP, Account: "shop-prod", Actions: 1, MonthlySavings: usd("3.65"), Realized: z},
		},
		ByKind: []Group{
			{Kind: domain.ActionRightsize, Actions: 1, MonthlySavings: usd("109.5"), Applied: 1, Realized: usd("104.12")},
			{Kind: domain.ActionStop, Actions: 1, MonthlySavings: usd("280.32"), Realized: z},
			{Kind: domain.ActionSchedule, Actions: 1, MonthlySavings: usd("180.21"), Realized: z},
			{Kind: domain.ActionDeleteDisk, Actions: 1, MonthlySavings: usd("8"), Applied: 1, Realized: usd("8")},
			{Kind: domain.ActionReleaseIP, Actions: 1, MonthlySavings: usd("3.65"), Realized: z},
			{Kind: domain.ActionDeleteSnapshot, Actions: 1, MonthlySavings: usd("2.5"), Realized: z},
		},
		Outcomes: &OutcomeCounts{Applied: 2, DryRun: 1, Skipped: 1, Failed: 1, Pending: 1, Realized: usd("112.12"), DryRunSavings: usd("180.21")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summary() (-want +got):\n%s", diff)
	}
	if got := Summary(Input{Plan: plan}); got.Outcomes != nil {
		t.Errorf("Summary() without outcomes: Outcomes = %+v; want nil", got.Outcomes)
	}
}

// hostilePlan carries markup in every field a cloud user controls.
func hostilePlan() domain.Plan {
	p := fixedPlan()
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	p.Actions[0].Name = evil
	p.Actions[0].Summary = "Resize " + evil + " | *bold* [link](javascript:alert(1))"
	p.Actions[0].Target.ID = `i-"><svg onload=alert(1)>`
	p.Actions[0].Evidence.Notes = append(p.Actions[0].Evidence.Notes, "</style><script>alert(2)</script>")
	p.Actions[0].Undo = "`rm -rf` <b>"
	p.Skipped[0].Reason = "insufficient data: <script>alert(3)</script>"
	p.Snapshots[0].RunID = `run"><script>alert(4)</script>`
	return p
}

func TestHTMLEscapes(t *testing.T) {
	page, err := HTML(Input{Plan: hostilePlan(), Outcomes: map[string]Outcome{"x": {Reason: "<script>"}}, GeneratedAt: generated})
	if err != nil {
		t.Fatalf("HTML() error: %v", err)
	}
	s := string(page)
	for _, bad := range []string{"<script", "<img src=x", "<svg onload", "` <b>", "</style><", `"><svg`} {
		if strings.Contains(s, bad) {
			t.Errorf("HTML() contains %q unescaped", bad)
		}
	}
	if !strings.Contains(s, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("HTML() does not show the hostile name escaped")
	}
}

func TestMarkdownEscapes(t *testing.T) {
	s := string(Markdown(Input{Plan: hostilePlan(), GeneratedAt: generated}))
	// The report's own markup uses no HTML, code spans or links: once the
	// backslash escapes are taken out, none may be left.
	bare := regexp.MustCompile(`\\.`).ReplaceAllString(s, "")
	for _, bad := range []string{"<", ">", "`", "[", "]", "*bold*"} {
		if strings.Contains(bare, bad) {
			t.Errorf("Markdown() contains %q unescaped", bad)
		}
	}
	// A table row must keep its cell count: a "|" in a name is escaped.
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "| 1 |") {
			if n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); n != 11 {
				t.Errorf("action row has %d cell separators; want 11: %s", n, line)
			}
		}
	}
}

func TestHTMLSelfContained(t *testing.T) {
	plan := fixedPlan()
	for _, in := range []Input{{Plan: plan, GeneratedAt: generated}, {Plan: plan, Outcomes: fixedOutcomes(plan), GeneratedAt: generated}} {
		page, err := HTML(in)
		if err != nil {
			t.Fatalf("HTML() error: %v", err)
		}
		lower := bytes.ToLower(page)
		for _, ref := range []string{"http://", "https://", "//cdn", "<script", "<link", "<img", "<iframe", "@import", "url(", "src="} {
			if bytes.Contains(lower, []byte(ref)) {
				t.Errorf("HTML() contains %q: the page must not load anything", ref)
			}
		}
		for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllSubmatch(page, -1) {
			if !bytes.HasPrefix(m[1], []byte("#")) {
				t.Errorf("HTML() links to %q; only in-page anchors are allowed", m[1])
			}
		}
		if !bytes.Contains(page, []byte("<svg class=\"peaks\"")) {
			t.Errorf("HTML() has no inline SVG of the daily peaks")
		}
	}
}

func TestLongPlansAreCut(t *testing.T) {
	in := Input{Plan: domain.Plan{Version: domain.PlanVersion, ID: "plan-long", Currency: "USD"}, MaxActions: 3}
	for i := range 10 {
		ref := domain.ResourceRef{Cloud: domain.AWS, Account: "1", Region: "us-east-1", Kind: domain.KindIP, ID: fmt.Sprintf("eip-%02d", i)}
		in.Plan.Actions = append(in.Plan.Actions, domain.Action{ID: fmt.Sprintf("act-%02d", i), PlanID: "plan-long", Kind: domain.ActionReleaseIP,
			Target: ref, MonthlySavings: domain.USD(1_000_000), Summary: "release " + ref.ID})
	}
	md := string(Markdown(in))
	html, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"markdown": md, "html": string(html)} {
		if !strings.Contains(out, "7 more actions saving USD 7.00 a month") {
			t.Errorf("%s report does not say 7 actions were left out", name)
		}
		if strings.Contains(out, "eip-03") || !strings.Contains(out, "eip-02") {
			t.Errorf("%s report does not list exactly the first 3 actions", name)
		}
	}
	if got := Summary(in); got.Actions != 10 || got.MonthlySavings != domain.USD(10_000_000) {
		t.Errorf("Summary = %d actions, %v; want all 10 counted", got.Actions, got.MonthlySavings)
	}
}
