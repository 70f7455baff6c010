package forecast

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// AnomalyKind says what an anomaly is.
type AnomalyKind string

// The anomaly kinds.
const (
	// KindSpike is a day whose spend is far above its expected value.
	KindSpike AnomalyKind = "spike"
	// KindNewService is an account×service with spend in the anomaly
	// window and none in the account's earlier history.
	KindNewService AnomalyKind = "new_service"
)

// Contributor is a resource (or a SKU or charge description, labelled
// "x_usage:...") behind an anomaly. For a cloud-level anomaly the
// contributors are the account×service series, named "account/service".
type Contributor struct {
	Name string `json:"name"`
	// Amount is the contributor's spend on the anomaly's day (over the
	// window for a new service).
	Amount domain.Money `json:"amount"`
	// Delta is Amount less the contributor's average daily spend over
	// the earlier contributor days (zero for a new service's: it had
	// none).
	Delta domain.Money `json:"delta"`
}

// Anomaly is a cost spike or a new service.
type Anomaly struct {
	Kind AnomalyKind `json:"kind"`
	Key  Key         `json:"key"`
	// Day is the day of the spike, or a new service's first day with
	// spend in the window.
	Day time.Time `json:"day"`
	// Actual is the day's spend, or a new service's spend over the
	// window; Expected what was expected (zero for a new service).
	Actual   domain.Money `json:"actual"`
	Expected domain.Money `json:"expected"`
	// Impact is Actual less Expected.
	Impact domain.Money `json:"impact"`
	// Score is the robust z-score of a spike; zero for a new service.
	Score float64 `json:"score"`
	// Top are up to five contributors with the largest increase over
	// their own baseline on Day.
	Top []Contributor `json:"top"`
}

const (
	// baselineDays is how far back the expected value of a day looks:
	// four of its weekdays.
	baselineDays = 4 * period
	// minBaseline is the history a series needs before a day can be
	// called a spike, and the history of an account before one of its
	// services can be called new.
	minBaseline = 14
	topN        = 5
)

// expectedAt returns the expected value of y[i] (i >= 7) and a robust
// scale of the day-to-day noise, from the up to 28 days before it.
//
// Weekly seasonality: the days before i are grouped by weekday; the
// effect of a weekday is the median of its (up to four) days less the
// median M of the whole baseline. Level: the median of the last seven
// days with their weekday effects removed, which follows a level that
// moved within the four weeks without being pulled by one odd day.
// Expected = level + the effect of i's weekday, i.e. the median of the
// same weekday over the last four weeks, moved by (recent level - M).
// Scale: 1.4826 × MAD of the deseasonalized baseline.
func expectedAt(y []float64, i int, scratch []float64) (expected, sigma float64, _ []float64) {
	lo := max(0, i-baselineDays)
	base := y[lo:i]
	scratch = append(scratch[:0], base...)
	med := median(scratch)
	var grp [period][4]float64
	var cnt [period]int
	for t := lo; t < i; t++ {
		c := (i - t) % period
		if cnt[c] < len(grp[c]) {
			grp[c][cnt[c]] = y[t]
			cnt[c]++
		}
	}
	var effect [period]float64
	for c := range period {
		if cnt[c] > 0 {
			effect[c] = median(grp[c][:cnt[c]]) - med
		}
	}
	scratch = scratch[:0]
	for t := max(lo, i-period); t < i; t++ {
		scratch = append(scratch, y[t]-effect[(i-t)%period])
	}
	level := median(scratch)
	scratch = scratch[:0]
	for t := lo; t < i; t++ {
		scratch = append(scratch, y[t]-effect[(i-t)%period])
	}
	return level + effect[0], madSigma(scratch), scratch
}

// sigmaFloor keeps the score finite on series without noise: at least
// 1% of the expected value, and at least 0.01 currency units.
func sigmaFloor(sigma, expected float64) float64 {
	return max(sigma, 0.01*math.Abs(expected), 0.01)
}

// spikes finds the spike days of d in the anomaly window. For a cloud
// series, services are the account×service series whose changes are
// listed as its contributors.
func (a *analyzer) spikes(d daily, services []daily) []Anomaly {
	var out []Anomaly
	n := len(d.y)
	for i := max(minBaseline, n-a.o.AnomalyDays); i < n; i++ {
		actual := d.y[i]
		if actual <= 0 {
			continue
		}
		var exp, sigma float64
		exp, sigma, a.scratch = expectedAt(d.y, i, a.scratch)
		impact := actual - exp
		if impact < a.o.MinImpact || (exp > 0 && impact < a.o.MinRelative*exp) {
			continue
		}
		score := impact / sigmaFloor(sigma, exp)
		if score < a.o.Threshold {
			continue
		}
		day := d.first + i
		cur := d.key.Currency
		act := domain.Money{Micros: int64(math.Round(actual * domain.MicrosPerUnit)), Currency: cur}
		ex := domain.FromFloat(exp, cur)
		an := Anomaly{
			Kind:     KindSpike,
			Key:      d.key,
			Day:      dayTime(day),
			Actual:   act,
			Expected: ex,
			Impact:   act.Minus(ex),
			Score:    math.Round(score*100) / 100,
		}
		if d.service != nil {
			an.Top = a.serviceTop(d.service, day, cur)
		} else {
			an.Top = a.cloudTop(d.key, services, day)
		}
		out = append(out, an)
	}
	return out
}

// serviceTop lists the contributors of s with the largest increase on
// day over their average over the earlier kept contributor days.
func (a *analyzer) serviceTop(s *serviceSeries, day int, cur string) []Contributor {
	slot := s.contribAt(day)
	if slot == nil {
		return []Contributor{}
	}
	today := slot.folded(a.o.MaxContributors)
	lo := max(s.latest-len(s.ring)+1, s.first)
	days := int64(max(day-lo, 0))
	base := map[string]int64{}
	for e := lo; e < day; e++ {
		if sl := s.contribAt(e); sl != nil {
			for name, v := range sl.folded(a.o.MaxContributors) {
				base[name] += v
			}
		}
	}
	out := make([]Contributor, 0, len(today))
	for name, amt := range today {
		delta := amt
		if days > 0 {
			delta -= roundDiv(base[name], days)
		}
		if delta > 0 {
			out = append(out, Contributor{Name: name, Amount: domain.Money{Micros: amt, Currency: cur}, Delta: domain.Money{Micros: delta, Currency: cur}})
		}
	}
	return topContributors(out)
}

// cloudTop lists the account×service series of the cloud of k with the
// largest increase on day over their average over the previous
// ContributorDays-1 days.
func (a *analyzer) cloudTop(k Key, services []daily, day int) []Contributor {
	out := []Contributor{}
	for _, d := range services {
		if d.key.Cloud != k.Cloud {
			continue
		}
		s := d.service
		amt := s.at(day)
		lo := max(day-a.o.ContributorDays+1, s.first)
		var sum int64
		for e := lo; e < day; e++ {
			sum += s.at(e)
		}
		delta := amt
		if day > lo {
			delta -= roundDiv(sum, int64(day-lo))
		}
		if delta > 0 {
			out = append(out, Contributor{
				Name:   d.key.Account + "/" + d.key.Service,
				Amount: domain.Money{Micros: amt, Currency: k.Currency},
				Delta:  domain.Money{Micros: delta, Currency: k.Currency},
			})
		}
	}
	return topContributors(out)
}

// newService reports d as a new service when it has spend in the
// anomaly window, no spend before it, and its account has at least
// minBaseline days of history before the window. Its impact is the
// window's spend and must reach MinImpact.
func (a *analyzer) newService(d daily) (Anomaly, bool) {
	through := d.first + len(d.y) - 1
	winStart := through - a.o.AnomalyDays + 1
	if d.account.first > winStart-minBaseline {
		return Anomaly{}, false
	}
	// Earlier spend may lie before d.first if the series was trimmed;
	// the account's kept history is what "prior" means here.
	s := d.service
	for e := d.account.first; e < winStart; e++ {
		if s.at(e) != 0 {
			return Anomaly{}, false
		}
	}
	var sum int64
	firstDay := -1
	for e := winStart; e <= through; e++ {
		v := s.at(e)
		if v != 0 && firstDay < 0 {
			firstDay = e
		}
		sum += v
	}
	cur := d.key.Currency
	if firstDay < 0 || sum <= 0 || float64(sum)/domain.MicrosPerUnit < a.o.MinImpact {
		return Anomaly{}, false
	}
	amounts := map[string]int64{}
	for e := winStart; e <= through; e++ {
		if sl := s.contribAt(e); sl != nil {
			for name, v := range sl.folded(a.o.MaxContributors) {
				amounts[name] += v
			}
		}
	}
	top := make([]Contributor, 0, len(amounts))
	for name, v := range amounts {
		if v > 0 {
			top = append(top, Contributor{Name: name, Amount: domain.Money{Micros: v, Currency: cur}, Delta: domain.Money{Micros: v, Currency: cur}})
		}
	}
	total := domain.Money{Micros: sum, Currency: cur}
	return Anomaly{
		Kind:     KindNewService,
		Key:      d.key,
		Day:      dayTime(firstDay),
		Actual:   total,
		Expected: domain.Money{Currency: cur},
		Impact:   total,
		Top:      topContributors(top),
	}, true
}

// topContributors sorts by delta, largest first (ties by name), and
// keeps topN.
func topContributors(cs []Contributor) []Contributor {
	slices.SortFunc(cs, func(x, y Contributor) int {
		return cmp.Or(cmp.Compare(y.Delta.Micros, x.Delta.Micros), strings.Compare(x.Name, y.Name))
	})
	return cs[:min(topN, len(cs))]
}

// roundDiv divides rounding half away from zero.
func roundDiv(a, b int64) int64 {
	q, r := a/b, a%b
	if 2*abs(r) >= b {
		if a < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
