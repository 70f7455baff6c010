// Package actuate is the actuator core: it takes an approved, queued
// action, checks the approval and the live resource, applies the change
// idempotently through a cloud's Resources, verifies it and records the
// outcome and an audit trail.
package actuate
