package lake

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// costRowV1 is the costs table as cloudtrim.costs/v1 wrote it.
type costRowV1 struct {
	BillingAccountID string            `parquet:"BillingAccountId,dict"`
	SubAccountID     string            `parquet:"SubAccountId,dict"`
	BillingCurrency  string            `parquet:"BillingCurrency,dict"`
	BilledCost       int64             `parquet:"BilledCost,decimal(6:18)"`
	EffectiveCost    int64             `parquet:"EffectiveCost,decimal(6:18)"`
	ResourceID       string            `parquet:"ResourceId"`
	Tags             map[string]string `parquet:"Tags"`
	XCloud           string            `parquet:"x_Cloud,dict"`
}

// TestCostsV1FilesStillRead checks that a costs file written before the
// v2 columns existed decodes with the v2 row type, the new columns empty.
func TestCostsV1FilesStillRead(t *testing.T) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[costRowV1](&buf)
	in := []costRowV1{{BillingAccountID: "111", SubAccountID: "222", BillingCurrency: "EUR", BilledCost: 1_500_000, EffectiveCost: 1_250_000, ResourceID: "i-1", Tags: map[string]string{"team": "a"}, XCloud: "aws"}}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []costRow
	n, err := decodeRows(buf.Bytes(), make([]costRow, 4), func(r *costRow) error { got = append(got, *r); return nil })
	if err != nil || n != 1 {
		t.Fatalf("decodeRows(v1 file) = %d rows, %v; want 1 row", n, err)
	}
	r := got[0].domain()
	if r.BilledCost.Micros != 1_500_000 || r.EffectiveCost.Micros != 1_250_000 || r.ResourceID != "i-1" || r.Tags["team"] != "a" || r.BillingCurrency != "EUR" {
		t.Errorf("v1 row read as %+v", r)
	}
	if r.XUsageType != "" || r.InvoiceID != "" || r.CommitmentDiscountQuantity != 0 {
		t.Errorf("v1 row has v2 columns filled: %+v", r)
	}
}

// resourceRowV1 is the resources table as cloudtrim.resources/v1 wrote it.
type resourceRowV1 struct {
	Cloud      string `parquet:"cloud,dict"`
	Kind       string `parquet:"kind,dict"`
	ID         string `parquet:"id"`
	SKU        string `parquet:"sku,dict"`
	AttachedTo string `parquet:"attached_to"`
	Incomplete string `parquet:"incomplete"`
}

// TestResourcesV1FilesStillRead checks that a resources file written
// before the tiering column existed decodes, tiering empty.
func TestResourcesV1FilesStillRead(t *testing.T) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[resourceRowV1](&buf)
	if _, err := w.Write([]resourceRowV1{{Cloud: "aws", Kind: "disk", ID: "vol-1", SKU: "gp2", AttachedTo: "i-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []resourceRow
	n, err := decodeRows(buf.Bytes(), make([]resourceRow, 4), func(r *resourceRow) error { got = append(got, *r); return nil })
	if err != nil || n != 1 {
		t.Fatalf("decodeRows(v1 file) = %d rows, %v; want 1 row", n, err)
	}
	if r := got[0].domain(); r.ID != "vol-1" || r.SKU != "gp2" || r.AttachedTo != "i-1" || r.Tiering != "" {
		t.Errorf("v1 row read as %+v", r)
	}
}
