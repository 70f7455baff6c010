package lake_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/lake/lakestest"
)

var errInjected = errors.New("injected write failure")

// faultStore fails writes (Put and Delete): only the failAt-th one, or,
// when crash is set, that one and every one after it, as a process that
// died between two writes.
type faultStore struct {
	lake.Store
	mu     sync.Mutex
	writes int
	failAt int // 0: never
	crash  bool
}

func (f *faultStore) fail() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	return f.failAt > 0 && (f.writes == f.failAt || f.crash && f.writes > f.failAt)
}

func (f *faultStore) arm(failAt int, crash bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes, f.failAt, f.crash = 0, failAt, crash
}

func (f *faultStore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

func (f *faultStore) Put(ctx context.Context, key string, data []byte, ifNotExist bool) error {
	if f.fail() {
		return fmt.Errorf("put %s: %w", key, errInjected)
	}
	return f.Store.Put(ctx, key, data, ifNotExist)
}

func (f *faultStore) Delete(ctx context.Context, key string) error {
	if f.fail() {
		return fmt.Errorf("delete %s: %w", key, errInjected)
	}
	return f.Store.Delete(ctx, key)
}

func faultyLake(t *testing.T) (*lake.Lake, *faultStore) {
	t.Helper()
	l, err := lake.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	var fs *faultStore
	l = lake.WrapStore(l, func(s lake.Store) lake.Store { fs = &faultStore{Store: s}; return fs })
	t.Cleanup(func() { _ = l.Close() })
	return l, fs
}

// setup makes part files small and uploads sequential, so the k-th write
// is the same write on every run.
func setup(w *lake.SnapshotWriter) {
	lakestest.SmallParts(w)
	w.Parallelism = 1
}

const (
	run1 = "20261122T080000Z-00000001"
	run2 = "20261123T080000Z-00000002"
	run3 = "20261124T080000Z-00000003"
)

// TestFailureInjection commits snapshot 1, then writes snapshot 2 with
// the k-th write failing (or the process "crashing" at it) for every k
// over the whole run, and checks that the latest snapshot is always a
// complete one, 1 or 2, that reads back in full, and that the next run
// commits and becomes latest.
func TestFailureInjection(t *testing.T) {
	ctx := context.Background()
	ds1 := lakestest.Sample(domain.AWS, 24, 1)
	ds2 := lakestest.Sample(domain.AWS, 30, 2)
	ds3 := lakestest.Sample(domain.AWS, 10, 3)

	// Count the writes of run 2 when nothing fails.
	l, fs := faultyLake(t)
	if _, err := lakestest.Write(ctx, l, ds1, run1, setup); err != nil {
		t.Fatal(err)
	}
	fs.arm(0, false)
	if _, err := lakestest.Write(ctx, l, ds2, run2, setup); err != nil {
		t.Fatal(err)
	}
	writes := fs.count()
	if writes < 10 {
		t.Fatalf("run 2 made only %d writes; the test would prove little", writes)
	}

	for _, crash := range []bool{false, true} {
		for k := 1; k <= writes; k++ {
			t.Run(fmt.Sprintf("crash=%v/write=%d", crash, k), func(t *testing.T) {
				l, fs := faultyLake(t)
				if _, err := lakestest.Write(ctx, l, ds1, run1, setup); err != nil {
					t.Fatal(err)
				}
				fs.arm(k, crash)
				_, commitErr := lakestest.Write(ctx, l, ds2, run2, setup)
				fs.arm(0, false)
				if commitErr != nil && !errors.Is(commitErr, errInjected) {
					t.Fatalf("run 2 = %v; want the injected failure", commitErr)
				}

				s, err := l.LatestSnapshot(ctx, domain.AWS)
				if err != nil {
					t.Fatalf("LatestSnapshot = %v; want snapshot 1 or 2", err)
				}
				want := map[string]lakestest.Dataset{run1: ds1, run2: ds2}[s.Manifest().RunID]
				if commitErr == nil && s.Manifest().RunID != run2 {
					t.Errorf("run 2 committed without error but latest is %s", s.Manifest().RunID)
				}
				got, err := lakestest.ReadAll(ctx, s)
				if err != nil {
					t.Fatalf("read latest snapshot %s: %v", s.Manifest().RunID, err)
				}
				if diff := lakestest.DatasetDiff(want, got); diff != "" {
					t.Fatalf("latest snapshot %s is not what was written (-want +got):\n%s", s.Manifest().RunID, diff)
				}
				// An uncommitted run 2 does not exist for readers.
				if _, err := l.OpenSnapshot(ctx, domain.AWS, run2); err != nil && !errors.Is(err, domain.ErrNotFound) {
					t.Errorf("OpenSnapshot(run 2) = %v; want it committed or not found", err)
				}

				// The next run recovers.
				if _, err := lakestest.Write(ctx, l, ds3, run3, setup); err != nil {
					t.Fatalf("run 3 after the failure = %v", err)
				}
				s, err = l.LatestSnapshot(ctx, domain.AWS)
				if err != nil || s.Manifest().RunID != run3 {
					t.Fatalf("LatestSnapshot after run 3 = %v, %v; want run 3", s, err)
				}
			})
		}
	}
}

// TestPointerPruning checks that old pointer versions are pruned once
// they are old enough, and that a writer whose read predates the pruning
// cannot win.
func TestPointerPruning(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lake.SetPruneAge(l, 0)
	var p lake.Pointer
	for i := 0; i < 3*lake.PointerKeep; i++ {
		p, err = l.MovePointer(ctx, "flags/p", p.Seq, fmt.Sprint(i), lakestest.T0)
		if err != nil {
			t.Fatalf("MovePointer #%d = %v", i, err)
		}
	}
	keys, err := l.List(ctx, "pointers/flags/p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > lake.PointerKeep {
		t.Errorf("%d versions kept; want at most %d", len(keys), lake.PointerKeep)
	}
	for _, from := range []int64{0, 1, 5} {
		if _, err := l.MovePointer(ctx, "flags/p", from, "stale", lakestest.T0); !errors.Is(err, domain.ErrConflict) {
			t.Errorf("MovePointer(from pruned %d) = %v; want ErrConflict", from, err)
		}
	}
	got, err := l.ReadPointer(ctx, "flags/p")
	if err != nil || got.Seq != p.Seq || got.Target != p.Target {
		t.Errorf("ReadPointer = %+v, %v; want seq %d → %s", got, err, p.Seq, p.Target)
	}
}

// TestParquetSchema reads a part file's schema back: money columns are
// INT64 DECIMAL(18,6), times are timestamps, values a list of floats, and
// the file names its schema version.
func TestParquetSchema(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, err := lakestest.Write(ctx, l, lakestest.Sample(domain.AWS, 8, 1), run1, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		lake.TableCosts: {
			"int64 BilledCost (DECIMAL(18,6))", "int64 EffectiveCost (DECIMAL(18,6))", "int64 ListUnitPrice (DECIMAL(18,6))",
			"int64 ChargePeriodStart (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS))", "binary SubAccountId (STRING)",
			"binary x_Cloud (STRING)", "group Tags (MAP)",
		},
		lake.TableResources: {
			"binary resource_id", "optional int64 created_at (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS))", "group tags (MAP)", "binary incomplete (STRING)",
		},
		lake.TableUtilization: {
			"binary resource_id (STRING)", "int64 start (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS))", "int64 step_seconds", "group values (LIST)", "float element",
		},
	}
	want[lake.TableResources][0] = "binary id (STRING)"
	schemas := map[string]lake.TableInfo{}
	for _, f := range m.Files {
		if _, done := schemas[f.Table]; done {
			continue
		}
		schemas[f.Table] = m.Tables[f.Table]
		b, err := l.Get(ctx, f.Path)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("open %s: %v", f.Path, err)
		}
		schema := pf.Schema().String()
		for _, w := range want[f.Table] {
			if !strings.Contains(schema, w) {
				t.Errorf("table %s schema lacks %q:\n%s", f.Table, w, schema)
			}
		}
		if v, _ := pf.Lookup("cloudtrim.schema"); v != m.Tables[f.Table].Schema {
			t.Errorf("table %s file metadata cloudtrim.schema = %q; want %q", f.Table, v, m.Tables[f.Table].Schema)
		}
	}
	if len(schemas) != 3 {
		t.Errorf("checked tables %v; want all three", schemas)
	}
}
