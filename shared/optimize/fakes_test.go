package optimize

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// fakeSnapshot is an in-memory Snapshot with failure hooks.
type fakeSnapshot struct {
	ref       domain.SnapshotRef
	resources []domain.Resource
	series    []domain.Series
	rows      []domain.CostRow

	errResources, errSeries, errRows error // returned after the items
}

func (f *fakeSnapshot) Ref() domain.SnapshotRef { return f.ref }

func (f *fakeSnapshot) Resources(ctx context.Context, fn func(domain.Resource) error) error {
	return each(ctx, f.resources, fn, f.errResources)
}

func (f *fakeSnapshot) Series(ctx context.Context, fn func(domain.Series) error) error {
	return each(ctx, f.series, fn, f.errSeries)
}

func (f *fakeSnapshot) CostRows(ctx context.Context, fn func(domain.CostRow) error) error {
	return each(ctx, f.rows, fn, f.errRows)
}

func each[T any](ctx context.Context, items []T, fn func(T) error, fail error) error {
	for _, it := range items {
		if err := fn(it); err != nil {
			return err
		}
	}
	if fail != nil {
		return fail
	}
	return ctx.Err()
}

// fakePrices is a price catalog over a slice.
type fakePrices []domain.Price

func (f fakePrices) Lookup(cloud domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool) {
	for _, p := range f {
		if p.Cloud == cloud && p.Region == region && p.Kind == kind && p.SKU == sku {
			return p, true
		}
	}
	return domain.Price{}, false
}

func (f fakePrices) VMSizes(cloud domain.Cloud, region string) []domain.Price {
	var out []domain.Price
	for _, p := range f {
		if p.Cloud == cloud && p.Region == region && p.Kind == domain.KindVM {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b domain.Price) int { return cmp.Compare(a.Amount.Micros, b.Amount.Micros) })
	return out
}

const region = "us-east-1"

func vmPrice(sku, family string, vcpu int, memGiB int64, usdPerHour string, opts ...func(*domain.Price)) domain.Price {
	m, err := domain.ParseMoney(usdPerHour, "USD")
	if err != nil {
		panic(err)
	}
	p := domain.Price{Cloud: domain.AWS, Region: region, Kind: domain.KindVM, SKU: sku, Family: family, Arch: "x86_64",
		VCPU: vcpu, MemoryMiB: memGiB * 1024, Unit: domain.UnitHour, Amount: m}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func otherPrice(kind domain.Kind, sku, unit, usd string) domain.Price {
	m, err := domain.ParseMoney(usd, "USD")
	if err != nil {
		panic(err)
	}
	return domain.Price{Cloud: domain.AWS, Region: region, Kind: kind, SKU: sku, Unit: unit, Amount: m}
}

// catalog is a small slice of the real us-east-1 on-demand catalog.
var catalog = fakePrices{
	vmPrice("t3.medium", "t3", 2, 4, "0.0416", func(p *domain.Price) { p.Burstable = true }),
	vmPrice("m6g.large", "m6g", 2, 8, "0.077", func(p *domain.Price) { p.Arch = "arm64" }),
	vmPrice("c5.large", "c5", 2, 4, "0.085"),
	vmPrice("m5.large", "m5", 2, 8, "0.096"),
	vmPrice("r5.large", "r5", 2, 16, "0.126"),
	vmPrice("c5.xlarge", "c5", 4, 8, "0.17"),
	vmPrice("m5.xlarge", "m5", 4, 16, "0.192"),
	vmPrice("r5.xlarge", "r5", 4, 32, "0.252"),
	vmPrice("c5.2xlarge", "c5", 8, 16, "0.34"),
	vmPrice("m5.2xlarge", "m5", 8, 32, "0.384"),
	vmPrice("g4dn.xlarge", "g4dn", 4, 16, "0.526", func(p *domain.Price) { p.GPUs = 1 }),
	vmPrice("g4dn.2xlarge", "g4dn", 8, 32, "0.752", func(p *domain.Price) { p.GPUs = 1 }),
	otherPrice(domain.KindDisk, "gp3", domain.UnitGiBMonth, "0.08"),
	otherPrice(domain.KindSnapshot, "standard", domain.UnitGiBMonth, "0.05"),
	otherPrice(domain.KindIP, "public-ipv4", domain.UnitHour, "0.005"),
}

var (
	now       = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	windowEnd = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	optIn     = map[string]string{"cloudtrim-optin": "true"}
)

func ref() domain.SnapshotRef {
	return domain.SnapshotRef{Cloud: domain.AWS, RunID: "run-aws-1", Manifest: "aws/run-aws-1/manifest.json", Checksum: "sha256:00", At: windowEnd}
}

func vm(id, sku string, tags map[string]string) domain.Resource {
	return domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: region, Kind: domain.KindVM, ID: id, Name: "name-" + id,
		SKU: sku, State: domain.StateRunning, Tags: tags, CreatedAt: now.AddDate(-1, 0, 0)}
}

func with(tags map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// hourly returns an hourly series of n points ending at windowEnd whose
// value at point i is f(i).
func hourly(id string, metric domain.Metric, n int, f func(i int) float32) domain.Series {
	s := domain.Series{ResourceID: id, Metric: metric, Start: windowEnd.Add(-time.Duration(n) * time.Hour), Step: time.Hour, Values: make([]float32, n)}
	for i := range s.Values {
		s.Values[i] = f(i)
	}
	return s
}

func flat(v float32) func(int) float32 { return func(int) float32 { return v } }

// wave is a daily cycle between lo and hi.
func wave(lo, hi float32) func(int) float32 {
	return func(i int) float32 {
		x := (1 - math.Cos(2*math.Pi*float64(i%24)/24)) / 2
		return lo + float32(x)*(hi-lo)
	}
}

// hourlyRows returns n hourly usage rows for id ending at windowEnd, each
// costing effective and list.
func hourlyRows(id string, n int, effective, list string) []domain.CostRow {
	e, _ := domain.ParseMoney(effective, "USD")
	l, _ := domain.ParseMoney(list, "USD")
	rows := make([]domain.CostRow, n)
	for i := range rows {
		start := windowEnd.Add(-time.Duration(n-i) * time.Hour)
		rows[i] = domain.CostRow{ChargeCategory: domain.ChargeUsage, BillingCurrency: "USD", ResourceID: id,
			ChargePeriodStart: start, ChargePeriodEnd: start.Add(time.Hour), EffectiveCost: e, ListCost: l, BilledCost: e, XCloud: domain.AWS}
	}
	return rows
}

func usd(s string) domain.Money {
	m, err := domain.ParseMoney(s, "USD")
	if err != nil {
		panic(err)
	}
	return m
}
