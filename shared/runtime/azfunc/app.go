package azfunc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/storagequeue"
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

// Deps are what the app reaches Azure with. Zero fields take the
// production defaults: the managed identity (AZURE_CLIENT_ID) or
// azidentity's default chain, the public ARM endpoint, and the queue
// named by the configuration. Tests put the SDK's fake servers and an
// emulator here.
type Deps struct {
	Credential azcore.TokenCredential
	// ARM is passed to every Resource Manager client.
	ARM *arm.ClientOptions
	// Queue replaces the storage queue of CLOUDTRIM_QUEUE_URL.
	Queue *storagequeue.Queue
	// RetailPricesURL and HTTPClient reach the Retail Prices API.
	RetailPricesURL string
	HTTPClient      *http.Client
	// PollFrequency of the actuator's long-running operations (0: its
	// default).
	PollFrequency time.Duration
	Now           func() time.Time
}

// App is the function app's services: the lake, the pipeline, the
// Azure provider and actuator, the action queue and the notifier, over
// the cloud-agnostic core of funcapp.
type App struct {
	cfg    Config
	deps   Deps
	pipe   *pipeline.Pipeline
	core   *funcapp.App
	logger *slog.Logger
}

// NewApp opens the lake and builds every function's services. It makes
// no Azure call: the first invocation does.
func NewApp(ctx context.Context, cfg Config, deps Deps, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Credential == nil {
		cred, err := credential(cfg.ClientID)
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		deps.Credential = cred
	}
	l, err := lake.Open(ctx, cfg.LakeURL)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*App, error) {
		l.Close()
		return nil, err
	}
	policy, err := funcapp.LoadPolicy(ctx, l, cfg.OptInTag)
	if err != nil {
		return fail(err)
	}
	a := &App{cfg: cfg, deps: deps, logger: logger}
	a.pipe = &pipeline.Pipeline{Lake: l, Policy: policy, Now: deps.Now, Logger: logger}
	var id [6]byte
	_, _ = rand.Read(id[:])
	a.core = &funcapp.App{Pipe: a.pipe, ReportURL: cfg.ReportURL, Logger: logger, Cloud: domain.Azure, Apply: cfg.Apply,
		KillSwitch: cfg.KillSwitch, BreakerThreshold: cfg.BreakerThreshold, BreakerCoolDown: cfg.BreakerCoolDown,
		// Each instance of the app is its own worker (see funcapp.App).
		Worker: "azfunc:" + hex.EncodeToString(id[:]), HoldDelay: HoldDelay, InScope: a.inScope}
	if a.core.Notifier, err = httpapi.NewNotifier(cfg.NotifyURL, nil); err != nil {
		return fail(err)
	}
	q := deps.Queue
	if q == nil {
		if q, err = openQueue(cfg.QueueURL, deps.Credential); err != nil {
			return fail(err)
		}
	}
	a.core.Queue = queueAdapter{q}
	if len(cfg.Subscriptions) > 0 {
		act, err := azurecloud.NewActuator(azurecloud.ActuatorConfig{Credential: deps.Credential, Subscriptions: cfg.Subscriptions,
			ClientOptions: deps.ARM, PollFrequency: deps.PollFrequency, ReservedTags: []string{policy.OptInTag}, Logger: logger})
		if err != nil {
			return fail(fmt.Errorf("azure actuator: %w", err))
		}
		a.core.Resources = act
	}
	a.core.LoadPrices()
	return a, nil
}

// credential is the user-assigned managed identity clientID, or
// azidentity's default chain (environment, workload and managed
// identity, the az CLI) when none is named.
func credential(clientID string) (azcore.TokenCredential, error) {
	if clientID != "" {
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(clientID)})
	}
	return azidentity.NewDefaultAzureCredential(nil)
}

// openQueue opens the queue of CLOUDTRIM_QUEUE_URL with the identity:
// the URL's last path segment is the queue, the rest the service.
func openQueue(rawURL string, cred azcore.TokenCredential) (*storagequeue.Queue, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: CLOUDTRIM_QUEUE_URL is not a URL", domain.ErrInvalid)
	}
	name := path.Base(strings.TrimSuffix(u.Path, "/"))
	u.Path = path.Dir(strings.TrimSuffix(u.Path, "/"))
	if u.Path == "/" || u.Path == "." {
		u.Path = "/"
	}
	return storagequeue.New(storagequeue.Options{ServiceURL: u.String(), QueueName: name, Credential: cred})
}

// queueAdapter gives funcapp the storage queue's poison queue as its
// dead-letter queue.
type queueAdapter struct{ *storagequeue.Queue }

func (q queueAdapter) SendDeadLetter(ctx context.Context, body []byte, attempts int, reason string) error {
	return q.SendPoison(ctx, body, attempts, reason)
}

// Close waits for the price catalog's loading and releases the lake.
func (a *App) Close() error {
	a.core.WaitPrices()
	return a.pipe.Lake.Close()
}

// Handlers returns the app's functions.
func (a *App) Handlers() Handlers {
	core := a.pipe.Approver(a.cfg.WebhookSecrets, a.core)
	core.SlackSecrets = a.cfg.SlackSecrets
	core.SlackReplies = &httpapi.SlackReplier{}
	h := Handlers{
		Collect: a.collect,
		Optimize: func(ctx context.Context, key string) (any, error) {
			if err := a.core.WithPrices(ctx); err != nil {
				return nil, err
			}
			return a.core.Optimize(ctx, key)
		},
		Ingest:  a.ingest,
		Approve: httpapi.NewMux(core, a.logger),
	}
	if a.core.Resources != nil {
		h.Actuate = a.core.Actuate
	}
	return h
}

// provider is the collector's view of the subscriptions.
func (a *App) provider(ctx context.Context) (*azurecloud.Provider, error) {
	return azurecloud.New(ctx, azurecloud.Config{Credential: a.deps.Credential, Subscriptions: a.cfg.Subscriptions,
		ClientOptions: a.deps.ARM, RetailPricesURL: a.deps.RetailPricesURL, HTTPClient: a.deps.HTTPClient, Logger: a.logger})
}

func (a *App) collect(ctx context.Context) (any, error) {
	if err := a.core.WithPrices(ctx); err != nil {
		return nil, err
	}
	prov, err := a.provider(ctx)
	if err != nil {
		return nil, err
	}
	res, err := a.core.Collect(ctx, prov, DefaultDays)
	if err != nil {
		return nil, err
	}
	a.logger.InfoContext(ctx, "metric calls", "calls", prov.MetricCalls())
	return res, nil
}

// ingest reads the cost export whose manifest is name in container, a
// container of the lake's storage account (the only one the identity may
// read), and plans again.
func (a *App) ingest(ctx context.Context, container, name string) (any, error) {
	if a.cfg.ExportsContainer != "" && container != a.cfg.ExportsContainer {
		return nil, fmt.Errorf("%w: cost export in container %q; this deployment reads exports from %q only", domain.ErrInvalid, container, a.cfg.ExportsContainer)
	}
	u, err := url.Parse(a.cfg.LakeURL)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%w: the lake URL is not a URL", domain.ErrInvalid)
	}
	q := u.Query()
	q.Del("prefix")
	u.Host, u.RawQuery = container, q.Encode()
	// The run's folder: its manifest names the files to read.
	u.Path = "/" + path.Dir(name) + "/"
	if err := a.core.WithPrices(ctx); err != nil {
		return nil, err
	}
	return a.core.Ingest(ctx, u.String())
}

// inScope refuses actions outside this deployment's subscriptions.
func (a *App) inScope(_ context.Context, ref domain.ResourceRef) error {
	if ref.Cloud != domain.Azure {
		return fmt.Errorf("%w: %s is not an Azure resource", domain.ErrInvalid, ref)
	}
	if !slices.Contains(a.cfg.Subscriptions, strings.ToLower(ref.Account)) {
		return fmt.Errorf("%w: %s belongs to subscription %s, which this deployment does not manage", domain.ErrPermission, ref, ref.Account)
	}
	return nil
}
