package optimize

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ObjectClasses gives the prices of object storage classes.
type ObjectClasses interface {
	// Classes returns the classes priced in a region, hot classes first.
	Classes(cloud domain.Cloud, region string) []domain.ObjectClass
}

// bucketUsage is what the optimizer keeps of a bucket's series: the
// first and last observed hot-class bytes and the highest, the last
// object count, and the mean read rates.
type bucketUsage struct {
	bytes, objects, requests, readBytes gauge
	start, end                          time.Time
	duplicate                           bool
}

// gauge summarises one daily series.
type gauge struct {
	seen             bool
	days             float64 // observed points × step, in days
	first, last, max float64
	firstAt, lastAt  time.Time
	mean             float64
}

func (g *gauge) read(s domain.Series) {
	*g = gauge{seen: true}
	var sum float64
	n := 0
	for i, v := range s.Values {
		if domain.IsMissing(v) || v < 0 || math.IsInf(float64(v), 0) {
			continue
		}
		x := float64(v)
		at := s.Start.Add(time.Duration(i) * s.Step)
		if n == 0 {
			g.first, g.firstAt = x, at
		}
		g.last, g.lastAt = x, at
		g.max = math.Max(g.max, x)
		sum += x
		n++
	}
	if n > 0 {
		g.mean = sum / float64(n)
	}
	g.days = float64(n) * s.Step.Hours() / 24
}

// add reduces one bucket series; a second series of a metric replaces
// the first only when it has more observed points.
func (u *bucketUsage) add(s domain.Series) {
	var g *gauge
	switch s.Metric {
	case domain.MetricStoredBytes:
		g = &u.bytes
	case domain.MetricObjects:
		g = &u.objects
	case domain.MetricReadRequests:
		g = &u.requests
	case domain.MetricReadBytes:
		g = &u.readBytes
	default:
		return
	}
	var next gauge
	next.read(s)
	if g.seen {
		u.duplicate = true
		if next.days <= g.days {
			return
		}
	}
	*g = next
	if u.start.IsZero() || s.Start.Before(u.start) {
		u.start = s.Start
	}
	if e := s.End(); e.After(u.end) {
		u.end = e
	}
}

// requestMetricsHint says how a bucket's read metrics are turned on.
var requestMetricsHint = map[domain.Cloud]string{
	domain.AWS:   "turn on the bucket's S3 request metrics (a metrics configuration for the whole bucket) or S3 Storage Lens",
	domain.Azure: "the storage account's blob Transactions and Egress metrics were not readable",
	domain.GCP:   "the bucket's Cloud Monitoring request metrics were not readable",
}

// tierOption is one candidate class with its monthly figures in USD.
type tierOption struct {
	class                                         domain.ObjectClass
	storage, retrieval, requests, transition, net float64
}

// decideTier proposes a lifecycle rule that moves a bucket's older
// objects to the cheaper online class its measured reads make cheapest.
//
// The figures are deliberately pessimistic: every byte and request read
// in the window is charged as if it came from the moved objects (reads
// usually favour recent ones), the bytes that stay are those younger than
// the rule's age at the growth seen in the window, and the one-off
// transition charges are spread over policy months.
func (p *planner) decideTier(e *entry) {
	r := &e.res
	kind := domain.ActionTierStorage
	pol := p.pol.Storage.Tiering
	switch r.Tiering {
	case domain.TieringCustom:
		p.skip(r.Ref(), kind, "lifecycle transitions already set by the bucket's owners: left to them")
		return
	case domain.TieringNone, "":
	default:
		return // cloudtrim's rule is in place
	}
	if p.req.ObjectClasses == nil {
		p.skip(r.Ref(), kind, "no price: no object storage class prices were given")
		return
	}
	classes := p.req.ObjectClasses.Classes(r.Cloud, r.Region)
	var hot *domain.ObjectClass
	for i := range classes {
		if classes[i].Hot && classes[i].Class == r.SKU {
			hot = &classes[i]
		}
	}
	if hot == nil || hot.GiBMonth.Currency != p.pol.Currency {
		p.skip(r.Ref(), kind, fmt.Sprintf("no price: storage class %q has no %s price in %s %s", r.SKU, p.pol.Currency, r.Cloud, r.Region))
		return
	}
	u := e.bucket
	minDays := float64(pol.MinDays)
	if u == nil || u.bytes.days < minDays {
		p.skip(r.Ref(), kind, fmt.Sprintf("no storage metrics: the stored bytes of class %s were not observed on %d days", r.SKU, pol.MinDays))
		return
	}
	if u.requests.days < minDays || u.readBytes.days < minDays {
		p.skip(r.Ref(), kind, fmt.Sprintf("access pattern unknown: read requests and bytes read were not observed on %d days; %s", pol.MinDays, requestMetricsHint[r.Cloud]))
		return
	}
	if u.objects.days == 0 || u.objects.last <= 0 {
		p.skip(r.Ref(), kind, "no object count: the transition charges, per object, cannot be priced")
		return
	}
	const gib = 1 << 30
	bytes := u.bytes.last
	if bytes < gib {
		return // less than a GiB in the hot class: nothing worth a rule
	}
	if shrink := 100 * (u.bytes.max - bytes) / u.bytes.max; shrink > pol.MaxShrinkPercent {
		p.skip(r.Ref(), kind, fmt.Sprintf("objects are deleted: the hot class shrank by %s%% in the window (more than %s%%), and objects deleted before a cheaper class's minimum duration are charged for the rest of it",
			formatNum(shrink), formatNum(pol.MaxShrinkPercent)))
		return
	}
	growth := 0.0
	if span := u.bytes.lastAt.Sub(u.bytes.firstAt).Hours() / 24; span >= 1 {
		growth = math.Max(0, (u.bytes.last-u.bytes.first)/span)
	}
	eligible := math.Max(0, bytes-growth*float64(pol.AfterDays))
	if eligible < gib {
		p.skip(r.Ref(), kind, fmt.Sprintf("nothing old enough: at the %s GiB a day added in the window, the bucket's data is younger than %d days", formatNum(growth/gib), pol.AfterDays))
		return
	}
	objects := u.objects.last
	avgObj := bytes / objects
	moved := objects * eligible / bytes
	const month = domain.HoursPerMonth * 3600
	reads := u.requests.mean * month
	readGiB := u.readBytes.mean * month / gib
	usd := func(m domain.Money) float64 { return float64(m.Micros) / 1e6 }

	var best *tierOption
	var notes []string
	for _, c := range classes {
		if c.Hot || c.GiBMonth.Currency != hot.GiBMonth.Currency || c.GiBMonth.Micros >= hot.GiBMonth.Micros {
			continue
		}
		if c.MinObjectKiB > 0 && avgObj < float64(c.MinObjectKiB)*1024 {
			notes = append(notes, fmt.Sprintf("%s left out: objects average %s KiB, and %s does not move objects under %d KiB", c.Class, formatNum(avgObj/1024), r.Cloud, c.MinObjectKiB))
			continue
		}
		o := tierOption{class: c,
			storage:    eligible / gib * (usd(hot.GiBMonth) - usd(c.GiBMonth)),
			retrieval:  readGiB * usd(c.RetrievalPerGiB),
			requests:   reads / 10_000 * (usd(c.ReadsPer10k) - usd(hot.ReadsPer10k)),
			transition: moved / 10_000 * usd(c.TransitionPer10k) / float64(pol.AmortizeMonths),
		}
		o.net = o.storage - o.retrieval - o.requests - o.transition
		notes = append(notes, fmt.Sprintf("%s: saves %s on storage, costs %s in retrieval, %s in read requests and %s a month of transitions (%d-day minimum duration): %s net",
			c.Class, usdString(o.storage), usdString(o.retrieval), usdString(o.requests), usdString(o.transition), c.MinDays, usdString(o.net)))
		if best == nil || o.net > best.net {
			best = &o
		}
	}
	head := fmt.Sprintf("%s GiB in %s (%s objects, %s KiB on average), %s GiB of it older than %d days at the %s GiB a day added in the window; %s read requests and %s GiB read a month, all counted as reads of moved objects",
		formatNum(bytes/gib), r.SKU, formatNum(objects), formatNum(avgObj/1024), formatNum(eligible/gib), pol.AfterDays, formatNum(growth/gib), formatNum(reads), formatNum(readGiB))
	switch {
	case best == nil && len(notes) == 0:
		p.skip(r.Ref(), kind, fmt.Sprintf("no price: no cheaper class than %s is priced in %s %s", r.SKU, r.Cloud, r.Region))
		return
	case best == nil:
		p.skip(r.Ref(), kind, "no class fits: "+strings.Join(notes, "; "))
		return
	case best.net <= 0:
		p.skip(r.Ref(), kind, fmt.Sprintf("reads cost more than the move saves: %s; best is %s at %s a month", head, best.class.Class, usdString(best.net)))
		return
	}
	ruleClass := best.class.RuleClass
	if ruleClass == "" {
		ruleClass = best.class.Class
	}
	rule := domain.TierRule{Class: ruleClass, AfterDays: pol.AfterDays}
	// The bill, where it charges the bucket, gives its monthly cost; a
	// discount on it (effective below list) applies to the cheaper class
	// too, so the savings are scaled by it. A bill above list also holds
	// requests and transfer, and scales nothing.
	listMonthly := bytes / gib * usd(hot.GiBMonth)
	net := best.net
	m := monthly{cost: domain.FromFloat(listMonthly, p.pol.Currency), basis: domain.BasisListPrice,
		note: fmt.Sprintf("monthly cost of the hot class: %s GiB × %s", formatNum(bytes/gib), formatUnitPrice(hot.GiBMonth))}
	if price, priced := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindBucket, r.SKU); len(e.bill) > 0 {
		if billed, _, ok := p.monthlyCost(e, price, priced); ok && billed.basis == domain.BasisEffectiveCost {
			m = billed
			if ratio := usd(billed.cost) / listMonthly; ratio < 1 {
				net *= ratio
				m.note += fmt.Sprintf("; the bill charges %s%% of the hot class's list price, and the savings are scaled to it", formatNum(100*ratio))
			}
		}
	}
	a := p.newAction(kind, r, m)
	a.Before = r.Observed()
	// A bucket's size changes every day; binding the approval to it
	// would refuse every approved rule as drifted.
	a.Before.SizeGiB = 0
	a.Before.Tiering = domain.TieringNone
	a.After = a.Before
	a.After.Tiering = rule.String()
	a.MonthlySavings = domain.FromFloat(net, p.pol.Currency)
	// Moving data out is cheap to undo as a rule, not as data: objects
	// moved stay in the class until rewritten, and their minimum duration
	// is charged.
	a.Risk = domain.RiskMedium
	a.Confidence = 1
	if window := u.end.Sub(u.start).Hours() / 24; window > 0 {
		a.Confidence = round2(math.Min(1, math.Max(0.5, math.Min(u.requests.days, u.readBytes.days)/window)))
	}
	a.Evidence.WindowStart, a.Evidence.WindowEnd = u.start.UTC(), u.end.UTC()
	a.Evidence.Notes = append([]string{head}, notes...)
	a.Evidence.Notes = append(a.Evidence.Notes,
		fmt.Sprintf("list prices: %s %s per GiB-month, %s %s; %s", r.SKU, formatUnitPrice(hot.GiBMonth), best.class.Class, formatUnitPrice(best.class.GiBMonth), best.class.Source),
		m.note)
	if u.duplicate {
		a.Evidence.Notes = append(a.Evidence.Notes, "the snapshot held more than one series of a metric; the one with the most observed points was used")
	}
	a.Undo = fmt.Sprintf("remove the lifecycle rule %s; objects already moved stay in %s until rewritten to %s, and deleting or rewriting them within %d days of the move is charged for the rest of that time",
		domain.TierRuleID, best.class.Class, r.SKU, best.class.MinDays)
	p.add(a, fmt.Sprintf("Move objects of bucket %s older than %d days from %s to %s", displayName(r), pol.AfterDays, r.SKU, best.class.Class))
}

// usdString formats a monthly figure in US dollars to the cent.
func usdString(v float64) string {
	return domain.FromFloat(v, "USD").String()
}
