package azfunc

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

// Config is the function app's configuration, read from the app
// settings infra/azure/azuredeploy.json sets.
type Config struct {
	// Port is FUNCTIONS_CUSTOMHANDLER_PORT, where the host calls.
	Port string
	// LakeURL is CLOUDTRIM_LAKE_URL, azblob://lake?storage_account=….
	LakeURL string
	// QueueURL is CLOUDTRIM_QUEUE_URL, the actions queue's URL
	// (https://<account>.queue.core.windows.net/<queue>); its poison
	// queue is <queue>-poison.
	QueueURL string
	// ExportsContainer is CLOUDTRIM_EXPORTS_CONTAINER, where Cost
	// Management delivers cost exports, in the lake's storage account.
	ExportsContainer string
	// Subscriptions is CLOUDTRIM_SUBSCRIPTIONS: the subscriptions this
	// deployment collects and may change; empty means every subscription
	// the identity can read, and changes in none of the others.
	Subscriptions []string
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
	// rotating), a Key Vault reference resolved by the platform.
	WebhookSecrets [][]byte
	// SlackSecrets is CLOUDTRIM_SLACK_SIGNING_SECRET, likewise.
	SlackSecrets [][]byte
	// ClientID is AZURE_CLIENT_ID, the user-assigned identity to use.
	ClientID string
	// KillSwitch, BreakerThreshold and BreakerCoolDown are
	// CLOUDTRIM_KILL_SWITCH, CLOUDTRIM_BREAKER_THRESHOLD and
	// CLOUDTRIM_BREAKER_COOLDOWN.
	KillSwitch       bool
	BreakerThreshold int
	BreakerCoolDown  time.Duration
}

// MinSecretBytes is the shortest approval webhook secret accepted.
const MinSecretBytes = 16

// ConfigFromEnv reads and checks the configuration.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Port: getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), LakeURL: getenv("CLOUDTRIM_LAKE_URL"), QueueURL: getenv("CLOUDTRIM_QUEUE_URL"),
		ExportsContainer: getenv("CLOUDTRIM_EXPORTS_CONTAINER"), OptInTag: getenv("CLOUDTRIM_OPTIN_TAG"),
		NotifyURL: getenv("CLOUDTRIM_NOTIFY_URL"), ReportURL: strings.TrimSpace(getenv("CLOUDTRIM_REPORT_URL")),
		ClientID: getenv("AZURE_CLIENT_ID"), KillSwitch: actuate.KillSwitchEngaged(getenv(actuate.KillSwitchEnv)),
	}
	if c.Port == "" {
		c.Port = "8080"
	}
	var missing []string
	for env, v := range map[string]string{"CLOUDTRIM_LAKE_URL": c.LakeURL, "CLOUDTRIM_QUEUE_URL": c.QueueURL} {
		if v == "" {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("%w: set %s", domain.ErrInvalid, strings.Join(missing, ", "))
	}
	for _, s := range strings.Split(getenv("CLOUDTRIM_SUBSCRIPTIONS"), ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			if !isGUID(s) {
				return c, fmt.Errorf("%w: CLOUDTRIM_SUBSCRIPTIONS: %q is not a subscription ID (a GUID)", domain.ErrInvalid, s)
			}
			c.Subscriptions = append(c.Subscriptions, s)
		}
	}
	var err error
	if c.Apply, err = funcapp.ParseApply(getenv("CLOUDTRIM_APPLY")); err != nil {
		return c, err
	}
	if c.WebhookSecrets, err = approve.ParseSecrets("CLOUDTRIM_WEBHOOK_SECRET", getenv("CLOUDTRIM_WEBHOOK_SECRET"), MinSecretBytes); err != nil {
		return c, err
	}
	if len(c.WebhookSecrets) == 0 {
		return c, fmt.Errorf("%w: set CLOUDTRIM_WEBHOOK_SECRET (a Key Vault reference to the approval webhook's HMAC key)", domain.ErrInvalid)
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
	if u, err := url.Parse(c.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return c, fmt.Errorf("%w: CLOUDTRIM_QUEUE_URL=%q: want https://<account>.queue.core.windows.net/<queue>", domain.ErrInvalid, c.QueueURL)
	}
	return c, nil
}

// isGUID reports whether s is a lower-case GUID.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
				return false
			}
		}
	}
	return true
}

// LogValue shows the configuration without secrets.
func (c Config) LogValue() slog.Value {
	notify := ""
	if u, err := url.Parse(c.NotifyURL); err == nil && u.Host != "" {
		notify = u.Scheme + "://" + u.Host + "/…"
	}
	return slog.GroupValue(slog.String("lake_url", c.LakeURL), slog.String("queue_url", c.QueueURL),
		slog.String("exports_container", c.ExportsContainer), slog.Any("subscriptions", c.Subscriptions),
		slog.Bool("apply", c.Apply), slog.String("opt_in_tag", c.OptInTag), slog.String("notify", notify),
		slog.String("report_url", c.ReportURL), slog.Int("webhook_secrets", len(c.WebhookSecrets)),
		slog.Int("slack_secrets", len(c.SlackSecrets)), slog.String("client_id", c.ClientID),
		slog.Bool("kill_switch", c.KillSwitch), slog.Int("breaker_threshold", c.BreakerThreshold),
		slog.Duration("breaker_cool_down", c.BreakerCoolDown))
}
