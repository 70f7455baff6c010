package focus_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
)

// fuzzSeedLines is how many data lines of each real sample seed the
// corpus: enough to reach every mapper, small enough to mutate fast.
const fuzzSeedLines = 4

// FuzzRead feeds arbitrary bytes to Read, as a billing export from a
// bucket or a user's folder would arrive: CSV in its delimiters, JSON
// lines, Parquet, each maybe gzipped. Read must never panic and must
// return either a summary or an error, never both or neither; a summary
// counts every row it emitted as kept.
func FuzzRead(f *testing.F) {
	for _, seed := range fuzzReadSeeds(f) {
		f.Add(seed)
	}
	spool := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		in := focus.Input{Name: "fuzz", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}}
		var emitted int64
		sum, err := focus.Read(context.Background(), in, focus.Options{BatchSize: 7, SpoolDir: spool}, func(rows []domain.CostRow) error {
			emitted += int64(len(rows))
			return nil
		})
		switch {
		case err != nil && sum != nil:
			t.Fatalf("Read returned a summary and the error %v", err)
		case err == nil && sum == nil:
			t.Fatal("Read returned neither a summary nor an error")
		case err != nil:
			if !strings.Contains(err.Error(), "fuzz") {
				t.Errorf("Read error %q does not name the file", err)
			}
			return
		}
		if sum.Kept != emitted || sum.Kept+sum.Rejected != sum.Rows {
			t.Fatalf("summary counts %d rows, %d kept, %d rejected; %d were emitted", sum.Rows, sum.Kept, sum.Rejected, emitted)
		}
		if sum.Bytes > int64(len(data)) {
			t.Fatalf("summary counts %d bytes read of a %d-byte file", sum.Bytes, len(data))
		}
	})
}

// FuzzParseCURManifest feeds arbitrary documents to ParseCURManifest,
// which reads the manifest AWS delivers next to a Cost and Usage Report.
// It must never panic, and refuses with domain.ErrInvalid.
func FuzzParseCURManifest(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "aws", "manifest-*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"reportKeys": ["s3://"], "billingPeriod": {"start": "20240901T000000.000Z", "end": ""}}`))
	f.Add([]byte(`{"dataFiles": ["s3://bucket/"], "billingPeriod": {"start": "2024-09-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		m, err := focus.ParseCURManifest(doc)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("ParseCURManifest = %v; want an error wrapping ErrInvalid", err)
			}
			return
		}
		if m == nil {
			t.Fatal("ParseCURManifest returned neither a manifest nor an error")
		}
	})
}

// fuzzReadSeeds returns the first lines of every real CSV and JSON-lines
// sample in testdata, the Hive slice gzipped again after cutting it, one
// real Parquet slice, a small Parquet file of FOCUS columns, and a few
// broken files.
func fuzzReadSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, pattern := range []string{"*/*.csv", "*/*.jsonl"} {
		paths, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, headLines(b, 1+fuzzSeedLines))
		}
	}
	gz, err := os.ReadFile(filepath.Join("testdata", "aws", "step1cur-hive-slice.gz"))
	if err != nil {
		f.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		f.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, gzipped(f, headLines(plain, 1+fuzzSeedLines)))
	pq, err := os.ReadFile(filepath.Join("testdata", "aws", "workshopcur-dec2018-slice.snappy.parquet"))
	if err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, pq, smallParquet(f))
	focusCSV := headLines(seeds[0], 2)
	seeds = append(seeds,
		nil,
		[]byte("\ufeff"),
		[]byte("PAR1"),
		[]byte("PAR1\x00\x00\x00\x00PAR1"),
		[]byte{0x1f, 0x8b},
		gzipped(f, focusCSV)[:20],
		[]byte(`{"billing_account_id": "x"`+"\n"),
		[]byte("a;b;c\n\"1;2;3\n"),
	)
	return seeds
}

// headLines returns the first n lines of b.
func headLines(b []byte, n int) []byte {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	var out bytes.Buffer
	for i := 0; i < n && sc.Scan(); i++ {
		out.Write(sc.Bytes())
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func gzipped(f *testing.F, b []byte) []byte {
	f.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		f.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// focusRow is a few FOCUS 1.2 columns, enough for the FOCUS detector.
type focusRow struct {
	BillingAccountID   string  `parquet:"BillingAccountId"`
	SubAccountID       string  `parquet:"SubAccountId"`
	ProviderName       string  `parquet:"ProviderName"`
	BillingCurrency    string  `parquet:"BillingCurrency"`
	BilledCost         float64 `parquet:"BilledCost"`
	EffectiveCost      float64 `parquet:"EffectiveCost"`
	ListCost           float64 `parquet:"ListCost"`
	ContractedCost     float64 `parquet:"ContractedCost"`
	ChargeCategory     string  `parquet:"ChargeCategory"`
	ChargePeriodStart  string  `parquet:"ChargePeriodStart"`
	ChargePeriodEnd    string  `parquet:"ChargePeriodEnd"`
	BillingPeriodStart string  `parquet:"BillingPeriodStart"`
	BillingPeriodEnd   string  `parquet:"BillingPeriodEnd"`
	ResourceID         string  `parquet:"ResourceId,optional"`
	ServiceName        string  `parquet:"ServiceName"`
	Tags               string  `parquet:"Tags,optional"`
}

func smallParquet(f *testing.F) []byte {
	f.Helper()
	rows := []focusRow{
		{"111", "222", "AWS", "USD", 1.5, 1.25, 2, 1.5, "Usage", "2024-09-01T00:00:00Z", "2024-09-02T00:00:00Z", "2024-09-01", "2024-10-01", "i-1", "Amazon EC2", `{"env":"prod"}`},
		{"111", "333", "Microsoft", "EUR", 0.1, 0.1, 0.1, 0.1, "Tax", "2024-09-01T00:00:00Z", "2024-09-02T00:00:00Z", "2024-09-01", "2024-10-01", "", "Virtual Machines", ""},
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}
