package azurecloud

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Defaults and bounds of Config.
const (
	// DefaultPageSize is how many resources Resources hands to its
	// callback at once.
	DefaultPageSize = 500
	// MaxMetricResources is the most VMs one metrics query names, the
	// limit Azure Monitor documents for its batch metrics API; the
	// subscription-scope query documents none, so the provider keeps to
	// the same.
	MaxMetricResources = 50
	// DefaultMetricSpan is the time one metrics query covers at most: 50
	// VMs × 6 metrics × 168 hourly points, two aggregations each, is an
	// answer of about 4 MB. MaxMetricSpan bounds the configuration: the
	// Azure portal's metrics charts read at most 30 days at once, and one
	// query is asked no more.
	DefaultMetricSpan = 7 * 24 * time.Hour
	MaxMetricSpan     = 30 * 24 * time.Hour
	// DefaultCostChunkDays is how many days one pair of cost queries
	// (ActualCost and AmortizedCost) covers: their rows are merged in
	// memory, so the chunk bounds the memory.
	DefaultCostChunkDays = 7
	// DefaultRetailPricesURL is the public Azure Retail Prices API.
	DefaultRetailPricesURL = "https://prices.azure.com/api/retail/prices"
	// DefaultMaxRetries, DefaultRetryDelay and DefaultMaxRetryDelay bound
	// the SDK's retries of throttled (429) and transient (408, 5xx) calls.
	DefaultMaxRetries    = 4
	DefaultRetryDelay    = 2 * time.Second
	DefaultMaxRetryDelay = 60 * time.Second
	DefaultTryTimeout    = 2 * time.Minute
)

// Config configures a Provider.
type Config struct {
	// Credential authenticates every ARM call (azidentity's
	// DefaultAzureCredential or a managed identity in production).
	Credential azcore.TokenCredential
	// Subscriptions are the subscriptions to read. Empty means every
	// subscription the identity can list (armsubscriptions), read at
	// each Scopes call.
	Subscriptions []string
	// ClientOptions are the ARM client options: cloud, transport (tests
	// pass the azurefake server). Its Retry settings are replaced by the
	// ones below, and resource provider registration is always disabled:
	// a read-only collector registers nothing.
	ClientOptions *arm.ClientOptions
	// PageSize is how many resources Resources hands to its callback at
	// once (default DefaultPageSize, at most 5000). ARM pages its
	// listings itself; the provider follows every nextLink.
	PageSize int
	// MaxRetries bounds the retries of a throttled or transient call
	// (0 means DefaultMaxRetries, negative none). The SDK's retry policy
	// waits what a 429 answer asks (Retry-After, retry-after-ms; Cost
	// Management's x-ms-ratelimit-*-retry-after are turned into
	// Retry-After) or backs off exponentially from RetryDelay; a wait
	// longer than MaxRetryDelay is not waited: the call fails at once with
	// an error wrapping domain.ErrThrottled. TryTimeout bounds one try.
	MaxRetries    int
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	TryTimeout    time.Duration
	// MetricResources is how many VMs one metrics query names (default
	// and at most MaxMetricResources); MetricSpan the time it covers at
	// most (default DefaultMetricSpan, at most MaxMetricSpan).
	MetricResources int
	MetricSpan      time.Duration
	// CostChunkDays is how many days one pair of cost queries covers
	// (default DefaultCostChunkDays).
	CostChunkDays int
	// RetailPricesURL is the Retail Prices API endpoint (default
	// DefaultRetailPricesURL); HTTPClient calls it (default a client with
	// a one-minute timeout). The API needs no credential.
	RetailPricesURL string
	HTTPClient      *http.Client
	Logger          *slog.Logger
}

// LogValue describes the configuration without its credential.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("subscriptions", c.Subscriptions), slog.Int("page_size", c.PageSize),
		slog.Int("max_retries", c.MaxRetries), slog.Int("metric_resources", c.MetricResources),
		slog.Duration("metric_span", c.MetricSpan), slog.String("retail_prices_url", c.RetailPricesURL))
}

// Provider reads the subscriptions of one Azure identity: inventory
// (collect.Inventory), Azure Monitor metrics (collect.Utilization), the
// Cost Management query API (collect.Costs) and retail prices. It is
// safe for concurrent use.
type Provider struct {
	cfg      Config
	opts     arm.ClientOptions
	costOpts arm.ClientOptions
	logger   *slog.Logger
	http     *http.Client

	metricCalls atomic.Int64

	mu       sync.Mutex
	clients  map[string]*clients
	query    *armcostmanagement.QueryClient
	shapes   map[string]map[string]vmShape // region → Key(size) → shape
	scopeErr map[string]error              // Key(subscription) → why its regions could not be listed
	last     scopeVMs                      // the VMs of the scope listed last
}

// clients are the ARM clients of one subscription.
type clients struct {
	vms       *armcompute.VirtualMachinesClient
	disks     *armcompute.DisksClient
	snapshots *armcompute.SnapshotsClient
	skus      *armcompute.ResourceSKUsClient
	ips       *armnetwork.PublicIPAddressesClient
	nics      *armnetwork.InterfacesClient
	metrics   *armmonitor.MetricsClient
}

// New returns a provider for cfg. It checks the configuration and makes
// no call: the subscriptions are listed by Scopes.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Credential == nil {
		return nil, fmt.Errorf("%w: azurecloud: no credential configured", domain.ErrInvalid)
	}
	for _, s := range cfg.Subscriptions {
		if strings.TrimSpace(s) == "" || strings.Contains(s, "/") {
			return nil, fmt.Errorf("%w: azurecloud: subscription %q is not a subscription ID", domain.ErrInvalid, s)
		}
	}
	switch {
	case cfg.PageSize == 0:
		cfg.PageSize = DefaultPageSize
	case cfg.PageSize < 1 || cfg.PageSize > 5000:
		return nil, fmt.Errorf("%w: azurecloud: page size %d is outside 1..5000", domain.ErrInvalid, cfg.PageSize)
	}
	switch {
	case cfg.MetricResources == 0:
		cfg.MetricResources = MaxMetricResources
	case cfg.MetricResources < 1 || cfg.MetricResources > MaxMetricResources:
		return nil, fmt.Errorf("%w: azurecloud: metric resources %d is outside 1..%d", domain.ErrInvalid, cfg.MetricResources, MaxMetricResources)
	}
	switch {
	case cfg.MetricSpan == 0:
		cfg.MetricSpan = DefaultMetricSpan
	case cfg.MetricSpan < time.Hour || cfg.MetricSpan > MaxMetricSpan:
		return nil, fmt.Errorf("%w: azurecloud: metric span %v is outside 1h..%v", domain.ErrInvalid, cfg.MetricSpan, MaxMetricSpan)
	}
	switch {
	case cfg.CostChunkDays == 0:
		cfg.CostChunkDays = DefaultCostChunkDays
	case cfg.CostChunkDays < 1 || cfg.CostChunkDays > 31:
		return nil, fmt.Errorf("%w: azurecloud: cost chunk of %d days is outside 1..31", domain.ErrInvalid, cfg.CostChunkDays)
	}
	if cfg.RetailPricesURL == "" {
		cfg.RetailPricesURL = DefaultRetailPricesURL
	}
	if u, err := url.Parse(cfg.RetailPricesURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: azurecloud: retail prices URL %q is not an http(s) URL", domain.ErrInvalid, cfg.RetailPricesURL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	p := &Provider{cfg: cfg, logger: cfg.Logger, http: hc, clients: map[string]*clients{},
		shapes: map[string]map[string]vmShape{}, scopeErr: map[string]error{}}
	p.opts = armOptions(cfg)
	p.costOpts = p.opts
	p.costOpts.PerCallPolicies = append(slices.Clone(p.opts.PerCallPolicies), nextLinkPolicy{})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// armOptions are the client options of every ARM client: the caller's,
// with the retries configured deliberately and provider registration
// off.
func armOptions(cfg Config) arm.ClientOptions {
	var o arm.ClientOptions
	if cfg.ClientOptions != nil {
		o = *cfg.ClientOptions
	}
	o.DisableRPRegistration = true
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = -1 // azcore: no retries
	}
	o.Retry = policy.RetryOptions{
		MaxRetries:    int32(retries),
		RetryDelay:    cmpOr(cfg.RetryDelay, DefaultRetryDelay),
		MaxRetryDelay: cmpOr(cfg.MaxRetryDelay, DefaultMaxRetryDelay),
		TryTimeout:    cmpOr(cfg.TryTimeout, DefaultTryTimeout),
	}
	if o.Telemetry.ApplicationID == "" {
		o.Telemetry.ApplicationID = "cloudtrim"
	}
	o.PerCallPolicies = append(slices.Clone(o.PerCallPolicies), captureBodyPolicy{})
	o.PerRetryPolicies = append(slices.Clone(o.PerRetryPolicies), rateLimitPolicy{})
	return o
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// rateLimitPolicy turns the retry-after headers of Cost Management's
// throttling (x-ms-ratelimit-microsoft.costmanagement-*-retry-after, in
// seconds) into a Retry-After the SDK's retry policy honours. It runs
// for each try, before the retry policy reads the answer.
type rateLimitPolicy struct{}

func (rateLimitPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	if resp.Header.Get("Retry-After") != "" || resp.Header.Get("retry-after-ms") != "" || resp.Header.Get("x-ms-retry-after-ms") != "" {
		return resp, err
	}
	if d := rateLimitRetryAfter(resp.Header); d > 0 {
		resp.Header.Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
	return resp, err
}

// rateLimitRetryAfter returns the longest wait an
// x-ms-ratelimit-*-retry-after header asks for, zero when none does.
func rateLimitRetryAfter(h http.Header) time.Duration {
	var longest time.Duration
	for name, vs := range h {
		n := strings.ToLower(name)
		if !strings.HasPrefix(n, "x-ms-ratelimit-") || !strings.HasSuffix(n, "-retry-after") || len(vs) == 0 {
			continue
		}
		if s, err := strconv.ParseFloat(strings.TrimSpace(vs[0]), 64); err == nil && s > 0 {
			longest = max(longest, time.Duration(s*float64(time.Second)))
		}
	}
	return longest
}

type nextLinkKey struct{}

// nextLinkPolicy sends a Cost Management query to the nextLink of the
// previous page when the context carries one: the query API pages by a
// nextLink that takes the same POST body. The link must point at the
// same host as the request, so the credential goes nowhere else.
type nextLinkPolicy struct{}

func (nextLinkPolicy) Do(req *policy.Request) (*http.Response, error) {
	link, _ := req.Raw().Context().Value(nextLinkKey{}).(string)
	if link == "" {
		return req.Next()
	}
	u, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("%w: cost management nextLink %q: %v", domain.ErrInvalid, link, err)
	}
	if !strings.EqualFold(u.Host, req.Raw().URL.Host) || u.Scheme != req.Raw().URL.Scheme {
		return nil, fmt.Errorf("%w: cost management nextLink %q points away from %s", domain.ErrInvalid, link, req.Raw().URL.Host)
	}
	req.Raw().URL = u
	req.Raw().Host = u.Host
	return req.Next()
}

// Cloud implements collect.Inventory.
func (p *Provider) Cloud() domain.Cloud { return domain.Azure }

// MetricCalls returns how many Azure Monitor metrics queries the
// provider has made (a query is one call, whatever its retries).
func (p *Provider) MetricCalls() int64 { return p.metricCalls.Load() }

// maxClients bounds the subscriptions whose clients are kept: the
// collector reads one subscription after the other, and an identity may
// see thousands.
const maxClients = 16

// clientsOf returns the ARM clients of a subscription.
func (p *Provider) clientsOf(sub string) (*clients, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key(sub)]; ok {
		return c, nil
	}
	if len(p.clients) >= maxClients {
		clear(p.clients)
	}
	cred, o := p.cfg.Credential, &p.opts
	c := &clients{}
	var err error
	if c.vms, err = armcompute.NewVirtualMachinesClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	if c.disks, err = armcompute.NewDisksClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	if c.snapshots, err = armcompute.NewSnapshotsClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	if c.skus, err = armcompute.NewResourceSKUsClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	if c.ips, err = armnetwork.NewPublicIPAddressesClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	if c.nics, err = armnetwork.NewInterfacesClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	if c.metrics, err = armmonitor.NewMetricsClient(sub, cred, o); err != nil {
		return nil, clientErr(sub, err)
	}
	p.clients[key(sub)] = c
	return c, nil
}

func clientErr(sub string, err error) error {
	return fmt.Errorf("%w: azurecloud: clients of subscription %s: %v", domain.ErrInvalid, sub, err)
}

// queryClient returns the Cost Management query client.
func (p *Provider) queryClient() (*armcostmanagement.QueryClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.query == nil {
		q, err := armcostmanagement.NewQueryClient(p.cfg.Credential, &p.costOpts)
		if err != nil {
			return nil, fmt.Errorf("%w: azurecloud: cost management client: %v", domain.ErrInvalid, err)
		}
		p.query = q
	}
	return p.query, nil
}

// readableStates are the subscription states whose resources can be
// read; Disabled and Deleted subscriptions are skipped.
var readableStates = map[armsubscriptions.SubscriptionState]bool{
	armsubscriptions.SubscriptionStateEnabled: true, armsubscriptions.SubscriptionStateWarned: true,
	armsubscriptions.SubscriptionStatePastDue: true,
}

// Subscriptions returns the subscriptions the provider reads: the
// configured ones, or every subscription the identity can list whose
// state allows reading it, in order.
func (p *Provider) Subscriptions(ctx context.Context) ([]string, error) {
	if len(p.cfg.Subscriptions) > 0 {
		subs := slices.Clone(p.cfg.Subscriptions)
		sort.Strings(subs)
		return slices.Compact(subs), nil
	}
	c, err := armsubscriptions.NewClient(p.cfg.Credential, &p.opts)
	if err != nil {
		return nil, fmt.Errorf("%w: azurecloud: subscriptions client: %v", domain.ErrInvalid, err)
	}
	var subs []string
	pager := c.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapErr("list subscriptions", err)
		}
		for _, s := range page.Value {
			if s == nil || s.SubscriptionID == nil {
				continue
			}
			if s.State != nil && !readableStates[*s.State] {
				p.logger.InfoContext(ctx, "subscription skipped", "account_id", *s.SubscriptionID, "state", string(*s.State))
				continue
			}
			subs = append(subs, *s.SubscriptionID)
		}
	}
	sort.Strings(subs)
	return slices.Compact(subs), nil
}

// Scopes implements collect.Inventory with one scope per subscription
// and region that holds resources: the region is the unit the metrics
// API queries and the unit the actuator's coverage check names, while
// ARM lists each kind of resource per subscription. Finding the regions
// takes one listing pass over the subscription's VMs, disks, public IPs
// and snapshots; Resources then lists the subscription again for each
// region and keeps that region's resources, so memory holds one page,
// not a subscription.
//
// A subscription whose resources cannot be listed (403, throttled past
// the retries, an expired credential) gets one scope with an empty
// region, and Resources of that scope returns the error: the manifest
// records the subscription as failed, which blocks changes to all of it.
// A subscription that can be read but holds nothing also gets a scope
// with an empty region, read as empty. An error means the subscriptions
// themselves could not be listed.
func (p *Provider) Scopes(ctx context.Context) ([]collect.Scope, error) {
	subs, err := p.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var scopes []collect.Scope
	errs := map[string]error{}
	for _, sub := range subs {
		regions, err := p.regionsOf(ctx, sub)
		if err != nil && ctx.Err() != nil {
			return nil, err
		}
		for _, r := range regions {
			scopes = append(scopes, collect.Scope{Account: sub, Region: r})
		}
		if err != nil {
			errs[key(sub)] = err
			p.logger.WarnContext(ctx, "subscription not readable", "account_id", sub, "error", err)
		}
		if err != nil || len(regions) == 0 {
			scopes = append(scopes, collect.Scope{Account: sub})
		}
	}
	p.mu.Lock()
	p.scopeErr = errs
	p.mu.Unlock()
	return scopes, nil
}

// regionsOf lists the regions that hold a VM, disk, public IP or
// snapshot of sub, sorted, and the error that stopped the listing. Only
// the locations are read from the pages (pageLocations): the SDK's
// models are not decoded for a pass that needs none of them.
func (p *Provider) regionsOf(ctx context.Context, sub string) ([]string, error) {
	c, err := p.clientsOf(sub)
	if err != nil {
		return nil, err
	}
	locs := &pageLocations{seen: map[string]bool{}}
	ctx = context.WithValue(ctx, capturedBodyKey{}, locs)
	vms := c.vms.NewListAllPager(nil)
	for vms.More() {
		if _, err := vms.NextPage(ctx); err != nil {
			return locs.regions(), mapErr("list virtual machines of subscription "+sub, err)
		}
	}
	disks := c.disks.NewListPager(nil)
	for disks.More() {
		if _, err := disks.NextPage(ctx); err != nil {
			return locs.regions(), mapErr("list managed disks of subscription "+sub, err)
		}
	}
	ips := c.ips.NewListAllPager(nil)
	for ips.More() {
		if _, err := ips.NextPage(ctx); err != nil {
			return locs.regions(), mapErr("list public IP addresses of subscription "+sub, err)
		}
	}
	snaps := c.snapshots.NewListPager(nil)
	for snaps.More() {
		if _, err := snaps.NextPage(ctx); err != nil {
			return locs.regions(), mapErr("list snapshots of subscription "+sub, err)
		}
	}
	return locs.regions(), nil
}

// pageLocations reads the locations of the items of a listing's pages
// and gives the SDK only each page's nextLink to follow.
type pageLocations struct{ seen map[string]bool }

func (l *pageLocations) take(b []byte) ([]byte, error) {
	var page struct {
		Value []struct {
			Location string `json:"location"`
		} `json:"value"`
		NextLink *string `json:"nextLink"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, fmt.Errorf("%w: a listing page that is not JSON: %v", domain.ErrInvalid, err)
	}
	for _, v := range page.Value {
		if v.Location != "" {
			l.seen[normRegion(v.Location)] = true
		}
	}
	return json.Marshal(struct {
		NextLink *string `json:"nextLink,omitempty"`
	}{page.NextLink})
}

// regions returns the regions seen, sorted.
func (l *pageLocations) regions() []string {
	out := make([]string, 0, len(l.seen))
	for r := range l.seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// key is the form of an Azure ID (resource, subscription, size) maps are
// keyed by: ARM IDs are case-insensitive.
func key(id string) string { return domain.ResourceKey(domain.Azure, id) }

// normRegion returns the ARM name of a location: "East US" and "eastus"
// are both "eastus".
func normRegion(loc string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(loc), " ", ""))
}
