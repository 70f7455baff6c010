package forecast

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

const (
	secondsPerDay = 24 * 60 * 60
	// maxSpreadDays caps the days one row is spread over: a row longer
	// than a month is a data error, not a longer fee.
	maxSpreadDays = 31
	// prependSlack is how many days a series grows by at once when rows
	// arrive in reverse day order, so that such input stays linear.
	prependSlack = 64
	// otherName is the contributor that collects the amounts of the
	// contributors that were not kept.
	otherName = "(other)"
	// usageName labels contributors that are not resources.
	usageName = "x_usage"
	// noDay marks an empty contributor slot; far enough from the int
	// limits that day arithmetic on it cannot overflow.
	noDay = math.MinInt / 2
)

// Options tune a Builder and its Analyze. A zero (or negative) field
// means its default, so Options{} is a sensible configuration; to turn
// MinImpact or MinRelative off, give a tiny positive value.
type Options struct {
	// Horizons are the forecast lengths in days, each 1 to 730.
	// Default 30 and 90.
	Horizons []int
	// TopAccounts is how many accounts, ranked by spend over the last 30
	// days, get a forecast. Default 10.
	TopAccounts int
	// TopServices is how many account×service series, ranked by spend
	// over the last 30 days, get a forecast. Default 15.
	TopServices int
	// HistoryDays is the number of most recent days kept per series.
	// Default 400.
	HistoryDays int
	// ContributorDays is the number of most recent days of each
	// account×service for which amounts per contributor are kept.
	// Default 14.
	ContributorDays int
	// MaxContributors is the number of contributors per account×service
	// and day reported; the others are merged into "(other)". Default 50.
	MaxContributors int
	// AnomalyDays is the number of most recent days searched for
	// anomalies. Default 7.
	AnomalyDays int
	// Threshold is the robust z-score at or above which a day is a
	// spike. Default 3.5.
	Threshold float64
	// MinImpact is the smallest increase over the expected spend, in
	// currency units, worth reporting. Default 10.
	MinImpact float64
	// MinRelative is the smallest increase relative to the expected
	// spend worth reporting. Default 0.2 (20%).
	MinRelative float64
}

func (o Options) withDefaults() Options {
	if len(o.Horizons) == 0 {
		o.Horizons = []int{30, 90}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v <= 0 || math.IsNaN(*v) {
			*v = d
		}
	}
	def(&o.TopAccounts, 10)
	def(&o.TopServices, 15)
	def(&o.HistoryDays, 400)
	def(&o.ContributorDays, 14)
	def(&o.MaxContributors, 50)
	def(&o.AnomalyDays, 7)
	deff(&o.Threshold, 3.5)
	deff(&o.MinImpact, 10)
	deff(&o.MinRelative, 0.2)
	return o
}

// seriesKey identifies a series inside one of the Builder's maps; the
// map says the level.
type seriesKey struct {
	cloud    domain.Cloud
	account  string
	service  string
	currency string
}

// series is a dense run of daily sums in micro-units. vals[i] is the day
// start+i. Days between start and first were reserved for rows arriving
// in reverse order and hold zeros. At most limit days are kept: a day
// that would make the run longer evicts the oldest days.
type series struct {
	start int
	first int
	vals  []int64
}

func (s *series) lastDay() int { return s.start + len(s.vals) - 1 }

// add adds m micro-units to day and reports false when the day is older
// than the limit allows.
func (s *series) add(day int, m int64, limit int) bool {
	if len(s.vals) == 0 {
		s.start, s.first = day, day
		s.vals = append(s.vals, m)
		return true
	}
	i := day - s.start
	if i >= 0 && i < len(s.vals) {
		s.vals[i] += m
		if day < s.first {
			s.first = day
		}
		return true
	}
	if i < 0 {
		end := s.lastDay()
		if end-day >= limit {
			return false
		}
		newStart := max(day-min(len(s.vals), prependSlack), end-limit+1)
		grown := make([]int64, end-newStart+1)
		copy(grown[s.start-newStart:], s.vals)
		s.vals, s.start, s.first = grown, newStart, day
		s.vals[day-newStart] += m
		return true
	}
	if day-s.start >= limit {
		newStart := day - limit + 1
		if newStart > s.lastDay() {
			s.vals = append(s.vals[:0], m)
			s.start, s.first = day, day
			return true
		}
		n := copy(s.vals, s.vals[newStart-s.start:])
		s.vals = s.vals[:n]
		s.start = newStart
		s.first = max(s.first, newStart)
	}
	for s.start+len(s.vals) < day {
		s.vals = append(s.vals, 0)
	}
	s.vals = append(s.vals, m)
	return true
}

// at returns the amount of day, zero outside the kept run.
func (s *series) at(day int) int64 {
	i := day - s.start
	if i < 0 || i >= len(s.vals) || day < s.first {
		return 0
	}
	return s.vals[i]
}

// contribKey names a contributor without building a string per row:
// kind 0 is a resource ID, 1 a SKU, 2 a charge description, 3 none.
type contribKey struct {
	kind uint8
	name string
}

func (k contribKey) String() string {
	switch k.kind {
	case 0:
		return k.name
	case 1:
		return usageName + ":sku:" + k.name
	case 2:
		return usageName + ":" + k.name
	}
	return usageName
}

// contribDay holds the contributors of one account×service on one day.
// Bounding: the map holds at most 2×MaxContributors entries; when a new
// contributor would exceed that, the entries are sorted by amount, the
// top MaxContributors kept and the rest folded into other. Sums stay
// exact (named + other = the day's total); a contributor evicted once
// and seen again restarts from zero, its earlier amount staying in
// other. A day with at most 2×MaxContributors contributors is exact.
type contribDay struct {
	day     int
	amounts map[contribKey]int64
	other   int64
}

type contribEntry struct {
	key    contribKey
	amount int64
}

func (c *contribDay) add(k contribKey, m int64, maxContrib int) {
	if v, ok := c.amounts[k]; ok {
		c.amounts[k] = v + m
		return
	}
	if c.amounts == nil {
		c.amounts = make(map[contribKey]int64)
	}
	if len(c.amounts) >= 2*maxContrib {
		entries := c.sorted()
		for _, e := range entries[maxContrib:] {
			c.other += e.amount
			delete(c.amounts, e.key)
		}
	}
	k.name = strings.Clone(k.name)
	c.amounts[k] = m
}

// sorted returns the entries by amount, largest first, ties by name.
func (c *contribDay) sorted() []contribEntry {
	entries := make([]contribEntry, 0, len(c.amounts))
	for k, v := range c.amounts {
		entries = append(entries, contribEntry{k, v})
	}
	slices.SortFunc(entries, func(a, b contribEntry) int {
		if c := cmp.Compare(b.amount, a.amount); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key.kind, b.key.kind); c != 0 {
			return c
		}
		return strings.Compare(a.key.name, b.key.name)
	})
	return entries
}

// folded returns the day's amounts by contributor name, keeping the
// top maxContrib and merging the rest into "(other)". It does not
// change c.
func (c *contribDay) folded(maxContrib int) map[string]int64 {
	out := make(map[string]int64, min(len(c.amounts), maxContrib)+1)
	other := c.other
	for i, e := range c.sorted() {
		if i < maxContrib {
			out[e.key.String()] += e.amount
		} else {
			other += e.amount
		}
	}
	if other != 0 {
		out[otherName] += other
	}
	return out
}

// serviceSeries is the finest series: it points at its account and cloud
// series, updated with it, and holds a ring of contributor days.
type serviceSeries struct {
	series
	key     seriesKey
	account *series
	cloud   *series
	ring    []contribDay // slot day mod len(ring); nil until first use
	latest  int          // latest day in ring
}

func (s *serviceSeries) addContrib(day int, k contribKey, m int64, o *Options) {
	n := o.ContributorDays
	if s.ring == nil {
		s.ring = make([]contribDay, n)
		for i := range s.ring {
			s.ring[i].day = noDay
		}
		s.latest = noDay
	}
	if day <= s.latest-n {
		return
	}
	slot := &s.ring[mod(day, n)]
	if slot.day != day {
		slot.day = day
		clear(slot.amounts)
		slot.other = 0
	}
	slot.add(k, m, o.MaxContributors)
	s.latest = max(s.latest, day)
}

// contribAt returns the slot of day, or nil when the day's contributors
// are not kept.
func (s *serviceSeries) contribAt(day int) *contribDay {
	n := len(s.ring)
	if n == 0 || day <= s.latest-n || day > s.latest {
		return nil
	}
	slot := &s.ring[mod(day, n)]
	if slot.day != day {
		return nil
	}
	return slot
}

// Builder accumulates cost rows into daily spend series. The zero value
// is not usable; call NewBuilder. A Builder is not safe for concurrent
// use.
type Builder struct {
	opts     Options
	services map[seriesKey]*serviceSeries
	accounts map[seriesKey]*series
	clouds   map[seriesKey]*series
	last     *serviceSeries
	rows     int64
	dropped  int64
}

// NewBuilder returns an empty Builder. Zero fields of opts take their
// defaults.
func NewBuilder(opts Options) *Builder {
	return &Builder{
		opts:     opts.withDefaults(),
		services: make(map[seriesKey]*serviceSeries),
		accounts: make(map[seriesKey]*series),
		clouds:   make(map[seriesKey]*series),
	}
}

// Add adds one cost row. The amount is EffectiveCost, or BilledCost when
// EffectiveCost is zero; the currency is BillingCurrency. The day is
// ChargePeriodStart in UTC. A row whose charge period is longer than a
// day is spread evenly (to the micro-unit) over the days it touches, at
// most 31. Rows without a ChargePeriodStart, and rows older than the
// history kept for their series, are counted as dropped.
func (b *Builder) Add(r domain.CostRow) {
	b.rows++
	if r.ChargePeriodStart.IsZero() {
		b.dropped++
		return
	}
	amt := r.EffectiveCost
	if amt.Micros == 0 && r.BilledCost.Micros != 0 {
		amt = r.BilledCost
	}
	cur := r.BillingCurrency
	if cur == "" {
		cur = amt.Currency
	}
	day := dayNumber(r.ChargePeriodStart)
	n := 1
	if !r.ChargePeriodEnd.IsZero() && r.ChargePeriodEnd.Sub(r.ChargePeriodStart) > 24*time.Hour {
		n = min(dayNumber(r.ChargePeriodEnd.Add(-time.Nanosecond))-day+1, maxSpreadDays)
	}
	s := b.lookup(r.XCloud, r.SubAccountID, r.ServiceName, cur)
	ck := contribKey{kind: 3}
	switch {
	case r.ResourceID != "":
		ck = contribKey{0, r.ResourceID}
	case r.SkuID != "":
		ck = contribKey{1, r.SkuID}
	case r.ChargeDescription != "":
		ck = contribKey{2, r.ChargeDescription}
	}
	m := amt.Micros
	if n == 1 {
		b.addDay(s, day, m, ck)
		return
	}
	q, rem := m/int64(n), m%int64(n)
	sign := int64(1)
	if rem < 0 {
		sign, rem = -1, -rem
	}
	for i := range n {
		v := q
		if int64(i) < rem {
			v += sign
		}
		b.addDay(s, day+i, v, ck)
	}
}

func (b *Builder) addDay(s *serviceSeries, day int, m int64, ck contribKey) {
	limit := b.opts.HistoryDays
	if !s.add(day, m, limit) {
		b.dropped++
		return
	}
	s.account.add(day, m, limit)
	s.cloud.add(day, m, limit)
	s.addContrib(day, ck, m, &b.opts)
}

func (b *Builder) lookup(cloud domain.Cloud, account, service, cur string) *serviceSeries {
	if l := b.last; l != nil && l.key.service == service && l.key.account == account && l.key.cloud == cloud && l.key.currency == cur {
		return l
	}
	k := seriesKey{cloud, account, service, cur}
	s := b.services[k]
	if s == nil {
		k = seriesKey{
			cloud:    domain.Cloud(strings.Clone(string(cloud))),
			account:  strings.Clone(account),
			service:  strings.Clone(service),
			currency: strings.Clone(cur),
		}
		s = &serviceSeries{key: k}
		ak := seriesKey{cloud: k.cloud, account: k.account, currency: k.currency}
		if s.account = b.accounts[ak]; s.account == nil {
			s.account = &series{}
			b.accounts[ak] = s.account
		}
		ck := seriesKey{cloud: k.cloud, currency: k.currency}
		if s.cloud = b.clouds[ck]; s.cloud == nil {
			s.cloud = &series{}
			b.clouds[ck] = s.cloud
		}
		b.services[k] = s
	}
	b.last = s
	return s
}

// BuilderStats counts what a Builder has taken in.
type BuilderStats struct {
	Rows     int64 `json:"rows"`
	Dropped  int64 `json:"dropped"`
	Clouds   int   `json:"clouds"`
	Accounts int   `json:"accounts"`
	Services int   `json:"services"`
}

// Stats returns the number of rows added and dropped and the number of
// series at each level.
func (b *Builder) Stats() BuilderStats {
	return BuilderStats{
		Rows:     b.rows,
		Dropped:  b.dropped,
		Clouds:   len(b.clouds),
		Accounts: len(b.accounts),
		Services: len(b.services),
	}
}

// DayAmount is the spend of one series on one day.
type DayAmount struct {
	Day    time.Time    `json:"day"`
	Amount domain.Money `json:"amount"`
}

// Daily returns the kept daily spend of the series k, from its first
// day with a row to its last, zero days included. It returns nil when
// the Builder has no such series.
func (b *Builder) Daily(k Key) []DayAmount {
	var s *series
	switch k.Level {
	case LevelCloud:
		s = b.clouds[seriesKey{cloud: k.Cloud, currency: k.Currency}]
	case LevelAccount:
		s = b.accounts[seriesKey{cloud: k.Cloud, account: k.Account, currency: k.Currency}]
	case LevelService:
		if ss := b.services[seriesKey{k.Cloud, k.Account, k.Service, k.Currency}]; ss != nil {
			s = &ss.series
		}
	}
	if s == nil || len(s.vals) == 0 {
		return nil
	}
	out := make([]DayAmount, 0, s.lastDay()-s.first+1)
	for d := s.first; d <= s.lastDay(); d++ {
		out = append(out, DayAmount{Day: dayTime(d), Amount: domain.Money{Micros: s.at(d), Currency: k.Currency}})
	}
	return out
}

// dayNumber returns the UTC day of t counted from 1970-01-01.
func dayNumber(t time.Time) int {
	u := t.Unix()
	d := u / secondsPerDay
	if u%secondsPerDay < 0 {
		d--
	}
	return int(d)
}

// dayTime returns the start of day number d in UTC.
func dayTime(d int) time.Time { return time.Unix(int64(d)*secondsPerDay, 0).UTC() }

func mod(a, n int) int {
	r := a % n
	if r < 0 {
		r += n
	}
	return r
}
