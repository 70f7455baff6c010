package gcpcloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// reasons maps Google API error reasons (the "reason" of a googleapi
// error item, or of a google.rpc.ErrorInfo detail) and Compute Engine
// operation error codes onto the domain's error kinds. A reason decides
// before the status: a failed operation reports its code in a 200
// answer, and quota errors come as 403.
var reasons = map[string]error{
	// throttling and quota
	"rateLimitExceeded": domain.ErrThrottled, "userRateLimitExceeded": domain.ErrThrottled,
	"RATE_LIMIT_EXCEEDED": domain.ErrThrottled, "quotaExceeded": domain.ErrThrottled,
	"QUOTA_EXCEEDED": domain.ErrThrottled, "dailyLimitExceeded": domain.ErrThrottled,
	"backendError": nil, "internalError": nil,
	// identity and permission
	"forbidden": domain.ErrPermission, "insufficientPermissions": domain.ErrPermission,
	"IAM_PERMISSION_DENIED": domain.ErrPermission, "accessNotConfigured": domain.ErrPermission,
	"SERVICE_DISABLED": domain.ErrPermission, "authError": domain.ErrPermission,
	"ACCESS_TOKEN_EXPIRED": domain.ErrPermission, "CREDENTIALS_MISSING": domain.ErrPermission,
	"ACCESS_TOKEN_SCOPE_INSUFFICIENT": domain.ErrPermission, "USER_PROJECT_DENIED": domain.ErrPermission,
	"BILLING_DISABLED": domain.ErrPermission, "projectNotLinked": domain.ErrPermission,
	// not found
	"notFound": domain.ErrNotFound, "RESOURCE_NOT_FOUND": domain.ErrNotFound,
	"projectNotFound": domain.ErrNotFound,
	// conflicts with the resource's current state
	"resourceInUseByAnotherResource": domain.ErrConflict, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE": domain.ErrConflict,
	"alreadyExists": domain.ErrConflict, "RESOURCE_ALREADY_EXISTS": domain.ErrConflict,
	"resourceNotReady": domain.ErrConflict, "RESOURCE_NOT_READY": domain.ErrConflict,
	"conditionNotMet": domain.ErrConflict, "CONDITION_NOT_MET": domain.ErrConflict,
	"ZONE_RESOURCE_POOL_EXHAUSTED": domain.ErrConflict, "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS": domain.ErrConflict,
	"UNSUPPORTED_OPERATION": domain.ErrConflict, "RESOURCE_OPERATION_RATE_EXCEEDED": domain.ErrThrottled,
	"operationInProgress": domain.ErrConflict, "resourceNotFound": domain.ErrNotFound,
	// the request itself is wrong
	"invalid": domain.ErrInvalid, "badRequest": domain.ErrInvalid, "invalidParameter": domain.ErrInvalid,
	"required": domain.ErrInvalid, "INVALID_FIELD_VALUE": domain.ErrInvalid, "INVALID_USAGE": domain.ErrInvalid,
	"REQUIRED_FIELD_MISSING": domain.ErrInvalid,
}

// kindOf returns the domain kind of a Google API error reason and HTTP
// status: the reason's kind if the reason is known, else the status's;
// nil means transient (a 5xx, or an unknown error worth a retry after a
// re-read).
func kindOf(reason string, status int) error {
	if kind, ok := reasons[reason]; ok {
		return kind
	}
	switch {
	case status == http.StatusTooManyRequests:
		return domain.ErrThrottled
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return domain.ErrPermission
	case status == http.StatusNotFound || status == http.StatusGone:
		return domain.ErrNotFound
	case status == http.StatusConflict || status == http.StatusPreconditionFailed:
		return domain.ErrConflict
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout:
		return domain.ErrInvalid
	}
	return nil
}

// grpcStatus is the HTTP status Google documents for each gRPC code
// (google.rpc.Code), so one table maps both transports.
var grpcStatus = map[codes.Code]int{
	codes.InvalidArgument: http.StatusBadRequest, codes.FailedPrecondition: http.StatusBadRequest,
	codes.OutOfRange: http.StatusBadRequest, codes.Unauthenticated: http.StatusUnauthorized,
	codes.PermissionDenied: http.StatusForbidden, codes.NotFound: http.StatusNotFound,
	codes.Aborted: http.StatusConflict, codes.AlreadyExists: http.StatusConflict,
	codes.ResourceExhausted: http.StatusTooManyRequests, codes.Canceled: 499,
	codes.DataLoss: http.StatusInternalServerError, codes.Unknown: http.StatusInternalServerError,
	codes.Internal: http.StatusInternalServerError, codes.Unimplemented: http.StatusNotImplemented,
	codes.Unavailable: http.StatusServiceUnavailable, codes.DeadlineExceeded: http.StatusGatewayTimeout,
}

// mapErr wraps err, which the Google API call named op returned, with
// the domain's error kind. Context errors pass through wrapped so callers
// see the deadline; an error of unknown kind is returned wrapped without
// a kind (transient). Works for the REST clients (googleapi.Error), the
// gRPC clients (status) and both through gax's apierror.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var already *Error
	if errors.As(err, &already) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) {
		return &Error{Op: op, Reason: "ACCESS_TOKEN_EXPIRED", Status: http.StatusUnauthorized, kind: domain.ErrPermission, err: err}
	}
	// An APIError the client returned already is read as is: made again
	// from it, FromError keeps neither the HTTP status nor the reason of
	// its ErrorInfo (a 429 RATE_LIMIT_EXCEEDED would read as no reason).
	ae, ok := errors.AsType[*apierror.APIError](err)
	if !ok {
		ae, ok = apierror.FromError(err)
	}
	if ok {
		st := ae.HTTPCode()
		var herr *googleapi.Error
		if st <= 0 && errors.As(err, &herr) {
			// A REST error gax wrapped already: the APIError made of it
			// again keeps only the gRPC code (412 would read 400).
			st = herr.Code
		}
		if st <= 0 && ae.GRPCStatus() != nil {
			st = grpcStatus[ae.GRPCStatus().Code()]
		}
		reason := ae.Reason()
		if reason == "" {
			reason = firstReason(err)
		}
		return &Error{Op: op, Reason: reason, Status: st, kind: kindOf(reason, st), err: err}
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		reason := firstReason(err)
		return &Error{Op: op, Reason: reason, Status: gerr.Code, kind: kindOf(reason, gerr.Code), err: err}
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.OK && s.Code() != codes.Unknown {
		st := grpcStatus[s.Code()]
		return &Error{Op: op, Reason: s.Code().String(), Status: st, kind: kindOf("", st), err: err}
	}
	return &Error{Op: op, err: err}
}

// firstReason returns the reason of the first item of a googleapi
// error, or "".
func firstReason(err error) string {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		for _, it := range gerr.Errors {
			if it.Reason != "" {
				return it.Reason
			}
		}
	}
	return ""
}

// operationErr maps the error a Compute Engine operation finished with
// (its error.errors[].code, e.g. RESOURCE_IN_USE_BY_ANOTHER_RESOURCE or
// QUOTA_EXCEEDED, and the operation's httpErrorStatusCode) onto an Error.
func operationErr(op string, codesSeen []string, messages []string, httpStatus int) error {
	reason := ""
	if len(codesSeen) > 0 {
		reason = codesSeen[0]
	}
	msg := strings.Join(messages, "; ")
	if msg == "" {
		msg = "the operation failed"
	}
	return &Error{Op: op, Reason: reason, Status: httpStatus, kind: kindOf(reason, httpStatus), err: errors.New(msg)}
}

// Error is a Google Cloud error with its call, reason, HTTP status (or
// the status Google documents for its gRPC code) and domain kind.
type Error struct {
	Op     string
	Reason string
	Status int
	kind   error
	err    error
}

// Error names the call, the reason and status and the API's message.
func (e *Error) Error() string {
	switch {
	case e.Reason == "" && e.Status == 0:
		return fmt.Sprintf("%s: %v", e.Op, e.err)
	case e.Status == 0:
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Reason, e.err)
	}
	return fmt.Sprintf("%s: %s (HTTP %d): %v", e.Op, e.Reason, e.Status, e.err)
}

// Is reports the domain kind, so errors.Is(err, domain.ErrThrottled)
// works.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.err }
