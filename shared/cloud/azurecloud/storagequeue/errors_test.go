package storagequeue_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/storagequeue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
)

// noRetries makes the SDK try each call once.
var noRetries = &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}

// failing returns the URL of a loopback server that answers every
// request with one Queue service error, as the service writes it
// (x-ms-error-code and an XML body).
func failing(t *testing.T, status int, code string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-error-code", code)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>refused by the test</Message></Error>`, code)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/devstoreaccount1"
}

func sharedKey(t *testing.T) *azqueue.SharedKeyCredential {
	t.Helper()
	key, err := azqueue.NewSharedKeyCredential(standin.AzuriteAccount, standin.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestErrorKinds answers every call with one Azure error and checks the
// domain kind the driver gives it, with the queue named and the SDK's
// error in the chain.
func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		kind   error
	}{
		{http.StatusNotFound, "QueueNotFound", domain.ErrNotFound},
		{http.StatusForbidden, "AuthenticationFailed", domain.ErrPermission},
		{http.StatusForbidden, "AuthorizationPermissionMismatch", domain.ErrPermission},
		{http.StatusForbidden, "SomeFutureRefusal", domain.ErrPermission},
		{http.StatusServiceUnavailable, "ServerBusy", domain.ErrThrottled},
		{http.StatusTooManyRequests, "TooManyRequests", domain.ErrThrottled},
		{http.StatusBadRequest, "MessageTooLarge", domain.ErrInvalid},
		{http.StatusBadRequest, "OutOfRangeQueryParameterValue", domain.ErrInvalid},
		{http.StatusConflict, "QueueBeingDeleted", domain.ErrConflict},
		{http.StatusBadRequest, "UnsupportedHeader", domain.ErrUnsupported},
	} {
		t.Run(tc.code, func(t *testing.T) {
			q, err := storagequeue.New(storagequeue.Options{ServiceURL: failing(t, tc.status, tc.code), QueueName: "actions",
				SharedKey: sharedKey(t), ClientOptions: noRetries})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			err = q.Send(ctx, []byte("x"))
			var resp *azcore.ResponseError
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), q.URL()) || !errors.As(err, &resp) || resp.ErrorCode != tc.code {
				t.Errorf("Send = %v; want %v naming %s, with the SDK's error", err, tc.kind, q.URL())
			}
			if _, err := q.Receive(ctx, 1); !errors.Is(err, tc.kind) {
				t.Errorf("Receive = %v; want %v", err, tc.kind)
			}
			if err := q.SendPoison(ctx, []byte("x"), 1, "r"); !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), q.PoisonURL()) {
				t.Errorf("SendPoison = %v; want %v naming %s", err, tc.kind, q.PoisonURL())
			}
		})
	}
	t.Run("InternalError is transient", func(t *testing.T) {
		q, err := storagequeue.New(storagequeue.Options{ServiceURL: failing(t, http.StatusInternalServerError, "InternalError"),
			QueueName: "actions", SharedKey: sharedKey(t), ClientOptions: noRetries})
		if err != nil {
			t.Fatal(err)
		}
		err = q.Send(context.Background(), []byte("x"))
		for _, kind := range []error{domain.ErrNotFound, domain.ErrPermission, domain.ErrThrottled, domain.ErrInvalid, domain.ErrConflict, domain.ErrUnsupported} {
			if errors.Is(err, kind) {
				t.Errorf("Send = %v; a 500 should carry no kind, has %v", err, kind)
			}
		}
		if err == nil {
			t.Error("Send = nil; want the 500")
		}
	})
}

// TestAckOfStaleAnswers checks the two answers the service gives a stale
// pop receipt: neither fails Ack.
func TestAckOfStaleAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{http.StatusNotFound, "MessageNotFound"},
		{http.StatusBadRequest, "PopReceiptMismatch"},
	} {
		q, err := storagequeue.New(storagequeue.Options{ServiceURL: failing(t, tc.status, tc.code), QueueName: "actions",
			SharedKey: sharedKey(t), ClientOptions: noRetries})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Ack(context.Background(), "0f8fad5b-d9cb-469f-a165-70867728950e:AgAAAAMAAAAAAAAA"); err != nil {
			t.Errorf("Ack answered %d %s = %v; want nil", tc.status, tc.code, err)
		}
	}
}

// fakeToken is an Entra ID credential that hands out one token, or an
// error, and records the scopes asked for.
type fakeToken struct {
	err    error
	scopes atomic.Value
}

func (f *fakeToken) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.scopes.Store(strings.Join(opts.Scopes, " "))
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestTokenCredential sends with a token credential, as a managed
// identity does, to a TLS server that checks the bearer token and answers
// as Put Message does; a credential that cannot get a token is
// ErrPermission.
func TestTokenCredential(t *testing.T) {
	var auth atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage><MessageId>0f8fad5b-d9cb-469f-a165-70867728950e</MessageId>`+
			`<InsertionTime>Mon, 23 Nov 2026 08:00:00 GMT</InsertionTime><ExpirationTime>Fri, 31 Dec 9999 23:59:59 GMT</ExpirationTime>`+
			`<PopReceipt>AgAAAAMAAAAAAAAA</PopReceipt><TimeNextVisible>Mon, 23 Nov 2026 08:00:00 GMT</TimeNextVisible></QueueMessage></QueueMessagesList>`)
	}))
	defer srv.Close()
	opts := &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}}
	cred := &fakeToken{}
	q, err := storagequeue.New(storagequeue.Options{ServiceURL: srv.URL, QueueName: "actions", Credential: cred, ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Send(context.Background(), []byte("x")); err != nil {
		t.Fatalf("Send with a token = %v", err)
	}
	if got := auth.Load(); got != "Bearer test-token" {
		t.Errorf("Authorization = %v; want Bearer test-token", got)
	}
	if got := cred.scopes.Load(); got != "https://storage.azure.com/.default" {
		t.Errorf("token scopes = %v; want https://storage.azure.com/.default", got)
	}
	refused := &fakeToken{err: errors.New("ManagedIdentityCredential: no managed identity endpoint")}
	q, err = storagequeue.New(storagequeue.Options{ServiceURL: srv.URL, QueueName: "actions", Credential: refused, ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Send(context.Background(), []byte("x")); !errors.Is(err, domain.ErrPermission) || !errors.Is(err, refused.err) {
		t.Errorf("Send without a token = %v; want ErrPermission wrapping the credential's error", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	key := sharedKey(t)
	ok := storagequeue.Options{ServiceURL: "https://acct.queue.core.windows.net/", QueueName: "actions", SharedKey: key}
	for name, change := range map[string]func(o *storagequeue.Options){
		"no URL":             func(o *storagequeue.Options) { o.ServiceURL = "" },
		"not http":           func(o *storagequeue.Options) { o.ServiceURL = "ftp://acct/" },
		"no queue":           func(o *storagequeue.Options) { o.QueueName = "" },
		"upper case":         func(o *storagequeue.Options) { o.QueueName = "Actions" },
		"double hyphen":      func(o *storagequeue.Options) { o.QueueName = "act--ions" },
		"leading hyphen":     func(o *storagequeue.Options) { o.QueueName = "-actions" },
		"too short":          func(o *storagequeue.Options) { o.QueueName = "ab" },
		"no room for poison": func(o *storagequeue.Options) { o.QueueName = strings.Repeat("a", 57) },
		"two credentials":    func(o *storagequeue.Options) { o.Credential = &fakeToken{} },
		"no credential":      func(o *storagequeue.Options) { o.SharedKey = nil },
		"visibility 8 days":  func(o *storagequeue.Options) { o.Visibility = 8 * 24 * time.Hour },
		"negative attempts":  func(o *storagequeue.Options) { o.MaxAttempts = -1 },
	} {
		opts := ok
		change(&opts)
		if _, err := storagequeue.New(opts); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("New(%s) = %v; want ErrInvalid", name, err)
		}
	}
	if _, err := storagequeue.New(ok); err != nil {
		t.Errorf("New(valid) = %v", err)
	}
	long := ok
	long.QueueName = strings.Repeat("a", 56)
	if _, err := storagequeue.New(long); err != nil {
		t.Errorf("New(56-character name) = %v", err)
	}
	// A SAS token in the URL is a credential; it never shows in errors.
	sas := storagequeue.Options{ServiceURL: "https://acct.queue.core.windows.net/?sv=2022-11-02&sig=c2VjcmV0", QueueName: "actions"}
	q, err := storagequeue.New(sas)
	if err != nil {
		t.Fatalf("New(SAS URL) = %v", err)
	}
	if strings.Contains(q.URL(), "sig=") || strings.Contains(q.PoisonURL(), "sig=") {
		t.Errorf("URL() = %s, PoisonURL() = %s; want no SAS token", q.URL(), q.PoisonURL())
	}
	bad := sas
	bad.Visibility = -time.Second
	if _, err := storagequeue.New(bad); err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("New(bad SAS options) = %v; want an error without the signature", err)
	}
}

// TestBadArguments checks the calls refuse what the service cannot do,
// before any request (the server would fail the test).
func TestBadArguments(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	q, err := storagequeue.New(storagequeue.Options{ServiceURL: srv.URL + "/devstoreaccount1", QueueName: "actions", SharedKey: sharedKey(t), ClientOptions: noRetries})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := "0f8fad5b-d9cb-469f-a165-70867728950e:AgAAAAMAAAAAAAAA"
	if _, err := q.Receive(ctx, 0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Receive(0) = %v; want ErrInvalid", err)
	}
	if err := q.Nack(ctx, id, 8*24*time.Hour, "r"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Nack(8 days) = %v; want ErrInvalid", err)
	}
	if err := q.Nack(ctx, id, -time.Second, "r"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Nack(-1s) = %v; want ErrInvalid", err)
	}
	if err := q.Send(ctx, make([]byte, storagequeue.MaxBodyBytes+1)); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Send(too large) = %v; want ErrInvalid", err)
	}
	if err := q.SendPoison(ctx, make([]byte, storagequeue.MaxBodyBytes+1), 1, "r"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("SendPoison(too large) = %v; want ErrInvalid", err)
	}
	if err := q.Reject(ctx, "nonsense", "r"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Reject(malformed ID) = %v; want ErrInvalid", err)
	}
}
