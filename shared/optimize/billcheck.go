package optimize

import (
	"cmp"
	"slices"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// billCheck compares what the snapshot inventoried with what its cost
// rows billed.
func (st *snapshotState) billCheck(currency string) domain.BillCheck {
	bc := domain.BillCheck{Cloud: st.ref.Cloud, Source: st.costSource}
	matched := 0
	for i := range st.entries.len() {
		if st.entries.at(i).billed {
			matched++
		}
	}
	bc.ResourceRows = matched > 0 || len(st.notInInventory) > 0
	if !bc.ResourceRows {
		return bc
	}
	var items []domain.BilledItem
	var total int64
	for _, b := range st.notInInventory {
		c := b.cost[currency]
		total += c
		items = append(items, domain.BilledItem{ResourceID: b.id, Service: b.service, Cost: domain.Money{Micros: c, Currency: currency}})
	}
	slices.SortFunc(items, func(a, b domain.BilledItem) int {
		return cmp.Or(cmp.Compare(b.Cost.Micros, a.Cost.Micros), cmp.Compare(a.ResourceID, b.ResourceID))
	})
	bc.BilledNotInInventory = len(items)
	bc.BilledNotInInventoryCost = domain.Money{Micros: total, Currency: currency}
	bc.TopBilledNotInInventory = items[:min(len(items), 10)]
	var unbilled []domain.ResourceRef
	for i := range st.entries.len() {
		e := st.entries.at(i)
		if e.billed || !shouldBill(e.res) {
			continue
		}
		unbilled = append(unbilled, e.res.Ref())
	}
	slices.SortFunc(unbilled, func(a, b domain.ResourceRef) int { return cmp.Compare(a.ID, b.ID) })
	bc.InventoryNotBilled = len(unbilled)
	bc.ExamplesInventoryNotBilled = unbilled[:min(len(unbilled), 10)]
	return bc
}

// shouldBill reports whether a resource in this state is charged for:
// a stopped VM bills nothing for compute, everything else bills while it
// exists.
func shouldBill(r domain.Resource) bool {
	if r.Kind == domain.KindVM {
		// A VM stopped without deallocation still bills for its size.
		return r.State == domain.StateRunning || r.State == domain.StateStoppedAllocated
	}
	return true
}
