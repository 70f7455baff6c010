package gcpfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
)

const exportSQL = "SELECT TO_JSON_STRING(t) FROM `%s` AS t WHERE t.project.id = @project AND t.usage_start_time < @end AND t.usage_end_time > @start"

func bigQueryClient(t *testing.T) (*gcpfake.BigQuery, *bigquery.Client) {
	t.Helper()
	b := gcpfake.NewBigQuery()
	t.Cleanup(b.Close)
	c, err := bigquery.NewClient(context.Background(), "billing-admin", b.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return b, c
}

// exportRow is a row of project starting at hour h of t0 and lasting
// an hour, exported exported hours after it ends.
func exportRow(project string, h, exported int) gcpfake.ExportRow {
	start := t0.Add(time.Duration(h) * time.Hour)
	return gcpfake.ExportRow{
		"project":          map[string]any{"id": project},
		"usage_start_time": start.Format(time.RFC3339),
		"usage_end_time":   start.Add(time.Hour).Format(time.RFC3339),
		"export_time":      start.Add(time.Duration(1+exported) * time.Hour).Format(time.RFC3339),
		"cost":             float64(h),
	}
}

func readAll(ctx context.Context, c *bigquery.Client, sql, project string, start, end time.Time) ([]string, error) {
	q := c.Query(sql)
	q.Parameters = []bigquery.QueryParameter{{Name: "project", Value: project}, {Name: "start", Value: start}, {Name: "end", Value: end}}
	it, err := q.Read(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, row[0].(string))
	}
}

func jsonOf(t *testing.T, rows ...gcpfake.ExportRow) []string {
	t.Helper()
	var out []string
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestBigQueryEvaluatesTheExportQuery(t *testing.T) {
	b, c := bigQueryClient(t)
	var rows []gcpfake.ExportRow
	for h := 0; h < 48; h++ {
		rows = append(rows, exportRow("p1", h, 2), exportRow("p2", h, 2))
	}
	// A late row of hour 1, exported two days after it.
	late := exportRow("p1", 1, 48)
	rows = append(rows, late)
	const table = "billing-admin.billing.gcp_billing_export_v1_0000"
	if err := b.AddTable(table, gcpfake.PartitionIngestionTime, gcpfake.StaticRows(rows...)); err != nil {
		t.Fatal(err)
	}
	b.SetPageRows(4)
	base := strings.Replace(exportSQL, "%s", table, 1)
	start, end := t0.Add(30*time.Hour), t0.Add(40*time.Hour)
	want := jsonOf(t, rows[60:80:80]...) // hours 30..39 of p1, p2 interleaved
	want = slicesFilter(want, `"id":"p1"`)
	for _, tc := range []struct {
		name, sql string
		want      []string
	}{
		{"no partition filter", base, want},
		{"_PARTITIONTIME", base + " AND _PARTITIONTIME >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)", want},
		{"export_time", base + " AND t.export_time >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)", want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(context.Background(), c, tc.sql, "p1", start, end)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
	// The late row of hour 1 is in a partition of two days later: the
	// partition filter keeps it for a window that holds hour 1.
	got, err := readAll(context.Background(), c, base+" AND _PARTITIONTIME >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)", "p1", t0, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonOf(t, rows[0], rows[2], late), got); diff != "" {
		t.Errorf("rows of hours 0 and 1 (-want +got):\n%s", diff)
	}
}

// slicesFilter keeps the rows that contain s.
func slicesFilter(rows []string, s string) []string {
	var out []string
	for _, r := range rows {
		if strings.Contains(r, s) {
			out = append(out, r)
		}
	}
	return out
}

func TestBigQueryPrunesWhatThePartitionFilterSkips(t *testing.T) {
	b, c := bigQueryClient(t)
	// A row of hour 30 exported at once, and a row of hour 30 that claims
	// an export four days before its window: no real row is, and the
	// filter must prune it, proving the fake evaluates the filter.
	odd := exportRow("p1", 30, -100)
	rows := []gcpfake.ExportRow{exportRow("p1", 30, 0), odd}
	const table = "billing-admin.billing.export"
	if err := b.AddTable(table, gcpfake.PartitionExportTime, gcpfake.StaticRows(rows...)); err != nil {
		t.Fatal(err)
	}
	sql := strings.Replace(exportSQL, "%s", table, 1) + " AND t.export_time >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)"
	got, err := readAll(context.Background(), c, sql, "p1", t0.Add(30*time.Hour), t0.Add(31*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonOf(t, rows[0]), got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestBigQueryServesTableMetadata(t *testing.T) {
	b, c := bigQueryClient(t)
	for table, part := range map[string]gcpfake.Partitioning{"a": gcpfake.PartitionNone, "b": gcpfake.PartitionIngestionTime, "c": gcpfake.PartitionExportTime} {
		if err := b.AddTable("billing-admin.billing."+table, part, gcpfake.StaticRows()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		table string
		want  *bigquery.TimePartitioning
	}{
		{"a", nil},
		{"b", &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType}},
		{"c", &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "export_time"}},
	} {
		md, err := c.Dataset("billing").Table(tc.table).Metadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, md.TimePartitioning); diff != "" {
			t.Errorf("partitioning of %s (-want +got):\n%s", tc.table, diff)
		}
	}
}

func TestBigQueryErrors(t *testing.T) {
	b, c := bigQueryClient(t)
	if err := b.AddTable("billing-admin.billing.export", gcpfake.PartitionNone, gcpfake.StaticRows(exportRow("p1", 0, 0))); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTable("secret.billing.export", gcpfake.PartitionNone, gcpfake.StaticRows()); err != nil {
		t.Fatal(err)
	}
	b.Deny("secret")
	code := func(err error) (int, string) {
		var ge *googleapi.Error
		if !errors.As(err, &ge) || len(ge.Errors) == 0 {
			return 0, ""
		}
		return ge.Code, ge.Errors[0].Reason
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name, sql string
		code      int
		reason    string
		inMessage string
	}{
		{"missing table", strings.Replace(exportSQL, "%s", "billing-admin.billing.nothing", 1), http.StatusNotFound, "notFound", "billing-admin:billing.nothing"},
		{"missing dataset", strings.Replace(exportSQL, "%s", "billing-admin.other.export", 1), http.StatusNotFound, "notFound", "billing-admin:other"},
		{"denied table", strings.Replace(exportSQL, "%s", "secret.billing.export", 1), http.StatusForbidden, "accessDenied", "secret"},
		{"another query", "SELECT * FROM `billing-admin.billing.export`", http.StatusBadRequest, "invalidQuery", "does not evaluate"},
		{"_PARTITIONTIME of an unpartitioned table", strings.Replace(exportSQL, "%s", "billing-admin.billing.export", 1) +
			" AND _PARTITIONTIME >= TIMESTAMP_SUB(@start, INTERVAL 1 DAY)", http.StatusBadRequest, "invalidQuery", "_PARTITIONTIME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(ctx, c, tc.sql, "p1", t0, t0.Add(time.Hour))
			if got, reason := code(err); got != tc.code || reason != tc.reason || !strings.Contains(err.Error(), tc.inMessage) {
				t.Errorf("query = %v; want %d %s naming %q", err, tc.code, tc.reason, tc.inMessage)
			}
		})
	}
	if _, err := c.DatasetInProject("billing-admin", "billing").Table("nothing").Metadata(ctx); !strings.Contains(err.Error(), "notFound") {
		t.Errorf("Metadata(missing table) = %v; want notFound", err)
	}
	denied, err := bigquery.NewClient(ctx, "secret", b.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	_, err = readAll(ctx, denied, strings.Replace(exportSQL, "%s", "billing-admin.billing.export", 1), "p1", t0, t0.Add(time.Hour))
	if got, _ := code(err); got != http.StatusForbidden {
		t.Errorf("a job in a denied project = %v; want 403", err)
	}
}
