package lambda

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/sqsqueue"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/report"
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
const PolicyKey = "config/policy.json"

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
	switch v := getenv("CLOUDTRIM_APPLY"); v {
	case "", "false":
	case "true":
		c.Apply = true
	default:
		return c, fmt.Errorf("%w: CLOUDTRIM_APPLY=%q (want true or false)", domain.ErrInvalid, v)
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
	if c.ReportURL != "" {
		if u, err := url.Parse(c.ReportURL); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return c, fmt.Errorf("%w: CLOUDTRIM_REPORT_URL=%q: want an https URL without query or credentials", domain.ErrInvalid, c.ReportURL)
		}
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
// AWS provider, the action queues and the notifier.
type App struct {
	cfg      Config
	aws      aws.Config
	pipe     *pipeline.Pipeline
	notifier *httpapi.Notifier
	logger   *slog.Logger
	provider *awscloud.Provider // collect-aws and actuate
	queue    *sqsqueue.Queue    // approve and actuate
	secrets  [][]byte           // approve
	slack    [][]byte           // approve: the Slack app's signing secrets
	// worker names this execution environment in action states: each
	// concurrent actuator must have its own name, or one would take the
	// other's claim for a crashed run of its own and apply the same action
	// while the other is still applying it.
	worker string
	plans  *planCache
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
	a := &App{cfg: cfg, aws: awsCfg, logger: logger, worker: "lambda:" + cfg.Name + ":" + hex.EncodeToString(id[:])}
	l, err := lake.Open(ctx, cfg.LakeURL)
	if err != nil {
		return nil, err
	}
	prices, err := pricing.Embedded()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("load price catalog: %w", err)
	}
	policy, err := loadPolicy(ctx, l)
	if err != nil {
		l.Close()
		return nil, err
	}
	if cfg.OptInTag != "" {
		policy.OptInTag = cfg.OptInTag
		if err := policy.Validate(); err != nil {
			l.Close()
			return nil, fmt.Errorf("CLOUDTRIM_OPTIN_TAG: %w", err)
		}
	}
	a.pipe = &pipeline.Pipeline{Lake: l, Prices: prices, Policy: policy, Now: time.Now, Logger: logger}
	a.plans = &planCache{Lake: l, plans: map[string]domain.Plan{}}
	if cfg.Name == "optimize" {
		// Live prices the collectors stored replace the embedded ones.
		if a.pipe.Prices, err = a.pipe.LoadPrices(ctx, prices); err != nil {
			l.Close()
			return nil, err
		}
	}
	if a.notifier, err = httpapi.NewNotifier(cfg.NotifyURL, nil); err != nil {
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
	}
	switch cfg.Name {
	case "approve", "actuate":
		a.queue, err = sqsqueue.New(sqs.NewFromConfig(awsCfg), sqsqueue.Options{QueueURL: cfg.QueueURL, DeadLetterURL: cfg.DeadLetterURL})
		if err != nil {
			return fail(err)
		}
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

// loadPolicy reads the policy from the lake, or the default.
func loadPolicy(ctx context.Context, l *lake.Lake) (domain.Policy, error) {
	b, err := l.Get(ctx, PolicyKey)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.DefaultPolicy(), nil
	}
	if err != nil {
		return domain.Policy{}, fmt.Errorf("read policy %s: %w", PolicyKey, err)
	}
	return domain.ParsePolicy("lake "+PolicyKey, bytes.NewReader(b))
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
		core := a.pipe.Approver(a.secrets, a)
		core.SlackSecrets = a.slack
		core.SlackReplies = &approve.SlackReplier{}
		// The Function URL's root is the signed webhook too, as before.
		mux := httpapi.NewMux(core, a.logger)
		mux.Handle("/", httpapi.ApproveHandler(core, a.logger))
		return Handlers{Approve: mux}
	case "actuate":
		return Handlers{Actuate: a.actuate}
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
	res, err := a.pipe.Collect(ctx, prov, days, time.Time{}, nil)
	if err != nil {
		return nil, err
	}
	failed := 0
	for _, s := range res.Scopes {
		if s.Error != "" {
			failed++
		}
	}
	a.logger.InfoContext(ctx, "snapshot committed", "run_id", res.RunID, "resources", res.Resources, "series", res.Series,
		"cost_rows", res.CostRows, "scopes", len(res.Scopes), "failed_scopes", failed)
	a.refreshPrices(ctx, prov, res)
	return res, nil
}

// refreshPrices reads the on-demand prices of the regions just collected
// from the Price List API and stores them in the lake for the optimizer.
// A failure is logged: the snapshot stands, and the optimizer keeps the
// prices it had (stored earlier, or embedded).
func (a *App) refreshPrices(ctx context.Context, prov *awscloud.Provider, res collect.Result) {
	var regions []string
	seen := map[string]bool{}
	for _, s := range res.Scopes {
		if s.Error == "" && !seen[s.Region] {
			seen[s.Region] = true
			regions = append(regions, s.Region)
		}
	}
	if len(regions) == 0 {
		return
	}
	live, err := prov.PriceCatalog(ctx, regions)
	if err == nil {
		err = a.pipe.StorePrices(ctx, domain.AWS, live.All())
	}
	if err != nil {
		a.logger.WarnContext(ctx, "price refresh failed; the optimizer keeps its prices", "error", err)
		return
	}
	a.logger.InfoContext(ctx, "prices refreshed", "regions", regions, "prices", len(live.All()))
}

// PlanResponse is what the optimize function answers for one manifest.
type PlanResponse struct {
	PlanID         string `json:"plan_id"`
	Actions        int    `json:"actions"`
	MonthlySavings string `json:"monthly_savings"`
	Currency       string `json:"currency"`
	// Reused is true when the newest plan was already made from the same
	// snapshots (S3 delivers an event at least once).
	Reused bool `json:"reused,omitempty"`
}

func (a *App) optimize(ctx context.Context, m SnapshotManifest) (any, error) {
	if prev, err := a.pipe.LatestPlan(ctx); err == nil && a.sameSnapshots(ctx, prev) {
		a.logger.InfoContext(ctx, "plan already made from these snapshots", "plan_id", prev.ID, "manifest", m.Key)
		return planResponse(prev, true), nil
	}
	return a.plan(ctx)
}

// IngestResponse is what the optimize function answers for a billing
// delivery: the ingest's summary and the plan made with the new bill
// (none before the first snapshot).
type IngestResponse struct {
	RunID    string           `json:"run_id"`
	Files    int              `json:"files"`
	Rows     int64            `json:"rows"`
	Kept     int64            `json:"kept"`
	Rejected map[string]int64 `json:"rejected_by_rule,omitempty"`
	Skipped  []string         `json:"skipped,omitempty"`
	Plan     *PlanResponse    `json:"plan,omitempty"`
}

// ingest reads the billing export d's manifest names from the lake's
// bucket, commits it as billing snapshots and plans again.
func (a *App) ingest(ctx context.Context, d BillingDelivery) (any, error) {
	src, err := a.billingSource(d)
	if err != nil {
		return nil, err
	}
	srcs, err := pipeline.ExpandSources(ctx, []string{src})
	if err != nil {
		return nil, err
	}
	defer srcs.Close()
	res, err := a.pipe.Ingest(ctx, srcs, pipeline.IngestOptions{})
	if err != nil {
		return nil, err
	}
	out := IngestResponse{RunID: res.RunID, Files: len(res.Files), Rows: res.Total.Rows, Kept: res.Total.Kept, Skipped: res.Skipped}
	for r, n := range res.Total.ByRule {
		if out.Rejected == nil {
			out.Rejected = map[string]int64{}
		}
		out.Rejected[string(r)] = n
	}
	a.logger.InfoContext(ctx, "billing ingested", "run_id", res.RunID, "rows", res.Total.Rows, "kept", res.Total.Kept, "rejected", res.Total.Rejected)
	pr, err := a.plan(ctx)
	if errors.Is(err, domain.ErrNotFound) {
		return out, nil // no snapshot yet: the first collection will plan with this bill
	}
	if err != nil {
		return nil, err
	}
	p := pr.(PlanResponse)
	out.Plan = &p
	return out, nil
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

// plan makes a plan from the latest snapshots and notifies it.
func (a *App) plan(ctx context.Context) (any, error) {
	plan, err := a.pipe.Plan(ctx)
	if err != nil {
		return nil, err
	}
	in, err := a.pipe.ReportInput(ctx, plan)
	if err != nil {
		return nil, err
	}
	tot := report.Summary(in)
	data := map[string]any{"totals": tot}
	var anomalies []string
	if in.Spend != nil {
		anomalies = report.AnomalyLines(in.Spend, 5)
		data["anomalies"] = in.Spend.Anomalies
	}
	msg, err := httpapi.PlanNotification(&plan, a.cfg.ReportURL, data)
	if err != nil {
		return nil, err
	}
	if len(anomalies) > 0 {
		note := fmt.Sprintf("%d cost anomalies:\n• %s", len(in.Spend.Anomalies), strings.Join(anomalies, "\n• "))
		msg.Text += "\n" + note
		// Bill text (service and account names) is escaped so it cannot
		// mention people or forge links.
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(note)
		msg.Blocks = append(msg.Blocks, approve.Block{Type: "section", Text: &approve.Text{Type: "mrkdwn", Text: esc}})
	}
	if err := a.notifier.Notify(ctx, msg); err != nil {
		// The plan stands; a lost notification is logged, not retried.
		a.logger.WarnContext(ctx, "notification failed", "error", err)
	}
	return planResponse(plan, false), nil
}

func planResponse(p domain.Plan, reused bool) PlanResponse {
	return PlanResponse{PlanID: p.ID, Actions: len(p.Actions), MonthlySavings: p.TotalSavings().Decimal(), Currency: p.Currency, Reused: reused}
}

// sameSnapshots reports whether plan was made from the latest snapshot
// of every cloud and the current policy.
func (a *App) sameSnapshots(ctx context.Context, plan domain.Plan) bool {
	if plan.PolicyHash != a.pipe.Policy.Hash() {
		return false
	}
	used := map[domain.Cloud]string{}
	for _, s := range plan.Snapshots {
		used[s.Cloud] = s.RunID
	}
	for _, c := range domain.Clouds {
		s, err := a.pipe.Lake.LatestSnapshot(ctx, c)
		if errors.Is(err, domain.ErrNotFound) {
			if _, ok := used[c]; ok {
				return false
			}
			continue
		}
		if err != nil || used[c] != s.Ref().RunID {
			return false
		}
	}
	return true
}

// Enqueue implements approve.Enqueuer: this deployment's queue takes the
// actions on AWS resources of its account.
func (a *App) Enqueue(ctx context.Context, cloud domain.Cloud, body []byte) error {
	if cloud != domain.AWS {
		return fmt.Errorf("%w: this deployment's action queue takes AWS actions only, not %s", domain.ErrUnsupported, cloud)
	}
	return a.queue.Send(ctx, body)
}

// HoldDelay is how long an action held back by the day's blast-radius
// cap waits before it is offered again (SQS's longest message delay).
const HoldDelay = 15 * time.Minute

func (a *App) actuate(ctx context.Context, msg Message) error {
	log := a.logger.With("message_id", msg.ID, "attempt", msg.Attempt)
	act := a.pipe.Actuator(map[domain.Cloud]actuate.Resources{domain.AWS: a.provider}, !a.cfg.Apply, a.worker)
	act.Records = a.plans
	act.KillSwitch = a.cfg.KillSwitch
	act.BreakerThreshold, act.BreakerCoolDown = a.cfg.BreakerThreshold, a.cfg.BreakerCoolDown
	// The kill switch comes before anything that could settle the
	// message here: while it is engaged nothing is dead-lettered.
	if res, halted := act.Halted(ctx, msg.Body); halted {
		return a.deferMessage(ctx, log, msg, res)
	}
	var head domain.QueuedAction
	if err := json.Unmarshal(msg.Body, &head); err == nil && head.Action.Target.ID != "" {
		if err := a.provider.InScope(ctx, head.Action.Target); err != nil {
			return a.deadLetter(ctx, log, msg, "refused: "+err.Error())
		}
	}
	if head.Action.PlanID != "" && a.cfg.Apply {
		plan, err := a.plans.GetPlan(ctx, head.Action.PlanID)
		if err == nil {
			if act.Budget, err = a.pipe.DayBudget(ctx, plan); err != nil {
				return fmt.Errorf("blast-radius budget: %w", err)
			}
		}
	}
	res := act.Handle(ctx, msg.Body)
	switch res.Disposition {
	case actuate.Ack:
		return nil
	case actuate.Hold:
		if err := a.queue.SendDelayed(ctx, msg.Body, HoldDelay); err != nil {
			return fmt.Errorf("hold %s for later: %w", res.ActionID, err)
		}
		log.InfoContext(ctx, "held for a later run by the blast-radius cap", "action_id", res.ActionID, "delay", HoldDelay)
		return nil
	case actuate.DeadLetter:
		return a.deadLetter(ctx, log, msg, res.Reason)
	case actuate.Defer:
		return a.deferMessage(ctx, log, msg, res)
	}
	return fmt.Errorf("retry: %s", res.Reason)
}

// deferMessage sends a message deferred by the kill switch or a circuit
// breaker again, HoldDelay later, and lets this delivery be deleted: a
// fresh message, so the wait never counts towards the redrive policy's
// receive limit and never dead-letters it. When the send fails the
// message is left for redelivery.
func (a *App) deferMessage(ctx context.Context, log *slog.Logger, msg Message, res actuate.Result) error {
	if err := a.queue.SendDelayed(ctx, msg.Body, HoldDelay); err != nil {
		return fmt.Errorf("defer %s: %w", res.ActionID, err)
	}
	log.WarnContext(ctx, "deferred", "action_id", res.ActionID, "reason", res.Reason, "delay", HoldDelay)
	return nil
}

// planCache is the lake with the plans it has read kept in memory: a
// plan never changes once written, and every message of a batch names
// one, read for its budget and again by the actuator.
type planCache struct {
	*lake.Lake
	mu    sync.Mutex
	plans map[string]domain.Plan
}

// GetPlan returns the plan, from memory after the first read.
func (c *planCache) GetPlan(ctx context.Context, id string) (domain.Plan, error) {
	c.mu.Lock()
	p, ok := c.plans[id]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := c.Lake.GetPlan(ctx, id)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	c.plans[id] = p
	c.mu.Unlock()
	return p, nil
}

// deadLetter sends a message to the dead-letter queue with its reason;
// the message is then done (SQS deletes it). When even that fails, the
// message is retried and SQS's redrive policy dead-letters it in the
// end.
func (a *App) deadLetter(ctx context.Context, log *slog.Logger, msg Message, reason string) error {
	if err := a.queue.SendDeadLetter(ctx, msg.Body, msg.Attempt, reason); err != nil {
		return fmt.Errorf("dead-letter (%s): %w", reason, err)
	}
	log.WarnContext(ctx, "message dead-lettered", "reason", reason)
	return nil
}

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
