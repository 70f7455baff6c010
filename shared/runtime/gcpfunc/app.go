package gcpfunc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/option"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

// DefaultDays is the utilization history a scheduled collection reads.
const DefaultDays = 14

// HoldDelay is how long a held or deferred action waits before it is
// offered again.
const HoldDelay = 15 * time.Minute

// Deps are what the app reaches Google Cloud with. Zero fields take the
// production defaults: Application Default Credentials (the service's
// own service account) and the public endpoints. Tests point each API
// at its fake here.
type Deps struct {
	// Options go to every Google API client; the per-API options follow
	// them.
	Options           []option.ClientOption
	ComputeOptions    []option.ClientOption
	MonitoringOptions []option.ClientOption
	ProjectsOptions   []option.ClientOption
	CatalogOptions    []option.ClientOption
	BigQueryOptions   []option.ClientOption
	StorageOptions    []option.ClientOption
	PubSubOptions     []option.ClientOption
	// Queue replaces the Pub/Sub topics of the configuration.
	Queue funcapp.Queue
	// OperationTimeout bounds the wait for one Compute Engine operation
	// (0: the provider's default).
	OperationTimeout time.Duration
	Now              func() time.Time
}

// App is the functions' services: the lake, the pipeline, the Google
// Cloud provider and actuator, the action queue and the notifier, over
// the cloud-agnostic core of funcapp.
type App struct {
	cfg    Config
	deps   Deps
	pipe   *pipeline.Pipeline
	core   *funcapp.App
	logger *slog.Logger
	bucket string
	prefix string
	closeQ func() error
}

// NewApp opens the lake and builds the services of the functions cfg
// serves. It makes no Google Cloud call but the lake's: the first
// invocation does.
func NewApp(ctx context.Context, cfg Config, deps Deps, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	u, err := url.Parse(cfg.LakeURL)
	if err != nil {
		return nil, fmt.Errorf("%w: CLOUDTRIM_LAKE_URL is not a URL", domain.ErrInvalid)
	}
	l, err := lake.Open(ctx, cfg.LakeURL)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, deps: deps, logger: logger, bucket: u.Host, prefix: u.Query().Get("prefix"), closeQ: func() error { return nil }}
	fail := func(err error) (*App, error) {
		l.Close()
		return nil, err
	}
	policy, err := funcapp.LoadPolicy(ctx, l, cfg.OptInTag)
	if err != nil {
		return fail(err)
	}
	a.pipe = &pipeline.Pipeline{Lake: l, Policy: policy, Now: deps.Now, Logger: logger}
	var id [6]byte
	_, _ = rand.Read(id[:])
	a.core = &funcapp.App{Pipe: a.pipe, ReportURL: cfg.ReportURL, Logger: logger, Cloud: domain.GCP, Apply: cfg.Apply,
		KillSwitch: cfg.KillSwitch, BreakerThreshold: cfg.BreakerThreshold, BreakerCoolDown: cfg.BreakerCoolDown,
		// Each instance of a service is its own worker (see funcapp.App).
		Worker: "gcpfunc:" + hex.EncodeToString(id[:]), HoldDelay: HoldDelay, InScope: a.inScope}
	if a.core.Notifier, err = httpapi.NewNotifier(cfg.NotifyURL, nil); err != nil {
		return fail(err)
	}
	if cfg.serves(TargetApprove) || cfg.serves(TargetActuate) {
		q := deps.Queue
		if q == nil {
			pq, closeQ, err := openQueue(ctx, cfg, deps)
			if err != nil {
				return fail(err)
			}
			q, a.closeQ = pq, closeQ
		}
		a.core.Queue = q
	}
	if cfg.serves(TargetActuate) && len(cfg.Projects) > 0 {
		pc := a.providerConfig()
		// The actuator never changes the opt-in label it is bound by.
		pc.ReservedLabels = []string{policy.OptInTag}
		act, err := gcpcloud.New(ctx, pc)
		if err != nil {
			return fail(fmt.Errorf("google cloud actuator: %w", err))
		}
		a.core.Resources = act
	}
	return a, nil
}

// providerConfig is the Google Cloud provider's configuration.
func (a *App) providerConfig() gcpcloud.Config {
	return gcpcloud.Config{Projects: a.cfg.Projects, Options: a.deps.Options, ComputeOptions: a.deps.ComputeOptions,
		MonitoringOptions: a.deps.MonitoringOptions, ProjectsOptions: a.deps.ProjectsOptions,
		CatalogOptions: a.deps.CatalogOptions, BigQueryOptions: a.deps.BigQueryOptions, StorageOptions: a.deps.StorageOptions,
		BillingExportTable: a.cfg.BillingExportTable, BillingQueryProject: a.cfg.BillingQueryProject,
		OperationTimeout: a.deps.OperationTimeout, Logger: a.logger}
}

// Close waits for the price catalog's loading and releases the lake,
// the queue and the actuator's clients.
func (a *App) Close() error {
	a.core.WaitPrices()
	if p, ok := a.core.Resources.(*gcpcloud.Provider); ok {
		_ = p.Close()
	}
	_ = a.closeQ()
	return a.pipe.Lake.Close()
}

// Handlers returns the functions the configuration serves.
func (a *App) Handlers() Handlers {
	h := Handlers{Bucket: a.bucket, Prefix: a.prefix, Queue: a.core.Queue, MaxDeliveryAttempts: a.cfg.MaxDeliveryAttempts, Now: a.deps.Now}
	if a.cfg.serves(TargetCollect) {
		h.Collect = a.collect
	}
	if a.cfg.serves(TargetOptimize) {
		h.Optimize = func(ctx context.Context, key string) (any, error) {
			if err := a.core.WithPrices(ctx); err != nil {
				return nil, err
			}
			return a.core.Optimize(ctx, key)
		}
	}
	if a.cfg.serves(TargetApprove) {
		core := a.pipe.Approver(a.cfg.WebhookSecrets, a.core)
		core.SlackSecrets = a.cfg.SlackSecrets
		core.SlackReplies = &httpapi.SlackReplier{}
		h.Approve = httpapi.NewMux(core, a.logger)
	}
	if a.cfg.serves(TargetActuate) && a.core.Resources != nil {
		h.Actuate = a.core.Actuate
	}
	return h
}

// collect and optimize load the price catalog when they first need it
// (funcapp.App.WithPrices), never at start: Eventarc cannot filter the
// bucket's events by prefix, so most optimize invocations are for
// objects it ignores, and an instance should not spend its cold start on
// prices it may never use.
func (a *App) collect(ctx context.Context) (any, error) {
	if err := a.core.WithPrices(ctx); err != nil {
		return nil, err
	}
	prov, err := gcpcloud.New(ctx, a.providerConfig())
	if err != nil {
		return nil, err
	}
	defer prov.Close()
	res, err := a.core.Collect(ctx, prov, DefaultDays)
	if err != nil {
		return nil, err
	}
	a.logger.InfoContext(ctx, "metric calls", "calls", prov.MetricCalls())
	return res, nil
}

// inScope refuses actions outside this deployment's projects.
func (a *App) inScope(_ context.Context, ref domain.ResourceRef) error {
	if ref.Cloud != domain.GCP {
		return fmt.Errorf("%w: %s is not a Google Cloud resource", domain.ErrInvalid, ref)
	}
	if !slices.Contains(a.cfg.Projects, ref.Account) {
		return fmt.Errorf("%w: %s belongs to project %s, which this deployment does not manage", domain.ErrPermission, ref, ref.Account)
	}
	// A bucket's name does not name its project (bucket names are
	// global): the provider checks that the project holds it.
	if ref.Kind != domain.KindBucket && !strings.HasPrefix(ref.ID, "projects/"+ref.Account+"/") {
		return fmt.Errorf("%w: %s: its ID does not name project %s", domain.ErrInvalid, ref, ref.Account)
	}
	return nil
}
