package optimize

import (
	"fmt"
	"maps"
	"math"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/holiday"
)

// Confidence of actions whose evidence is a fact read from the inventory
// rather than a measurement.
const (
	confidenceObserved = 1.0 // state and age read from the cloud
	confidenceTagged   = 0.9 // a tag says non-production; usage not checked
	// noMemoryFactor scales the confidence of a resize made without a
	// memory metric.
	noMemoryFactor = 0.7
	// memoryFloor is the share of current memory a resize keeps when no
	// memory metric is available: without a measurement memory is never
	// shrunk, only CPU.
	memoryFloor = 1.0
)

// decide proposes at most one action for e, or records why not.
func (p *planner) decide(st *snapshotState, e *entry) {
	switch e.res.Kind {
	case domain.KindVM:
		p.decideVM(e)
	case domain.KindDisk, domain.KindIP, domain.KindSnapshot:
		if p.pol.Orphans.Enabled && p.decideOrphan(e) {
			return
		}
		if e.res.Kind == domain.KindDisk && p.pol.Storage.Enabled {
			p.decideRetype(st, e)
		}
	case domain.KindBucket:
		if p.pol.Storage.Enabled && p.pol.Storage.Tiering.Enabled {
			p.decideTier(e)
		}
	}
}

// decideVM chooses between stop, schedule and rightsize for a running
// VM: a VM idle around the clock is stopped (production or not); a
// non-production VM that is not idle gets a schedule; any other VM may
// be rightsized.
func (p *planner) decideVM(e *entry) {
	r := &e.res
	if r.State == domain.StateStoppedAllocated {
		p.deallocate(e)
		return
	}
	if r.State != domain.StateRunning {
		return
	}
	env, nonProd := p.nonProduction(r.Tags)
	if p.idle(e.vm) {
		p.stop(e, nonProd)
		return
	}
	if nonProd {
		p.schedule(e, env)
		return
	}
	if p.pol.Rightsize.Enabled {
		p.rightsize(e)
	}
}

// deallocate proposes releasing the compute of a VM that was stopped
// without deallocation (from inside the guest, or by a power-off): it
// does no work and still bills for its size. The actuator's stop always
// deallocates. The savings are its compute cost.
func (p *planner) deallocate(e *entry) {
	r := &e.res
	price, priced := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindVM, r.SKU)
	m, why, ok := p.monthlyCost(e, price, priced)
	if !ok {
		p.skip(r.Ref(), domain.ActionStop, why)
		return
	}
	a := p.newAction(domain.ActionStop, r, m)
	a.Before = domain.ResourceState{SKU: r.SKU, State: domain.StateStoppedAllocated}
	a.After = domain.ResourceState{SKU: r.SKU, State: domain.StateStopped}
	a.MonthlySavings = m.cost
	a.Risk = domain.RiskLow
	a.Confidence = 1
	a.Undo = "start the VM again"
	a.Evidence.Notes = append(a.Evidence.Notes,
		"the VM is stopped but its compute is still allocated, so its size is still billed; deallocating keeps its disks and configuration",
		m.note)
	p.add(a, fmt.Sprintf("Deallocate stopped VM %s (%s): stopped without deallocation, still billed", displayName(r), r.SKU))
}

// nonProduction reports whether tags mark a resource non-production
// under an enabled schedule policy, and the tag's value.
func (p *planner) nonProduction(tags map[string]string) (string, bool) {
	if !p.pol.Schedules.Enabled {
		return "", false
	}
	v, ok := tagValue(tags, p.pol.Schedules.EnvironmentTag)
	if !ok {
		return "", false
	}
	return v, p.nonProd[strings.ToLower(strings.TrimSpace(v))]
}

// idle reports whether u shows a VM idle over enough observed days.
func (p *planner) idle(u *vmUsage) bool {
	pol := p.pol.Idle
	return pol.Enabled && u != nil && u.hasCPU &&
		u.cpu.Hours >= pol.MinDays*24 && u.cpuAtIdle < pol.MaxCPUPercent
}

// stop proposes stopping an idle VM; the savings are its compute cost.
func (p *planner) stop(e *entry, nonProd bool) {
	r, u := &e.res, e.vm
	price, priced := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindVM, r.SKU)
	m, why, ok := p.monthlyCost(e, price, priced)
	if !ok {
		p.skip(r.Ref(), domain.ActionStop, why)
		return
	}
	a := p.newAction(domain.ActionStop, r, m)
	a.Before = domain.ResourceState{SKU: r.SKU, State: domain.StateRunning}
	a.After = domain.ResourceState{SKU: r.SKU, State: domain.StateStopped}
	a.MonthlySavings = m.cost
	a.Risk = domain.RiskMedium
	if nonProd {
		a.Risk = domain.RiskLow
	}
	a.Confidence = round2(u.coverage())
	a.Undo = "start the VM again"
	a.Evidence = usageEvidence(u)
	a.Evidence.Notes = append(a.Evidence.Notes,
		fmt.Sprintf("CPU p%s is %s%% over %s days of data, below the %s%% idle threshold",
			formatNum(p.pol.Idle.CPUPercentile), formatNum(u.cpuAtIdle), formatNum(u.cpu.Hours/24), formatNum(p.pol.Idle.MaxCPUPercent)),
		m.note,
		"stopping keeps the disks; their cost is not counted as saved")
	p.add(a, fmt.Sprintf("Stop idle VM %s (%s): CPU p%s %s%% over %s days",
		displayName(r), r.SKU, formatNum(p.pol.Idle.CPUPercentile), formatNum(u.cpuAtIdle), formatNum(u.cpu.Hours/24)))
}

// scheduleFor returns the policy's default schedule for r in the time
// zone its timezone or tz tag names and with the holiday calendar its
// holidays tag names, when valid, and notes on tags that are not.
func (p *planner) scheduleFor(r *domain.Resource) (domain.Schedule, []string) {
	sched := p.pol.Schedules.Default
	var notes []string
	tz, ok := tagValue(r.Tags, "timezone")
	if !ok {
		tz, ok = tagValue(r.Tags, "tz")
	}
	if ok {
		tz = strings.TrimSpace(tz)
		if p.validZone(tz) {
			sched.TimeZone = tz
		} else {
			notes = append(notes, fmt.Sprintf("time zone tag %q is not a time zone; the policy's %s is used", tz, sched.TimeZone))
		}
	}
	if code, ok := tagValue(r.Tags, domain.HolidaysTag); ok {
		code = strings.ToUpper(strings.TrimSpace(code))
		if _, err := holiday.Holidays(code, p.req.Now.Year()); err == nil || code == "" {
			sched.Holidays = code
		} else {
			notes = append(notes, fmt.Sprintf("holiday tag %q is not a supported calendar; the policy's %q is used", code, sched.Holidays))
		}
	}
	return sched, notes
}

// schedule proposes running a non-production VM on the weekly window its
// CPU series shows, or on the policy's default schedule, in its time
// zone and off on the holidays of its calendar.
func (p *planner) schedule(e *entry, env string) {
	r := &e.res
	sched, notes := p.scheduleFor(r)
	u := e.vm
	observed := u != nil && u.window != nil
	busyOutside := false
	if observed {
		w := u.window
		def := sched
		sched.Days, sched.Start, sched.Stop = w.Schedule.Days, w.Schedule.Start, w.Schedule.Stop
		if sched.RunningFraction() > def.RunningFraction() {
			// The policy keeps it off longer than it is seen idle: the
			// policy wins, and the risk says it stops a busy VM.
			sched, observed, busyOutside = def, false, true
			notes = append(notes, fmt.Sprintf("its CPU series shows it busy %s %s-%s, longer than the policy's schedule: the policy's is used, and it will stop the VM while it is busy",
				w.Schedule.Days, w.Schedule.Start, w.Schedule.Stop))
		}
	} else if u != nil && u.windowWhy != "" {
		why := u.windowWhy
		if strings.HasPrefix(why, "series ") {
			if _, rest, ok := strings.Cut(why, ": "); ok {
				why = rest
			}
		}
		notes = append(notes, "no weekly running window observed ("+why+"); the policy's default schedule is used")
	}
	price, priced := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindVM, r.SKU)
	m, why, ok := p.monthlyCost(e, price, priced)
	if !ok {
		p.skip(r.Ref(), domain.ActionSchedule, why)
		return
	}
	// The share of the time off: the week outside the window, plus the
	// window's hours on the holidays of the last year that fall on its
	// running days, spread over the year.
	const weekMinutes, yearMinutes = 7 * 24 * 60, 525960 // 365.25 days
	dayMinutes := int64(sched.DayMinutes())
	dayHours := float64(dayMinutes) / 60
	holidays := sched.HolidaysOff(p.req.Now)
	on := int64(math.Round(sched.RunningFraction() * weekMinutes))
	weekly, ok1 := mulDiv(m.cost.Micros, weekMinutes-on, weekMinutes)
	byHoliday, ok2 := mulDiv(m.cost.Micros, int64(holidays)*dayMinutes, yearMinutes)
	savings := weekly + byHoliday
	if !ok1 || !ok2 || savings > m.cost.Micros {
		p.skip(r.Ref(), domain.ActionSchedule, "savings out of range")
		return
	}
	a := p.newAction(domain.ActionSchedule, r, m)
	a.Before = domain.ResourceState{SKU: r.SKU, State: domain.StateRunning}
	a.After = domain.ResourceState{SKU: r.SKU, State: domain.StateScheduled}
	a.Schedule = &sched
	a.MonthlySavings = domain.Money{Micros: savings, Currency: m.cost.Currency}
	a.Risk = domain.RiskLow
	if busyOutside {
		a.Risk = domain.RiskMedium
	}
	a.Confidence = confidenceTagged
	a.Undo = "remove the schedule and start the VM"
	a.Evidence = usageEvidence(u)
	a.Evidence.Notes = append(a.Evidence.Notes, fmt.Sprintf("tag %s=%s marks it non-production", p.pol.Schedules.EnvironmentTag, env))
	if observed {
		w := u.window
		a.Confidence = round2(math.Max(confidenceTagged, math.Min(1, u.coverage())))
		a.Evidence.Notes = append(a.Evidence.Notes, fmt.Sprintf("its CPU series over %s weeks shows it busy %s-%s on %s (%s): %d of its %d busy hours fall inside, %d outside",
			formatNum(w.ObservedWeeks), w.Schedule.Start, w.Schedule.Stop, w.Schedule.Days, sched.TimeZone,
			w.ActiveHours-w.ActiveHoursOutside, w.ActiveHours, w.ActiveHoursOutside))
	}
	a.Evidence.Notes = append(a.Evidence.Notes, fmt.Sprintf("running %s keeps it up %s%% of the week", sched, formatNum(sched.RunningFraction()*100)))
	if sched.Holidays != "" {
		a.Evidence.Notes = append(a.Evidence.Notes, fmt.Sprintf("%d %s public holidays of the last year fell on its running days: %s h more off a year", holidays, sched.Holidays, formatNum(float64(holidays)*dayHours)))
	}
	a.Evidence.Notes = append(a.Evidence.Notes, m.note)
	a.Evidence.Notes = append(a.Evidence.Notes, notes...)
	p.add(a, fmt.Sprintf("Run non-production VM %s (%s=%s) only %s", displayName(r), p.pol.Schedules.EnvironmentTag, env, sched))
}

// validZone reports whether tz names a loadable time zone other than
// the host's local one.
func (p *planner) validZone(tz string) bool {
	return tz != "" && tz != "Local" && p.location(tz) != nil
}

// decideOrphan proposes deleting unattached disks and old snapshots and
// releasing unassociated addresses. It reports whether the resource is
// an orphan (proposed for removal, or skipped with a finding), in which
// case no other action is looked for.
func (p *planner) decideOrphan(e *entry) bool {
	r := &e.res
	pol := p.pol.Orphans
	var (
		kind    domain.ActionKind
		after   string
		risk    domain.Risk
		undo    string
		summary string
		notes   []string
	)
	age := p.req.Now.Sub(r.CreatedAt).Hours() / 24
	switch r.Kind {
	case domain.KindDisk:
		if r.State != domain.StateAvailable || r.AttachedTo != "" {
			return false
		}
		kind, after, risk = domain.ActionDeleteDisk, domain.StateDeleted, domain.RiskLow
		if r.CreatedAt.IsZero() {
			p.skip(r.Ref(), kind, "creation time unknown: the disk's age cannot be checked")
			return true
		}
		if age < pol.MinDiskAgeDays {
			return false
		}
		undo = "restore from the snapshot taken before deletion"
		summary = fmt.Sprintf("Delete unattached disk %s (%d GiB %s), created %s days ago", displayName(r), r.SizeGiB, r.SKU, formatNum(math.Floor(age)))
		notes = append(notes, fmt.Sprintf("state %s and attached to nothing; created %s days ago (minimum %s)", r.State, formatNum(age), formatNum(pol.MinDiskAgeDays)),
			"a snapshot is taken before deletion; its storage is not counted against the savings")
	case domain.KindIP:
		if r.AttachedTo != "" {
			return false
		}
		switch r.State {
		case domain.StateAssociated, domain.StateInUse, domain.StateReleased, domain.StateDeleted:
			return false
		}
		kind, after, risk = domain.ActionReleaseIP, domain.StateReleased, domain.RiskMedium
		undo = "allocate a new address: the released address cannot be got back"
		summary = fmt.Sprintf("Release unassociated address %s", displayName(r))
		notes = append(notes, "associated with nothing")
	case domain.KindSnapshot:
		if r.State == domain.StateDeleted {
			return false
		}
		kind, after, risk = domain.ActionDeleteSnapshot, domain.StateDeleted, domain.RiskMedium
		if r.CreatedAt.IsZero() {
			p.skip(r.Ref(), kind, "creation time unknown: the snapshot's age cannot be checked")
			return true
		}
		if age <= pol.SnapshotMaxAgeDays {
			return false
		}
		undo = "none: a deleted snapshot cannot be restored; a new one can be taken from the source disk if it still exists"
		summary = fmt.Sprintf("Delete snapshot %s (%d GiB), %s days old", displayName(r), r.SizeGiB, formatNum(math.Floor(age)))
		notes = append(notes, fmt.Sprintf("created %s days ago (maximum %s)", formatNum(age), formatNum(pol.SnapshotMaxAgeDays)))
		if r.AttachedTo != "" {
			notes = append(notes, "taken from "+r.AttachedTo)
		}
	default:
		return false
	}
	price, priced := p.req.Prices.Lookup(r.Cloud, r.Region, r.Kind, r.SKU)
	m, why, ok := p.monthlyCost(e, price, priced)
	if !ok {
		p.skip(r.Ref(), kind, why)
		return true
	}
	if r.Kind == domain.KindSnapshot && m.basis == domain.BasisListPrice {
		notes = append(notes, "snapshots bill their stored (often incremental) size: the list price of the full size is an upper bound")
	}
	a := p.newAction(kind, r, m)
	a.Before = r.Observed()
	a.After = domain.ResourceState{State: after}
	a.MonthlySavings = m.cost
	a.Risk = risk
	a.Confidence = confidenceObserved
	a.Undo = undo
	if !r.CreatedAt.IsZero() {
		a.Evidence.AgeDays = round2(age)
	}
	a.Evidence.Notes = append(notes, m.note)
	p.add(a, summary)
	return true
}

// newAction starts an action of kind on r.
func (p *planner) newAction(kind domain.ActionKind, r *domain.Resource, m monthly) domain.Action {
	ref := r.Ref()
	return domain.Action{
		ID:           domain.ActionID(kind, ref),
		PlanID:       p.req.PlanID,
		Kind:         kind,
		Target:       ref,
		Name:         r.Name,
		Tags:         maps.Clone(r.Tags),
		MonthlyCost:  m.cost,
		SavingsBasis: m.basis,
	}
}

// add completes a's summary and keeps a when it saves enough.
func (p *planner) add(a domain.Action, summary string) {
	if a.MonthlySavings.Micros <= 0 || a.MonthlySavings.Micros < p.minSavings {
		p.belowMin++
		return
	}
	if !p.pol.OptedIn(a.Tags) {
		summary += fmt.Sprintf(" (not opted in: tag %s=true missing, the actuator will refuse it)", p.pol.OptInTag)
	}
	a.Summary = summary
	p.actions.add(a)
}

// usageEvidence returns the evidence common to VM actions.
func usageEvidence(u *vmUsage) domain.Evidence {
	var ev domain.Evidence
	if u == nil || !u.hasCPU {
		return ev
	}
	ev.WindowStart, ev.WindowEnd = u.start.UTC(), u.end.UTC()
	ev.CPU = evidenceStats(u.cpu)
	if u.hasMem {
		ev.Memory = evidenceStats(u.mem)
	}
	ev.DailyPeakCPU = evidencePeaks(u.peaks)
	if u.duplicateSeries {
		ev.Notes = append(ev.Notes, "the snapshot held more than one series of a metric; the one with the most observed points was used")
	}
	return ev
}

// tagValue returns the value of the tag whose key matches key without
// regard to case; when several do, the smallest key wins, so the result
// does not depend on map order.
func tagValue(tags map[string]string, key string) (string, bool) {
	best, found := "", false
	var val string
	for k, v := range tags {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, val, found = k, v, true
		}
	}
	return val, found
}

func displayName(r *domain.Resource) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}
