package gcpfake

import "hash/fnv"

// NumericID returns the numeric ID the fakes give the resource with the
// relative name name ("projects/p/zones/z/instances/vm-1"): Compute
// Engine serves it as the resource's id, Cloud Monitoring as the
// instance_id label of a gce_instance, so the two fakes agree without
// sharing state. It is stable, positive and fits in an int64 as the real
// IDs do.
func NumericID(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()>>1 | 1<<62
}
