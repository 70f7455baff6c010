package optimize

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// fakeClasses is an object storage price table over a slice.
type fakeClasses []domain.ObjectClass

func (f fakeClasses) Classes(cloud domain.Cloud, region string) []domain.ObjectClass {
	var out []domain.ObjectClass
	for _, c := range f {
		if c.Cloud == cloud && c.Region == region {
			out = append(out, c)
		}
	}
	return out
}

// s3Classes are Amazon S3's us-east-1 list prices.
var s3Classes = fakeClasses{
	{Cloud: domain.AWS, Region: region, Class: "STANDARD", Hot: true, GiBMonth: usd("0.023"), ReadsPer10k: usd("0.004")},
	{Cloud: domain.AWS, Region: region, Class: "STANDARD_IA", GiBMonth: usd("0.0125"), RetrievalPerGiB: usd("0.01"),
		ReadsPer10k: usd("0.01"), TransitionPer10k: usd("0.1"), MinDays: 30, MinObjectKiB: 128},
	{Cloud: domain.AWS, Region: region, Class: "GLACIER_IR", GiBMonth: usd("0.004"), RetrievalPerGiB: usd("0.03"),
		ReadsPer10k: usd("0.1"), TransitionPer10k: usd("0.2"), MinDays: 90, MinObjectKiB: 128},
}

// daily returns a daily series of n points ending at windowEnd whose
// value on day i is f(i).
func daily(id string, metric domain.Metric, n int, f func(i int) float32) domain.Series {
	s := domain.Series{ResourceID: id, Metric: metric, Start: windowEnd.Add(-time.Duration(n) * 24 * time.Hour), Step: 24 * time.Hour, Values: make([]float32, n)}
	for i := range s.Values {
		s.Values[i] = f(i)
	}
	return s
}

// TestTiering checks the lifecycle transitions proposed for buckets: the
// class chosen from the measured reads, the bytes old enough to move,
// and each reason a bucket is left alone, with exact monthly figures.
func TestTiering(t *testing.T) {
	const (
		gib   = float32(1 << 30)
		month = float32(domain.HoursPerMonth * 3600)
		days  = 14
	)
	bucket := func(id, tiering string) domain.Resource {
		return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindBucket, ID: id, Name: id,
			SKU: "STANDARD", State: domain.StateAvailable, Tags: optIn, CreatedAt: now.AddDate(-1, 0, 0), Tiering: tiering, SizeGiB: 1000}
	}
	// usage is a bucket's four series: hot bytes on day i, objects of
	// objKiB, and reads a month (requests and GiB).
	usage := func(id string, bytes func(i int) float32, objKiB float32, reqsMonth, gibMonth float32) []domain.Series {
		return []domain.Series{
			daily(id, domain.MetricStoredBytes, days, bytes),
			daily(id, domain.MetricObjects, days, func(i int) float32 { return bytes(i) / (objKiB * 1024) }),
			daily(id, domain.MetricReadRequests, days, flat(reqsMonth/month)),
			daily(id, domain.MetricReadBytes, days, flat(gibMonth*gib/month)),
		}
	}
	steady := flat(1000 * gib)
	tb := func(id, after string) brief {
		return brief{Kind: domain.ActionTierStorage, ID: id,
			Before: domain.ResourceState{SKU: "STANDARD", State: domain.StateAvailable, Tiering: domain.TieringNone},
			After:  domain.ResourceState{SKU: "STANDARD", State: domain.StateAvailable, Tiering: after},
			Basis:  domain.BasisListPrice, Risk: domain.RiskMedium}
	}
	tests := []struct {
		name      string
		resources []domain.Resource
		series    []domain.Series
		rows      []domain.CostRow
		want      []brief
		savings   []string
		findings  []string
	}{
		{
			// Glacier IR: 1,000 GiB × (0.023 − 0.004) = 19.00, less 10 GiB ×
			// 0.03 retrieval, 1 × (0.10 − 0.004) requests and 1,024,000
			// objects / 10,000 × 0.20 / 12 transitions = 16.90; Standard-IA
			// would save 9.54.
			name:      "rarely read: the coldest online class",
			resources: []domain.Resource{bucket("cold", domain.TieringNone)},
			series:    usage("cold", steady, 1024, 10_000, 10),
			want:      []brief{tb("cold", "GLACIER_IR@30d")},
			savings:   []string{"USD 16.90"},
		},
		{
			// The bill charges USD 20.44 a month against the list's 23.00:
			// the 16.90 are scaled to 15.02.
			name:      "a discounted bill scales the savings",
			resources: []domain.Resource{bucket("cold", domain.TieringNone)},
			series:    usage("cold", steady, 1024, 10_000, 10),
			rows:      hourlyRows("cold", 336, "0.028", "0.0315"),
			want: []brief{func() brief {
				b := tb("cold", "GLACIER_IR@30d")
				b.Basis = domain.BasisEffectiveCost
				return b
			}()},
			savings: []string{"USD 15.02"},
		},
		{
			// 20 GiB a day: the last 30 days' 600 GiB stay; 400 GiB (409,600
			// objects) move: 400 × 0.019 − 0.30 − 0.096 − 40.96 × 0.20 / 12
			// = 6.52.
			name:      "growing: only data older than the rule's age moves",
			resources: []domain.Resource{bucket("logs", domain.TieringNone)},
			series:    usage("logs", func(i int) float32 { return (1000 - 20*float32(days-1-i)) * gib }, 1024, 10_000, 10),
			want:      []brief{tb("logs", "GLACIER_IR@30d")},
			savings:   []string{"USD 6.52"},
		},
		{
			// 200 GiB read a month: Standard-IA nets 10.50 − 2.00 − 0.006 −
			// 0.85 = 7.64, Glacier IR 19.00 − 6.00 − 0.096 − 1.71 = 11.20.
			name:      "read a fifth of its data a month: still Glacier IR",
			resources: []domain.Resource{bucket("warm", domain.TieringNone)},
			series:    usage("warm", steady, 1024, 10_000, 200),
			want:      []brief{tb("warm", "GLACIER_IR@30d")},
			savings:   []string{"USD 11.20"},
		},
		{
			name:      "read five times a month: stays",
			resources: []domain.Resource{bucket("hot", domain.TieringNone)},
			series:    usage("hot", steady, 1024, 5_000_000, 5000),
			findings:  []string{"hot: tier_storage: reads cost more than the move saves: "},
		},
		{
			name:      "no request metrics",
			resources: []domain.Resource{bucket("dark", domain.TieringNone)},
			series:    usage("dark", steady, 1024, 10_000, 10)[:2],
			findings:  []string{"dark: tier_storage: access pattern unknown: read requests and bytes read were not observed on 7 days; turn on the bucket's S3 request metrics"},
		},
		{
			name:      "shrinking: early deletion charges",
			resources: []domain.Resource{bucket("scratch", domain.TieringNone)},
			series:    usage("scratch", func(i int) float32 { return (1000 + 10*float32(days-1-i)) * gib }, 1024, 10_000, 10),
			findings:  []string{"scratch: tier_storage: objects are deleted: the hot class shrank by 11.5% in the window (more than 5%)"},
		},
		{
			name:      "small objects are not moved by S3",
			resources: []domain.Resource{bucket("thumbs", domain.TieringNone)},
			series:    usage("thumbs", steady, 40, 10_000, 10),
			findings:  []string{"thumbs: tier_storage: no class fits: STANDARD_IA left out: objects average 40 KiB, and aws does not move objects under 128 KiB; GLACIER_IR left out"},
		},
		{
			name:      "owners' transitions are theirs",
			resources: []domain.Resource{bucket("owned", domain.TieringCustom)},
			series:    usage("owned", steady, 1024, 10_000, 10),
			findings:  []string{"owned: tier_storage: lifecycle transitions already set by the bucket's owners: left to them"},
		},
		{
			name:      "cloudtrim's rule in place: nothing to do",
			resources: []domain.Resource{bucket("done", "GLACIER_IR@30d")},
			series:    usage("done", steady, 1024, 10_000, 10),
		},
		{
			name:      "a week of data is not enough",
			resources: []domain.Resource{bucket("new", domain.TieringNone)},
			series: func() []domain.Series {
				ss := usage("new", steady, 1024, 10_000, 10)
				for i := range ss {
					for j := range 10 {
						ss[i].Values[j] = domain.Missing
					}
				}
				return ss
			}(),
			findings: []string{"new: tier_storage: no storage metrics: the stored bytes of class STANDARD were not observed on 7 days"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := domain.DefaultPolicy()
			plan, err := Optimize(context.Background(), Request{PlanID: "plan-1", Now: now, Policy: pol, Prices: catalog, ObjectClasses: s3Classes,
				Snapshots: []Snapshot{&fakeSnapshot{ref: ref(), resources: tt.resources, series: tt.series, rows: tt.rows}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.Validate(); err != nil {
				t.Fatalf("plan.Validate() = %v", err)
			}
			var got []brief
			var savings []string
			for _, a := range plan.Actions {
				b := brief{a.Kind, a.Target.ID, a.Before, a.After, domain.Money{}, a.SavingsBasis, a.Risk}
				got = append(got, b)
				savings = append(savings, a.MonthlySavings.String())
				if !strings.Contains(a.Undo, domain.TierRuleID) || len(a.Evidence.Notes) < 3 || a.Evidence.WindowStart.IsZero() {
					t.Errorf("action %s: undo %q, %d notes, window %v", a.ID, a.Undo, len(a.Evidence.Notes), a.Evidence.WindowStart)
				}
			}
			if !slices.Equal(got, tt.want) || !slices.Equal(savings, tt.savings) {
				t.Errorf("actions = %+v %v\nwant %+v %v", got, savings, tt.want, tt.savings)
			}
			f := findings(plan)
			if len(f) != len(tt.findings) {
				t.Fatalf("findings =\n%s\nwant prefixes\n%s", strings.Join(f, "\n"), strings.Join(tt.findings, "\n"))
			}
			for i := range f {
				if !strings.HasPrefix(f[i], tt.findings[i]) {
					t.Errorf("finding %d = %q; want prefix %q", i, f[i], tt.findings[i])
				}
			}
		})
	}
}

// TestTieringWithoutPrices checks that a plan made without object
// storage prices says so for each bucket instead of guessing.
func TestTieringWithoutPrices(t *testing.T) {
	b := domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindBucket, ID: "b",
		SKU: "STANDARD", State: domain.StateAvailable, Tags: optIn, Tiering: domain.TieringNone}
	plan := optimizeWith(t, domain.DefaultPolicy(), catalog, &fakeSnapshot{ref: ref(), resources: []domain.Resource{b}})
	if f := findings(plan); !slices.Equal(f, []string{"b: tier_storage: no price: no object storage class prices were given"}) {
		t.Errorf("findings = %q", f)
	}
}
