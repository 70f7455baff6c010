package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/sqsqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

// Config is a function's configuration on AWS, read from the
// environment variables template.yaml sets.
type Config struct {
	Name string
	// LakeURL is CLOUDTRIM_LAKE_URL, s3://bucket?region=... on AWS.
	LakeURL string
	// QueueURL and DeadLetterURL are CLOUDTRIM_QUEUE_URL and
	// CLOUDTRIM_DEAD_LETTER_QUEUE_URL: the actions queue and its
	// dead-letter queue.
	QueueURL, DeadLetterURL string
	// Apply is CLOUDTRIM_APPLY=true: without it the actuator runs dry.
	Apply bool
	// OptInTag is CLOUDTRIM_OPTIN_TAG, overriding the policy's.
	OptInTag string
	// NotifyURL is CLOUDTRIM_NOTIFY_URL, an incoming-webhook URL. It is a
	// credential: LogValue shows only its host.
	NotifyURL string
	// SecretARN is CLOUDTRIM_WEBHOOK_SECRET_ARN, the Secrets Manager
	// secret holding the approval webhook's HMAC key.
	SecretARN string
	// SlackSecretARN is CLOUDTRIM_SLACK_SIGNING_SECRET_ARN, the Secrets
	// Manager secret holding the Slack app's signing secret (its current
	// and previous versions verify). Without it POST /slack/actions
	// refuses every request.
	SlackSecretARN string
	// ReportURL is CLOUDTRIM_REPORT_URL, where people read the plan
	// reports (an https URL serving the lake's plans/ prefix, or ""):
	// the plan notification links <ReportURL>/plans/<id>/report.html.
	ReportURL string
	// Regions is CLOUDTRIM_REGIONS (comma-separated); empty means every
	// enabled region.
	Regions []string
	// Account is CLOUDTRIM_ACCOUNT, the account this deployment manages;
	// empty means the credentials' account.
	Account string
	// KillSwitch is CLOUDTRIM_KILL_SWITCH=1: the actuator defers every
	// message and changes nothing (see actuate.KillSwitchEngaged).
	KillSwitch bool
	// BreakerThreshold and BreakerCoolDown are CLOUDTRIM_BREAKER_THRESHOLD
	// and CLOUDTRIM_BREAKER_COOLDOWN: consecutive failed applies that
	// open the circuit breaker and how long it stays open (zero: the
	// actuator's defaults, 5 and 15m).
	BreakerThreshold int
	BreakerCoolDown  time.Duration
}

// PolicyKey is the lake key of the policy document; without it the
// default policy applies.
const PolicyKey = funcapp.PolicyKey

// ConfigFromEnv reads and checks the configuration of function name.
func ConfigFromEnv(name string, getenv func(string) string) (Config, error) {
	c := Config{
		Name: name, LakeURL: getenv("CLOUDTRIM_LAKE_URL"), QueueURL: getenv("CLOUDTRIM_QUEUE_URL"),
		DeadLetterURL: getenv("CLOUDTRIM_DEAD_LETTER_QUEUE_URL"), OptInTag: getenv("CLOUDTRIM_OPTIN_TAG"),
		NotifyURL: getenv("CLOUDTRIM_NOTIFY_URL"), SecretARN: getenv("CLOUDTRIM_WEBHOOK_SECRET_ARN"),
		Account:        getenv("CLOUDTRIM_ACCOUNT"),
		SlackSecretARN: getenv("CLOUDTRIM_SLACK_SIGNING_SECRET_ARN"),
		ReportURL:      strings.TrimSpace(getenv("CLOUDTRIM_REPORT_URL")),
		KillSwitch:     actuate.KillSwitchEngaged(getenv(actuate.KillSwitchEnv)),
	}
	var err error
	if c.BreakerThreshold, c.BreakerCoolDown, err = actuate.BreakerFromEnv(getenv); err != nil {
		return c, err
	}
	for _, r := range strings.Split(getenv("CLOUDTRIM_REGIONS"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			if !validRegion(r) {
				return c, fmt.Errorf("%w: CLOUDTRIM_REGIONS: %q is not a region name", domain.ErrInvalid, r)
			}
			c.Regions = append(c.Regions, r)
		}
	}
	if c.Apply, err = funcapp.ParseApply(getenv("CLOUDTRIM_APPLY")); err != nil {
		return c, err
	}
	known := false
	for _, f := range Functions {
		known = known || f == name
	}
	var missing []string
	need := func(v, env string) {
		if v == "" {
			missing = append(missing, env)
		}
	}
	need(c.LakeURL, "CLOUDTRIM_LAKE_URL")
	switch name {
	case "approve":
		need(c.QueueURL, "CLOUDTRIM_QUEUE_URL")
		need(c.SecretARN, "CLOUDTRIM_WEBHOOK_SECRET_ARN")
	case "actuate":
		need(c.QueueURL, "CLOUDTRIM_QUEUE_URL")
		need(c.DeadLetterURL, "CLOUDTRIM_DEAD_LETTER_QUEUE_URL")
	}
	switch {
	case !known:
		return c, fmt.Errorf("%w: unknown function %q (want one of %s)", domain.ErrInvalid, name, strings.Join(Functions, ", "))
	case len(missing) > 0:
		return c, fmt.Errorf("%w: %s: set %s", domain.ErrInvalid, name, strings.Join(missing, ", "))
	}
	if c.Account != "" && !isAccountID(c.Account) {
		return c, fmt.Errorf("%w: CLOUDTRIM_ACCOUNT=%q is not a 12-digit account ID", domain.ErrInvalid, c.Account)
	}
	if _, err := httpapi.NewNotifier(c.NotifyURL, nil); err != nil {
		return c, fmt.Errorf("CLOUDTRIM_NOTIFY_URL: %w", err)
	}
	if err := funcapp.CheckReportURL(c.ReportURL); err != nil {
		return c, err
	}
	return c, nil
}

// LogValue shows the configuration without credentials: the
// notification URL by its host only.
func (c Config) LogValue() slog.Value {
	notify := ""
	if u, err := url.Parse(c.NotifyURL); err == nil && u.Host != "" {
		notify = u.Scheme + "://" + u.Host + "/…"
	}
	return slog.GroupValue(slog.String("function", c.Name), slog.String("lake_url", c.LakeURL),
		slog.String("queue_url", c.QueueURL), slog.String("dead_letter_queue_url", c.DeadLetterURL),
		slog.Bool("apply", c.Apply), slog.String("opt_in_tag", c.OptInTag), slog.String("notify", notify),
		slog.String("secret_arn", c.SecretARN), slog.String("slack_secret_arn", c.SlackSecretARN), slog.String("report_url", c.ReportURL), slog.Any("regions", c.Regions), slog.String("account", c.Account),
		slog.Bool("kill_switch", c.KillSwitch), slog.Int("breaker_threshold", c.BreakerThreshold),
		slog.Duration("breaker_cool_down", c.BreakerCoolDown))
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// App is one function's services on AWS: the lake, the pipeline, the
// AWS provider, the action queues and the notifier, over the
// cloud-agnostic core of funcapp.
type App struct {
	cfg      Config
	aws      aws.Config
	pipe     *pipeline.Pipeline
	core     *funcapp.App
	logger   *slog.Logger
	provider *awscloud.Provider // collect-aws and actuate
	queue    *sqsqueue.Queue    // approve and actuate
	secrets  [][]byte           // approve
	slack    [][]byte           // approve: the Slack app's signing secrets
}

// NewApp opens what function cfg.Name needs: the lake and policy for
// every function, the AWS provider for the collector and the actuator,
// the queues for approve and actuate, the webhook secret for approve.
func NewApp(ctx context.Context, cfg Config, awsCfg aws.Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, aws: awsCfg, logger: logger}
	l, err := lake.Open(ctx, cfg.LakeURL)
	if err != nil {
		return nil, err
	}
	prices, err := pricing.Embedded()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("load price catalog: %w", err)
	}
	policy, err := funcapp.LoadPolicy(ctx, l, cfg.OptInTag)
	if err != nil {
		l.Close()
		return nil, err
	}
	a.pipe = &pipeline.Pipeline{Lake: l, Prices: prices, Policy: policy, Now: time.Now, Logger: logger}
	// Worker names this execution environment in action states: each
	// concurrent actuator must have its own name, or one would take the
	// other's claim for a crashed run of its own and apply the same action
	// while the other is still applying it.
	a.core = &funcapp.App{Pipe: a.pipe, ReportURL: cfg.ReportURL, Logger: logger, Cloud: domain.AWS, Apply: cfg.Apply,
		KillSwitch: cfg.KillSwitch, BreakerThreshold: cfg.BreakerThreshold, BreakerCoolDown: cfg.BreakerCoolDown,
		Worker: "lambda:" + cfg.Name + ":" + hex.EncodeToString(id[:]), HoldDelay: HoldDelay}
	if cfg.Name == "optimize" {
		// Live prices the collectors stored replace the embedded ones.
		if a.pipe.Prices, err = a.pipe.LoadPrices(ctx, prices); err != nil {
			l.Close()
			return nil, err
		}
	}
	if a.core.Notifier, err = httpapi.NewNotifier(cfg.NotifyURL, nil); err != nil {
		l.Close()
		return nil, err
	}
	fail := func(err error) (*App, error) {
		l.Close()
		return nil, err
	}
	switch cfg.Name {
	case "collect-aws", "actuate":
		pc := awscloud.Config{AWS: awsCfg, Account: cfg.Account, Regions: cfg.Regions, Logger: logger}
		if a.provider, err = awscloud.New(ctx, pc); err != nil {
			return fail(fmt.Errorf("AWS provider: %w", err))
		}
		a.core.Resources, a.core.InScope = a.provider, a.provider.InScope
	}
	switch cfg.Name {
	case "approve", "actuate":
		a.queue, err = sqsqueue.New(sqs.NewFromConfig(awsCfg), sqsqueue.Options{QueueURL: cfg.QueueURL, DeadLetterURL: cfg.DeadLetterURL})
		if err != nil {
			return fail(err)
		}
		a.core.Queue = a.queue
	}
	if cfg.Name == "approve" {
		if a.secrets, err = awscloud.WebhookSecrets(ctx, awsCfg, cfg.SecretARN); err != nil {
			return fail(fmt.Errorf("approval secret: %w", err))
		}
		if cfg.SlackSecretARN != "" {
			if a.slack, err = awscloud.WebhookSecrets(ctx, awsCfg, cfg.SlackSecretARN); err != nil {
				return fail(fmt.Errorf("slack signing secret (CLOUDTRIM_SLACK_SIGNING_SECRET_ARN): %w", err))
			}
		}
	}
	return a, nil
}

// Close releases the lake.
func (a *App) Close() error { return a.pipe.Lake.Close() }

// Handlers returns the trigger handlers of the app's function.
func (a *App) Handlers() Handlers {
	switch a.cfg.Name {
	case "collect-aws", "collect-azure", "collect-gcp":
		return Handlers{Collect: a.collect}
	case "optimize":
		return Handlers{Optimize: a.optimize, Ingest: a.ingest}
	case "approve":
		core := a.pipe.Approver(a.secrets, a.core)
		core.SlackSecrets = a.slack
		core.SlackReplies = &httpapi.SlackReplier{}
		// The Function URL's root is the signed webhook too, as before.
		mux := httpapi.NewMux(core, a.logger)
		mux.Handle("/", httpapi.ApproveHandler(core, a.logger))
		return Handlers{Approve: mux}
	case "actuate":
		return Handlers{Actuate: func(ctx context.Context, m Message) error {
			return a.core.Actuate(ctx, funcapp.Message{ID: m.ID, Body: m.Body, Attempt: m.Attempt})
		}, Schedules: func(ctx context.Context) (any, error) {
			return a.core.EnforceSchedules(ctx)
		}}
	}
	return Handlers{}
}

// DefaultDays is the utilization history a scheduled collection reads.
const DefaultDays = 14

func (a *App) collect(ctx context.Context, req CollectRequest) (any, error) {
	if req.Cloud != domain.AWS {
		return nil, fmt.Errorf("%w: collecting %s from AWS Lambda needs that cloud's provider, which this build does not include; deploy the %s collector in %s", domain.ErrUnsupported, req.Cloud, req.Cloud, req.Cloud)
	}
	prov := a.provider
	if len(req.Regions) > 0 {
		p, err := awscloud.New(ctx, awscloud.Config{AWS: a.aws, Account: a.provider.Account(), Regions: req.Regions, Logger: a.logger})
		if err != nil {
			return nil, err
		}
		prov = p
	}
	days := req.Days
	if days == 0 {
		days = DefaultDays
	}
	return a.core.Collect(ctx, prov, days)
}

// PlanResponse is what the optimize function answers for one manifest.
type PlanResponse = funcapp.PlanResponse

// IngestResponse is what the optimize function answers for a billing
// delivery.
type IngestResponse = funcapp.IngestResponse

func (a *App) optimize(ctx context.Context, m SnapshotManifest) (any, error) {
	return a.core.Optimize(ctx, m.Key)
}

// ingest reads the billing export d's manifest names from the lake's
// bucket, commits it as billing snapshots and plans again.
func (a *App) ingest(ctx context.Context, d BillingDelivery) (any, error) {
	src, err := a.billingSource(d)
	if err != nil {
		return nil, err
	}
	return a.core.Ingest(ctx, src)
}

// billingSource is the URL of a delivered manifest: the lake's own s3://
// URL (its endpoint and region options) with the key as the path. The
// delivery must be in the lake's bucket, the only one the function may
// read.
func (a *App) billingSource(d BillingDelivery) (string, error) {
	u, err := url.Parse(a.cfg.LakeURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("%w: the lake URL is not a URL", domain.ErrInvalid)
	}
	if u.Host != d.Bucket {
		return "", fmt.Errorf("%w: billing export in bucket %q; this deployment reads only its lake's bucket %q", domain.ErrInvalid, d.Bucket, u.Host)
	}
	q := u.Query()
	q.Del("prefix")
	u.RawQuery = q.Encode()
	u.Path = "/" + d.Key
	return u.String(), nil
}

// HoldDelay is how long an action held back by the day's blast-radius
// cap waits before it is offered again (SQS's longest message delay).
const HoldDelay = 15 * time.Minute

// Main runs function name. Inside Lambda (AWS_LAMBDA_RUNTIME_API set)
// it serves invocations until SIGTERM. Outside, it runs one invocation
// with the event read from stdin against the configured lake, queues
// and the AWS account of the ambient credentials, and prints the
// response: the same binary, tried from a shell. It returns the exit
// code.
func Main(ctx context.Context, name string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	logger := NewLogger(stderr, name, LogLevel(getenv))
	cfg, err := ConfigFromEnv(name, getenv)
	if err != nil {
		logger.ErrorContext(ctx, "configuration", "error", err)
		return 2
	}
	logger.InfoContext(ctx, "starting", "config", cfg)
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		logger.ErrorContext(ctx, "AWS configuration", "error", err)
		return 2
	}
	app, err := NewApp(ctx, cfg, awsCfg, logger)
	if err != nil {
		logger.ErrorContext(ctx, "init", "error", err)
		return 1
	}
	defer app.Close()
	if getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		if err := Serve(ctx, name, app.Handlers(), logger); err != nil {
			logger.ErrorContext(ctx, "serve", "error", err)
			return 1
		}
		return 0
	}
	f, err := NewHandler(name, app.Handlers(), logger)
	if err != nil {
		logger.ErrorContext(ctx, "handler", "error", err)
		return 2
	}
	event, err := io.ReadAll(io.LimitReader(stdin, 6<<20))
	if err != nil {
		logger.ErrorContext(ctx, "read event from stdin", "error", err)
		return 2
	}
	out, err := f.Invoke(ctx, event)
	if err != nil {
		return 1
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}
