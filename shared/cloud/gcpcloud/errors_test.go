package gcpcloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/googleapis/gax-go/v2/apierror"
	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// restErr is a REST error as googleapi reads it from Google's JSON.
func restErr(code int, reason string) *googleapi.Error {
	return &googleapi.Error{Code: code, Message: reason + " happened", Errors: []googleapi.ErrorItem{{Reason: reason, Message: reason + " happened"}}}
}

// wrapped is a REST error as the SDK's clients return it: gax wraps it
// in an APIError.
func wrapped(code int, reason string) error {
	ae, _ := apierror.FromError(restErr(code, reason))
	return ae
}

// withDetails is a REST error whose reason is only in its ErrorInfo
// detail, as the newer APIs (the Billing Catalog) answer, as the SDK's
// clients return it.
func withDetails(code int, reason string) error {
	body := fmt.Sprintf(`{"error":{"code":%d,"message":"slow down","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":%q,"domain":"googleapis.com"}]}}`, code, reason)
	ae, _ := apierror.FromError(&googleapi.Error{Code: code, Message: "slow down", Body: body})
	return ae
}

func TestMapErr(t *testing.T) {
	withInfo := func(c codes.Code, reason string) error {
		st, err := status.New(c, "denied").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "googleapis.com"})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	kinds := []error{domain.ErrThrottled, domain.ErrPermission, domain.ErrNotFound, domain.ErrConflict, domain.ErrInvalid, domain.ErrUnsupported}
	for _, tc := range []struct {
		name       string
		err        error
		want       error // nil: no kind
		status     int
		reason     string
		unwrapsSDK bool
	}{
		{"rate limit", restErr(429, "rateLimitExceeded"), domain.ErrThrottled, 429, "rateLimitExceeded", true},
		{"rate limit through gax", wrapped(429, "rateLimitExceeded"), domain.ErrThrottled, 429, "rateLimitExceeded", true},
		{"quota as 403", wrapped(403, "quotaExceeded"), domain.ErrThrottled, 403, "quotaExceeded", true},
		{"rate limit in ErrorInfo", withDetails(429, "RATE_LIMIT_EXCEEDED"), domain.ErrThrottled, 429, "RATE_LIMIT_EXCEEDED", true},
		{"quota as 403 in ErrorInfo", withDetails(403, "RATE_LIMIT_EXCEEDED"), domain.ErrThrottled, 403, "RATE_LIMIT_EXCEEDED", true},
		{"forbidden", wrapped(403, "forbidden"), domain.ErrPermission, 403, "forbidden", true},
		{"API not enabled", wrapped(403, "accessNotConfigured"), domain.ErrPermission, 403, "accessNotConfigured", true},
		{"unauthenticated", wrapped(401, "authError"), domain.ErrPermission, 401, "authError", true},
		{"not found", wrapped(404, "notFound"), domain.ErrNotFound, 404, "notFound", true},
		{"in use", wrapped(400, "resourceInUseByAnotherResource"), domain.ErrConflict, 400, "resourceInUseByAnotherResource", true},
		{"not ready", wrapped(400, "resourceNotReady"), domain.ErrConflict, 400, "resourceNotReady", true},
		{"fingerprint", wrapped(412, "conditionNotMet"), domain.ErrConflict, 412, "conditionNotMet", true},
		{"exists", wrapped(409, "alreadyExists"), domain.ErrConflict, 409, "alreadyExists", true},
		{"invalid", wrapped(400, "invalid"), domain.ErrInvalid, 400, "invalid", true},
		{"unknown 4xx reason", wrapped(400, "somethingNew"), domain.ErrInvalid, 400, "somethingNew", true},
		{"unknown 412 reason", wrapped(412, ""), domain.ErrConflict, 412, "", true},
		{"backend error", wrapped(500, "backendError"), nil, 500, "backendError", true},
		{"unavailable", wrapped(503, ""), nil, 503, "", true},
		{"gRPC denied", status.Error(codes.PermissionDenied, "no"), domain.ErrPermission, 403, "", true},
		{"gRPC quota with info", withInfo(codes.ResourceExhausted, "RATE_LIMIT_EXCEEDED"), domain.ErrThrottled, 429, "RATE_LIMIT_EXCEEDED", true},
		{"gRPC service disabled", withInfo(codes.PermissionDenied, "SERVICE_DISABLED"), domain.ErrPermission, 403, "SERVICE_DISABLED", true},
		{"gRPC not found", status.Error(codes.NotFound, "gone"), domain.ErrNotFound, 404, "", true},
		{"gRPC unavailable", status.Error(codes.Unavailable, "later"), nil, 503, "", true},
		{"expired token", fmt.Errorf("get token: %w", &oauth2.RetrieveError{ErrorCode: "invalid_grant"}), domain.ErrPermission, 401, "ACCESS_TOKEN_EXPIRED", true},
		{"plain error", errors.New("connection reset"), nil, 0, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mapErr("gcpcloud: test call", tc.err)
			var gerr *Error
			if !errors.As(err, &gerr) {
				t.Fatalf("mapErr(%v) = %T %v; want an *Error", tc.err, err, err)
			}
			if gerr.Status != tc.status || gerr.Reason != tc.reason {
				t.Errorf("mapErr(%v): status %d, reason %q; want %d, %q", tc.err, gerr.Status, gerr.Reason, tc.status, tc.reason)
			}
			for _, k := range kinds {
				if got, want := errors.Is(err, k), k == tc.want; got != want {
					t.Errorf("errors.Is(mapErr(%v), %v) = %v; want %v", tc.err, k, got, want)
				}
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("mapErr(%v) does not wrap the SDK's error", tc.err)
			}
			if !strings.HasPrefix(err.Error(), "gcpcloud: test call") {
				t.Errorf("mapErr(%v) = %q; want it to name the call", tc.err, err)
			}
		})
	}
}

func TestMapErrPassesThrough(t *testing.T) {
	if mapErr("op", nil) != nil {
		t.Error("mapErr(nil) is not nil")
	}
	err := mapErr("op", fmt.Errorf("page: %w", context.DeadlineExceeded))
	var gerr *Error
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &gerr) {
		t.Errorf("mapErr(deadline) = %v; want the context error wrapped, no *Error", err)
	}
	inner := mapErr("inner", wrapped(429, "rateLimitExceeded"))
	outer := mapErr("outer", inner)
	if !errors.Is(outer, domain.ErrThrottled) || !strings.HasPrefix(outer.Error(), "outer: inner") {
		t.Errorf("mapErr of an *Error = %v; want it kept, named by both calls", outer)
	}
}

func TestOperationErr(t *testing.T) {
	for _, tc := range []struct {
		name     string
		codes    []string
		messages []string
		status   int
		want     error
		text     string
	}{
		{"quota", []string{"QUOTA_EXCEEDED"}, []string{"Quota 'CPUS' exceeded."}, 403, domain.ErrThrottled, "QUOTA_EXCEEDED (HTTP 403): Quota 'CPUS' exceeded."},
		{"no capacity", []string{"ZONE_RESOURCE_POOL_EXHAUSTED"}, []string{"not enough resources"}, 503, domain.ErrConflict, "ZONE_RESOURCE_POOL_EXHAUSTED (HTTP 503)"},
		{"in use", []string{"RESOURCE_IN_USE_BY_ANOTHER_RESOURCE", "OTHER"}, []string{"used by x", "and y"}, 400, domain.ErrConflict, "used by x; and y"},
		{"not found", []string{"RESOURCE_NOT_FOUND"}, nil, 404, domain.ErrNotFound, "the operation failed"},
		{"unknown code, 404", []string{"SOMETHING_NEW"}, []string{"gone"}, 404, domain.ErrNotFound, "SOMETHING_NEW"},
		{"internal", nil, []string{"INTERNAL_ERROR"}, 500, nil, "INTERNAL_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := operationErr("gcpcloud: start instance x", tc.codes, tc.messages, tc.status)
			for _, k := range []error{domain.ErrThrottled, domain.ErrConflict, domain.ErrNotFound, domain.ErrPermission, domain.ErrInvalid} {
				if got, want := errors.Is(err, k), k == tc.want; got != want {
					t.Errorf("errors.Is(operationErr(%v), %v) = %v; want %v", tc.codes, k, got, want)
				}
			}
			var gerr *Error
			if !errors.As(err, &gerr) || gerr.Status != tc.status || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("operationErr(%v) = %v; want status %d and %q in the message", tc.codes, err, tc.status, tc.text)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "op", err: errors.New("boom")}, "op: boom"},
		{&Error{Op: "op", Reason: "CODE", err: errors.New("boom")}, "op: CODE: boom"},
		{&Error{Op: "op", Reason: "forbidden", Status: http.StatusForbidden, err: errors.New("boom")}, "op: forbidden (HTTP 403): boom"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
}
