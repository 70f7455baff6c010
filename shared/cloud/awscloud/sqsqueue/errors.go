package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// kinds maps SQS error codes onto the domain's kinds. SQS answers in the
// AWS JSON protocol with a query-compatible code beside it, which the SDK
// reports as ErrorCode: "AWS.SimpleQueueService.NonExistentQueue" from
// SQS, where the JSON type says "QueueDoesNotExist". code strips the
// prefix, and both spellings are listed.
var kinds = map[string]error{
	"QueueDoesNotExist": domain.ErrNotFound, "NonExistentQueue": domain.ErrNotFound,
	"ResourceNotFoundException": domain.ErrNotFound, "QueueDeletedRecently": domain.ErrNotFound,

	"AccessDenied": domain.ErrPermission, "AccessDeniedException": domain.ErrPermission,
	"InvalidSecurity": domain.ErrPermission, "KmsAccessDenied": domain.ErrPermission,
	"KmsDisabled": domain.ErrPermission, "KmsNotFound": domain.ErrPermission,
	"KmsInvalidState": domain.ErrPermission, "KmsInvalidKeyUsage": domain.ErrPermission,
	"KmsOptInRequired": domain.ErrPermission, "InvalidClientTokenId": domain.ErrPermission,
	"UnrecognizedClientException": domain.ErrPermission, "SignatureDoesNotMatch": domain.ErrPermission,
	"ExpiredToken": domain.ErrPermission, "ExpiredTokenException": domain.ErrPermission,
	"IncompleteSignature": domain.ErrPermission, "MissingAuthenticationToken": domain.ErrPermission,
	// The query-compatible spellings of the KMS errors.
	"KMS.AccessDeniedException": domain.ErrPermission, "KMS.DisabledException": domain.ErrPermission,
	"KMS.NotFoundException": domain.ErrPermission, "KMS.InvalidStateException": domain.ErrPermission,
	"KMS.InvalidKeyUsageException": domain.ErrPermission, "KMS.OptInRequired": domain.ErrPermission,
	"KMS.ThrottlingException": domain.ErrThrottled,

	"ThrottlingException": domain.ErrThrottled, "Throttling": domain.ErrThrottled,
	"RequestThrottled": domain.ErrThrottled, "KmsThrottled": domain.ErrThrottled,
	"OverLimit": domain.ErrThrottled, "RequestLimitExceeded": domain.ErrThrottled,

	"InvalidParameterValue": domain.ErrInvalid, "InvalidParameterCombination": domain.ErrInvalid,
	"MissingParameter": domain.ErrInvalid, "InvalidAttributeName": domain.ErrInvalid,
	"InvalidAttributeValue": domain.ErrInvalid, "InvalidMessageContents": domain.ErrInvalid,
	"InvalidAddress": domain.ErrInvalid, "InvalidIdFormat": domain.ErrInvalid,
	"ReceiptHandleIsInvalid": domain.ErrInvalid, "MessageNotInflight": domain.ErrInvalid,
	"ValidationException": domain.ErrInvalid, "ValidationError": domain.ErrInvalid,
	"BatchRequestTooLong": domain.ErrInvalid, "InvalidBatchEntryId": domain.ErrInvalid,

	"UnsupportedOperation": domain.ErrUnsupported,
}

// code returns the SQS error code of err without the query protocol's
// "AWS.SimpleQueueService." prefix, or "" when err is not an API error.
func code(err error) string {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return ""
	}
	return strings.TrimPrefix(api.ErrorCode(), "AWS.SimpleQueueService.")
}

// wrap names the operation and the queue and adds the domain kind of an
// SDK error. Context errors keep their identity (errors.Is(err,
// context.Canceled)); an error with no kind is wrapped without one.
func wrap(op, queueURL string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqs %s %s: %w", op, queueURL, err)
	}
	if kind := kindOf(err); kind != nil {
		return fmt.Errorf("sqs %s %s: %w: %w", op, queueURL, kind, err)
	}
	return fmt.Errorf("sqs %s %s: %w", op, queueURL, err)
}

// kindOf returns the domain kind of an SDK error, or nil.
func kindOf(err error) error {
	// The typed errors first: they are decoded from the JSON error type,
	// whatever the query-compatible code says.
	var (
		notExist  *types.QueueDoesNotExist
		throttled *types.RequestThrottled
		invalid   *types.ReceiptHandleIsInvalid
		notFlight *types.MessageNotInflight
	)
	switch {
	case errors.As(err, &notExist):
		return domain.ErrNotFound
	case errors.As(err, &throttled):
		return domain.ErrThrottled
	case errors.As(err, &invalid), errors.As(err, &notFlight):
		return domain.ErrInvalid
	}
	if kind, ok := kinds[code(err)]; ok {
		return kind
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorFault() == smithy.FaultClient {
		return domain.ErrInvalid
	}
	return nil
}

// staleHandle reports whether err says a receipt handle no longer names
// a message in flight: deleted, expired or redelivered since.
func staleHandle(err error) bool {
	var (
		invalid   *types.ReceiptHandleIsInvalid
		notFlight *types.MessageNotInflight
	)
	if errors.As(err, &invalid) || errors.As(err, &notFlight) {
		return true
	}
	switch code(err) {
	case "ReceiptHandleIsInvalid", "MessageNotInflight":
		return true
	case "InvalidParameterValue":
		// SQS: "Value ... for parameter ReceiptHandle is invalid. Reason:
		// The receipt handle has expired." or "Message does not exist or
		// is not available for visibility timeout change."
		var api smithy.APIError
		errors.As(err, &api)
		msg := strings.ToLower(api.ErrorMessage())
		return strings.Contains(msg, "receipthandle") || strings.Contains(msg, "receipt handle") ||
			strings.Contains(msg, "not available for visibility timeout change")
	}
	return false
}
