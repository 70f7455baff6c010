package simcloud

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Bounds of Config.Resources.
const (
	MinResources = 50
	MaxResources = 100_000
)

// PageSize is the largest page Resources hands to its callback.
const PageSize = 500

// Tag keys the estate sets.
const (
	TagOptIn   = "cloudtrim-optin"
	TagProtect = "cloudtrim-protect"
	TagEnv     = "env"
	TagTeam    = "team"
	TagApp     = "app"
)

// Config describes an estate to generate.
type Config struct {
	// Seed makes the estate: the same Config gives a byte-identical
	// inventory, series and cost rows.
	Seed int64 `json:"seed"`
	// Resources is the number of VMs, disks, addresses and snapshots
	// across the three clouds, MinResources to MaxResources. Each cloud
	// also holds Buckets(Resources)/3 buckets.
	Resources int `json:"resources"`
	// Now is the estate's clock: series end at Now truncated to the hour.
	Now time.Time `json:"now"`
	// Days is the length of the utilization history; 0 means 14.
	Days int `json:"days,omitempty"`
	// DeniedScopes answer domain.ErrPermission to inventory and
	// utilization reads, as a scope the collector's identity cannot read.
	DeniedScopes []collect.Scope `json:"denied_scopes,omitempty"`
}

// Validate reports the first field of c that is out of range, naming it.
func (c Config) Validate() error {
	switch {
	case c.Resources < MinResources || c.Resources > MaxResources:
		return fmt.Errorf("%w: simcloud config: Resources: %d is outside %d..%d", domain.ErrInvalid, c.Resources, MinResources, MaxResources)
	case c.Now.IsZero():
		return fmt.Errorf("%w: simcloud config: Now: must be set", domain.ErrInvalid)
	case c.Days < 0 || c.Days > 90:
		return fmt.Errorf("%w: simcloud config: Days: %d is outside 1..90 (0 means 14)", domain.ErrInvalid, c.Days)
	}
	for i, s := range c.DeniedScopes {
		if s.Account == "" || s.Region == "" {
			return fmt.Errorf("%w: simcloud config: DeniedScopes[%d]: account and region must be set", domain.ErrInvalid, i)
		}
	}
	return nil
}

// DemoSeed and DemoResources make the committed demo estate.
const (
	DemoSeed      = 42
	DemoResources = 72
)

// Demo returns the configuration of the committed demo estate: 72
// resources across the three clouds, seed 42, 14 days of history ending
// at now. A plan on it finds every kind of action (see the package tests,
// which check that it holds at least two actionable VMs of each archetype,
// orphan disks, unassociated addresses and old snapshots, and protected,
// incomplete and too-new resources that must be left alone).
func Demo(now time.Time) Config {
	return Config{Seed: DemoSeed, Resources: DemoResources, Now: now, Days: 14}
}

// Prices is the part of the price catalog the estate uses;
// *pricing.Catalog implements it.
type Prices interface {
	Lookup(cloud domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool)
	VMSizes(cloud domain.Cloud, region string) []domain.Price
}

// Estate is a simulated three-cloud estate. It is safe for concurrent use.
type Estate struct {
	mu sync.Mutex

	seed    int64
	days    int
	now     time.Time
	refHour int64 // hours since the epoch at which the reference window ends
	prices  Prices
	traces  *traceSet
	rng     *rand.Rand // for IDs minted after New

	accounts []account
	res      []resource
	byID     map[string]int32
	byScope  map[scopeKey][]int32
	scopes   map[domain.Cloud][]collect.Scope
	denied   map[scopeKey]bool
	sizes    map[priceKey]domain.Price

	tokens map[string]tokenResult
	calls  []Call
	fail   map[string][]error
	clouds map[domain.Cloud]*Cloud
}

type scopeKey struct {
	cloud           domain.Cloud
	account, region string
}

type priceKey struct {
	cloud       domain.Cloud
	region, sku string
	kind        domain.Kind
}

// account is an AWS account, Azure subscription or GCP project.
type account struct {
	cloud      domain.Cloud
	id, name   string
	billing    string // billing account
	regions    []string
	discountBP int64 // negotiated discount in basis points
}

// resource is the estate's compact record of one resource; tags and the
// domain.Resource are built when read.
type resource struct {
	cloud        domain.Cloud
	acct         int16
	kind         domain.Kind
	region, zone string
	id, name     string
	sku, state   string
	created      time.Time
	sizeGiB      int64
	attachedTo   string
	env, team    string
	app          string
	optIn        bool
	protect      bool
	incomplete   string
	extraTags    map[string]string
	hist         []span // past states, oldest first
	vm           *vmParams
	bucket       *bucketParams
	tiering      string // buckets: domain.Resource.Tiering
}

// span is a past state of a resource, held until until.
type span struct {
	until      time.Time
	state, sku string
}

// New generates the estate described by cfg, priced from prices.
func New(cfg Config, prices Prices) (*Estate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if prices == nil {
		return nil, fmt.Errorf("%w: simcloud: no price catalog", domain.ErrInvalid)
	}
	ts, err := loadTraces()
	if err != nil {
		return nil, err
	}
	if cfg.Days == 0 {
		cfg.Days = 14
	}
	now := cfg.Now.UTC()
	e := &Estate{
		seed:    cfg.Seed,
		days:    cfg.Days,
		now:     now,
		refHour: now.Unix() / 3600,
		prices:  prices,
		traces:  ts,
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), 0x51c0_c10d_0001)),
		byID:    make(map[string]int32, cfg.Resources),
		byScope: make(map[scopeKey][]int32),
		scopes:  make(map[domain.Cloud][]collect.Scope),
		denied:  make(map[scopeKey]bool),
		sizes:   make(map[priceKey]domain.Price),
		tokens:  make(map[string]tokenResult),
		fail:    make(map[string][]error),
		clouds:  make(map[domain.Cloud]*Cloud),
	}
	g := &generator{e: e, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x51c0_c10d_0000)), now: now}
	if err := g.generate(cfg.Resources); err != nil {
		return nil, err
	}
	for i := range e.res {
		r := &e.res[i]
		e.byID[r.id] = int32(i)
		k := scopeKey{r.cloud, e.accounts[r.acct].id, r.region}
		e.byScope[k] = append(e.byScope[k], int32(i))
	}
	for k := range e.byScope {
		e.scopes[k.cloud] = append(e.scopes[k.cloud], collect.Scope{Account: k.account, Region: k.region})
	}
	for _, c := range domain.Clouds {
		s := e.scopes[c]
		sort.Slice(s, func(i, j int) bool {
			if s[i].Account != s[j].Account {
				return s[i].Account < s[j].Account
			}
			return s[i].Region < s[j].Region
		})
		e.clouds[c] = &Cloud{e: e, cloud: c}
	}
	for _, s := range cfg.DeniedScopes {
		for _, a := range e.accounts {
			if a.id == s.Account {
				e.denied[scopeKey{a.cloud, s.Account, s.Region}] = true
			}
		}
	}
	return e, nil
}

// Cloud returns the provider of one cloud of the estate, or nil for a
// cloud the estate does not know.
func (e *Estate) Cloud(c domain.Cloud) *Cloud { return e.clouds[c] }

// Now returns the estate's clock.
func (e *Estate) Now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// Advance moves the estate's clock by d; series and cost rows follow it.
func (e *Estate) Advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// Resources returns the current state of every live resource (deleted
// ones are left out), in a stable order.
func (e *Estate) Resources() []domain.Resource {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]domain.Resource, 0, len(e.res))
	for i := range e.res {
		if e.res[i].live() {
			out = append(out, e.resourceLocked(&e.res[i]))
		}
	}
	return out
}

// Accounts lists the accounts, subscriptions and projects of cloud c.
func (e *Estate) Accounts(c domain.Cloud) []string {
	var out []string
	for _, a := range e.accounts {
		if a.cloud == c {
			out = append(out, a.id)
		}
	}
	return out
}

// Discount returns the negotiated discount of an account as a fraction
// (0.12 for 12 %); cost rows carry EffectiveCost = ListCost × (1 − discount).
func (e *Estate) Discount(accountID string) float64 {
	for _, a := range e.accounts {
		if a.id == accountID {
			return float64(a.discountBP) / 10_000
		}
	}
	return 0
}

// Archetype returns the archetype the estate gave a VM (one of the
// Archetype* constants), as ground truth for tests of the optimizer.
func (e *Estate) Archetype(id string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.byID[id]
	if !ok || e.res[i].vm == nil {
		return "", false
	}
	return e.res[i].vm.arch.String(), true
}

// MonthlyRunRate returns the list-price monthly cost of everything in
// cloud c that bills now: running VMs, disks, addresses and snapshots.
func (e *Estate) MonthlyRunRate(c domain.Cloud) domain.Money {
	e.mu.Lock()
	defer e.mu.Unlock()
	var micros int64
	for i := range e.res {
		r := &e.res[i]
		if r.cloud != c || !bills(r.kind, r.state) {
			continue
		}
		p, ok := e.priceLocked(r.cloud, r.region, r.kind, r.sku)
		if !ok {
			continue
		}
		m, _ := charge(p, r.sizeGiB, monthSeconds)
		micros += m
	}
	return domain.USD(micros)
}

func (r *resource) live() bool {
	return r.state != domain.StateDeleted && r.state != domain.StateReleased
}

// tags builds the resource's tags; nil when they could not be read.
func (r *resource) tags() map[string]string {
	if r.incomplete != "" {
		return nil
	}
	m := make(map[string]string, 6+len(r.extraTags))
	for k, v := range map[string]string{TagEnv: r.env, TagTeam: r.team, TagApp: r.app} {
		if v != "" {
			m[k] = v
		}
	}
	if r.cloud == domain.AWS && r.name != "" && r.kind != domain.KindSnapshot {
		m["Name"] = r.name
	}
	if r.optIn {
		m[TagOptIn] = "true"
	}
	if r.protect {
		m[TagProtect] = "true"
	}
	for k, v := range r.extraTags {
		m[k] = v
	}
	return m
}

func (e *Estate) resourceLocked(r *resource) domain.Resource {
	return domain.Resource{
		Cloud:      r.cloud,
		Account:    e.accounts[r.acct].id,
		Region:     r.region,
		Kind:       r.kind,
		ID:         r.id,
		Name:       r.name,
		SKU:        r.sku,
		State:      r.state,
		Tags:       r.tags(),
		CreatedAt:  r.created,
		SizeGiB:    r.sizeGiB,
		AttachedTo: r.attachedTo,
		Tiering:    r.tiering,
		Incomplete: r.incomplete,
	}
}

// priceLocked looks a SKU up in the catalog, through a cache.
func (e *Estate) priceLocked(c domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool) {
	k := priceKey{c, region, sku, kind}
	if p, ok := e.sizes[k]; ok {
		return p, true
	}
	p, ok := e.prices.Lookup(c, region, kind, sku)
	if ok {
		e.sizes[k] = p
	}
	return p, ok
}

// takeFailure pops the failure queued for op, if any.
func (e *Estate) takeFailure(op string) error {
	q := e.fail[op]
	if len(q) == 0 {
		return nil
	}
	err := q[0]
	if len(q) == 1 {
		delete(e.fail, op)
	} else {
		e.fail[op] = q[1:]
	}
	return err
}

// FailNext makes the next call of op (one of the Op* constants) on any
// cloud of the estate fail with err before it reads or changes anything.
// Calls queue: FailNext twice fails the next two calls.
func (e *Estate) FailNext(op string, err error) {
	if err == nil {
		err = errors.New("simcloud: injected failure")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail[op] = append(e.fail[op], err)
}
