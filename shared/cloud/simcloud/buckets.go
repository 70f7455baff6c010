package simcloud

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Hot storage classes of the simulated buckets, as each cloud names the
// class new objects land in (Azure with the account's redundancy).
var hotClass = map[domain.Cloud]string{domain.AWS: "STANDARD", domain.Azure: "Hot_LRS", domain.GCP: "STANDARD"}

// tierClasses are the classes a lifecycle rule may move objects to.
var tierClasses = map[domain.Cloud][]string{
	domain.AWS:   {"STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"},
	domain.Azure: {"Cool", "Cold", "Archive"},
	domain.GCP:   {"NEARLINE", "COLDLINE", "ARCHIVE"},
}

// bucketKind is how a simulated bucket is used.
type bucketKind uint8

const (
	bucketCold      bucketKind = iota // rarely read, steady size
	bucketLogs                        // grows every day, rarely read
	bucketHot                         // its data is read several times a month
	bucketSmall                       // objects of a few KiB
	bucketChurn                       // objects are deleted: it shrinks
	bucketUnmetered                   // no request metrics
	numBucketKinds
)

var bucketKindNames = [numBucketKinds]string{"cold", "logs", "hot", "small-objects", "churn", "unmetered"}

// firstBuckets are the kinds of each cloud's first buckets, so that even
// the smallest estate has a bucket to tier and one to leave alone on
// every cloud; later buckets cycle through every kind.
var firstBuckets = map[domain.Cloud][]bucketKind{
	domain.AWS:   {bucketCold, bucketUnmetered, bucketSmall},
	domain.Azure: {bucketLogs, bucketHot, bucketChurn},
	domain.GCP:   {bucketCold, bucketChurn, bucketHot},
}

// bucketParams drive a bucket's metrics. Sizes and rates are those of
// the estate's clock; each day of history follows from them.
type bucketParams struct {
	kind       bucketKind
	seed       uint64
	hotBytes   float64 // bytes in the hot class now
	growth     float64 // fraction of hotBytes added (negative: removed) per day
	objBytes   float64 // mean object size
	readShare  float64 // bytes read per month over bytes stored
	reqPerRead float64 // requests per object read (ranged and HEAD requests)
}

// Buckets returns how many buckets an estate of n resources holds: one
// per 300 resources in each cloud, at least three.
func Buckets(n int) int { return 3 * max(3, n/300) }

// buckets adds the estate's buckets from their own random stream, so the
// other resources are the same with or without them.
func (g *generator) buckets(n int) {
	rng := rand.New(rand.NewPCG(uint64(g.e.seed), 0x51c0_c10d_0002))
	per := Buckets(n) / 3
	for _, c := range domain.Clouds {
		// Buckets live where the catalog prices their hot class, so that
		// the bill charges every one of them.
		var scopes []scopeKey
		for _, s := range g.byCloud[c] {
			if _, ok := g.e.priceLocked(c, s.region, domain.KindBucket, hotClass[c]); ok {
				scopes = append(scopes, s)
			}
		}
		if len(scopes) == 0 {
			continue
		}
		for i := range per {
			k := bucketKind(i % int(numBucketKinds))
			if i < len(firstBuckets[c]) {
				k = firstBuckets[c][i]
			}
			g.bucket(rng, c, scopes[i%len(scopes)], k, i)
		}
	}
}

func (g *generator) bucket(rng *rand.Rand, c domain.Cloud, s scopeKey, k bucketKind, i int) {
	ap := apps[rng.IntN(len(apps))]
	env := []string{"prod", "prod", "dev"}[rng.IntN(3)]
	logU := func(lo, hi float64) float64 {
		return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
	}
	p := &bucketParams{kind: k, seed: rng.Uint64(), objBytes: logU(256<<10, 8<<20), readShare: logU(0.002, 0.01), reqPerRead: 1 + 2*rng.Float64()}
	gib := float64(1 << 30)
	switch k {
	case bucketCold, bucketUnmetered:
		p.hotBytes = logU(300, 6000) * gib
	case bucketLogs:
		p.hotBytes = logU(800, 4000) * gib
		p.growth = 0.01 + 0.015*rng.Float64()
		p.readShare = logU(0.01, 0.03)
	case bucketHot:
		p.hotBytes = logU(50, 600) * gib
		p.readShare = 2 + 3*rng.Float64()
	case bucketSmall:
		p.hotBytes = logU(100, 800) * gib
		p.objBytes = logU(8<<10, 64<<10)
	case bucketChurn:
		p.hotBytes = logU(300, 3000) * gib
		p.growth = -(0.01 + 0.01*rng.Float64())
	}
	what := []string{"archive", "logs", "assets", "thumbs", "scratch", "backup"}[k]
	var name string
	id := g.unique(func() string {
		suffix := fmt.Sprintf("%06x", rng.Uint32()&0xffffff)
		switch c {
		case domain.Azure:
			// Storage account names are 3 to 24 lower-case letters and digits.
			alnum := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, strings.ToLower(ap.app+env))
			name = alnum[:min(len(alnum), 16)] + "st" + suffix
			return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s", s.account, azureRG(ap.app, env), name)
		case domain.GCP:
			name = fmt.Sprintf("%s-%s-%s", s.account, what, suffix)
		default:
			name = fmt.Sprintf("%s-%s-%s-%s", ap.app, env, what, suffix)
		}
		return name
	})
	r := resource{cloud: c, acct: g.acctIndex(s.account), kind: domain.KindBucket, region: s.region,
		id: id, name: name, sku: hotClass[c], state: domain.StateAvailable,
		created: g.now.Add(-time.Duration(60+rng.IntN(900)) * 24 * time.Hour).Truncate(time.Second),
		sizeGiB: int64(math.Round(p.hotBytes / gib)), env: env, team: ap.team, app: ap.app,
		optIn: i < 3 || rng.Float64() < 0.85, protect: i >= 3 && rng.Float64() < 0.05,
		tiering: domain.TieringNone, bucket: p}
	if i >= 3 && rng.Float64() < 0.1 {
		r.tiering = domain.TieringCustom // its owners already set lifecycle transitions
	}
	g.add(r)
}

// BucketKind returns the usage the estate gave a bucket, as ground truth
// for tests of the optimizer.
func (e *Estate) BucketKind(id string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.byID[id]
	if !ok || e.res[i].bucket == nil {
		return "", false
	}
	return bucketKindNames[e.res[i].bucket.kind], true
}

// bucketView is what the series of one bucket need, copied under the lock.
type bucketView struct {
	id     string
	p      bucketParams
	nowDay int64
	from   int64 // first day of retained history
}

// at returns the bucket's hot bytes, objects, read requests and bytes
// read on absolute day d (days since the epoch).
func (v *bucketView) at(d int64) (bytes, objects, requests, readBytes float64) {
	p := &v.p
	age := float64(d - v.nowDay)
	bytes = p.hotBytes * math.Max(0.1, 1+p.growth*age) * (1 + 0.002*(unit(p.seed, d, 1)-0.5))
	objects = math.Round(bytes / p.objBytes)
	share := p.readShare / 30 * (0.5 + unit(p.seed, d, 2))
	if p.readShare < 0.1 && unit(p.seed, d, 3) < 0.4 {
		share = 0 // rarely read buckets go whole days unread
	}
	readBytes = bytes * share
	requests = math.Round(readBytes / p.objBytes * p.reqPerRead)
	return bytes, objects, requests, readBytes
}

// BucketSeries implements collect.BucketUsage: for each bucket of ids in
// scope, one point a day over window's whole days up to the estate's
// clock: hot-class bytes and objects, and (unless the bucket has no
// request metrics) read requests and bytes read per second. IDs that
// are not buckets of scope are skipped.
func (c *Cloud) BucketSeries(ctx context.Context, scope collect.Scope, ids []string, window collect.Window, fn func(domain.Series) error) error {
	e := c.e
	e.mu.Lock()
	k, err := c.checkScope(OpSeries, scope)
	nowDay := floorDiv(e.now.Unix(), 86400)
	days := int64(e.days)
	views := make([]bucketView, 0, len(ids))
	if err == nil {
		for _, id := range ids {
			i, ok := e.byID[id]
			if !ok {
				continue
			}
			r := &e.res[i]
			if r.bucket == nil || r.cloud != k.cloud || r.region != k.region || e.accounts[r.acct].id != k.account || !r.live() {
				continue
			}
			views = append(views, bucketView{id: r.id, p: *r.bucket, nowDay: nowDay, from: max(nowDay-days, floorDiv(r.created.Unix(), 86400)+1)})
		}
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	start := floorDiv(window.Start.Unix()+86399, 86400) // first whole day
	end := min(nowDay, floorDiv(window.End.Unix(), 86400))
	if end <= start {
		return nil
	}
	n := int(end - start)
	for _, v := range views {
		if err := ctx.Err(); err != nil {
			return err
		}
		mk := func(m domain.Metric) domain.Series {
			s := domain.Series{ResourceID: v.id, Metric: m, Start: time.Unix(start*86400, 0).UTC(), Step: 24 * time.Hour, Values: make([]float32, n)}
			return s
		}
		bytes, objects, reqs, reads := mk(domain.MetricStoredBytes), mk(domain.MetricObjects), mk(domain.MetricReadRequests), mk(domain.MetricReadBytes)
		for j := range n {
			d := start + int64(j)
			if d < v.from {
				for _, s := range []*domain.Series{&bytes, &objects, &reqs, &reads} {
					s.Values[j] = domain.Missing
				}
				continue
			}
			b, o, q, r := v.at(d)
			bytes.Values[j], objects.Values[j] = float32(b), float32(o)
			reqs.Values[j], reads.Values[j] = float32(q/86400), float32(r/86400)
		}
		out := []domain.Series{bytes, objects}
		if v.p.kind != bucketUnmetered {
			out = append(out, reqs, reads)
		}
		for _, s := range out {
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetTiering sets or (with a zero rule) removes cloudtrim's lifecycle
// rule on a bucket. A class the cloud does not have, or a bucket whose
// owners manage its transitions, is refused.
func (c *Cloud) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	args := "tiering=none"
	if !rule.IsZero() {
		args = "tiering=" + rule.String()
	}
	_, err := c.mutate(ctx, OpTier, ref, token, args, func(r *resource) (string, error) {
		if err := wantKind(r, domain.KindBucket); err != nil {
			return "", err
		}
		if r.tiering == domain.TieringCustom {
			return "", fmt.Errorf("%w: bucket %s has lifecycle transitions cloudtrim did not set", domain.ErrConflict, r.id)
		}
		if rule.IsZero() {
			r.tiering = domain.TieringNone
			return "", nil
		}
		if !slices.Contains(tierClasses[r.cloud], rule.Class) {
			return "", fmt.Errorf("%w: storage class %q is not one of %s's %v", domain.ErrInvalid, rule.Class, r.cloud, tierClasses[r.cloud])
		}
		if rule.AfterDays < 1 {
			return "", fmt.Errorf("%w: lifecycle rule after %d days: want at least 1", domain.ErrInvalid, rule.AfterDays)
		}
		r.tiering = rule.String()
		return "", nil
	})
	return err
}

var _ collect.BucketUsage = (*Cloud)(nil)
