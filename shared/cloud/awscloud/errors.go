package awscloud

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// kinds maps AWS error codes onto the domain's error kinds. Codes not
// listed are transient (retried by the actuator after a re-read) unless
// the HTTP status says the request itself was wrong.
var kinds = map[string]error{
	// throttling
	"Throttling": domain.ErrThrottled, "ThrottlingException": domain.ErrThrottled,
	"RequestLimitExceeded": domain.ErrThrottled, "RequestThrottled": domain.ErrThrottled,
	"RequestThrottledException": domain.ErrThrottled, "TooManyRequestsException": domain.ErrThrottled,
	"LimitExceededException": domain.ErrThrottled, "SlowDown": domain.ErrThrottled,
	"ProvisionedThroughputExceededException": domain.ErrThrottled,
	// identity and permission
	"UnauthorizedOperation": domain.ErrPermission, "AccessDenied": domain.ErrPermission,
	"AccessDeniedException": domain.ErrPermission, "AuthFailure": domain.ErrPermission,
	"ExpiredToken": domain.ErrPermission, "ExpiredTokenException": domain.ErrPermission,
	"InvalidClientTokenId": domain.ErrPermission, "UnrecognizedClientException": domain.ErrPermission,
	"SignatureDoesNotMatch": domain.ErrPermission, "OptInRequired": domain.ErrPermission,
	"Blocked": domain.ErrPermission, "InvalidToken": domain.ErrPermission,
	// not found
	"InvalidInstanceID.NotFound": domain.ErrNotFound, "InvalidVolume.NotFound": domain.ErrNotFound,
	"InvalidAllocationID.NotFound": domain.ErrNotFound, "InvalidSnapshot.NotFound": domain.ErrNotFound,
	"InvalidAddress.NotFound": domain.ErrNotFound, "ResourceNotFoundException": domain.ErrNotFound,
	"InvalidGroup.NotFound": domain.ErrNotFound, "NotFoundException": domain.ErrNotFound,
	// conflicts with the resource's current state
	"IncorrectInstanceState": domain.ErrConflict, "IncorrectState": domain.ErrConflict,
	"VolumeInUse": domain.ErrConflict, "InvalidIPAddress.InUse": domain.ErrConflict,
	"InvalidSnapshot.InUse": domain.ErrConflict, "InvalidVolume.ZoneMismatch": domain.ErrConflict,
	"InvalidAddress.Locked": domain.ErrConflict, "ConcurrentTagAccess": domain.ErrConflict,
	"InvalidInstanceAttributeValue": domain.ErrConflict,
	// the request itself is wrong
	"InvalidParameterValue": domain.ErrInvalid, "InvalidParameter": domain.ErrInvalid,
	"InvalidParameterCombination": domain.ErrInvalid, "MissingParameter": domain.ErrInvalid,
	"ValidationException": domain.ErrInvalid, "ValidationError": domain.ErrInvalid,
	"InvalidInstanceID.Malformed": domain.ErrInvalid, "InvalidVolumeID.Malformed": domain.ErrInvalid,
	"InvalidAllocationID.Malformed": domain.ErrInvalid, "InvalidSnapshotID.Malformed": domain.ErrInvalid,
	"InvalidNextToken": domain.ErrInvalid, "InvalidNextTokenException": domain.ErrInvalid,
	"BillExpirationException": domain.ErrInvalid,
	// refused by design
	"Unsupported": domain.ErrUnsupported, "UnsupportedOperation": domain.ErrUnsupported,
	"UnsupportedOperationException": domain.ErrUnsupported, "DataUnavailableException": domain.ErrUnsupported,
	"UnresolvableUsageUnitException": domain.ErrUnsupported,
}

// kindOf returns the domain kind of an AWS error code, or nil.
func kindOf(code string) error { return kinds[code] }

// mapErr wraps err, which an AWS call named op returned, with the
// domain's error kind. Context errors pass through unchanged so callers
// see the deadline; an error whose kind is unknown is returned wrapped
// without a kind (transient).
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var maxAttempts *retry.MaxAttemptsError
	throttledOut := errors.As(err, &maxAttempts)
	var api smithy.APIError
	if errors.As(err, &api) {
		if kind := kindOf(api.ErrorCode()); kind != nil {
			return &Error{Op: op, Code: api.ErrorCode(), Message: api.ErrorMessage(), kind: kind, err: err}
		}
		if api.ErrorFault() == smithy.FaultClient && !throttledOut {
			return &Error{Op: op, Code: api.ErrorCode(), Message: api.ErrorMessage(), kind: domain.ErrInvalid, err: err}
		}
		return &Error{Op: op, Code: api.ErrorCode(), Message: api.ErrorMessage(), err: err}
	}
	var signing *v4.SigningError
	if errors.As(err, &signing) {
		return &Error{Op: op, Code: "CredentialsError", Message: "no usable AWS credentials: " + signing.Error(), kind: domain.ErrPermission, err: err}
	}
	return &Error{Op: op, err: err}
}

// Error is an AWS error with its call, code and domain kind.
type Error struct {
	Op      string
	Code    string
	Message string
	kind    error
	err     error
}

// Error names the call, the AWS code and the message.
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%s: %v", e.Op, e.err)
	}
	if e.Message == "" {
		return fmt.Sprintf("%s: %s", e.Op, e.Code)
	}
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Code, e.Message)
}

// Is reports the domain kind, so errors.Is(err, domain.ErrThrottled)
// works.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.err }
