package gcpcloud_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// exportTable is the billing export table of the cost tests.
const exportTable = "billing-admin.billing_export.gcp_billing_export_v1_0123AB_4567CD_89EF01"

func startBigQuery(t *testing.T) *gcpfake.BigQuery {
	t.Helper()
	b := gcpfake.NewBigQuery()
	t.Cleanup(b.Close)
	return b
}

func costProvider(t *testing.T, b *gcpfake.BigQuery, cfg gcpcloud.Config, log *bytes.Buffer) *gcpcloud.Provider {
	t.Helper()
	cfg.BigQueryOptions = b.ClientOptions()
	if cfg.BillingExportTable == "" {
		cfg.BillingExportTable = exportTable
	}
	return telemetryProvider(t, cfg, log)
}

// costPages calls CostRows and returns the pages handed on.
func costPages(p *gcpcloud.Provider, project string, w collect.Window) ([][]domain.CostRow, error) {
	var pages [][]domain.CostRow
	err := p.CostRows(context.Background(), project, w, func(rows []domain.CostRow) error {
		pages = append(pages, rows)
		return nil
	})
	return pages, err
}

// costLine is what a cost row read back must keep of a simulated one.
type costLine struct {
	Start, End                           time.Time
	Project, SKU, Region, Zone, Resource string
	Billed, Effective, List, Contracted  domain.Money
	Tags                                 map[string]string
}

func costLineOf(r domain.CostRow, resource string) costLine {
	return costLine{r.ChargePeriodStart, r.ChargePeriodEnd, r.SubAccountID, r.SkuID, r.RegionID, r.AvailabilityZone, resource,
		r.BilledCost, r.EffectiveCost, r.ListCost, r.ContractedCost, r.Tags}
}

func simCostRows(t *testing.T, est *simcloud.Estate, project string, w collect.Window) []domain.CostRow {
	t.Helper()
	var out []domain.CostRow
	err := est.Cloud(domain.GCP).CostRows(context.Background(), project, w, func(rows []domain.CostRow) error {
		out = append(out, rows...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sumBilled(rows []domain.CostRow) (billed, list int64) {
	for _, r := range rows {
		billed += r.BilledCost.Micros
		list += r.ListCost.Micros
	}
	return billed, list
}

// TestCostRowsReadTheSimulatedExport proves the round trip: the rows
// read from the billing export of each project are the simulated rows,
// in pages of at most 1,000, their cost summing exactly to the
// simulated cost, whether the table is the standard or the detailed
// export and however it is partitioned, for the whole retained period
// and for one day of it.
func TestCostRowsReadTheSimulatedExport(t *testing.T) {
	est, _ := telemetryEstate(t)
	today := telemetryNow.Truncate(24 * time.Hour)
	all := collect.Window{Start: today.AddDate(0, 0, -simcloud.CostDays), End: today}
	oneDay := collect.Window{Start: today.AddDate(0, 0, -3).Add(6 * time.Hour), End: today.AddDate(0, 0, -2)}
	for _, tc := range []struct {
		name     string
		part     gcpfake.Partitioning
		detailed bool
		column   string
	}{
		{"standard, by ingestion time", gcpfake.PartitionIngestionTime, false, "_PARTITIONTIME"},
		{"detailed, by export_time", gcpfake.PartitionExportTime, true, "t.export_time"},
		{"standard, unpartitioned", gcpfake.PartitionNone, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBigQuery(t)
			if err := b.AddTable(exportTable, tc.part, gcpfake.SimBillingSource(est, tc.detailed)); err != nil {
				t.Fatal(err)
			}
			b.SetPageRows(97)
			p := costProvider(t, b, gcpcloud.Config{}, nil)
			read := 0
			for _, project := range est.Accounts(domain.GCP) {
				for _, w := range []collect.Window{all, oneDay} {
					want := simCostRows(t, est, project, w)
					pages, err := costPages(p, project, w)
					if err != nil {
						t.Fatal(err)
					}
					var got []domain.CostRow
					for _, page := range pages {
						if len(page) == 0 || len(page) > 1000 {
							t.Errorf("a page of %d rows", len(page))
						}
						got = append(got, page...)
					}
					wantLines, gotLines := make([]costLine, len(want)), make([]costLine, len(got))
					for i, r := range want {
						resource := ""
						if tc.detailed {
							resource = "//compute.googleapis.com/" + r.ResourceID
						}
						wantLines[i] = costLineOf(r, resource)
					}
					for i, r := range got {
						gotLines[i] = costLineOf(r, r.ResourceID)
						if r.XSourceFormat != gcpcloud.SourceBillingExport || r.XCloud != domain.GCP {
							t.Errorf("a row from %q of cloud %q; want %q of gcp", r.XSourceFormat, r.XCloud, gcpcloud.SourceBillingExport)
						}
					}
					if diff := cmp.Diff(wantLines, gotLines); diff != "" {
						t.Errorf("CostRows(%s, %v) (-simulated +read):\n%s", project, w, diff)
					}
					wb, wl := sumBilled(want)
					gb, gl := sumBilled(got)
					if wb != gb || wl != gl {
						t.Errorf("CostRows(%s, %v) billed %d, list %d micros; want %d, %d", project, w, gb, gl, wb, wl)
					}
					read += len(got)
				}
			}
			if read < 500 {
				t.Errorf("%d rows read in all; want enough for several result pages", read)
			}
			wantQuery := gcpcloud.ExportQuery(exportTable, tc.column)
			for _, q := range b.Queries() {
				if q != wantQuery {
					t.Fatalf("query %q; want %q", q, wantQuery)
				}
			}
		})
	}
}

// TestCostRowsHandOnPagesOf1000 proves rows stream in pages of 1,000
// across result pages of another size.
func TestCostRowsHandOnPagesOf1000(t *testing.T) {
	b := startBigQuery(t)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var rows []gcpfake.ExportRow
	for i := range 2500 {
		rows = append(rows, gcpfake.ExportRow{"project": map[string]any{"id": "p1"}, "currency": "USD", "cost_type": "regular",
			"usage_start_time": start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"usage_end_time":   start.Add(time.Duration(i+1) * time.Minute).Format(time.RFC3339),
			"cost":             float64(i) / 1e6, "service": map[string]any{"description": "Compute Engine"},
			"sku": map[string]any{"id": "CP-1", "description": "N2 Instance Core running in Americas"}})
	}
	if err := b.AddTable(exportTable, gcpfake.PartitionNone, gcpfake.StaticRows(rows...)); err != nil {
		t.Fatal(err)
	}
	b.SetPageRows(300)
	p := costProvider(t, b, gcpcloud.Config{}, nil)
	pages, err := costPages(p, "p1", collect.Window{Start: start, End: start.AddDate(0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var micros, want int64
	for _, page := range pages {
		sizes = append(sizes, len(page))
		for _, r := range page {
			micros += r.BilledCost.Micros
		}
	}
	for i := range 2500 {
		want += int64(i)
	}
	if !cmp.Equal(sizes, []int{1000, 1000, 500}) || micros != want {
		t.Errorf("pages of %v rows, %d micros; want 1000, 1000, 500 rows and %d micros", sizes, micros, want)
	}
	results := 0
	for _, r := range b.Requests() {
		if strings.HasPrefix(r, "GET /bigquery/v2/projects/billing-admin/queries/") {
			results++
		}
	}
	if results != 8 {
		t.Errorf("%d result pages fetched after the query's; want 8 (2,500 rows by 300)", results)
	}
}

func TestCostRowsRunJobsInTheQueryProject(t *testing.T) {
	est, _ := telemetryEstate(t)
	b := startBigQuery(t)
	if err := b.AddTable(exportTable, gcpfake.PartitionIngestionTime, gcpfake.SimBillingSource(est, false)); err != nil {
		t.Fatal(err)
	}
	p := costProvider(t, b, gcpcloud.Config{BillingQueryProject: "finops-jobs"}, nil)
	project := est.Accounts(domain.GCP)[0]
	if _, err := costPages(p, project, collect.Window{Start: telemetryNow.AddDate(0, 0, -2), End: telemetryNow}); err != nil {
		t.Fatal(err)
	}
	var queries, tables int
	for _, r := range b.Requests() {
		switch {
		case strings.HasPrefix(r, "POST /bigquery/v2/projects/finops-jobs/queries?"):
			queries++
		case strings.HasPrefix(r, "GET /bigquery/v2/projects/billing-admin/datasets/billing_export/tables/"):
			tables++
		default:
			t.Errorf("request %s; want jobs in finops-jobs, tables of billing-admin", r)
		}
	}
	if queries != 1 || tables != 1 {
		t.Errorf("%d queries, %d table reads; want one of each", queries, tables)
	}
}

func TestCostRowsErrors(t *testing.T) {
	b := startBigQuery(t)
	row := gcpfake.ExportRow{"project": map[string]any{"id": "p1"}, "usage_start_time": "2026-11-19T00:00:00Z",
		"usage_end_time": "2026-11-19T01:00:00Z", "cost": 1.5, "currency": "USD", "service": map[string]any{"description": "Compute Engine"},
		"sku": map[string]any{"description": "N2 Instance Core running in Americas"}, "cost_type": "regular"}
	for _, table := range []string{exportTable, "secret-billing.billing_export.export"} {
		if err := b.AddTable(table, gcpfake.PartitionNone, gcpfake.StaticRows(row)); err != nil {
			t.Fatal(err)
		}
	}
	b.Deny("secret-billing")
	w := collect.Window{Start: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		name, table, project string
		want                 error
		naming               string
	}{
		{"missing table", "billing-admin.billing_export.gcp_billing_export_v1_FFFFFF", "p1", domain.ErrNotFound, "gcp_billing_export_v1_FFFFFF"},
		{"missing dataset", "billing-admin.other.gcp_billing_export_v1_0123AB", "p1", domain.ErrNotFound, "billing-admin.other.gcp_billing_export_v1_0123AB"},
		{"denied table", "secret-billing.billing_export.export", "p1", domain.ErrPermission, "secret-billing.billing_export.export"},
		{"two parts", "billing_export.export", "p1", domain.ErrInvalid, `"billing_export.export"`},
		{"a backquote", "billing-admin.billing_export.export`; DROP TABLE x; --", "p1", domain.ErrInvalid, "DROP"},
		{"an upper-case project", "Billing-Admin.billing_export.export", "p1", domain.ErrInvalid, "Billing-Admin"},
		{"an empty dataset", "billing-admin..export", "p1", domain.ErrInvalid, "billing-admin..export"},
		{"no project", exportTable, "", domain.ErrInvalid, "project"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := costProvider(t, b, gcpcloud.Config{BillingExportTable: tc.table}, nil)
			pages, err := costPages(p, tc.project, w)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.naming) || len(pages) != 0 {
				t.Errorf("CostRows(%s) = %d pages, %v; want %v naming %q", tc.table, len(pages), err, tc.want, tc.naming)
			}
		})
	}
}

func TestCostRowsWithoutData(t *testing.T) {
	b := startBigQuery(t)
	if err := b.AddTable(exportTable, gcpfake.PartitionNone, gcpfake.StaticRows()); err != nil {
		t.Fatal(err)
	}
	w := collect.Window{Start: telemetryNow.AddDate(0, 0, -1), End: telemetryNow}
	// No export table configured: no call at all.
	p := telemetryProvider(t, gcpcloud.Config{BigQueryOptions: b.ClientOptions()}, nil)
	if pages, err := costPages(p, "p1", w); err != nil || len(pages) != 0 || len(b.Requests()) != 0 {
		t.Errorf("CostRows without a table = %d pages, %v, %d requests; want none", len(pages), err, len(b.Requests()))
	}
	// A project without rows, an empty window.
	p = costProvider(t, b, gcpcloud.Config{}, nil)
	for _, w := range []collect.Window{w, {Start: w.End, End: w.Start}} {
		if pages, err := costPages(p, "p1", w); err != nil || len(pages) != 0 {
			t.Errorf("CostRows(%v) = %d pages, %v; want none", w, len(pages), err)
		}
	}
}

func TestCostRowsLeaveOutRowsTheReaderRejects(t *testing.T) {
	b := startBigQuery(t)
	good := gcpfake.ExportRow{"project": map[string]any{"id": "p1"}, "usage_start_time": "2026-11-19T00:00:00Z",
		"usage_end_time": "2026-11-19T01:00:00Z", "cost": 1.25, "currency": "USD", "cost_type": "regular",
		"service": map[string]any{"description": "Compute Engine"}, "sku": map[string]any{"id": "CP-1", "description": "N2 Instance Core running in Americas"}}
	bad := map[string]any{}
	for k, v := range good {
		bad[k] = v
	}
	bad["cost"] = "a lot"
	if err := b.AddTable(exportTable, gcpfake.PartitionNone, gcpfake.StaticRows(good, bad, good)); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	p := costProvider(t, b, gcpcloud.Config{}, &log)
	pages, err := costPages(p, "p1", collect.Window{Start: time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(pages) != 1 || len(pages[0]) != 2 || pages[0][1].BilledCost != domain.USD(1_250_000) {
		t.Fatalf("CostRows = %v, %v; want the two good rows", pages, err)
	}
	if rec := logRecord(t, &log, "cost rows rejected by the FOCUS rules"); rec["rejected"] != 1.0 {
		t.Errorf("rejected rows logged %v; want 1", rec["rejected"])
	}
}

func TestCostRowsReturnTheCallbacksError(t *testing.T) {
	est, _ := telemetryEstate(t)
	b := startBigQuery(t)
	if err := b.AddTable(exportTable, gcpfake.PartitionIngestionTime, gcpfake.SimBillingSource(est, true)); err != nil {
		t.Fatal(err)
	}
	b.SetPageRows(10)
	p := costProvider(t, b, gcpcloud.Config{}, nil)
	stop := errors.New("stop")
	calls := 0
	err := p.CostRows(context.Background(), est.Accounts(domain.GCP)[0], collect.Window{Start: telemetryNow.AddDate(0, 0, -7), End: telemetryNow},
		func([]domain.CostRow) error {
			calls++
			return stop
		})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("CostRows with a failing callback = %v after %d calls; want stop after 1", err, calls)
	}
}
