// Package approve is the approval core: it authenticates a signed
// request, binds each decision to the exact plan and action by hash,
// records it with who made it, and enqueues approved actions for the
// actuator of the cloud that owns the resource. It knows nothing of
// HTTP: runtime adapters turn requests into Request values.
package approve
