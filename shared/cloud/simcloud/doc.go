// Package simcloud is a simulated estate spanning AWS, Azure and Google
// Cloud, served through the same interfaces a real cloud provider serves:
// each Cloud implements collect.Provider (inventory, utilization, FOCUS
// cost rows) and actuate.Resources (live reads and idempotent mutations).
//
// The estate is generated deterministically from a seed: accounts,
// subscriptions and projects with IDs shaped like the real clouds' IDs;
// VMs of several archetypes (well-sized, oversized, idle, non-production
// fleets busy only in working hours, memory-bound, new, stopped); disks,
// addresses and snapshots, some of them orphaned; opt-in, protection and
// unreadable tags. Prices come from the price catalog (package pricing)
// and utilization from real public traces (NAB AWS CloudWatch and
// Bitbrains GWA-T-12, see traces/README.md) committed as compact hourly
// CSVs and embedded in the binary; utilization series are computed on
// demand, so an estate of 100,000 resources is cheap to build and hold.
//
// The estate is for the local demo and for tests. It never touches the
// network or the file system, and every mutating call is recorded so a
// test can prove that a dry run changed nothing.
package simcloud
