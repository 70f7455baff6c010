// Package lakestest is the conformance suite of the lake: one set of
// tests that every backend (mem://, file://, and the S3, GCS and Azure
// emulators) must pass, plus the sample data and helpers the lake's own
// failure tests share.
package lakestest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// T0 is the end of the sample window.
var T0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// Dataset is what one collector run writes.
type Dataset struct {
	Cloud     domain.Cloud
	Window    lake.Window
	Resources []domain.Resource
	Series    map[string][]domain.Series // by account
	Costs     []domain.CostRow
	Scopes    []lake.ScopeStatus
}

// Sample returns a small dataset of n resources over two accounts with
// every awkward value the tables must keep: tags and no tags, an
// incomplete resource, a zero creation time, series with NaN gaps, and
// cost rows whose amounts need all six decimals. seed varies the values.
func Sample(cloud domain.Cloud, n int, seed int) Dataset {
	ds := Dataset{Cloud: cloud, Window: lake.Window{Start: T0.Add(-48 * time.Hour), End: T0}, Series: map[string][]domain.Series{}}
	accounts := []string{"111111111111", "222222222222"}
	for i := 0; i < n; i++ {
		acct := accounts[i%len(accounts)]
		r := domain.Resource{
			Cloud: cloud, Account: acct, Region: "eu-west-1", Kind: domain.KindVM,
			ID: fmt.Sprintf("vm-%d-%04d", seed, i), Name: fmt.Sprintf("web %d", i), SKU: "m5.large",
			State: domain.StateRunning, CreatedAt: T0.Add(-time.Duration(i+1) * 36 * time.Hour).Add(123456 * time.Microsecond),
		}
		switch i % 4 {
		case 0:
			r.Tags = map[string]string{"team": "payments", "env": "prod", "cloudtrim:opt-in": "true"}
		case 1:
			r.Kind, r.SKU, r.State, r.SizeGiB, r.AttachedTo = domain.KindDisk, "gp3", domain.StateInUse, 500, fmt.Sprintf("vm-%d-%04d", seed, i-1)
		case 2:
			r.Incomplete = "tags: AccessDenied"
			r.CreatedAt = time.Time{}
		}
		ds.Resources = append(ds.Resources, r)
		if r.Kind != domain.KindVM {
			continue
		}
		for _, m := range []domain.Metric{domain.MetricCPU, domain.MetricMemory} {
			s := domain.Series{ResourceID: r.ID, Metric: m, Start: ds.Window.Start, Step: time.Hour, Values: make([]float32, 48)}
			for j := range s.Values {
				switch {
				case (i+j)%11 == 0:
					s.Values[j] = domain.Missing
				default:
					s.Values[j] = float32(math.Round(float64((i*7+j*13+seed)%10000)) / 100)
				}
			}
			ds.Series[acct] = append(ds.Series[acct], s)
		}
	}
	for i := 0; i < n; i++ {
		acct := accounts[i%len(accounts)]
		day := ds.Window.Start.Add(time.Duration(i%2) * 24 * time.Hour)
		amount := int64(1_234_567 + 1_000_003*i + seed) // $1.234567 + ...: every micro matters
		ds.Costs = append(ds.Costs, domain.CostRow{
			BillingAccountID: "999999999999", SubAccountID: acct, SubAccountName: "acct " + acct, ProviderName: "AWS",
			BillingPeriodStart: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), BillingPeriodEnd: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			ChargePeriodStart: day, ChargePeriodEnd: day.Add(24 * time.Hour),
			ChargeCategory: domain.ChargeUsage, BillingCurrency: "USD",
			BilledCost: domain.USD(amount), EffectiveCost: domain.USD(amount - 17), ListCost: domain.USD(amount + 1),
			ContractedCost: domain.USD(amount), ListUnitPrice: domain.USD(96_000), ContractedUnitPrice: domain.USD(-1),
			PricingQuantity: 24, PricingUnit: "Hours", ConsumedQuantity: 24.5, ConsumedUnit: "Hours",
			ResourceID: fmt.Sprintf("vm-%d-%04d", seed, i), RegionID: "eu-west-1", ServiceName: "Amazon EC2",
			Tags: map[string]string{"team": "payments"}, XCloud: cloud, XSourceFormat: "cur2",
		})
	}
	ds.Scopes = []lake.ScopeStatus{
		{Account: accounts[0], Region: "eu-west-1", Status: lake.ScopeOK, Resources: (n + 1) / 2},
		{Account: accounts[1], Region: "eu-west-1", Status: lake.ScopePartial, Error: "throttled", Resources: n / 2},
	}
	return ds
}

// SmallParts makes a writer cut part files every few rows, so that a
// small dataset still spans several files per partition.
func SmallParts(w *lake.SnapshotWriter) {
	w.ResourcesPerPart, w.SeriesPerPart, w.CostRowsPerPart = 7, 5, 9
}

// Write writes ds as run runID the way a collector does (resources,
// then series per account, then cost rows, in pages) and commits it.
// It stops at the first error, as a collector does.
func Write(ctx context.Context, l *lake.Lake, ds Dataset, runID string, setup func(*lake.SnapshotWriter)) (lake.Manifest, error) {
	w := l.BeginSnapshot(ds.Cloud, runID, ds.Window, T0)
	w.Collector = "lakestest"
	if setup != nil {
		setup(w)
	}
	for i := 0; i < len(ds.Resources); i += 10 {
		if err := w.WriteResources(ctx, ds.Resources[i:min(i+10, len(ds.Resources))]); err != nil {
			return lake.Manifest{}, err
		}
	}
	for _, acct := range sortedKeys(ds.Series) {
		ss := ds.Series[acct]
		for i := 0; i < len(ss); i += 6 {
			if err := w.WriteSeries(ctx, acct, ss[i:min(i+6, len(ss))]); err != nil {
				return lake.Manifest{}, err
			}
		}
	}
	for i := 0; i < len(ds.Costs); i += 8 {
		if err := w.WriteCostRows(ctx, ds.Costs[i:min(i+8, len(ds.Costs))]); err != nil {
			return lake.Manifest{}, err
		}
	}
	for _, s := range ds.Scopes {
		w.RecordScope(s)
	}
	return w.Commit(ctx)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// ReadAll reads every table of a snapshot.
func ReadAll(ctx context.Context, s *lake.Snapshot) (Dataset, error) {
	m := s.Manifest()
	ds := Dataset{Cloud: m.Cloud, Window: m.Window, Series: map[string][]domain.Series{}, Scopes: m.Scopes}
	if err := s.Resources(ctx, func(r domain.Resource) error { ds.Resources = append(ds.Resources, r); return nil }); err != nil {
		return ds, err
	}
	// Series carry no account; file them under the account of their resource.
	acct := map[string]string{}
	for _, r := range ds.Resources {
		acct[r.ID] = r.Account
	}
	if err := s.Series(ctx, func(x domain.Series) error {
		ds.Series[acct[x.ResourceID]] = append(ds.Series[acct[x.ResourceID]], x)
		return nil
	}); err != nil {
		return ds, err
	}
	if err := s.CostRows(ctx, func(c domain.CostRow) error { ds.Costs = append(ds.Costs, c); return nil }); err != nil {
		return ds, err
	}
	return ds, nil
}

// DatasetDiff compares what was written with what was read back, in any
// row order, treating NaN as equal to NaN and nil maps as empty ones.
// Amounts read back in their row's billing currency, so want's are set
// to it before comparing.
func DatasetDiff(want, got Dataset) string {
	want.Costs = append([]domain.CostRow(nil), want.Costs...)
	for i := range want.Costs {
		c := &want.Costs[i]
		for _, m := range []*domain.Money{&c.BilledCost, &c.EffectiveCost, &c.ListCost, &c.ContractedCost, &c.ListUnitPrice, &c.ContractedUnitPrice} {
			m.Currency = c.BillingCurrency
		}
	}
	opts := cmp.Options{
		cmpopts.EquateNaNs(),
		cmpopts.EquateEmpty(),
		cmpopts.SortSlices(func(a, b domain.Resource) bool { return a.ID < b.ID }),
		cmpopts.SortSlices(func(a, b domain.Series) bool {
			return a.ResourceID+string(a.Metric) < b.ResourceID+string(b.Metric)
		}),
		cmpopts.SortSlices(func(a, b domain.CostRow) bool { return a.ResourceID < b.ResourceID }),
	}
	return cmp.Diff(want, got, opts)
}

// RunConformance runs the lake's conformance suite. open must return a
// new, empty lake on every call; the suite closes it.
func RunConformance(t *testing.T, open func(t *testing.T) *lake.Lake) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, l *lake.Lake)
	}{
		{"Raw", testRaw},
		{"NotFound", testNotFound},
		{"IfNotExist", testIfNotExist},
		{"ConcurrentPointerMoves", testConcurrentPointer},
		{"StalePointerMove", testStalePointer},
		{"ConcurrentTransition", testConcurrentTransition},
		{"Transitions", testTransitions},
		{"SnapshotRoundTrip", testSnapshotRoundTrip},
		{"UncommittedInvisible", testUncommitted},
		{"LatestTracksNewest", testLatest},
		{"CommitTwice", testCommitTwice},
		{"Plans", testPlans},
		{"DecisionsNoncesAudit", testDecisionsNoncesAudit},
		{"BadManifest", testBadManifest},
		{"CorruptTableFile", testCorruptFile},
		{"BadPlan", testBadPlan},
		{"InvalidKeys", testInvalidKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := open(t)
			t.Cleanup(func() {
				if err := l.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			tc.fn(t, l)
		})
	}
}

func wantKind(t *testing.T, op string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s = %v; want %v", op, err, kind)
	}
}

func must(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v; want no error", op, err)
	}
}

func testRaw(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	for _, k := range []string{"flags/b", "flags/a", "flags/sub/c", "other/x"} {
		must(t, "Put("+k+")", l.Put(ctx, k, []byte("v:"+k), false))
	}
	got, err := l.Get(ctx, "flags/a")
	must(t, "Get(flags/a)", err)
	if string(got) != "v:flags/a" {
		t.Errorf("Get(flags/a) = %q; want %q", got, "v:flags/a")
	}
	keys, err := l.List(ctx, "flags/")
	must(t, "List(flags/)", err)
	if diff := cmp.Diff([]string{"flags/a", "flags/b", "flags/sub/c"}, keys); diff != "" {
		t.Errorf("List(flags/) mismatch (-want +got):\n%s", diff)
	}
	must(t, "Put(flags/a) overwrite", l.Put(ctx, "flags/a", []byte("new"), false))
	if got, _ := l.Get(ctx, "flags/a"); string(got) != "new" {
		t.Errorf("Get(flags/a) after overwrite = %q; want %q", got, "new")
	}
	must(t, "Delete(flags/a)", l.Delete(ctx, "flags/a"))
	_, err = l.Get(ctx, "flags/a")
	wantKind(t, "Get(deleted)", err, domain.ErrNotFound)
	if keys, _ := l.List(ctx, "nothing/"); len(keys) != 0 {
		t.Errorf("List(nothing/) = %v; want none", keys)
	}
}

func testNotFound(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	_, err := l.Get(ctx, "no/such/key")
	wantKind(t, "Get(missing)", err, domain.ErrNotFound)
	_, err = l.ReadPointer(ctx, "flags/none")
	wantKind(t, "ReadPointer(missing)", err, domain.ErrNotFound)
	_, err = l.LatestSnapshot(ctx, domain.AWS)
	wantKind(t, "LatestSnapshot(empty lake)", err, domain.ErrNotFound)
	_, err = l.OpenSnapshot(ctx, domain.AWS, "20261123T080000Z-00000000")
	wantKind(t, "OpenSnapshot(missing)", err, domain.ErrNotFound)
	_, err = l.GetPlan(ctx, "plan-none")
	wantKind(t, "GetPlan(missing)", err, domain.ErrNotFound)
	_, err = l.ActionState(ctx, "plan-none", "act-none")
	wantKind(t, "ActionState(missing)", err, domain.ErrNotFound)
	ms, err := l.ListSnapshots(ctx, domain.GCP)
	must(t, "ListSnapshots(empty)", err)
	if len(ms) != 0 {
		t.Errorf("ListSnapshots(empty) = %d manifests; want 0", len(ms))
	}
	ds, err := l.Decisions(ctx, "plan-none")
	must(t, "Decisions(none)", err)
	if len(ds) != 0 {
		t.Errorf("Decisions(none) = %v; want none", ds)
	}
}

func testIfNotExist(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	must(t, "Put(ifNotExist) first", l.Put(ctx, "locks/one", []byte("first"), true))
	err := l.Put(ctx, "locks/one", []byte("second"), true)
	wantKind(t, "Put(ifNotExist) second", err, domain.ErrConflict)
	if got, _ := l.Get(ctx, "locks/one"); string(got) != "first" {
		t.Errorf("Get after lost IfNotExist = %q; want %q", got, "first")
	}
	// Many writers racing for one key: exactly one wins.
	const n = 16
	var wins, conflicts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.Put(ctx, "locks/race", []byte(fmt.Sprint(i)), true)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, domain.ErrConflict):
				conflicts++
			default:
				t.Errorf("Put(locks/race) = %v; want nil or ErrConflict", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != n-1 {
		t.Errorf("racing IfNotExist writes: %d won, %d conflicted; want 1 and %d", wins, conflicts, n-1)
	}
}

func testConcurrentPointer(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	const (
		writers = 6
		moves   = 5 // successful moves per writer
		name    = "flags/concurrent"
	)
	var mu sync.Mutex
	won := map[int64]string{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < moves; {
				cur, err := l.ReadPointer(ctx, name)
				if err != nil && !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("ReadPointer = %v", err)
					return
				}
				target := fmt.Sprintf("w%d-%d", w, done)
				p, err := l.MovePointer(ctx, name, cur.Seq, target, T0)
				if errors.Is(err, domain.ErrConflict) {
					continue
				}
				if err != nil {
					t.Errorf("MovePointer = %v", err)
					return
				}
				mu.Lock()
				if prev, dup := won[p.Seq]; dup {
					t.Errorf("seq %d won twice: by %s and %s", p.Seq, prev, target)
				}
				won[p.Seq] = target
				mu.Unlock()
				done++
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for s := int64(1); s <= writers*moves; s++ {
		if _, ok := won[s]; !ok {
			t.Errorf("seq %d has no winner; wins %v", s, won)
		}
	}
	p, err := l.ReadPointer(ctx, name)
	must(t, "ReadPointer after race", err)
	if p.Seq != writers*moves || p.Target != won[p.Seq] {
		t.Errorf("ReadPointer = seq %d → %s; want seq %d → %s", p.Seq, p.Target, writers*moves, won[writers*moves])
	}
}

func testStalePointer(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	name := "flags/stale"
	p, err := l.MovePointer(ctx, name, 0, "a", T0)
	must(t, "MovePointer(0)", err)
	_, err = l.MovePointer(ctx, name, 0, "b", T0)
	wantKind(t, "MovePointer(0) again", err, domain.ErrConflict)
	for i := 0; i < lake.PointerKeep+3; i++ {
		p, err = l.MovePointer(ctx, name, p.Seq, fmt.Sprint(i), T0)
		must(t, "MovePointer", err)
	}
	// A writer that read seq 1 long ago must not win against a pruned slot.
	_, err = l.MovePointer(ctx, name, 1, "stale", T0)
	wantKind(t, "MovePointer(from pruned seq)", err, domain.ErrConflict)
	got, err := l.ReadPointer(ctx, name)
	must(t, "ReadPointer", err)
	if got.Seq != p.Seq || got.Target != p.Target {
		t.Errorf("ReadPointer = %d → %s; want %d → %s", got.Seq, got.Target, p.Seq, p.Target)
	}
}

func state(status domain.ActionStatus, worker string) domain.ActionState {
	return domain.ActionState{Version: domain.ActionStateVersion, PlanID: "plan-1", ActionID: "act-1", Status: status, Worker: worker, At: T0}
}

func testConcurrentTransition(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	first, err := l.Transition(ctx, nil, state(domain.StatusQueued, ""))
	must(t, "Transition(nil)", err)
	if first.Seq != 1 {
		t.Fatalf("Transition(nil).Seq = %d; want 1", first.Seq)
	}
	const n = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("worker-%d", i)
			st, err := l.Transition(ctx, &first, state(domain.StatusApplying, worker))
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, worker)
				mu.Unlock()
				if st.Seq != 2 {
					t.Errorf("winning Transition.Seq = %d; want 2", st.Seq)
				}
			case !errors.Is(err, domain.ErrConflict):
				t.Errorf("Transition = %v; want nil or ErrConflict", err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d transitions from the same state won (%v); want exactly 1", len(winners), winners)
	}
	got, err := l.ActionState(ctx, "plan-1", "act-1")
	must(t, "ActionState", err)
	if got.Seq != 2 || got.Worker != winners[0] || got.Status != domain.StatusApplying {
		t.Errorf("ActionState = seq %d %s by %s; want seq 2 applying by %s", got.Seq, got.Status, got.Worker, winners[0])
	}
}

func testTransitions(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	s1, err := l.Transition(ctx, nil, state(domain.StatusQueued, ""))
	must(t, "Transition(nil)", err)
	_, err = l.Transition(ctx, nil, state(domain.StatusQueued, ""))
	wantKind(t, "second Transition(nil)", err, domain.ErrConflict)
	s2, err := l.Transition(ctx, &s1, state(domain.StatusApplying, "w"))
	must(t, "Transition(s1)", err)
	s3, err := l.Transition(ctx, &s2, state(domain.StatusApplied, "w"))
	must(t, "Transition(s2)", err)
	_, err = l.Transition(ctx, &s1, state(domain.StatusFailed, "late"))
	wantKind(t, "Transition(stale s1)", err, domain.ErrConflict)
	ghost := s3
	ghost.Seq = 9
	_, err = l.Transition(ctx, &ghost, state(domain.StatusFailed, "ghost"))
	wantKind(t, "Transition(prev never stored)", err, domain.ErrConflict)
	other := state(domain.StatusQueued, "")
	other.ActionID = "act-2"
	_, err = l.Transition(ctx, nil, other)
	must(t, "Transition(act-2)", err)
	all, err := l.ActionStates(ctx, "plan-1")
	must(t, "ActionStates", err)
	if len(all) != 2 || all["act-1"].Seq != 3 || all["act-1"].Status != domain.StatusApplied || all["act-2"].Seq != 1 {
		t.Errorf("ActionStates = %+v; want act-1 at seq 3 applied, act-2 at seq 1", all)
	}
}

func testSnapshotRoundTrip(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	ds := Sample(domain.AWS, 40, 1)
	runID := "20261123T080000Z-aaaaaaaa"
	m, err := Write(ctx, l, ds, runID, SmallParts)
	must(t, "Write+Commit", err)
	if m.Version != lake.SnapshotVersion || m.Cloud != domain.AWS || m.RunID != runID || m.Collector != "lakestest" {
		t.Errorf("manifest header = %s %s %s %q", m.Version, m.Cloud, m.RunID, m.Collector)
	}
	series := 0
	for _, ss := range ds.Series {
		series += len(ss)
	}
	wantRows := map[string]int64{lake.TableResources: 40, lake.TableUtilization: int64(series), lake.TableCosts: 40}
	for table, rows := range wantRows {
		if ti := m.Tables[table]; ti.Rows != rows || ti.Files < 2 {
			t.Errorf("manifest table %s = %+v; want %d rows in several files", table, ti, rows)
		}
	}
	for _, f := range m.Files {
		want := fmt.Sprintf("snapshots/cloud=aws/run=%s/%s/account=%s/date=%s/part-", runID, f.Table, f.Account, f.Date)
		if !strings.HasPrefix(f.Path, want) || !strings.HasSuffix(f.Path, ".parquet") {
			t.Errorf("file path %s; want %s<5 digits>.parquet", f.Path, want)
		}
	}
	s, err := l.LatestSnapshot(ctx, domain.AWS)
	must(t, "LatestSnapshot", err)
	if s.Manifest().RunID != runID {
		t.Fatalf("LatestSnapshot run = %s; want %s", s.Manifest().RunID, runID)
	}
	if !strings.HasPrefix(s.Checksum(), "sha256:") || s.Key() != lake.ManifestKey(domain.AWS, runID) {
		t.Errorf("snapshot key %s checksum %s", s.Key(), s.Checksum())
	}
	got, err := ReadAll(ctx, s)
	must(t, "ReadAll", err)
	if diff := DatasetDiff(ds, got); diff != "" {
		t.Errorf("snapshot round trip mismatch (-want +got):\n%s", diff)
	}
	// The pricing projection gives the same rows with only its columns.
	var usage []domain.CostRow
	must(t, "CostUsage", s.CostUsage(ctx, func(c domain.CostRow) error { usage = append(usage, c); return nil }))
	if len(usage) != len(got.Costs) {
		t.Fatalf("CostUsage gave %d rows; CostRows %d", len(usage), len(got.Costs))
	}
	for i, full := range got.Costs {
		want := domain.CostRow{BillingAccountID: full.BillingAccountID, SubAccountID: full.SubAccountID,
			ChargePeriodStart: full.ChargePeriodStart, ChargePeriodEnd: full.ChargePeriodEnd, ChargeCategory: full.ChargeCategory,
			BillingCurrency: full.BillingCurrency, BilledCost: full.BilledCost, EffectiveCost: full.EffectiveCost,
			ListCost: full.ListCost, ContractedCost: full.ContractedCost, ResourceID: full.ResourceID,
			RegionID: full.RegionID, ServiceName: full.ServiceName, XCloud: full.XCloud}
		if diff := cmp.Diff(want, usage[i]); diff != "" {
			t.Fatalf("CostUsage row %d (-want +got):\n%s", i, diff)
		}
	}
	// Gaps stay gaps, never zeros.
	gaps := 0
	for _, ss := range got.Series {
		for _, x := range ss {
			for _, v := range x.Values {
				if domain.IsMissing(v) {
					gaps++
				}
			}
		}
	}
	if gaps == 0 {
		t.Errorf("no NaN gap survived the round trip")
	}
	// A caller's error comes back as it is.
	stop := errors.New("stop")
	if err := s.Resources(ctx, func(domain.Resource) error { return stop }); err != stop {
		t.Errorf("Resources(fn returning stop) = %v; want stop itself", err)
	}
}

func testUncommitted(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	_, err := Write(ctx, l, Sample(domain.Azure, 10, 1), "20261123T080000Z-00000001", nil)
	must(t, "commit first", err)
	ds := Sample(domain.Azure, 30, 2)
	w := l.BeginSnapshot(domain.Azure, "20261123T090000Z-00000002", ds.Window, T0)
	SmallParts(w)
	must(t, "WriteResources", w.WriteResources(ctx, ds.Resources))
	must(t, "WriteCostRows", w.WriteCostRows(ctx, ds.Costs))
	// No Commit: the run does not exist for readers.
	_, err = l.OpenSnapshot(ctx, domain.Azure, "20261123T090000Z-00000002")
	wantKind(t, "OpenSnapshot(uncommitted)", err, domain.ErrNotFound)
	ms, err := l.ListSnapshots(ctx, domain.Azure)
	must(t, "ListSnapshots", err)
	if len(ms) != 1 || ms[0].RunID != "20261123T080000Z-00000001" {
		t.Errorf("ListSnapshots = %d runs; want only the committed one", len(ms))
	}
	s, err := l.LatestSnapshot(ctx, domain.Azure)
	must(t, "LatestSnapshot", err)
	if s.Manifest().RunID != "20261123T080000Z-00000001" {
		t.Errorf("LatestSnapshot = %s; want the committed run", s.Manifest().RunID)
	}
}

func testLatest(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	runs := []string{"20261121T080000Z-00000001", "20261122T080000Z-00000002", "20261123T080000Z-00000003"}
	for i, run := range runs {
		_, err := Write(ctx, l, Sample(domain.GCP, 6, i), run, nil)
		must(t, "commit "+run, err)
		s, err := l.LatestSnapshot(ctx, domain.GCP)
		must(t, "LatestSnapshot", err)
		if s.Manifest().RunID != run {
			t.Errorf("after committing %s LatestSnapshot = %s", run, s.Manifest().RunID)
		}
	}
	// A slow run that started before the latest one commits last: it is
	// listed but does not become latest.
	_, err := Write(ctx, l, Sample(domain.GCP, 6, 9), "20261122T120000Z-00000009", nil)
	must(t, "commit late run", err)
	s, err := l.LatestSnapshot(ctx, domain.GCP)
	must(t, "LatestSnapshot", err)
	if s.Manifest().RunID != runs[2] {
		t.Errorf("LatestSnapshot after a late older commit = %s; want %s", s.Manifest().RunID, runs[2])
	}
	ms, err := l.ListSnapshots(ctx, domain.GCP)
	must(t, "ListSnapshots", err)
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.RunID)
	}
	want := []string{runs[0], runs[1], "20261122T120000Z-00000009", runs[2]}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("ListSnapshots mismatch (-want +got):\n%s", diff)
	}
	// Two runs started at the same instant (a fixed clock, or the same
	// millisecond): the later commit wins, whatever the random suffix.
	for _, run := range []string{"20261124T080000Z-ffffffff", "20261124T080000Z-00000000"} {
		_, err = Write(ctx, l, Sample(domain.GCP, 6, 3), run, nil)
		must(t, "commit "+run, err)
		s, err = l.LatestSnapshot(ctx, domain.GCP)
		must(t, "LatestSnapshot", err)
		if s.Manifest().RunID != run {
			t.Errorf("after committing %s (same start time as the latest) LatestSnapshot = %s", run, s.Manifest().RunID)
		}
	}
	// Other clouds are untouched.
	_, err = l.LatestSnapshot(ctx, domain.AWS)
	wantKind(t, "LatestSnapshot(aws)", err, domain.ErrNotFound)
}

func testCommitTwice(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	ds := Sample(domain.AWS, 4, 1)
	_, err := Write(ctx, l, ds, "20261123T080000Z-0000000a", nil)
	must(t, "first commit", err)
	_, err = Write(ctx, l, ds, "20261123T080000Z-0000000a", nil)
	wantKind(t, "second commit of the same run", err, domain.ErrConflict)
	w := l.BeginSnapshot(domain.AWS, "20261123T080000Z-0000000b", ds.Window, T0)
	_, err = w.Commit(ctx)
	must(t, "commit of an empty run", err)
	_, err = w.Commit(ctx)
	wantKind(t, "Commit twice on one writer", err, domain.ErrConflict)
	err = w.WriteResources(ctx, ds.Resources)
	if err == nil {
		t.Errorf("WriteResources after Commit = nil; want an error")
	}
	bad := l.BeginSnapshot("moon", "r", ds.Window, T0)
	wantKind(t, "WriteResources(unknown cloud)", bad.WriteResources(ctx, ds.Resources), domain.ErrInvalid)
	w = l.BeginSnapshot(domain.GCP, "20261123T080000Z-0000000c", ds.Window, T0)
	wantKind(t, "WriteResources(resources of another cloud)", w.WriteResources(ctx, ds.Resources), domain.ErrInvalid)
}

func samplePlan(id string) domain.Plan {
	ref := domain.ResourceRef{Cloud: domain.AWS, Account: "111111111111", Region: "eu-west-1", Kind: domain.KindVM, ID: "i-1"}
	a := domain.Action{ID: domain.ActionID(domain.ActionStop, ref), PlanID: id, Kind: domain.ActionStop, Target: ref,
		MonthlySavings: domain.USD(12_345_678), SavingsBasis: domain.BasisEffectiveCost, Risk: domain.RiskLow}
	return domain.Plan{Version: domain.PlanVersion, ID: id, CreatedAt: T0, Currency: "USD", Actions: []domain.Action{a}}
}

func testPlans(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	ids := []string{"plan-20261123T090000Z-00000002", "plan-20261122T090000Z-00000001"}
	for _, id := range ids {
		must(t, "PutPlan("+id+")", l.PutPlan(ctx, samplePlan(id)))
	}
	wantKind(t, "PutPlan(duplicate)", l.PutPlan(ctx, samplePlan(ids[0])), domain.ErrConflict)
	bad := samplePlan("plan-bad")
	bad.Version = "cloudtrim.plan/v0"
	wantKind(t, "PutPlan(unknown version)", l.PutPlan(ctx, bad), domain.ErrUnsupported)
	got, err := l.GetPlan(ctx, ids[0])
	must(t, "GetPlan", err)
	if diff := cmp.Diff(samplePlan(ids[0]), got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetPlan mismatch (-want +got):\n%s", diff)
	}
	must(t, "PutArtifact", l.PutArtifact(ctx, ids[0], "report.md", []byte("# Report\n")))
	must(t, "PutArtifact again", l.PutArtifact(ctx, ids[0], "report.md", []byte("# Report v2\n")))
	if b, err := l.GetArtifact(ctx, ids[0], "report.md"); err != nil || string(b) != "# Report v2\n" {
		t.Errorf("GetArtifact = %q, %v; want the second report", b, err)
	}
	wantKind(t, "PutArtifact(plan.json)", l.PutArtifact(ctx, ids[0], "plan.json", []byte("{}")), domain.ErrInvalid)
	list, err := l.ListPlans(ctx)
	must(t, "ListPlans", err)
	if diff := cmp.Diff([]string{ids[1], ids[0]}, list); diff != "" {
		t.Errorf("ListPlans mismatch (-want +got):\n%s", diff)
	}
}

func testDecisionsNoncesAudit(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	d := domain.Decision{ID: "dec-2", PlanID: "plan-1", ActionID: "act-1", ActionHash: "sha256:x", Verdict: domain.Approved, Approver: "ana", At: T0.Add(time.Minute)}
	must(t, "PutDecision", l.PutDecision(ctx, d))
	wantKind(t, "PutDecision(same ID)", l.PutDecision(ctx, d), domain.ErrConflict)
	d1 := d
	d1.ID, d1.At, d1.ActionID = "dec-1", T0, "act-2"
	must(t, "PutDecision(dec-1)", l.PutDecision(ctx, d1))
	ds, err := l.Decisions(ctx, "plan-1")
	must(t, "Decisions", err)
	if len(ds) != 2 || ds[0].ID != "dec-1" || ds[1].ID != "dec-2" || ds[1].Version != domain.DecisionVersion {
		t.Errorf("Decisions = %+v; want dec-1 then dec-2 with the version set", ds)
	}

	must(t, "ClaimNonce", l.ClaimNonce(ctx, "slack", "sha256:abc", T0))
	wantKind(t, "ClaimNonce(replay)", l.ClaimNonce(ctx, "slack", "sha256:abc", T0), domain.ErrConflict)
	must(t, "ClaimNonce(other scope)", l.ClaimNonce(ctx, "links", "sha256:abc", T0))

	times := []time.Time{T0.Add(26 * time.Hour), T0, T0.Add(time.Nanosecond), T0.Add(-time.Hour)}
	for i, at := range times {
		ev := domain.AuditEvent{At: at.In(time.FixedZone("CET", 3600)), Type: domain.AuditDecision, Actor: "ana", PlanID: "plan-1", ActionID: fmt.Sprintf("act-%d", i)}
		must(t, "AppendAudit", l.AppendAudit(ctx, ev))
	}
	evs, err := l.Audit(ctx, T0, T0.Add(48*time.Hour))
	must(t, "Audit", err)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.ActionID)
		if ev.ID == "" || ev.Version != domain.AuditVersion {
			t.Errorf("audit event %+v: want an ID and version set", ev)
		}
	}
	if diff := cmp.Diff([]string{"act-1", "act-2", "act-0"}, got); diff != "" {
		t.Errorf("Audit(T0, T0+48h) order mismatch (-want +got):\n%s", diff)
	}
	all, err := l.Audit(ctx, time.Time{}, time.Time{})
	must(t, "Audit(open range)", err)
	if len(all) != len(times) {
		t.Errorf("Audit(open range) = %d events; want %d", len(all), len(times))
	}
}

func testBadManifest(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	ds := Sample(domain.AWS, 4, 1)
	run := "20261123T080000Z-000000ff"
	_, err := Write(ctx, l, ds, run, nil)
	must(t, "commit", err)
	key := lake.ManifestKey(domain.AWS, run)
	orig, err := l.Get(ctx, key)
	must(t, "Get(manifest)", err)

	v99 := bytes.Replace(orig, []byte(lake.SnapshotVersion), []byte("cloudtrim.snapshot/v99"), 1)
	must(t, "Put(v99 manifest)", l.Put(ctx, key, v99, false))
	_, err = l.OpenSnapshot(ctx, domain.AWS, run)
	wantKind(t, "OpenSnapshot(v99)", err, domain.ErrUnsupported)
	if !strings.Contains(err.Error(), "cloudtrim.snapshot/v99") {
		t.Errorf("OpenSnapshot(v99) = %q; want the version named", err)
	}
	_, err = l.LatestSnapshot(ctx, domain.AWS)
	wantKind(t, "LatestSnapshot(v99)", err, domain.ErrUnsupported)

	schema := bytes.Replace(orig, []byte(lake.CostsSchema), []byte("cloudtrim.costs/v7"), 1)
	must(t, "Put(costs/v7 manifest)", l.Put(ctx, key, schema, false))
	_, err = l.OpenSnapshot(ctx, domain.AWS, run)
	wantKind(t, "OpenSnapshot(costs/v7)", err, domain.ErrUnsupported)
	if !strings.Contains(err.Error(), "cloudtrim.costs/v7") {
		t.Errorf("OpenSnapshot(costs/v7) = %q; want the schema version named", err)
	}

	must(t, "Put(garbage manifest)", l.Put(ctx, key, []byte("{not json"), false))
	_, err = l.OpenSnapshot(ctx, domain.AWS, run)
	wantKind(t, "OpenSnapshot(garbage)", err, domain.ErrInvalid)
	if !strings.Contains(err.Error(), key) {
		t.Errorf("OpenSnapshot(garbage) = %q; want the key %s named", err, key)
	}
	_, err = l.ListSnapshots(ctx, domain.AWS)
	wantKind(t, "ListSnapshots(garbage)", err, domain.ErrInvalid)

	must(t, "Delete(manifest)", l.Delete(ctx, key))
	_, err = l.OpenSnapshot(ctx, domain.AWS, run)
	wantKind(t, "OpenSnapshot(manifest missing)", err, domain.ErrNotFound)
}

func testCorruptFile(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	run := "20261123T080000Z-0000c0de"
	m, err := Write(ctx, l, Sample(domain.AWS, 20, 1), run, SmallParts)
	must(t, "commit", err)
	var part string
	for _, f := range m.Files {
		if f.Table == lake.TableUtilization {
			part = f.Path
			break
		}
	}
	b, err := l.Get(ctx, part)
	must(t, "Get(part)", err)
	must(t, "Put(truncated part)", l.Put(ctx, part, b[:len(b)/2], false))
	s, err := l.OpenSnapshot(ctx, domain.AWS, run)
	must(t, "OpenSnapshot", err)
	must(t, "Resources (intact table)", s.Resources(ctx, func(domain.Resource) error { return nil }))
	err = s.Series(ctx, func(domain.Series) error { return nil })
	if err == nil || !strings.Contains(err.Error(), part) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("Series(truncated file) = %v; want an error naming %s and the checksum", err, part)
	}
	wantKind(t, "Series(truncated file)", err, domain.ErrInvalid)
	if want := "snapshot aws/" + run + ": file " + part + ": "; !strings.Contains(err.Error(), want) {
		t.Errorf("Series(truncated file) = %q; want it to contain %q", err, want)
	}
	// Same size, one byte flipped.
	flipped := append([]byte(nil), b...)
	flipped[len(flipped)/2] ^= 0xff
	must(t, "Put(flipped part)", l.Put(ctx, part, flipped, false))
	err = s.Series(ctx, func(domain.Series) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("Series(flipped byte) = %v; want a checksum mismatch", err)
	}
	must(t, "Delete(part)", l.Delete(ctx, part))
	err = s.Series(ctx, func(domain.Series) error { return nil })
	wantKind(t, "Series(missing file)", err, domain.ErrNotFound)
}

func testBadPlan(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	key := "plans/plan-x/plan.json"
	must(t, "Put(v9 plan)", l.Put(ctx, key, []byte(`{"version":"cloudtrim.plan/v9","id":"plan-x"}`), false))
	_, err := l.GetPlan(ctx, "plan-x")
	wantKind(t, "GetPlan(v9)", err, domain.ErrUnsupported)
	if !strings.Contains(err.Error(), "cloudtrim.plan/v9") {
		t.Errorf("GetPlan(v9) = %q; want the version named", err)
	}
	must(t, "Put(garbage plan)", l.Put(ctx, key, []byte("\x00garbage"), false))
	_, err = l.GetPlan(ctx, "plan-x")
	wantKind(t, "GetPlan(garbage)", err, domain.ErrInvalid)
	if !strings.Contains(err.Error(), key) {
		t.Errorf("GetPlan(garbage) = %q; want the key named", err)
	}
	must(t, "Put(garbage state)", l.Put(ctx, "states/plan-x/act-1/0000000001.json", []byte("nope"), false))
	_, err = l.ActionState(ctx, "plan-x", "act-1")
	wantKind(t, "ActionState(garbage)", err, domain.ErrInvalid)
	must(t, "Put(garbage decision)", l.Put(ctx, "decisions/plan-x/act-1/d.json", []byte("]"), false))
	_, err = l.Decisions(ctx, "plan-x")
	wantKind(t, "Decisions(garbage)", err, domain.ErrInvalid)
}

func testInvalidKeys(t *testing.T, l *lake.Lake) {
	ctx := context.Background()
	for _, k := range []string{"", "/abs", "a//b", "a/../b", "dir/", "a/\x01"} {
		wantKind(t, fmt.Sprintf("Put(%q)", k), l.Put(ctx, k, nil, false), domain.ErrInvalid)
	}
	wantKind(t, "GetPlan(../x)", func() error { _, err := l.GetPlan(ctx, "../x"); return err }(), domain.ErrInvalid)
	wantKind(t, "ClaimNonce(a/b)", l.ClaimNonce(ctx, "s", "a/b", T0), domain.ErrInvalid)
	_, err := l.Transition(ctx, nil, domain.ActionState{PlanID: "p", ActionID: "x/y"})
	wantKind(t, "Transition(bad action id)", err, domain.ErrInvalid)
}
