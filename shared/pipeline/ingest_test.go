package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// The real FOCUS 1.0 sample (FinOps Foundation, CC-BY-4.0; see
// shared/focus/testdata/focus/SOURCES.md): 150 AWS, 20 Microsoft and 3
// Oracle rows.
var focusSample = filepath.Join("..", "focus", "testdata", "focus", "focus-1.0-sample-slice.csv")

func newIngestPipeline(t *testing.T) *Pipeline {
	t.Helper()
	l, err := lake.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &Pipeline{Lake: l, Policy: domain.DefaultPolicy(), Now: func() time.Time { return time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC) }}
}

func ingestPaths(t *testing.T, p *Pipeline, paths ...string) (*IngestResult, error) {
	t.Helper()
	src, err := ExpandSources(context.Background(), paths)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return p.Ingest(context.Background(), src, IngestOptions{})
}

// billedInLake sums BilledCost over the current billing data of every
// cloud, per currency.
func billedInLake(t *testing.T, p *Pipeline) (map[string]int64, int) {
	t.Helper()
	out, rows := map[string]int64{}, 0
	for _, c := range domain.Clouds {
		snaps, err := p.Lake.CurrentBilling(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			if err := s.CostRows(context.Background(), func(r domain.CostRow) error {
				out[r.BillingCurrency] += r.BilledCost.Micros
				rows++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out, rows
}

// TestIngestIsAllOrNothing checks that a run with one unreadable file
// commits nothing, that a good run commits one billing snapshot per cloud
// whose read-back totals equal what was kept, and that a later failed run
// leaves that billing data current and whole.
func TestIngestIsAllOrNothing(t *testing.T) {
	p := newIngestPipeline(t)
	dir := t.TempDir()
	good, err := os.ReadFile(focusSample)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a-good.csv"), good, 0o644)
	lines := strings.SplitN(string(good), "\n", 3)
	os.WriteFile(filepath.Join(dir, "b-broken.csv"), []byte(lines[0]+"\n"+strings.Replace(lines[1], `"USD"`, `"USD`, 1)+"\n"), 0o644)

	if _, err := ingestPaths(t, p, dir); err == nil || !strings.Contains(err.Error(), "b-broken.csv") || !strings.Contains(err.Error(), "nothing committed") {
		t.Fatalf("Ingest(folder with a broken file) = %v; want an error naming b-broken.csv and saying nothing was committed", err)
	}
	if _, rows := billedInLake(t, p); rows != 0 {
		t.Fatalf("a failed ingest left %d rows in the lake", rows)
	}

	res, err := ingestPaths(t, p, filepath.Join(dir, "a-good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Rows != 173 || res.Total.Kept != 170 || res.Total.ByRule["unsupported_provider"] != 3 {
		t.Errorf("Ingest(FOCUS sample) rows %d kept %d rules %v; want 173 read, 170 kept, 3 Oracle rows rejected", res.Total.Rows, res.Total.Kept, res.Total.ByRule)
	}
	if len(res.Commits) != 2 || res.Commits[domain.AWS].Tables[lake.TableCosts].Rows != 150 || res.Commits[domain.Azure].Tables[lake.TableCosts].Rows != 20 {
		t.Errorf("commits = %+v; want aws 150 rows and azure 20", res.Commits)
	}
	billed, rows := billedInLake(t, p)
	if rows != 170 || billed["USD"] != res.Total.Totals["USD"].Kept[0] || res.ReadBack["USD"] != res.Total.Totals["USD"].Kept {
		t.Errorf("lake holds %d rows billed %v; kept %v, read back %v", rows, billed, res.Total.Totals["USD"].Kept, res.ReadBack["USD"])
	}

	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(good)
	zw.Close()
	trunc := filepath.Join(dir, "c-truncated.csv.gz")
	os.WriteFile(trunc, zipped.Bytes()[:zipped.Len()*2/3], 0o644)
	if _, err := ingestPaths(t, p, trunc); err == nil || !strings.Contains(err.Error(), "c-truncated.csv.gz") {
		t.Fatalf("Ingest(truncated gzip) = %v; want an error naming the file", err)
	}
	after, rows2 := billedInLake(t, p)
	if rows2 != rows || after["USD"] != billed["USD"] {
		t.Errorf("after a failed run the lake holds %d rows billed %v; want the earlier %d rows billed %v", rows2, after, rows, billed)
	}
}

// TestIngestFollowsCURManifests checks that a folder holding a CUR
// manifest is read as the manifest says: the file it names, not the
// superseded version beside it; and that a manifest naming a missing file
// fails naming both.
func TestIngestFollowsCURManifests(t *testing.T) {
	root := t.TempDir()
	period := filepath.Join(root, "cur", "r", "20240901-20241001")
	good, err := os.ReadFile(focusSample)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(period, "new-assembly"), 0o755)
	os.MkdirAll(filepath.Join(period, "old-assembly"), 0o755)
	os.WriteFile(filepath.Join(period, "new-assembly", "r-00001.csv"), good, 0o644)
	os.WriteFile(filepath.Join(period, "old-assembly", "r-00001.csv"), good, 0o644)
	os.WriteFile(filepath.Join(root, "elsewhere.csv"), good, 0o644)
	manifest := `{"assemblyId": "new-assembly", "account": "123456789012", "reportName": "r", "bucket": "b", "compression": "", "contentType": "text/csv",
  "billingPeriod": {"start": "20240901T000000.000Z", "end": "20241001T000000.000Z"},
  "reportKeys": ["cur/r/20240901-20241001/new-assembly/r-00001.csv"], "columns": []}`
	os.WriteFile(filepath.Join(period, "r-Manifest.json"), []byte(manifest), 0o644)

	src, err := ExpandSources(context.Background(), []string{root})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range src.Inputs {
		names = append(names, strings.TrimPrefix(in.Name, root))
	}
	if len(names) != 2 || !strings.HasSuffix(names[0], "new-assembly/r-00001.csv") || !strings.HasSuffix(names[1], "elsewhere.csv") {
		t.Errorf("ExpandSources read %v; want the manifest's file and the unrelated one", names)
	}
	if len(src.Skipped) != 1 || !strings.Contains(src.Skipped[0], "old-assembly") {
		t.Errorf("skipped %v; want the superseded assembly", src.Skipped)
	}

	os.WriteFile(filepath.Join(period, "r-Manifest.json"), []byte(strings.Replace(manifest, "r-00001.csv", "r-00002.csv", 1)), 0o644)
	_, err = ExpandSources(context.Background(), []string{root})
	if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "r-00002.csv") || !strings.Contains(err.Error(), "r-Manifest.json") {
		t.Errorf("ExpandSources(manifest naming a missing file) = %v; want ErrNotFound naming manifest and file", err)
	}
	if _, err := ExpandSources(context.Background(), []string{filepath.Join(root, "nope")}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("ExpandSources(missing path) = %v; want ErrNotFound", err)
	}
}
