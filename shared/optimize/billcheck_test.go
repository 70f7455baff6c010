package optimize

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestBillCheck checks the comparison of inventory and bill: a resource
// the bill names by its ARN is matched, one the inventory lacks is listed
// with its cost and service, a running VM without usage is listed as not
// billed, and a stopped one is not (it bills nothing for compute).
func TestBillCheck(t *testing.T) {
	stopped := vm("i-stopped", "m5.large", nil)
	stopped.State = domain.StateStopped
	snap := &fakeSnapshot{ref: ref(),
		resources: []domain.Resource{vm("i-billed", "m5.large", nil), vm("i-unbilled", "m5.large", nil), stopped},
		rows: append(append(
			hourlyRows("arn:aws:ec2:us-east-1:111111111111:instance/i-billed", 48, "0.05", "0.096"),
			hourlyRows("nat-0abc", 24, "0.045", "0.045")...),
			hourlyRows("i-gone", 10, "0.2", "0.2")...),
	}
	for i := range snap.rows {
		if snap.rows[i].ResourceID == "nat-0abc" {
			snap.rows[i].ServiceName = "Amazon Virtual Private Cloud"
		}
	}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	if len(plan.BillChecks) != 1 {
		t.Fatalf("plan has %d bill checks; want 1", len(plan.BillChecks))
	}
	want := domain.BillCheck{
		Cloud: domain.AWS, Source: "collector", ResourceRows: true,
		BilledNotInInventory: 2, BilledNotInInventoryCost: usd("3.08"),
		TopBilledNotInInventory: []domain.BilledItem{
			{ResourceID: "i-gone", Cost: usd("2")},
			{ResourceID: "nat-0abc", Service: "Amazon Virtual Private Cloud", Cost: usd("1.08")},
		},
		InventoryNotBilled:         1,
		ExamplesInventoryNotBilled: []domain.ResourceRef{vm("i-unbilled", "m5.large", nil).Ref()},
	}
	if diff := cmp.Diff(want, plan.BillChecks[0]); diff != "" {
		t.Errorf("BillChecks[0] (-want +got):\n%s", diff)
	}
}

// TestBillCheckWithoutResourceRows checks that a bill without
// resource-level rows compares nothing rather than calling every resource
// unbilled.
func TestBillCheckWithoutResourceRows(t *testing.T) {
	snap := &fakeSnapshot{ref: ref(), resources: []domain.Resource{vm("i-1", "m5.large", nil)}, rows: hourlyRows("", 24, "1", "1")}
	plan := optimize(t, domain.DefaultPolicy(), snap)
	if bc := plan.BillChecks[0]; bc.ResourceRows || bc.InventoryNotBilled != 0 {
		t.Errorf("BillChecks[0] = %+v; want no resource rows and nothing compared", bc)
	}
}
