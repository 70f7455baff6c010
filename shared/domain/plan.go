package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// PlanVersion is the schema version of plan documents.
const PlanVersion = "cloudtrim.plan/v1"

// ActionKind says what an action does.
type ActionKind string

// The kinds of action.
const (
	ActionRightsize      ActionKind = "rightsize"       // change the VM size
	ActionStop           ActionKind = "stop"            // stop (deallocate) an idle VM
	ActionSchedule       ActionKind = "schedule"        // stop and start a VM on a weekly schedule
	ActionDeleteDisk     ActionKind = "delete_disk"     // delete an unattached disk
	ActionReleaseIP      ActionKind = "release_ip"      // release an unassociated address
	ActionDeleteSnapshot ActionKind = "delete_snapshot" // delete an old snapshot
	ActionRetypeDisk     ActionKind = "retype_disk"     // change a disk's type in place (gp2 to gp3, Premium to Standard SSD)
	ActionTierStorage    ActionKind = "tier_storage"    // move a bucket's older objects to a cheaper storage class by a lifecycle rule
)

// ActionKinds lists every action kind in report order.
var ActionKinds = []ActionKind{ActionRightsize, ActionStop, ActionSchedule, ActionDeleteDisk, ActionReleaseIP, ActionDeleteSnapshot, ActionRetypeDisk, ActionTierStorage}

// Risk grades how much can go wrong when an action is applied.
type Risk string

// Risk grades.
const (
	RiskLow    Risk = "low"
	RiskMedium Risk = "medium"
	RiskHigh   Risk = "high"
)

// Savings bases: where an action's monthly savings come from.
const (
	BasisEffectiveCost = "effective_cost" // the resource's FOCUS EffectiveCost in the bill
	BasisListPrice     = "list_price"     // the public on-demand price catalog
)

// Action is one proposed change to one resource.
type Action struct {
	ID     string      `json:"id"`
	PlanID string      `json:"plan_id"`
	Kind   ActionKind  `json:"kind"`
	Target ResourceRef `json:"target"`
	Name   string      `json:"name,omitempty"`
	// Before is the state the resource had when the plan was made; the
	// actuator refuses if the live resource differs. After is the state
	// the action leaves it in.
	Before   ResourceState     `json:"before"`
	After    ResourceState     `json:"after"`
	Schedule *Schedule         `json:"schedule,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`

	Summary        string   `json:"summary"`
	Evidence       Evidence `json:"evidence"`
	MonthlyCost    Money    `json:"monthly_cost"`
	MonthlySavings Money    `json:"monthly_savings"`
	SavingsBasis   string   `json:"savings_basis"`
	Risk           Risk     `json:"risk"`
	Confidence     float64  `json:"confidence"`
	Undo           string   `json:"undo"`
}

// ActionID returns the stable identifier of the action of kind k on a
// resource: the same finding gets the same ID in every plan.
func ActionID(k ActionKind, ref ResourceRef) string {
	sum := sha256.Sum256([]byte(string(k) + "\x00" + string(ref.Cloud) + "\x00" + ref.Account + "\x00" + ref.Region + "\x00" + ref.ID))
	return "act-" + hex.EncodeToString(sum[:8])
}

// Hash returns the digest an approval is bound to: the plan, the action
// and every parameter that decides what the action does. Any change to
// them changes the hash and invalidates the approval.
func (a Action) Hash() string {
	bound := struct {
		PlanID   string        `json:"plan_id"`
		ID       string        `json:"id"`
		Kind     ActionKind    `json:"kind"`
		Target   ResourceRef   `json:"target"`
		Before   ResourceState `json:"before"`
		After    ResourceState `json:"after"`
		Schedule *Schedule     `json:"schedule,omitempty"`
		Savings  Money         `json:"monthly_savings"`
	}{a.PlanID, a.ID, a.Kind, a.Target, a.Before, a.After, a.Schedule, a.MonthlySavings}
	b, _ := json.Marshal(bound)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Evidence is what an action is based on.
type Evidence struct {
	WindowStart  time.Time `json:"window_start,omitzero"`
	WindowEnd    time.Time `json:"window_end,omitzero"`
	CPU          *Stats    `json:"cpu,omitempty"`
	Memory       *Stats    `json:"memory,omitempty"`
	VCPU         int       `json:"vcpu,omitempty"`
	MemoryMiB    int64     `json:"memory_mib,omitempty"`
	NewVCPU      int       `json:"new_vcpu,omitempty"`
	NewMemoryMiB int64     `json:"new_memory_mib,omitempty"`
	AgeDays      float64   `json:"age_days,omitempty"`
	// DailyPeakCPU is the highest CPU percentage of each day of the
	// window (NaN-free; -1 marks a day without data), for the report.
	DailyPeakCPU []float64 `json:"daily_peak_cpu,omitempty"`
	Notes        []string  `json:"notes,omitempty"`
}

// Finding is a resource the optimizer looked at and left out of the
// plan, with the reason (insufficient data, protected, incomplete, ...).
type Finding struct {
	Target ResourceRef `json:"target"`
	Kind   ActionKind  `json:"kind,omitempty"`
	Reason string      `json:"reason"`
}

// SnapshotRef names the committed snapshot a plan was made from.
type SnapshotRef struct {
	Cloud    Cloud     `json:"cloud"`
	RunID    string    `json:"run_id"`
	Manifest string    `json:"manifest"`
	Checksum string    `json:"checksum"`
	At       time.Time `json:"at"`
}

// Plan is the optimizer's output: a list of actions and what was left
// out, made from named snapshots under a policy.
type Plan struct {
	Version    string        `json:"version"`
	ID         string        `json:"id"`
	CreatedAt  time.Time     `json:"created_at"`
	Currency   string        `json:"currency"`
	PolicyHash string        `json:"policy_hash"`
	OptInTag   string        `json:"opt_in_tag,omitempty"` // the policy's opt-in tag key: actions on resources without it will be refused
	Snapshots  []SnapshotRef `json:"snapshots"`
	Resources  int           `json:"resources"`
	Actions    []Action      `json:"actions"`
	Skipped    []Finding     `json:"skipped,omitempty"`
	// BillChecks compare each cloud's inventory with its bill.
	BillChecks []BillCheck `json:"bill_checks,omitempty"`
	// Placement holds the advisory placement variants, nil when the
	// policy's placement is disabled (and in plans made before it
	// existed). Its migrations are not actions: nothing approves or
	// applies them, and they count neither in the totals nor in Digest.
	Placement *PlacementPlan `json:"placement,omitempty"`
	// Commitments holds the advisory commitment purchases, nil when the
	// policy's commitments are disabled (and in plans made before they
	// existed).
	Commitments *CommitmentPlan `json:"commitments,omitempty"`
}

// Placement variant names: the cheapest placement found, the best
// performing, and the one nearest the ideal of both.
const (
	VariantMaxSavings       = "max_savings"
	VariantBalanced         = "balanced"
	VariantPerformanceFirst = "performance_first"
)

// PlacementPlan is where the plan's movable workloads could run instead:
// a few variants that trade monthly cost against performance, each a
// list of migrations with what they save, what copying the data costs
// once, and the solver's proof of how far from optimal it can be.
type PlacementPlan struct {
	// Workloads counts the movable VMs the solver placed, Locations the
	// candidate places (instance type × region × cloud) it chose from,
	// and MaxMoves the most migrations a variant may hold.
	Workloads int `json:"workloads"`
	Locations int `json:"locations"`
	MaxMoves  int `json:"max_moves"`
	// MonthlyCost is what the workloads cost a month where they run now:
	// each VM and its attached disks, from the bill where billed.
	MonthlyCost Money `json:"monthly_cost"`
	// Variants are, in this order, max_savings, balanced and
	// performance_first; two of them may be the same placement.
	Variants []PlacementVariant `json:"variants,omitempty"`
	// Findings say what was left out of the placement and why: VMs that
	// could not be priced or placed, regions without prices, or that no
	// VM carries the movable marker.
	Findings []Finding `json:"findings,omitempty"`
}

// PlacementVariant is one placement of the movable workloads.
type PlacementVariant struct {
	Name string `json:"name"`
	// Weight is the weight of performance against cost (0 to 1) the
	// solver minimised with.
	Weight float64 `json:"weight"`
	// CostSavings is the monthly saving against today: the sum of the
	// migrations' MonthlySavings, negative when the variant costs more.
	CostSavings Money `json:"cost_savings"`
	// PerformanceImprovement is the change, in percent, of the
	// workloads' total performance score (vCPUs × per-vCPU score).
	PerformanceImprovement float64 `json:"performance_improvement"`
	// MonthlyCost is what the workloads cost a month once moved.
	MonthlyCost Money `json:"monthly_cost"`
	// MigrationCost is the one-off cost of copying the migrations' data.
	MigrationCost Money `json:"migration_cost"`
	// Bound is the solver's proven lower bound on the objective it
	// minimised (cost and performance shortfall, each divided by its
	// ideal and weighted), and Gap how far above it the variant is at
	// most, relative to its objective: 0.001 is within 0.1 % of optimal.
	Bound float64 `json:"bound"`
	Gap   float64 `json:"gap"`
	// Stop says why the solver stopped: gap, converged or time_limit.
	Stop string `json:"stop"`
	// MonthlyCostBound, for max_savings only, is the proven floor of the
	// workloads' monthly cost under the policy's rules, migration
	// amortised: no placement costs less.
	MonthlyCostBound Money `json:"monthly_cost_bound,omitzero"`
	// ResourceMigrations are the workloads that move; the others stay.
	ResourceMigrations []Migration `json:"resource_migrations"`
}

// Migration is one workload moving to another cloud, region or instance
// type. It is advice: it is not an action and nothing applies it.
type Migration struct {
	Target ResourceRef   `json:"target"`
	Name   string        `json:"name,omitempty"`
	From   PlacementSite `json:"from"`
	To     PlacementSite `json:"to"`
	// MonthlyCostBefore is the VM and its disks today; MonthlyCostAfter
	// the target type's list price plus the data at the target's block
	// storage price and the traffic back to where its peers stay.
	MonthlyCostBefore Money `json:"monthly_cost_before"`
	MonthlyCostAfter  Money `json:"monthly_cost_after"`
	MonthlySavings    Money `json:"monthly_savings"`
	// MigrationCost is the one-off egress of copying DataGiB out.
	MigrationCost Money `json:"migration_cost"`
	// PerformanceChange is the change of its per-vCPU score, in percent.
	PerformanceChange float64 `json:"performance_change"`
	// DataGiB is the size of its attached disks; TrafficOutGiB and
	// TrafficInGiB its monthly network traffic, when measured.
	DataGiB       int64   `json:"data_gib"`
	TrafficOutGiB float64 `json:"traffic_out_gib,omitempty"`
	TrafficInGiB  float64 `json:"traffic_in_gib,omitempty"`
	// Evidence holds the utilization percentiles, the shapes before
	// (VCPU, MemoryMiB) and after (NewVCPU, NewMemoryMiB) and notes on
	// how each figure was found.
	Evidence Evidence `json:"evidence"`
}

// PlacementSite is where a workload runs: an instance type in a region
// of a cloud.
type PlacementSite struct {
	Cloud  Cloud  `json:"cloud"`
	Region string `json:"region"`
	SKU    string `json:"sku"`
}

func (s PlacementSite) String() string { return string(s.Cloud) + "/" + s.Region + "/" + s.SKU }

// Action returns the action with the given ID.
func (p *Plan) Action(id string) (Action, bool) {
	for _, a := range p.Actions {
		if a.ID == id {
			return a, true
		}
	}
	return Action{}, false
}

// Validate checks the schema version and the internal consistency of p.
func (p *Plan) Validate() error {
	if p.Version != PlanVersion {
		return fmt.Errorf("%w: plan %s: schema version %q is not supported (want %q)", ErrUnsupported, p.ID, p.Version, PlanVersion)
	}
	if p.ID == "" {
		return fmt.Errorf("%w: plan has no id", ErrInvalid)
	}
	seen := make(map[string]bool, len(p.Actions))
	for _, a := range p.Actions {
		if a.PlanID != p.ID {
			return fmt.Errorf("%w: plan %s: action %s belongs to plan %q", ErrInvalid, p.ID, a.ID, a.PlanID)
		}
		if seen[a.ID] {
			return fmt.Errorf("%w: plan %s: action %s appears twice", ErrInvalid, p.ID, a.ID)
		}
		seen[a.ID] = true
	}
	if pl := p.Placement; pl != nil {
		for _, v := range pl.Variants {
			sum := Money{Currency: v.CostSavings.Currency}
			for _, m := range v.ResourceMigrations {
				sum = sum.Plus(m.MonthlySavings)
			}
			if sum.Micros != v.CostSavings.Micros {
				return fmt.Errorf("%w: plan %s: placement variant %s saves %s %s, the sum of its migrations %s %s",
					ErrInvalid, p.ID, v.Name, v.CostSavings.Currency, v.CostSavings.Decimal(), sum.Currency, sum.Decimal())
			}
		}
	}
	if err := p.Commitments.Validate(p.Currency); err != nil {
		return fmt.Errorf("plan %s: %w", p.ID, err)
	}
	return nil
}

// Total is a sum of actions and savings.
type Total struct {
	Actions int   `json:"actions"`
	Savings Money `json:"monthly_savings"`
}

// Totals sums the plan's monthly savings by a key function.
func (p *Plan) Totals(key func(Action) string) map[string]Total {
	out := map[string]Total{}
	for _, a := range p.Actions {
		k := key(a)
		t := out[k]
		t.Actions++
		t.Savings = t.Savings.Plus(a.MonthlySavings)
		out[k] = t
	}
	return out
}

// TotalSavings returns the plan's total monthly savings.
func (p *Plan) TotalSavings() Money {
	m := Money{Currency: p.Currency}
	for _, a := range p.Actions {
		m = m.Plus(a.MonthlySavings)
	}
	return m
}

// SortActions orders actions by savings, largest first, then by ID, so
// plans are deterministic.
func SortActions(as []Action) {
	sort.SliceStable(as, func(i, j int) bool {
		if as[i].MonthlySavings.Micros != as[j].MonthlySavings.Micros {
			return as[i].MonthlySavings.Micros > as[j].MonthlySavings.Micros
		}
		return as[i].ID < as[j].ID
	})
}

// Digest returns a hash over the plan ID and the hash of every action,
// in order: approving "the whole plan" is bound to this value, so a plan
// that changed after it was shown cannot be approved with it.
func (p *Plan) Digest() string {
	h := sha256.New()
	h.Write([]byte(p.ID))
	for _, a := range p.Actions {
		h.Write([]byte{0})
		h.Write([]byte(a.Hash()))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// BillCheck compares one cloud's inventory with its bill over the
// snapshot's window: resources the bill charges that the inventory does
// not have (deleted since, or in a scope the collector cannot read), and
// billable resources the bill never names (free, covered elsewhere, or a
// bill that lacks resource-level rows).
type BillCheck struct {
	Cloud Cloud `json:"cloud"`
	// Source is where the cost rows came from: "billing export" when an
	// ingested export covered the window, else "collector".
	Source string `json:"source"`
	// ResourceRows says whether the cost rows name resources at all; when
	// they do not, nothing can be compared.
	ResourceRows bool `json:"resource_rows"`
	// BilledNotInInventory counts resources billed but not inventoried;
	// Top lists the costliest of them (at most 10), and Cost is their
	// usage cost in the plan currency.
	BilledNotInInventory     int          `json:"billed_not_in_inventory"`
	BilledNotInInventoryCost Money        `json:"billed_not_in_inventory_cost"`
	TopBilledNotInInventory  []BilledItem `json:"top_billed_not_in_inventory,omitempty"`
	// InventoryNotBilled counts inventoried resources that should bill (a
	// running VM, a disk, an address, a snapshot) and have no usage row;
	// Examples lists up to 10 of them.
	InventoryNotBilled         int           `json:"inventory_not_billed"`
	ExamplesInventoryNotBilled []ResourceRef `json:"examples_inventory_not_billed,omitempty"`
}

// BilledItem is one resource in the bill.
type BilledItem struct {
	ResourceID string `json:"resource_id"`
	Service    string `json:"service,omitempty"`
	Cost       Money  `json:"cost"`
}
