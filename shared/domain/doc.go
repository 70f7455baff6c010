// Package domain holds the vocabulary every other cloudtrim package speaks:
// resources, utilization series, FOCUS cost rows, prices, money, policy,
// plans, actions, decisions, action states and audit events.
//
// It uses the standard library only and knows nothing of any cloud SDK,
// runtime or storage format, so that the arrows in the dependency graph
// always point towards it.
package domain
