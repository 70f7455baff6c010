package domain

import "errors"

// Error kinds. Every package wraps one of these so callers can decide
// with errors.Is what to do (retry, skip, report) without knowing which
// cloud or store produced the error.
var (
	ErrInvalid     = errors.New("invalid")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrPermission  = errors.New("permission denied")
	ErrThrottled   = errors.New("throttled")
	ErrUnsupported = errors.New("unsupported")
	ErrDrift       = errors.New("resource drifted from the approved state")
)
