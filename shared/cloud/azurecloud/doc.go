// Package azurecloud is the Azure provider: it reads virtual machines,
// managed disks, public IP addresses and snapshots across the
// subscriptions an identity can read, their Azure Monitor metrics, their
// cost (Cost Management Query API and cost exports) and retail prices,
// and it carries out the actuator's actions on them. It is, with the
// other cloud packages, the only user of a cloud SDK.
//
// Reading. A scope is one subscription in one region: the region is what
// Azure Monitor queries and what the actuator's coverage check names,
// while ARM lists each kind of resource per subscription (see
// Provider.Scopes). Resource IDs are kept as each resource's own ARM
// listing spells them and compared by domain.ResourceKey (lower case),
// since Azure Monitor and Cost Management spell them otherwise. Metrics
// are read for up to 50 VMs of a region per query (Provider.Series), cost
// from the Cost Management query API as ActualCost and AmortizedCost
// merged, mapped to FOCUS by the export reader of package focus so that
// API and export rows agree (Provider.CostRows), prices from the public
// Retail Prices API (Provider.Prices). The identity needs Reader and
// Monitoring Reader on each subscription, and Cost Management Reader for
// its cost.
//
// Azure errors are mapped onto the domain's error kinds in errors.go
// only.
package azurecloud
