package pubsubqueue

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// kinds maps the gRPC codes Pub/Sub answers with onto the domain's
// kinds. Codes left out (Unknown, Internal, DeadlineExceeded, DataLoss,
// Canceled) are transient: worth a retry, of no kind.
var kinds = map[codes.Code]error{
	codes.NotFound:           domain.ErrNotFound,
	codes.PermissionDenied:   domain.ErrPermission,
	codes.Unauthenticated:    domain.ErrPermission,
	codes.ResourceExhausted:  domain.ErrThrottled,
	codes.Unavailable:        domain.ErrThrottled,
	codes.AlreadyExists:      domain.ErrConflict,
	codes.Aborted:            domain.ErrConflict,
	codes.FailedPrecondition: domain.ErrConflict,
	codes.InvalidArgument:    domain.ErrInvalid,
	codes.OutOfRange:         domain.ErrInvalid,
	codes.Unimplemented:      domain.ErrUnsupported,
}

// kindOf returns the domain kind of a Pub/Sub error, nil when it has
// none. The client's errors carry a gRPC status (directly or in gax's
// apierror.APIError), which status.Code finds.
func kindOf(err error) error {
	return kinds[status.Code(err)]
}

// wrap names the operation and the resource (a topic or subscription's
// full name) and adds the domain kind of a Pub/Sub error, keeping the
// client's error in the chain for errors.As and status.Code. When ctx,
// the call's context, ended, its error is in the chain too, so that
// errors.Is(err, context.DeadlineExceeded) holds whatever the client
// made of it (gax returns the context's error, gRPC a DeadlineExceeded
// status).
func wrap(ctx context.Context, op, resource string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pubsub %s %s: %w: %w", op, resource, cerr, err)
	}
	if kind := kindOf(err); kind != nil {
		return fmt.Errorf("pubsub %s %s: %w: %w", op, resource, kind, err)
	}
	return fmt.Errorf("pubsub %s %s: %w", op, resource, err)
}

// call runs one Pub/Sub call under the queue's call timeout and wraps
// its error.
func call[T any](ctx context.Context, q *Queue, op, resource string, fn func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, q.cfg.CallTimeout)
	defer cancel()
	v, err := fn(cctx)
	return v, wrap(cctx, op, resource, err)
}
