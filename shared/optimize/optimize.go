package optimize

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Snapshot is one committed snapshot of one cloud, as the optimizer reads it.
//
// Each method calls fn once per item, in a stable order, and stops at
// the first error fn returns, returning that error as is. Any other
// error means the snapshot could not be read completely; the optimizer
// then fails rather than plan from part of an estate.
type Snapshot interface {
	// Ref names the snapshot.
	Ref() domain.SnapshotRef
	// Resources calls fn with every resource of the snapshot.
	Resources(ctx context.Context, fn func(domain.Resource) error) error
	// Series calls fn with every utilization series of the snapshot. fn
	// does not keep s.Values after it returns, so the reader may reuse
	// the buffer for the next series.
	Series(ctx context.Context, fn func(domain.Series) error) error
	// CostRows calls fn with every FOCUS cost row of the snapshot.
	CostRows(ctx context.Context, fn func(domain.CostRow) error) error
}

// Prices is the price catalog.
type Prices interface {
	// Lookup returns the on-demand list price of sku of the given kind in
	// region, and false when the catalog has none.
	Lookup(cloud domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool)
	// VMSizes returns every VM size offered in region, sorted by price.
	// The optimizer does not modify the slice.
	VMSizes(cloud domain.Cloud, region string) []domain.Price
}

// Request is one optimizer run.
type Request struct {
	// PlanID names the plan; every action carries it.
	PlanID string
	// Now is the plan's creation time and the reference for ages.
	Now time.Time
	// Policy must be valid (domain.Policy.Validate).
	Policy domain.Policy
	// Snapshots holds at most one committed snapshot per cloud.
	Snapshots []Snapshot
	Prices    Prices
	// Commitments gives the commitment rates of VM sizes; nil leaves only
	// the policy's commitments.discounts.
	Commitments CommitmentRates
	// ObjectClasses gives object storage class prices; nil leaves buckets
	// without a class change, saying so.
	ObjectClasses ObjectClasses
	// Logger receives a summary per snapshot and per run; nil discards.
	Logger *slog.Logger
}

// Optimize reads every snapshot of req and returns the plan.
//
// An invalid request returns an error wrapping domain.ErrInvalid (or
// domain.ErrUnsupported for a policy of another version). A snapshot that
// cannot be read returns its error wrapped with the snapshot's cloud and
// run ID; a cancelled ctx returns ctx's error. No partial plan is
// returned with an error.
//
// The plan is a function of the request alone: the same snapshots,
// prices and policy give the same plan, byte for byte, unless the
// policy's placement time limit (or ctx's deadline) cuts the placement
// solve short.
func Optimize(ctx context.Context, req Request) (domain.Plan, error) {
	if err := req.validate(); err != nil {
		return domain.Plan{}, err
	}
	start := time.Now()
	p := newPlanner(req)

	snaps := slices.Clone(req.Snapshots)
	refs := make([]domain.SnapshotRef, len(snaps))
	for i, s := range snaps {
		refs[i] = s.Ref()
	}
	// Read snapshots in a fixed order so that duplicates resolve the same
	// way whatever order the caller listed them in.
	order := make([]int, len(snaps))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareRefs(refs[a], refs[b]) })
	sortedRefs := make([]domain.SnapshotRef, 0, len(refs))
	for _, i := range order {
		if err := p.snapshot(ctx, snaps[i], refs[i]); err != nil {
			return domain.Plan{}, err
		}
		sortedRefs = append(sortedRefs, refs[i])
	}

	placed, err := p.place.plan(ctx, p)
	if err != nil {
		return domain.Plan{}, err
	}
	actions := p.actions.slice()
	domain.SortActions(actions)
	slices.SortFunc(p.skipped, compareFindings)
	plan := domain.Plan{
		Version:    domain.PlanVersion,
		ID:         req.PlanID,
		CreatedAt:  req.Now,
		Currency:   req.Policy.Currency,
		PolicyHash: req.Policy.Hash(),
		OptInTag:   req.Policy.OptInTag,
		Snapshots:  sortedRefs,
		Resources:  p.resources,
		Actions:    actions,
		Skipped:    p.skipped,
		BillChecks: p.billChecks,
		Placement:  placed,
	}
	plan.Commitments = p.commitmentPlan()
	p.log.InfoContext(ctx, "plan made",
		slog.String("plan_id", plan.ID),
		slog.Int("snapshots", len(plan.Snapshots)),
		slog.Int("resources", plan.Resources),
		slog.Int("actions", len(plan.Actions)),
		slog.Int("skipped", len(plan.Skipped)),
		slog.Int("below_min_savings", p.belowMin),
		slog.Int("no_cheaper_size", p.noCheaper),
		slog.String("monthly_savings", plan.TotalSavings().Decimal()),
		slog.String("currency", plan.Currency),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
	)
	return plan, nil
}

func (r Request) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: optimize: %s", domain.ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case strings.TrimSpace(r.PlanID) == "":
		return bad("plan id is empty")
	case r.Now.IsZero():
		return bad("plan %s: now is not set", r.PlanID)
	case r.Prices == nil:
		return bad("plan %s: no price catalog", r.PlanID)
	case len(r.Snapshots) == 0:
		return bad("plan %s: no snapshots", r.PlanID)
	}
	if err := r.Policy.Validate(); err != nil {
		return fmt.Errorf("optimize: plan %s: %w", r.PlanID, err)
	}
	if err := r.validatePlacement(); err != nil {
		return err
	}
	seen := map[domain.Cloud]string{}
	for i, s := range r.Snapshots {
		if s == nil {
			return bad("plan %s: snapshot %d is nil", r.PlanID, i)
		}
		ref := s.Ref()
		if !slices.Contains(domain.Clouds, ref.Cloud) {
			return bad("plan %s: snapshot %s: unknown cloud %q", r.PlanID, ref.RunID, ref.Cloud)
		}
		if other, dup := seen[ref.Cloud]; dup {
			return bad("plan %s: two %s snapshots (%s and %s): give the latest of each cloud", r.PlanID, ref.Cloud, other, ref.RunID)
		}
		seen[ref.Cloud] = ref.RunID
	}
	return nil
}

func compareRefs(a, b domain.SnapshotRef) int {
	return cmp.Or(
		cmp.Compare(a.Cloud, b.Cloud),
		cmp.Compare(a.RunID, b.RunID),
		a.At.Compare(b.At),
		cmp.Compare(a.Manifest, b.Manifest),
	)
}

func compareFindings(a, b domain.Finding) int {
	return cmp.Or(
		cmp.Compare(a.Target.Cloud, b.Target.Cloud),
		cmp.Compare(a.Target.Account, b.Target.Account),
		cmp.Compare(a.Target.Region, b.Target.Region),
		cmp.Compare(a.Target.Kind, b.Target.Kind),
		cmp.Compare(a.Target.ID, b.Target.ID),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Reason, b.Reason),
	)
}
