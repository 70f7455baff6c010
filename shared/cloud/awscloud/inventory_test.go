package awscloud_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

var (
	_ collect.Inventory = (*awscloud.Provider)(nil)
	_ actuate.Resources = (*awscloud.Provider)(nil)
)

// newFakeWith serves the AWS part of the estate cfg describes.
func newFakeWith(t *testing.T, cfg simcloud.Config, opts awsfake.Options) (*simcloud.Estate, *awsfake.Server) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(cfg, prices)
	if err != nil {
		t.Fatal(err)
	}
	opts.Prices = prices
	srv := awsfake.New(est.Cloud(domain.AWS), opts)
	t.Cleanup(srv.Close)
	return est, srv
}

// newRetryingProvider returns a provider whose SDK retries throttled
// calls up to attempts times with a millisecond between attempts, so
// tests of retries stay fast.
func newRetryingProvider(t *testing.T, srv *awsfake.Server, account string, attempts int) *awscloud.Provider {
	t.Helper()
	cfg := srv.Config(account)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			o.RateLimiter = ratelimit.None
		})
	}
	p, err := awscloud.New(context.Background(), awscloud.Config{AWS: cfg, PageSize: 5, Poll: time.Millisecond, MaxAttempts: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// list reads a scope through the provider, checking the page size.
func list(t *testing.T, p *awscloud.Provider, scope collect.Scope) ([]domain.Resource, error) {
	t.Helper()
	var out []domain.Resource
	err := p.Resources(context.Background(), scope, func(page []domain.Resource) error {
		if len(page) == 0 || len(page) > 5 {
			t.Errorf("page of %d resources, want 1..5 (PageSize 5)", len(page))
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

// asEC2 is what EC2 shows of a resource of the estate where EC2 and the
// estate differ: EC2 keeps no allocation time for an Elastic IP, and it
// returns every resource's tags inline, so the estate's VMs whose tags
// "could not be read" are served untagged (no Name either).
func asEC2(r domain.Resource) domain.Resource {
	if r.Kind == domain.KindIP {
		r.CreatedAt = time.Time{}
	}
	if r.Incomplete != "" {
		r.Incomplete, r.Tags, r.Name = "", nil, ""
	}
	return r
}

var kindOrder = map[domain.Kind]int{domain.KindVM: 0, domain.KindDisk: 1, domain.KindIP: 2, domain.KindSnapshot: 3}

func byKindAndID(rs []domain.Resource) {
	sort.SliceStable(rs, func(i, j int) bool {
		if kindOrder[rs[i].Kind] != kindOrder[rs[j].Kind] {
			return kindOrder[rs[i].Kind] < kindOrder[rs[j].Kind]
		}
		return rs[i].ID < rs[j].ID
	})
}

// estateScope lists what the estate itself holds in scope.
func estateScope(t *testing.T, est *simcloud.Estate, scope collect.Scope) []domain.Resource {
	t.Helper()
	var out []domain.Resource
	if err := est.Cloud(domain.AWS).Resources(context.Background(), scope, func(page []domain.Resource) error {
		for _, r := range page {
			out = append(out, asEC2(r))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	byKindAndID(out)
	return out
}

// checkInventory reads every scope of every account through provider
// and fake and compares it with the estate, field for field.
func checkInventory(t *testing.T, est *simcloud.Estate, srv *awsfake.Server) {
	t.Helper()
	estScopes, err := est.Cloud(domain.AWS).Scopes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, account := range est.Accounts(domain.AWS) {
		p := newProvider(t, srv, account)
		scopes, err := p.Scopes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range estScopes {
			if sc.Account == account && !containsScope(scopes, sc) {
				t.Errorf("Scopes() = %v, missing the estate's scope %v", scopes, sc)
			}
		}
		for _, sc := range scopes {
			t.Run(sc.Account+"/"+sc.Region, func(t *testing.T) {
				got, err := list(t, p, sc)
				if err != nil {
					t.Fatal(err)
				}
				if !sort.SliceIsSorted(got, func(i, j int) bool { return kindOrder[got[i].Kind] < kindOrder[got[j].Kind] }) {
					t.Error("Resources did not list instances, volumes, addresses, snapshots in that order")
				}
				byKindAndID(got)
				want := estateScope(t, est, sc)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Resources(%v) (-estate +provider):\n%s", sc, diff)
				}
			})
		}
	}
}

func containsScope(scopes []collect.Scope, s collect.Scope) bool {
	for _, x := range scopes {
		if x == s {
			return true
		}
	}
	return false
}

func TestInventoryMatchesTheEstate(t *testing.T) {
	est, srv := newFake(t)
	checkInventory(t, est, srv)
	if n := srv.CallCount("ec2", "DescribeInstances"); n < 4 {
		t.Errorf("%d DescribeInstances calls for 2 accounts of 6-7 instances, want pages of 5", n)
	}
}

func TestInventoryMatchesALargerEstate(t *testing.T) {
	est, srv := newFakeWith(t, simcloud.Config{Seed: 11, Resources: 300, Now: demoNow}, awsfake.Options{Regions: []string{"eu-west-1", "us-east-1"}})
	checkInventory(t, est, srv)
}

func TestInventoryShowsTransitionalStates(t *testing.T) {
	est, srv := newFake(t)
	var vm domain.Resource
	for _, r := range est.Resources() {
		if r.Cloud == domain.AWS && r.Kind == domain.KindVM && r.State == domain.StateRunning {
			vm = r
			break
		}
	}
	p := newProvider(t, srv, vm.Account)
	ref := vm.Ref()
	// Leave a stop in flight: the instance reads stopping for a long
	// while, and the provider's Stop is cancelled while it waits.
	srv.SetTransitions(1000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil && srv.CallCount("ec2", "StopInstances") == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := p.Stop(ctx, ref, "t/stop"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a cancelled context: %v, want context.Canceled", err)
	}
	got, err := list(t, p, collect.Scope{Account: vm.Account, Region: vm.Region})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.ID == vm.ID && r.State != "stopping" {
			t.Errorf("inventory shows %s as %s, want stopping (EC2's name kept)", vm.ID, r.State)
		}
	}
}

func TestInventoryFailedRegions(t *testing.T) {
	est, srv := newFakeWith(t, simcloud.Demo(demoNow), awsfake.Options{Regions: []string{"us-east-1", "us-west-2"}})
	account := est.Accounts(domain.AWS)[0]
	west := collect.Scope{Account: account, Region: "us-west-2"}
	east := collect.Scope{Account: account, Region: "us-east-1"}

	t.Run("throttled after bounded retries", func(t *testing.T) {
		p := newRetryingProvider(t, srv, account, 3)
		before := srv.CallCount("ec2", "DescribeInstances")
		srv.Fail("ec2", "DescribeInstances", "us-west-2", 100, "RequestLimitExceeded", http.StatusServiceUnavailable)
		_, err := list(t, p, west)
		if !errors.Is(err, domain.ErrThrottled) {
			t.Fatalf("Resources(%v) = %v, want throttled", west, err)
		}
		if n := srv.CallCount("ec2", "DescribeInstances") - before; n != 3 {
			t.Errorf("%d DescribeInstances attempts, want 3 (MaxAttempts)", n)
		}
		if _, err := list(t, p, east); err != nil {
			t.Errorf("another region is readable: Resources(%v) = %v", east, err)
		}
	})
	t.Run("unauthorized", func(t *testing.T) {
		_, srv := newFakeWith(t, simcloud.Demo(demoNow), awsfake.Options{Regions: []string{"us-east-1", "us-west-2"}})
		p := newRetryingProvider(t, srv, account, 3)
		srv.Fail("ec2", "DescribeVolumes", "us-west-2", 1, "UnauthorizedOperation", http.StatusForbidden)
		_, err := list(t, p, west)
		if !errors.Is(err, domain.ErrPermission) {
			t.Fatalf("Resources(%v) = %v, want permission", west, err)
		}
		if n := srv.CallCount("ec2", "DescribeVolumes"); n != 1 {
			t.Errorf("%d DescribeVolumes attempts, want 1 (a permission error is not retried)", n)
		}
	})
	t.Run("denied scope of the estate", func(t *testing.T) {
		_, srv := newFakeWith(t, simcloud.Config{Seed: simcloud.DemoSeed, Resources: simcloud.DemoResources, Now: demoNow,
			DeniedScopes: []collect.Scope{east}}, awsfake.Options{})
		p := newProvider(t, srv, account)
		if _, err := list(t, p, east); !errors.Is(err, domain.ErrPermission) {
			t.Fatalf("Resources(denied %v) = %v, want permission", east, err)
		}
	})
	t.Run("another account", func(t *testing.T) {
		p := newProvider(t, srv, account)
		if _, err := list(t, p, collect.Scope{Account: "999999999999", Region: "us-east-1"}); !errors.Is(err, domain.ErrPermission) {
			t.Fatalf("Resources(another account) = %v, want permission", err)
		}
	})
}

func TestInventoryHonoursTheContext(t *testing.T) {
	est, srv := newFake(t)
	account := est.Accounts(domain.AWS)[0]
	scope := collect.Scope{Account: account, Region: "us-east-1"}
	p := newProvider(t, srv, account)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Resources(ctx, scope, func([]domain.Resource) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Resources with a cancelled context = %v, want context.Canceled", err)
	}

	// A deadline cuts the SDK's backoff between throttled attempts short:
	// with 10 attempts and backoff of up to 20 s allowed, the call must
	// end at the deadline, long before the attempts run out.
	slow, err := awscloud.New(context.Background(), awscloud.Config{AWS: srv.Config(account), MaxAttempts: 10})
	if err != nil {
		t.Fatal(err)
	}
	srv.Fail("ec2", "DescribeInstances", "us-east-1", 100, "RequestLimitExceeded", http.StatusServiceUnavailable)
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = slow.Resources(ctx, scope, func([]domain.Resource) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Resources past its deadline = %v, want context.DeadlineExceeded", err)
	}
	if n := srv.CallCount("ec2", "DescribeInstances"); n >= 10 {
		t.Errorf("%d attempts before the deadline stopped the retries, want fewer than 10", n)
	}
}

func TestInventoryReturnsTheCallbacksError(t *testing.T) {
	est, srv := newFake(t)
	account := est.Accounts(domain.AWS)[0]
	p := newProvider(t, srv, account)
	stop := errors.New("sink full")
	pages := 0
	err := p.Resources(context.Background(), collect.Scope{Account: account, Region: "us-east-1"}, func([]domain.Resource) error {
		pages++
		return stop
	})
	if err != stop {
		t.Fatalf("Resources = %v, want the callback's error as it is", err)
	}
	if pages != 1 {
		t.Errorf("%d pages after the callback failed, want 1", pages)
	}
}
