// Package actuate is the actuator core: it takes an approved, queued
// action, checks the approval and the live resource, applies the change
// idempotently through a cloud's Resources, verifies it and records the
// outcome and an audit trail. It stops for the kill switch, an open
// circuit breaker, a blast-radius cap (which fails closed on a partial
// inventory) and self-service overrides; docs/actuation.md lists the
// guarantees and how each is enforced and tested.
package actuate
