package awscloud_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// demoNow is the clock of the simulated demo estate in these tests.
var demoNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// newFake serves the AWS part of the demo estate.
func newFake(t *testing.T) (*simcloud.Estate, *awsfake.Server) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Demo(demoNow), prices)
	if err != nil {
		t.Fatal(err)
	}
	srv := awsfake.New(est.Cloud(domain.AWS), awsfake.Options{Prices: prices})
	t.Cleanup(srv.Close)
	return est, srv
}

// newProvider returns a provider acting as account against srv, polling
// fast so waits for state changes take milliseconds.
func newProvider(t *testing.T, srv *awsfake.Server, account string) *awscloud.Provider {
	t.Helper()
	p, err := awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(account), PageSize: 5, Poll: time.Millisecond, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewResolvesAndChecksTheAccount(t *testing.T) {
	est, srv := newFake(t)
	account := est.Accounts(domain.AWS)[0]
	p := newProvider(t, srv, account)
	if p.Account() != account {
		t.Fatalf("Account() = %q, want %q", p.Account(), account)
	}
	_, err := awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(account), Account: "999999999999"})
	if !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("New with another account: err = %v, want a permission error", err)
	}
	srv.Expire(account)
	_, err = awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(account), MaxAttempts: 1})
	if !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("New with expired credentials: err = %v, want a permission error", err)
	}
	t.Log(err)
}

func TestThrottlingIsBoundedAndMapped(t *testing.T) {
	est, srv := newFake(t)
	account := est.Accounts(domain.AWS)[0]
	srv.Fail("sts", "GetCallerIdentity", "", 10, "Throttling", http.StatusBadRequest)
	_, err := awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(account), MaxAttempts: 3})
	if !errors.Is(err, domain.ErrThrottled) {
		t.Fatalf("err = %v, want throttled", err)
	}
	if n := srv.CallCount("sts", "GetCallerIdentity"); n != 3 {
		t.Fatalf("%d attempts, want 3 (bounded retries)", n)
	}
}

func TestWebhookSecretsReadsCurrentAndPrevious(t *testing.T) {
	est, srv := newFake(t)
	cfg := srv.Config(est.Accounts(domain.AWS)[0])
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:cloudtrim-approval"
	if _, err := awscloud.WebhookSecrets(context.Background(), cfg, arn); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("missing secret: err = %v, want not found", err)
	}
	srv.SetSecret(arn, "current-secret-0123456789", "")
	got, err := awscloud.WebhookSecrets(context.Background(), cfg, arn)
	if err != nil || len(got) != 1 || string(got[0]) != "current-secret-0123456789" {
		t.Fatalf("never rotated: got %q, %v", got, err)
	}
	srv.SetSecret(arn, "current-secret-0123456789", "previous-secret-012345678")
	got, err = awscloud.WebhookSecrets(context.Background(), cfg, arn)
	if err != nil || len(got) != 2 || string(got[1]) != "previous-secret-012345678" {
		t.Fatalf("rotated: got %q, %v", got, err)
	}
	srv.SetSecret(arn, "tiny-value", "")
	_, err = awscloud.WebhookSecrets(context.Background(), cfg, arn)
	if !errors.Is(err, domain.ErrInvalid) || strings.Contains(err.Error(), "tiny-value") {
		t.Fatalf("short secret: err = %v, want invalid without the value", err)
	}
}
