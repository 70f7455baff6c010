// Package report turns a plan, and optionally the outcomes of its
// actuation, into what people read: a Markdown report for chat and pull
// requests, a self-contained HTML page (no scripts, no external assets)
// and the totals both are built from.
//
// Every string that comes from a plan (resource names, tags, reasons) is
// escaped for the format it is written in; money is shown with
// domain.FormatAmount and kept exact until then.
package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
)

// Outcome is what actuation did with one action of the plan.
type Outcome struct {
	ActionID string
	Status   domain.ActionStatus
	Reason   string
	// Realized is the measured monthly saving of an applied action.
	Realized domain.Money
	DryRun   bool
}

// Input is what a report is made from.
type Input struct {
	Plan domain.Plan
	// Outcomes by action ID, optional: present after actuation.
	Outcomes    map[string]Outcome
	GeneratedAt time.Time
	// MaxActions limits the actions listed and explained (the largest
	// savings first); 0 means DefaultMaxActions. Totals count them all.
	MaxActions int
	// Spend holds the spend forecasts and anomalies, when there is cost
	// data.
	Spend *forecast.Result
}

// Group is the total of the actions sharing a cloud, an account or a
// kind; the fields that do not define the group are empty.
type Group struct {
	Cloud          domain.Cloud      `json:"cloud,omitempty"`
	Account        string            `json:"account,omitempty"`
	Kind           domain.ActionKind `json:"kind,omitempty"`
	Actions        int               `json:"actions"`
	MonthlySavings domain.Money      `json:"monthly_savings"`
	// Applied and Realized count the actions applied for real and their
	// measured savings, when outcomes are present.
	Applied  int          `json:"applied,omitempty"`
	Realized domain.Money `json:"realized_monthly_savings,omitzero"`
}

// OutcomeCounts sums what actuation did with the plan's actions.
type OutcomeCounts struct {
	Applied    int `json:"applied"`
	DryRun     int `json:"dry_run"`
	Skipped    int `json:"skipped"`
	Failed     int `json:"failed"`
	RolledBack int `json:"rolled_back"`
	// Pending counts actions with no terminal outcome: not approved,
	// still queued or being applied.
	Pending int `json:"pending"`
	// Realized is the measured monthly savings of applied actions;
	// DryRunSavings what the dry-run actions would have saved.
	Realized      domain.Money `json:"realized_monthly_savings"`
	DryRunSavings domain.Money `json:"dry_run_monthly_savings"`
}

// Totals are a plan's totals: overall, per cloud (in domain.Clouds
// order), per account and per action kind (in domain.ActionKinds order).
type Totals struct {
	Currency       string         `json:"currency"`
	Actions        int            `json:"actions"`
	MonthlySavings domain.Money   `json:"monthly_savings"`
	AnnualSavings  domain.Money   `json:"annual_savings"`
	ByCloud        []Group        `json:"by_cloud"`
	ByAccount      []Group        `json:"by_account"`
	ByKind         []Group        `json:"by_kind"`
	Outcomes       *OutcomeCounts `json:"outcomes,omitempty"` // nil without outcomes
}

// outcomeClass is where an outcome is counted.
type outcomeClass int

const (
	classPending outcomeClass = iota
	classApplied
	classDryRun
	classSkipped
	classFailed
	classRolledBack
)

func classify(o Outcome, ok bool) outcomeClass {
	if !ok {
		return classPending
	}
	switch o.Status {
	case domain.StatusApplied:
		if o.DryRun {
			return classDryRun
		}
		return classApplied
	case domain.StatusDryRun:
		return classDryRun
	case domain.StatusSkipped:
		return classSkipped
	case domain.StatusFailed:
		return classFailed
	case domain.StatusRolledBack:
		return classRolledBack
	}
	return classPending
}

// Summary returns the totals of in's plan and, when in has outcomes,
// what actuation did and saved.
func Summary(in Input) Totals {
	cur := in.Plan.Currency
	zero := domain.Money{Currency: cur}
	t := Totals{Currency: cur, MonthlySavings: zero}
	clouds := map[domain.Cloud]*Group{}
	accounts := map[[2]string]*Group{}
	kinds := map[domain.ActionKind]*Group{}
	var oc *OutcomeCounts
	if len(in.Outcomes) > 0 {
		oc = &OutcomeCounts{Realized: zero, DryRunSavings: zero}
	}
	for _, a := range in.Plan.Actions {
		t.Actions++
		t.MonthlySavings = t.MonthlySavings.Plus(a.MonthlySavings)
		o, has := in.Outcomes[a.ID]
		class := classify(o, has)
		groups := []*Group{
			group(clouds, a.Target.Cloud, Group{Cloud: a.Target.Cloud}, zero),
			group(accounts, [2]string{string(a.Target.Cloud), a.Target.Account}, Group{Cloud: a.Target.Cloud, Account: a.Target.Account}, zero),
			group(kinds, a.Kind, Group{Kind: a.Kind}, zero),
		}
		for _, g := range groups {
			g.Actions++
			g.MonthlySavings = g.MonthlySavings.Plus(a.MonthlySavings)
			if oc != nil && class == classApplied {
				g.Applied++
				g.Realized = g.Realized.Plus(o.Realized)
			}
		}
		if oc == nil {
			continue
		}
		switch class {
		case classApplied:
			oc.Applied++
			oc.Realized = oc.Realized.Plus(o.Realized)
		case classDryRun:
			oc.DryRun++
			oc.DryRunSavings = oc.DryRunSavings.Plus(a.MonthlySavings)
		case classSkipped:
			oc.Skipped++
		case classFailed:
			oc.Failed++
		case classRolledBack:
			oc.RolledBack++
		default:
			oc.Pending++
		}
	}
	t.AnnualSavings = domain.Money{Micros: t.MonthlySavings.Micros * 12, Currency: cur}
	t.Outcomes = oc

	t.ByCloud = sortedGroups(clouds, func(a, b Group) int {
		return cmp.Compare(rank(domain.Clouds, a.Cloud), rank(domain.Clouds, b.Cloud))
	})
	t.ByKind = sortedGroups(kinds, func(a, b Group) int {
		return cmp.Compare(rank(domain.ActionKinds, a.Kind), rank(domain.ActionKinds, b.Kind))
	})
	t.ByAccount = sortedGroups(accounts, func(a, b Group) int {
		return cmp.Or(
			cmp.Compare(b.MonthlySavings.Micros, a.MonthlySavings.Micros),
			cmp.Compare(a.Cloud, b.Cloud),
			cmp.Compare(a.Account, b.Account))
	})
	return t
}

func group[K comparable](m map[K]*Group, k K, init Group, zero domain.Money) *Group {
	g, ok := m[k]
	if !ok {
		init.MonthlySavings, init.Realized = zero, zero
		g = &init
		m[k] = g
	}
	return g
}

// sortedGroups returns the groups of m ordered by order, then by key
// fields, so the result never depends on map order.
func sortedGroups[K comparable](m map[K]*Group, order func(a, b Group) int) []Group {
	out := make([]Group, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int {
		return cmp.Or(order(a, b),
			cmp.Compare(a.Cloud, b.Cloud), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// rank returns the position of v in order, unknown values last.
func rank[T comparable](order []T, v T) int {
	if i := slices.Index(order, v); i >= 0 {
		return i
	}
	return len(order)
}
