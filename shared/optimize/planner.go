package optimize

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/optimize/offhours"
)

// ctxEvery is how many cost rows pass between two checks of the context.
const ctxEvery = 1024

// planner holds the state of one Optimize run.
type planner struct {
	req     Request
	pol     domain.Policy
	log     *slog.Logger
	nonProd map[string]bool // policy.Schedules.NonProdValues, lower case
	// minSavings is policy.MinMonthlySavings in micro-units.
	minSavings int64

	sizes   map[sizeKey][]domain.Price // VM sizes per cloud and region, sorted by price then SKU
	locs    map[string]*time.Location  // time zones loaded, nil when they do not load
	scratch []float64                  // reused by domain.Summarize

	resources  int
	belowMin   int // actions dropped for saving less than the policy minimum
	noCheaper  int // VMs with enough data for which no cheaper size fits
	actions    chunkList[domain.Action]
	skipped    []domain.Finding
	billChecks []domain.BillCheck
	place      *placer // nil when the policy's placement is disabled
	commit     *commitState
}

type sizeKey struct {
	cloud  domain.Cloud
	region string
}

// entry is one resource of the snapshot being read and what the
// optimizer learnt about it.
type entry struct {
	res      domain.Resource
	excluded bool
	bill     []bill   // one per billing currency, usually one
	vm       *vmUsage // running VMs with series only
	bucket   *bucketUsage
	billed   bool // a usage row named it (also when excluded)
}

// snapshotState is what the optimizer keeps while it reads one snapshot.
type snapshotState struct {
	ref     domain.SnapshotRef
	entries chunkList[entry]
	index   map[string]int32 // join key → index in entries

	costRows, unmatchedRows, badRows, otherRows int
	series, unmatchedSeries, badSeries          int
	// notInInventory collects the usage billed to resources the
	// inventory does not have, by join key.
	notInInventory map[string]*billedOnly
	costSource     string
}

// billedOnly is what the bill charged a resource the inventory lacks.
type billedOnly struct {
	id, service string
	cost        map[string]int64 // effective cost per currency
}

func newPlanner(req Request) *planner {
	log := req.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nonProd := make(map[string]bool, len(req.Policy.Schedules.NonProdValues))
	for _, v := range req.Policy.Schedules.NonProdValues {
		nonProd[strings.ToLower(strings.TrimSpace(v))] = true
	}
	return &planner{
		req:        req,
		pol:        req.Policy,
		log:        log,
		nonProd:    nonProd,
		minSavings: domain.FromFloat(req.Policy.MinMonthlySavings, req.Policy.Currency).Micros,
		sizes:      map[sizeKey][]domain.Price{},
		locs:       map[string]*time.Location{},
		place:      newPlacer(req.Policy),
	}
}

// joinKey is the key that joins inventory, series and cost rows. Azure
// resource IDs are case-insensitive and billing exports often lower-case
// them, so Azure keys are folded.
func joinKey(cloud domain.Cloud, id string) string {
	return domain.ResourceKey(cloud, id)
}

// snapshot reads one snapshot in three passes (resources, cost rows,
// series) and then decides the actions for its resources.
func (p *planner) snapshot(ctx context.Context, snap Snapshot, ref domain.SnapshotRef) error {
	st := &snapshotState{ref: ref, index: map[string]int32{}, costSource: "collector"}
	if cs, ok := snap.(interface{ CostSource() string }); ok {
		st.costSource = cs.CostSource()
	}
	what := func(part string, err error) error {
		return fmt.Errorf("optimize: read %s of %s snapshot %s: %w", part, ref.Cloud, ref.RunID, err)
	}

	err := snap.Resources(ctx, func(r domain.Resource) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.addResource(st, r)
		return nil
	})
	if err != nil {
		return what("resources", err)
	}

	err = snap.CostRows(ctx, func(row domain.CostRow) error {
		st.costRows++
		if st.costRows%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p.addCostRow(st, &row)
		return nil
	})
	if err != nil {
		return what("cost rows", err)
	}

	err = snap.Series(ctx, func(s domain.Series) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.series++
		p.addSeries(st, s)
		return nil
	})
	if err != nil {
		return what("series", err)
	}

	for i := range st.entries.len() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("optimize: decide actions for %s snapshot %s: %w", ref.Cloud, ref.RunID, err)
		}
		if e := st.entries.at(i); !e.excluded {
			p.decide(st, e)
		}
	}

	p.place.collect(p, st)
	p.collectCommitments(st)
	p.billChecks = append(p.billChecks, st.billCheck(p.pol.Currency))

	p.log.InfoContext(ctx, "snapshot read",
		slog.String("plan_id", p.req.PlanID),
		slog.String("cloud", string(ref.Cloud)),
		slog.String("run_id", ref.RunID),
		slog.Int("resources", st.entries.len()),
		slog.Int("cost_rows", st.costRows),
		slog.Int("cost_rows_unmatched", st.unmatchedRows),
		slog.Int("cost_rows_not_usage", st.otherRows),
		slog.Int("cost_rows_invalid", st.badRows),
		slog.Int("series", st.series),
		slog.Int("series_unmatched", st.unmatchedSeries),
		slog.Int("series_invalid", st.badSeries),
	)
	return nil
}

// addResource records r, or a finding when r cannot be planned.
func (p *planner) addResource(st *snapshotState, r domain.Resource) {
	if err := r.Validate(); err != nil {
		p.skip(r.Ref(), "", "invalid resource: "+err.Error())
		return
	}
	if r.Cloud != st.ref.Cloud {
		p.skip(r.Ref(), "", fmt.Sprintf("invalid resource: a %s resource in a %s snapshot", r.Cloud, st.ref.Cloud))
		return
	}
	key := joinKey(r.Cloud, r.ID)
	if i, dup := st.index[key]; dup {
		first := st.entries.at(int(i)).res.Ref()
		p.skip(r.Ref(), "", fmt.Sprintf("duplicate resource id: already read as %s", first))
		return
	}
	p.resources++
	e := entry{res: r}
	switch tag, protected := p.pol.Protected(r.Tags); {
	case r.Incomplete != "":
		// Checked first: when tags could not be read, the protection
		// tag may be among the missing ones.
		e.excluded = true
		p.skip(r.Ref(), "", "tags or state could not be read: "+r.Incomplete)
	case protected:
		e.excluded = true
		p.skip(r.Ref(), "", "protected by tag "+tag)
	}
	st.index[key] = int32(st.entries.len())
	st.entries.add(e)
}

// addCostRow folds one cost row into its resource's bill.
func (p *planner) addCostRow(st *snapshotState, row *domain.CostRow) {
	if row.ResourceID == "" {
		st.unmatchedRows++
		return
	}
	// Only usage is attributed to a resource: purchases, taxes, credits
	// and adjustments are account-level and not saved by acting on it.
	if row.ChargeCategory != "" && !strings.EqualFold(row.ChargeCategory, domain.ChargeUsage) {
		st.otherRows++
		return
	}
	key := joinKey(st.ref.Cloud, row.ResourceID)
	i, ok := st.index[key]
	if !ok {
		st.unmatchedRows++
		st.addNotInInventory(key, row)
		return
	}
	e := st.entries.at(int(i))
	e.billed = true
	if e.excluded {
		return
	}
	if !row.ChargePeriodEnd.After(row.ChargePeriodStart) {
		st.badRows++
		return
	}
	cur := row.BillingCurrency
	if cur == "" {
		cur = row.EffectiveCost.Currency
	}
	b := billFor(&e.bill, cur)
	b.effective += row.EffectiveCost.Micros
	b.list += row.ListCost.Micros
	b.rows++
	b.spans = addSpan(b.spans, span{row.ChargePeriodStart.Unix(), row.ChargePeriodEnd.Unix()})
}

func (st *snapshotState) addNotInInventory(key string, row *domain.CostRow) {
	if st.notInInventory == nil {
		st.notInInventory = map[string]*billedOnly{}
	}
	b := st.notInInventory[key]
	if b == nil {
		b = &billedOnly{id: row.ResourceID, service: row.ServiceName, cost: map[string]int64{}}
		st.notInInventory[key] = b
	}
	// The same name whatever order the rows come in.
	if row.ServiceName != "" && (b.service == "" || row.ServiceName < b.service) {
		b.service = row.ServiceName
	}
	if row.ResourceID < b.id {
		b.id = row.ResourceID
	}
	cur := row.BillingCurrency
	if cur == "" {
		cur = row.EffectiveCost.Currency
	}
	b.cost[cur] += row.EffectiveCost.Micros
}

// addSeries reduces one series of a running VM to statistics.
func (p *planner) addSeries(st *snapshotState, s domain.Series) {
	i, ok := st.index[joinKey(st.ref.Cloud, s.ResourceID)]
	if !ok {
		st.unmatchedSeries++
		return
	}
	e := st.entries.at(int(i))
	if !e.excluded && e.res.Kind == domain.KindBucket {
		if err := s.Validate(); err != nil {
			st.badSeries++
			return
		}
		if e.bucket == nil {
			e.bucket = &bucketUsage{}
		}
		e.bucket.add(s)
		return
	}
	if e.excluded || e.res.Kind != domain.KindVM || e.res.State != domain.StateRunning {
		return
	}
	if p.place.isTraffic(s.Metric) {
		p.place.addTraffic(i, e, s)
		return
	}
	switch s.Metric {
	case domain.MetricCPU, domain.MetricMemory, domain.MetricDiskRead, domain.MetricDiskWrite:
	default:
		return
	}
	if err := s.Validate(); err != nil {
		st.badSeries++
		return
	}
	if e.vm == nil {
		e.vm = &vmUsage{}
	}
	p.scratch = e.vm.add(s, &p.pol, p.scratch)
	if s.Metric == domain.MetricCPU && !p.pol.Schedules.FixedOnly {
		if env, nonProd := p.nonProduction(e.res.Tags); nonProd && env != "" {
			sched, _ := p.scheduleFor(&e.res)
			if loc := p.location(sched.TimeZone); loc != nil {
				// A 14-day window with a few gaps holds a little under two weeks.
				w, why, ok := offhours.Detect(s, loc, offhours.Options{MinWeeks: 1.5})
				e.vm.window, e.vm.windowWhy = nil, why
				if ok {
					e.vm.window = &w
				}
			}
		}
	}
}

// location returns the loaded time zone name, nil when it does not
// load; zones are loaded once per run.
func (p *planner) location(name string) *time.Location {
	if loc, ok := p.locs[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	p.locs[name] = loc
	return loc
}

// skip records a finding.
func (p *planner) skip(ref domain.ResourceRef, kind domain.ActionKind, reason string) {
	p.skipped = append(p.skipped, domain.Finding{Target: ref, Kind: kind, Reason: reason})
}

// vmSizes returns the VM sizes of a region in a stable order: by price,
// then by SKU. The catalog's slice is copied once per region.
func (p *planner) vmSizes(cloud domain.Cloud, region string) []domain.Price {
	k := sizeKey{cloud, region}
	if s, ok := p.sizes[k]; ok {
		return s
	}
	s := sortedSizes(p.req.Prices.VMSizes(cloud, region))
	p.sizes[k] = s
	return s
}

// chunkSize is the number of items in one chunk of a chunkList.
const chunkSize = 1024

// chunkList is an append-only list kept in fixed-size chunks: growing it
// never copies what it already holds. A plain slice of 100,000 resources
// would be copied about twenty times while growing and briefly held
// twice, which costs both time and peak memory.
type chunkList[T any] struct {
	chunks [][]T
	n      int
}

func (l *chunkList[T]) add(v T) {
	if l.n%chunkSize == 0 {
		l.chunks = append(l.chunks, make([]T, 0, chunkSize))
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = append(*c, v)
	l.n++
}

func (l *chunkList[T]) at(i int) *T { return &l.chunks[i/chunkSize][i%chunkSize] }

func (l *chunkList[T]) len() int { return l.n }

// slice returns the items in one slice, never nil.
func (l *chunkList[T]) slice() []T {
	out := make([]T, 0, l.n)
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return out
}
