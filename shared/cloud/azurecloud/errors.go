package azurecloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// codes maps Azure error codes (the "code" of an ARM error body, or the
// x-ms-error-code of a storage response) onto the domain's error kinds.
// A code decides before the HTTP status: a long-running operation that
// failed reports its code with the status of the polling response.
var codes = map[string]error{
	// throttling
	"TooManyRequests": domain.ErrThrottled, "SubscriptionRequestsThrottled": domain.ErrThrottled,
	"TenantRequestsThrottled": domain.ErrThrottled, "ResourceRequestsThrottled": domain.ErrThrottled,
	"OperationNotAllowedThrottled": domain.ErrThrottled, "ServerBusy": domain.ErrThrottled,
	"RetryableError": domain.ErrThrottled, "ResourceCollectionRequestsThrottled": domain.ErrThrottled,
	"TooManyRequestsReceived": domain.ErrThrottled,
	// identity and permission
	"AuthorizationFailed": domain.ErrPermission, "AuthenticationFailed": domain.ErrPermission,
	"InvalidAuthenticationToken": domain.ErrPermission, "ExpiredAuthenticationToken": domain.ErrPermission,
	"InvalidAuthenticationTokenTenant": domain.ErrPermission, "LinkedAuthorizationFailed": domain.ErrPermission,
	"AuthorizationPermissionMismatch": domain.ErrPermission, "SubscriptionNotRegistered": domain.ErrPermission,
	"MissingSubscriptionRegistration": domain.ErrPermission, "RequestDisallowedByPolicy": domain.ErrPermission,
	"ReadOnlyDisabledSubscription": domain.ErrPermission, "DisallowedOperation": domain.ErrPermission,
	"ScopeLocked": domain.ErrPermission,
	// not found
	"ResourceNotFound": domain.ErrNotFound, "NotFound": domain.ErrNotFound,
	"ResourceGroupNotFound": domain.ErrNotFound, "SubscriptionNotFound": domain.ErrNotFound,
	"ParentResourceNotFound": domain.ErrNotFound, "InvalidSubscriptionId": domain.ErrNotFound,
	"BlobNotFound": domain.ErrNotFound, "ContainerNotFound": domain.ErrNotFound,
	"QueueNotFound": domain.ErrNotFound, "MessageNotFound": domain.ErrNotFound,
	// conflicts with the resource's current state
	"Conflict": domain.ErrConflict, "OperationNotAllowed": domain.ErrConflict,
	"PropertyChangeNotAllowed": domain.ErrConflict, "OperationPreempted": domain.ErrConflict,
	"ConflictingUserInput": domain.ErrConflict, "AnotherOperationInProgress": domain.ErrConflict,
	"OperationNotAllowedOnDiskBeingAttached": domain.ErrConflict, "DiskBlobAlreadyInUseByAnotherDisk": domain.ErrConflict,
	"InUseSubnetCannotBeDeleted": domain.ErrConflict, "PublicIPAddressInUse": domain.ErrConflict,
	"PublicIPAddressCannotBeDeleted": domain.ErrConflict, "SkuNotAvailable": domain.ErrConflict,
	"AllocationFailed": domain.ErrConflict, "ZonalAllocationFailed": domain.ErrConflict,
	"OverconstrainedAllocationRequest": domain.ErrConflict, "VMRedeploymentFailed": domain.ErrConflict,
	"BlobAlreadyExists": domain.ErrConflict, "ConditionNotMet": domain.ErrConflict,
	"LeaseIdMissing": domain.ErrConflict, "PopReceiptMismatch": domain.ErrConflict,
	// the request itself is wrong
	"InvalidParameter": domain.ErrInvalid, "BadRequest": domain.ErrInvalid,
	"InvalidRequestContent": domain.ErrInvalid, "InvalidRequestFormat": domain.ErrInvalid,
	"InvalidResourceName": domain.ErrInvalid, "InvalidResourceType": domain.ErrInvalid,
	"InvalidApiVersionParameter": domain.ErrInvalid, "NoRegisteredProviderFound": domain.ErrInvalid,
	"LinkedInvalidPropertyId": domain.ErrInvalid, "InvalidTemplate": domain.ErrInvalid,
	"InvalidQueryParameterValue": domain.ErrInvalid, "InvalidHeaderValue": domain.ErrInvalid,
	"RequestBodyTooLarge": domain.ErrInvalid, "MessageTooLarge": domain.ErrInvalid,
	// refused by design
	"NotSupported": domain.ErrUnsupported, "FeatureNotSupported": domain.ErrUnsupported,
	"OperationNotSupported": domain.ErrUnsupported, "UnsupportedResourceOperation": domain.ErrUnsupported,
	"BillingAccountNotSupported": domain.ErrUnsupported, "IndirectCostDisabled": domain.ErrUnsupported,
}

// kindOf returns the domain kind of an Azure error code and HTTP status:
// the code's kind if the code is known, else the status's; nil means
// transient (a 5xx or an unknown error worth a retry after a re-read).
func kindOf(code string, status int) error {
	if kind, ok := codes[code]; ok {
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
	case status == http.StatusRequestEntityTooLarge:
		return domain.ErrInvalid
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout:
		return domain.ErrInvalid
	}
	return nil
}

// mapErr wraps err, which the Azure call named op returned, with the
// domain's error kind. Context errors pass through wrapped so callers
// see the deadline; an error of unknown kind is returned wrapped without
// a kind (transient).
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var resp *azcore.ResponseError
	if errors.As(err, &resp) {
		e := &Error{Op: op, Code: resp.ErrorCode, Status: resp.StatusCode, kind: kindOf(resp.ErrorCode, resp.StatusCode), err: err}
		if resp.RawResponse != nil {
			e.RetryAfter = retryAfter(resp.RawResponse.Header, time.Now())
		}
		return e
	}
	var auth *azidentity.AuthenticationFailedError
	if errors.As(err, &auth) {
		return &Error{Op: op, Code: "AuthenticationFailed", kind: domain.ErrPermission, err: err}
	}
	var unavailable *azidentity.AuthenticationRequiredError
	if errors.As(err, &unavailable) {
		return &Error{Op: op, Code: "AuthenticationRequired", kind: domain.ErrPermission, err: err}
	}
	if isCredentialUnavailable(err) {
		return &Error{Op: op, Code: "CredentialUnavailable", kind: domain.ErrPermission, err: err}
	}
	return &Error{Op: op, err: err}
}

// credentialUnavailableType is the type of azidentity's "credential
// unavailable" error, which it does not export: a method of an
// unexported name cannot be matched from another package, the type can.
var credentialUnavailableType = reflect.TypeOf(azidentity.NewCredentialUnavailableError(""))

// isCredentialUnavailable reports whether err says no credential in a
// chain could be used (no managed identity, no environment settings).
func isCredentialUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if reflect.TypeOf(err) == credentialUnavailableType {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return isCredentialUnavailable(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if isCredentialUnavailable(e) {
				return true
			}
		}
	}
	return false
}

// retryAfter reads how long Azure asked the caller to wait: the
// retry-after-ms and x-ms-retry-after-ms headers (milliseconds), then
// Retry-After (seconds or an HTTP date), then the longest of Cost
// Management's x-ms-ratelimit-*-retry-after (seconds). Zero means not
// said.
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if v := h.Get(name); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return rateLimitRetryAfter(h)
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s > 0 {
			return time.Duration(s) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Error is an Azure error with its call, code, status and domain kind.
type Error struct {
	Op     string
	Code   string
	Status int
	// RetryAfter is how long Azure asked to wait before the next call,
	// zero when it did not say.
	RetryAfter time.Duration
	kind       error
	err        error
}

// Error names the call, the Azure code and status and the SDK's
// message.
func (e *Error) Error() string {
	switch {
	case e.Code == "" && e.Status == 0:
		return fmt.Sprintf("%s: %v", e.Op, e.err)
	case e.Status == 0:
		return fmt.Sprintf("%s: %s: %v", e.Op, e.Code, e.err)
	}
	return fmt.Sprintf("%s: %s (HTTP %d): %v", e.Op, e.Code, e.Status, e.err)
}

// Is reports the domain kind, so errors.Is(err, domain.ErrThrottled)
// works.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.err }
