package simcloud

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

func newEstate(t testing.TB, cfg Config) *Estate {
	t.Helper()
	e, err := New(cfg, testPrices())
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return e
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"too few", Config{Resources: 49, Now: testNow}, "Resources"},
		{"too many", Config{Resources: 100_001, Now: testNow}, "Resources"},
		{"no clock", Config{Resources: 50}, "Now"},
		{"negative days", Config{Resources: 50, Now: testNow, Days: -1}, "Days"},
		{"bad scope", Config{Resources: 50, Now: testNow, DeniedScopes: []collect.Scope{{Account: "x"}}}, "DeniedScopes[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, testPrices())
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("New(%+v) = %v; want ErrInvalid naming %s", tc.cfg, err, tc.field)
			}
		})
	}
	if _, err := New(Config{Resources: 50, Now: testNow}, nil); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("New without prices = %v; want ErrInvalid", err)
	}
	if _, err := New(Config{Resources: 50, Now: testNow}, &fakePrices{}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("New with an empty catalog = %v; want ErrInvalid", err)
	}
}

// snapshot is everything a collector would read from an estate.
type snapshot struct {
	Resources []domain.Resource
	Series    map[string][]uint32 // float bits, so NaN compares equal
	Costs     []domain.CostRow
}

func read(t testing.TB, e *Estate) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{Series: map[string][]uint32{}}
	end := e.Now()
	w := collect.Window{Start: end.Add(-14 * 24 * time.Hour), End: end}
	for _, c := range domain.Clouds {
		p := e.Cloud(c)
		scopes, err := p.Scopes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range scopes {
			var ids []string
			err := p.Resources(ctx, sc, func(rs []domain.Resource) error {
				s.Resources = append(s.Resources, rs...)
				for _, r := range rs {
					if r.Kind == domain.KindVM {
						ids = append(ids, r.ID)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			err = p.Series(ctx, sc, ids, w, time.Hour, func(ser domain.Series) error {
				bits := make([]uint32, len(ser.Values))
				for i, v := range ser.Values {
					bits[i] = math.Float32bits(v)
				}
				s.Series[ser.ResourceID+"/"+string(ser.Metric)] = bits
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range e.Accounts(c) {
			err := p.CostRows(ctx, a, w, func(rows []domain.CostRow) error {
				s.Costs = append(s.Costs, rows...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 7, Resources: 400, Now: testNow}
	a, b := read(t, newEstate(t, cfg)), read(t, newEstate(t, cfg))
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("two estates from the same seed differ (-first +second):\n%s", d)
	}
	cfg.Seed = 8
	c := read(t, newEstate(t, cfg))
	if cmp.Equal(a.Resources, c.Resources) {
		t.Errorf("seeds 7 and 8 give the same inventory")
	}
	if len(a.Series) == 0 || len(a.Costs) == 0 {
		t.Errorf("read %d series and %d cost rows; want some", len(a.Series), len(a.Costs))
	}
}

var idPatterns = map[domain.Cloud]map[domain.Kind]*regexp.Regexp{
	domain.AWS: {
		domain.KindVM: regexp.MustCompile(`^i-0[0-9a-f]{16}$`), domain.KindDisk: regexp.MustCompile(`^vol-0[0-9a-f]{16}$`),
		domain.KindIP: regexp.MustCompile(`^eipalloc-0[0-9a-f]{16}$`), domain.KindSnapshot: regexp.MustCompile(`^snap-0[0-9a-f]{16}$`),
		// S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens.
		domain.KindBucket: regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)},
	domain.Azure: {
		domain.KindVM:       regexp.MustCompile(`^/subscriptions/[0-9a-f-]{36}/resourceGroups/rg-[a-z-]+/providers/Microsoft.Compute/virtualMachines/[a-z0-9-]+$`),
		domain.KindDisk:     regexp.MustCompile(`^/subscriptions/[0-9a-f-]{36}/resourceGroups/rg-[a-z-]+/providers/Microsoft.Compute/disks/[a-z0-9-]+$`),
		domain.KindIP:       regexp.MustCompile(`^/subscriptions/[0-9a-f-]{36}/resourceGroups/rg-[a-z-]+/providers/Microsoft.Network/publicIPAddresses/[a-z0-9-]+$`),
		domain.KindSnapshot: regexp.MustCompile(`^/subscriptions/[0-9a-f-]{36}/resourceGroups/rg-[a-z-]+/providers/Microsoft.Compute/snapshots/[a-z0-9-]+$`),
		// Storage account names: 3 to 24 lower-case letters and digits.
		domain.KindBucket: regexp.MustCompile(`^/subscriptions/[0-9a-f-]{36}/resourceGroups/rg-[a-z-]+/providers/Microsoft.Storage/storageAccounts/[a-z0-9]{3,24}$`)},
	domain.GCP: {
		domain.KindVM:       regexp.MustCompile(`^projects/[a-z]+-(prod|dev)-\d{4}/zones/[a-z0-9]+-[a-z0-9]+-[a-z]/instances/[a-z0-9-]+$`),
		domain.KindDisk:     regexp.MustCompile(`^projects/[a-z]+-(prod|dev)-\d{4}/zones/[a-z0-9]+-[a-z0-9]+-[a-z]/disks/[a-z0-9-]+$`),
		domain.KindIP:       regexp.MustCompile(`^projects/[a-z]+-(prod|dev)-\d{4}/regions/[a-z0-9-]+/addresses/[a-z0-9-]+$`),
		domain.KindSnapshot: regexp.MustCompile(`^projects/[a-z]+-(prod|dev)-\d{4}/global/snapshots/[a-z0-9-]+$`),
		domain.KindBucket:   regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$`)},
}

func TestMix(t *testing.T) {
	for _, n := range []int{50, 1000, 100_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEstate(t, Config{Seed: int64(n), Resources: n, Now: testNow})
			rs := e.Resources()
			if len(rs) != n+Buckets(n) {
				t.Fatalf("Resources() has %d resources; want %d and %d buckets", len(rs), n, Buckets(n))
			}
			kinds := map[domain.Kind]int{}
			clouds := map[domain.Cloud]int{}
			accounts := map[domain.Cloud]map[string]bool{}
			arch := map[string]int{}
			var optIn, protect, incomplete, orphanOld, unassoc, oldSnap int
			ids := map[string]bool{}
			for _, r := range rs {
				if err := r.Validate(); err != nil {
					t.Errorf("resource %s: %v", r.ID, err)
				}
				if ids[r.ID] {
					t.Errorf("duplicate id %s", r.ID)
				}
				ids[r.ID] = true
				if !idPatterns[r.Cloud][r.Kind].MatchString(r.ID) {
					t.Errorf("%s %s id %q does not look like the cloud's", r.Cloud, r.Kind, r.ID)
				}
				kinds[r.Kind]++
				clouds[r.Cloud]++
				if accounts[r.Cloud] == nil {
					accounts[r.Cloud] = map[string]bool{}
				}
				accounts[r.Cloud][r.Account] = true
				if r.Tags[TagOptIn] == "true" {
					optIn++
				}
				if r.Tags[TagProtect] == "true" {
					protect++
				}
				if r.Incomplete != "" {
					incomplete++
					if r.Tags != nil {
						t.Errorf("incomplete %s has tags %v", r.ID, r.Tags)
					}
				}
				age := testNow.Sub(r.CreatedAt)
				switch r.Kind {
				case domain.KindVM:
					a, _ := e.Archetype(r.ID)
					arch[a]++
				case domain.KindDisk:
					if r.AttachedTo == "" && r.State == domain.StateAvailable && age > 7*24*time.Hour {
						orphanOld++
					}
					if r.SizeGiB < 8 || r.SizeGiB > 2048 {
						t.Errorf("disk %s is %d GiB", r.ID, r.SizeGiB)
					}
				case domain.KindIP:
					if r.AttachedTo == "" {
						unassoc++
					}
				case domain.KindBucket:
					if r.Tiering != domain.TieringNone && r.Tiering != domain.TieringCustom {
						t.Errorf("bucket %s: tiering %q; want none or custom", r.ID, r.Tiering)
					}
					if _, ok := e.BucketKind(r.ID); !ok || r.SizeGiB <= 0 || r.SKU == "" {
						t.Errorf("bucket %s: kind known %v, %d GiB, class %q", r.ID, ok, r.SizeGiB, r.SKU)
					}
				case domain.KindSnapshot:
					if age > 90*24*time.Hour {
						oldSnap++
					}
					if !ids[r.AttachedTo] {
						t.Errorf("snapshot %s: source disk %q not listed before it", r.ID, r.AttachedTo)
					}
				}
			}
			share := func(k domain.Kind) float64 { return float64(kinds[k]) / float64(n) }
			for k, want := range map[domain.Kind][2]float64{domain.KindVM: {0.40, 0.50}, domain.KindDisk: {0.25, 0.35},
				domain.KindIP: {0.07, 0.13}, domain.KindSnapshot: {0.10, 0.20}} {
				if s := share(k); s < want[0] || s > want[1] {
					t.Errorf("share of %s = %.3f; want %.2f..%.2f", k, s, want[0], want[1])
				}
			}
			if kinds[domain.KindBucket] != Buckets(n) {
				t.Errorf("%d buckets; want %d", kinds[domain.KindBucket], Buckets(n))
			}
			for _, c := range domain.Clouds {
				if clouds[c] == 0 {
					t.Errorf("no resources in %s", c)
				}
			}
			if a := len(accounts[domain.AWS]); a < 2 || a > 3 {
				t.Errorf("%d AWS accounts; want 2..3", a)
			}
			if len(accounts[domain.Azure]) != 2 || len(accounts[domain.GCP]) != 2 {
				t.Errorf("%d Azure subscriptions and %d GCP projects; want 2 each", len(accounts[domain.Azure]), len(accounts[domain.GCP]))
			}
			for _, a := range archetypeNames {
				if arch[a] == 0 {
					t.Errorf("no %s VM", a)
				}
			}
			if orphanOld < 2 || unassoc < 2 || oldSnap < 2 || incomplete < 1 || protect < 2 {
				t.Errorf("old orphan disks %d, unassociated IPs %d, old snapshots %d, incomplete %d, protected %d; want ≥2,2,2,1,2",
					orphanOld, unassoc, oldSnap, incomplete, protect)
			}
			if n >= 1000 {
				if f := float64(optIn) / float64(n-incomplete); f < 0.80 || f > 0.90 {
					t.Errorf("opt-in share %.3f; want about 0.85", f)
				}
				if f := float64(protect) / float64(n); f < 0.03 || f > 0.07 {
					t.Errorf("protected share %.3f; want about 0.05", f)
				}
				for a, want := range map[string][2]float64{ArchetypeOversized: {0.10, 0.18}, ArchetypeIdle: {0.08, 0.16},
					ArchetypeNonProd: {0.14, 0.22}, ArchetypeMemory: {0.05, 0.11}, ArchetypeBusy: {0.25, 0.45}} {
					if f := float64(arch[a]) / float64(kinds[domain.KindVM]); f < want[0] || f > want[1] {
						t.Errorf("share of %s VMs %.3f; want %.2f..%.2f", a, f, want[0], want[1])
					}
				}
			}
		})
	}
}

// actionable reports whether the optimizer may act on r.
func actionable(r domain.Resource) bool {
	return r.Incomplete == "" && r.Tags[TagOptIn] == "true" && r.Tags[TagProtect] == ""
}

// findings counts what a plan should find in e: actionable VMs by
// archetype, old orphan disks, unassociated IPs and old snapshots, and
// the resources it must leave alone.
func findings(e *Estate, now time.Time) map[string]int {
	count := map[string]int{}
	for _, r := range e.Resources() {
		age := now.Sub(r.CreatedAt)
		a, _ := e.Archetype(r.ID)
		switch {
		case r.Incomplete != "":
			count["incomplete "+a]++
		case r.Tags[TagProtect] != "":
			count["protected "+string(r.Kind)+" "+a]++
		case !actionable(r):
			count["not opted in"]++
		case r.Kind == domain.KindVM:
			count[a]++
		case r.Kind == domain.KindDisk && r.AttachedTo == "" && age > 7*24*time.Hour:
			count["orphan disk"]++
		case r.Kind == domain.KindIP && r.AttachedTo == "":
			count["unassociated ip"]++
		case r.Kind == domain.KindSnapshot && age > 90*24*time.Hour:
			count["old snapshot"]++
		}
	}
	return count
}

// checkFindings reports a kind of finding an estate lacks.
func checkFindings(t *testing.T, count map[string]int) {
	t.Helper()
	for _, k := range []string{ArchetypeOversized, ArchetypeIdle, ArchetypeNonProd, ArchetypeBusy, ArchetypeMemory,
		"orphan disk", "unassociated ip", "old snapshot"} {
		if count[k] < 2 {
			t.Errorf("%d actionable %s; want at least 2 (%v)", count[k], k, count)
		}
	}
	for _, k := range []string{ArchetypeNew, ArchetypeStopped, "protected vm idle", "protected vm oversized"} {
		if count[k] < 1 {
			t.Errorf("%d %s; want at least 1 (%v)", count[k], k, count)
		}
	}
	if count["incomplete idle"]+count["incomplete oversized"] < 1 {
		t.Errorf("no incomplete idle or oversized VM (%v)", count)
	}
}

func TestDemo(t *testing.T) {
	e := newEstate(t, Demo(testNow))
	if n := len(e.Resources()) - Buckets(DemoResources); n < 60 || n > 80 {
		t.Errorf("demo has %d resources besides its buckets; want 60..80", n)
	}
	count := findings(e, testNow)
	t.Logf("demo: %v", count)
	checkFindings(t, count)
	for _, c := range domain.Clouds {
		if e.MonthlyRunRate(c).Micros <= 0 {
			t.Errorf("MonthlyRunRate(%s) = %v; want positive", c, e.MonthlyRunRate(c))
		}
	}
}

func TestEverySmallEstateHasEveryFinding(t *testing.T) {
	for seed := range int64(20) {
		e := newEstate(t, Config{Seed: seed, Resources: MinResources, Now: testNow})
		checkFindings(t, findings(e, testNow))
	}
}

func TestScopesAndPages(t *testing.T) {
	e := newEstate(t, Config{Seed: 3, Resources: 20_000, Now: testNow})
	ctx := context.Background()
	total := 0
	for _, c := range domain.Clouds {
		scopes, err := e.Cloud(c).Scopes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range scopes {
			var first, second []string
			for _, into := range []*[]string{&first, &second} {
				err := e.Cloud(c).Resources(ctx, s, func(rs []domain.Resource) error {
					if len(rs) == 0 || len(rs) > PageSize {
						t.Errorf("page of %d resources; want 1..%d", len(rs), PageSize)
					}
					for _, r := range rs {
						if r.Account != s.Account || r.Region != s.Region || r.Cloud != c {
							t.Errorf("resource %s of %s/%s/%s listed in %+v", r.ID, r.Cloud, r.Account, r.Region, s)
						}
						*into = append(*into, r.ID)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if !cmp.Equal(first, second) {
				t.Errorf("two listings of %+v differ", s)
			}
			total += len(first)
		}
	}
	if want := 20_000 + Buckets(20_000); total != want {
		t.Errorf("scopes list %d resources; want %d", total, want)
	}
	stop := errors.New("stop")
	err := e.Cloud(domain.AWS).Resources(ctx, collect.Scope{Account: e.Accounts(domain.AWS)[0], Region: "us-east-1"},
		func([]domain.Resource) error { return stop })
	if err != stop {
		t.Errorf("Resources with a failing callback = %v; want the callback's error", err)
	}
}

func TestDeniedScopes(t *testing.T) {
	probe := newEstate(t, Config{Seed: 5, Resources: 200, Now: testNow})
	denied := collect.Scope{Account: probe.Accounts(domain.Azure)[1], Region: "westeurope"}
	e := newEstate(t, Config{Seed: 5, Resources: 200, Now: testNow, DeniedScopes: []collect.Scope{denied}})
	ctx := context.Background()
	p := e.Cloud(domain.Azure)
	scopes, _ := p.Scopes(ctx)
	listed := false
	for _, s := range scopes {
		err := p.Resources(ctx, s, func([]domain.Resource) error { return nil })
		if s == denied {
			listed = true
			if !errors.Is(err, domain.ErrPermission) {
				t.Errorf("Resources(%+v) = %v; want ErrPermission", s, err)
			}
			w := collect.Window{Start: testNow.Add(-time.Hour * 24), End: testNow}
			if err := p.Series(ctx, s, []string{"x"}, w, time.Hour, func(domain.Series) error { return nil }); !errors.Is(err, domain.ErrPermission) {
				t.Errorf("Series(%+v) = %v; want ErrPermission", s, err)
			}
		} else if err != nil {
			t.Errorf("Resources(%+v) = %v; want nil", s, err)
		}
	}
	if !listed {
		t.Errorf("Scopes() = %v; want the denied scope %+v listed", scopes, denied)
	}
}

func TestFailNextOnReads(t *testing.T) {
	e := newEstate(t, Config{Seed: 1, Resources: 50, Now: testNow})
	ctx := context.Background()
	e.FailNext(OpScopes, domain.ErrThrottled)
	if _, err := e.Cloud(domain.GCP).Scopes(ctx); !errors.Is(err, domain.ErrThrottled) {
		t.Errorf("Scopes after FailNext = %v; want ErrThrottled", err)
	}
	if _, err := e.Cloud(domain.GCP).Scopes(ctx); err != nil {
		t.Errorf("second Scopes = %v; want nil", err)
	}
	e.FailNext(OpCostRows, domain.ErrThrottled)
	if err := e.Cloud(domain.AWS).CostRows(ctx, e.Accounts(domain.AWS)[0], collect.Window{Start: testNow.AddDate(0, 0, -7), End: testNow},
		func([]domain.CostRow) error { return nil }); !errors.Is(err, domain.ErrThrottled) {
		t.Errorf("CostRows after FailNext = %v; want ErrThrottled", err)
	}
	if len(e.Calls()) != 0 {
		t.Errorf("reads logged %d mutating calls; want 0", len(e.Calls()))
	}
}
