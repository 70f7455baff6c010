// Package optimize is the optimizer core: it reads committed snapshots
// (resources, utilization series, FOCUS cost rows), a price catalog and a
// policy, and produces a domain.Plan of rightsizing, idle-stop, schedule
// and orphan-cleanup actions, each with its evidence, its monthly
// savings, its risk and how to undo it. It also places the VMs the
// policy marks movable across clouds, regions and instance types with
// package placement, and adds the resulting variants to the plan as
// advice (see placement_model.go and docs/placement.md).
//
// The optimizer streams: it keeps the resources of one snapshot, folds
// cost rows into per-resource sums as they arrive and reduces each
// utilization series to a few statistics and daily peaks before the next
// one is read, so memory grows with the number of resources, never with
// the length of the series or the size of the bill.
//
// It depends only on the domain package and its own solver, package
// placement (pure Go, domain only), and defines the small Snapshot
// and Prices interfaces it consumes; the lake and the price catalogs
// satisfy them.
package optimize
