package lake_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

func billingRow(day string, cost int64) domain.CostRow {
	start, _ := time.Parse(time.DateOnly, day)
	return domain.CostRow{
		BillingAccountID: "111111111111", SubAccountID: "222222222222", ProviderName: "AWS",
		ChargePeriodStart: start, ChargePeriodEnd: start.Add(24 * time.Hour), ChargeCategory: domain.ChargeUsage,
		BillingCurrency: "USD", BilledCost: domain.USD(cost), EffectiveCost: domain.USD(cost), XCloud: domain.AWS,
	}
}

func ingest(t *testing.T, l *lake.Lake, runID string, rows ...domain.CostRow) lake.Manifest {
	t.Helper()
	ctx := context.Background()
	w := l.BeginBilling(domain.AWS, runID, lake.Window{}, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	if err := w.WriteCostRows(ctx, rows); err != nil {
		t.Fatal(err)
	}
	m, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCurrentBillingReplacesMonths checks that a re-ingested month
// replaces the earlier run's rows of that month and keeps its others, and
// that billing runs never disturb the collector snapshots.
func TestCurrentBillingReplacesMonths(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	m1 := ingest(t, l, "20261101T000000.000Z-00000001", billingRow("2026-09-05", 1_000_000), billingRow("2026-10-05", 2_000_000))
	if diff := cmp.Diff([]string{"2026-09", "2026-10"}, m1.Periods); diff != "" || m1.Dataset != lake.DatasetBilling {
		t.Fatalf("first billing manifest dataset %q periods (-want +got):\n%s", m1.Dataset, diff)
	}
	ingest(t, l, "20261102T000000.000Z-00000002", billingRow("2026-10-07", 5_000_000), billingRow("2026-10-08", 7_000_000))

	snaps, err := l.CurrentBilling(ctx, domain.AWS)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var days []string
	for _, s := range snaps {
		if err := s.CostRows(ctx, func(r domain.CostRow) error {
			total += r.BilledCost.Micros
			days = append(days, r.ChargePeriodStart.Format(time.DateOnly))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if want := int64(1_000_000 + 5_000_000 + 7_000_000); total != want {
		t.Errorf("CurrentBilling total = %d; want %d (September from run 1, October from run 2), days %v", total, want, days)
	}
	if _, err := l.LatestSnapshot(ctx, domain.AWS); err == nil {
		t.Error("LatestSnapshot found a snapshot; billing runs must not move the collector's pointer")
	}
	latest, err := l.LatestBilling(ctx, domain.AWS)
	if err != nil || latest.Manifest().RunID != "20261102T000000.000Z-00000002" {
		t.Errorf("LatestBilling = %v, %v; want the second run", latest, err)
	}
	if _, err := l.OpenSnapshot(ctx, domain.AWS, "20261102T000000.000Z-00000002"); err == nil {
		t.Error("OpenSnapshot opened a billing run")
	}
}
