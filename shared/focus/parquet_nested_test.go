package focus

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// bqRow is a Google Cloud billing export row as BigQuery writes it to
// Parquet: nested structs and repeated structs.
type bqRow struct {
	BillingAccountID string `parquet:"billing_account_id"`
	Service          struct {
		ID          string `parquet:"id"`
		Description string `parquet:"description"`
	} `parquet:"service"`
	Sku struct {
		ID          string `parquet:"id"`
		Description string `parquet:"description"`
	} `parquet:"sku"`
	UsageStartTime time.Time `parquet:"usage_start_time,timestamp(microsecond)"`
	UsageEndTime   time.Time `parquet:"usage_end_time,timestamp(microsecond)"`
	Project        struct {
		ID     string   `parquet:"id"`
		Name   string   `parquet:"name"`
		Labels []bqPair `parquet:"labels,list"`
	} `parquet:"project"`
	Labels   []bqPair `parquet:"labels,list"`
	Location struct {
		Region string `parquet:"region"`
		Zone   string `parquet:"zone"`
	} `parquet:"location"`
	Cost     float64 `parquet:"cost"`
	Currency string  `parquet:"currency"`
	Usage    struct {
		Amount float64 `parquet:"amount"`
		Unit   string  `parquet:"unit"`
	} `parquet:"usage"`
	Credits []struct {
		Name   string  `parquet:"name"`
		Amount float64 `parquet:"amount"`
		Type   string  `parquet:"type"`
	} `parquet:"credits,list"`
	Invoice struct {
		Month string `parquet:"month"`
	} `parquet:"invoice"`
	CostType string `parquet:"cost_type"`
	Resource struct {
		Name       string `parquet:"name"`
		GlobalName string `parquet:"global_name"`
	} `parquet:"resource"`
}

type bqPair struct {
	Key   string `parquet:"key"`
	Value string `parquet:"value"`
}

// TestNestedParquet reads a Google Cloud billing export in BigQuery's
// Parquet shape: structs become dotted columns, repeated structs JSON
// lists, and the Google mapper reads them as it reads the JSON export.
func TestNestedParquet(t *testing.T) {
	start := time.Date(2022, 8, 1, 3, 0, 0, 0, time.UTC)
	var r bqRow
	r.BillingAccountID = "018984-D0AAA4-940B88"
	r.Service.ID, r.Service.Description = "6F81-5844-456A", "Compute Engine"
	r.Sku.ID, r.Sku.Description = "2E27-4F75-95CD", "E2 Instance Core running in Americas"
	r.UsageStartTime, r.UsageEndTime = start, start.Add(time.Hour)
	r.Project.ID, r.Project.Name = "cloud-billing-292519", "cm_example"
	r.Project.Labels = []bqPair{{"cost-center", "42"}}
	r.Labels = []bqPair{{"env", "prod"}, {"team", "payments"}}
	r.Location.Region, r.Location.Zone = "us-central1", "us-central1-a"
	r.Cost, r.Currency = 1.25, "USD"
	r.Usage.Amount, r.Usage.Unit = 3600, "seconds"
	r.Credits = append(r.Credits, struct {
		Name   string  `parquet:"name"`
		Amount float64 `parquet:"amount"`
		Type   string  `parquet:"type"`
	}{"Sustained usage discount", -0.25, "SUSTAINED_USAGE_DISCOUNT"})
	r.Invoice.Month, r.CostType = "202208", "regular"
	r.Resource.Name, r.Resource.GlobalName = "instance-1", "//compute.googleapis.com/projects/cloud-billing-292519/zones/us-central1-a/instances/123"
	empty := r
	empty.Labels, empty.Credits, empty.Project.Labels = nil, nil, nil

	var buf bytes.Buffer
	w := parquet.NewGenericWriter[bqRow](&buf)
	if _, err := w.Write([]bqRow{r, empty}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sum, rows, err := readAll(t, bytesInput("bq.parquet", buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Format.Family != FamilyGCP || sum.Format.Container != ContainerParquet || sum.Kept != 2 {
		t.Fatalf("Read(bq.parquet) = %v, %d kept (%v); want 2 Google rows from Parquet", sum.Format, sum.Kept, sum.Examples)
	}
	got := rows[0]
	if got.ServiceName != "Compute Engine" || got.SkuID != "2E27-4F75-95CD" || got.SubAccountID != "cloud-billing-292519" ||
		got.RegionID != "us-central1" || got.ResourceID != r.Resource.GlobalName || !got.ChargePeriodStart.Equal(start) {
		t.Errorf("row 0 = %+v", got)
	}
	if got.BilledCost != domain.USD(1_000_000) || got.ListCost != domain.USD(1_250_000) {
		t.Errorf("row 0 billed %v list %v; want the credit taken off: 1.00 billed, 1.25 list", got.BilledCost, got.ListCost)
	}
	if diff := cmp.Diff(map[string]string{"env": "prod", "team": "payments", "project:cost-center": "42"}, got.Tags); diff != "" {
		t.Errorf("row 0 tags (-want +got):\n%s", diff)
	}
	if rows[1].BilledCost != domain.USD(1_250_000) || len(rows[1].Tags) != 0 {
		t.Errorf("row 1 (no labels, no credits) = billed %v tags %v", rows[1].BilledCost, rows[1].Tags)
	}
}
