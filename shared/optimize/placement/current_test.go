package placement

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestCurrentCost checks that a workload's current cost replaces the
// list price of compute and storage where it runs, and only there.
func TestCurrentCost(t *testing.T) {
	in := handInstance()
	billed := domain.USD(30_000_000) // 30 a month, below a's list price
	in.Workloads = []Workload{{
		ID: "w", Current: "a", CurrentCost: &billed, VCPU: 3, MemoryGiB: 8, StorageGiB: 100,
		Flows: []Flow{{Cloud: domain.AWS, Region: "eu-west-1", OutGiB: 1000}},
	}}
	ev, err := NewEvaluator(in)
	if err != nil {
		t.Fatal(err)
	}
	// At a: the bill, and the traffic to eu-west-1 at AWS's 0.02.
	if got, want := ev.Cost(0, ev.Location("a")), (CostBreakdown{Compute: 30, Egress: 20}); got != want {
		t.Errorf("Cost(w, a) = %+v; want %+v", got, want)
	}
	// At c: the list price as before (TestCostBreakdown), traffic now
	// within the region, and the copy: 62.95.
	if got, want := ev.Cost(0, ev.Location("c")), (CostBreakdown{Compute: 54.75, Storage: 8, Migration: 0.2}); !near(got.Total(), want.Total(), 1e-12) {
		t.Errorf("Cost(w, c) = %+v; want %+v", got, want)
	}

	// At list price a costs 105.12 + 8 + 20, more than c; at the bill's
	// 30 + 20 it costs less, and the workload stays.
	for _, tc := range []struct {
		name string
		cost *domain.Money
		want string
	}{{"list price", nil, "c"}, {"bill", &billed, "a"}} {
		in.Workloads[0].CurrentCost = tc.cost
		in.Workloads[0].Policy = Policy{Locations: []string{"a", "c"}}
		res, err := Solve(context.Background(), in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, in, res)
		if got := in.Locations[res.Assignment[0]].ID; got != tc.want {
			t.Errorf("%s: workload placed at %s; want %s", tc.name, got, tc.want)
		}
	}
}

func TestCurrentCostRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Workload)
		field  string
	}{
		{"without a current location", func(w *Workload) { w.Current = "" }, "current_cost is set but current is not"},
		{"negative", func(w *Workload) { w.CurrentCost = &domain.Money{Micros: -1, Currency: "USD"} }, "current_cost is negative"},
		{"another currency", func(w *Workload) { w.CurrentCost = &domain.Money{Micros: 1, Currency: "EUR"} }, "current_cost is in EUR"},
	} {
		in := handInstance()
		cost := domain.USD(1)
		in.Workloads = []Workload{{ID: "w", Current: "a", CurrentCost: &cost, VCPU: 1}}
		tc.mutate(&in.Workloads[0])
		err := in.Validate()
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v; want ErrInvalid saying %q", tc.name, err, tc.field)
		}
	}
}
