package storagequeue

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// codes maps the Queue service's error codes (x-ms-error-code) onto the
// domain's kinds. A code decides before the HTTP status.
var codes = map[string]error{
	"QueueNotFound": domain.ErrNotFound, "MessageNotFound": domain.ErrNotFound,
	"ResourceNotFound": domain.ErrNotFound,

	"AuthenticationFailed": domain.ErrPermission, "AuthorizationFailure": domain.ErrPermission,
	"AuthorizationPermissionMismatch": domain.ErrPermission, "AuthorizationProtocolMismatch": domain.ErrPermission,
	"AuthorizationResourceTypeMismatch": domain.ErrPermission, "AuthorizationServiceMismatch": domain.ErrPermission,
	"AuthorizationSourceIPMismatch": domain.ErrPermission, "InsufficientAccountPermissions": domain.ErrPermission,
	"AccountIsDisabled": domain.ErrPermission, "InvalidAuthenticationInfo": domain.ErrPermission,

	"ServerBusy": domain.ErrThrottled, "TooManyRequests": domain.ErrThrottled,

	"QueueAlreadyExists": domain.ErrConflict, "QueueBeingDeleted": domain.ErrConflict,
	"QueueDisabled": domain.ErrConflict, "QueueNotEmpty": domain.ErrConflict,
	"PopReceiptMismatch": domain.ErrConflict, "ConditionNotMet": domain.ErrConflict,
	"ResourceAlreadyExists": domain.ErrConflict, "AccountBeingCreated": domain.ErrConflict,

	"MessageTooLarge": domain.ErrInvalid, "RequestBodyTooLarge": domain.ErrInvalid,
	"InvalidInput": domain.ErrInvalid, "InvalidHeaderValue": domain.ErrInvalid,
	"InvalidQueryParameterValue": domain.ErrInvalid, "InvalidResourceName": domain.ErrInvalid,
	"InvalidUri": domain.ErrInvalid, "InvalidXmlDocument": domain.ErrInvalid,
	"InvalidXmlNodeValue": domain.ErrInvalid, "InvalidMarker": domain.ErrInvalid,
	"InvalidMetadata": domain.ErrInvalid, "EmptyMetadataKey": domain.ErrInvalid,
	"MetadataTooLarge": domain.ErrInvalid, "InvalidMd5": domain.ErrInvalid,
	"Md5Mismatch": domain.ErrInvalid, "InvalidRange": domain.ErrInvalid,
	"OutOfRangeInput": domain.ErrInvalid, "OutOfRangeQueryParameterValue": domain.ErrInvalid,
	"MissingRequiredHeader": domain.ErrInvalid, "MissingRequiredQueryParameter": domain.ErrInvalid,
	"MissingRequiredXmlNode": domain.ErrInvalid, "MissingContentLengthHeader": domain.ErrInvalid,
	"RequestUrlFailedToParse": domain.ErrInvalid, "ResourceTypeMismatch": domain.ErrInvalid,

	"UnsupportedHeader": domain.ErrUnsupported, "UnsupportedQueryParameter": domain.ErrUnsupported,
	"UnsupportedXmlNode": domain.ErrUnsupported, "UnsupportedHttpVerb": domain.ErrUnsupported,
	"InvalidHttpVerb": domain.ErrUnsupported, "FeatureVersionMismatch": domain.ErrUnsupported,
	"ConditionHeadersNotSupported": domain.ErrUnsupported, "MultipleConditionHeadersNotSupported": domain.ErrUnsupported,
}

// kindOf returns the domain kind of an Azure error: the code's kind if
// the code is known, else the HTTP status's; nil for a transient failure
// (500 InternalError, 500 OperationTimedOut, a network error).
func kindOf(err error) error {
	var resp *azcore.ResponseError
	if errors.As(err, &resp) {
		if kind, ok := codes[resp.ErrorCode]; ok {
			return kind
		}
		switch s := resp.StatusCode; {
		case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
			return domain.ErrThrottled
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return domain.ErrPermission
		case s == http.StatusNotFound:
			return domain.ErrNotFound
		case s == http.StatusConflict || s == http.StatusPreconditionFailed:
			return domain.ErrConflict
		case s >= 400 && s < 500 && s != http.StatusRequestTimeout:
			return domain.ErrInvalid
		}
		return nil
	}
	// The identity could not get a token (no managed identity assigned,
	// a refused client secret, no token endpoint): the deployment lacks
	// the permission to call at all.
	var tokenErr *tokenError
	if errors.As(err, &tokenErr) {
		return domain.ErrPermission
	}
	return nil
}

// tokenError is a failure of Options.Credential to get a token.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get a token for Azure Storage: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// markedCredential marks the errors of a token credential as tokenError,
// so that kindOf can tell them from the service's answers.
type markedCredential struct{ cred azcore.TokenCredential }

func (c markedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.cred.GetToken(ctx, opts)
	if err != nil && ctx.Err() == nil {
		return tok, &tokenError{err}
	}
	return tok, err
}

// wrap names the operation and the queue and adds the domain kind of an
// Azure error, keeping the SDK's error in the chain for errors.As.
// Context errors keep their identity; an error of no known kind is
// wrapped without one.
func wrap(op, queueURL string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("azure queue %s %s: %w", op, queueURL, err)
	}
	if kind := kindOf(err); kind != nil {
		return fmt.Errorf("azure queue %s %s: %w: %w", op, queueURL, kind, err)
	}
	return fmt.Errorf("azure queue %s %s: %w", op, queueURL, err)
}

// hasCode reports whether err is an Azure response error with one of
// codes.
func hasCode(err error, codes ...string) bool {
	var resp *azcore.ResponseError
	if !errors.As(err, &resp) {
		return false
	}
	for _, c := range codes {
		if resp.ErrorCode == c {
			return true
		}
	}
	return false
}

// stalePopReceipt reports whether err says a pop receipt no longer names
// the message's current delivery: the message was deleted (404
// MessageNotFound) or delivered again since (400 PopReceiptMismatch).
func stalePopReceipt(err error) bool {
	return hasCode(err, "MessageNotFound", "PopReceiptMismatch")
}

// queueMissing reports whether err says the queue does not exist.
func queueMissing(err error) bool {
	return hasCode(err, "QueueNotFound")
}
