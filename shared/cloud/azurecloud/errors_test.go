package azurecloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// armError is the error the SDK returns for an ARM answer of status
// with code in its body, and headers.
func armError(status int, code string, headers ...string) error {
	body := `{"error":{"code":"` + code + `","message":"` + code + ` happened"}}`
	if code == "" {
		body = ""
	}
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	req, _ := http.NewRequest(http.MethodGet, "https://management.azure.com/subscriptions/x/providers/Microsoft.Compute/virtualMachines", nil)
	return runtime.NewResponseError(&http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: io.NopCloser(strings.NewReader(body)), Request: req})
}

var kinds = []error{domain.ErrThrottled, domain.ErrPermission, domain.ErrNotFound, domain.ErrConflict, domain.ErrInvalid, domain.ErrUnsupported}

// kindName names the kind of err, "transient" for none.
func kindName(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "transient"
}

func TestMapErrKinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error // nil: transient
	}{
		// Codes decide before the status.
		{http.StatusTooManyRequests, "SubscriptionRequestsThrottled", domain.ErrThrottled},
		{http.StatusTooManyRequests, "TenantRequestsThrottled", domain.ErrThrottled},
		{http.StatusConflict, "OperationNotAllowedThrottled", domain.ErrThrottled},
		{http.StatusServiceUnavailable, "ServerBusy", domain.ErrThrottled},
		{http.StatusForbidden, "AuthorizationFailed", domain.ErrPermission},
		{http.StatusUnauthorized, "ExpiredAuthenticationToken", domain.ErrPermission},
		{http.StatusUnauthorized, "InvalidAuthenticationToken", domain.ErrPermission},
		{http.StatusConflict, "MissingSubscriptionRegistration", domain.ErrPermission},
		{http.StatusConflict, "ScopeLocked", domain.ErrPermission},
		{http.StatusNotFound, "ResourceNotFound", domain.ErrNotFound},
		{http.StatusNotFound, "ResourceGroupNotFound", domain.ErrNotFound},
		{http.StatusBadRequest, "InvalidSubscriptionId", domain.ErrNotFound},
		{http.StatusConflict, "OperationNotAllowed", domain.ErrConflict},
		{http.StatusConflict, "AnotherOperationInProgress", domain.ErrConflict},
		{http.StatusBadRequest, "PublicIPAddressInUse", domain.ErrConflict},
		{http.StatusBadRequest, "InvalidParameter", domain.ErrInvalid},
		{http.StatusBadRequest, "BillingAccountNotSupported", domain.ErrUnsupported},
		// Unknown codes: the status decides.
		{http.StatusTooManyRequests, "", domain.ErrThrottled},
		{http.StatusTooManyRequests, "429", domain.ErrThrottled},
		{http.StatusForbidden, "SomethingNew", domain.ErrPermission},
		{http.StatusUnauthorized, "", domain.ErrPermission},
		{http.StatusNotFound, "", domain.ErrNotFound},
		{http.StatusGone, "", domain.ErrNotFound},
		{http.StatusConflict, "", domain.ErrConflict},
		{http.StatusPreconditionFailed, "", domain.ErrConflict},
		{http.StatusRequestEntityTooLarge, "", domain.ErrInvalid},
		{http.StatusBadRequest, "SomethingNew", domain.ErrInvalid},
		{http.StatusRequestTimeout, "", nil},
		{http.StatusInternalServerError, "InternalServerError", nil},
		{http.StatusBadGateway, "", nil},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.code), func(t *testing.T) {
			err := mapErr("list things", armError(tc.status, tc.code))
			want := "transient"
			if tc.want != nil {
				want = tc.want.Error()
			}
			if got := kindName(err); got != want {
				t.Errorf("mapErr(%d %q) is %s; want %s", tc.status, tc.code, got, want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Op != "list things" {
				t.Fatalf("mapErr(%d %q) = %#v; want an *Error of the call with the status", tc.status, tc.code, err)
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) {
				t.Errorf("mapErr(%d %q): the SDK's ResponseError is not reachable", tc.status, tc.code)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "list things: ") || !strings.Contains(msg, fmt.Sprintf("HTTP %d", tc.status)) {
				t.Errorf("message %q does not name the call and the status", msg)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		headers []string
		want    time.Duration
	}{
		{"none", nil, 0},
		{"seconds", []string{"Retry-After", "17"}, 17 * time.Second},
		{"zero seconds", []string{"Retry-After", "0"}, 0},
		{"negative seconds", []string{"Retry-After", "-3"}, 0},
		{"HTTP date", []string{"Retry-After", now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"HTTP date passed", []string{"Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"garbage", []string{"Retry-After", "soon"}, 0},
		{"milliseconds first", []string{"retry-after-ms", "250", "Retry-After", "10"}, 250 * time.Millisecond},
		{"x-ms milliseconds", []string{"x-ms-retry-after-ms", "1500"}, 1500 * time.Millisecond},
		{"bad milliseconds fall back to seconds", []string{"retry-after-ms", "x", "Retry-After", "2"}, 2 * time.Second},
		{"cost management", []string{"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after", "4"}, 4 * time.Second},
		{"cost management, longest", []string{"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after", "4",
			"x-ms-ratelimit-microsoft.costmanagement-entity-retry-after", "30"}, 30 * time.Second},
		{"Retry-After before cost management", []string{"Retry-After", "5", "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after", "30"}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				h.Set(tc.headers[i], tc.headers[i+1])
			}
			if got := retryAfter(h, now); got != tc.want {
				t.Errorf("retryAfter(%v) = %v; want %v", tc.headers, got, tc.want)
			}
		})
	}
	// mapErr records it on the error.
	err := mapErr("query costs", armError(http.StatusTooManyRequests, "429", "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after", "12"))
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter != 12*time.Second || !errors.Is(err, domain.ErrThrottled) {
		t.Errorf("mapErr(429 with a rate-limit header) = %#v; want ErrThrottled with RetryAfter 12s", err)
	}
}

func TestMapErrIdentityFailures(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"error":"invalid_client","error_description":"AADSTS7000222: expired"}`))}
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"authentication failed", &azidentity.AuthenticationFailedError{RawResponse: resp}, "AuthenticationFailed"},
		{"authentication failed, wrapped by the pipeline", fmt.Errorf("acquiring token: %w", &azidentity.AuthenticationFailedError{RawResponse: resp}), "AuthenticationFailed"},
		{"authentication required", &azidentity.AuthenticationRequiredError{}, "AuthenticationRequired"},
		{"no credential available", azidentity.NewCredentialUnavailableError("no managed identity endpoint"), "CredentialUnavailable"},
		{"no credential in a chain", fmt.Errorf("chain: %w", errors.Join(errors.New("environment: not set"),
			azidentity.NewCredentialUnavailableError("managed identity: no endpoint"))), "CredentialUnavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mapErr("list subscriptions", tc.err)
			var e *Error
			if !errors.Is(err, domain.ErrPermission) || !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("mapErr(%v) = %v; want ErrPermission with code %s", tc.err, err, tc.code)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("mapErr(%v): the identity error is not reachable", tc.err)
			}
		})
	}
}

func TestMapErrPassesContextAndUnknownErrors(t *testing.T) {
	if mapErr("x", nil) != nil {
		t.Fatal("mapErr(nil) is not nil")
	}
	for _, base := range []error{context.Canceled, context.DeadlineExceeded} {
		err := mapErr("list disks", fmt.Errorf("get: %w", base))
		if !errors.Is(err, base) || kindName(err) != "transient" || !strings.HasPrefix(err.Error(), "list disks: ") {
			t.Errorf("mapErr(%v) = %v; want the context error wrapped, of no kind", base, err)
		}
	}
	err := mapErr("list disks", errors.New("connection reset by peer"))
	if kindName(err) != "transient" || err.Error() != "list disks: connection reset by peer" {
		t.Errorf("mapErr(a network error) = %q (%s); want it wrapped, of no kind", err, kindName(err))
	}
}
