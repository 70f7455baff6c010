package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// DefaultMaxActions is how many actions a report lists and explains
// when Input.MaxActions is zero, and how many migrations it lists per
// placement variant. Plans list actions by savings, largest
// first, so the report shows the ones that matter; the totals always
// count every action.
const DefaultMaxActions = 500

// maxExamples is the number of examples shown per group of skipped
// resources.
const maxExamples = 5

// view is the report as plain strings, shared by the Markdown and the
// HTML writers so that both say the same thing. Nothing in it is
// escaped: each writer escapes for its own format.
type view struct {
	PlanID, Created, Generated, PolicyHash, Currency string
	OptInTag                                         string
	Snapshots                                        []snapshotView
	Resources                                        string
	Actions                                          int
	Monthly, Annual                                  string
	Totals                                           Totals
	ByCloud, ByAccount, ByKind                       []groupView
	HasOutcomes                                      bool
	Outcomes                                         []countView
	Realized, DryRunSavings                          string
	Rows                                             []actionView
	// Omitted counts the actions beyond the report's limit, and
	// OmittedMonthly what they save; they are all in the plan JSON.
	Omitted        int
	OmittedMonthly string
	Skipped        []skipView
	SkippedCount   int
	// Spend: forecasts and anomalies from the bill, when there is one.
	HasSpend     bool
	Forecasts    []forecastView
	Anomalies    []anomalyView
	SpendSkipped int
	BillChecks   []billCheckView
	// Placement is the plan's placement section, nil when it has none.
	Placement *placementView
	// Commitments is the plan's commitments section, nil when it has none.
	Commitments *commitmentsView
}

type snapshotView struct{ Cloud, RunID, At, Manifest string }

type groupView struct {
	Name, Detail    string
	Actions         int
	Monthly, Annual string
	Applied         int
	Realized        string
}

type countView struct {
	Label string
	Count int
}

type actionView struct {
	N                                int
	ID, Kind, Name, TargetID         string
	Cloud, Account, Region           string
	Before, After                    string
	Monthly, Annual, Cost, Basis     string
	Risk, Confidence, OptedIn        string
	Summary, Undo, Schedule, Age     string
	Window, DataHours, CPU, Memory   string
	Shape                            string
	Peaks                            []peakView
	PeakWidth                        string // of the SVG box, peakHeight high
	PeakText                         string
	Notes                            []string
	Outcome, OutcomeReason, Realized string
}

// peakView is one day's CPU peak, with the geometry of its bar.
type peakView struct {
	Day     string
	Value   string // "" for a day without data
	Missing bool
	X, Y, H string // SVG bar geometry, in a peakHeight-unit-high box
}

// Geometry of the daily-peak bars: a 0-100 % scale in a box peakHeight
// high, one bar of peakBar units every peakStep units.
const (
	peakHeight = 60
	peakStep   = 8
	peakBar    = 6
)

type skipView struct {
	Reason   string
	Count    int
	Examples []string
}

func buildView(in Input) view {
	p := &in.Plan
	t := Summary(in)
	v := view{
		PlanID:     p.ID,
		Created:    formatTime(p.CreatedAt),
		Generated:  formatTime(in.GeneratedAt),
		PolicyHash: orDash(p.PolicyHash),
		Currency:   p.Currency,
		OptInTag:   p.OptInTag,
		Resources:  formatInt(int64(p.Resources)),
		Actions:    t.Actions,
		Monthly:    money(t.MonthlySavings, p.Currency),
		Annual:     money(t.AnnualSavings, p.Currency),
		Totals:     t,
	}
	for _, s := range p.Snapshots {
		v.Snapshots = append(v.Snapshots, snapshotView{string(s.Cloud), s.RunID, formatTime(s.At), s.Manifest})
	}
	for _, g := range t.ByCloud {
		v.ByCloud = append(v.ByCloud, groupRow(string(g.Cloud), "", g, p.Currency))
	}
	for _, g := range t.ByAccount {
		v.ByAccount = append(v.ByAccount, groupRow(g.Account, string(g.Cloud), g, p.Currency))
	}
	for _, g := range t.ByKind {
		v.ByKind = append(v.ByKind, groupRow(string(g.Kind), "", g, p.Currency))
	}
	if oc := t.Outcomes; oc != nil {
		v.HasOutcomes = true
		v.Outcomes = []countView{
			{"applied", oc.Applied}, {"dry run", oc.DryRun}, {"skipped", oc.Skipped},
			{"failed", oc.Failed}, {"rolled back", oc.RolledBack}, {"pending", oc.Pending},
		}
		v.Realized = money(oc.Realized, p.Currency)
		v.DryRunSavings = money(oc.DryRunSavings, p.Currency)
	}
	limit := in.MaxActions
	if limit <= 0 {
		limit = DefaultMaxActions
	}
	omitted := domain.Money{Currency: p.Currency}
	for i, a := range p.Actions {
		if i >= limit {
			v.Omitted++
			omitted = omitted.Plus(a.MonthlySavings)
			continue
		}
		v.Rows = append(v.Rows, actionRow(i+1, a, p, in.Outcomes))
	}
	v.OmittedMonthly = money(omitted, p.Currency)
	v.Skipped = skipGroups(p.Skipped)
	v.SkippedCount = len(p.Skipped)
	v.HasSpend = in.Spend != nil
	v.Forecasts, v.Anomalies, v.SpendSkipped = spendViews(in.Spend)
	v.BillChecks = billCheckViews(p)
	v.Placement = buildPlacement(p, limit)
	v.Commitments = buildCommitments(p)
	return v
}

func groupRow(name, detail string, g Group, cur string) groupView {
	return groupView{
		Name: name, Detail: detail, Actions: g.Actions,
		Monthly:  money(g.MonthlySavings, cur),
		Annual:   money(domain.Money{Micros: g.MonthlySavings.Micros * 12, Currency: g.MonthlySavings.Currency}, cur),
		Applied:  g.Applied,
		Realized: money(g.Realized, cur),
	}
}

func actionRow(n int, a domain.Action, p *domain.Plan, outcomes map[string]Outcome) actionView {
	ev := a.Evidence
	r := actionView{
		N: n, ID: a.ID, Kind: string(a.Kind), Name: a.Name, TargetID: a.Target.ID,
		Cloud: string(a.Target.Cloud), Account: a.Target.Account, Region: a.Target.Region,
		Before:     formatState(a.Before),
		After:      formatState(a.After),
		Monthly:    money(a.MonthlySavings, p.Currency),
		Annual:     money(domain.Money{Micros: a.MonthlySavings.Micros * 12, Currency: a.MonthlySavings.Currency}, p.Currency),
		Cost:       money(a.MonthlyCost, p.Currency),
		Basis:      basisLabel(a.SavingsBasis),
		Risk:       string(a.Risk),
		Confidence: fmt.Sprintf("%.0f%%", a.Confidence*100),
		OptedIn:    optedIn(p.OptInTag, a.Tags),
		Summary:    a.Summary,
		Undo:       a.Undo,
		Notes:      ev.Notes,
	}
	if a.Schedule != nil {
		r.Schedule = a.Schedule.String()
		r.After += " (" + r.Schedule + ")"
	}
	if ev.AgeDays > 0 {
		r.Age = formatNum(ev.AgeDays) + " days"
	}
	if !ev.WindowStart.IsZero() {
		r.Window = formatTime(ev.WindowStart) + " → " + formatTime(ev.WindowEnd)
	}
	if ev.CPU != nil {
		r.CPU = formatStats(ev.CPU)
		r.DataHours = formatNum(ev.CPU.Hours) + " h of CPU data"
	}
	if ev.Memory != nil {
		r.Memory = formatStats(ev.Memory)
	} else if a.Kind == domain.ActionRightsize {
		r.Memory = "no memory data"
	}
	if ev.VCPU > 0 {
		r.Shape = fmt.Sprintf("%d vCPU, %s → %d vCPU, %s", ev.VCPU, formatMiB(ev.MemoryMiB), ev.NewVCPU, formatMiB(ev.NewMemoryMiB))
	}
	r.Peaks, r.PeakText = peaks(ev.DailyPeakCPU, ev.WindowStart)
	r.PeakWidth = strconv.Itoa(len(r.Peaks) * peakStep)
	if o, ok := outcomes[a.ID]; ok {
		r.Outcome = string(o.Status)
		if o.DryRun && o.Status != domain.StatusDryRun {
			r.Outcome += " (dry run)"
		}
		r.OutcomeReason = o.Reason
		if classify(o, true) == classApplied {
			r.Realized = money(o.Realized, p.Currency)
		}
	} else if len(outcomes) > 0 {
		r.Outcome = "pending"
	}
	return r
}

// target names the action's resource: "name (id)", or the ID alone.
func (r actionView) Target() string {
	if r.Name == "" || r.Name == r.TargetID {
		return r.TargetID
	}
	return r.Name + " (" + r.TargetID + ")"
}

// optedIn says whether the actuator will accept an action on a resource
// with tags under the plan's opt-in tag.
func optedIn(tag string, tags map[string]string) string {
	if tag == "" {
		return "unknown"
	}
	if (domain.Policy{OptInTag: tag}).OptedIn(tags) {
		return "yes"
	}
	return "no"
}

// blocks draws a text sparkline.
var blocks = []rune("▁▂▃▄▅▆▇█")

func peaks(values []float64, start time.Time) ([]peakView, string) {
	if len(values) == 0 {
		return nil, ""
	}
	const height, width = float64(peakHeight), float64(peakStep)
	day0 := start.UTC().Truncate(24 * time.Hour)
	out := make([]peakView, len(values))
	var spark strings.Builder
	nums := make([]string, len(values))
	for i, v := range values {
		pv := peakView{X: formatNum(float64(i) * width)}
		if !day0.IsZero() {
			pv.Day = day0.AddDate(0, 0, i).Format("Jan 2")
		} else {
			pv.Day = "day " + strconv.Itoa(i+1)
		}
		if v < 0 {
			pv.Missing = true
			pv.Y, pv.H = formatNum(height-2), "2"
			spark.WriteRune('·')
			nums[i] = "–"
		} else {
			c := min(v, 100)
			h := max(c/100*height, 1)
			pv.Value = formatNum(v) + "%"
			pv.Y, pv.H = formatNum(height-h), formatNum(h)
			spark.WriteRune(blocks[min(int(c/100*float64(len(blocks))), len(blocks)-1)])
			nums[i] = formatNum(v)
		}
		out[i] = pv
	}
	return out, spark.String() + " (" + strings.Join(nums, ", ") + " %)"
}

// skipGroups groups findings by the part of their reason before the
// first colon ("insufficient data: 12 h observed…" → "insufficient
// data"), largest group first.
func skipGroups(fs []domain.Finding) []skipView {
	idx := map[string]int{}
	var out []skipView
	for _, f := range fs {
		key, _, _ := strings.Cut(f.Reason, ": ")
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, skipView{Reason: key})
		}
		g := &out[i]
		g.Count++
		if len(g.Examples) < maxExamples {
			ex := f.Target.String()
			if f.Kind != "" {
				ex += " (" + string(f.Kind) + ")"
			}
			if f.Reason != key {
				ex += ": " + f.Reason
			}
			g.Examples = append(g.Examples, ex)
		}
	}
	slices.SortStableFunc(out, func(a, b skipView) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

func money(m domain.Money, planCurrency string) string {
	cur := m.Currency
	if cur == "" {
		cur = planCurrency
	}
	return cur + " " + domain.FormatAmount(m.Micros, 2)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func basisLabel(b string) string {
	switch b {
	case domain.BasisEffectiveCost:
		return "bill"
	case domain.BasisListPrice:
		return "list price"
	}
	return b
}

func formatState(s domain.ResourceState) string {
	var parts []string
	if s.SKU != "" {
		parts = append(parts, s.SKU)
	}
	if s.SizeGiB != 0 {
		parts = append(parts, strconv.FormatInt(s.SizeGiB, 10)+" GiB")
	}
	if s.State != "" {
		parts = append(parts, s.State)
	}
	if s.AttachedTo != "" {
		parts = append(parts, "attached to "+s.AttachedTo)
	}
	if s.Tiering != "" {
		parts = append(parts, "lifecycle "+s.Tiering)
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func formatStats(s *domain.Stats) string {
	return fmt.Sprintf("p50 %s%% · p95 %s%% · p99 %s%% · max %s%% · mean %s%% (%d points, %s h)",
		formatNum(s.P50), formatNum(s.P95), formatNum(s.P99), formatNum(s.Max), formatNum(s.Mean), s.Points, formatNum(s.Hours))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// formatNum formats v with at most two decimals, the precision of the
// plan's statistics: 4.96 % must not read as the 5 % threshold.
func formatNum(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func formatMiB(mib int64) string {
	return formatNum(float64(mib)/1024) + " GiB"
}

func formatInt(n int64) string {
	return domain.FormatAmount(n*domain.MicrosPerUnit, 0)
}
