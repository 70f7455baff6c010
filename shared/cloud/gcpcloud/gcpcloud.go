package gcpcloud

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigquery"
	billing "cloud.google.com/go/billing/apiv1"
	compute "cloud.google.com/go/compute/apiv1"
	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	gcs "google.golang.org/api/storage/v1"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Defaults and bounds of Config.
const (
	// DefaultPageSize is how many resources Resources hands to its
	// callback at once, and the maxResults of a Compute Engine listing
	// (the API's maximum is 500).
	DefaultPageSize = 500
	// DefaultCallTimeout bounds one API call, a page of a listing
	// included: Google's clients retry some calls until their context
	// ends, so every call runs under a deadline.
	DefaultCallTimeout = 2 * time.Minute
	// DefaultOperationTimeout bounds the wait for one Compute Engine
	// operation (a stop, a start, a setMachineType) to finish.
	DefaultOperationTimeout = 10 * time.Minute
	// DefaultMaxRetries and DefaultRetryDelay bound the retries of a
	// throttled (429) or unavailable (503, 504) call.
	DefaultMaxRetries = 4
	DefaultRetryDelay = time.Second
	// DefaultPollInterval is how often an operation, or an instance
	// moving between statuses, is read: the pace of gcloud's own waits.
	DefaultPollInterval = 2 * time.Second
)

// Config configures a Provider.
type Config struct {
	// Projects are the project IDs to read. Empty means every active
	// project the identity can see (Resource Manager's projects.search),
	// read at each Scopes call. They are also the projects this
	// deployment owns: the actuator's calls (Get and the changes) are
	// refused with domain.ErrPermission, before any call, for a resource
	// of any other project, and for every resource when Projects is
	// empty.
	Projects []string
	// Options are the client options of every Google API client:
	// credentials in production (none means Application Default
	// Credentials, the function's service account). The per-API options
	// below are appended to these; tests point each API at its fake with
	// option.WithEndpoint and option.WithoutAuthentication, or
	// option.WithGRPCConn for Monitoring.
	Options           []option.ClientOption
	ComputeOptions    []option.ClientOption
	MonitoringOptions []option.ClientOption
	ProjectsOptions   []option.ClientOption
	CatalogOptions    []option.ClientOption
	BigQueryOptions   []option.ClientOption
	StorageOptions    []option.ClientOption
	// BillingExportTable is the BigQuery table of the Cloud Billing
	// export, "project.dataset.table" (the standard
	// gcp_billing_export_v1_… or the detailed
	// gcp_billing_export_resource_v1_… table). Empty means no cost data:
	// CostRows returns nil without calling its callback.
	BillingExportTable string
	// BillingQueryProject is the project BigQuery jobs run (and are
	// billed) in; default the export table's project.
	BillingQueryProject string
	// PageSize is how many resources Resources hands to its callback at
	// once (default and at most DefaultPageSize).
	PageSize int
	// CallTimeout bounds one API call (default DefaultCallTimeout);
	// OperationTimeout the wait for one operation (default
	// DefaultOperationTimeout).
	CallTimeout      time.Duration
	OperationTimeout time.Duration
	// MaxRetries bounds the retries of a call answered 429, 503 or 504
	// (0 means DefaultMaxRetries, negative none); the waits back off
	// exponentially, with jitter, from RetryDelay (default
	// DefaultRetryDelay), within CallTimeout. Google's REST clients
	// retry no 429 themselves. A mutating call carries a requestId, so a
	// retry of one cannot apply it twice.
	MaxRetries int
	RetryDelay time.Duration
	// PollInterval is how often an operation, or an instance moving
	// between statuses, is read (default DefaultPollInterval).
	PollInterval time.Duration
	// ReservedLabels are label keys Tag and Snapshot never set; default
	// the policy's opt-in tag, cloudtrim-optin: the actuator must not be
	// able to opt a resource in.
	ReservedLabels []string
	Logger         *slog.Logger
}

// LogValue describes the configuration without its credentials.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("projects", c.Projects), slog.Int("page_size", c.PageSize),
		slog.String("billing_export_table", c.BillingExportTable),
		slog.Duration("call_timeout", c.CallTimeout), slog.Duration("operation_timeout", c.OperationTimeout),
		slog.Int("max_retries", c.MaxRetries), slog.Any("reserved_labels", c.ReservedLabels))
}

// Provider reads the projects of one Google Cloud identity: inventory
// (collect.Inventory), Cloud Monitoring utilization (collect.Utilization),
// the BigQuery billing export (collect.Costs) and Cloud Billing Catalog
// prices, and changes Compute Engine resources for the actuator. It is
// safe for concurrent use.
type Provider struct {
	cfg    Config
	logger *slog.Logger

	instances       *compute.InstancesClient
	disks           *compute.DisksClient
	regionDisks     *compute.RegionDisksClient
	addresses       *compute.AddressesClient
	globalAddresses *compute.GlobalAddressesClient
	snapshots       *compute.SnapshotsClient
	machineTypes    *compute.MachineTypesClient
	zoneOps         *compute.ZoneOperationsClient
	regionOps       *compute.RegionOperationsClient
	globalOps       *compute.GlobalOperationsClient

	// retries is how many times a call is retried (Config.MaxRetries).
	retries int

	// The clients of the other APIs are made on first use: a collector
	// needs them all, the actuator only Compute Engine.
	lazyMu   sync.Mutex
	projects *resourcemanager.ProjectsClient
	metrics  *monitoring.MetricClient
	catalog  *billing.CloudCatalogClient
	bq       *bigquery.Client
	gcs      *gcs.Service

	// metricCalls counts Cloud Monitoring calls (MetricCalls).
	metricCalls atomic.Int64

	mu sync.Mutex
	// vmIDs maps, for the projects Resources listed last, each instance's
	// numeric ID (Cloud Monitoring's instance_id label) to its relative
	// name: project → numeric ID → "projects/p/zones/z/instances/n".
	vmIDs map[string]map[string]string
	// listing is the project Resources listed last, its resources held
	// by region until another project is read (see Resources).
	listing *projectListing
	// scopeErr holds, by project ID, the error Scopes listed each
	// project with (nil for one it read).
	scopeErr map[string]error
}

// instanceIDs returns the numeric ID → relative name map of the
// instances of project that Resources listed, nil if it listed none.
func (p *Provider) instanceIDs(project string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.vmIDs[project]
}

// MetricCalls returns how many Cloud Monitoring calls the provider made.
func (p *Provider) MetricCalls() int64 { return p.metricCalls.Load() }

// New returns a Provider. It makes no call: the projects are listed by
// Scopes.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.PageSize <= 0 || cfg.PageSize > DefaultPageSize {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.OperationTimeout <= 0 {
		cfg.OperationTimeout = DefaultOperationTimeout
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ReservedLabels == nil {
		cfg.ReservedLabels = []string{domain.DefaultPolicy().OptInTag}
	}
	for _, p := range cfg.Projects {
		if p == "" {
			return nil, fmt.Errorf("gcpcloud: %w: an empty project ID in Projects", domain.ErrInvalid)
		}
	}
	p := &Provider{cfg: cfg, logger: cfg.Logger, scopeErr: map[string]error{}}
	switch {
	case cfg.MaxRetries == 0:
		p.retries = DefaultMaxRetries
	case cfg.MaxRetries > 0:
		p.retries = cfg.MaxRetries
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	opts := append(append([]option.ClientOption{}, cfg.Options...), cfg.ComputeOptions...)
	var err error
	if p.instances, err = compute.NewInstancesRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: instances client", err)
	}
	if p.disks, err = compute.NewDisksRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: disks client", err)
	}
	if p.regionDisks, err = compute.NewRegionDisksRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: region disks client", err)
	}
	if p.addresses, err = compute.NewAddressesRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: addresses client", err)
	}
	if p.globalAddresses, err = compute.NewGlobalAddressesRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: global addresses client", err)
	}
	if p.snapshots, err = compute.NewSnapshotsRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: snapshots client", err)
	}
	if p.machineTypes, err = compute.NewMachineTypesRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: machine types client", err)
	}
	if p.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: zone operations client", err)
	}
	if p.regionOps, err = compute.NewRegionOperationsRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: region operations client", err)
	}
	if p.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, opts...); err != nil {
		return nil, mapErr("gcpcloud: global operations client", err)
	}
	return p, nil
}

// Cloud implements collect.Inventory and actuate.Resources.
func (p *Provider) Cloud() domain.Cloud { return domain.GCP }

// Close closes the clients.
func (p *Provider) Close() error {
	for _, c := range []interface{ Close() error }{p.instances, p.disks, p.regionDisks, p.addresses, p.globalAddresses,
		p.snapshots, p.machineTypes, p.zoneOps, p.regionOps, p.globalOps} {
		_ = c.Close()
	}
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if p.projects != nil {
		_ = p.projects.Close()
	}
	if p.metrics != nil {
		_ = p.metrics.Close()
	}
	if p.catalog != nil {
		_ = p.catalog.Close()
	}
	if p.bq != nil {
		_ = p.bq.Close()
	}

	return nil
}

// call returns a context for one API call under the configured deadline.
func (p *Provider) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.cfg.CallTimeout)
}

// retry is the call option every Compute Engine and Resource Manager
// call carries: it retries a 429, 503 or 504 answer up to
// Config.MaxRetries times, backing off from Config.RetryDelay.
func (p *Provider) retry() gax.CallOption {
	return gax.WithRetry(func() gax.Retryer {
		return &boundedRetryer{left: p.retries, inner: gax.OnHTTPCodes(
			gax.Backoff{Initial: p.cfg.RetryDelay, Max: 32 * p.cfg.RetryDelay, Multiplier: 2},
			http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout)}
	})
}

// boundedRetryer stops another retryer after a number of retries: gax's
// own retryers retry until the context ends.
type boundedRetryer struct {
	left  int
	inner gax.Retryer
}

func (r *boundedRetryer) Retry(err error) (time.Duration, bool) {
	if r.left <= 0 {
		return 0, false
	}
	r.left--
	return r.inner.Retry(err)
}

// options returns the client options of one API: the common ones, then
// its own.
func (p *Provider) options(own []option.ClientOption) []option.ClientOption {
	return append(append([]option.ClientOption{}, p.cfg.Options...), own...)
}

// projectsClient returns the Resource Manager client, made on first use.
func (p *Provider) projectsClient(ctx context.Context) (*resourcemanager.ProjectsClient, error) {
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if p.projects == nil {
		c, err := resourcemanager.NewProjectsRESTClient(ctx, p.options(p.cfg.ProjectsOptions)...)
		if err != nil {
			return nil, mapErr("gcpcloud: resource manager client", err)
		}
		p.projects = c
	}
	return p.projects, nil
}

// metricClient returns the Cloud Monitoring client, made on first use.
func (p *Provider) metricClient(ctx context.Context) (*monitoring.MetricClient, error) {
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if p.metrics == nil {
		c, err := monitoring.NewMetricClient(ctx, p.options(p.cfg.MonitoringOptions)...)
		if err != nil {
			return nil, mapErr("gcpcloud: monitoring client", err)
		}
		p.metrics = c
	}
	return p.metrics, nil
}

// catalogClient returns the Cloud Billing Catalog client, made on first
// use.
func (p *Provider) catalogClient(ctx context.Context) (*billing.CloudCatalogClient, error) {
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if p.catalog == nil {
		c, err := billing.NewCloudCatalogRESTClient(ctx, p.options(p.cfg.CatalogOptions)...)
		if err != nil {
			return nil, mapErr("gcpcloud: billing catalog client", err)
		}
		p.catalog = c
	}
	return p.catalog, nil
}
