// Package approve is the approval core: it authenticates a request from
// one of three channels (the signed webhook, a Slack button, a signed
// single-use link), binds each decision to the exact plan and action by
// hash, checks the approval policy (who may decide what, and which
// actions need two approvers), records the decision with who made it,
// and enqueues approved actions for the actuator of the cloud that owns
// the resource. It knows nothing of HTTP: runtime adapters turn requests
// into Request values and tokens.
package approve
