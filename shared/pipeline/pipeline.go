// Package pipeline wires the four cores (collect, optimize, approve,
// actuate) to the lake and the price catalog. Every runtime (local,
// Lambda, Cloud Functions, Azure Functions) builds the same Pipeline and
// differs only in how triggers reach it and which cloud providers and
// queues it plugs in.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/optimize"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/report"
)

// Pipeline holds what the cores share.
type Pipeline struct {
	Lake   *lake.Lake
	Prices *pricing.Catalog
	// Commitments are the commitment rates; nil means the embedded ones.
	Commitments *pricing.CommitmentIndex
	// ObjectClasses are the object storage class prices; nil means the
	// embedded ones.
	ObjectClasses *pricing.ObjectClasses
	Policy        domain.Policy
	Now           func() time.Time
	Logger        *slog.Logger
	// SpendOptions tune the spend forecasts and anomaly detection.
	SpendOptions forecast.Options

	plansOnce sync.Once
	plans     *cachedPlans
}

// maxCachedPlans bounds the plans an approval webhook keeps decoded.
const maxCachedPlans = 8

// cachedPlans is the lake's plans kept decoded in memory: a plan never
// changes once written, and every approval request names one. Decoding
// a plan of hundreds of actions on each request was most of the
// webhook's time.
type cachedPlans struct {
	l     *lake.Lake
	mu    sync.Mutex
	plans map[string]domain.Plan
	order []string
}

func (p *Pipeline) planCache() *cachedPlans {
	p.plansOnce.Do(func() { p.plans = &cachedPlans{l: p.Lake, plans: map[string]domain.Plan{}} })
	return p.plans
}

// GetPlan returns the plan, from memory after the first read; the oldest
// read plan is forgotten beyond maxCachedPlans.
func (c *cachedPlans) GetPlan(ctx context.Context, id string) (domain.Plan, error) {
	c.mu.Lock()
	pl, ok := c.plans[id]
	c.mu.Unlock()
	if ok {
		return pl, nil
	}
	pl, err := c.l.GetPlan(ctx, id)
	if err != nil {
		return pl, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.plans[id]; !ok {
		if len(c.order) >= maxCachedPlans {
			delete(c.plans, c.order[0])
			c.order = c.order[1:]
		}
		c.plans[id] = pl
		c.order = append(c.order, id)
	}
	return pl, nil
}

// Collect runs the collector core for one provider and commits a
// snapshot to the lake. The history read ends at asOf (zero: now); the
// run is named and stamped with the pipeline's clock.
func (p *Pipeline) Collect(ctx context.Context, prov collect.Provider, days int, asOf time.Time, onProgress func(collect.Progress)) (collect.Result, error) {
	now := p.now()
	if asOf.IsZero() {
		asOf = now
	}
	c := &collect.Collector{
		Provider: prov,
		NewSink: func(cloud domain.Cloud, runID string, w collect.Window) collect.Sink {
			return &sink{w: p.Lake.BeginSnapshot(cloud, runID, lake.Window{Start: w.Start, End: w.End}, now), cloud: cloud, runID: runID}
		},
		Now:        func() time.Time { return asOf },
		Logger:     p.logger(),
		OnProgress: onProgress,
	}
	return c.Run(ctx, collect.Request{RunID: lake.NewRunID(now), Days: days})
}

// sink adapts a lake snapshot writer to the collector's Sink.
type sink struct {
	w     *lake.SnapshotWriter
	cloud domain.Cloud
	runID string
}

func (s *sink) WriteResources(ctx context.Context, rs []domain.Resource) error {
	return s.w.WriteResources(ctx, rs)
}

func (s *sink) WriteSeries(ctx context.Context, account string, ss []domain.Series) error {
	return s.w.WriteSeries(ctx, account, ss)
}

func (s *sink) WriteCostRows(ctx context.Context, rows []domain.CostRow) error {
	return s.w.WriteCostRows(ctx, rows)
}

func (s *sink) RecordScope(st collect.ScopeStatus) {
	s.w.RecordScope(lake.ScopeStatus{Account: st.Account, Region: st.Region, Status: st.Status, Error: st.Error, Resources: st.Resources})
}

func (s *sink) Commit(ctx context.Context) (string, error) {
	m, err := s.w.Commit(ctx)
	if err != nil {
		return "", err
	}
	return lake.ManifestKey(m.Cloud, m.RunID), nil
}

// snapshot adapts a committed lake snapshot to the optimizer's Snapshot.
// When billing exports were ingested for the cloud, their rows price the
// resources instead of the collector's cost rows: the export is the
// invoice itself, with amortized commitments.
type snapshot struct {
	s       *lake.Snapshot
	billing []*lake.Snapshot
}

func (s snapshot) Ref() domain.SnapshotRef { return s.s.Ref() }

// CostSource names where the cost rows come from, for the plan's bill
// check.
func (s snapshot) CostSource() string {
	if len(s.billing) > 0 {
		return "billing export"
	}
	return "collector"
}

func (s snapshot) Resources(ctx context.Context, fn func(domain.Resource) error) error {
	return s.s.Resources(ctx, fn)
}

func (s snapshot) Series(ctx context.Context, fn func(domain.Series) error) error {
	return s.s.Series(ctx, fn)
}

// CostRows gives the optimizer the pricing projection of the cost rows:
// it reads resource IDs, charge periods and costs, never the wide
// descriptive columns, so only those columns are decoded.
func (s snapshot) CostRows(ctx context.Context, fn func(domain.CostRow) error) error {
	if len(s.billing) == 0 {
		return s.s.CostUsage(ctx, fn)
	}
	w := s.s.Manifest().Window
	for _, b := range s.billing {
		err := b.CostUsage(ctx, func(r domain.CostRow) error {
			if !w.Start.IsZero() && (r.ChargePeriodEnd.Before(w.Start) || !r.ChargePeriodStart.Before(w.End)) {
				return nil
			}
			return fn(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Plan reads the latest committed snapshot of every cloud that has one,
// runs the optimizer, and writes the plan with its Markdown and HTML
// reports. It fails when no cloud has a committed snapshot.
func (p *Pipeline) Plan(ctx context.Context) (domain.Plan, error) {
	var snaps []optimize.Snapshot
	for _, c := range domain.Clouds {
		s, err := p.Lake.LatestSnapshot(ctx, c)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return domain.Plan{}, fmt.Errorf("plan: latest %s snapshot: %w", c, err)
		}
		billing, err := p.Lake.CurrentBilling(ctx, c)
		if err != nil {
			return domain.Plan{}, fmt.Errorf("plan: %s billing: %w", c, err)
		}
		if !covers(billing, s.Manifest().Window) {
			billing = nil
		}
		snaps = append(snaps, snapshot{s: s, billing: billing})
	}
	if len(snaps) == 0 {
		return domain.Plan{}, fmt.Errorf("plan: %w: no committed snapshot in the lake; run collect first", domain.ErrNotFound)
	}
	now := p.now()
	rates, err := p.commitments()
	if err != nil {
		return domain.Plan{}, fmt.Errorf("plan: %w", err)
	}
	plan, err := optimize.Optimize(ctx, optimize.Request{
		PlanID: "plan-" + lake.NewRunID(now), Now: now, Policy: p.Policy, Snapshots: snaps, Prices: p.Prices,
		Commitments: rates, ObjectClasses: p.objectClasses(), Logger: p.logger(),
	})
	if err != nil {
		return domain.Plan{}, fmt.Errorf("plan: %w", err)
	}
	spend, err := p.Spend(ctx)
	if err != nil {
		return domain.Plan{}, fmt.Errorf("plan: %w", err)
	}
	if spend != nil {
		b, err := json.Marshal(spend)
		if err != nil {
			return domain.Plan{}, fmt.Errorf("plan: spend: %w", err)
		}
		// Written before the plan: a plan is only ever seen with its spend.
		if err := p.Lake.PutArtifact(ctx, plan.ID, SpendArtifact, b); err != nil {
			return domain.Plan{}, fmt.Errorf("plan: write spend: %w", err)
		}
	}
	if err := p.Lake.PutPlan(ctx, plan); err != nil {
		return domain.Plan{}, fmt.Errorf("plan: write: %w", err)
	}
	if err := p.WriteReports(ctx, plan); err != nil {
		return plan, err
	}
	p.logger().InfoContext(ctx, "plan written", "plan_id", plan.ID, "actions", len(plan.Actions), "monthly_savings", plan.TotalSavings().Decimal())
	return plan, nil
}

// WriteReports renders the plan's reports (with outcomes when there are
// action states) into the lake beside the plan.
func (p *Pipeline) WriteReports(ctx context.Context, plan domain.Plan) error {
	in, err := p.ReportInput(ctx, plan)
	if err != nil {
		return err
	}
	html, err := report.HTML(in)
	if err != nil {
		return fmt.Errorf("report %s: %w", plan.ID, err)
	}
	if err := p.Lake.PutArtifact(ctx, plan.ID, "report.md", report.Markdown(in)); err != nil {
		return fmt.Errorf("report %s: %w", plan.ID, err)
	}
	if err := p.Lake.PutArtifact(ctx, plan.ID, "report.html", html); err != nil {
		return fmt.Errorf("report %s: %w", plan.ID, err)
	}
	return nil
}

// ReportInput gathers a plan and the outcomes recorded for its actions.
func (p *Pipeline) ReportInput(ctx context.Context, plan domain.Plan) (report.Input, error) {
	states, err := p.Lake.ActionStates(ctx, plan.ID)
	if err != nil {
		return report.Input{}, fmt.Errorf("report %s: action states: %w", plan.ID, err)
	}
	var outcomes map[string]report.Outcome
	for id, st := range states {
		if !st.Status.Terminal() {
			continue
		}
		if outcomes == nil {
			outcomes = map[string]report.Outcome{}
		}
		outcomes[id] = report.Outcome{ActionID: id, Status: st.Status, Reason: st.Reason, Realized: st.RealizedMonthlySavings, DryRun: st.DryRun}
	}
	spend, err := p.spendOf(ctx, plan.ID)
	if err != nil {
		return report.Input{}, fmt.Errorf("report %s: %w", plan.ID, err)
	}
	return report.Input{Plan: plan, Outcomes: outcomes, GeneratedAt: p.now(), Spend: spend}, nil
}

// LatestPlan returns the newest plan in the lake.
func (p *Pipeline) LatestPlan(ctx context.Context) (domain.Plan, error) {
	ids, err := p.Lake.ListPlans(ctx)
	if err != nil {
		return domain.Plan{}, err
	}
	if len(ids) == 0 {
		return domain.Plan{}, fmt.Errorf("%w: no plan in the lake; run plan first", domain.ErrNotFound)
	}
	return p.Lake.GetPlan(ctx, ids[len(ids)-1])
}

// Approver builds the approval core, authorizing approvers by the
// policy's approvals section. A runtime that serves Slack sets the
// returned service's SlackSecrets; links are signed with secrets unless
// it sets LinkSecrets.
func (p *Pipeline) Approver(secrets [][]byte, q approve.Enqueuer) *approve.Service {
	return &approve.Service{Plans: p.planCache(), Records: p.Lake, Queue: q, Secrets: secrets, Now: p.Now, Logger: p.logger(),
		Authz: approve.Authz{Policy: p.Policy.Approvals, Currency: p.Policy.Currency}}
}

// Actuator builds the actuation core.
func (p *Pipeline) Actuator(providers map[domain.Cloud]actuate.Resources, dryRun bool, worker string) *actuate.Actuator {
	return &actuate.Actuator{Records: p.Lake, Providers: providers, Policy: p.Policy, DryRun: dryRun, Worker: worker, Now: p.Now, Logger: p.logger()}
}

// Requeue lists the approved actions of a plan whose state is still
// queued or applying (and, with afterDryRun, those only dry-run so far),
// with the decision that approved each, so a runtime can put them back
// on a queue that lost them (an in-process queue across restarts, or a
// purge).
func (p *Pipeline) Requeue(ctx context.Context, plan domain.Plan, afterDryRun bool) ([]domain.QueuedAction, error) {
	states, err := p.Lake.ActionStates(ctx, plan.ID)
	if err != nil {
		return nil, err
	}
	ds, err := p.Lake.Decisions(ctx, plan.ID)
	if err != nil {
		return nil, err
	}
	latest := domain.LatestDecisions(ds)
	var out []domain.QueuedAction
	for _, a := range plan.Actions {
		st, ok := states[a.ID]
		d, decided := latest[a.ID]
		open := ok && (!st.Status.Terminal() || (afterDryRun && st.Status == domain.StatusDryRun))
		if !open || !decided || d.Verdict != domain.Approved {
			continue
		}
		out = append(out, domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: d.ID, Action: a})
	}
	return out, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pipeline) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// covers reports whether ingested billing reaches into the snapshot's
// window: an export that ended before the window started would price
// nothing, and the collector's own cost rows are better then.
func covers(billing []*lake.Snapshot, w lake.Window) bool {
	for _, b := range billing {
		bw := b.Manifest().Window
		if w.Start.IsZero() || (bw.End.After(w.Start) && bw.Start.Before(w.End)) {
			return true
		}
	}
	return false
}
