//go:build !awslambda

package lake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"gocloud.dev/blob/azureblob"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/lake/lakestest"
)

// The lake on Azure Blob is opened by URL, as on the other clouds:
//
//	azblob://<container>?storage_account=<account>&prefix=cloudtrim/
//
// The account may come from AZURE_STORAGE_ACCOUNT instead of
// storage_account. Credentials come from the environment, first match
// wins: AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY (shared key),
// AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING (whose own
// endpoints are then used), and otherwise azidentity's
// DefaultAzureCredential, which is the managed identity of a Function
// app. Outside the public cloud, domain=blob.core.usgovcloudapi.net (or
// AZURE_STORAGE_DOMAIN) names the service's domain. An emulator is
// reached with protocol=http&domain=127.0.0.1:10000 (a domain on 127.0.0.1
// or localhost, or localemu=true, puts the account in the path, as
// emulators want). These tests use that last form, with the account in
// the URL and the key in the environment.

// azureEnv gives gocloud's azureblob the emulator's shared key the way a
// deployment gives it an account key, through AZURE_STORAGE_ACCOUNT and
// AZURE_STORAGE_KEY, and clears every other way it could find
// credentials or endpoints on the machine.
//
// azureblob reads these variables once per process, on the first
// azblob:// URL it opens, so every test of this package that opens one
// must call azureEnv first; the key is the same for every Azurite.
func azureEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"AZURE_STORAGE_ACCOUNT":              standin.AzuriteAccount,
		"AZURE_STORAGE_KEY":                  standin.AzuriteKey,
		"AZURE_STORAGE_SAS_TOKEN":            "",
		"AZURE_STORAGE_CONNECTION_STRING":    "",
		"AZURE_STORAGEBLOB_CONNECTIONSTRING": "",
		"AZURE_STORAGE_DOMAIN":               "",
		"AZURE_STORAGE_PROTOCOL":             "",
		"AZURE_STORAGE_IS_CDN":               "",
		"AZURE_STORAGE_IS_LOCAL_EMULATOR":    "",
	} {
		t.Setenv(k, v)
	}
}

// azureLakeURL is the lake URL of container on the emulator, with the
// account in the URL and the endpoint override protocol=http and
// domain=host:port.
func azureLakeURL(t *testing.T, az standin.Azure, container, prefix string) string {
	t.Helper()
	u, err := url.Parse(az.BlobEndpoint)
	if err != nil {
		t.Fatalf("parse blob endpoint %q: %v", az.BlobEndpoint, err)
	}
	q := url.Values{
		"storage_account": {az.AccountName},
		"protocol":        {"http"},
		"domain":          {u.Host},
	}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	return "azblob://" + container + "?" + q.Encode()
}

func openLakeURL(t *testing.T, raw string) *lake.Lake {
	t.Helper()
	l, err := lake.Open(context.Background(), raw)
	if err != nil {
		t.Fatalf("lake.Open(%s) = %v", raw, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestAzurite runs the lake's checks that need Azure Blob on one
// Azurite: the conformance suite through gocloud's azureblob, opened by
// URL under a prefix (each subtest gets a new container), then the
// lake's own.
func TestAzurite(t *testing.T) {
	azureEnv(t)
	az := standin.Azurite(t)
	t.Run("Conformance", func(t *testing.T) {
		lakestest.RunConformance(t, func(t *testing.T) *lake.Lake {
			return openLakeURL(t, azureLakeURL(t, az, az.Container(t), "cloudtrim/"))
		})
	})
	t.Run("URLForms", func(t *testing.T) { testAzureLakeURLForms(t, az) })
	t.Run("CreateIfAbsentIsAConflict", func(t *testing.T) { testAzureCreateIfAbsentIsAConflict(t, az) })
	t.Run("LeasedBlobIsAConflict", func(t *testing.T) { testAzureLeasedBlobIsAConflict(t, az) })
	t.Run("WrongKey", func(t *testing.T) { testAzureWrongKey(t, az) })
}

// testAzureLakeURLForms opens one container by the URL forms a deployment
// uses, the account from the URL or from AZURE_STORAGE_ACCOUNT and the
// emulator named by its address or by localemu=true, and checks they all
// address the same blobs, under the prefix.
func testAzureLakeURLForms(t *testing.T, az standin.Azure) {
	c := az.Container(t)
	endpoint, err := url.Parse(az.BlobEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	writer := openLakeURL(t, azureLakeURL(t, az, c, "cloudtrim/"))
	if err := writer.Put(ctx, "flags/a", []byte("x"), true); err != nil {
		t.Fatalf("Put = %v", err)
	}
	for _, raw := range []string{
		"azblob://" + c + "?protocol=http&domain=" + endpoint.Host + "&prefix=cloudtrim/",
		"azblob://" + c + "?localemu=true&protocol=http&domain=" + endpoint.Host + "&storage_account=" + az.AccountName + "&prefix=cloudtrim/",
	} {
		got, err := openLakeURL(t, raw).Get(ctx, "flags/a")
		if err != nil || string(got) != "x" {
			t.Errorf("lake %s: Get(flags/a) = %q, %v; want x", raw, got, err)
		}
	}
	// The prefix is a folder of the container.
	buf := make([]byte, 8)
	n, err := az.BlobClient(t).DownloadBuffer(ctx, c, "cloudtrim/flags/a", buf, nil)
	if err != nil || string(buf[:n]) != "x" {
		t.Errorf("blob cloudtrim/flags/a = %q, %v; want x", buf[:n], err)
	}
}

// testAzureCreateIfAbsentIsAConflict checks the lake's side of Azure's
// answer to a create-if-absent write of an existing blob: Azurite sends
// 409 BlobAlreadyExists, which must come back as domain.ErrConflict with
// Azure's response in the chain, the blob untouched. (With gocloud
// v0.47.0, writing through WriteAll made this refusal panic in the
// azureblob writer's Close.)
func testAzureCreateIfAbsentIsAConflict(t *testing.T, az standin.Azure) {
	l := openLakeURL(t, azureLakeURL(t, az, az.Container(t), ""))
	ctx := context.Background()
	if err := l.Put(ctx, "locks/a", []byte("1"), true); err != nil {
		t.Fatal(err)
	}
	err := l.Put(ctx, "locks/a", []byte("2"), true)
	var resp *azcore.ResponseError
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &resp) {
		t.Fatalf("second create-if-absent Put = %v; want ErrConflict wrapping Azure's response", err)
	}
	if resp.StatusCode != http.StatusConflict || resp.ErrorCode != "BlobAlreadyExists" {
		t.Errorf("Azurite answered %d %s; want 409 BlobAlreadyExists (if it now answers otherwise, update the stand-in's notes)", resp.StatusCode, resp.ErrorCode)
	}
	if got, err := l.Get(ctx, "locks/a"); err != nil || string(got) != "1" {
		t.Errorf("blob after the refused write = %q, %v; want 1", got, err)
	}
}

// testAzureLeasedBlobIsAConflict writes over a blob another client holds
// a lease on. Azure refuses with 412 LeaseIdMissing, a code gocloud does
// not classify: the lake still reports domain.ErrConflict, by the HTTP
// status, and leaves the blob as it was.
func testAzureLeasedBlobIsAConflict(t *testing.T, az standin.Azure) {
	c := az.Container(t)
	l := openLakeURL(t, azureLakeURL(t, az, c, ""))
	ctx := context.Background()
	if err := l.Put(ctx, "actions/a/state-1.json", []byte(`{"v":1}`), true); err != nil {
		t.Fatal(err)
	}
	blobClient := az.BlobClient(t).ServiceClient().NewContainerClient(c).NewBlobClient("actions/a/state-1.json")
	leases, err := lease.NewBlobClient(blobClient, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leases.AcquireLease(ctx, -1, nil); err != nil {
		t.Fatalf("acquire lease = %v", err)
	}
	err = l.Put(ctx, "actions/a/state-1.json", []byte(`{"v":2}`), false)
	var resp *azcore.ResponseError
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &resp) || resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("Put over a leased blob = %v; want ErrConflict wrapping a 412", err)
	}
	if got, err := l.Get(ctx, "actions/a/state-1.json"); err != nil || string(got) != `{"v":1}` {
		t.Errorf("leased blob after the refused write = %q, %v; want the first version", got, err)
	}
}

// testAzureWrongKey makes sure the lake's requests are signed with the
// key it is given: Azurite refuses a wrong key with 403
// AuthenticationFailed, domain.ErrPermission for the lake.
func testAzureWrongKey(t *testing.T, az standin.Azure) {
	c := az.Container(t)
	cred, err := azblob.NewSharedKeyCredential(az.AccountName, "d3Jvbmcta2V5LW5vdC10aGUtZW11bGF0b3Itb25l")
	if err != nil {
		t.Fatal(err)
	}
	client, err := container.NewClientWithSharedKeyCredential(az.BlobEndpoint+"/"+c, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := azureblob.OpenBucket(context.Background(), client, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := lake.New(b)
	defer l.Close()
	err = l.Put(context.Background(), "flags/a", []byte("x"), false)
	var resp *azcore.ResponseError
	if !errors.Is(err, domain.ErrPermission) || !errors.As(err, &resp) || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Put with a wrong key = %v; want a 403 from Azurite, classified as a permission error", err)
	}
}

// TestAzureErrorKinds answers every request of the lake with one Azure
// Storage error, as the service writes it (x-ms-error-code and an XML
// body), and checks the kind the lake gives it: the codes gocloud knows
// and, by status, those it does not.
func TestAzureErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		kind   error
	}{
		{http.StatusConflict, "BlobAlreadyExists", domain.ErrConflict},
		{http.StatusPreconditionFailed, "ConditionNotMet", domain.ErrConflict},
		{http.StatusConflict, "LeaseAlreadyPresent", domain.ErrConflict},
		{http.StatusPreconditionFailed, "LeaseIdMissing", domain.ErrConflict},
		{http.StatusForbidden, "AuthenticationFailed", domain.ErrPermission},
		{http.StatusForbidden, "AuthorizationPermissionMismatch", domain.ErrPermission},
		{http.StatusServiceUnavailable, "ServerBusy", domain.ErrThrottled},
		{http.StatusTooManyRequests, "TooManyRequests", domain.ErrThrottled},
		{http.StatusNotFound, "ContainerNotFound", domain.ErrNotFound},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("x-ms-error-code", tc.code)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>refused by the test</Message></Error>`, tc.code)
			}))
			defer srv.Close()
			opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
			client, err := container.NewClientWithNoCredential(srv.URL+"/devstoreaccount1/lake", opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := azureblob.OpenBucket(context.Background(), client, nil)
			if err != nil {
				t.Fatal(err)
			}
			l := lake.New(b)
			defer l.Close()
			err = l.Put(context.Background(), "flags/a", []byte("x"), true)
			var resp *azcore.ResponseError
			if !errors.Is(err, tc.kind) || !errors.As(err, &resp) || resp.ErrorCode != tc.code {
				t.Errorf("Put = %v; want %v wrapping Azure's %s", err, tc.kind, tc.code)
			}
		})
	}
}
