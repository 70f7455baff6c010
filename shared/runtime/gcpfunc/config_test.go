package gcpfunc

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// env is a complete configuration serving every function.
func env(over map[string]string) func(string) string {
	m := map[string]string{
		"CLOUDTRIM_LAKE_URL":          "gs://lake-bucket",
		"GOOGLE_CLOUD_PROJECT":        "ops-project",
		"CLOUDTRIM_PROJECTS":          "web-prod-1234, data-dev-99",
		"CLOUDTRIM_ACTIONS_TOPIC":     "projects/ops-project/topics/cloudtrim-actions",
		"CLOUDTRIM_DEAD_LETTER_TOPIC": "projects/ops-project/topics/cloudtrim-actions-dead",
		"CLOUDTRIM_WEBHOOK_SECRET":    "0123456789abcdef0123456789abcdef",
	}
	for k, v := range over {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{"CLOUDTRIM_BILLING_EXPORT_TABLE": "billing-proj.billing.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C",
		"CLOUDTRIM_APPLY": "true", "CLOUDTRIM_MAX_DELIVERY_ATTEMPTS": "7", "CLOUDTRIM_PROJECTS": "web-prod-1234,data-dev-99,web-prod-1234"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != "8080" || c.Target != "" || !c.Apply || c.MaxDeliveryAttempts != 7 {
		t.Errorf("config %+v", c)
	}
	if got := strings.Join(c.Projects, ","); got != "web-prod-1234,data-dev-99" {
		t.Errorf("projects %q, want the two distinct projects in order", got)
	}
	if len(c.WebhookSecrets) != 1 {
		t.Errorf("%d webhook secrets", len(c.WebhookSecrets))
	}
}

func TestConfigRefusals(t *testing.T) {
	cases := []struct {
		name string
		over map[string]string
		want string
	}{
		{"no lake", map[string]string{"CLOUDTRIM_LAKE_URL": ""}, "CLOUDTRIM_LAKE_URL"},
		{"bad port", map[string]string{"PORT": "http"}, "PORT"},
		{"unknown target", map[string]string{"FUNCTION_TARGET": "ingest"}, "FUNCTION_TARGET"},
		{"bad project", map[string]string{"CLOUDTRIM_PROJECTS": "Web_Prod"}, `"Web_Prod" is not a project ID`},
		{"bad table", map[string]string{"CLOUDTRIM_BILLING_EXPORT_TABLE": "just-a-table"}, "CLOUDTRIM_BILLING_EXPORT_TABLE"},
		{"bad topic", map[string]string{"CLOUDTRIM_ACTIONS_TOPIC": "cloudtrim-actions"}, "CLOUDTRIM_ACTIONS_TOPIC"},
		{"bad apply", map[string]string{"CLOUDTRIM_APPLY": "yes"}, "CLOUDTRIM_APPLY"},
		{"attempts beyond Pub/Sub's bounds", map[string]string{"CLOUDTRIM_MAX_DELIVERY_ATTEMPTS": "3"}, "CLOUDTRIM_MAX_DELIVERY_ATTEMPTS"},
		{"short secret", map[string]string{"CLOUDTRIM_WEBHOOK_SECRET": "short"}, "CLOUDTRIM_WEBHOOK_SECRET"},
		{"approve without its secret", map[string]string{"FUNCTION_TARGET": "approve", "CLOUDTRIM_WEBHOOK_SECRET": ""}, "CLOUDTRIM_WEBHOOK_SECRET"},
		{"approve without the topic", map[string]string{"FUNCTION_TARGET": "approve", "CLOUDTRIM_ACTIONS_TOPIC": ""}, "CLOUDTRIM_ACTIONS_TOPIC"},
		{"actuate without projects", map[string]string{"FUNCTION_TARGET": "actuate", "CLOUDTRIM_PROJECTS": ""}, "CLOUDTRIM_PROJECTS"},
		{"actuate without dead-letter topic", map[string]string{"FUNCTION_TARGET": "actuate", "CLOUDTRIM_DEAD_LETTER_TOPIC": ""}, "CLOUDTRIM_DEAD_LETTER_TOPIC"},
		{"breaker out of range", map[string]string{"CLOUDTRIM_BREAKER_THRESHOLD": "0"}, "CLOUDTRIM_BREAKER_THRESHOLD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env(c.over))
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want ErrInvalid naming %s", err, c.want)
			}
		})
	}
}

// A function needs only its own settings: the collector runs without the
// webhook's secret or the actuator's topics.
func TestConfigPerTarget(t *testing.T) {
	for _, target := range []string{TargetCollect, TargetOptimize} {
		_, err := ConfigFromEnv(env(map[string]string{"FUNCTION_TARGET": target, "CLOUDTRIM_WEBHOOK_SECRET": "",
			"CLOUDTRIM_ACTIONS_TOPIC": "", "CLOUDTRIM_DEAD_LETTER_TOPIC": "", "CLOUDTRIM_PROJECTS": ""}))
		if err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}

func TestConfigLogValueHidesSecrets(t *testing.T) {
	c, err := ConfigFromEnv(env(map[string]string{"CLOUDTRIM_NOTIFY_URL": "https://hooks.slack.com/services/T000/B000/SECRETPATH"}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("config", "config", c)
	out := b.String()
	for _, secret := range []string{"0123456789abcdef", "SECRETPATH"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows a secret: %s", out)
		}
	}
	if !strings.Contains(out, "hooks.slack.com") {
		t.Errorf("the log hides the notify host: %s", out)
	}
}

func TestLoggerSpeaksCloudLogging(t *testing.T) {
	var b strings.Builder
	NewLogger(&b).Warn("late", "n", 1)
	got := b.String()
	for _, want := range []string{`"severity":"WARNING"`, `"message":"late"`, `"host":"cloud-run"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %s lacks %s", got, want)
		}
	}
}
