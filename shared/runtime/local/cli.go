package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/report"
)

const usage = `cloudtrim finds the money a cloud estate wastes, proposes a plan, and applies
what people approve.

Usage: cloudtrim <command> [flags]

Commands:
  demo      run collect → plan → approve → actuate → collect on the simulated estate
  collect   read the clouds into a committed snapshot in the lake
  ingest    read billing exports (FOCUS, AWS CUR, Azure, Google Cloud) into the lake
  plan      turn the latest snapshots into a plan and its reports
  approve   sign and send an approval of the latest plan to the webhook
  actuate   apply the approved actions (dry run unless --apply)
  report    print a plan's report (markdown, html or json)
  serve     run the approval webhook for a chat tool or a browser
  audit     list the audit trail: decisions and changes, before and after
  kill-switch  show, engage or release the switch that stops all actuation
  schedules    start and stop the scheduled VMs at their windows' edges (dry run unless --apply)

Run 'cloudtrim <command> --help' for a command's flags. Flags can also be set
in the environment: CLOUDTRIM_DIR, CLOUDTRIM_LAKE_URL, CLOUDTRIM_WEBHOOK_SECRET,
CLOUDTRIM_POLICY, CLOUDTRIM_APPLY=true.
`

// Main runs the cloudtrim command with args (without the program name)
// and returns the process exit code: 0 on success, 1 on failure, 2 on a
// usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"demo": cmdDemo, "collect": cmdCollect, "plan": cmdPlan, "approve": cmdApprove,
		"actuate": cmdActuate, "report": cmdReport, "serve": cmdServe, "ingest": cmdIngest,
		"audit": cmdAudit, "kill-switch": cmdKillSwitch, "schedules": cmdSchedules,
	}
	run, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cloudtrim: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "cloudtrim %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "cloudtrim %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// common holds the flags every command shares.
type common struct {
	dir, lakeURL, policy string
	verbose              bool
}

func newFlags(name, summary string, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{}
	fs.StringVar(&c.dir, "dir", envOr("CLOUDTRIM_DIR", ".cloudtrim/local"), "data directory (lake, webhook secret)")
	fs.StringVar(&c.lakeURL, "lake", os.Getenv("CLOUDTRIM_LAKE_URL"), "lake URL (file://, mem://, s3://, gs://, azblob://); default: <dir>/lake")
	fs.StringVar(&c.policy, "policy", os.Getenv("CLOUDTRIM_POLICY"), "policy JSON file; default: the built-in policy")
	fs.BoolVar(&c.verbose, "v", false, "log every step as JSON on stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cloudtrim %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs, c
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

func (c *common) open(ctx context.Context, stderr io.Writer, est EstateConfig) (*Runtime, error) {
	pol := domain.DefaultPolicy()
	if c.policy != "" {
		f, err := os.Open(c.policy)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		defer f.Close()
		if pol, err = domain.ParsePolicy(c.policy, f); err != nil {
			return nil, err
		}
	}
	logger := slog.New(slog.DiscardHandler)
	if c.verbose {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return Open(ctx, Options{Dir: c.dir, LakeURL: c.lakeURL, Policy: pol, Estate: est,
		Secret: []byte(os.Getenv("CLOUDTRIM_WEBHOOK_SECRET")), Logger: logger})
}

func cmdCollect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("collect", "Reads inventory, utilization and cost of each cloud and commits one snapshot per cloud.", stderr)
	clouds := fs.String("clouds", "aws,azure,gcp", "comma-separated clouds to collect")
	days := fs.Int("days", 14, "days of history to read")
	est := estateFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cs, err := parseClouds(*clouds)
	if err != nil {
		return usageError{err}
	}
	rt, err := c.open(ctx, stderr, *est)
	if err != nil {
		return err
	}
	defer rt.Close()
	res, err := rt.Collect(ctx, cs, *days, progressPrinter(stderr))
	if err != nil {
		return err
	}
	printCollect(stdout, res)
	return nil
}

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("plan", "Turns the latest committed snapshot of every cloud into a plan, with Markdown and HTML reports.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	fmt.Fprintln(stderr, "planning…")
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		return err
	}
	printPlan(stdout, plan)
	fmt.Fprintf(stdout, "\nreport: %s\n", rt.ArtifactPath(plan.ID, "report.html"))
	return nil
}

func cmdApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("approve", "Signs an approval of the latest (or a given) plan with the webhook secret and sends it to the webhook, as a chat tool would.", stderr)
	planID := fs.String("plan", "", "plan ID (default: the newest plan)")
	approver := fs.String("approver", envOr("USER", "cli"), "who approves")
	url := fs.String("url", "", "webhook URL of a running 'cloudtrim serve' (default: start one in this process)")
	var only, reject listFlag
	fs.Var(&only, "action", "approve only this action ID (repeatable); default: the whole plan")
	fs.Var(&reject, "reject", "reject this action ID (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	plan, err := rt.plan(ctx, *planID)
	if err != nil {
		return err
	}
	res, target, err := rt.SendApproval(ctx, *url, &plan, *approver, only, reject)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent a signed approval to %s as %q: %d approved, %d rejected, %d queued\n",
		target, *approver, len(res.Approved), len(res.Rejected), res.Enqueued)
	fmt.Fprintln(stdout, "run 'cloudtrim actuate' (dry run) or 'cloudtrim actuate --apply' next")
	return nil
}

func cmdActuate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("actuate", "Applies the approved actions of the newest plan. Dry run unless --apply is given: a dry run re-reads every resource and records what it would do, without changing anything.", stderr)
	apply := fs.Bool("apply", os.Getenv("CLOUDTRIM_APPLY") == "true", "make changes (default: dry run)")
	if err := parse(fs, args); err != nil {
		return err
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	sum, err := rt.Actuate(ctx, !*apply, actionPrinter(stderr))
	if isTerminal(stderr) {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	printActuate(stdout, sum, !*apply)
	return nil
}

func cmdSchedules(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("schedules", "Keeps every VM under an applied schedule on it: starts those whose window is open and stops those whose window is closed or whose holiday it is, unless an override, a protection tag or the kill switch says otherwise. Run it on a timer (every 15 minutes). Dry run unless --apply is given.", stderr)
	apply := fs.Bool("apply", os.Getenv("CLOUDTRIM_APPLY") == "true", "make changes (default: dry run)")
	if err := parse(fs, args); err != nil {
		return err
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	rep, n, err := rt.EnforceSchedules(ctx, !*apply)
	if err != nil {
		return err
	}
	printSchedules(stdout, rep, n)
	return nil
}

// printSchedules prints what one scheduler run did.
func printSchedules(w io.Writer, rep actuate.EnforceReport, n int) {
	if rep.Halted != "" {
		fmt.Fprintf(w, "schedules: %d applied; nothing changed: %s\n", n, rep.Halted)
		return
	}
	mode := "changes enabled"
	if rep.DryRun {
		mode = "dry run"
	}
	fmt.Fprintf(w, "schedules (%s): %d applied, %d started, %d stopped, %d already right, %d left alone, %d failed\n",
		mode, n, rep.Started, rep.Stopped, rep.Unchanged, len(rep.Skipped), len(rep.Failed))
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "   - %s\n", s)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "   ! %s\n", f)
	}
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("report", "Prints the report of the newest (or a given) plan, with the outcomes recorded so far.", stderr)
	planID := fs.String("plan", "", "plan ID (default: the newest plan)")
	format := fs.String("format", "md", "md, html or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	plan, err := rt.plan(ctx, *planID)
	if err != nil {
		return err
	}
	in, err := rt.Pipeline.ReportInput(ctx, plan)
	if err != nil {
		return err
	}
	switch *format {
	case "md":
		_, err = stdout.Write(report.Markdown(in))
	case "html":
		var b []byte
		if b, err = report.HTML(in); err == nil {
			_, err = stdout.Write(b)
		}
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(plan)
	default:
		return usageError{fmt.Errorf("unknown format %q (want md, html or json)", *format)}
	}
	return err
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("serve", "Serves the approval channels until interrupted: POST /approve (the HMAC-signed webhook), POST /slack/actions (Slack interactivity, verified with CLOUDTRIM_SLACK_SIGNING_SECRET) and /approve/link (signed single-use links).", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	if err := parse(fs, args); err != nil {
		return err
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	srv, err := rt.ServeApprovals(*addr)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "approval webhook listening on %s\n", srv.URL)
	<-ctx.Done()
	return nil
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("demo", "Runs the whole pipeline on the simulated three-cloud estate: collect, plan, approve through the signed webhook, actuate (changes enabled for the demo), collect again, and prints what was found, changed and saved.", stderr)
	fresh := fs.Bool("fresh", true, "start from an empty data directory")
	est := estateFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.dir == envOr("CLOUDTRIM_DIR", ".cloudtrim/local") && os.Getenv("CLOUDTRIM_DIR") == "" {
		c.dir = ".cloudtrim/demo"
	}
	if *fresh && c.lakeURL == "" {
		if err := os.RemoveAll(c.dir); err != nil {
			return fmt.Errorf("clear %s: %w", c.dir, err)
		}
	}
	if c.policy == "" {
		path, err := writeDemoPolicy(c.dir)
		if err != nil {
			return err
		}
		c.policy = path
		fmt.Fprintf(stdout, "policy: %s (the default, with the data and web teams' VMs movable)\n", path)
	}
	rt, err := c.open(ctx, stderr, *est)
	if err != nil {
		return err
	}
	defer rt.Close()
	return Demo(ctx, rt, stdout, stderr)
}

// Demo runs the demo on an open runtime and prints its story.
func Demo(ctx context.Context, rt *Runtime, stdout, stderr io.Writer) error {
	start := time.Now()
	info := rt.Sim.Info()
	fmt.Fprintf(stdout, "cloudtrim demo: simulated estate of %d resources on aws, azure and gcp (seed %d), lake %s\n\n",
		info.Resources, info.Seed, rt.LakeURL())

	fmt.Fprintln(stdout, "1. collect")
	before, err := collectAndMeasure(ctx, rt, stdout, stderr)
	if err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n2. ingest the bills (the estate's last 90 days as each cloud exports them: AWS CUR, Azure EA, Google BigQuery JSON)")
	if err := demoIngest(ctx, rt, stdout, stderr); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n3. plan")
	plan, err := rt.Pipeline.Plan(ctx)
	if err != nil {
		return err
	}
	printPlan(stdout, plan)
	if in, err := rt.Pipeline.ReportInput(ctx, plan); err == nil {
		printSpend(stdout, plan, in.Spend)
	}

	fmt.Fprintln(stdout, "\n4. approve (HMAC-signed request to the local webhook, as a chat tool would send it)")
	ares, target, err := rt.SendApproval(ctx, "", &plan, "demo-approver@example.com", nil, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "   POST %s → %d approved, %d queued\n", target, len(ares.Approved), ares.Enqueued)

	fmt.Fprintln(stdout, "\n5. actuate (the demo opts in to changes; the default is a dry run)")
	sum, err := rt.Actuate(ctx, false, actionPrinter(stderr))
	if isTerminal(stderr) {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	printActuate(stdout, sum, false)

	fmt.Fprintln(stdout, "\n6. collect again")
	after, err := collectAndMeasure(ctx, rt, stdout, stderr)
	if err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\nsummary")
	printSummary(stdout, plan, sum, before, after)
	fmt.Fprintf(stdout, "\nreport:  %s\n         %s\n", rt.ArtifactPath(plan.ID, "report.html"), rt.ArtifactPath(plan.ID, "report.md"))
	fmt.Fprintf(stdout, "took %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// collectAndMeasure collects every cloud, prints the result and
// measures the run rate of what was collected.
func collectAndMeasure(ctx context.Context, rt *Runtime, stdout, stderr io.Writer) ([]pipeline.RunRate, error) {
	res, err := rt.Collect(ctx, domain.Clouds, 14, progressPrinter(stderr))
	if err != nil {
		return nil, err
	}
	printCollect(stdout, res)
	return rt.Pipeline.RunRates(ctx)
}

// SendApproval signs an approval of plan (all actions, or only the
// given ones) and POSTs it to url, or to a webhook started in this
// process when url is empty.
func (rt *Runtime) SendApproval(ctx context.Context, url string, plan *domain.Plan, approver string, only, reject []string) (approve.Result, string, error) {
	var body []byte
	var err error
	if len(only) == 0 && len(reject) == 0 {
		body, err = approve.NewBody(plan, approver)
	} else {
		b := approve.Body{PlanID: plan.ID, Approver: approver}
		for _, ids := range []struct {
			ids     []string
			verdict domain.Verdict
		}{{only, domain.Approved}, {reject, domain.Rejected}} {
			for _, id := range ids.ids {
				a, ok := plan.Action(id)
				if !ok {
					return approve.Result{}, "", fmt.Errorf("%w: action %s is not in plan %s", domain.ErrNotFound, id, plan.ID)
				}
				b.Decisions = append(b.Decisions, approve.ActionChoice{ActionID: id, ActionHash: a.Hash(), Verdict: ids.verdict})
			}
		}
		body, err = json.Marshal(b)
	}
	if err != nil {
		return approve.Result{}, "", err
	}
	if url == "" {
		srv, err := rt.ServeApprovals("127.0.0.1:0")
		if err != nil {
			return approve.Result{}, "", err
		}
		defer srv.Close()
		url = srv.URL
	}
	ts, sig := approve.Sign(rt.secret, rt.now(), body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return approve.Result{}, url, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(approve.HeaderTimestamp, ts)
	req.Header.Set(approve.HeaderSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return approve.Result{}, url, fmt.Errorf("send approval: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(data, &e)
		return approve.Result{}, url, fmt.Errorf("webhook answered %s: %s", resp.Status, e.Error)
	}
	var res approve.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return res, url, fmt.Errorf("webhook answer: %w", err)
	}
	return res, url, nil
}

// ArtifactPath returns where a plan artifact is, as a path when the lake
// is a directory.
func (rt *Runtime) ArtifactPath(planID, name string) string {
	key := "plans/" + planID + "/" + name
	if p, ok := strings.CutPrefix(rt.lakeURL, "file://"); ok {
		return filepath.Join(p, key)
	}
	return rt.lakeURL + " " + key
}

func (rt *Runtime) plan(ctx context.Context, id string) (domain.Plan, error) {
	if id == "" {
		return rt.Pipeline.LatestPlan(ctx)
	}
	return rt.Pipeline.Lake.GetPlan(ctx, id)
}

func printCollect(w io.Writer, res []collect.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   cloud\tresources\tseries\tcost rows\tscopes\tunreadable\tsnapshot")
	for _, r := range res {
		bad := 0
		var reasons []string
		for _, s := range r.Scopes {
			if s.Status != collect.ScopeOK {
				bad++
				reasons = append(reasons, s.Account+"/"+s.Region+": "+s.Status)
			}
		}
		unreadable := fmt.Sprint(bad)
		if bad > 0 {
			unreadable += " (" + strings.Join(reasons, ", ") + ")"
		}
		fmt.Fprintf(tw, "   %s\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Cloud, r.Resources, r.Series, r.CostRows, len(r.Scopes), unreadable, r.RunID)
	}
	tw.Flush()
}

func printPlan(w io.Writer, plan domain.Plan) {
	fmt.Fprintf(w, "   plan %s: %d resources analysed\n", plan.ID, plan.Resources)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "   finding\tactions\tmonthly savings\t")
	byKind := plan.Totals(func(a domain.Action) string { return string(a.Kind) })
	for _, k := range domain.ActionKinds {
		t := byKind[string(k)]
		fmt.Fprintf(tw, "   %s\t%d\t%s\t\n", k, t.Actions, money(t.Savings, plan.Currency))
	}
	total := plan.TotalSavings()
	fmt.Fprintf(tw, "   total\t%d\t%s\t\n", len(plan.Actions), money(total, plan.Currency))
	tw.Flush()
	fmt.Fprintf(w, "   (%s a year)\n", money(total.MulFloat(12), plan.Currency))
	byCloud := plan.Totals(func(a domain.Action) string { return string(a.Target.Cloud) })
	var parts []string
	for _, c := range domain.Clouds {
		if t, ok := byCloud[string(c)]; ok {
			parts = append(parts, fmt.Sprintf("%s %s", c, money(t.Savings, plan.Currency)))
		}
	}
	fmt.Fprintf(w, "   per cloud: %s\n", strings.Join(parts, ", "))
	if len(plan.Skipped) > 0 {
		reasons := map[string]int{}
		for _, f := range plan.Skipped {
			r := f.Reason
			if i := strings.Index(r, ":"); i > 0 {
				r = r[:i]
			}
			reasons[r]++
		}
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ps []string
		for _, k := range keys {
			ps = append(ps, fmt.Sprintf("%d %s", reasons[k], k))
		}
		fmt.Fprintf(w, "   left alone: %s\n", strings.Join(ps, "; "))
	}
	printPlacement(w, plan)
	printCommitments(w, plan)
}

// printCommitments prints the recommended commitments, one line per
// pool, and how many pools got none.
func printCommitments(w io.Writer, plan domain.Plan) {
	c := plan.Commitments
	if c == nil {
		return
	}
	fmt.Fprintf(w, "   commitments (advice, sized after this plan's actions): %d pools, saving %s a month\n", len(c.Pools), money(c.MonthlySavings, plan.Currency))
	for _, p := range c.Pools {
		fmt.Fprintf(w, "   - %s %s %s: %d months at %s%% off, %s an hour, %s%% used (break-even %s%%), saves %s a month (%s if usage drops 20%%), bought in %d steps\n",
			p.Cloud, p.Region, p.Family, p.TermMonths, strconv.FormatFloat(p.DiscountPercent, 'f', -1, 64), money(p.HourlyCommitment, plan.Currency),
			strconv.FormatFloat(p.ExpectedUtilizationPercent, 'f', -1, 64), strconv.FormatFloat(p.BreakEvenUtilizationPercent, 'f', -1, 64),
			money(p.MonthlySavings, plan.Currency), money(p.SavingsIfUsageDrops20, plan.Currency), len(p.Ladder))
	}
	if n := len(c.Findings); n > 0 {
		fmt.Fprintf(w, "   no commitment: %d (see the report)\n", n)
	}
}

// printPlacement prints the plan's placement variants, one line each, or
// why there are none.
func printPlacement(w io.Writer, plan domain.Plan) {
	pl := plan.Placement
	if pl == nil {
		return
	}
	if len(pl.Variants) == 0 {
		why := "nothing to place"
		if len(pl.Findings) > 0 {
			why = pl.Findings[0].Reason
		}
		fmt.Fprintf(w, "   placement (advice, not actions): %s\n", why)
		return
	}
	fmt.Fprintf(w, "   placement (advice, not actions): %d movable workloads costing %s a month, at most %d migrations a variant\n",
		pl.Workloads, money(pl.MonthlyCost, plan.Currency), pl.MaxMoves)
	for _, v := range pl.Variants {
		cost := "saves " + money(v.CostSavings, plan.Currency)
		if v.CostSavings.Micros < 0 {
			cost = "costs " + money(domain.Money{Micros: -v.CostSavings.Micros, Currency: v.CostSavings.Currency}, plan.Currency) + " more"
		}
		perf := strconv.FormatFloat(v.PerformanceImprovement, 'f', -1, 64)
		if v.PerformanceImprovement > 0 {
			perf = "+" + perf
		}
		moves := fmt.Sprintf("%d migrations", len(v.ResourceMigrations))
		if len(v.ResourceMigrations) == 1 {
			moves = "1 migration"
		}
		fmt.Fprintf(w, "   - %s: %s a month, performance %s %%, %s (one-off %s), proven gap %s %%\n",
			strings.ReplaceAll(v.Name, "_", " "), cost, perf, moves, money(v.MigrationCost, plan.Currency), strconv.FormatFloat(math.Round(v.Gap*1e6)/1e4, 'f', -1, 64))
	}
}

func printActuate(w io.Writer, sum ActuateSummary, dryRun bool) {
	var parts []string
	for _, s := range []domain.ActionStatus{domain.StatusApplied, domain.StatusDryRun, domain.StatusSkipped, domain.StatusRolledBack, domain.StatusFailed} {
		if n := sum.Counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if sum.DeadLetters > 0 {
		parts = append(parts, fmt.Sprintf("%d dead-lettered", sum.DeadLetters))
	}
	if sum.Held > 0 {
		parts = append(parts, fmt.Sprintf("%d held for a later run by the blast-radius cap of %d changes a run", sum.Held, sum.Cap))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	mode := "changes enabled"
	if dryRun {
		mode = "dry run: nothing was changed"
	}
	fmt.Fprintf(w, "   %s: %s\n", mode, strings.Join(parts, ", "))
	for _, r := range sum.Results {
		if r.Status != domain.StatusApplied && r.Status != domain.StatusDryRun {
			fmt.Fprintf(w, "   - %s %s: %s\n", r.ActionID, r.Status, r.Reason)
		}
	}
	if !dryRun {
		fmt.Fprintf(w, "   savings recorded by the actuator: %s a month\n", money(sum.Realized, sum.Realized.Currency))
	}
}

func printSummary(w io.Writer, plan domain.Plan, sum ActuateSummary, before, after []pipeline.RunRate) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "   cloud\tresources\tfindings\tplanned / month\tapplied\trun rate before\trun rate after\tmeasured / month\t")
	byCloud := plan.Totals(func(a domain.Action) string { return string(a.Target.Cloud) })
	applied := map[domain.Cloud]int{}
	for _, r := range sum.Results {
		if r.Status == domain.StatusApplied {
			if a, ok := plan.Action(r.ActionID); ok {
				applied[a.Target.Cloud]++
			}
		}
	}
	var tb, ta domain.Money
	totalApplied := 0
	for _, b := range before {
		a := b
		for _, x := range after {
			if x.Cloud == b.Cloud {
				a = x
			}
		}
		t := byCloud[string(b.Cloud)]
		fmt.Fprintf(tw, "   %s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t\n", b.Cloud, b.Resources, t.Actions, money(t.Savings, plan.Currency),
			applied[b.Cloud], money(b.Monthly, "USD"), money(a.Monthly, "USD"), money(b.Monthly.Minus(a.Monthly), "USD"))
		tb, ta = tb.Plus(b.Monthly), ta.Plus(a.Monthly)
		totalApplied += applied[b.Cloud]
	}
	fmt.Fprintf(tw, "   total\t%d\t%d\t%s\t%d\t%s\t%s\t%s\t\n", plan.Resources, len(plan.Actions), money(plan.TotalSavings(), plan.Currency),
		totalApplied, money(tb, "USD"), money(ta, "USD"), money(tb.Minus(ta), "USD"))
	tw.Flush()
	fmt.Fprintln(w, "   planned: from each resource's effective cost in the bill where billed, list price otherwise")
	fmt.Fprintln(w, "   run rate: list-price monthly cost of what the collector saw, before and after actuation")
	fmt.Fprintf(w, "   realized (recorded by the actuator for verified changes): %s a month\n", money(sum.Realized, plan.Currency))
}

// isTerminal reports whether w is a terminal, where progress lines that
// rewrite themselves make sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func progressPrinter(w io.Writer) func(collect.Progress) {
	if !isTerminal(w) {
		return nil
	}
	return func(p collect.Progress) {
		fmt.Fprintf(w, "\r   collecting %s: %d/%d scopes, %d resources", p.Cloud, p.Done, p.Total, p.Resources)
		if p.Done == p.Total {
			fmt.Fprintln(w)
		}
	}
}

func actionPrinter(w io.Writer) func(actuate.Result) {
	if !isTerminal(w) {
		return nil
	}
	n := 0
	return func(r actuate.Result) {
		n++
		fmt.Fprintf(w, "\r   actuating: %d messages handled", n)
	}
}

func money(m domain.Money, currency string) string {
	if m.Currency == "" {
		m.Currency = currency
	}
	return m.String()
}

func parseClouds(s string) ([]domain.Cloud, error) {
	var out []domain.Cloud
	for _, p := range strings.Split(s, ",") {
		c, err := domain.ParseCloud(p)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func estateFlags(fs *flag.FlagSet) *EstateConfig {
	e := &EstateConfig{}
	fs.Int64Var(&e.Seed, "seed", 0, "seed of a generated estate (with --size)")
	fs.IntVar(&e.Resources, "size", 0, "generate an estate of this many resources (50..100000) instead of the demo estate; only when the lake has no estate yet")
	return e
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func envOr(k, def string) string { return envOrFn(os.Getenv, k, def) }
