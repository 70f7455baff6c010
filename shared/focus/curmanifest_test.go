package focus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestParseCURManifest(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	cur2Header := readCSVFile(t, filepath.Join("testdata", "aws", "cur2-constructed.csv"))[0]
	legacyHeader := readCSVFile(t, filepath.Join("testdata", "aws", "cur-legacy-focus-converters.csv"))[0]
	tests := []struct {
		file    string
		want    CURManifest
		headers []string // the column names the manifest must list, as the data files spell them
	}{
		{"manifest-legacy-csv.json", CURManifest{
			Version: "legacy", Bucket: "example-billing-bucket",
			Files: []string{
				"cur/hourly-cur/20231101-20231201/4a1d8a5e-3f0b-4c7e-9d2a-6b8f0e1c2d3e/hourly-cur-1.csv.gz",
				"cur/hourly-cur/20231101-20231201/4a1d8a5e-3f0b-4c7e-9d2a-6b8f0e1c2d3e/hourly-cur-2.csv.gz",
			},
			BillingPeriodStart: day(2023, 11, 1), BillingPeriodEnd: day(2023, 12, 1),
			Name: "hourly-cur", DeliveryID: "4a1d8a5e-3f0b-4c7e-9d2a-6b8f0e1c2d3e", Compression: "GZIP", ContentType: "text/csv",
		}, legacyHeader},
		{"manifest-legacy-parquet.json", CURManifest{
			Version: "legacy", Bucket: "example-athena-cur",
			Files:              []string{"cur/WorkshopCUR/WorkshopCUR/year=2018/month=11/WorkshopCUR-00001.snappy.parquet"},
			BillingPeriodStart: day(2018, 11, 1), BillingPeriodEnd: day(2018, 12, 1),
			Name: "WorkshopCUR", DeliveryID: "9e0c2b7a-1d4f-4a6b-8c3e-5f7a9b1d3e5c", Compression: "Parquet", ContentType: "Parquet",
		}, []string{"identity/LineItemId", "identity/TimeInterval", "lineItem/UnblendedCost", "resourceTags/user:CostCenter"}},
		{"manifest-cur2.json", CURManifest{
			Version: "2.0", Bucket: "example-data-exports",
			Files: []string{
				"cur2/example-cur2/data/BILLING_PERIOD=2024-03/example-cur2-00001.csv.gz",
				"cur2/example-cur2/data/BILLING_PERIOD=2024-03/example-cur2-00002.csv.gz",
			},
			BillingPeriodStart: day(2024, 3, 1), BillingPeriodEnd: day(2024, 4, 1),
			Name: "example-cur2", DeliveryID: "7f3e1d5c-9b2a-4c8e-a6f0-2d4b6c8e0a1f",
		}, cur2Header},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "aws", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseCURManifest(data)
			if err != nil {
				t.Fatalf("ParseCURManifest(%s) = %v", tc.file, err)
			}
			if diff := cmp.Diff(tc.want, *got, cmpopts.IgnoreFields(CURManifest{}, "Columns")); diff != "" {
				t.Errorf("ParseCURManifest(%s) mismatch (-want +got):\n%s", tc.file, diff)
			}
			var headers []string
			for _, c := range got.Columns {
				headers = append(headers, c.Header())
			}
			if diff := cmp.Diff(tc.headers, headers); diff != "" {
				t.Errorf("ParseCURManifest(%s).Columns headers mismatch (-want +got):\n%s", tc.file, diff)
			}
		})
	}
}

func TestParseCURManifestShapes(t *testing.T) {
	// No exportName: the name comes from the export ARN. Columns under
	// "schema" instead of "columns".
	m, err := ParseCURManifest([]byte(`{
		"exportArn": "arn:aws:bcm-data-exports:us-east-1:111122223333:export/team-cur-0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
		"billingPeriod": {"start": "2024-03-01T00:00:00Z", "end": "2024-04-01T00:00:00Z"},
		"dataFiles": ["s3://b/p/team-cur/data/BILLING_PERIOD=2024-03/team-cur-00001.snappy.parquet"],
		"schema": [{"name": "line_item_unblended_cost", "type": "double"}, {"name": "resource_tags", "type": "map<string,string>"}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &CURManifest{Version: "2.0", Bucket: "b", Name: "team-cur",
		Files:              []string{"p/team-cur/data/BILLING_PERIOD=2024-03/team-cur-00001.snappy.parquet"},
		BillingPeriodStart: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), BillingPeriodEnd: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC),
		Columns: []CURColumn{{Name: "line_item_unblended_cost", Type: "double"}, {Name: "resource_tags", Type: "map<string,string>"}}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("ParseCURManifest(Data Exports without exportName) mismatch (-want +got):\n%s", diff)
	}

	// A legacy manifest may list s3:// URIs; an empty report is no error.
	m, err = ParseCURManifest([]byte(`{"bucket": "b", "reportKeys": ["s3://b/r/1.csv.gz", "/r/2.csv.gz"],
		"billingPeriod": {"start": "20240301T000000.000Z", "end": "20240401T000000.000Z"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"r/1.csv.gz", "r/2.csv.gz"}, m.Files); diff != "" {
		t.Errorf("ParseCURManifest(legacy with URIs).Files mismatch (-want +got):\n%s", diff)
	}
	m, err = ParseCURManifest([]byte(`{"reportKeys": [], "billingPeriod": {"start": "20240301T000000.000Z", "end": "20240401T000000.000Z"}}`))
	if err != nil || len(m.Files) != 0 {
		t.Errorf("ParseCURManifest(empty report) = %v, %v; want no files and no error", m, err)
	}
}

func TestParseCURManifestErrors(t *testing.T) {
	const bp = `"billingPeriod": {"start": "20240301T000000.000Z", "end": "20240401T000000.000Z"}`
	tests := []struct {
		name, doc, mention string
	}{
		{"not JSON", `<xml/>`, "not a JSON object"},
		{"a list", `[1, 2]`, "not a JSON object"},
		{"an Azure manifest without its run", `{"manifestVersion": "2024-04-01", "blobs": [], ` + bp + `}`, `"runInfo" is missing`},
		{"both kinds", `{"reportKeys": ["a"], "dataFiles": ["s3://b/k"], ` + bp + `}`, "both"},
		{"no billing period", `{"reportKeys": ["a.csv.gz"]}`, `"billingPeriod" is missing`},
		{"bad start", `{"reportKeys": ["a.csv.gz"], "billingPeriod": {"start": "March", "end": "20240401T000000.000Z"}}`, `"billingPeriod.start"`},
		{"no end", `{"reportKeys": ["a.csv.gz"], "billingPeriod": {"start": "20240301T000000.000Z"}}`, `"billingPeriod.end"`},
		{"end before start", `{"reportKeys": ["a.csv.gz"], "billingPeriod": {"start": "20240401T000000.000Z", "end": "20240301T000000.000Z"}}`, "before it starts"},
		{"keys not strings", `{"reportKeys": [{"key": "a"}], ` + bp + `}`, `"reportKeys" is not a list of strings`},
		{"empty key", `{"reportKeys": ["a", " "], ` + bp + `}`, `"reportKeys"[1] is empty`},
		{"data file not in S3", `{"dataFiles": ["https://example.com/a.csv.gz"], ` + bp + `}`, `"dataFiles"[0]: "https://example.com/a.csv.gz" is not an s3:// URI`},
		{"data file without key", `{"dataFiles": ["s3://bucket-only"], ` + bp + `}`, "names no bucket and key"},
		{"two buckets", `{"dataFiles": ["s3://a/k1", "s3://b/k2"], ` + bp + `}`, `"dataFiles"[1] is in bucket "b"`},
		{"column without name", `{"reportKeys": ["a"], "columns": [{"category": "lineItem"}], ` + bp + `}`, `"columns"[0] has no name`},
		{"columns not a list", `{"reportKeys": ["a"], "columns": "all", ` + bp + `}`, `"columns" is not a list`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseCURManifest([]byte(tc.doc))
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("ParseCURManifest(%s) = %v, %v; want an ErrInvalid mentioning %s", tc.doc, m, err, tc.mention)
			}
		})
	}
}

func TestParseAzureExportManifest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "azure-export", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseCURManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cloudtrim-daily/20261101-20261130/c3a1e8f0-0000-4000-8000-000000000001/part_0_0001.csv.gz",
		"cloudtrim-daily/20261101-20261130/c3a1e8f0-0000-4000-8000-000000000001/part_1_0001.csv.gz",
	}
	if m.Version != "azure" || m.Name != "cloudtrim-daily" || m.DeliveryID != "c3a1e8f0-0000-4000-8000-000000000001" || strings.Join(m.Files, ",") != strings.Join(want, ",") {
		t.Fatalf("manifest = %+v", m)
	}
	// The run's last day is inclusive: the period ends the next midnight.
	if !m.BillingPeriodStart.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !m.BillingPeriodEnd.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("period %s – %s; want 2026-11-01 – 2026-11-23", m.BillingPeriodStart, m.BillingPeriodEnd)
	}
	for _, bad := range []struct{ doc, want string }{
		{`{"blobs": [{"blobName": "a.csv"}]}`, `"runInfo" is missing`},
		{`{"blobs": "a.csv", "runInfo": {}}`, `"blobs" is not a list`},
		{`{"blobs": [{"blobName": "../x.csv"}], "runInfo": {"startDate": "2026-11-01", "endDate": "2026-11-02"}}`, "is not a blob path"},
		{`{"blobs": [], "runInfo": {"startDate": "2026-11-05", "endDate": "2026-11-01"}}`, "ends"},
		{`{"blobs": [], "runInfo": {"startDate": "soon", "endDate": "2026-11-01"}}`, `"runInfo.startDate"`},
	} {
		if _, err := ParseCURManifest([]byte(bad.doc)); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseCURManifest(%s) = %v; want ErrInvalid with %q", bad.doc, err, bad.want)
		}
	}
}
