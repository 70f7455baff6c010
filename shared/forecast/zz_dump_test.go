package forecast

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

func TestZZDump(t *testing.T) {
	ctx := context.Background()
	l, err := lake.Open(ctx, "file:///tmp/fdemo/lake")
	if err != nil {
		t.Fatal(err)
	}
	type k struct{ day, cloud, acct, svc string }
	sums := map[k]float64{}
	for _, c := range domain.Clouds {
		snaps, err := l.CurrentBilling(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			err := s.CostRows(ctx, func(r domain.CostRow) error {
				// spread not handled: assume daily rows
				d := r.ChargePeriodStart.UTC().Format("2006-01-02")
				if r.ChargePeriodEnd.Sub(r.ChargePeriodStart).Hours() > 24 {
					fmt.Println("long row", r.ChargePeriodStart, r.ChargePeriodEnd)
				}
				amt := r.EffectiveCost
				if amt.Micros == 0 { amt = r.BilledCost }
				sums[k{d, string(c), r.SubAccountID, r.ServiceName}] += amt.Float()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var keys []k
	for kk := range sums {
		keys = append(keys, kk)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.cloud != b.cloud { return a.cloud < b.cloud }
		if a.acct != b.acct { return a.acct < b.acct }
		if a.svc != b.svc { return a.svc < b.svc }
		return a.day < b.day
	})
	f, _ := os.Create("/tmp/dump/all.csv")
	defer f.Close()
	fmt.Fprintln(f, "day,cloud,account,service,amount")
	for _, kk := range keys {
		fmt.Fprintf(f, "%s,%s,%s,%s,%.6f\n", kk.day, kk.cloud, kk.acct, kk.svc, sums[kk])
	}
}
