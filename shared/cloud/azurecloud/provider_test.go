package azurecloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// now is the clock of the estates in these tests.
var now = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Subscriptions of the hand-built estates.
const (
	subA = "11111111-1111-4111-8111-111111111111"
	subB = "22222222-2222-4222-8222-222222222222"
	subC = "33333333-3333-4333-8333-333333333333"
)

// newServer serves est through the SDK's fake servers.
func newServer(t *testing.T, est *azurefake.Estate, opts azurefake.Options) *azurefake.Server {
	t.Helper()
	return azurefake.New(est, opts)
}

// newProvider returns a provider talking to srv, retrying fast so that
// throttling tests take milliseconds.
func newProvider(t *testing.T, srv *azurefake.Server, cfg azurecloud.Config) *azurecloud.Provider {
	t.Helper()
	if cfg.Credential == nil {
		cfg.Credential = azurefake.Credential()
	}
	cfg.ClientOptions = srv.ClientOptions()
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = time.Millisecond
	}
	p, err := azurecloud.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// armID builds an ARM ID in subscription sub.
func armID(sub, rg, typ, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + typ + "/" + name
}

func vmID(sub, name string) string {
	return armID(sub, "rg-app", "Microsoft.Compute/virtualMachines", name)
}

// smallEstate is two subscriptions of a few VMs in two regions and an
// empty third one.
func smallEstate() *azurefake.Estate {
	est := azurefake.NewEstate()
	est.Sizes["eastus"] = azurefake.SyntheticSizes
	est.Sizes["westeurope"] = azurefake.SyntheticSizes
	for _, sub := range []string{subA, subB, subC} {
		est.AddSubscription(azurefake.NewSubscription(sub, "sub-"+sub[:4]))
	}
	for i, sub := range []string{subA, subB} {
		for j, region := range []string{"eastus", "westeurope", "eastus"} {
			vm := &azurefake.VM{ID: vmID(sub, "vm-"+region+"-"+string(rune('a'+j))), Location: region, Size: "Standard_D2s_v5",
				PowerState: azurefake.PowerRunning, TimeCreated: now.AddDate(0, -i-1, 0)}
			if err := est.AddVM(vm); err != nil {
				panic(err)
			}
		}
	}
	return est
}

func TestNewChecksTheConfiguration(t *testing.T) {
	cred := azurefake.Credential()
	for _, tc := range []struct {
		name string
		cfg  azurecloud.Config
	}{
		{"no credential", azurecloud.Config{}},
		{"a resource ID for a subscription", azurecloud.Config{Credential: cred, Subscriptions: []string{"/subscriptions/x"}}},
		{"page size", azurecloud.Config{Credential: cred, PageSize: 6000}},
		{"metric resources", azurecloud.Config{Credential: cred, MetricResources: 51}},
		{"metric span", azurecloud.Config{Credential: cred, MetricSpan: 31 * 24 * time.Hour}},
		{"cost chunk", azurecloud.Config{Credential: cred, CostChunkDays: 40}},
		{"prices URL", azurecloud.Config{Credential: cred, RetailPricesURL: "ftp://prices"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := azurecloud.New(context.Background(), tc.cfg)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("New(%s) = %v; want an error wrapping ErrInvalid", tc.name, err)
			}
			t.Log(err)
		})
	}
}

func TestSubscriptionsListsTheReadableOnes(t *testing.T) {
	est := smallEstate()
	est.Lock()
	est.Subscriptions[azurefake.Key(subC)].State = "Disabled"
	est.Unlock()
	srv := newServer(t, est, azurefake.Options{PageSize: 1})
	p := newProvider(t, srv, azurecloud.Config{})
	got, err := p.Subscriptions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{subA, subB}; !slices.Equal(got, want) {
		t.Fatalf("Subscriptions() = %v; want %v (the disabled one left out)", got, want)
	}
	if n := srv.CallCount("Client.NewListPager"); n != 3 {
		t.Errorf("%d subscription list pages asked; want 3 (pages of one)", n)
	}
	configured := newProvider(t, srv, azurecloud.Config{Subscriptions: []string{subB, subA, subB}})
	srv.ResetCalls()
	got, err = configured.Subscriptions(context.Background())
	if err != nil || !slices.Equal(got, []string{subA, subB}) {
		t.Fatalf("configured Subscriptions() = %v, %v; want [%s %s]", got, err, subA, subB)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("configured subscriptions made %d calls; want none", n)
	}
}

func TestScopesArePerSubscriptionAndRegion(t *testing.T) {
	srv := newServer(t, smallEstate(), azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{})
	got, err := p.Scopes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []collect.Scope{{Account: subA, Region: "eastus"}, {Account: subA, Region: "westeurope"},
		{Account: subB, Region: "eastus"}, {Account: subB, Region: "westeurope"}, {Account: subC}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Scopes() (-want +got):\n%s", diff)
	}
	// The empty subscription's scope reads as empty, not as an error.
	n := 0
	if err := p.Resources(context.Background(), collect.Scope{Account: subC}, func(rs []domain.Resource) error { n += len(rs); return nil }); err != nil || n != 0 {
		t.Fatalf("Resources(empty subscription) = %d resources, %v; want none and no error", n, err)
	}
}

func TestForbiddenSubscriptionIsAFailedScope(t *testing.T) {
	srv := newServer(t, smallEstate(), azurefake.Options{})
	srv.Deny(subB, "")
	p := newProvider(t, srv, azurecloud.Config{})
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatalf("Scopes with one forbidden subscription: %v; want the others listed", err)
	}
	want := []collect.Scope{{Account: subA, Region: "eastus"}, {Account: subA, Region: "westeurope"}, {Account: subB}, {Account: subC}}
	if diff := cmp.Diff(want, scopes); diff != "" {
		t.Fatalf("Scopes() (-want +got):\n%s", diff)
	}
	for _, sc := range scopes {
		n := 0
		err := p.Resources(ctx, sc, func(rs []domain.Resource) error { n += len(rs); return nil })
		switch sc.Account {
		case subB:
			if !errors.Is(err, domain.ErrPermission) || n != 0 {
				t.Errorf("Resources(%v) = %d resources, %v; want none and ErrPermission", sc, n, err)
			}
			var azErr *azurecloud.Error
			if !errors.As(err, &azErr) || azErr.Code != "AuthorizationFailed" || azErr.Status != http.StatusForbidden {
				t.Errorf("Resources(%v) error %v; want an *azurecloud.Error with AuthorizationFailed and 403", sc, err)
			}
		default:
			if err != nil {
				t.Errorf("Resources(%v) = %v; want the other subscriptions read", sc, err)
			}
		}
	}
}

// tokenServer is a Microsoft Entra token endpoint whose every token
// request fails as for an expired client secret.
func tokenServer(t *testing.T, tenant string) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
			base := "https://" + r.Host + "/" + tenant
			_ = json.NewEncoder(w).Encode(map[string]any{
				"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"issuer": base + "/v2.0",
			})
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client",
				"error_description": "AADSTS7000222: The provided client secret keys for app 'cloudtrim' are expired.",
				"error_codes":       []int{7000222}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestExpiredCredentialIsPermissionDenied(t *testing.T) {
	const tenant = "44444444-4444-4444-8444-444444444444"
	ts := tokenServer(t, tenant)
	cred, err := azidentity.NewClientSecretCredential(tenant, "cloudtrim", "expired-secret", &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: ts.URL + "/"}, Transport: ts.Client()},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, smallEstate(), azurefake.Options{})
	p := newProvider(t, srv, azurecloud.Config{Credential: cred})
	_, err = p.Scopes(context.Background())
	if !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("Scopes with an expired secret = %v; want ErrPermission", err)
	}
	var failed *azidentity.AuthenticationFailedError
	if !errors.As(err, &failed) {
		t.Fatalf("Scopes error %v; want azidentity's AuthenticationFailedError reachable", err)
	}
	if n := len(srv.Calls()); n != 0 {
		t.Errorf("%d ARM calls reached the fake; want none without a token", n)
	}
}

func TestThrottlingIsRetriedAsAskedThenGivenUp(t *testing.T) {
	ctx := context.Background()
	scope := collect.Scope{Account: subA, Region: "eastus"}
	count := func(p *azurecloud.Provider) (int, error) {
		n := 0
		err := p.Resources(ctx, scope, func(rs []domain.Resource) error { n += len(rs); return nil })
		return n, err
	}

	t.Run("storm then success", func(t *testing.T) {
		srv := newServer(t, smallEstate(), azurefake.Options{})
		p := newProvider(t, srv, azurecloud.Config{MaxRetries: 4})
		srv.Fail(azurefake.Fault{API: "VirtualMachinesClient.NewListAllPager", Status: http.StatusTooManyRequests,
			Code: "SubscriptionRequestsThrottled", Times: 3, RetryAfter: 5 * time.Millisecond, RetryAfterHeader: "retry-after-ms"})
		n, err := count(p)
		if err != nil || n != 2 {
			t.Fatalf("Resources after 3 throttled answers = %d, %v; want the 2 VMs of the scope", n, err)
		}
		throttled := 0
		for _, c := range srv.Calls() {
			if c.Status == http.StatusTooManyRequests {
				throttled++
			}
		}
		if throttled != 3 {
			t.Errorf("%d throttled answers; want 3", throttled)
		}
	})

	t.Run("persistent", func(t *testing.T) {
		srv := newServer(t, smallEstate(), azurefake.Options{})
		p := newProvider(t, srv, azurecloud.Config{MaxRetries: 2})
		srv.Fail(azurefake.Fault{API: "DisksClient.NewListPager", Status: http.StatusTooManyRequests,
			RetryAfter: time.Millisecond, RetryAfterHeader: "retry-after-ms"})
		n, err := count(p)
		if !errors.Is(err, domain.ErrThrottled) {
			t.Fatalf("Resources under persistent throttling = %v; want ErrThrottled", err)
		}
		if n != 2 {
			t.Errorf("%d resources handed on before the throttled listing; want the 2 VMs (a partial scope)", n)
		}
		if got := srv.CallCount("DisksClient.NewListPager"); got != 3 {
			t.Errorf("%d disk listing attempts; want 3 (MaxRetries 2)", got)
		}
	})

	t.Run("Retry-After beyond the bound", func(t *testing.T) {
		srv := newServer(t, smallEstate(), azurefake.Options{})
		p := newProvider(t, srv, azurecloud.Config{MaxRetries: 4, MaxRetryDelay: time.Second})
		srv.Fail(azurefake.Fault{API: "VirtualMachinesClient.NewListAllPager", Status: http.StatusTooManyRequests, Times: 1, RetryAfter: 30 * time.Second})
		_, err := count(p)
		var azErr *azurecloud.Error
		if !errors.Is(err, domain.ErrThrottled) || !errors.As(err, &azErr) || azErr.RetryAfter != 30*time.Second {
			t.Fatalf("Resources asked to wait 30 s with a 1 s bound = %v; want ErrThrottled at once, RetryAfter 30s", err)
		}
		if got := srv.CallCount("VirtualMachinesClient.NewListAllPager"); got != 1 {
			t.Errorf("%d attempts; want 1: a wait beyond MaxRetryDelay is not waited", got)
		}
	})
}

// TestCollectorRecordsThrottledScopes throttles one subscription's disk
// listing for good: its scopes are recorded as not read (failed or
// partial) with the throttling named, the other subscription's as read.
func TestCollectorRecordsThrottledScopes(t *testing.T) {
	srv := newServer(t, smallEstate(), azurefake.Options{})
	srv.Fail(azurefake.Fault{API: "DisksClient.NewListPager", Subscription: subB, Status: http.StatusTooManyRequests,
		RetryAfter: time.Millisecond, RetryAfterHeader: "retry-after-ms"})
	p := newProvider(t, srv, azurecloud.Config{MaxRetries: 1})
	sink := &countingSink{}
	c := &collect.Collector{Provider: p, Now: func() time.Time { return now },
		NewSink: func(domain.Cloud, string, collect.Window) collect.Sink { return sink }}
	res, err := c.Run(context.Background(), collect.Request{RunID: "throttled", Days: 2})
	if err != nil {
		t.Fatal(err)
	}
	throttled := 0
	for _, s := range res.Scopes {
		switch {
		case s.Region == "costs":
		case s.Account == subB:
			if s.Status == collect.ScopeOK || !strings.Contains(s.Error, "HTTP 429") {
				t.Errorf("throttled subscription's scope %+v; want failed or partial naming HTTP 429", s)
			}
			throttled++
		case s.Status != collect.ScopeOK:
			t.Errorf("scope %+v; want ok", s)
		}
	}
	// The regions found before the throttled listing, and the
	// subscription itself.
	if throttled != 3 {
		t.Errorf("%d scopes of the throttled subscription recorded; want 3 (eastus, westeurope, the subscription)", throttled)
	}
	if !slices.Equal(res.Scopes, sink.scopes) {
		t.Errorf("the result's scopes differ from those recorded in the snapshot")
	}
}

// demoFake serves the Azure part of the simulated demo estate.
func demoFake(t *testing.T) (*simcloud.Estate, *azurefake.Server, *pricing.Catalog) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simcloud.New(simcloud.Demo(now), prices)
	if err != nil {
		t.Fatal(err)
	}
	est, err := azurefake.FromSim(context.Background(), sim, prices)
	if err != nil {
		t.Fatal(err)
	}
	return sim, newServer(t, est, azurefake.Options{PageSize: 4, CostPageSize: 7}), prices
}

// TestCollectorCommitsTheSimulatedAzureEstate runs the collector core
// through the provider over the Azure part of the simulated demo estate,
// one subscription forbidden, into a file-backed lake, and checks the
// manifest and the snapshot against the estate.
func TestCollectorCommitsTheSimulatedAzureEstate(t *testing.T) {
	ctx := context.Background()
	sim, srv, prices := demoFake(t)
	subs := sim.Accounts(domain.Azure)
	if len(subs) < 2 {
		t.Fatalf("the demo estate has %d Azure subscriptions; want 2", len(subs))
	}
	// The subscription holding the most resources is read, the other
	// forbidden.
	held := map[string]int{}
	for _, r := range sim.Resources() {
		held[r.Account]++
	}
	allowed, denied := subs[0], subs[1]
	if held[denied] > held[allowed] {
		allowed, denied = denied, allowed
	}
	srv.Deny(denied, "")
	p := newProvider(t, srv, azurecloud.Config{PageSize: 5})
	l, err := lake.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pl := &pipeline.Pipeline{Lake: l, Prices: prices, Policy: domain.DefaultPolicy(), Now: func() time.Time { return now }}
	res, err := pl.Collect(ctx, p, 14, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := l.OpenSnapshot(ctx, domain.Azure, res.RunID)
	if err != nil {
		t.Fatal(err)
	}

	// The estate's resources of the readable subscription, by region.
	want := map[string][]domain.Resource{}
	for _, r := range sim.Resources() {
		if r.Cloud == domain.Azure && r.Account == allowed {
			want[r.Region] = append(want[r.Region], r)
		}
	}
	var wantScopes []lake.ScopeStatus
	for _, region := range []string{"eastus", "westeurope"} {
		if len(want[region]) > 0 {
			wantScopes = append(wantScopes, lake.ScopeStatus{Account: allowed, Region: region, Status: lake.ScopeOK, Resources: len(want[region])})
		}
	}
	gotScopes := snap.Manifest().Scopes
	var failed []lake.ScopeStatus
	var ok []lake.ScopeStatus
	for _, s := range gotScopes {
		if s.Account == denied {
			failed = append(failed, s)
		} else {
			ok = append(ok, s)
		}
	}
	if diff := cmp.Diff(wantScopes, ok); diff != "" {
		t.Errorf("readable scopes in the manifest (-want +got):\n%s", diff)
	}
	if len(failed) != 1 || failed[0].Region != "" || failed[0].Status != lake.ScopeFailed || !strings.Contains(failed[0].Error, "AuthorizationFailed") {
		t.Errorf("the forbidden subscription's scopes = %+v; want one failed scope without a region naming AuthorizationFailed", failed)
	}

	// The snapshot holds the estate's resources as Azure shows them.
	var got []domain.Resource
	if err := snap.Resources(ctx, func(r domain.Resource) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	var all []domain.Resource
	for _, rs := range want {
		all = append(all, rs...)
	}
	byID := func(a, b domain.Resource) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(all, byID)
	slices.SortFunc(got, byID)
	for i := range all {
		all[i] = asAzureShowsIt(all[i])
	}
	// The lake stores no tags and empty tags alike.
	if diff := cmp.Diff(all, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("snapshot resources against the estate's (-want +got):\n%s", diff)
	}

	// Every running VM has a CPU series; memory where the estate's VM has
	// an agent; cost rows of the readable subscription only.
	series := map[domain.Metric]int{}
	if err := snap.Series(ctx, func(s domain.Series) error { series[s.Metric]++; return nil }); err != nil {
		t.Fatal(err)
	}
	vms := 0
	for _, r := range all {
		if r.Kind == domain.KindVM {
			vms++
		}
	}
	if series[domain.MetricCPU] != vms || series[domain.MetricMemory] == 0 {
		t.Errorf("series by metric %v; want a CPU series for each of the %d VMs and some memory series", series, vms)
	}
	rows, accounts := 0, map[string]bool{}
	if err := snap.CostRows(ctx, func(r domain.CostRow) error { rows++; accounts[r.SubAccountID] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if rows == 0 || len(accounts) != 1 || !accounts[allowed] {
		t.Errorf("%d cost rows of %v; want rows of %s only", rows, accounts, allowed)
	}
	if res.Resources != len(all) || res.CostRows != rows {
		t.Errorf("Result = %d resources, %d cost rows; want %d and %d", res.Resources, res.CostRows, len(all), rows)
	}
}

// asAzureShowsIt is a simulated resource as the provider reads it back
// from the fake: ARM keeps no creation time for a public IP, and tags
// come inline with every resource, so none is incomplete.
func asAzureShowsIt(r domain.Resource) domain.Resource {
	if r.Kind == domain.KindIP {
		r.CreatedAt = time.Time{}
	}
	r.Incomplete = ""
	if r.Kind == domain.KindVM && r.State == domain.StateScheduled {
		r.State = domain.StateRunning
	}
	return r
}

// countingSink counts what the collector writes and keeps nothing, so
// the memory measured is the provider's and the collector's.
type countingSink struct {
	resources, series, rows int
	scopes                  []collect.ScopeStatus
}

func (s *countingSink) WriteResources(_ context.Context, rs []domain.Resource) error {
	s.resources += len(rs)
	return nil
}

func (s *countingSink) WriteSeries(_ context.Context, _ string, ss []domain.Series) error {
	s.series += len(ss)
	return nil
}

func (s *countingSink) WriteCostRows(_ context.Context, rows []domain.CostRow) error {
	s.rows += len(rows)
	return nil
}

func (s *countingSink) RecordScope(st collect.ScopeStatus) { s.scopes = append(s.scopes, st) }

func (s *countingSink) Commit(context.Context) (string, error) { return "counted", nil }
