package gcpfunc

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

// The functions one binary serves: Cloud Run runs one per service, named
// by FUNCTION_TARGET (infra/gcp deploys each from the same image).
const (
	TargetCollect  = "collect"
	TargetOptimize = "optimize"
	TargetActuate  = "actuate"
	TargetApprove  = "approve"
)

// Targets lists every function the binary registers.
var Targets = []string{TargetCollect, TargetOptimize, TargetActuate, TargetApprove}

// Config is a function's configuration, read from the environment
// infra/gcp/deploy.sh sets on its Cloud Run service. What is required
// depends on the target: the approval webhook needs its secret, the
// actuator its topics and projects.
type Config struct {
	// Port is PORT (default 8080), where Cloud Run sends requests.
	Port string
	// Target is FUNCTION_TARGET: the one function this service runs, or
	// "" to serve every function at /<name> (a local run).
	Target string
	// LakeURL is CLOUDTRIM_LAKE_URL, gs://<bucket>.
	LakeURL string
	// Project is GOOGLE_CLOUD_PROJECT, the project the functions run in.
	Project string
	// Projects is CLOUDTRIM_PROJECTS: the projects this deployment
	// collects and may change; empty means every project the collector's
	// identity can see, and changes in none.
	Projects []string
	// BillingExportTable is CLOUDTRIM_BILLING_EXPORT_TABLE
	// (project.dataset.table); BillingQueryProject is
	// CLOUDTRIM_BILLING_QUERY_PROJECT, where its queries run.
	BillingExportTable  string
	BillingQueryProject string
	// ActionsTopic is CLOUDTRIM_ACTIONS_TOPIC and DeadLetterTopic
	// CLOUDTRIM_DEAD_LETTER_TOPIC, both projects/<p>/topics/<t>.
	ActionsTopic    string
	DeadLetterTopic string
	// MaxDeliveryAttempts is CLOUDTRIM_MAX_DELIVERY_ATTEMPTS, the actions
	// subscription's dead-letter policy (default 5): a message waiting to
	// be due is sent again before it would reach it.
	MaxDeliveryAttempts int
	// Apply is CLOUDTRIM_APPLY=true: without it the actuator runs dry.
	Apply bool
	// OptInTag is CLOUDTRIM_OPTIN_TAG, overriding the policy's.
	OptInTag string
	// NotifyURL is CLOUDTRIM_NOTIFY_URL, a credential: LogValue shows its
	// host only.
	NotifyURL string
	// ReportURL is CLOUDTRIM_REPORT_URL, where people read plan reports.
	ReportURL string
	// WebhookSecrets is CLOUDTRIM_WEBHOOK_SECRET ("old,new" while
	// rotating), injected from Secret Manager; SlackSecrets is
	// CLOUDTRIM_SLACK_SIGNING_SECRET, likewise.
	WebhookSecrets [][]byte
	SlackSecrets   [][]byte
	// KillSwitch, BreakerThreshold and BreakerCoolDown are
	// CLOUDTRIM_KILL_SWITCH, CLOUDTRIM_BREAKER_THRESHOLD and
	// CLOUDTRIM_BREAKER_COOLDOWN.
	KillSwitch       bool
	BreakerThreshold int
	BreakerCoolDown  time.Duration
}

// MinSecretBytes is the shortest approval webhook secret accepted.
const MinSecretBytes = 16

// DefaultMaxDeliveryAttempts is the actions subscription's dead-letter
// policy infra/gcp sets.
const DefaultMaxDeliveryAttempts = 5

// projectID is Google Cloud's project ID syntax: 6 to 30 lower-case
// letters, digits and hyphens, starting with a letter, not ending with
// a hyphen.
var projectID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// topicName is a Pub/Sub topic's resource name.
var topicName = regexp.MustCompile(`^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)

// exportTable is a BigQuery table ID, project.dataset.table (a legacy
// domain-scoped project, example.com:project, included).
var exportTable = regexp.MustCompile(`^([a-z0-9.:-]+)\.([A-Za-z0-9_]+)\.([\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+)$`)

// ConfigFromEnv reads and checks the configuration of the function
// FUNCTION_TARGET names (or of all of them when it is empty).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Port: getenv("PORT"), Target: getenv("FUNCTION_TARGET"), LakeURL: getenv("CLOUDTRIM_LAKE_URL"),
		Project: getenv("GOOGLE_CLOUD_PROJECT"), BillingExportTable: strings.TrimSpace(getenv("CLOUDTRIM_BILLING_EXPORT_TABLE")),
		BillingQueryProject: strings.TrimSpace(getenv("CLOUDTRIM_BILLING_QUERY_PROJECT")),
		ActionsTopic:        getenv("CLOUDTRIM_ACTIONS_TOPIC"), DeadLetterTopic: getenv("CLOUDTRIM_DEAD_LETTER_TOPIC"),
		OptInTag: getenv("CLOUDTRIM_OPTIN_TAG"), NotifyURL: getenv("CLOUDTRIM_NOTIFY_URL"),
		ReportURL: strings.TrimSpace(getenv("CLOUDTRIM_REPORT_URL")), KillSwitch: actuate.KillSwitchEngaged(getenv(actuate.KillSwitchEnv)),
		MaxDeliveryAttempts: DefaultMaxDeliveryAttempts,
	}
	if c.Port == "" {
		c.Port = "8080"
	}
	if n, err := strconv.Atoi(c.Port); err != nil || n < 1 || n > 65535 {
		return c, fmt.Errorf("%w: PORT=%q is not a TCP port", domain.ErrInvalid, c.Port)
	}
	if c.Target != "" && !slices.Contains(Targets, c.Target) {
		return c, fmt.Errorf("%w: FUNCTION_TARGET=%q: this binary serves %s", domain.ErrInvalid, c.Target, strings.Join(Targets, ", "))
	}
	if u, err := url.Parse(c.LakeURL); c.LakeURL == "" || err != nil || u.Scheme == "" {
		return c, fmt.Errorf("%w: set CLOUDTRIM_LAKE_URL to the lake's URL (gs://<bucket>)", domain.ErrInvalid)
	}
	for _, p := range strings.Split(getenv("CLOUDTRIM_PROJECTS"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !projectID.MatchString(p) {
			return c, fmt.Errorf("%w: CLOUDTRIM_PROJECTS: %q is not a project ID (6 to 30 lower-case letters, digits and hyphens)", domain.ErrInvalid, p)
		}
		if !slices.Contains(c.Projects, p) {
			c.Projects = append(c.Projects, p)
		}
	}
	if c.BillingExportTable != "" && !exportTable.MatchString(c.BillingExportTable) {
		return c, fmt.Errorf("%w: CLOUDTRIM_BILLING_EXPORT_TABLE=%q: want project.dataset.table", domain.ErrInvalid, c.BillingExportTable)
	}
	if c.BillingQueryProject != "" && !projectID.MatchString(c.BillingQueryProject) {
		return c, fmt.Errorf("%w: CLOUDTRIM_BILLING_QUERY_PROJECT=%q is not a project ID", domain.ErrInvalid, c.BillingQueryProject)
	}
	for env, v := range map[string]string{"CLOUDTRIM_ACTIONS_TOPIC": c.ActionsTopic, "CLOUDTRIM_DEAD_LETTER_TOPIC": c.DeadLetterTopic} {
		if v != "" && !topicName.MatchString(v) {
			return c, fmt.Errorf("%w: %s=%q: want projects/<project>/topics/<topic>", domain.ErrInvalid, env, v)
		}
	}
	if v := getenv("CLOUDTRIM_MAX_DELIVERY_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 100 {
			return c, fmt.Errorf("%w: CLOUDTRIM_MAX_DELIVERY_ATTEMPTS=%q: Pub/Sub's dead-letter policy takes 5 to 100", domain.ErrInvalid, v)
		}
		c.MaxDeliveryAttempts = n
	}
	var err error
	if c.Apply, err = funcapp.ParseApply(getenv("CLOUDTRIM_APPLY")); err != nil {
		return c, err
	}
	if c.WebhookSecrets, err = approve.ParseSecrets("CLOUDTRIM_WEBHOOK_SECRET", getenv("CLOUDTRIM_WEBHOOK_SECRET"), MinSecretBytes); err != nil {
		return c, err
	}
	if c.SlackSecrets, err = approve.ParseSecrets(approve.SlackSigningSecretEnv, getenv(approve.SlackSigningSecretEnv), approve.MinSlackSecretBytes); err != nil {
		return c, err
	}
	if c.BreakerThreshold, c.BreakerCoolDown, err = actuate.BreakerFromEnv(getenv); err != nil {
		return c, err
	}
	if _, err := httpapi.NewNotifier(c.NotifyURL, nil); err != nil {
		return c, fmt.Errorf("CLOUDTRIM_NOTIFY_URL: %w", err)
	}
	if err := funcapp.CheckReportURL(c.ReportURL); err != nil {
		return c, err
	}
	return c, c.checkTarget()
}

// serves reports whether the configuration runs function target.
func (c Config) serves(target string) bool { return c.Target == "" || c.Target == target }

// checkTarget checks what the function (or functions) served need.
func (c Config) checkTarget() error {
	if c.serves(TargetApprove) {
		if len(c.WebhookSecrets) == 0 {
			return fmt.Errorf("%w: set CLOUDTRIM_WEBHOOK_SECRET (from Secret Manager: the approval webhook's HMAC key)", domain.ErrInvalid)
		}
		if c.ActionsTopic == "" {
			return fmt.Errorf("%w: set CLOUDTRIM_ACTIONS_TOPIC (projects/<project>/topics/<topic>): approved actions are published there", domain.ErrInvalid)
		}
	}
	if c.serves(TargetActuate) {
		if c.ActionsTopic == "" || c.DeadLetterTopic == "" {
			return fmt.Errorf("%w: the actuator needs CLOUDTRIM_ACTIONS_TOPIC and CLOUDTRIM_DEAD_LETTER_TOPIC", domain.ErrInvalid)
		}
		if len(c.Projects) == 0 {
			return fmt.Errorf("%w: the actuator needs CLOUDTRIM_PROJECTS, the projects it may change", domain.ErrInvalid)
		}
	}
	return nil
}

// LogValue shows the configuration without secrets.
func (c Config) LogValue() slog.Value {
	notify := ""
	if u, err := url.Parse(c.NotifyURL); err == nil && u.Host != "" {
		notify = u.Scheme + "://" + u.Host + "/…"
	}
	return slog.GroupValue(slog.String("target", c.Target), slog.String("lake_url", c.LakeURL),
		slog.String("project", c.Project), slog.Any("projects", c.Projects),
		slog.String("billing_export_table", c.BillingExportTable), slog.String("actions_topic", c.ActionsTopic),
		slog.String("dead_letter_topic", c.DeadLetterTopic), slog.Bool("apply", c.Apply),
		slog.String("opt_in_tag", c.OptInTag), slog.String("notify", notify), slog.String("report_url", c.ReportURL),
		slog.Int("webhook_secrets", len(c.WebhookSecrets)), slog.Int("slack_secrets", len(c.SlackSecrets)),
		slog.Bool("kill_switch", c.KillSwitch), slog.Int("breaker_threshold", c.BreakerThreshold),
		slog.Duration("breaker_cool_down", c.BreakerCoolDown))
}
