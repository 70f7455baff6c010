// Package funcapp is what a deployed function does once its host has
// decoded the trigger, whatever the cloud: plan from the latest
// snapshots and announce the plan, skip a redelivered snapshot event,
// ingest a delivered bill and plan again, and carry one action message
// through the actuator to its disposition on the queue. The hosts
// (runtime/lambda on AWS Lambda, runtime/azfunc on Azure Functions)
// decode their platform's events, build an App from their cloud's
// provider and queue, and call it.
package funcapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/report"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

// Queue is what the actuate function needs of its action queue beyond
// the platform's own delivery: putting a message back for later and
// dead-lettering one with its reason.
type Queue interface {
	// Send enqueues an approved action (the approve function).
	Send(ctx context.Context, body []byte) error
	// SendDelayed enqueues body to become visible after delay.
	SendDelayed(ctx context.Context, body []byte, delay time.Duration) error
	// SendDeadLetter puts body on the dead-letter (poison) queue with
	// the reason and the attempts it took.
	SendDeadLetter(ctx context.Context, body []byte, attempts int, reason string) error
}

// App is one function's services: the pipeline over the lake, the
// notifier, and for the actuator its cloud's resources and queue.
type App struct {
	Pipe     *pipeline.Pipeline
	Notifier *httpapi.Notifier
	// ReportURL is where people read plan reports, or "".
	ReportURL string
	Logger    *slog.Logger

	// Cloud is the cloud this deployment changes; Resources changes it.
	Cloud     domain.Cloud
	Resources actuate.Resources
	// InScope refuses an action on a resource this deployment does not
	// own (another account, subscription or region); nil allows all.
	InScope func(ctx context.Context, ref domain.ResourceRef) error
	Queue   Queue
	// Apply lets the actuator change resources; without it, a dry run.
	Apply bool
	// KillSwitch is the host's kill switch variable.
	KillSwitch bool
	// BreakerThreshold and BreakerCoolDown are the circuit breaker's
	// settings (zero: the actuator's defaults).
	BreakerThreshold int
	BreakerCoolDown  time.Duration
	// Worker names this execution environment in action states.
	Worker string
	// HoldDelay is how long a held or deferred message waits.
	HoldDelay time.Duration

	plansOnce sync.Once
	plans     *PlanCache
	priceLoad priceLoad
}

// Plans returns the app's plan cache over the lake.
func (a *App) Plans() *PlanCache {
	a.plansOnce.Do(func() { a.plans = &PlanCache{Lake: a.Pipe.Lake, plans: map[string]domain.Plan{}} })
	return a.plans
}

func (a *App) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// PriceSource is a provider that reads its cloud's live price catalog.
type PriceSource interface {
	PriceCatalog(ctx context.Context, regions []string) (*pricing.Catalog, error)
}

// Collect reads prov into a committed snapshot of days of history and,
// when prov is a PriceSource, stores the live prices of the regions it
// read in the lake for the optimizer. A failed price refresh is logged:
// the snapshot stands, and the optimizer keeps the prices it had.
func (a *App) Collect(ctx context.Context, prov collect.Provider, days int) (collect.Result, error) {
	res, err := a.Pipe.Collect(ctx, prov, days, time.Time{}, nil)
	if err != nil {
		return res, err
	}
	failed := 0
	var regions []string
	for _, s := range res.Scopes {
		switch {
		case s.Error != "":
			failed++
		case s.Region != "" && !slices.Contains(regions, s.Region):
			regions = append(regions, s.Region)
		}
	}
	a.logger().InfoContext(ctx, "snapshot committed", "run_id", res.RunID, "resources", res.Resources, "series", res.Series,
		"cost_rows", res.CostRows, "scopes", len(res.Scopes), "failed_scopes", failed)
	src, ok := prov.(PriceSource)
	if !ok || len(regions) == 0 {
		return res, nil
	}
	live, err := src.PriceCatalog(ctx, regions)
	if err == nil {
		err = a.Pipe.StorePrices(ctx, prov.Cloud(), live.All())
	}
	if err != nil {
		a.logger().WarnContext(ctx, "price refresh failed; the optimizer keeps its prices", "error", err)
		return res, nil
	}
	a.logger().InfoContext(ctx, "prices refreshed", "regions", regions, "prices", len(live.All()))
	return res, nil
}

// PlanResponse is what the optimize function answers for one manifest.
type PlanResponse struct {
	PlanID         string `json:"plan_id"`
	Actions        int    `json:"actions"`
	MonthlySavings string `json:"monthly_savings"`
	Currency       string `json:"currency"`
	// Reused is true when the newest plan was already made from the same
	// snapshots (object stores deliver events at least once).
	Reused bool `json:"reused,omitempty"`
}

// Optimize plans after the snapshot whose manifest is key was
// committed, unless the newest plan was already made from the latest
// snapshots of every cloud and the current policy: then it answers that
// plan, Reused.
func (a *App) Optimize(ctx context.Context, key string) (PlanResponse, error) {
	if prev, err := a.Pipe.LatestPlan(ctx); err == nil && a.sameSnapshots(ctx, prev) {
		a.logger().InfoContext(ctx, "plan already made from these snapshots", "plan_id", prev.ID, "manifest", key)
		return planResponse(prev, true), nil
	}
	return a.Plan(ctx)
}

// Plan makes a plan from the latest snapshots and notifies it: the
// Block Kit message with the plan's buttons, its report link and the
// cost anomalies. A lost notification is logged; the plan stands.
func (a *App) Plan(ctx context.Context) (PlanResponse, error) {
	plan, err := a.Pipe.Plan(ctx)
	if err != nil {
		return PlanResponse{}, err
	}
	in, err := a.Pipe.ReportInput(ctx, plan)
	if err != nil {
		return PlanResponse{}, err
	}
	data := map[string]any{"totals": report.Summary(in)}
	var anomalies []string
	if in.Spend != nil {
		anomalies = report.AnomalyLines(in.Spend, 5)
		data["anomalies"] = in.Spend.Anomalies
	}
	msg, err := httpapi.PlanNotification(&plan, a.ReportURL, data)
	if err != nil {
		return PlanResponse{}, err
	}
	if len(anomalies) > 0 {
		note := fmt.Sprintf("%d cost anomalies:\n• %s", len(in.Spend.Anomalies), strings.Join(anomalies, "\n• "))
		msg.Text += "\n" + note
		// Bill text (service and account names) is escaped so it cannot
		// mention people or forge links.
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(note)
		msg.Blocks = append(msg.Blocks, approve.Block{Type: "section", Text: &approve.Text{Type: "mrkdwn", Text: esc}})
	}
	if err := a.Notifier.Notify(ctx, msg); err != nil {
		a.logger().WarnContext(ctx, "notification failed", "error", err)
	}
	return planResponse(plan, false), nil
}

func planResponse(p domain.Plan, reused bool) PlanResponse {
	return PlanResponse{PlanID: p.ID, Actions: len(p.Actions), MonthlySavings: p.TotalSavings().Decimal(), Currency: p.Currency, Reused: reused}
}

// sameSnapshots reports whether plan was made from the latest snapshot
// of every cloud and the current policy.
func (a *App) sameSnapshots(ctx context.Context, plan domain.Plan) bool {
	if plan.PolicyHash != a.Pipe.Policy.Hash() {
		return false
	}
	used := map[domain.Cloud]string{}
	for _, s := range plan.Snapshots {
		used[s.Cloud] = s.RunID
	}
	for _, c := range domain.Clouds {
		s, err := a.Pipe.Lake.LatestSnapshot(ctx, c)
		if errors.Is(err, domain.ErrNotFound) {
			if _, ok := used[c]; ok {
				return false
			}
			continue
		}
		if err != nil || used[c] != s.Ref().RunID {
			return false
		}
	}
	return true
}

// IngestResponse is what the optimize function answers for a billing
// delivery: the ingest's summary and the plan made with the new bill
// (none before the first snapshot).
type IngestResponse struct {
	RunID    string           `json:"run_id"`
	Files    int              `json:"files"`
	Rows     int64            `json:"rows"`
	Kept     int64            `json:"kept"`
	Rejected map[string]int64 `json:"rejected_by_rule,omitempty"`
	Skipped  []string         `json:"skipped,omitempty"`
	Plan     *PlanResponse    `json:"plan,omitempty"`
}

// Ingest reads the billing export at src (a manifest or file URL the
// host checked is in its own storage), commits it as billing snapshots
// and plans again.
func (a *App) Ingest(ctx context.Context, src string) (IngestResponse, error) {
	srcs, err := pipeline.ExpandSources(ctx, []string{src})
	if err != nil {
		return IngestResponse{}, err
	}
	defer srcs.Close()
	res, err := a.Pipe.Ingest(ctx, srcs, pipeline.IngestOptions{})
	if err != nil {
		return IngestResponse{}, err
	}
	out := IngestResponse{RunID: res.RunID, Files: len(res.Files), Rows: res.Total.Rows, Kept: res.Total.Kept, Skipped: res.Skipped}
	for r, n := range res.Total.ByRule {
		if out.Rejected == nil {
			out.Rejected = map[string]int64{}
		}
		out.Rejected[string(r)] = n
	}
	a.logger().InfoContext(ctx, "billing ingested", "run_id", res.RunID, "rows", res.Total.Rows, "kept", res.Total.Kept, "rejected", res.Total.Rejected)
	pr, err := a.Plan(ctx)
	if errors.Is(err, domain.ErrNotFound) {
		return out, nil // no snapshot yet: the first collection will plan with this bill
	}
	if err != nil {
		return IngestResponse{}, err
	}
	out.Plan = &pr
	return out, nil
}

// Enqueue implements approve.Enqueuer: this deployment's queue takes the
// actions on its own cloud's resources.
func (a *App) Enqueue(ctx context.Context, cloud domain.Cloud, body []byte) error {
	if cloud != a.Cloud {
		return fmt.Errorf("%w: this deployment's action queue takes %s actions only, not %s", domain.ErrUnsupported, a.Cloud, cloud)
	}
	return a.Queue.Send(ctx, body)
}

// Message is one delivery of an action message.
type Message struct {
	ID      string
	Body    []byte
	Attempt int
}

// Actuate carries one action message through the actuator. A nil error
// means the message is done and the platform may delete it; that
// includes a message Actuate itself dead-lettered, held for later or
// deferred (sent again HoldDelay later as a fresh message, so a wait
// never counts towards the platform's attempt limit). An error leaves the
// message for redelivery.
// ScheduleReport is the response of a schedules run: how many applied
// schedules the host's cloud and scope hold, and what Enforce did.
type ScheduleReport struct {
	Schedules int `json:"schedules"`
	actuate.EnforceReport
}

// EnforceSchedules keeps the VMs of this cloud's applied schedules on
// them (actuate.Actuator.Enforce), with the host's dry-run setting, kill
// switch and scope.
func (a *App) EnforceSchedules(ctx context.Context) (ScheduleReport, error) {
	all, err := actuate.AppliedSchedules(ctx, a.Pipe.Lake)
	if err != nil {
		return ScheduleReport{}, err
	}
	var mine []domain.Action
	for _, s := range all {
		if s.Target.Cloud != a.Cloud || (a.InScope != nil && a.InScope(ctx, s.Target) != nil) {
			continue
		}
		mine = append(mine, s)
	}
	act := a.Pipe.Actuator(map[domain.Cloud]actuate.Resources{a.Cloud: a.Resources}, !a.Apply, a.Worker)
	act.KillSwitch = a.KillSwitch
	rep, err := act.Enforce(ctx, mine)
	out := ScheduleReport{Schedules: len(mine), EnforceReport: rep}
	a.logger().InfoContext(ctx, "schedules enforced", "schedules", out.Schedules, "started", out.Started, "stopped", out.Stopped,
		"unchanged", out.Unchanged, "skipped", len(out.Skipped), "failed", len(out.Failed), "halted", out.Halted != "", "dry_run", out.DryRun)
	return out, err
}

func (a *App) Actuate(ctx context.Context, msg Message) error {
	log := a.logger().With("message_id", msg.ID, "attempt", msg.Attempt)
	act := a.Pipe.Actuator(map[domain.Cloud]actuate.Resources{a.Cloud: a.Resources}, !a.Apply, a.Worker)
	act.Records = a.Plans()
	act.KillSwitch = a.KillSwitch
	act.BreakerThreshold, act.BreakerCoolDown = a.BreakerThreshold, a.BreakerCoolDown
	// The kill switch comes before anything that could settle the
	// message here: while it is engaged nothing is dead-lettered.
	if res, halted := act.Halted(ctx, msg.Body); halted {
		return a.deferMessage(ctx, log, msg, res)
	}
	var head domain.QueuedAction
	if err := json.Unmarshal(msg.Body, &head); err == nil && head.Action.Target.ID != "" && a.InScope != nil {
		if err := a.InScope(ctx, head.Action.Target); err != nil {
			return a.deadLetter(ctx, log, msg, "refused: "+err.Error())
		}
	}
	if head.Action.PlanID != "" && a.Apply {
		plan, err := a.Plans().GetPlan(ctx, head.Action.PlanID)
		if err == nil {
			if act.Budget, err = a.Pipe.DayBudget(ctx, plan); err != nil {
				return fmt.Errorf("blast-radius budget: %w", err)
			}
		}
	}
	res := act.Handle(ctx, msg.Body)
	switch res.Disposition {
	case actuate.Ack:
		return nil
	case actuate.Hold:
		if err := a.Queue.SendDelayed(ctx, msg.Body, a.HoldDelay); err != nil {
			return fmt.Errorf("hold %s for later: %w", res.ActionID, err)
		}
		log.InfoContext(ctx, "held for a later run by the blast-radius cap", "action_id", res.ActionID, "delay", a.HoldDelay)
		return nil
	case actuate.DeadLetter:
		return a.deadLetter(ctx, log, msg, res.Reason)
	case actuate.Defer:
		return a.deferMessage(ctx, log, msg, res)
	}
	return fmt.Errorf("retry: %s", res.Reason)
}

// deferMessage sends a message deferred by the kill switch or a circuit
// breaker again, HoldDelay later, and lets this delivery be deleted.
// When the send fails the message is left for redelivery.
func (a *App) deferMessage(ctx context.Context, log *slog.Logger, msg Message, res actuate.Result) error {
	if err := a.Queue.SendDelayed(ctx, msg.Body, a.HoldDelay); err != nil {
		return fmt.Errorf("defer %s: %w", res.ActionID, err)
	}
	log.WarnContext(ctx, "deferred", "action_id", res.ActionID, "reason", res.Reason, "delay", a.HoldDelay)
	return nil
}

// deadLetter sends a message to the dead-letter queue with its reason;
// the message is then done. When even that fails, the message is retried
// and the platform's attempt limit dead-letters it in the end.
func (a *App) deadLetter(ctx context.Context, log *slog.Logger, msg Message, reason string) error {
	if err := a.Queue.SendDeadLetter(ctx, msg.Body, msg.Attempt, reason); err != nil {
		return fmt.Errorf("dead-letter (%s): %w", reason, err)
	}
	log.WarnContext(ctx, "message dead-lettered", "reason", reason)
	return nil
}

// PlanCache is the lake with the plans it has read kept in memory: a
// plan never changes once written, and every message of a batch names
// one, read for its budget and again by the actuator.
type PlanCache struct {
	*lake.Lake
	mu    sync.Mutex
	plans map[string]domain.Plan
}

// GetPlan returns the plan, from memory after the first read.
func (c *PlanCache) GetPlan(ctx context.Context, id string) (domain.Plan, error) {
	c.mu.Lock()
	p, ok := c.plans[id]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := c.Lake.GetPlan(ctx, id)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	c.plans[id] = p
	c.mu.Unlock()
	return p, nil
}
